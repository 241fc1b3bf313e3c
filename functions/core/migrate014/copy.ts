// DataJoint 0.14 → 2.0, copy strategy (issue 3 item 5; guide Phase 2 option B; spec D.1–D.3, D.5, E.11–E.13).
// `copyTableData` copies one table from the 0.14 schema into a `_v2` schema declared by 2.x (or by
// `createParallelSchema`): columns matched by NAME (never `SELECT *`, E.13), 0.14 `binary(16)` external pointers
// converted on the way into the 2.x JSON the `<blob@S>` / `<attach@S>` / `<filepath@S>` codecs decode, one
// `INSERT … SELECT … LEFT JOIN <pointer map>` per primary-key chunk, each inserting only rows the destination lacks
// (anti-join on the primary key), so a rerun after a crash finishes the job and a second rerun inserts nothing.
// The pointer map is external-storage's `~djmigrate_014_pointer` in the SOURCE schema ((store, kind, uuid) → JSON,
// computed once per `~external_<S>` row; the same pointers an in-place migration of the source would write, so
// `schema` and paths name the source schema, which is the name the `_v2` schema takes at cutover).
// `copySchemaData` copies every user table in foreign-key order; `createParallelSchema` generates the `_v2` DDL.
// The state machine copies item by item (`copyItemsOf`): every table's pointers first, then the rows by foreign-key
// level, a big table in parts (`copyPartsOf`: ranges of its first key column) copied side by side.
import type { Connection } from 'mysql2/promise';
import type { StoreSpec } from '../config/store-spec.js';
import { codecComment, lineageTableDdl, type CodecKind } from '../datajoint/v2.js';
import { EXTERNAL_TABLE_PREFIX, parseExternalComment } from '../datajoint/v012.js';
import { decodeKey, encodeKey, estimatedRows, estimatedTableRows, keyChunk, primaryKeyOf, type KeyChunk, type KeyValue, type RowCondition } from '../db/keyset.js';
import { execute, quoteId, quoteValue, schemaDefaults, select, serverFlavor, tableRef, type ServerFlavor } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
import type { OpenStore } from '../stores/object-store.js';
import { ensurePointers, openJournal, POINTER_TABLE_014, type OpenWriter } from './external-storage.js';
import { columnDefinition, extraClauses, markerFor, MAX_COLUMN_COMMENT, readColumns, type ColumnInfo } from './update-comments.js';

/** Source-only columns that are djmigrate's own (temporary columns of an in-place run) and are never copied. */
const OWN_COLUMN = /^_djmigrate_/;
const CODEC_MARKER = /^:<(blob|attach|filepath)@([^>]*)>:/;
const EXAMPLES = 10;

/**
 * Where a table's copy stopped within a call: in an external column's pointers (`after` the last `~external_<store>`
 * hash done, hex), or in its rows (`after` the last primary key copied, encodeKey).
 */
export type CopyTableCheckpoint = { stage: 'pointers'; column: string; after: string } | { stage: 'rows'; after: string };

export interface CopyTableOptions {
  source: string;
  dest: string;
  table: string;
  /** Rows per INSERT … SELECT (primary-key chunks of the source; default 5000). */
  chunkRows?: number;
  /** 0.14 store name → where its objects are (no credentials). */
  stores: Record<string, StoreSpec>;
  /** 0.14 store name → the 2.x store name the destination's codec markers use (default unchanged). */
  storeMap?: Record<string, string>;
  openStore: OpenStore;
  openWriter?: OpenWriter;
  /** Pointers built (`pointers-built`), a batch at a time. */
  progress?: ProgressSink;
  /**
   * Only the table's pointers (done once every external column has them), or only its rows (their pointers were
   * built before: a row lacking one refuses); default both, pointers first.
   */
  only?: 'pointers' | 'rows';
  /** Only the rows of this range of the key's first column (one of copyPartsOf's); default every row. */
  part?: CopyPart | null;
  /** Hand back (done: false) after the first pointer batch or chunk that ends past this time (ms since the epoch). */
  deadline?: number;
  /**
   * Go on where a call of this run stopped (its `checkpoint`): what came before it is done and not looked at again
   * (a new run starts from the first pointer and the table's first row).
   */
  checkpoint?: CopyTableCheckpoint | null;
  /** Test hook: called after each committed chunk (a throw simulates a crash there). */
  hooks?: { afterChunk?(table: string, rowsCopied: number): Promise<void> };
}

/**
 * A range of a table's rows copied on its own, beside the others: `column` (the primary key's first, an integer) from
 * `from` (inclusive) until `until` (exclusive), decimal integers; null: unbounded on that side.
 */
export interface CopyPart {
  column: string;
  from: string | null;
  until: string | null;
}

