// DataJoint 0.14 → 2.0, step `migrate_external_storage`, in place (issue 3 item 2; spec D.2, D.3, D.6).
// Every `binary(16)` column marked `:blob@S:` / `:attach@S:` / `:filepath@S:` (FK to `~external_<S>`) becomes a JSON
// column holding the pointer 2.x's `<blob@S>` / `<attach@S>` / `<filepath@S>` codecs decode:
//   * blob: `{hash, path, schema, store, size}` with `hash` = base32 of the MD5 of the object's exact bytes (the 0.12
//     uuid, or `contents_hash` for rows migrated from 0.11, never the md5 of the path) and `path` = where the object
//     already is (0.12 uuid path, or the `filepath` column of migrated rows), unless `copyFiles` copies it to `_hash/…`;
//   * attach: a NEW object `filename\0contents` at `_hash/<schema>/<hash>` (streamed), same pointer shape, `size` = its length;
//   * filepath: `{path, store, size, is_dir, timestamp}` with `path` = the `filepath` column.
// Pointers are computed once per `~external_<S>` row into `~djmigrate_014_pointer`, copied into a temporary JSON column
// `_djmigrate_v2_<id>` by UPDATE … JOIN in primary-key chunks, checked, and swapped in by one ALTER (FK dropped, the
// 0.14 column moved aside to `_djmigrate_v1_<id>`, the JSON column renamed into its place with the original
// NULL-ability, position and comment `:<kind@S>:<comment>`, no new FK). Rows a 0.14 client wrote just before the swap
// are then converted from the moved-aside column, which is dropped last. Each step is idempotent, so a rerun after a
// crash picks up where the last run stopped; `~external_<S>` tables are kept (a later finalize renames them).
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import type { StoreSpec } from '../config/store-spec.js';
import { externalTableName, parseExternalComment, storeObjectKey, uuidRelativePath } from '../datajoint/v012.js';
import { codecComment, filepathPointer, hashOfDigest, hashPath, hashPointer, pythonJson, pythonUtcIso, type CodecKind } from '../datajoint/v2.js';
import { chunkRowsFor, decodeKey, encodeKey, keyChunk, primaryKeyOf, type KeyValue } from '../db/keyset.js';
import { addColumn, DEFAULT_LOCK_WAIT_SECONDS, execute, indexProbe, keyProbe, quoteId, quoteValue, select, tableRef, withLockWaitLimit } from '../db/sql.js';
import { CallBudget, forEachWithin } from '../call-budget.js';
import { columnsInTurn } from '../columns-in-turn.js';
import { MigrationRefusedError } from '../errors.js';
import { Findings, type SavedFindings } from '../findings.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { ObjectMissingError, statObjects, type ObjectInfo, type ObjectStore, type OpenStore } from '../stores/object-store.js';
import type { ObjectWriter } from '../stores/object-writer.js';

export const COLUMN_TABLE_014 = '~djmigrate_014_column';
export const POINTER_TABLE_014 = '~djmigrate_014_pointer';
export const RUN_TABLE_014 = '~djmigrate_014_run';
/** The JSON column being filled (`_djmigrate_v2_<id>`), and the 0.14 column kept after the swap until checked (`_djmigrate_v1_<id>`). */
export const TEMP_COLUMN_PREFIX_014 = '_djmigrate_v2_';
export const KEPT_COLUMN_PREFIX_014 = '_djmigrate_v1_';
const TEMP_COLUMN = /^_djmigrate_v[12]_\d+$/;
const EXAMPLES = 10;
const BATCH = 500;
/** Objects the plan's check looks up at once: five of statMany's listing spans (999 keys each), listed side by side. */
const CHECK_PAGE = 4_995;

export type OpenWriter = (name: string) => ObjectWriter;

export interface ExternalStorageOptions {
  /** The schema (MySQL database) to convert. */
  schema: string;
  /** 0.14 store name → where its objects are (no credentials). */
  stores: Record<string, StoreSpec>;
  /** 0.14 store name → the 2.x store name written into the JSON and the comment marker (default: unchanged). */
  storeMap?: Record<string, string>;
  /** Also copy blob objects to `_hash/<schema>/<hash>` and point `path` there (2.x GC then manages them). */
  copyFiles?: boolean;
  /** Re-hash blob objects by streaming them and refuse when the bytes do not match the recorded hash and size. */
  verifyObjects?: boolean;
  /** Objects checked, copied or written at once. */
  concurrency?: number;
  /** Rows per UPDATE when filling the JSON column (primary-key chunks; default 5000). */
  fillChunkRows?: number;
  /** Rows per query of the checks that no row lacks its JSON (primary-key chunks; default chunkRowsFor's). */
  checkChunkRows?: number;
  /** Test hooks around each column's swap ALTER (a throw simulates a crash there). */
  hooks?: {
    beforeSwap?(table: string, column: string): Promise<void>;
    afterSwap?(table: string, column: string): Promise<void>;
  };
}

export interface ExternalColumnPlan {
  table: string;
  column: string;
  kind: CodecKind;
  /** The 0.14 store (the `~external_<store>` table). */
  store: string;
  /** The 2.x store name written into the pointers and the marker. */
  targetStore: string;
  nullable: boolean;
  /** The user comment after the marker. */
  comment: string;
  /** The foreign key to `~external_<store>`, dropped by the swap (null when the column has none). */
  constraint: string | null;
  rows: number;
  pointers: number;
  /** Distinct `~external_<store>` rows the column references. */
  objects: number;
  bytes: number;
}

export interface ExternalStoragePlan {
  schema: string;
  status: 'ready' | 'nothing-to-do' | 'refused';
  columns: ExternalColumnPlan[];
  /** Columns that already carry a 2.x codec marker on a JSON column. */
  migrated: { table: string; column: string; marker: string }[];
  problems: string[];
}

export interface ExternalColumnResult {
  table: string;
  column: string;
  kind: CodecKind;
  store: string;
  /** Rows whose temporary JSON column was filled by this run. */
  rowsFilled: number;
  state: 'swapped' | 'already-swapped';
}

export interface ExternalStorageResult {
  schema: string;
  status: 'migrated' | 'nothing-to-do';
  columns: ExternalColumnResult[];
  /** Pointers computed (one per store, kind and `~external_<store>` row). */
  pointers: number;
  /** Attachment objects written at their 2.x hash path. */
  objectsWritten: number;
  /** Blob objects copied to their 2.x hash path (copyFiles). */
  objectsCopied: number;
}

