// DataJoint 0.14 → 2.0 in place, step `verify`: read-only, run after the steps it checks. It re-plans each step
// (a finished step has nothing left to do) and, for `migrate_external_storage`, reads every distinct 2.x pointer of
// every `:<blob@S>:` / `:<attach@S>:` / `:<filepath@S>:` column (keyset paging on the value, or on the primary key
// for a table too big to sort within a call; memory stays flat either way), checks its JSON shape (spec D.2, D.3)
// and that its object exists in the store with exactly `size` bytes and, with verifyContents, that the base32 MD5
// of its bytes is `hash`. Never writes to the database or the stores.
import type { Connection } from 'mysql2/promise';
import { createHash } from 'node:crypto';
import type { StoreSpec } from '../config/store-spec.js';
import { parseExternalComment, storeObjectKey } from '../datajoint/v012.js';
import { hashOfDigest, type CodecKind } from '../datajoint/v2.js';
import { decodeKey, encodeKey, estimatedRows, primaryKeyOf, tupleCondition, type KeyValue } from '../db/keyset.js';
import { quoteId, select, selectRawArrays, serverFlavor, tableRef } from '../db/sql.js';
import { CallBudget, forEachWithin } from '../call-budget.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { ObjectMissingError, statObjects, type ObjectInfo, type ObjectStore, type OpenStore } from '../stores/object-store.js';
import { planExternalStorage } from './external-storage.js';
import { IN_PLACE_STEPS, type InPlaceStep } from './steps.js';
import { planLineage } from './lineage.js';
import { isJsonColumn, planCommentUpdates, readColumns } from './update-comments.js';

export interface InPlaceVerifyOptions {
  schema: string;
  /** The steps that ran (each is checked as finished). */
  steps: readonly InPlaceStep[];
  /** 0.14 store name → where its objects are. */
  stores: Record<string, StoreSpec>;
  /** 0.14 store name → 2.x store name, as given to the migration (default: unchanged). */
  storeMap?: Record<string, string>;
  /** Stream blob and attach objects and compare the base32 MD5 of their bytes with the pointer's `hash`. */
  verifyContents?: boolean;
  /** As given to update_blob_comments. */
  unsignedMarkers?: boolean;
  /** Objects checked at once (default 8). */
  concurrency?: number;
  /** Distinct pointers read per query (default PAGE), and of them looked up and checked at a time (CHECKED_AT_ONCE). */
  pageValues?: number;
  checkValues?: number;
  /** Tables the server estimates at this many rows or more are read in primary-key pages (default KEY_PAGES_FROM_ROWS). */
  keyPagesFromRows?: number;
  /** Rows read per primary-key page (default KEY_PAGE_ROWS), and pointers such a read remembers as checked (SEEN_POINTERS). */
  pageRows?: number;
  seenPointers?: number;
}

export interface VerifiedExternalColumn {
  table: string;
  column: string;
  kind: CodecKind;
  /** The 2.x store name in the marker. */
  store: string;
  /** Non-NULL values. */
  rows: number;
  /** Distinct pointers. */
  objects: number;
  /** Sum of the distinct pointers' sizes. */
  bytes: number;
  /** True when the objects' bytes were hashed (verifyContents, blob and attach columns). */
  checkedContents: boolean;
  /** How the pointers were read: distinct values in order, or rows in primary-key pages (see KEY_PAGES_FROM_ROWS). */
  readBy: 'pointer' | 'primary-key';
  /**
   * False when `objects` and `bytes` may count a pointer more than once: read by primary key, it was met again in a
   * later call or after more than SEEN_POINTERS others (it is then checked again too).
   */
  distinctCounts: boolean;
}

export interface InPlaceVerification {
  ok: boolean;
  problems: string[];
  comments?: { pending: number };
  external?: {
    /** `table.column` still 0.14 external columns. */
    remaining: string[];
    columns: VerifiedExternalColumn[];
  };
  lineage?: { missing: number; stale: number };
}