export interface CopyTableResult {
  table: string;
  /** Rows inserted by this call (not COUNT(*) of the destination). */
  rowsCopied: number;
  /** False when the call stopped at its deadline with pointers or rows left. */
  done: boolean;
  /** Where the call stopped when not done: the next call's `checkpoint`. */
  checkpoint: CopyTableCheckpoint | null;
  /** Columns converted from 0.14 uuids to 2.x JSON. */
  converted: string[];
  /** Destination columns left to their defaults. */
  defaulted: string[];
  /** djmigrate's own source columns left out. */
  skipped: string[];
}

export interface CopySchemaOptions extends Omit<CopyTableOptions, 'table' | 'deadline' | 'checkpoint' | 'only' | 'part'> {
  /** Only these tables (still in foreign-key order); default every user table of the source. */
  tables?: string[];
}

export interface CopySchemaResult {
  source: string;
  dest: string;
  tables: CopyTableResult[];
  rowsCopied: number;
}

// ----- shared reads ------------------------------------------------------------------------------------------

async function requireSchema(conn: Connection, schema: string, role: string): Promise<{ charset: string; collation: string }> {
  const row = await schemaDefaults(conn, schema);
  if (!row) throw new MigrationRefusedError(`${role} schema ${schema} does not exist on this server; check the name and the database host in the config`);
  return row;
}

interface ForeignKeyInfo {
  constraint: string;
  table: string;
  columns: string[];
  referencedSchema: string;
  referencedTable: string;
  referencedColumns: string[];
  onUpdate: string;
  onDelete: string;
}

async function foreignKeysOf(conn: Connection, schema: string): Promise<ForeignKeyInfo[]> {
  const usage = await select<Record<string, unknown>>(
    conn,
    `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, COLUMN_NAME AS column_name,
            REFERENCED_TABLE_SCHEMA AS referenced_table_schema, REFERENCED_TABLE_NAME AS referenced_table_name,
            REFERENCED_COLUMN_NAME AS referenced_column_name
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
    [schema],
  );
  // Queried separately (no information_schema join: MariaDB needs constant schema/table on every joined table).
  const rules = await select<Record<string, unknown>>(
    conn,
    `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, UPDATE_RULE AS update_rule, DELETE_RULE AS delete_rule
       FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?`,
    [schema],
  );
  const ruleOf = new Map(rules.map((r) => [`${String(r.table_name)}\0${String(r.constraint_name)}`, r]));
  const byName = new Map<string, ForeignKeyInfo>();
  for (const row of usage) {
    const id = `${String(row.table_name)}\0${String(row.constraint_name)}`;
    let fk = byName.get(id);
    if (!fk) {
      const rule = ruleOf.get(id);
      fk = {
        constraint: String(row.constraint_name),
        table: String(row.table_name),
        columns: [],
        referencedSchema: String(row.referenced_table_schema),
        referencedTable: String(row.referenced_table_name),
        referencedColumns: [],
        onUpdate: String(rule?.update_rule ?? 'RESTRICT'),
        onDelete: String(rule?.delete_rule ?? 'RESTRICT'),
      };
      byName.set(id, fk);
    }
    fk.columns.push(String(row.column_name));
    fk.referencedColumns.push(String(row.referenced_column_name));
  }
  return [...byName.values()];
}

async function userTables(conn: Connection, schema: string): Promise<string[]> {
  const rows = await select<{ table_name: string }>(
    conn,
    `SELECT TABLE_NAME AS table_name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
    [schema],
  );
  return rows.map((row) => String(row.table_name)).filter((name) => !name.startsWith('~'));
}

type ForeignKeyEdge = { table: string; referencedSchema: string; referencedTable: string };

/** User tables parents first (foreignKeyLevels one after another). */
export function foreignKeyOrder(tables: string[], foreignKeys: ForeignKeyEdge[], schema: string): string[] {
  return foreignKeyLevels(tables, foreignKeys, schema).flat();
}

/** The user tables of `schema` in foreign-key levels (foreignKeyLevels). */
export async function foreignKeyLevelsOf(conn: Connection, schema: string): Promise<string[][]> {
  return foreignKeyLevels(await userTables(conn, schema), await foreignKeysOf(conn, schema), schema);
}

/**
 * User tables in levels: every parent of a table (foreign keys within the schema; `~` tables and self-references
 * ignored) is in an earlier level, so the tables of one level can be copied at once. Refuses cycles.
 */