// ----- discovery and plan -----------------------------------------------------------------------------------

interface LiveColumn {
  table: string;
  column: string;
  type: string;
  nullable: boolean;
  comment: string;
  ordinal: number;
}

export interface FoundColumn {
  table: string;
  column: string;
  kind: CodecKind;
  store: string;
  nullable: boolean;
  comment: string;
  constraint: string | null;
}

async function schemaColumns(conn: Connection, schema: string): Promise<LiveColumn[]> {
  const rows = await select<{ table_name: string; column_name: string; column_type: string; is_nullable: string; column_comment: string; ordinal: number }>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, COLUMN_TYPE AS column_type, IS_NULLABLE AS is_nullable,
            COLUMN_COMMENT AS column_comment, ORDINAL_POSITION AS ordinal
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [schema],
  );
  return rows.map((row) => ({
    table: row.table_name,
    column: row.column_name,
    type: row.column_type.toLowerCase(),
    nullable: row.is_nullable === 'YES',
    comment: row.column_comment,
    ordinal: Number(row.ordinal),
  }));
}

async function externalForeignKeys(conn: Connection, schema: string): Promise<Map<string, { constraint: string; referenced: string }>> {
  const rows = await select<{ table_name: string; column_name: string; constraint_name: string; referenced: string }>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, CONSTRAINT_NAME AS constraint_name, REFERENCED_TABLE_NAME AS referenced
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME LIKE '~external\\_%'`,
    [schema, schema],
  );
  return new Map(rows.map((row) => [`${row.table_name}\0${row.column_name}`, { constraint: row.constraint_name, referenced: row.referenced }]));
}

/** The `:blob@S:` / `:attach@S:` / `:filepath@S:` columns of user tables (never `~` tables) and problems found on the way. */
export async function findColumns(conn: Connection, schema: string): Promise<{ found: FoundColumn[]; migrated: ExternalStoragePlan['migrated']; problems: string[] }> {
  const columns = await schemaColumns(conn, schema);
  const fks = await externalForeignKeys(conn, schema);
  const found: FoundColumn[] = [];
  const migrated: ExternalStoragePlan['migrated'] = [];
  const problems: string[] = [];
  for (const column of columns) {
    if (column.table.startsWith('~') || TEMP_COLUMN.test(column.column)) continue;
    const marker = /^:<(blob|attach|filepath)@([^>]*)>:/.exec(column.comment);
    if (marker) {
      migrated.push({ table: column.table, column: column.column, marker: marker[0] });
      continue;
    }
    const parsed = parseExternalComment(column.comment);
    const fk = fks.get(`${column.table}\0${column.column}`);
    if (!parsed) {
      // Never skip what looks external: left as it is, the column would keep 0.14 uuids 2.x cannot read.
      if (fk || /^:*(blob|attach|filepath)@/.test(column.comment)) {
        problems.push(
          `${column.table}.${column.column}${fk ? ` references ${fk.referenced}` : ''} but its comment ${JSON.stringify(column.comment.slice(0, 80))} is not a 0.14 marker (:blob@store:, :attach@store:, :filepath@store:); fix the comment first`,
        );
      }
      continue;
    }
    if (column.type !== 'binary(16)') {
      problems.push(`${column.table}.${column.column} is marked :${parsed.kind}@${parsed.store}: but is ${column.type}, not binary(16); fix the column by hand`);
      continue;
    }
    if (fk && fk.referenced !== externalTableName(parsed.store)) {
      problems.push(`${column.table}.${column.column} is marked for store "${parsed.store}" but its foreign key references ${fk.referenced}; make them agree first`);
      continue;
    }
    found.push({ table: column.table, column: column.column, kind: parsed.kind, store: parsed.store, nullable: column.nullable, comment: parsed.comment, constraint: fk?.constraint ?? null });
  }
  return { found, migrated, problems };
}

interface ExternalRow {
  hash: Buffer;
  size: number;
  attachment_name: string | null;
  filepath: string | null;
  contents_hash: Buffer | null;
  epoch: string;
}

/** The 2.x store name for a 0.14 store. */
function targetStoreOf(options: ExternalStorageOptions, store: string): string {
  return options.storeMap?.[store] ?? store;
}

/** Where the object of one `~external_<store>` row is now, relative to the store root, and what its bytes hash to. */
function sourceOf(options: ExternalStorageOptions, kind: CodecKind, row: ExternalRow): { relative: string; md5: Buffer | null; size: number } {
  const size = Number(row.size);
  if (kind === 'blob') {
    // Migrated from 0.11: the object stays at `<db>/<legacy hash>` and only contents_hash is a content hash.
    if (row.filepath !== null && row.contents_hash !== null) return { relative: row.filepath, md5: row.contents_hash, size };
    return { relative: uuidRelativePath(options.schema, row.hash), md5: row.hash, size };
  }
  if (kind === 'attach') return { relative: uuidRelativePath(options.schema, row.hash, `.${row.attachment_name ?? ''}`), md5: null, size };
  return { relative: row.filepath ?? '', md5: row.contents_hash, size };
}

async function referencedRows(conn: Connection, schema: string, column: FoundColumn, after: Buffer | null, limit: number): Promise<ExternalRow[]> {
  return select<ExternalRow>(
    conn,
    `SELECT e.hash, e.size, e.attachment_name, e.filepath, e.contents_hash, CAST(UNIX_TIMESTAMP(e.\`timestamp\`) AS CHAR) AS epoch
       FROM ${tableRef(schema, externalTableName(column.store))} e
      WHERE ${indexProbe(tableRef(schema, column.table), quoteId(column.column), 'e.hash')}${after ? ' AND e.hash > ?' : ''}
      ORDER BY e.hash LIMIT ${limit}`,
    after ? [after] : [],
  );
}

/**
 * Where a plan that works in calls stands (plain JSON, carried in the execution's state to the next call): the
 * columns found by its first call, what is planned so far, and the column (index) and last `~external_<store>` hash
 * (hex) whose object was checked, with that column's object problems so far.
 */
export interface ExternalPlanCheckpoint {
  found: string[];
  columns: ExternalColumnPlan[];
  problems: string[];
  cursor: { column: number; after: string | null; objects: SavedFindings };
}

export type ExternalPlanStep = { plan: ExternalStoragePlan; checkpoint: null } | { plan: null; checkpoint: ExternalPlanCheckpoint };

export interface ExternalPlanCall {
  /** How long this call may check objects (undefined: to the end). */
  budgetMs?: number;
  /** The last call's checkpoint; one of other columns (the schema changed since) is set aside. */
  checkpoint?: ExternalPlanCheckpoint | null;
  /** False: only the database side (the columns, their counts and foreign keys), no object is looked at. */
  checkObjects?: boolean;
  /** `objects-checked` after every page of objects. */
  progress?: ProgressSink;
}

/** Read-only: what would be converted, and what stands in the way (missing objects, unconfigured stores, indexes), in one call. */
export async function planExternalStorage(conn: Connection, options: ExternalStorageOptions, openStore: OpenStore, call: Omit<ExternalPlanCall, 'budgetMs' | 'checkpoint'> = {}): Promise<ExternalStoragePlan> {
  const { plan } = await planExternalStorageStep(conn, options, openStore, call);
  return plan!;
}

/**
 * The plan in calls: each checks objects for its budget and returns a checkpoint until every referenced object was
 * checked (its size, a page at a time: statObjects; its bytes too with verifyObjects). The database checks of a
 * column run when its turn comes; a column's object problems are kept as the first few and a count, so the plan
 * stays small whatever is missing.
 */
export async function planExternalStorageStep(conn: Connection, options: ExternalStorageOptions, openStore: OpenStore, call: ExternalPlanCall = {}): Promise<ExternalPlanStep> {
  const { schema } = options;
  const { found, migrated, problems: foundProblems } = await findColumns(conn, schema);
  const names = found.map((c) => `${c.table}.${c.column}:${c.kind}@${c.store}`);
  const saved = call.checkpoint && call.checkpoint.found.join('\0') === names.join('\0') ? call.checkpoint : null;
  const problems = saved ? [...saved.problems] : foundProblems;
  const columns = saved ? [...saved.columns] : [];
  const budget = new CallBudget(call.budgetMs);
  const tables = new Set((await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema])).map((r) => r.name));
  for (let index = saved?.cursor.column ?? 0; index < found.length; index++) {
    const column = found[index];
    const resumed = saved !== null && index === saved.cursor.column;
    if (!resumed) columns.push(await planColumn(conn, options, column, tables, problems));
    const plan = columns[index];
    if (call.checkObjects === false || !options.stores[column.store] || !tables.has(externalTableName(column.store))) continue;
    const spec = options.stores[column.store];
    const store = openStore(column.store);
    const objects = resumed ? Findings.restore(saved.cursor.objects, EXAMPLES) : new Findings(EXAMPLES);
    let after: Buffer | null = resumed && saved.cursor.after !== null ? Buffer.from(saved.cursor.after, 'hex') : null;
    for (;;) {
      if (budget.spent()) {
        return { plan: null, checkpoint: { found: names, columns, problems, cursor: { column: index, after: after && after.toString('hex'), objects } } };
      }
      const rows: ExternalRow[] = await referencedRows(conn, schema, column, after, CHECK_PAGE);
      if (rows.length === 0) break;
      const concurrency = options.concurrency ?? 8;
      const page = rows.map((row) => objectOf(options, spec, column, row));
      const infos = await statObjects(store, page.map(({ key }) => key), concurrency);
      const checked = await forEachWithin(page, budget, concurrency, async (object) => {
        const problem = await checkObject(options, store, column, object, infos.get(object.key) ?? null);
        if (problem !== null) objects.push(problem);
      });
      // the budget ran out while the page was read: the next turn hands back
      if (checked === 0) continue;
      after = rows[checked - 1].hash;
      plan.objects += checked;
      plan.bytes += rows.slice(0, checked).reduce((sum, row) => sum + Number(row.size), 0);
      call.progress?.report({ kind: 'objects-checked', table: column.table, column: column.column, objects: checked });
      if (checked === rows.length && rows.length < CHECK_PAGE) break;
    }
    problems.push(...objects.examples);
    if (objects.count > objects.examples.length) {
      problems.push(`${column.table}.${column.column}: ${objects.count - objects.examples.length} more object(s) missing, of the wrong size or damaged (the first ${objects.examples.length} above)`);
    }
  }
  const refused = problems.length > 0;
  return { plan: { schema, status: refused ? 'refused' : columns.length ? 'ready' : 'nothing-to-do', columns, migrated, problems }, checkpoint: null };
}