/** Examples kept per column and kind of problem. */
const EXAMPLES = 10;
/**
 * Distinct values read per query. Pointers cannot be indexed (JSON), so each query scans and sorts the column's
 * whole table: a page of 1,000 made Verify quadratic (200,000 rows over 5,000 objects: 9.0 s, five scans). A page of
 * 500,000 (~150 MB of text at most) is one scan per call for most columns.
 */
const PAGE = 500_000;
/**
 * Of a page, the objects looked up (statObjects: a listing of their span, a HEAD for each key it did not show) and
 * checked at a time. Pointers sort by their JSON, so a batch's keys lie apart in the store: a batch of 1,000 left most
 * to HEADs (200,000 rows over 5,000 objects: Verify 7.8 s against 2.4 s in one batch).
 */
const CHECKED_AT_ONCE = 50_000;
/**
 * From this many rows (the server's estimate) a column's table is read in primary-key pages instead: a read of
 * distinct pointers scans and sorts the whole table (~125,000 rows/s here), so at this size one query would outlast
 * a call's budget and then the Lambda's 15 minutes. Below it the sorted read is the faster one: its objects come in
 * key order, so one LIST answers for a thousand of them, where rows in primary-key order need a HEAD each.
 */
export const KEY_PAGES_FROM_ROWS = 40_000_000;
const KEY_PAGE_ROWS = 50_000;
/** Pointers a primary-key read remembers as checked (an MD5 each: ~100 bytes with the Map's own). */
const SEEN_POINTERS = 500_000;
/**
 * HEADs (stats) in flight for the objects a listing did not show, at least: they only wait on S3, and a table read
 * by primary key needs one for almost every object. Listings stay `concurrency` at once: s3rver walks its whole
 * bucket folder for each, and 32 at once over 100,000 objects made it fail with InternalError.
 */
const LOOKUPS_IN_FLIGHT = 32;
const CODEC_MARKER = /^:<(blob|attach|filepath)@([^>]*)>:/;
const TEMP_COLUMN = /^_djmigrate_v[12]_\d+$/;
const HASH = /^[a-z2-7]{26}$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00|Z)?$/;

interface ProblemGroup {
  lines: string[];
  more: number;
  label: string;
}

/** Problems as a checkpoint keeps them (their JSON): the groups in the order they were found. */
export type SavedProblems = [string, ProblemGroup][];

/** Problems grouped by kind, at most EXAMPLES lines each plus a count of the rest. */
class Problems {
  private readonly groups: Map<string, ProblemGroup>;

  constructor(saved: SavedProblems = []) {
    this.groups = new Map(saved);
  }

  save(): SavedProblems {
    return [...this.groups.entries()];
  }

  add(group: string, label: string, line: string): void {
    let entry = this.groups.get(group);
    if (!entry) this.groups.set(group, (entry = { lines: [], more: 0, label }));
    if (entry.lines.length < EXAMPLES) entry.lines.push(line);
    else entry.more++;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const { lines, more, label } of this.groups.values()) {
      out.push(...lines);
      if (more > 0) out.push(`… and ${more} more: ${label}`);
    }
    return out;
  }
}

/**
 * Where a verification that works in calls stands (plain JSON, carried in the execution's state to the next call):
 * what is verified so far, the problems so far, the columns to read (found by the first call) and the column (index)
 * and last pointer value whose object was checked.
 */
export interface InPlaceVerifyCheckpoint {
  result: Omit<InPlaceVerification, 'ok' | 'problems'>;
  problems: SavedProblems;
  codecColumns: CodecColumn[];
  cursor: { column: number; after: string | null };
}

export type InPlaceVerifyStep = { verified: InPlaceVerification; checkpoint: null } | { verified: null; checkpoint: InPlaceVerifyCheckpoint };