export function foreignKeyLevels(tables: string[], foreignKeys: ForeignKeyEdge[], schema: string): string[][] {
  const known = new Set(tables);
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const fk of foreignKeys) {
    if (fk.referencedSchema !== schema || !known.has(fk.table) || !known.has(fk.referencedTable) || fk.table === fk.referencedTable) continue;
    parents.get(fk.table)!.add(fk.referencedTable);
  }
  const levels: string[][] = [];
  const done = new Set<string>();
  let remaining = [...tables];
  while (remaining.length) {
    const ready = remaining.filter((t) => [...parents.get(t)!].every((p) => done.has(p)));
    if (ready.length === 0) {
      throw new MigrationRefusedError(`the foreign keys of ${schema} form a cycle; copy these tables by hand (or drop a foreign key) first:`, remaining);
    }
    for (const t of ready) done.add(t);
    levels.push(ready);
    remaining = remaining.filter((t) => !done.has(t));
  }
  return levels;
}

function hasDefault(column: ColumnInfo, flavor: ServerFlavor): boolean {
  if (column.nullable || column.generation || /auto_increment/i.test(column.extra)) return true;
  // MariaDB reports `NULL` (text) for DEFAULT NULL and SQL NULL for no default; MySQL reports SQL NULL for both.
  return column.default !== null && !(flavor === 'mariadb' && column.default === 'NULL' && !column.nullable);
}

// ----- copy_table_data ---------------------------------------------------------------------------------------

interface ColumnCopy {
  name: string;
  /** Set when a 0.14 uuid becomes 2.x JSON. */
  external?: { kind: CodecKind; store: string; alias: string };
}

interface TablePlan {
  columns: ColumnCopy[];
  primaryKey: string[];
  defaulted: string[];
  skipped: string[];
}

/** Read-only: how each column is copied; refuses (naming the columns) when the two tables cannot be matched. */
async function planTableCopy(conn: Connection, options: CopyTableOptions, flavor: ServerFlavor): Promise<TablePlan> {
  const { source, dest, table } = options;
  const sourceColumns = await readColumns(conn, source, flavor, table);
  const destColumns = await readColumns(conn, dest, flavor, table);
  if (sourceColumns.length === 0) throw new MigrationRefusedError(`${source}.${table} does not exist (or is not a user table)`);
  if (destColumns.length === 0) throw new MigrationRefusedError(`${dest}.${table} does not exist; declare it with 2.x (or create_parallel_schema) first`);
  const bySource = new Map(sourceColumns.map((c) => [c.column, c]));
  const byDest = new Map(destColumns.map((c) => [c.column, c]));
  const problems: string[] = [];
  const columns: ColumnCopy[] = [];
  const defaulted: string[] = [];
  const skipped: string[] = [];
  for (const d of destColumns) {
    const s = bySource.get(d.column);
    if (!s) {
      if (hasDefault(d, flavor)) defaulted.push(d.column);
      else problems.push(`${dest}.${table}.${d.column} is not in ${source}.${table} and has no default and is NOT NULL; give it a default or add it to the source`);
      continue;
    }
    if (d.generation) continue; // computed by the server
    const external = s.columnType.toLowerCase() === 'binary(16)' ? parseExternalComment(s.comment) : null;
    const codec = CODEC_MARKER.exec(d.comment);
    if (external && codec) {
      const expected = options.storeMap?.[external.store] ?? external.store;
      if (codec[1] !== external.kind) problems.push(`${table}.${d.column} is ${external.kind}@${external.store} in ${source} but <${codec[1]}@${codec[2]}> in ${dest}`);
      else if (codec[2] !== expected) problems.push(`${table}.${d.column}: ${dest} uses store "${codec[2]}" but store "${external.store}" maps to "${expected}"; pass the store map (old=new) that matches the destination`);
      else columns.push({ name: d.column, external: { kind: external.kind, store: external.store, alias: `p${columns.length}` } });
      continue;
    }
    if (external && d.columnType.toLowerCase() !== 'binary(16)') {
      problems.push(`${table}.${d.column} is a 0.14 ${external.kind}@${external.store} pointer, but ${dest}.${table}.${d.column} is ${d.columnType} without a 2.x codec marker (:<${external.kind}@${external.store}>:)`);
      continue;
    }
    if (!external && codec && CODEC_MARKER.exec(s.comment)?.[0] !== codec[0]) {
      problems.push(`${dest}.${table}.${d.column} is a 2.x <${codec[1]}@${codec[2]}> column but ${source}.${table}.${d.column} is not a 0.14 external column (${s.columnType}, comment ${JSON.stringify(s.comment)})`);
      continue;
    }
    columns.push({ name: d.column });
  }
  for (const s of sourceColumns) {
    if (byDest.has(s.column)) continue;
    if (OWN_COLUMN.test(s.column)) skipped.push(s.column);
    else problems.push(`${source}.${table}.${s.column} has no column in ${dest}.${table}; add it to the destination (or drop it from the source) so no data is left behind`);
  }
  const primaryKey = await primaryKeyOf(conn, source, table);
  const destKey = await primaryKeyOf(conn, dest, table);
  if (primaryKey.length === 0) problems.push(`${source}.${table} has no primary key; rows cannot be matched`);
  else if (JSON.stringify([...primaryKey].sort()) !== JSON.stringify([...destKey].sort())) {
    problems.push(`${table}: the primary key differs (${source}: ${primaryKey.join(', ')}; ${dest}: ${destKey.join(', ') || 'none'})`);
  }
  if (problems.length) throw new MigrationRefusedError(`copy_table_data of ${table} refused; nothing was copied:`, problems);
  return { columns, primaryKey, defaulted, skipped };
}