/** The database side of one column's plan: its counts, indexes, comment length, store and dangling values. */
async function planColumn(conn: Connection, options: ExternalStorageOptions, column: FoundColumn, tables: Set<string>, problems: string[]): Promise<ExternalColumnPlan> {
  const { schema } = options;
  const plan: ExternalColumnPlan = { ...column, targetStore: targetStoreOf(options, column.store), rows: 0, pointers: 0, objects: 0, bytes: 0 };
  const [counts] = await select<{ rows: number; pointers: number }>(
    conn,
    `SELECT COUNT(*) AS \`rows\`, COUNT(${quoteId(column.column)}) AS pointers FROM ${tableRef(schema, column.table)}`,
  );
  plan.rows = Number(counts.rows);
  plan.pointers = Number(counts.pointers);
  problems.push(...(await indexProblems(conn, schema, column)));
  const marker = codecComment(column.kind, column.comment, plan.targetStore);
  if ([...marker].length > 1024) {
    problems.push(`${column.table}.${column.column}: the 2.x comment would be ${[...marker].length} characters, over MySQL's 1024; shorten the column comment and rerun`);
  }
  if (!options.stores[column.store]) {
    problems.push(`${column.table}.${column.column} uses store "${column.store}", which is not in the config; add it (the 0.14 store spec) and rerun`);
    return plan;
  }
  if (!tables.has(externalTableName(column.store))) {
    problems.push(`${column.table}.${column.column} uses store "${column.store}" but ${externalTableName(column.store)} does not exist; the schema is not a 0.14 schema`);
    return plan;
  }
  const [{ dangling }] = await select<{ dangling: number }>(
    conn,
    `SELECT COUNT(*) AS dangling FROM ${tableRef(schema, column.table)} t
      WHERE t.${quoteId(column.column)} IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${tableRef(schema, externalTableName(column.store))} e WHERE e.hash = t.${quoteId(column.column)})`,
  );
  if (Number(dangling) > 0) problems.push(`${column.table}.${column.column} has ${dangling} value(s) with no row in ${externalTableName(column.store)}; restore the rows or clear the values`);
  return plan;
}

/** One `~external_<store>` row's object: the row, where its object is now (and what it hashes to), its store key. */
interface RowObject {
  row: ExternalRow;
  source: ReturnType<typeof sourceOf>;
  key: string;
}