export interface InPlaceVerifyCall {
  /** How long this call may check objects (undefined: to the end). */
  budgetMs?: number;
  checkpoint?: InPlaceVerifyCheckpoint | null;
  /** `objects-verified` after every page of pointers. */
  progress?: ProgressSink;
}

/**
 * Read-only: checks that each requested in-place step has finished and left a consistent 2.x schema. The pointers'
 * objects are checked in calls (each works for its budget and returns a checkpoint until every pointer is checked);
 * the comments and the external columns are looked at by the first call, the lineage by the last.
 */
export async function verifyInPlace(conn: Connection, options: InPlaceVerifyOptions, openStore: OpenStore, call: InPlaceVerifyCall = {}): Promise<InPlaceVerifyStep> {
  const steps = IN_PLACE_STEPS.filter((step) => options.steps.includes(step));
  const saved = call.checkpoint ?? null;
  const problems = new Problems(saved?.problems);
  const result = saved ? structuredClone(saved.result) : {};
  let codecColumns = saved?.codecColumns ?? [];
  if (!saved) {
    if (steps.includes('update_blob_comments')) result.comments = await verifyComments(conn, options, problems);
    if (steps.includes('migrate_external_storage')) ({ external: result.external, codecColumns } = await findExternal(conn, options, openStore, problems));
  }
  if (result.external) {
    const budget = new CallBudget(call.budgetMs);
    const limit = Math.max(1, options.concurrency ?? 8);
    for (let index = saved?.cursor.column ?? 0; index < codecColumns.length; index++) {
      const column = codecColumns[index];
      const resumed = saved !== null && index === saved.cursor.column;
      if (!resumed) result.external.columns.push(await startCodecColumn(conn, options, column, problems));
      const reading = { after: resumed ? saved.cursor.after : null, budget, limit, progress: call.progress ?? silentProgress };
      if (!(await readCodecColumn(conn, options, column, result.external.columns[index], reading, openStore, problems))) {
        return { verified: null, checkpoint: { result, problems: problems.save(), codecColumns, cursor: { column: index, after: reading.after } } };
      }
    }
  }
  if (steps.includes('add_lineage_table')) result.lineage = await verifyLineage(conn, options, problems);
  const lines = problems.lines();
  return { verified: { ok: lines.length === 0, problems: lines, ...result }, checkpoint: null };
}

async function verifyComments(conn: Connection, options: InPlaceVerifyOptions, problems: Problems): Promise<InPlaceVerification['comments']> {
  const plan = await planCommentUpdates(conn, options.schema, { unsignedMarkers: options.unsignedMarkers });
  for (const change of plan.changes) {
    problems.add(
      'comments',
      'columns still lacking their 2.x comment marker',
      `${change.table}.${change.column}: comment ${JSON.stringify(change.oldComment)} still lacks the 2.x marker :${change.marker}: (update_blob_comments has not finished)`,
    );
  }
  for (const problem of plan.problems) problems.add('comments-plan', 'update_blob_comments problems', `update_blob_comments: ${problem}`);
  return { pending: plan.changes.length };
}

async function verifyLineage(conn: Connection, options: InPlaceVerifyOptions, problems: Problems): Promise<InPlaceVerification['lineage']> {
  const { schema } = options;
  const plan = await planLineage(conn, schema);
  if (!plan.tableExists) problems.add('lineage-table', '', `${schema}.~lineage does not exist (add_lineage_table has not run)`);
  for (const row of plan.changes) {
    problems.add('lineage-missing', '~lineage rows missing or wrong', `~lineage lacks ${row.table_name}.${row.attribute_name} -> ${row.lineage} (missing or different)`);
  }
  for (const row of plan.stale) {
    problems.add('lineage-stale', 'stale ~lineage rows', `~lineage has stale row ${row.table_name}.${row.attribute_name} -> ${row.lineage}, which no table explains`);
  }
  return { missing: plan.changes.length, stale: plan.stale.length };
}