/** The settings the copy's pointers are computed with (the journal's run settings compare them). */
function pointerSettings(options: Pick<CopyTableOptions, 'source' | 'stores' | 'storeMap'>) {
  return { schema: options.source, stores: options.stores, storeMap: options.storeMap };
}

/**
 * Opens the source's pointer map for this copy's settings before the tables' pointers are built side by side: when
 * the run before used other settings its pointers are cleared here, once, not by the first of two calls at once while
 * the other is building.
 */
export async function openPointerMap(conn: Connection, options: CopySchemaOptions): Promise<void> {
  await openJournal(conn, pointerSettings(options));
}

/**
 * Computes the pointers of the table's external columns, one column after the other from the checkpoint's, until the
 * deadline: null once every column has them, else where the next call goes on. Pointers already in the map were
 * computed with this run's settings (the journal refuses, or clears the map, otherwise).
 */
async function preparePointers(conn: Connection, options: CopyTableOptions, plan: TablePlan, resume: CopyTableCheckpoint | null): Promise<CopyTableCheckpoint | null> {
  const externals = plan.columns.filter((c) => c.external);
  if (externals.length === 0) return null;
  const { openStore, openWriter } = options;
  if (!openWriter) throw new MigrationRefusedError(`${options.table}'s 0.14 external columns (${externals.map((c) => c.name).join(', ')}) need an object writer to convert their pointers; none was given, nothing was copied`);
  const settings = pointerSettings(options);
  const from = resume?.stage === 'pointers' ? externals.findIndex((c) => c.name === resume.column) : -1;
  for (const column of externals.slice(Math.max(0, from))) {
    const resumeAfter = resume?.stage === 'pointers' && resume.column === column.name ? Buffer.from(resume.after, 'hex') : null;
    const built = await ensurePointers(conn, settings, { table: options.table, column: column.name }, { openStore, openWriter, progress: options.progress }, options.deadline, resumeAfter);
    if (!built.complete) return { stage: 'pointers', column: column.name, after: built.last.toString('hex') };
  }
  return null;
}

/**
 * Copies the rows of `table` that `dest` lacks, chunk by chunk on the source's primary key. Refuses before any
 * change when the columns cannot be matched by name. Returns the rows inserted by this call.
 */
export async function copyTableData(conn: Connection, options: CopyTableOptions): Promise<CopyTableResult> {
  await requireSchema(conn, options.source, 'source');
  await requireSchema(conn, options.dest, 'destination');
  const plan = await planTableCopy(conn, options, await serverFlavor(conn));
  const resume = options.checkpoint ?? null;
  if (resume?.stage !== 'rows' && options.only !== 'rows') {
    const pointers = await preparePointers(conn, options, plan, resume);
    if (pointers || options.only === 'pointers') return { ...resultOf(options.table, plan), rowsCopied: 0, done: !pointers, checkpoint: pointers };
  }
  return copyPlanned(conn, options, plan, resume?.stage === 'rows' ? decodeKey(resume.after) : null);
}

function resultOf(table: string, plan: TablePlan): Pick<CopyTableResult, 'table' | 'converted' | 'defaulted' | 'skipped'> {
  return { table, converted: plan.columns.filter((c) => c.external).map((c) => c.name), defaulted: plan.defaulted, skipped: plan.skipped };
}