function objectOf(options: ExternalStorageOptions, spec: StoreSpec, column: FoundColumn, row: ExternalRow): RowObject {
  const source = sourceOf(options, column.kind, row);
  return { row, source, key: storeObjectKey(spec.protocol, spec.location, source.relative) };
}

/** What is wrong with one row's object, given its size (statObjects; null: missing). */
async function checkObject(options: ExternalStorageOptions, store: ObjectStore, column: FoundColumn, { row, source, key }: RowObject, info: ObjectInfo | null): Promise<string | null> {
  const where = `${column.table}.${column.column} (${externalTableName(column.store)} ${row.hash.toString('hex')})`;
  if (column.kind === 'attach' && !row.attachment_name) return `${where} is an attachment without attachment_name; the 0.14 row is damaged`;
  if (column.kind === 'filepath' && !row.filepath) return `${where} is a filepath without filepath; the 0.14 row is damaged`;
  if (!info) return `${where}: object ${key} is missing from store "${column.store}" (${store.description}); restore it and rerun`;
  if (info.size !== source.size) return `${where}: object ${key} has ${info.size} bytes but ${externalTableName(column.store)} records ${source.size}; restore the original and rerun`;
  if (options.verifyObjects && column.kind === 'blob' && source.md5) {
    const digest = await store.digest(key);
    if (!digest.md5.equals(source.md5)) return `${where}: object ${key} does not hash to its recorded md5 ${source.md5.toString('hex')}; it is corrupt or was replaced`;
  }
  return null;
}

/** JSON cannot be indexed: an index over the column (other than the single-column one serving its FK) must go first. */
async function indexProblems(conn: Connection, schema: string, column: FoundColumn): Promise<string[]> {
  const rows = await select<{ name: string; non_unique: number; column_name: string }>(
    conn,
    `SELECT INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS column_name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, column.table],
  );
  const byName = new Map<string, { unique: boolean; columns: string[] }>();
  for (const row of rows) {
    const index = byName.get(row.name) ?? { unique: Number(row.non_unique) === 0, columns: [] };
    index.columns.push(row.column_name);
    byName.set(row.name, index);
  }
  return [...byName.entries()]
    .filter(([, index]) => index.columns.includes(column.column) && (index.unique || index.columns.length > 1))
    .map(([name]) => `${column.table}.${column.column} is part of index ${name}; a JSON column cannot be indexed, drop the index and rerun`);
}

// ----- journal ----------------------------------------------------------------------------------------------

interface JournalColumn {
  column_id: number;
  table_name: string;
  column_name: string;
  kind: CodecKind;
  store: string;
  temp_column: string;
  state: 'pending' | 'swapped';
  rows_filled: number;
}

function journalTables(schema: string) {
  return { run: tableRef(schema, RUN_TABLE_014), columns: tableRef(schema, COLUMN_TABLE_014), pointers: tableRef(schema, POINTER_TABLE_014) };
}

/** What the pointers depend on besides the schema: a run must be finished with the settings it started with. */
function runSettings(options: ExternalStorageOptions): string {
  const storeMap = Object.entries(options.storeMap ?? {})
    .filter(([from, to]) => from !== to)
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify({ copyFiles: options.copyFiles ?? false, storeMap: Object.fromEntries(storeMap) });
}

/**
 * Creates the journal tables when missing and records the run's settings; pointers computed with other settings are
 * cleared (the run before finished) or refused (it did not).
 */
export async function openJournal(conn: Connection, options: ExternalStorageOptions): Promise<void> {
  const { schema } = options;
  const t = journalTables(schema);
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.run} (
      id tinyint unsigned NOT NULL,
      settings text NOT NULL,
      started_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.14->2.0 run'`,
  );
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.columns} (
      column_id int unsigned NOT NULL,
      table_name varchar(64) NOT NULL,
      column_name varchar(64) NOT NULL,
      kind varchar(16) NOT NULL,
      store varchar(64) NOT NULL,
      temp_column varchar(64) NOT NULL,
      state varchar(16) NOT NULL DEFAULT 'pending',
      rows_filled bigint unsigned NOT NULL DEFAULT 0,
      PRIMARY KEY (column_id),
      UNIQUE KEY table_column (table_name, column_name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.14->2.0 external columns'`,
  );
  // One 2.x pointer per (0.14 store, kind, ~external_<store> row): what every referencing row gets.
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.pointers} (
      store varchar(64) NOT NULL,
      kind varchar(16) NOT NULL,
      hash binary(16) NOT NULL,
      pointer longtext NOT NULL,
      PRIMARY KEY (store, kind, hash)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.14->2.0 pointers'`,
  );
  const settings = runSettings(options);
  // kept when there (two callers at once, as a copy's tables side by side, may both find none)
  await execute(conn, `INSERT INTO ${t.run} (id, settings) VALUES (1, ?) ON DUPLICATE KEY UPDATE id = id`, [settings]);
  const [run] = await select<{ settings: string }>(conn, `SELECT settings FROM ${t.run} WHERE id = 1`);
  if (run.settings === settings) return;
  const [{ pending }] = await select<{ pending: number }>(conn, `SELECT COUNT(*) AS pending FROM ${t.columns} WHERE state <> 'swapped'`);
  if (Number(pending) > 0) {
    throw new MigrationRefusedError(
      `schema ${schema} has an unfinished migrate_external_storage run started with ${run.settings}; this run asks for ${settings}. Rerun with the original --copy-files/--store-map to finish it.`,
    );
  }
  // The previous run finished: its pointers were computed with other settings and must not be reused.
  await execute(conn, `DELETE FROM ${t.pointers}`);
  await execute(conn, `UPDATE ${t.run} SET settings = ? WHERE id = 1`, [settings]);
}

/** Records newly found columns (a column keeps its id, and so its temporary column name, across runs). */
async function journalColumns(conn: Connection, schema: string, found: FoundColumn[]): Promise<JournalColumn[]> {
  const t = journalTables(schema);
  let known = await select<JournalColumn>(conn, `SELECT * FROM ${t.columns} ORDER BY column_id`);
  let next = known.reduce((max, column) => Math.max(max, Number(column.column_id)), 0) + 1;
  for (const column of found) {
    if (known.some((k) => k.table_name === column.table && k.column_name === column.column)) continue;
    await execute(conn, `INSERT INTO ${t.columns} (column_id, table_name, column_name, kind, store, temp_column) VALUES (?, ?, ?, ?, ?, ?)`, [
      next,
      column.table,
      column.column,
      column.kind,
      column.store,
      `${TEMP_COLUMN_PREFIX_014}${next}`,
    ]);
    next++;
  }
  known = await select<JournalColumn>(conn, `SELECT * FROM ${t.columns} ORDER BY column_id`);
  return known;
}

