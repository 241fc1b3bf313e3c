// Proves the result per column: the DDL 0.12 expects, every pointer backed by a `~external_<store>` row, and
// every object at the location 0.12 will read, with the recorded size and the contents hash computed from its
// bytes during hashing. A store of more than `listingPassObjects` objects is listed in passes over key ranges, each
// column's pointers read once per pass. Works for a bounded time per call when asked, keeping a checkpoint in the
// journal (checkpoint.ts); read-only on everything else.
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE } from '../datajoint/v011.js';
import { blobColumnComment, externalTableName, storeObjectKey, uuidRelativePath } from '../datajoint/v012.js';
import { chunkRowsFor, decodeKey, encodeKey, keyChunk, keysetPages, primaryKeyOf } from '../db/keyset.js';
import { quoteId, select, tableRef } from '../db/sql.js';
import { CallBudget } from '../call-budget.js';
import { Findings, type SavedFindings } from '../findings.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import type { Migrate011Input } from './input.js';
import { journalColumns, journalTables, type JournalColumn } from './journal.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { expectedStoreKeys, HEX_KEY_ORDER, inKeyRange, keyRanges, type KeyRange } from '../stores/key-ranges.js';
import { ListedObjects, listObjects } from '../stores/listed-objects.js';
import type { OpenStore } from '../stores/object-store.js';

const EXAMPLES = 5;
/** Rows of a keyset page of a column's distinct pointers. */
const POINTER_PAGE = 10_000;

export interface ColumnVerification {
  table: string;
  column: string;
  store: string;
  rows: number;
  pointers: number;
  danglingPointers: number;
  objects: number;
  objectsMissing: number;
  objectsMismatched: number;
  ok: boolean;
  problems: string[];
}

export interface Verification {
  ok: boolean;
  legacyReferences: number;
  columns: ColumnVerification[];
}

export interface VerifyOptions {
  /** Distinct pointers read per page (tests set it small to cross pages). Default 10,000. */
  pointerPage?: number;
  /** Rows of a table counted per statement (tests set it small to cross chunks). Default 1,000,000. */
  countChunkRows?: number;
  /**
   * Stop starting checks after about this long (ms) and report `done: false`; the next call with the same `run` goes on
   * from the checkpoint. A call stops only once it has checked something. Default: to the end.
   */
  budgetMs?: number;
  /** The execution the calls belong to: another run's checkpoint is set aside (its Verify starts over). Default: one of its own. */
  run?: string;
  /** Told the objects checked, page by page. */
  progress?: ProgressSink;
}

/** Where the next check starts: the store (in the journal's order), its pass, the column among its checked ones. */
interface VerifyCursor {
  store: number;
  pass: number;
  column: number;
  /** The last pointer (hex) of that column checked in that pass; null: from its first. */
  after: string | null;
}

/** A column's verification so far, as JSON. */
interface SavedColumnCheck {
  column_id: number;
  exists: boolean;
  rows: number;
  pointers: number;
  danglingPointers: number;
  objects: number;
  missing: SavedFindings;
  mismatched: SavedFindings;
  problems: string[];
  counting: { after: string | null } | null;
}

interface VerifyCheckpoint {
  /** Each store's objects in the journal as the first call counted them: its passes are cut for them. */
  objects: Record<string, number>;
  cursor: VerifyCursor;
  checks: SavedColumnCheck[];
}

/** One call's outcome: the verification once every check is done, else where it stopped. */
export type VerifyStep = ({ done: true } & Verification) | { done: false; store: string; pass: number; passes: number; column: string; objects: number };

/** What a call's checks share: the cursor they move, the budget, how the checkpoint is kept and progress told. */
interface VerifyCall {
  cursor: VerifyCursor;
  budget: CallBudget;
  checkpoint: () => Promise<void>;
  progress: ProgressSink;
  countChunkRows?: number;
}