async function copyPlanned(conn: Connection, options: CopyTableOptions, plan: TablePlan, resumeAfter: KeyValue[] | null = null): Promise<CopyTableResult> {
  const { source, dest, table } = options;
  const sourceRef = tableRef(source, table);
  const destRef = tableRef(dest, table);
  const pointers = tableRef(source, POINTER_TABLE_014);
  const joins: string[] = [];
  const joinValues: string[] = [];
  const conditions: string[] = [];
  const unpointed: { column: string; sql: string }[] = [];
  const selected = plan.columns.map((column) => {
    const ref = `t.${quoteId(column.name)}`;
    if (!column.external) return ref;
    const p = quoteId(column.external.alias);
    joins.push(`LEFT JOIN ${pointers} ${p} ON ${p}.store = ? AND ${p}.kind = ? AND ${p}.hash = ${ref}`);
    joinValues.push(column.external.store, column.external.kind);
    // A row whose pointer has no JSON is never copied with a NULL in its place: the chunk's check below refuses.
    conditions.push(`(${ref} IS NULL OR ${p}.pointer IS NOT NULL)`);
    unpointed.push({ column: column.name, sql: `${ref} IS NOT NULL AND ${p}.pointer IS NULL` });
    return `${p}.pointer`;
  });
  const missing = `NOT EXISTS (SELECT 1 FROM ${destRef} d WHERE ${plan.primaryKey.map((c) => `d.${quoteId(c)} = t.${quoteId(c)}`).join(' AND ')})`;
  const chunkRows = Math.max(1, Math.floor(options.chunkRows ?? 5000));
  const within = options.part ? partCondition(options.part) : null;
  let after = resumeAfter;
  let rowsCopied = 0;
  let done = false;
  for (;;) {
    const chunk = await keyChunk(conn, sourceRef, plan.primaryKey, after, chunkRows, within);
    // Rows the destination has already (a rerun, a resumed chunk) are left out by an anti-join on it; a chunk whose
    // range the destination has none of needs none: that join's locking reads of the destination's gaps deadlocked
    // two parts of a table copied side by side.
    const started = (await select(conn, `SELECT 1 FROM ${destRef} t${chunk.where ? ` WHERE ${chunk.where}` : ''} LIMIT 1`, chunk.values)).length > 0;
    const where = [...(chunk.where ? [chunk.where] : []), ...conditions, ...(started ? [missing] : [])];
    const inserted = await execute(
      conn,
      `INSERT INTO ${destRef} (${plan.columns.map((c) => quoteId(c.name)).join(', ')})
       SELECT ${selected.join(', ')} FROM ${sourceRef} t ${joins.join(' ')}
        WHERE ${where.join(' AND ') || 'TRUE'}`,
      [...joinValues, ...chunk.values],
    );
    rowsCopied += inserted;
    await options.hooks?.afterChunk?.(table, rowsCopied);
    // A full chunk inserted whole left nothing behind; any other (rows copied before, the last chunk) is looked at.
    if (unpointed.length && inserted < chunkRows) await refuseUnpointed(conn, options, { sourceRef, joins, joinValues, chunk, unpointed });
    if (chunk.last === null) {
      done = true;
      break;
    }
    after = chunk.last;
    if (Date.now() >= (options.deadline ?? Number.POSITIVE_INFINITY)) break;
  }
  return { ...resultOf(table, plan), rowsCopied, done, checkpoint: done || after === null ? null : { stage: 'rows', after: encodeKey(after) } };
}

/**
 * Refuses when rows of the chunk reference 0.14 objects that have no 2.x pointer: a 0.14 client wrote them after the
 * pointers were computed. The chunk's other rows are copied; a rerun computes the missing pointers and copies the rest.
 */
async function refuseUnpointed(
  conn: Connection,
  options: CopyTableOptions,
  query: { sourceRef: string; joins: string[]; joinValues: string[]; chunk: KeyChunk; unpointed: { column: string; sql: string }[] },
): Promise<void> {
  const examples: string[] = [];
  for (const { column, sql } of query.unpointed) {
    const rows = await select<{ value: string }>(
      conn,
      `SELECT HEX(t.${quoteId(column)}) AS value FROM ${query.sourceRef} t ${query.joins.join(' ')}
        WHERE ${[...(query.chunk.where ? [query.chunk.where] : []), sql].join(' AND ')} LIMIT ${EXAMPLES}`,
      [...query.joinValues, ...query.chunk.values],
    );
    examples.push(...rows.map((row) => `${options.table}.${column}: ${row.value}`));
  }
  if (examples.length === 0) return;
  throw new MigrationRefusedError(
    `rows of ${options.source}.${options.table} reference 0.14 objects with no 2.x pointer in ${POINTER_TABLE_014} (written after their pointers were computed: stop 0.14 writers). Those rows were not copied, the others up to them were; nothing was lost. Rerun the copy: it computes the missing pointers and copies what ${options.dest} lacks:`,
    examples,
  );
}

/** Up to this many parts a table (copyPartsOf). */
const MAX_PARTS = 16;
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);

/**
 * How a big table is copied in parts, side by side: from `partRows` rows (the server's estimate) on, ranges of its
 * primary key's first column split evenly by value, one part per `partRows` (at most MAX_PARTS). Only for an integer
 * first column (read off its index: MIN and MAX); [] for one copy of the whole table. The first and last parts are
 * open-ended, so the parts hold every row whatever the values. `estimate`: the table's rows where the caller has read
 * them already (estimatedTableRows).
 */