// ----- apply ------------------------------------------------------------------------------------------------

/** Where one call of {@link migrateExternalColumn} stands; `done` once the column is swapped and checked. */
export interface ExternalColumnStep {
  /** The column's id in the journal. */
  column: number;
  done: boolean;
  /** Rows filled by this call. */
  rows: number;
  /** True when this call swapped the column in (false when an earlier one had). */
  swapped: boolean;
  pointers: number;
  written: number;
  copied: number;
  /** Where this call stopped within the column (null: done, or stopped before it began): the next call's `resume`. */
  resume: ColumnResume | null;
}

/**
 * Where a column's conversion stopped within a call: in its pointers (`after` the last `~external_<store>` hash
 * done, hex), its fill or its check that no row lacks JSON (`after` the last primary key done, encodeKey); before the
 * swap, or after it (`late-…`: the rows a 0.14 client wrote meanwhile, read from the kept 0.14 column).
 */
export interface ColumnResume {
  stage: ColumnStage;
  after: string;
}

export const COLUMN_STAGES = ['pointers', 'fill', 'check', 'late-pointers', 'late-fill', 'late-check'] as const;
export type ColumnStage = (typeof COLUMN_STAGES)[number];

export interface ExternalStorageIo {
  openStore: OpenStore;
  openWriter: OpenWriter;
  progress?: ProgressSink;
}

export type ExternalPrepareStep =
  | { plan: ExternalStoragePlan; columns: number[]; tableColumns: number[][]; checkpoint: null }
  | { plan: null; columns: null; tableColumns: null; checkpoint: ExternalPlanCheckpoint };

/**
 * Plans again (in calls, as planExternalStorageStep; refusing, changing nothing, when the plan finds problems), then
 * opens the journal and records every column to convert. Returns the journal ids of the columns not yet swapped, for
 * {@link migrateExternalColumn}, also grouped by table (for {@link migrateTableColumns}).
 */
export async function prepareExternalStorage(conn: Connection, options: ExternalStorageOptions, openStore: OpenStore, call: ExternalPlanCall = {}): Promise<ExternalPrepareStep> {
  const { schema } = options;
  const step = await planExternalStorageStep(conn, options, openStore, call);
  if (!step.plan) return { ...step, columns: null, tableColumns: null };
  const { plan } = step;
  if (plan.status === 'refused') throw new MigrationRefusedError(`migrate_external_storage of ${schema} refused; nothing was changed:`, plan.problems);
  if (plan.columns.length === 0 && !(await hasJournal(conn, schema))) return { plan, columns: [], tableColumns: [], checkpoint: null };
  await openJournal(conn, options);
  const { found } = await findColumns(conn, schema);
  const pending = (await journalColumns(conn, schema, found)).filter((entry) => entry.state !== 'swapped');
  const byTable = new Map<string, number[]>();
  for (const entry of pending) byTable.set(entry.table_name, [...(byTable.get(entry.table_name) ?? []), Number(entry.column_id)]);
  return { plan, columns: pending.map((entry) => Number(entry.column_id)), tableColumns: [...byTable.values()], checkpoint: null };
}

/** Where a table's conversion stopped: the column, and where within it. */
export interface TableColumnsCheckpoint extends ColumnResume {
  column: number;
}

/**
 * A table's columns in turn (migrateExternalColumn on each until it is done), for `budgetMs`: the tables go side by
 * side, a table's own columns one after the other. The progress returned is the current column's; the checkpoint
 * (its stage and where within it) is the next call's.
 */
export async function migrateTableColumns(
  conn: Connection,
  options: ExternalStorageOptions,
  columnIds: readonly number[],
  io: ExternalStorageIo,
  budgetMs: number,
  checkpoint: TableColumnsCheckpoint | null = null,
): Promise<ExternalColumnStep & { checkpoint: TableColumnsCheckpoint | null }> {
  const step = await columnsInTurn(columnIds, budgetMs, (columnId, left) =>
    migrateExternalColumn(conn, options, columnId, io, Date.now() + left, checkpoint?.column === columnId ? { stage: checkpoint.stage, after: checkpoint.after } : null),
  );
  return { ...step, checkpoint: step.resume && { column: step.column, ...step.resume } };
}

/** Whether migrate_external_storage has started on the schema (its journal exists). */
export async function hasJournal(conn: Connection, schema: string): Promise<boolean> {
  return (await select(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, COLUMN_TABLE_014])).length > 0;
}

/**
 * Advances one journal column: pointers, fill, swap, then the rows a 0.14 client wrote meanwhile. With a deadline
 * (ms since the epoch) it hands back once the deadline passes, after at least one batch, so a Lambda can go on in
 * its next invocation; every step is idempotent, so any call may also be a rerun after a crash. `resume` (the step's
 * own, from the call before in this run) goes on where that call stopped: what comes before it is done (rows a 0.14
 * client writes meanwhile are found by the check stage, which then refuses). Every stage, the rows written between the
 * check and the swap included (`late-…`), works in chunks to the deadline: none reads a whole table in one call.
 */