interface CodecColumn {
  table: string;
  column: string;
  kind: CodecKind;
  store: string;
  json: boolean;
}

/**
 * The external columns: those still 0.14 (the plan of migrate_external_storage, without looking at their objects:
 * they are reported as left) and the 2.x codec columns whose pointers are then read.
 */
async function findExternal(
  conn: Connection,
  options: InPlaceVerifyOptions,
  openStore: OpenStore,
  problems: Problems,
): Promise<{ external: NonNullable<InPlaceVerification['external']>; codecColumns: CodecColumn[] }> {
  const { schema } = options;
  const plan = await planExternalStorage(conn, { schema, stores: options.stores, storeMap: options.storeMap }, openStore, { checkObjects: false });
  const columns = await readColumns(conn, schema, await serverFlavor(conn));
  const remaining = new Set(plan.columns.map((c) => `${c.table}.${c.column}`));
  const codecColumns: CodecColumn[] = [];
  for (const column of columns) {
    const where = `${column.table}.${column.column}`;
    if (TEMP_COLUMN.test(column.column)) {
      problems.add('temp-column', 'leftover migration columns', `${where} is a leftover column of an unfinished migrate_external_storage run; rerun the step`);
      continue;
    }
    const marker = CODEC_MARKER.exec(column.comment);
    if (marker) {
      codecColumns.push({ table: column.table, column: column.column, kind: marker[1] as CodecKind, store: marker[2], json: isJsonColumn(column) });
      continue;
    }
    if (parseExternalComment(column.comment)) remaining.add(where);
  }
  for (const where of remaining) {
    problems.add('remaining', '0.14 external columns left', `${where} is still a 0.14 external column (migrate_external_storage has not converted it)`);
  }
  for (const problem of plan.problems) problems.add('external-plan', 'migrate_external_storage problems', `migrate_external_storage: ${problem}`);
  return { external: { remaining: [...remaining], columns: [] }, codecColumns };
}

/** The 0.14 store whose objects a 2.x store name points at (storeMap reversed; unmapped names are unchanged). */
function sourceStoreOf(options: InPlaceVerifyOptions, target: string): string {
  const mapped = Object.entries(options.storeMap ?? {})
    .filter(([, to]) => to === target)
    .map(([from]) => from);
  return mapped.find((from) => options.stores[from]) ?? mapped[0] ?? target;
}

/**
 * How a codec column's pointers will be read, its row count when they are read by value (by primary key the pages
 * count them) and what is wrong with it as a whole; its pointers are read next (readCodecColumn).
 */
async function startCodecColumn(conn: Connection, options: InPlaceVerifyOptions, column: CodecColumn, problems: Problems): Promise<VerifiedExternalColumn> {
  const where = `${column.table}.${column.column}`;
  const group = (kind: string) => `${where}\0${kind}`;
  const byKey =
    (await estimatedRows(conn, options.schema, column.table)) >= (options.keyPagesFromRows ?? KEY_PAGES_FROM_ROWS) && (await primaryKeyOf(conn, options.schema, column.table)).length > 0;
  let rows = 0;
  if (!byKey) {
    const [{ count }] = await select<{ count: number }>(conn, `SELECT COUNT(${quoteId(column.column)}) AS count FROM ${tableRef(options.schema, column.table)}`);
    rows = Number(count);
  }
  if (!column.json) {
    problems.add(group('type'), '', `${where} is marked :<${column.kind}@${column.store}>: but is not a JSON column; migrate_external_storage did not finish it`);
  }
  const source = sourceStoreOf(options, column.store);
  if (!options.stores[source]) {
    problems.add(
      group('store'),
      '',
      `${where} points to store "${column.store}"${source !== column.store ? ` (0.14 store "${source}")` : ''}, which has no spec in the stores; add "${source}" (the 0.14 store spec) and rerun the verification`,
    );
  }
  return {
    table: column.table,
    column: column.column,
    kind: column.kind,
    store: column.store,
    rows,
    objects: 0,
    bytes: 0,
    checkedContents: Boolean(options.verifyContents) && column.kind !== 'filepath' && Boolean(options.stores[source]),
    readBy: byKey ? 'primary-key' : 'pointer',
    distinctCounts: true,
  };
}