export async function verifyMigration(conn: Connection, input: Migrate011Input, openStore: OpenStore, options: VerifyOptions = {}): Promise<VerifyStep> {
  const budget = new CallBudget(options.budgetMs);
  const run = options.run ?? randomUUID();
  const journal = await journalColumns(conn, input.schema);
  const stores = [...new Set(journal.map((column) => column.store))];
  const saved = journal.length ? await loadCheckpoint<VerifyCheckpoint>(conn, input.schema, 'verify', run) : null;
  const objects = saved?.objects ?? (journal.length ? await journalObjectsByStore(conn, input.schema) : {});
  const objectsOf = (store: string) => objects[store] ?? 0;
  const rangesOf = new Map(stores.map((store) => [store, storeKeyRanges(input, store, objectsOf(store))]));
  const cursor: VerifyCursor = saved?.cursor ?? { store: 0, pass: 0, column: 0, after: null };
  const results = new Map((saved?.checks ?? []).map((check) => [check.column_id, restoredCheck(check, journal)]));
  const checkpoint = () => saveCheckpoint<VerifyCheckpoint>(conn, input.schema, 'verify', run, { objects, cursor, checks: [...results.values()].map(savedCheck) });
  const call: VerifyCall = { cursor, budget, checkpoint, progress: options.progress ?? silentProgress, countChunkRows: options.countChunkRows };
  // the stores listed in one pass are listed at once, side by side, as many as add up to one pass's objects (the
  // others when their turn comes); each awaits its own (and meets its error there)
  const wholeListings = new Map<string, Promise<ListedObjects>>();
  let prefetched = 0;
  for (const store of stores.slice(cursor.store).filter((name) => rangesOf.get(name)!.length === 1)) {
    if (wholeListings.size && prefetched + objectsOf(store) > input.listingPassObjects) break;
    prefetched += objectsOf(store);
    const listed = listStore(input, store, openStore, {});
    listed.catch(() => undefined);
    wholeListings.set(store, listed);
  }
  for (; cursor.store < stores.length; cursor.store += 1, cursor.pass = 0) {
    const store = stores[cursor.store];
    const storeColumns = journal.filter((c) => c.store === store);
    if (storeColumns.some((column) => !results.has(column.column_id))) {
      for (const column of storeColumns) results.set(column.column_id, await checkColumnDefinition(conn, input, column));
      budget.used();
      await checkpoint();
    }
    const checks = storeColumns.map((column) => results.get(column.column_id)!).filter((check) => check.exists);
    const ranges = rangesOf.get(store)!;
    const stopped = (check: ColumnCheck): VerifyStep => ({
      done: false,
      store,
      pass: cursor.pass + 1,
      passes: ranges.length,
      column: `${check.column.table_name}.${check.column.column_name}`,
      objects: [...results.values()].reduce((sum, c) => sum + c.objects, 0),
    });
    for (const check of checks) if (check.counting && !(await countColumnRows(conn, input, check, call))) return stopped(check);
    // where every object is at its uuid's path (native mode), a pass reads only the pointers of its range
    const byPointer = ranges.length > 1 && !(await anyFilepath(conn, input.schema, store));
    for (; cursor.pass < ranges.length; cursor.pass += 1, cursor.column = 0) {
      const range = ranges[cursor.pass];
      const pointers = byPointer ? uuidPointerRange(storePrefix(input.stores[store]!, input.schema), range) : {};
      if (!pointers || cursor.column >= checks.length) continue;
      const listing = await (wholeListings.get(store) ?? listStore(input, store, openStore, range));
      wholeListings.delete(store);
      for (; cursor.column < checks.length; cursor.column += 1, cursor.after = null) {
        const check = checks[cursor.column];
        if (!(await checkColumnObjects(conn, input, check, listing, range, pointers, openStore, options.pointerPage ?? POINTER_PAGE, call))) return stopped(check);
      }
    }
  }
  // a repeated last call (its result lost) finds every check done
  if (journal.length) await checkpoint();
  const columns = journal.map((column) => columnVerification(results.get(column.column_id)!));
  const [{ n: legacyReferences }] = await select<{ n: number }>(
    conn,
    'SELECT COUNT(*) AS n FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?',
    [input.schema, LEGACY_EXTERNAL_TABLE],
  );
  return { done: true, ok: columns.every((column) => column.ok) && Number(legacyReferences) === 0, legacyReferences: Number(legacyReferences), columns };
}

/** A column's verification while its store's passes run: what its definition and counts showed, then its objects. */
interface ColumnCheck {
  column: JournalColumn;
  exists: boolean;
  rows: number;
  pointers: number;
  danglingPointers: number;
  objects: number;
  missing: Findings;
  mismatched: Findings;
  problems: string[];
  /** Its rows and pointers being counted: from after this primary key (null: the first); null once counted. */
  counting: { after: string | null } | null;
}

function savedCheck(check: ColumnCheck): SavedColumnCheck {
  const { column, ...counts } = check;
  return { ...counts, column_id: column.column_id };
}

