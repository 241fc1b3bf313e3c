// Proves the result per column: the DDL 0.12 expects, every pointer backed by a `~external_<store>` row, and
// every object at the location 0.12 will read, with the recorded size and the contents hash computed from its
// bytes during hashing. Read-only.
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE } from '../datajoint/v011.js';
import { blobColumnComment, externalTableName, storeObjectKey, uuidRelativePath } from '../datajoint/v012.js';
import { keysetPages } from '../db/keyset.js';
import { quoteId, select, tableRef } from '../db/sql.js';
import { Findings } from '../findings.js';
import type { Migrate011Input } from './input.js';
import { journalColumns, journalTables, type JournalColumn } from './journal.js';
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
}

export async function verifyMigration(conn: Connection, input: Migrate011Input, openStore: OpenStore, options: VerifyOptions = {}): Promise<Verification> {
  const listings = new Map<string, Promise<ListedObjects>>();
  const listing = (store: string) => {
    if (!listings.has(store)) listings.set(store, listStore(input, store, openStore));
    return listings.get(store)!;
  };
  const columns: ColumnVerification[] = [];
  const journal = await journalColumns(conn, input.schema);
  // every store's listing starts now, side by side; each column awaits its own (and meets its error there)
  for (const store of new Set(journal.map((column) => column.store))) listing(store).catch(() => undefined);
  for (const column of journal) columns.push(await verifyColumn(conn, input, column, listing, openStore, options.pointerPage ?? POINTER_PAGE));
  const [{ n: legacyReferences }] = await select<{ n: number }>(
    conn,
    'SELECT COUNT(*) AS n FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?',
    [input.schema, LEGACY_EXTERNAL_TABLE],
  );
  return { ok: columns.every((column) => column.ok) && Number(legacyReferences) === 0, legacyReferences: Number(legacyReferences), columns };
}

async function verifyColumn(
  conn: Connection,
  input: Migrate011Input,
  column: JournalColumn,
  listing: (store: string) => Promise<ListedObjects>,
  openStore: OpenStore,
  pointerPage: number,
): Promise<ColumnVerification> {
  const problems: string[] = [];
  const table = tableRef(input.schema, column.table_name);
  const external = tableRef(input.schema, externalTableName(column.store));
  const c = quoteId(column.column_name);
  const where = `${column.table_name}.${column.column_name}`;

  const [definition] = await select<{ type: string; nullable: string; comment: string; ordinal: number }>(
    conn,
    `SELECT COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment, ORDINAL_POSITION AS ordinal
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?`,
    [input.schema, column.table_name, column.column_name],
  );
  if (!definition) {
    return { table: column.table_name, column: column.column_name, store: column.store, rows: 0, pointers: 0, danglingPointers: 0, objects: 0, objectsMissing: 0, objectsMismatched: 0, ok: false, problems: [`${where} does not exist`] };
  }
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

  // grouped by pointer over the column's index first: one lookup per distinct pointer, not per row
  const [counts] = await select<{ rows: number | null; pointers: number | null; dangling: number | null }>(
    conn,
    `SELECT SUM(g.n) AS \`rows\`, SUM(IF(g.pointer IS NULL, 0, g.n)) AS pointers, SUM(IF(g.pointer IS NOT NULL AND e.hash IS NULL, g.n, 0)) AS dangling
       FROM (SELECT t.${c} AS pointer, COUNT(*) AS n FROM ${table} t GROUP BY t.${c}) g LEFT JOIN ${external} e ON e.hash = g.pointer`,
  );
  const danglingPointers = Number(counts.dangling ?? 0);
  if (danglingPointers) problems.push(`${danglingPointers} pointer(s) of ${where} have no ${externalTableName(column.store)} row`);

  const spec = input.stores[column.store];
  const present = await listing(column.store);
  const missing = new Findings(EXAMPLES);
  const mismatched = new Findings(EXAMPLES);
  let objects = 0;
  const limit = pLimit(input.hashConcurrency);
  for await (const page of referencedRows(conn, input, column, pointerPage)) {
    objects += page.length;
    const reread: Promise<void>[] = [];
    for (const object of page) {
      const relative = object.filepath ?? uuidRelativePath(input.schema, object.hash);
      const key = storeObjectKey(spec.protocol, spec.location, relative);
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
  }
  if (missing.count) problems.push(`${missing.count} object(s) of ${where} are missing: ${missing.examples.join(', ')}`);
  if (mismatched.count) problems.push(`${mismatched.count} object(s) of ${where} do not match their rows: ${mismatched.examples.join(', ')}`);

  return {
    table: column.table_name,
    column: column.column_name,
    store: column.store,
    rows: Number(counts.rows ?? 0),
    pointers: Number(counts.pointers ?? 0),
    danglingPointers,
    objects,
    objectsMissing: missing.count,
    objectsMismatched: mismatched.count,
    ok: problems.length === 0,
    problems,
  };
}


interface ReferencedRow {
  pointer: Buffer;
  hash: Buffer;
  size: number;
  filepath: string | null;
  contents_hash: Buffer | null;
  /** What the journal recorded from the object's bytes (null: not hashed by this migration). */
  hashed: Buffer | null;
}

/** The `~external_<store>` rows the column points at, in pages of its distinct pointers (dangling ones are counted elsewhere). */
async function* referencedRows(conn: Connection, input: Migrate011Input, column: JournalColumn, pointerPage: number): AsyncGenerator<ReferencedRow[]> {
  const c = quoteId(column.column_name);
  const pages = keysetPages(
    (after: Buffer | null) =>
      select<Omit<ReferencedRow, 'hash'> & { hash: Buffer | null }>(
        conn,
        `SELECT d.pointer, e.hash, e.size, e.filepath, e.contents_hash, o.contents_hash AS hashed
           FROM (SELECT DISTINCT ${c} AS pointer FROM ${tableRef(input.schema, column.table_name)}
                  WHERE ${c} IS NOT NULL${after ? ` AND ${c} > ?` : ''} ORDER BY ${c} LIMIT ${Math.floor(pointerPage)}) d
           LEFT JOIN ${tableRef(input.schema, externalTableName(column.store))} e ON e.hash = d.pointer
           LEFT JOIN ${journalTables(input.schema).objects} o ON o.new_hash = e.hash AND o.store = ?
          ORDER BY d.pointer`,
        after ? [after, column.store] : [column.store],
      ),
    (row) => row.pointer,
    pointerPage,
  );
  for await (const page of pages) yield page.filter((row): row is ReferencedRow => row.hash !== null);
}

async function listStore(input: Migrate011Input, store: string, openStore: OpenStore): Promise<ListedObjects> {
  const spec = input.stores[store];
  // a store missing from the input lists nothing: its objects are reported missing
  if (!spec) return new ListedObjects('');
  return listObjects(openStore(store), `${storeObjectKey(spec.protocol, spec.location, input.schema)}/`);
}