/** Where a column's pointers are read and checked: what readCodecColumn was given, the column's store and SQL. */
interface ColumnReading {
  conn: Connection;
  options: InPlaceVerifyOptions;
  column: CodecColumn;
  verified: VerifiedExternalColumn;
  reading: { after: string | null; budget: CallBudget; limit: number; progress: ProgressSink };
  problems: Problems;
  /** The column's store, null when it has no spec. */
  objects: Omit<PageObjects, 'infos'> | null;
  table: string;
  /** The column's value as text compared byte by byte. */
  value: string;
}

/**
 * Reads the column's pointers from `reading.after` (a pointer, or an encoded primary key; null: from the start) and
 * checks each one's shape and object, until the last or the budget; moves `reading.after` past what it checked.
 * True when the column is done.
 */
async function readCodecColumn(
  conn: Connection,
  options: InPlaceVerifyOptions,
  column: CodecColumn,
  verified: VerifiedExternalColumn,
  reading: ColumnReading['reading'],
  openStore: OpenStore,
  problems: Problems,
): Promise<boolean> {
  const source = sourceStoreOf(options, column.store);
  const spec = options.stores[source];
  const read: ColumnReading = {
    conn,
    options,
    column,
    verified,
    reading,
    problems,
    objects: spec ? { spec, store: openStore(source), storeName: source, contents: verified.checkedContents } : null,
    table: tableRef(options.schema, column.table),
    value: `CAST(${quoteId(column.column)} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`,
  };
  return verified.readBy === 'primary-key' ? readByKey(read) : readByPointer(read);
}

/** The column's distinct pointers in value order, a page per query (each query scans and sorts the table). */
async function readByPointer(read: ColumnReading): Promise<boolean> {
  const { conn, column, reading } = read;
  const page = Math.floor(read.options.pageValues ?? PAGE);
  const batch = Math.floor(read.options.checkValues ?? CHECKED_AT_ONCE);
  for (;;) {
    if (reading.budget.spent()) return false;
    const rows: { v: unknown }[] = await select<{ v: unknown }>(
      conn,
      `SELECT DISTINCT ${read.value} AS v FROM ${read.table} WHERE ${quoteId(column.column)} IS NOT NULL${reading.after === null ? '' : ` AND ${read.value} > ?`} ORDER BY v LIMIT ${page}`,
      reading.after === null ? [] : [reading.after],
    );
    if (rows.length === 0) return true;
    const texts = rows.map((row) => textOf(row.v));
    for (let start = 0; start < texts.length; start += batch) {
      if (reading.budget.spent()) return false;
      const slice = texts.slice(start, start + batch);
      const checked = await checkPointers(read, slice);
      if (checked > 0) reading.after = slice[checked - 1];
      if (checked < slice.length) return false;
    }
    if (rows.length < page) return true;
  }
}

/**
 * The column's rows in primary-key pages (each query a range of the key): a page's pointers not met before are
 * checked, in the order they first appear, and the read moves on to the last row whose pointer was checked.
 */