function restoredCheck(saved: SavedColumnCheck, journal: JournalColumn[]): ColumnCheck {
  const column = journal.find((c) => c.column_id === saved.column_id);
  if (!column) throw new Error(`Verify's checkpoint names column #${saved.column_id}, which the journal does not hold`);
  const { column_id: _, ...counts } = saved;
  return { ...counts, column, missing: Findings.restore(saved.missing, EXAMPLES), mismatched: Findings.restore(saved.mismatched, EXAMPLES) };
}

function columnVerification(check: ColumnCheck): ColumnVerification {
  const where = `${check.column.table_name}.${check.column.column_name}`;
  const problems = [...check.problems];
  if (check.missing.count) problems.push(`${check.missing.count} object(s) of ${where} are missing: ${check.missing.examples.join(', ')}`);
  if (check.mismatched.count) problems.push(`${check.mismatched.count} object(s) of ${where} do not match their rows: ${check.mismatched.examples.join(', ')}`);
  return {
    table: check.column.table_name,
    column: check.column.column_name,
    store: check.column.store,
    rows: check.rows,
    pointers: check.pointers,
    danglingPointers: check.danglingPointers,
    objects: check.objects,
    objectsMissing: check.missing.count,
    objectsMismatched: check.mismatched.count,
    ok: problems.length === 0,
    problems,
  };
}