export async function copyPartsOf(conn: Connection, schema: string, table: string, partRows: number, estimate?: number): Promise<CopyPart[]> {
  const rows = estimate ?? (await estimatedRows(conn, schema, table));
  if (!(partRows >= 1) || rows < 2 * partRows) return [];
  const [column] = await primaryKeyOf(conn, schema, table);
  if (column === undefined) return [];
  const [info] = await select<{ type: string }>(conn, 'SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?', [schema, table, column]);
  if (!info || !INTEGER_TYPES.has(info.type.toLowerCase())) return [];
  const [range] = await select<{ lo: string | null; hi: string | null }>(
    conn,
    `SELECT CAST(MIN(${quoteId(column)}) AS CHAR) AS lo, CAST(MAX(${quoteId(column)}) AS CHAR) AS hi FROM ${tableRef(schema, table)}`,
  );
  if (range.lo === null || range.hi === null) return [];
  const lo = BigInt(range.lo);
  const span = BigInt(range.hi) - lo + 1n;
  const wanted = BigInt(Math.min(MAX_PARTS, Math.ceil(rows / partRows)));
  const count = span < wanted ? span : wanted;
  if (count < 2n) return [];
  const bounds = Array.from({ length: Number(count) - 1 }, (_, i) => (lo + (span * BigInt(i + 1)) / count).toString());
  return [null, ...bounds].map((from, i) => ({ column, from, until: bounds[i] ?? null }));
}

/** The part's rows (alias `t`); its bounds are integers (copyPartsOf), written into the SQL as such. */
function partCondition(part: CopyPart): RowCondition {
  const bound = (value: string) => BigInt(value).toString();
  const column = `t.${quoteId(part.column)}`;
  const sql = [part.from === null ? null : `${column} >= ${bound(part.from)}`, part.until === null ? null : `${column} < ${bound(part.until)}`].filter((c) => c !== null);
  return { sql: sql.length ? sql.join(' AND ') : 'TRUE', values: [] };
}

/**
 * Read-only: the tables to copy, parents first (and in foreign-key levels: see foreignKeyLevels), each checked
 * (columns matched by name) so that a refusal comes before the first row moves.
 */
export async function planSchemaCopy(conn: Connection, options: CopySchemaOptions): Promise<{ tables: string[]; levels: string[][]; plans: TablePlan[] }> {
  await requireSchema(conn, options.source, 'source');
  await requireSchema(conn, options.dest, 'destination');
  const allLevels = await foreignKeyLevelsOf(conn, options.source);
  const all = allLevels.flat();
  const unknown = (options.tables ?? []).filter((t) => !all.includes(t));
  if (unknown.length) throw new MigrationRefusedError(`${options.source} has no user table named:`, unknown);
  const levels = allLevels.map((level) => (options.tables ? level.filter((t) => options.tables!.includes(t)) : level)).filter((level) => level.length > 0);
  const wanted = levels.flat();
  const destTables = new Set(await userTables(conn, options.dest));
  const absent = wanted.filter((t) => !destTables.has(t));
  if (absent.length) throw new MigrationRefusedError(`${options.dest} lacks these tables; declare them (or run create_parallel_schema) first, nothing was copied:`, absent);
  const flavor = await serverFlavor(conn);
  const plans: TablePlan[] = [];
  for (const table of wanted) plans.push(await planTableCopy(conn, { ...options, table }, flavor));
  return { tables: wanted, levels, plans };
}

/** One CopyTable call's work in the state machine: a table's pointers, or its rows (all, or a part of them). */
export interface CopyItem {
  table: string;
  only: 'pointers' | 'rows';
  part: CopyPart | null;
}

/**
 * The state machine's copy, item by item: the pointers of each table with external columns first (a table's parts
 * then need none of their own), then the rows level by level, a table of `partRows` rows or more in parts.
 */
export async function copyItemsOf(conn: Connection, options: CopySchemaOptions, partRows: number): Promise<{ tables: string[]; pointers: CopyItem[]; levels: CopyItem[][] }> {
  const { tables, levels, plans } = await planSchemaCopy(conn, options);
  const pointers = tables.filter((_, i) => plans[i].columns.some((c) => c.external)).map((table) => ({ table, only: 'pointers' as const, part: null }));
  const rows = await estimatedTableRows(conn, options.source);
  const rowItems: CopyItem[][] = [];
  for (const level of levels) {
    const items: CopyItem[] = [];
    for (const table of level) {
      const parts = await copyPartsOf(conn, options.source, table, partRows, rows.get(table) ?? 0);
      items.push(...(parts.length ? parts : [null]).map((part) => ({ table, only: 'rows' as const, part })));
    }
    rowItems.push(items);
  }
  return { tables, pointers, levels: rowItems };
}

/** Copies every user table of `source` (or `tables`) into `dest`, parents first. */
export async function copySchemaData(conn: Connection, options: CopySchemaOptions): Promise<CopySchemaResult> {
  const { tables: wanted, plans } = await planSchemaCopy(conn, options);
  // Every table is checked, and its pointers computed, before the first row moves.
  for (const [i, table] of wanted.entries()) await preparePointers(conn, { ...options, table }, plans[i], null);
  const tables: CopyTableResult[] = [];
  for (const [i, table] of wanted.entries()) tables.push(await copyPlanned(conn, { ...options, table }, plans[i]));
  return { source: options.source, dest: options.dest, tables, rowsCopied: tables.reduce((sum, t) => sum + t.rowsCopied, 0) };
}