async function readByKey(read: ColumnReading): Promise<boolean> {
  const { conn, options, column, verified, reading } = read;
  const primaryKey = await primaryKeyOf(conn, options.schema, column.table);
  const keyColumns = primaryKey.map((name) => `t.${quoteId(name)}`).join(', ');
  const pageRows = Math.floor(options.pageRows ?? KEY_PAGE_ROWS);
  const seen = new SeenPointers(options.seenPointers ?? SEEN_POINTERS);
  // the pointers checked by earlier calls are not remembered: met again, they are checked and counted again
  if (reading.after !== null) verified.distinctCounts = false;
  for (;;) {
    if (reading.budget.spent()) return false;
    const after = reading.after === null ? null : tupleCondition(primaryKey, decodeKey(reading.after), '>');
    const rows = await selectRawArrays(
      conn,
      `SELECT ${read.value}, ${keyColumns} FROM ${read.table} t WHERE t.${quoteId(column.column)} IS NOT NULL${after ? ` AND ${after.sql}` : ''} ORDER BY ${keyColumns} LIMIT ${pageRows}`,
      after?.values ?? [],
    );
    if (rows.length === 0) return true;
    const fresh: string[] = [];
    const firstRowOf: number[] = [];
    const inPage = new Set<string>();
    rows.forEach((row, index) => {
      const text = textOf(row[0]);
      if (inPage.has(text)) return;
      inPage.add(text);
      if (seen.has(text)) return;
      fresh.push(text);
      firstRowOf.push(index);
    });
    const checked = fresh.length ? await checkPointers(read, fresh) : 0;
    for (const text of fresh.slice(0, checked)) if (seen.add(text)) verified.distinctCounts = false;
    // rows before the first unchecked pointer's first row hold checked pointers only
    const done = checked < fresh.length ? firstRowOf[checked] : rows.length;
    verified.rows += done;
    if (done > 0) reading.after = encodeKey(rows[done - 1].slice(1) as KeyValue[]);
    if (checked < fresh.length) return false;
    if (rows.length < pageRows) return true;
  }
}

/** Pointers checked by this call of a primary-key read: their MD5s, the oldest forgotten past `capacity`. */
class SeenPointers {
  private readonly digests = new Set<string>();

  constructor(private readonly capacity: number) {}

  private static digest(text: string): string {
    return createHash('md5').update(text).digest('base64');
  }

  has(text: string): boolean {
    return this.digests.has(SeenPointers.digest(text));
  }

  /** Remembers a pointer; true when that made it forget another. */
  add(text: string): boolean {
    this.digests.add(SeenPointers.digest(text));
    if (this.digests.size <= this.capacity) return false;
    this.digests.delete(this.digests.values().next().value!);
    return true;
  }
}

/** Checks the pointers in order, their objects looked up at once, until the last or the budget; how many it checked. */
async function checkPointers(read: ColumnReading, texts: string[]): Promise<number> {
  const { options, column, verified, reading, problems } = read;
  const where = `${column.table}.${column.column}`;
  const pointers = texts.map((text) => ({ text, pointer: parsePointer(options, column, text) }));
  let objects: PageObjects | null = null;
  if (read.objects) {
    const { spec, store } = read.objects;
    const keys = pointers.flatMap(({ pointer }) => ('error' in pointer || pointer.isDir ? [] : [storeObjectKey(spec.protocol, spec.location, pointer.path)]));
    objects = { ...read.objects, infos: await statObjects(store, keys, reading.limit, Math.max(reading.limit, LOOKUPS_IN_FLIGHT)) };
  }
  const checked = await forEachWithin(pointers, reading.budget, reading.limit, async ({ text, pointer }) => {
    verified.objects++;
    if ('error' in pointer) {
      problems.add(`${where}\0shape`, `${where} pointers with a wrong shape`, `${where}: pointer ${abbreviate(text)} ${pointer.error}`);
      return;
    }
    verified.bytes += pointer.size;
    if (objects) await checkObject(column, objects, pointer, text, problems);
  });
  if (checked > 0) reading.progress.report({ kind: 'objects-verified', table: column.table, column: column.column, objects: checked });
  return checked;
}