/** The column's DDL as 0.12 expects it (its rows and pointers are counted next, countColumnRows). */
async function checkColumnDefinition(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<ColumnCheck> {
  const problems: string[] = [];
  const check: ColumnCheck = { column, exists: false, rows: 0, pointers: 0, danglingPointers: 0, objects: 0, missing: new Findings(EXAMPLES), mismatched: new Findings(EXAMPLES), problems, counting: null };
  const where = `${column.table_name}.${column.column_name}`;

  const [definition] = await select<{ type: string; nullable: string; comment: string; ordinal: number }>(
    conn,
    `SELECT COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment, ORDINAL_POSITION AS ordinal
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?`,
    [input.schema, column.table_name, column.column_name],
  );
  if (!definition) {
    problems.push(`${where} does not exist`);
    return check;
  }
  check.exists = true;
  check.counting = { after: null };
  if (definition.type.toLowerCase() !== 'binary(16)') problems.push(`${where} is ${definition.type}, not binary(16)`);
  if ((definition.nullable === 'YES') !== Boolean(column.is_nullable)) problems.push(`${where} NULL-ability changed (now ${definition.nullable === 'YES' ? 'nullable' : 'NOT NULL'})`);
  const comment = blobColumnComment(column.store, column.user_comment);
  if (definition.comment !== comment) problems.push(`${where} comment is ${JSON.stringify(definition.comment)}, expected ${JSON.stringify(comment)}`);
  if (Number(definition.ordinal) !== Number(column.ordinal_position)) problems.push(`${where} moved from position ${column.ordinal_position} to ${definition.ordinal}`);
  const foreignKeys = await select<{ update_rule: string; delete_rule: string }>(
    conn,
    `SELECT r.UPDATE_RULE AS update_rule, r.DELETE_RULE AS delete_rule
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.COLUMN_NAME = ? AND k.REFERENCED_TABLE_NAME = ? AND k.REFERENCED_COLUMN_NAME = 'hash'
        AND r.CONSTRAINT_SCHEMA = ? AND r.TABLE_NAME = ?`,
    // Constants on both sides keep the server from opening every table of every schema (slow, and it crashed
    // MariaDB 10.11 under load in our tests).
    [input.schema, column.table_name, column.column_name, externalTableName(column.store), input.schema, column.table_name],
  );
  if (foreignKeys.length !== 1 || foreignKeys[0].update_rule !== 'RESTRICT' || foreignKeys[0].delete_rule !== 'RESTRICT') {
    problems.push(`${where} lacks its foreign key to ${externalTableName(column.store)}(hash) ON UPDATE RESTRICT ON DELETE RESTRICT`);
  }

  return check;
}

/**
 * Counts the column's rows and pointers, and those without a `~external_<store>` row, in primary-key chunks (a
 * statement each, a checkpoint after each); false when it stopped for the budget before the table's end.
 */
async function countColumnRows(conn: Connection, input: Migrate011Input, check: ColumnCheck, { budget, checkpoint, countChunkRows }: VerifyCall): Promise<boolean> {
  const { column } = check;
  const table = tableRef(input.schema, column.table_name);
  const external = tableRef(input.schema, externalTableName(column.store));
  const c = quoteId(column.column_name);
  const primaryKey = await primaryKeyOf(conn, input.schema, column.table_name);
  const rowsPerChunk = await chunkRowsFor(conn, input.schema, column.table_name, primaryKey, countChunkRows);
  while (check.counting) {
    if (budget.spent()) return false;
    const chunk = await keyChunk(conn, table, primaryKey, check.counting.after === null ? null : decodeKey(check.counting.after), rowsPerChunk);
    // grouped by pointer over the column's index first: one lookup per distinct pointer, not per row
    const [counts] = await select<{ rows: number | null; pointers: number | null; dangling: number | null }>(
      conn,
      `SELECT SUM(g.n) AS \`rows\`, SUM(IF(g.pointer IS NULL, 0, g.n)) AS pointers, SUM(IF(g.pointer IS NOT NULL AND e.hash IS NULL, g.n, 0)) AS dangling
         FROM (SELECT t.${c} AS pointer, COUNT(*) AS n FROM ${table} t${chunk.where ? ` WHERE ${chunk.where}` : ''} GROUP BY t.${c}) g
         LEFT JOIN ${external} e ON e.hash = g.pointer`,
      chunk.values,
    );
    check.rows += Number(counts.rows ?? 0);
    check.pointers += Number(counts.pointers ?? 0);
    check.danglingPointers += Number(counts.dangling ?? 0);
    budget.used();
    check.counting = chunk.last === null ? null : { after: encodeKey(chunk.last) };
    if (!check.counting && check.danglingPointers) {
      check.problems.push(`${check.danglingPointers} pointer(s) of ${column.table_name}.${column.column_name} have no ${externalTableName(column.store)} row`);
    }
    await checkpoint();
  }
  return true;
}

/**
 * The objects the column points at whose keys are in the range, against the range's listing: each at the location
 * 0.12 reads, with the recorded size and the contents hash computed from its bytes during hashing. Goes on after
 * `cursor.after` and moves it past every pointer checked, keeping a checkpoint after each page; false when it stopped
 * for the budget before the column's end.
 */
async function checkColumnObjects(
  conn: Connection,
  input: Migrate011Input,
  check: ColumnCheck,
  present: ListedObjects,
  range: KeyRange,
  pointers: PointerRange,
  openStore: OpenStore,
  pointerPage: number,
  { cursor, budget, checkpoint, progress }: VerifyCall,
): Promise<boolean> {
  const { column, missing, mismatched } = check;
  const spec = input.stores[column.store];
  const limit = pLimit(input.hashConcurrency);
  const start = cursor.after === null ? null : Buffer.from(cursor.after, 'hex');
  for await (const page of referencedRows(conn, input, column, pointers, pointerPage, start)) {
    const reread: Promise<void>[] = [];
    let stopped = false;
    const checkedBefore = check.objects;
    for (const object of page) {
      if (budget.spent()) {
        stopped = true;
        break;
      }
      budget.used();
      cursor.after = object.pointer.toString('hex');
      // a dangling pointer (no row) is counted by the column's definition check
      if (object.hash === null) continue;
      const relative = object.filepath ?? uuidRelativePath(input.schema, object.hash);
      const key = storeObjectKey(spec.protocol, spec.location, relative);
      if (!inKeyRange(key, range)) continue;
      check.objects += 1;
      const size = present.get(key)?.size;
      // The bytes at this location were hashed during the migration; the row must record that hash.
      const recorded = object.filepath === null ? object.hash : object.contents_hash;
      if (size === undefined) missing.push(key);
      else if (size !== Number(object.size)) mismatched.push(`${key}: ${size} bytes, row says ${object.size}`);
      else if (object.hashed && !(recorded && recorded.equals(object.hashed))) mismatched.push(`${key}: contents hash differs from the row`);
      else if (input.verifyContents) {
        reread.push(
          limit(async () => {
            if (!(recorded && (await openStore(column.store).digest(key)).md5.equals(recorded))) mismatched.push(`${key}: its bytes no longer hash to the row's contents hash`);
          }),
        );
      }
    }
    await Promise.all(reread);
    await checkpoint();
    if (check.objects > checkedBefore) progress.report({ kind: 'objects-verified', table: column.table_name, column: column.column_name, objects: check.objects - checkedBefore });
    if (stopped) return false;
  }
  return true;
}

interface ReferencedRow {
  pointer: Buffer;
  /** Null: the pointer has no `~external_<store>` row. */
  hash: Buffer | null;
  size: number;
  filepath: string | null;
  contents_hash: Buffer | null;
  /** What the journal recorded from the object's bytes (null: not hashed by this migration). */
  hashed: Buffer | null;
}

/** The `~external_<store>` rows the column points at, in pages of its distinct pointers after `start` (null: all). */
function referencedRows(conn: Connection, input: Migrate011Input, column: JournalColumn, pointers: PointerRange, pointerPage: number, start: Buffer | null): AsyncGenerator<ReferencedRow[]> {
  const c = quoteId(column.column_name);
  const bounds = [pointers.from && { sql: ` AND ${c} >= ?`, value: pointers.from }, pointers.before && { sql: ` AND ${c} < ?`, value: pointers.before }].filter((bound) => bound !== undefined);
  return keysetPages(
    (after: Buffer | null) =>
      select<ReferencedRow>(
        conn,
        `SELECT d.pointer, e.hash, e.size, e.filepath, e.contents_hash, o.contents_hash AS hashed
           FROM (SELECT DISTINCT ${c} AS pointer FROM ${tableRef(input.schema, column.table_name)}
                  WHERE ${c} IS NOT NULL${bounds.map((bound) => bound.sql).join('')}${after ? ` AND ${c} > ?` : ''} ORDER BY ${c} LIMIT ${Math.floor(pointerPage)}) d
           LEFT JOIN ${tableRef(input.schema, externalTableName(column.store))} e ON e.hash = d.pointer
           LEFT JOIN ${journalTables(input.schema).objects} o ON o.new_hash = e.hash AND o.store = ?
          ORDER BY d.pointer`,
        [...bounds.map((bound) => bound.value), ...(after ? [after] : []), column.store],
      ),
    (row) => row.pointer,
    pointerPage,
    start,
  );
}

/** Pointers (uuids) from `from` up to before `before`; an absent bound is open. */
interface PointerRange {
  from?: Buffer;
  before?: Buffer;
}

/**
 * The uuids whose objects' keys (`prefix` + their hex, folded) are in the key range: those whose first hex digit
 * is, as an interval of their first byte; null when there are none.
 */
function uuidPointerRange(prefix: string, range: KeyRange): PointerRange | null {
  const digits = HEX_KEY_ORDER.split('');
  // the first digit whose objects' keys are at or past the bound (16: none)
  const firstAtOrPast = (bound: string) => {
    const digit = digits.findIndex((d) => prefix + d >= bound);
    return digit < 0 ? digits.length : digit;
  };
  const low = range.from === undefined ? 0 : firstAtOrPast(range.from);
  const high = range.before === undefined ? digits.length : firstAtOrPast(range.before);
  if (low >= high) return null;
  return { ...(low > 0 ? { from: Buffer.from([low << 4]) } : {}), ...(high < digits.length ? { before: Buffer.from([high << 4]) } : {}) };
}

/** The journal's objects per store, in one scan. */
async function journalObjectsByStore(conn: Connection, schema: string): Promise<Record<string, number>> {
  const rows = await select<{ store: string; n: number }>(conn, `SELECT store, COUNT(*) AS n FROM ${journalTables(schema).objects} GROUP BY store`);
  return Object.fromEntries(rows.map((row) => [row.store, Number(row.n)]));
}

/** Whether any of the store's `~external_<store>` rows names its object by path (in place all do, in native mode none). */
async function anyFilepath(conn: Connection, schema: string, store: string): Promise<boolean> {
  const rows = await select(conn, `SELECT 1 FROM ${tableRef(schema, externalTableName(store))} WHERE filepath IS NOT NULL LIMIT 1`);
  return rows.length > 0;
}

/**
 * The key ranges a store of `objects` (the journal's) is listed in, one pass each: one range unless they are more
 * than a listing may hold. In place the objects sit under their 0.11 names; in native mode also under hex folders
 * (the uuids'), the 0.11 names staying beside them.
 */
function storeKeyRanges(input: Migrate011Input, store: string, objects: number): KeyRange[] {
  const spec = input.stores[store];
  if (!spec) return [{}];
  return keyRanges(storePrefix(spec, input.schema), expectedStoreKeys(objects, input.mode === 'native'), input.listingPassObjects);
}

function storePrefix(spec: Migrate011Input['stores'][string], schema: string): string {
  return `${storeObjectKey(spec.protocol, spec.location, schema)}/`;
}

async function listStore(input: Migrate011Input, store: string, openStore: OpenStore, range: KeyRange): Promise<ListedObjects> {
  const spec = input.stores[store];
  // a store missing from the input lists nothing: its objects are reported missing
  if (!spec) return new ListedObjects('');
  return listObjects(openStore(store), storePrefix(spec, input.schema), range);
}