export async function migrateExternalColumn(
  conn: Connection,
  options: ExternalStorageOptions,
  columnId: number,
  io: ExternalStorageIo,
  deadline = Number.POSITIVE_INFINITY,
  resume: ColumnResume | null = null,
): Promise<ExternalColumnStep> {
  const { schema } = options;
  const progress = io.progress ?? silentProgress;
  const step: ExternalColumnStep = { column: columnId, done: false, rows: 0, swapped: false, pointers: 0, written: 0, copied: 0, resume: null };
  const [entry] = (await hasJournal(conn, schema))
    ? await select<JournalColumn>(conn, `SELECT * FROM ${journalTables(schema).columns} WHERE column_id = ?`, [columnId])
    : [];
  if (!entry) throw new MigrationRefusedError(`column ${columnId} is not in the migrate_external_storage journal of ${schema}; run its prepare step first`);
  if (entry.state === 'swapped') return { ...step, done: true };
  const kept = `${KEPT_COLUMN_PREFIX_014}${entry.column_id}`;
  const { found } = await findColumns(conn, schema);
  const column = found.find((f) => f.table === entry.table_name && f.column === entry.column_name);
  // A column's stages in turn, from the resumed one: its pointers, its fill, the check that no row lacks its JSON;
  // each hands back at the deadline (after a batch or chunk of its own), so no pass over the table is unbounded.
  const runStages = async (stages: readonly ColumnStage[], source: FoundColumn, target: string): Promise<ColumnResume | null> => {
    const from = resume ? Math.max(0, stages.indexOf(resume.stage)) : 0;
    // where the resumed stage stopped; a checkpoint of the other stages (the swap came in between) starts these afresh
    const after = (stage: number) => (resume?.stage === stages[stage] ? resume.after : null);
    if (from === 0) {
      const hash = after(0);
      const built = await buildPointers(conn, options, source, io, deadline, hash === null ? null : Buffer.from(hash, 'hex'));
      addStepCounts(step, built);
      if (!built.complete) return { stage: stages[0], after: built.last.toString('hex') };
    }
    if (from <= 1) {
      const key = after(1);
      const fill = await fillColumn(conn, options, { ...source, target }, progress, deadline, key === null ? null : decodeKey(key));
      step.rows += fill.filled;
      await execute(conn, `UPDATE ${journalTables(schema).columns} SET rows_filled = rows_filled + ? WHERE column_id = ?`, [fill.filled, entry.column_id]);
      if (!fill.complete) return { stage: stages[1], after: encodeKey(fill.last) };
    }
    const key = after(2);
    const check = await checkFilled(conn, options, { ...source, target }, deadline, key === null ? null : decodeKey(key));
    return check.complete ? null : { stage: stages[2], after: encodeKey(check.last) };
  };
  if (column) {
    const stopped = await runStages(['pointers', 'fill', 'check'], column, entry.temp_column);
    if (stopped) return { ...step, resume: stopped };
    await options.hooks?.beforeSwap?.(column.table, column.column);
    await swapColumn(conn, options, column, entry, kept);
    step.swapped = true;
    progress.report({ kind: 'column-swapped', table: column.table, column: column.column });
    await options.hooks?.afterSwap?.(column.table, column.column);
  } else {
    // Swapped by an earlier call that stopped before finishing (or before recording it).
    const live = (await schemaColumns(conn, schema)).find((c) => c.table === entry.table_name && c.column === entry.column_name);
    if (!live || !/^:<(blob|attach|filepath)@[^>]*>:/.test(live.comment)) {
      throw new MigrationRefusedError(
        `${entry.table_name}.${entry.column_name} is in the migration journal but is no longer a 0.14 external column nor a 2.x one; inspect the table before rerunning`,
      );
    }
  }
  // Rows a 0.14 client wrote between the last fill and the swap still hold their uuid in the kept column.
  const keptLive = (await schemaColumns(conn, schema)).some((c) => c.table === entry.table_name && c.column === kept);
  if (keptLive) {
    const source = { table: entry.table_name, column: kept, kind: entry.kind, store: entry.store, nullable: true, comment: '', constraint: null };
    const stopped = await runStages(['late-pointers', 'late-fill', 'late-check'], source, entry.column_name);
    if (stopped) return { ...step, resume: stopped };
    await execute(conn, `ALTER TABLE ${tableRef(schema, entry.table_name)} DROP COLUMN ${quoteId(kept)}`);
  }
  await execute(conn, `UPDATE ${journalTables(schema).columns} SET state = 'swapped' WHERE column_id = ?`, [entry.column_id]);
  return { ...step, done: true };
}

/**
 * Converts every external column of the schema in place, in one go (the state machine runs the same steps one
 * invocation at a time). Refuses, changing nothing, when the plan finds problems. Idempotent.
 */
export async function migrateExternalStorage(
  conn: Connection,
  options: ExternalStorageOptions,
  openStore: OpenStore,
  openWriter: OpenWriter,
  progress: ProgressSink = silentProgress,
): Promise<ExternalStorageResult> {
  const { schema } = options;
  const result: ExternalStorageResult = { schema, status: 'nothing-to-do', columns: [], pointers: 0, objectsWritten: 0, objectsCopied: 0 };
  // without a budget: one call to the end
  const columns = (await prepareExternalStorage(conn, options, openStore)).columns!;
  const journal = columns.length ? await select<JournalColumn>(conn, `SELECT * FROM ${journalTables(schema).columns} WHERE column_id IN (?) ORDER BY column_id`, [columns]) : [];
  for (const entry of journal) {
    const step = await migrateExternalColumn(conn, options, Number(entry.column_id), { openStore, openWriter, progress });
    addCounts(result, step);
    result.columns.push({
      table: entry.table_name,
      column: entry.column_name,
      kind: entry.kind,
      store: entry.store,
      rowsFilled: step.rows,
      state: step.swapped ? 'swapped' : 'already-swapped',
    });
  }
  result.status = result.columns.some((c) => c.state === 'swapped') ? 'migrated' : 'nothing-to-do';
  return result;
}

function addStepCounts(step: ExternalColumnStep, counts: { pointers: number; written: number; copied: number }): void {
  step.pointers += counts.pointers;
  step.written += counts.written;
  step.copied += counts.copied;
}

function addCounts(result: ExternalStorageResult, counts: { pointers: number; written: number; copied: number }): void {
  result.pointers += counts.pointers;
  result.objectsWritten += counts.written;
  result.objectsCopied += counts.copied;
}

/**
 * Objects a pointer build works on at once (an attachment's HEAD, GET and PUT; a copied blob's HEAD and COPY): they
 * wait on the store, not on this process (s3rver here: 500 attachments 4.1 s at 8 at once, 2.1 s at 32).
 */
export const POINTER_OBJECTS_IN_FLIGHT = 32;
/** Attachments up to this size are read once to be checked and written, held in memory meanwhile (128 MiB at most). */
export const KEPT_ATTACHMENT_BYTES = 4 * 1024 ** 2;

/** What one call of {@link buildPointers} did; `last` (the last `~external_<store>` hash done) when not `complete`. */
export type PointerBuild = { pointers: number; written: number; copied: number } & ({ complete: true; last: null } | { complete: false; last: Buffer });

/**
 * The 2.x pointers of one 0.14 external column, computed into `~djmigrate_014_pointer` without touching the column:
 * what copy_table_data joins against when it copies into a `_v2` schema. With a deadline it hands back after the
 * first batch that ends past it (not `complete`); the next call goes on after `last`.
 */