function textOf(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

interface ParsedPointer {
  path: string;
  size: number;
  hash: string | null;
  isDir: boolean;
}

function parsePointer(options: InPlaceVerifyOptions, column: CodecColumn, text: string): ParsedPointer | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'is not valid JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { error: 'is not a JSON object' };
  const p = json as Record<string, unknown>;
  const wrong: string[] = [];
  const expected = column.kind === 'filepath' ? ['path', 'store', 'size', 'is_dir', 'timestamp'] : ['hash', 'path', 'schema', 'store', 'size'];
  const missing = expected.filter((key) => !(key in p));
  if (missing.length) wrong.push(`lacks ${missing.join(', ')}`);
  if ('path' in p && (typeof p.path !== 'string' || p.path === '')) wrong.push('has no usable path');
  if ('size' in p && (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0)) wrong.push(`has size ${JSON.stringify(p.size)}, not a byte count`);
  if ('store' in p && p.store !== column.store) wrong.push(`has store ${JSON.stringify(p.store)}, not "${column.store}" as the column marker says`);
  if (column.kind === 'filepath') {
    if ('is_dir' in p && typeof p.is_dir !== 'boolean') wrong.push('has a non-boolean is_dir');
    if ('timestamp' in p && (typeof p.timestamp !== 'string' || !TIMESTAMP.test(p.timestamp))) wrong.push(`has timestamp ${JSON.stringify(p.timestamp)}, not ISO-8601`);
  } else {
    if ('hash' in p && (typeof p.hash !== 'string' || !HASH.test(p.hash))) wrong.push(`has hash ${JSON.stringify(p.hash)}, not 26 lowercase base32 characters`);
    if ('schema' in p && p.schema !== options.schema) wrong.push(`has schema ${JSON.stringify(p.schema)}, not "${options.schema}"`);
  }
  if (wrong.length) return { error: wrong.join('; ') };
  return { path: p.path as string, size: p.size as number, hash: column.kind === 'filepath' ? null : (p.hash as string), isDir: p.is_dir === true };
}

/** Where a page of a column's pointers is checked: its store, whether bytes are hashed, the sizes of its objects. */
interface PageObjects {
  spec: StoreSpec;
  store: ObjectStore;
  storeName: string;
  contents: boolean;
  infos: ReadonlyMap<string, ObjectInfo | null>;
}

async function checkObject(column: CodecColumn, { spec, store, storeName, contents, infos }: PageObjects, pointer: ParsedPointer, text: string, problems: Problems): Promise<void> {
  const where = `${column.table}.${column.column}`;
  const key = storeObjectKey(spec.protocol, spec.location, pointer.path);
  const at = `${key} in store "${storeName}" (${store.description})`;
  if (pointer.isDir) {
    for await (const found of store.list(`${key}/`)) {
      void found;
      return;
    }
    problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: pointer ${abbreviate(text)} names folder ${at}, which is empty or missing`);
    return;
  }
  const info = infos.get(key) ?? null;
  if (!info) {
    problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: object ${at} of pointer ${abbreviate(text)} is missing`);
    return;
  }
  if (info.size !== pointer.size) {
    problems.add(`${where}\0size`, `${where} objects of the wrong size`, `${where}: object ${at} has ${info.size} bytes, the pointer says size ${pointer.size} (${abbreviate(text)})`);
    return;
  }
  if (!contents || pointer.hash === null) return;
  let digest;
  try {
    digest = await store.digest(key);
  } catch (error) {
    if (error instanceof ObjectMissingError) {
      problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: object ${at} of pointer ${abbreviate(text)} is missing`);
      return;
    }
    throw error;
  }
  const hash = hashOfDigest(digest.md5);
  if (hash !== pointer.hash || digest.size !== pointer.size) {
    problems.add(
      `${where}\0hash`,
      `${where} objects whose bytes do not match their hash`,
      `${where}: object ${at} hashes to ${hash} (${digest.size} bytes), the pointer says hash ${pointer.hash}; it was overwritten or is corrupt`,
    );
  }
}

function abbreviate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