// ----- create_parallel_schema --------------------------------------------------------------------------------

export interface ParallelSchemaOptions {
  source: string;
  dest: string;
  /** 0.14 store name → the 2.x store name written into the codec markers (default unchanged). */
  storeMap?: Record<string, string>;
  /** Write the guide's `:uintN:` markers on unsigned integers (2.x ignores them; off by default, spec D.6.3). */
  unsignedMarkers?: boolean;
}

export interface ParallelColumn {
  table: string;
  column: string;
  /** The comment in the destination (2.x marker + user comment). */
  comment: string;
  /** `json` for converted external columns, else the source type. */
  columnType: string;
}

export interface ParallelSchemaPlan {
  source: string;
  dest: string;
  charset: string;
  collation: string;
  /** Tables in creation (foreign-key) order. */
  tables: string[];
  /** Tables that already exist in the destination (left as they are; CREATE TABLE IF NOT EXISTS). */
  existing: string[];
  columns: ParallelColumn[];
  /** Foreign keys to `~external_*` left out (the columns become JSON), as `table.column`. */
  droppedExternalKeys: string[];
  /** Indexes left out because they cover a column that becomes JSON. */
  droppedIndexes: string[];
  statements: string[];
  problems: string[];
}

interface IndexInfo {
  name: string;
  unique: boolean;
  parts: { column: string; subPart: number | null }[];
}