export async function ensurePointers(
  conn: Connection,
  options: ExternalStorageOptions,
  target: { table: string; column: string },
  io: ExternalStorageIo,
  deadline = Number.POSITIVE_INFINITY,
  resumeAfter: Buffer | null = null,
): Promise<PointerBuild> {
  const { found } = await findColumns(conn, options.schema);
  const column = found.find((c) => c.table === target.table && c.column === target.column);
  if (!column) throw new MigrationRefusedError(`${options.schema}.${target.table}.${target.column} is not a 0.14 blob@/attach@/filepath@ column`);
  await openJournal(conn, options);
  return buildPointers(conn, options, column, io, deadline, resumeAfter);
}

/** Computes (and for attachments and copyFiles, writes the objects of) the pointers a column still lacks. */
async function buildPointers(
  conn: Connection,
  options: ExternalStorageOptions,
  column: FoundColumn,
  io: ExternalStorageIo,
  deadline = Number.POSITIVE_INFINITY,
  resumeAfter: Buffer | null = null,
): Promise<PointerBuild> {
  const { schema } = options;
  const spec = options.stores[column.store];
  const store = io.openStore(column.store);
  const t = journalTables(schema);
  const limit = pLimit(options.concurrency ?? POINTER_OBJECTS_IN_FLIGHT);
  const counts = { pointers: 0, written: 0, copied: 0 };
  // hashes up to `after` have their pointers (a batch is recorded before the next is read)
  let after = resumeAfter;
  for (;;) {
    if (after && counts.pointers > 0 && Date.now() >= deadline) return { ...counts, complete: false, last: after };
    const rows: ExternalRow[] = await select<ExternalRow>(
      conn,
      `SELECT e.hash, e.size, e.attachment_name, e.filepath, e.contents_hash, CAST(UNIX_TIMESTAMP(e.\`timestamp\`) AS CHAR) AS epoch
         FROM ${tableRef(schema, externalTableName(column.store))} e
        WHERE ${indexProbe(tableRef(schema, column.table), quoteId(column.column), 'e.hash')}
          AND ${keyProbe(`${t.pointers} p`, 'p.store = ? AND p.kind = ? AND p.hash = e.hash', true)}${after ? ' AND e.hash > ?' : ''}
        ORDER BY e.hash LIMIT ${BATCH}`,
      after ? [column.store, column.kind, after] : [column.store, column.kind],
    );
    if (rows.length === 0) return { ...counts, complete: true, last: null };
    after = rows[rows.length - 1].hash;
    const made = await Promise.all(
      rows.map((row) =>
        limit(async () => {
          const made = await pointerFor(options, spec, store, io.openWriter, column, row);
          if (made.written) counts.written++;
          if (made.copied) counts.copied++;
          return [column.store, column.kind, row.hash, made.json];
        }),
      ),
    );
    await execute(conn, `INSERT INTO ${t.pointers} (store, kind, hash, pointer) VALUES ? ON DUPLICATE KEY UPDATE pointer = VALUES(pointer)`, [made]);
    counts.pointers += made.length;
    io.progress?.report({ kind: 'pointers-built', table: column.table, column: column.column, pointers: made.length });
  }
}

async function pointerFor(
  options: ExternalStorageOptions,
  spec: StoreSpec,
  store: ObjectStore,
  openWriter: OpenWriter,
  column: FoundColumn,
  row: ExternalRow,
): Promise<{ json: string; written: boolean; copied: boolean }> {
  const { schema } = options;
  const targetStore = targetStoreOf(options, column.store);
  const source = sourceOf(options, column.kind, row);
  const sourceKey = storeObjectKey(spec.protocol, spec.location, source.relative);
  if (column.kind === 'filepath') {
    const timestamp = pythonUtcIso(new Date(Number(row.epoch) * 1000));
    return { json: pythonJson({ ...filepathPointer({ path: source.relative, store: targetStore, size: source.size, is_dir: false, timestamp }) }), written: false, copied: false };
  }
  if (column.kind === 'blob') {
    const hash = hashOfDigest(source.md5!);
    let path = source.relative;
    let copied = false;
    if (options.copyFiles) {
      path = hashPath(schema, hash);
      const targetKey = storeObjectKey(spec.protocol, spec.location, path);
      const existing = await store.stat(targetKey);
      if (!existing) {
        await store.copy(sourceKey, targetKey, source.size);
        copied = true;
      } else if (existing.size !== source.size) {
        throw new MigrationRefusedError(`store "${column.store}" already has ${targetKey} with ${existing.size} bytes, not ${source.size}: something else was written at that 2.x path; inspect it before rerunning`);
      }
    }
    return { json: pythonJson({ ...hashPointer({ hash, path, schema, store: targetStore, size: source.size }) }), written: false, copied };
  }
  // attach: 2.x stores `filename\0contents`; its MD5 is the 0.12 uuid (md5 of the same bytes).
  const prefix = Buffer.from(`${row.attachment_name}\0`, 'utf8');
  const size = prefix.length + source.size;
  const hash = hashOfDigest(row.hash);
  const path = hashPath(schema, hash);
  const targetKey = storeObjectKey(spec.protocol, spec.location, path);
  const existing = await store.stat(targetKey);
  let written = false;
  if (!existing) {
    // Check the bytes first so a damaged attachment is never written under a name that claims its hash. A small one
    // is kept from that read and written from memory; a bigger one is read again to be written.
    const digest = createHash('md5').update(prefix);
    let length = 0;
    let kept: Buffer[] | null = source.size <= KEPT_ATTACHMENT_BYTES ? [] : null;
    for await (const chunk of await readObject(store, column.store, sourceKey)) {
      digest.update(chunk as Buffer);
      length += (chunk as Buffer).length;
      // an object grown past what its row records is refused below, never held whole
      if (kept && length <= KEPT_ATTACHMENT_BYTES) kept.push(chunk as Buffer);
      else kept = null;
    }
    if (!digest.digest().equals(row.hash) || length !== source.size) {
      throw new MigrationRefusedError(
        `attachment ${sourceKey} in store "${column.store}" does not match ${externalTableName(column.store)} (hash ${row.hash.toString('hex')}, ${source.size} bytes); it is corrupt or was replaced, restore it and rerun`,
      );
    }
    // a kept one goes from memory, which the S3 client can send again on SlowDown; a big one is streamed
    const body = kept ? Buffer.concat([prefix, ...kept]) : prefixed(prefix, await readObject(store, column.store, sourceKey));
    await openWriter(column.store).put(targetKey, body, size);
    written = true;
  } else if (existing.size !== size) {
    throw new MigrationRefusedError(`store "${column.store}" already has ${targetKey} with ${existing.size} bytes, not ${size}: something else was written at that 2.x path; inspect it before rerunning`);
  }
  return { json: pythonJson({ ...hashPointer({ hash, path, schema, store: targetStore, size }) }), written, copied: false };
}