async function indexesOf(conn: Connection, schema: string, table: string): Promise<IndexInfo[]> {
  const rows = await select<Record<string, unknown>>(
    conn,
    `SELECT INDEX_NAME AS index_name, NON_UNIQUE AS non_unique, COLUMN_NAME AS column_name, SUB_PART AS sub_part
       FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const byName = new Map<string, IndexInfo>();
  for (const row of rows) {
    const name = String(row.index_name);
    const index = byName.get(name) ?? { name, unique: Number(row.non_unique) === 0, parts: [] };
    index.parts.push({ column: String(row.column_name), subPart: row.sub_part === null || row.sub_part === undefined ? null : Number(row.sub_part) });
    byName.set(name, index);
  }
  return [...byName.values()];
}

const RULES = new Set(['RESTRICT', 'CASCADE', 'SET NULL', 'NO ACTION', 'SET DEFAULT']);

/** Read-only: the `CREATE DATABASE` and `CREATE TABLE` statements of the `_v2` schema, in foreign-key order. */
export async function planParallelSchema(conn: Connection, options: ParallelSchemaOptions): Promise<ParallelSchemaPlan> {
  const { source, dest } = options;
  if (source === dest) throw new MigrationRefusedError('source and destination schema are the same');
  const { charset, collation } = await requireSchema(conn, source, 'source');
  const flavor = await serverFlavor(conn);
  const foreignKeys = await foreignKeysOf(conn, source);
  const tables = foreignKeyOrder(await userTables(conn, source), foreignKeys, source);
  const existing = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [dest])).map((r) => String(r.name));
  const tableInfo = new Map(
    (
      await select<Record<string, unknown>>(
        conn,
        'SELECT TABLE_NAME AS table_name, ENGINE AS engine, TABLE_COLLATION AS table_collation, TABLE_COMMENT AS table_comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
        [source],
      )
    ).map((r) => [String(r.table_name), r]),
  );
  const allColumns = await readColumns(conn, source, flavor);
  const plan: ParallelSchemaPlan = {
    source,
    dest,
    charset,
    collation,
    tables,
    existing: tables.filter((t) => existing.includes(t)),
    columns: [],
    droppedExternalKeys: [],
    droppedIndexes: [],
    statements: [`CREATE DATABASE IF NOT EXISTS ${quoteId(dest)} CHARACTER SET ${charset} COLLATE ${collation}`],
    problems: [],
  };
  for (const table of tables) {
    const lines: string[] = [];
    const jsonColumns = new Set<string>();
    for (const column of allColumns.filter((c) => c.table === table)) {
      const external = column.columnType.toLowerCase() === 'binary(16)' ? parseExternalComment(column.comment) : null;
      let comment = column.comment;
      let definition: string;
      if (external) {
        comment = codecComment(external.kind, external.comment, options.storeMap?.[external.store] ?? external.store);
        jsonColumns.add(column.column);
        const json: ColumnInfo = { ...column, dataType: 'json', columnType: 'json', charset: null, collation: null, default: null, extra: '', checks: [], generation: null };
        definition = columnDefinition(json, comment, flavor);
      } else {
        const { unknown } = extraClauses(column.extra);
        if (unknown && !column.generation) plan.problems.push(`${table}.${column.column}: EXTRA ${JSON.stringify(column.extra)} has attributes this tool cannot restate (${unknown}); declare the table by hand`);
        const marker = markerFor(column, { unsignedMarkers: options.unsignedMarkers });
        if (marker && !marker.skip) comment = marker.newComment;
        definition = column.generation ? generatedDefinition(column, comment) : columnDefinition(column, comment, flavor);
      }
      if ([...comment].length > MAX_COLUMN_COMMENT) plan.problems.push(`${table}.${column.column}: the 2.x comment would be ${[...comment].length} characters, over ${MAX_COLUMN_COMMENT}; shorten it first`);
      plan.columns.push({ table, column: column.column, comment, columnType: external ? 'json' : column.columnType });
      lines.push(definition);
    }
    const indexes = await indexesOf(conn, source, table);
    const primary = indexes.find((i) => i.name === 'PRIMARY');
    if (primary) lines.push(`PRIMARY KEY (${primary.parts.map(indexPart).join(', ')})`);
    for (const index of indexes) {
      if (index.name === 'PRIMARY') continue;
      if (index.parts.some((p) => jsonColumns.has(p.column))) {
        const external = foreignKeys.some((fk) => fk.table === table && fk.referencedTable.startsWith(EXTERNAL_TABLE_PREFIX) && fk.columns.join() === index.parts.map((p) => p.column).join());
        if (!external) plan.droppedIndexes.push(`${table}.${index.name}`);
        continue;
      }
      lines.push(`${index.unique ? 'UNIQUE ' : ''}KEY ${quoteId(index.name)} (${index.parts.map(indexPart).join(', ')})`);
    }
    for (const fk of foreignKeys.filter((f) => f.table === table)) {
      if (fk.referencedTable.startsWith(EXTERNAL_TABLE_PREFIX)) {
        plan.droppedExternalKeys.push(...fk.columns.map((c) => `${table}.${c}`));
        continue;
      }
      if (!RULES.has(fk.onUpdate) || !RULES.has(fk.onDelete)) {
        plan.problems.push(`${table}: foreign key ${fk.constraint} has unexpected rules ${fk.onUpdate}/${fk.onDelete}`);
        continue;
      }
      const targetSchema = fk.referencedSchema === source ? dest : fk.referencedSchema;
      lines.push(
        `CONSTRAINT ${quoteId(fk.constraint)} FOREIGN KEY (${fk.columns.map(quoteId).join(', ')}) REFERENCES ${tableRef(targetSchema, fk.referencedTable)} ` +
          `(${fk.referencedColumns.map(quoteId).join(', ')}) ON UPDATE ${fk.onUpdate} ON DELETE ${fk.onDelete}`,
      );
    }
    const info = tableInfo.get(table);
    const engine = String(info?.engine ?? 'InnoDB');
    const tableCollation = info?.table_collation ? String(info.table_collation) : collation;
    if (!/^\w+$/.test(engine) || !/^\w+$/.test(tableCollation) || !/^\w+$/.test(charset) || !/^\w+$/.test(collation)) {
      plan.problems.push(`${table}: unexpected engine ${engine} or collation ${tableCollation}`);
      continue;
    }
    plan.statements.push(
      `CREATE TABLE IF NOT EXISTS ${tableRef(dest, table)} (\n  ${lines.join(',\n  ')}\n) ENGINE=${engine} DEFAULT COLLATE=${tableCollation} COMMENT=${quoteValue(String(info?.table_comment ?? ''))}`,
    );
  }
  plan.statements.push(lineageTableDdl(dest, quoteId));
  return plan;
}

function indexPart(part: { column: string; subPart: number | null }): string {
  return part.subPart === null ? quoteId(part.column) : `${quoteId(part.column)}(${part.subPart})`;
}

function generatedDefinition(column: ColumnInfo, comment: string): string {
  const stored = /stored|persistent/i.test(column.extra) ? 'STORED' : 'VIRTUAL';
  return `${quoteId(column.column)} ${column.columnType} GENERATED ALWAYS AS (${column.generation}) ${stored} COMMENT ${quoteValue(comment)}`;
}

/** Runs the plan (refusing first when it has problems); reruns are no-ops (IF NOT EXISTS throughout). */
export async function createParallelSchema(conn: Connection, options: ParallelSchemaOptions): Promise<ParallelSchemaPlan & { created: string[] }> {
  const plan = await planParallelSchema(conn, options);
  if (plan.problems.length) throw new MigrationRefusedError(`create_parallel_schema ${options.dest} refused; nothing was created:`, plan.problems);
  for (const statement of plan.statements) await execute(conn, statement);
  return { ...plan, created: plan.tables.filter((t) => !plan.existing.includes(t)) };
}