/** `prefix`, then the stream's bytes. */
function prefixed(prefix: Buffer, contents: Readable): Readable {
  return Readable.from(
    (async function* () {
      yield prefix;
      yield* contents;
    })(),
  );
}

async function readObject(store: ObjectStore, storeName: string, key: string): Promise<Readable> {
  try {
    return await store.read(key);
  } catch (error) {
    if (error instanceof ObjectMissingError) throw new MigrationRefusedError(`object ${key} is missing from store "${storeName}" (${store.description}); restore it and rerun`);
    throw error;
  }
}

/**
 * Adds the temporary JSON column when missing and fills it from the pointer table in primary-key chunks (so row
 * locks are held briefly on a live table); only still-empty rows are written, so a rerun just finishes the job.
 * Hands back early (complete: false) once `deadline` has passed.
 */
async function fillColumn(
  conn: Connection,
  options: ExternalStorageOptions,
  column: FoundColumn & { target: string },
  progress: ProgressSink,
  deadline = Number.POSITIVE_INFINITY,
  resumeAfter: KeyValue[] | null = null,
): Promise<{ filled: number } & ({ complete: true; last: null } | { complete: false; last: KeyValue[] })> {
  const { schema } = options;
  const table = tableRef(schema, column.table);
  const live = await schemaColumns(conn, schema);
  if (!live.some((c) => c.table === column.table && c.column === column.target)) {
    await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () => addColumn(conn, table, `${quoteId(column.target)} json NULL DEFAULT NULL AFTER ${quoteId(column.column)}`));
  }
  const primaryKey = await primaryKeyOf(conn, schema, column.table);
  const chunkRows = Math.max(1, options.fillChunkRows ?? 5000);
  let after = resumeAfter;
  let filled = 0;
  for (;;) {
    const chunk = await keyChunk(conn, table, primaryKey, after, primaryKey.length ? chunkRows : null);
    const changed = await execute(
      conn,
      `UPDATE ${table} t JOIN ${journalTables(schema).pointers} p ON p.store = ? AND p.kind = ? AND p.hash = t.${quoteId(column.column)}
          SET t.${quoteId(column.target)} = p.pointer
        WHERE t.${quoteId(column.target)} IS NULL${chunk.where ? ` AND ${chunk.where}` : ''}`,
      [column.store, column.kind, ...chunk.values],
    );
    filled += changed;
    if (changed) progress.report({ kind: 'rows-rewritten', table: column.table, column: column.column, rows: changed });
    if (chunk.last === null) return { filled, complete: true, last: null };
    after = chunk.last;
    if (Date.now() >= deadline) return { filled, complete: false, last: after };
  }
}

/**
 * Refuses when a row holds a 0.14 pointer but no JSON (a 0.14 client wrote it behind the fill), reading the table in
 * primary-key chunks (JSON cannot be indexed: each is a scan of its range) until the end or the deadline.
 */
async function checkFilled(
  conn: Connection,
  options: ExternalStorageOptions,
  column: FoundColumn & { target: string },
  deadline: number,
  resumeAfter: KeyValue[] | null,
): Promise<{ complete: true; last: null } | { complete: false; last: KeyValue[] }> {
  const { schema } = options;
  const table = tableRef(schema, column.table);
  const primaryKey = await primaryKeyOf(conn, schema, column.table);
  const chunkRows = primaryKey.length ? (options.checkChunkRows ?? (await chunkRowsFor(conn, schema, column.table, primaryKey))) : null;
  let after = resumeAfter;
  for (;;) {
    const chunk = await keyChunk(conn, table, primaryKey, after, chunkRows);
    const left = await select<Record<string, unknown>>(
      conn,
      `SELECT HEX(t.${quoteId(column.column)}) AS value FROM ${table} t
        WHERE t.${quoteId(column.column)} IS NOT NULL AND t.${quoteId(column.target)} IS NULL${chunk.where ? ` AND ${chunk.where}` : ''} LIMIT ${EXAMPLES}`,
      chunk.values,
    );
    if (left.length) {
      throw new MigrationRefusedError(
        `${column.table}.${column.column} has pointers without a 2.x pointer (written by a 0.14 client while the migration ran?); the column was not swapped. Stop 0.14 writers and rerun:`,
        left.map((row) => String(row.value)),
      );
    }
    if (chunk.last === null) return { complete: true, last: null };
    after = chunk.last;
    if (Date.now() >= deadline) return { complete: false, last: after };
  }
}

/**
 * One ALTER: drop the FK, move the 0.14 column aside (kept until the rows written meanwhile are converted), rename
 * the JSON column into its place with the 2.x marker. A NOT NULL column with a row still lacking JSON fails the
 * ALTER as a whole (strict mode), changing nothing.
 */
async function swapColumn(conn: Connection, options: ExternalStorageOptions, column: FoundColumn, entry: JournalColumn, kept: string): Promise<void> {
  const live = (await schemaColumns(conn, options.schema)).filter((c) => c.table === column.table);
  const position = live.findIndex((c) => c.column === column.column);
  const previous = live.slice(0, position).reverse().find((c) => !TEMP_COLUMN.test(c.column));
  const comment = codecComment(column.kind, column.comment, targetStoreOf(options, column.store));
  const clauses = [
    ...(column.constraint ? [`DROP FOREIGN KEY ${quoteId(column.constraint)}`] : []),
    `CHANGE COLUMN ${quoteId(column.column)} ${quoteId(kept)} binary(16) NULL DEFAULT NULL COMMENT ${quoteValue('djmigrate: 0.14 pointer, dropped once converted')}`,
    `CHANGE COLUMN ${quoteId(entry.temp_column)} ${quoteId(column.column)} json ${column.nullable ? 'NULL DEFAULT NULL' : 'NOT NULL'} ` +
      `COMMENT ${quoteValue(comment)} ${previous ? `AFTER ${quoteId(previous.column)}` : 'FIRST'}`,
  ];
  await execute(conn, `ALTER TABLE ${tableRef(options.schema, column.table)}\n  ${clauses.join(',\n  ')}`);
}
