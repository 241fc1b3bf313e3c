// compare_query_results: does the 2.x copy of a table hold the same data as production?
//
// Unlike upstream (spec D.5: SELECT * ORDER BY 1 up to 10,000 rows, else CHECKSUM TABLE, which can never match
// once a column changed type), rows are matched by primary key and every table size is compared row by row:
//   1. row counts (a `row-count` discrepancy when they differ);
//   2. production in keyset chunks ordered by the primary key; each chunk's keys are looked up in the test
//      table (`missing-in-test`, or column by column `value`);
//   3. only when the test table has rows that step 2 did not match: the test table's keys in keyset chunks,
//      looked up in production (`missing-in-prod`).
// Looking keys up (instead of merging two ordered streams) keeps the result right when the two sides order a
// key differently (collations, 0.14 latin1 vs 2.x utf8mb4).
//
// Columns are matched by name; hidden columns (names starting with `_`: 0.14's `_<sha1>_timestamp`, 2.x's
// `_job_*`) are ignored. Values:
//   * NULL only equals NULL;
//   * float/double/decimal (on either side): |a − b| ≤ tolerance × max(1, |a|, |b|), i.e. an absolute
//     tolerance for magnitudes up to 1 and a relative one above;
//   * other numbers, strings, dates: exact (dates compared with trailing fractional zeros removed, so
//     datetime and datetime(3) agree);
//   * blobs and binary: byte for byte; JSON: parsed, keys order-insensitive;
//   * external pointers — a 0.14 binary(16) column commented `:blob@S:`/`:attach@S:`, or a 2.x JSON column
//     commented `:<blob@S>:`/`:<attach@S>:` — by the content hash they resolve to (`resolvePointer`), so a
//     0.14 uuid and the 2.x JSON pointing at the same bytes are equal even when the store was renamed. A
//     pointer against in-table bytes (e.g. `blob@S` moved to `<blob>`) compares against the bytes' hash.
import type { Connection } from 'mysql2/promise';
import { CallBudget } from '../call-budget.js';
import { decodeKey, encodeKey, tupleCondition, type KeyValue } from '../db/keyset.js';
import { quoteId, select, selectRaw, tableRef, type Row } from '../db/sql.js';
import { hashOfDigest, contentHash } from '../datajoint/v2.js';
import { MigrationRefusedError } from '../errors.js';

export type DiscrepancyKind = 'missing-in-test' | 'missing-in-prod' | 'value' | 'row-count';

export interface Discrepancy {
  /** The row's primary key (integers as numbers when safe, binary as `0x…` hex); `{}` for row-count. */
  key: Record<string, unknown>;
  column?: string;
  kind: DiscrepancyKind;
  prod?: unknown;
  test?: unknown;
}

/** Content hash (2.x base32 MD5) of the object a pointer refers to, or null when it cannot be resolved. */
export type PointerResolver = (schema: string, table: string, column: string, value: unknown) => Promise<string | null>;

export interface CompareOptions {
  prodSchema: string;
  testSchema: string;
  table: string;
  /** See the tolerance rule above. Default 1e-6. */
  tolerance?: number;
  /** Stop after this many discrepancies. Default 20. */
  maxDiscrepancies?: number;
  /** Rows per keyset chunk. Default 1000. */
  chunkRows?: number;
  /** Overrides the default pointer resolution (see defaultPointerResolver). */
  resolvePointer?: PointerResolver;
}

export interface CompareResult {
  match: boolean;
  /** Rows in the production table. */
  row_count: number;
  test_row_count: number;
  discrepancies: Discrepancy[];
  /** True when scanning stopped at maxDiscrepancies. */
  truncated: boolean;
  columns: { compared: string[]; onlyInProd: string[]; onlyInTest: string[] };
}

interface ColumnInfo {
  name: string;
  dataType: string;
  columnType: string;
  comment: string;
  pointer: PointerColumn | null;
}

interface PointerColumn {
  format: '0.12' | '2.x';
  kind: 'blob' | 'attach' | 'filepath';
  store: string;
}

const LEGACY_POINTER = /^:(blob|attach|filepath)@([a-z][-\w]*):/i;
const V2_POINTER = /^:<(blob|attach|filepath)@([^>]*)>:/;
const APPROXIMATE = new Set(['float', 'double', 'decimal', 'real']);
const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const DATES = new Set(['datetime', 'timestamp', 'time']);

export function pointerColumn(dataType: string, columnType: string, comment: string): PointerColumn | null {
  const legacy = LEGACY_POINTER.exec(comment);
  if (legacy && columnType.toLowerCase() === 'binary(16)') return { format: '0.12', kind: legacy[1].toLowerCase() as PointerColumn['kind'], store: legacy[2] };
  const v2 = V2_POINTER.exec(comment);
  if (v2 && (dataType === 'json' || dataType === 'longtext')) return { format: '2.x', kind: v2[1] as PointerColumn['kind'], store: v2[2] };
  return null;
}

async function readColumns(conn: Connection, schema: string, table: string): Promise<{ columns: ColumnInfo[]; primaryKey: string[] }> {
  const rows = await select<{ name: string; data_type: string; column_type: string; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  if (!rows.length) throw new MigrationRefusedError(`compare refused: table ${tableRef(schema, table)} does not exist; check the schema and table names`);
  const keys = await select<{ name: string }>(
    conn,
    `SELECT COLUMN_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [schema, table],
  );
  const columns = rows.map((r) => {
    const dataType = String(r.data_type).toLowerCase();
    const columnType = String(r.column_type);
    const comment = String(r.comment ?? '');
    return { name: r.name, dataType, columnType, comment, pointer: pointerColumn(dataType, columnType, comment) };
  });
  return { columns, primaryKey: keys.map((k) => k.name) };
}

/**
 * The default resolver: a 2.x JSON pointer → its `hash`; a 0.14 binary(16) pointer → base32 of the uuid, or of
 * `contents_hash` when the `~external_<S>` row has one (a blob migrated from 0.11, whose uuid hashes its path).
 * filepath@ pointers carry no common content hash (2.x's JSON has none, 0.14.8+ may store NULL), so both
 * sides resolve to `filepath:<path relative to the store>` (the 0.14 `filepath` column, the 2.x `path`).
 * `prefetch` loads a chunk's `~external_<S>` rows in one query.
 */
export class DefaultPointerResolver {
  private readonly contents = new Map<string, { contentsHash: string | null; filepath: string | null } | null>();
  private readonly columnCache = new Map<string, PointerColumn | null>();

  constructor(private readonly conn: Connection) {}

  readonly resolve: PointerResolver = async (schema, table, column, value) => {
    if (value === null || value === undefined) return null;
    if (Buffer.isBuffer(value)) {
      const pointer = await this.column(schema, table, column);
      if (!pointer || pointer.format !== '0.12' || value.length !== 16) return null;
      const id = `${schema}\0${pointer.store}\0${value.toString('hex')}`;
      if (!this.contents.has(id)) await this.prefetch(schema, pointer.store, [value]);
      const row = this.contents.get(id);
      if (pointer.kind === 'filepath') return row?.filepath ? `filepath:${row.filepath}` : null;
      return row?.contentsHash ?? hashOfDigest(value);
    }
    const parsed = typeof value === 'string' ? safeParse(value) : value;
    if (!parsed || typeof parsed !== 'object') return null;
    const { hash, path } = parsed as { hash?: unknown; path?: unknown };
    if (typeof hash === 'string') return hash;
    const pointer = await this.column(schema, table, column);
    return pointer?.kind === 'filepath' && typeof path === 'string' ? `filepath:${path}` : null;
  };

  /** Looks up `contents_hash` for these uuids (missing table or row: the uuid itself is the content hash). */
  async prefetch(schema: string, store: string, uuids: Buffer[]): Promise<void> {
    const wanted = uuids.filter((u) => u.length === 16 && !this.contents.has(`${schema}\0${store}\0${u.toString('hex')}`));
    if (!wanted.length) return;
    for (const u of wanted) this.contents.set(`${schema}\0${store}\0${u.toString('hex')}`, null);
    let rows: Array<{ hash: Buffer; contents_hash: Buffer | null; filepath: string | null }> = [];
    try {
      rows = await select(this.conn, `SELECT hash, contents_hash, filepath FROM ${tableRef(schema, `~external_${store}`)} WHERE hash IN (?)`, [wanted]);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ER_NO_SUCH_TABLE') throw error;
    }
    for (const row of rows) {
      this.contents.set(`${schema}\0${store}\0${row.hash.toString('hex')}`, {
        contentsHash: row.contents_hash && row.contents_hash.length === 16 ? hashOfDigest(row.contents_hash) : null,
        filepath: row.filepath === null ? null : String(row.filepath),
      });
    }
  }

  /** Forget what was looked up (called per chunk to bound memory). */
  clear(): void {
    this.contents.clear();
  }

  private async column(schema: string, table: string, column: string): Promise<PointerColumn | null> {
    const id = `${schema}\0${table}\0${column}`;
    if (!this.columnCache.has(id)) {
      const [row] = await select<{ data_type: string; column_type: string; comment: string }>(
        this.conn,
        'SELECT DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?',
        [schema, table, column],
      );
      this.columnCache.set(id, row ? pointerColumn(String(row.data_type).toLowerCase(), String(row.column_type), String(row.comment ?? '')) : null);
    }
    return this.columnCache.get(id)!;
  }
}

/**
 * Where a comparison that works in calls stands (plain JSON, carried in the execution's state to the next call): the
 * pass, the last primary key compared in it (encodeKey), the counts and the discrepancies so far.
 */
export interface CompareCheckpoint {
  pass: 1 | 2;
  after: string | null;
  prodCount: number;
  testCount: number;
  matched: number;
  discrepancies: Discrepancy[];
}

export type CompareStep = { result: CompareResult; checkpoint: null } | { result: null; checkpoint: CompareCheckpoint };

export interface CompareCall {
  /** How long this call may compare (undefined: to the end); it stops between two chunks. */
  budgetMs?: number;
  checkpoint?: CompareCheckpoint | null;
}

/** The whole comparison in one call. */
export async function compareQueryResults(conn: Connection, options: CompareOptions): Promise<CompareResult> {
  return (await compareStep(conn, options)).result!;
}

/** The comparison in calls of a bounded time, each going on from the checkpoint the one before returned. */
export async function compareStep(conn: Connection, options: CompareOptions, call: CompareCall = {}): Promise<CompareStep> {
  const { prodSchema, testSchema, table } = options;
  const tolerance = options.tolerance ?? 1e-6;
  const maxDiscrepancies = options.maxDiscrepancies ?? 20;
  const chunkRows = options.chunkRows ?? 1000;
  if (!(tolerance >= 0)) throw new MigrationRefusedError(`tolerance must be a number ≥ 0, got ${tolerance}`);
  if (!(Number.isInteger(maxDiscrepancies) && maxDiscrepancies > 0)) throw new MigrationRefusedError(`maxDiscrepancies must be a positive integer, got ${maxDiscrepancies}`);
  if (!(Number.isInteger(chunkRows) && chunkRows > 0)) throw new MigrationRefusedError(`chunkRows must be a positive integer, got ${chunkRows}`);

  const prod = await readColumns(conn, prodSchema, table);
  const test = await readColumns(conn, testSchema, table);
  const primaryKey = prod.primaryKey;
  if (!primaryKey.length) throw new MigrationRefusedError(`compare refused: ${tableRef(prodSchema, table)} has no primary key to match rows by`);
  const hiddenKey = primaryKey.filter((c) => c.startsWith('_'));
  if (hiddenKey.length) throw new MigrationRefusedError(`compare refused: the primary key of ${tableRef(prodSchema, table)} has hidden columns (${hiddenKey.join(', ')}); compare such tables with a query of your own`);
  if (primaryKey.join('\0') !== test.primaryKey.join('\0')) {
    throw new MigrationRefusedError(
      `compare refused: the primary keys differ: ${tableRef(prodSchema, table)} (${prod.primaryKey.join(', ')}) vs ${tableRef(testSchema, table)} (${test.primaryKey.join(', ')})`,
    );
  }
  const prodCols = new Map(prod.columns.filter((c) => !c.name.startsWith('_')).map((c) => [c.name, c]));
  const testCols = new Map(test.columns.filter((c) => !c.name.startsWith('_')).map((c) => [c.name, c]));
  const compared = [...prodCols.keys()].filter((name) => testCols.has(name));
  const onlyInProd = [...prodCols.keys()].filter((name) => !testCols.has(name));
  const onlyInTest = [...testCols.keys()].filter((name) => !prodCols.has(name));
  const keyTypes = new Map(primaryKey.map((name) => [name, prodCols.get(name)!.dataType]));

  const defaultResolver = new DefaultPointerResolver(conn);
  const resolve = options.resolvePointer ?? defaultResolver.resolve;

  const saved = call.checkpoint ?? null;
  const discrepancies: Discrepancy[] = saved ? [...saved.discrepancies] : [];
  let truncated = false;
  const report = (d: Discrepancy): boolean => {
    if (discrepancies.length >= maxDiscrepancies) {
      truncated = true;
      return false;
    }
    discrepancies.push(d);
    return true;
  };

  const count = async (schema: string) => Number((await select<{ n: number | string }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(schema, table)}`))[0].n);
  const prodCount = saved ? saved.prodCount : await count(prodSchema);
  const testCount = saved ? saved.testCount : await count(testSchema);
  if (!saved && prodCount !== testCount) report({ key: {}, kind: 'row-count', prod: prodCount, test: testCount });
  const budget = new CallBudget(call.budgetMs);
  const start = saved?.after ? Object.fromEntries(decodeKey(saved.after).map((value, i) => [primaryKey[i], value])) : null;
  const stop = (pass: 1 | 2, after: Row | null): CompareStep => ({
    result: null,
    checkpoint: { pass, after: after && encodeKey(primaryKey.map((name) => after[name] as KeyValue)), prodCount, testCount, matched, discrepancies },
  });

  // FLOAT is read as `col + 0e0`, the exact stored single-precision value as a double: MariaDB prints a FLOAT with
  // only 6 significant digits (123456.75 → 123457), which would eat the tolerance.
  const selectList = (names: string[], cols?: Map<string, ColumnInfo>) =>
    names.map((name) => (cols?.get(name)?.dataType === 'float' && !primaryKey.includes(name) ? `(${quoteId(name)} + 0e0) AS ${quoteId(name)}` : quoteId(name))).join(', ');
  const keyOf = (row: Row) => primaryKey.map((name) => encodeKeyPart(row[name])).join('\0');
  const shownKey = (row: Row) => Object.fromEntries(primaryKey.map((name) => [name, displayKey(row[name], keyTypes.get(name)!)]));

  let matched = saved?.matched ?? 0;
  // Pass 1: production in keyset chunks; look each chunk's keys up in the test table.
  for (let after: Row | null = saved?.pass === 1 ? start : null; !truncated && saved?.pass !== 2; ) {
    if (budget.spent()) return stop(1, after);
    const prodRows: Row[] = await keysetChunk(conn, prodSchema, table, primaryKey, selectList(compared, prodCols), after, chunkRows);
    if (!prodRows.length) break;
    after = prodRows[prodRows.length - 1];
    const testRows = await lookup(conn, testSchema, table, primaryKey, selectList(compared, testCols), prodRows);
    const byKey = new Map(testRows.map((row) => [keyOf(row), row]));
    defaultResolver.clear();
    if (!options.resolvePointer) await prefetchPointers(defaultResolver, compared, prodCols, testCols, prodSchema, testSchema, prodRows, testRows);
    for (const prodRow of prodRows) {
      const testRow = byKey.get(keyOf(prodRow));
      if (!testRow) {
        if (!report({ key: shownKey(prodRow), kind: 'missing-in-test' })) break;
        continue;
      }
      matched++;
      for (const name of compared) {
        const [prodCol, testCol] = [prodCols.get(name)!, testCols.get(name)!];
        // only pointers wait on anything (their objects' hashes): the other values are compared without an await each
        const outcome =
          prodCol.pointer || testCol.pointer
            ? await comparePointers(prodRow[name], testRow[name], prodCol, testCol, { prodSchema, testSchema, table, resolve })
            : compareValues(prodRow[name], testRow[name], prodCol, testCol, tolerance);
        if (!outcome.equal && !report({ key: shownKey(prodRow), column: name, kind: 'value', prod: outcome.prod, test: outcome.test })) break;
      }
      if (truncated) break;
    }
    budget.used();
    if (prodRows.length < chunkRows) break;
  }

  // Pass 2: only when the test table has rows pass 1 did not match.
  if (!truncated && testCount > matched) {
    // the test rows pass 1 did not match, less those this pass named already (every one is named until truncated)
    let unmatched = testCount - matched - discrepancies.filter((d) => d.kind === 'missing-in-prod').length;
    for (let after: Row | null = saved?.pass === 2 ? start : null; !truncated && unmatched > 0; ) {
      if (budget.spent()) return stop(2, after);
      const testRows: Row[] = await keysetChunk(conn, testSchema, table, primaryKey, selectList(primaryKey), after, chunkRows);
      if (!testRows.length) break;
      after = testRows[testRows.length - 1];
      const found = new Set((await lookup(conn, prodSchema, table, primaryKey, selectList(primaryKey), testRows)).map(keyOf));
      for (const row of testRows) {
        if (found.has(keyOf(row))) continue;
        unmatched--;
        if (!report({ key: shownKey(row), kind: 'missing-in-prod' })) break;
      }
      budget.used();
      if (testRows.length < chunkRows) break;
    }
  }

  return {
    result: {
      match: discrepancies.length === 0 && !truncated && onlyInProd.length === 0 && onlyInTest.length === 0,
      row_count: prodCount,
      test_row_count: testCount,
      discrepancies,
      truncated,
      columns: { compared, onlyInProd, onlyInTest },
    },
    checkpoint: null,
  };
}

/** Rows after `after` in primary-key order (range-optimisable, see tupleCondition). */
async function keysetChunk(conn: Connection, schema: string, table: string, primaryKey: string[], columns: string, after: Row | null, limit: number): Promise<Row[]> {
  const condition = after && tupleCondition(primaryKey, primaryKey.map((name) => after[name] as KeyValue), '>');
  const order = primaryKey.map((name) => `t.${quoteId(name)}`).join(', ');
  return selectRaw(conn, `SELECT ${columns} FROM ${tableRef(schema, table)} t${condition ? ` WHERE ${condition.sql}` : ''} ORDER BY ${order} LIMIT ${Math.floor(limit)}`, condition?.values ?? []);
}

/**
 * The rows of `schema.table` with these keys: `k IN (…)`, or `(k1, k2) IN ((…), …)` for a composite key. Both servers
 * read a row constructor IN as ranges; the same keys as `(k1 = ? AND k2 = ?) OR …` took 7x as long here.
 */
async function lookup(conn: Connection, schema: string, table: string, primaryKey: string[], columns: string, keys: Row[]): Promise<Row[]> {
  if (!keys.length) return [];
  const values = keys.flatMap((key) => primaryKey.map((name) => key[name]));
  const tuple = primaryKey.length === 1 ? '?' : `(${primaryKey.map(() => '?').join(', ')})`;
  const keyList = primaryKey.length === 1 ? quoteId(primaryKey[0]) : `(${primaryKey.map(quoteId).join(', ')})`;
  return selectRaw(conn, `SELECT ${columns} FROM ${tableRef(schema, table)} WHERE ${keyList} IN (${keys.map(() => tuple).join(', ')})`, values);
}

async function prefetchPointers(
  resolver: DefaultPointerResolver,
  compared: string[],
  prodCols: Map<string, ColumnInfo>,
  testCols: Map<string, ColumnInfo>,
  prodSchema: string,
  testSchema: string,
  prodRows: Row[],
  testRows: Row[],
): Promise<void> {
  for (const name of compared) {
    for (const [info, schema, rows] of [
      [prodCols.get(name)!, prodSchema, prodRows],
      [testCols.get(name)!, testSchema, testRows],
    ] as const) {
      if (info.pointer?.format !== '0.12') continue;
      const uuids = rows.map((r) => r[name]).filter((v): v is Buffer => Buffer.isBuffer(v));
      await resolver.prefetch(schema, info.pointer.store, uuids);
    }
  }
}

interface ValueContext {
  prodSchema: string;
  testSchema: string;
  table: string;
  resolve: PointerResolver;
}

type Outcome = { equal: boolean; prod?: unknown; test?: unknown };

/** Equal, or not with both values as a discrepancy shows them (made only then: most values are equal). */
function outcome(equal: boolean, prodValue: unknown, testValue: unknown): Outcome {
  return equal ? { equal } : { equal, prod: display(prodValue), test: display(testValue) };
}

/** A pointer (either side) by the content hash it resolves to; in-table bytes by their own. */
async function comparePointers(prodValue: unknown, testValue: unknown, prodCol: ColumnInfo, testCol: ColumnInfo, context: ValueContext): Promise<Outcome> {
  if (prodValue === null || testValue === null) return outcome(prodValue === testValue, prodValue, testValue);
  const side = async (value: unknown, col: ColumnInfo, schema: string) =>
    col.pointer ? context.resolve(schema, context.table, col.name, value) : Buffer.isBuffer(value) || typeof value === 'string' ? contentHash(Buffer.isBuffer(value) ? value : Buffer.from(value)) : null;
  const a = await side(prodValue, prodCol, context.prodSchema);
  const b = await side(testValue, testCol, context.testSchema);
  return { equal: a !== null && a === b, prod: a ?? display(prodValue), test: b ?? display(testValue) };
}

function compareValues(prodValue: unknown, testValue: unknown, prodCol: ColumnInfo, testCol: ColumnInfo, tolerance: number): Outcome {
  if (prodValue === null || testValue === null) return outcome(prodValue === testValue, prodValue, testValue);

  if (APPROXIMATE.has(prodCol.dataType) || APPROXIMATE.has(testCol.dataType)) {
    if (String(prodValue) === String(testValue)) return { equal: true };
    const a = Number(prodValue);
    const b = Number(testValue);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return outcome(false, prodValue, testValue);
    return { equal: Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b)), prod: a, test: b };
  }

  // MariaDB reports a JSON column as longtext, yet the driver hands its values over parsed
  if (isJson(prodCol) || isJson(testCol) || isParsedJson(prodValue) || isParsedJson(testValue)) {
    return outcome(canonicalJson(prodValue) === canonicalJson(testValue), prodValue, testValue);
  }

  if (Buffer.isBuffer(prodValue) || Buffer.isBuffer(testValue)) {
    const a = Buffer.isBuffer(prodValue) ? prodValue : Buffer.from(String(prodValue));
    const b = Buffer.isBuffer(testValue) ? testValue : Buffer.from(String(testValue));
    return outcome(a.equals(b), prodValue, testValue);
  }

  if (DATES.has(prodCol.dataType) || DATES.has(testCol.dataType)) {
    return outcome(trimFraction(String(prodValue)) === trimFraction(String(testValue)), prodValue, testValue);
  }
  return outcome(String(prodValue) === String(testValue), prodValue, testValue);
}

function isJson(col: ColumnInfo): boolean {
  return col.dataType === 'json' || col.comment.startsWith(':json:');
}

function isParsedJson(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && !(value instanceof Date);
}

function canonicalJson(value: unknown): string {
  const parsed = typeof value === 'string' ? safeParse(value) : Buffer.isBuffer(value) ? safeParse(value.toString('utf8')) : value;
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(parsed === undefined ? value : parsed));
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function trimFraction(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

function encodeKeyPart(value: unknown): string {
  if (value === null || value === undefined) return '\u0001null';
  if (Buffer.isBuffer(value)) return `\u0002${value.toString('hex')}`;
  const text = String(value);
  // datetime and datetime(3) keys of the same instant: `10:00:00` and `10:00:00.000`.
  return `\u0003${/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+$/.test(text) ? trimFraction(text) : text}`;
}

function displayKey(value: unknown, dataType: string): unknown {
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex')}`;
  if (INTEGER.has(dataType) && typeof value === 'string' && Number.isSafeInteger(Number(value))) return Number(value);
  return value;
}

/** Characters of a text or JSON value a discrepancy shows: discrepancies travel in the execution's state (256 KiB). */
const SHOWN_CHARACTERS = 100;

function display(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.length > 32 ? `0x${value.subarray(0, 32).toString('hex')}… (${value.length} bytes)` : `0x${value.toString('hex')}`;
  if (typeof value === 'string' && value.length > SHOWN_CHARACTERS) return `${value.slice(0, SHOWN_CHARACTERS)}… (${value.length} characters)`;
  if (isParsedJson(value)) {
    const text = JSON.stringify(value);
    if (text.length > SHOWN_CHARACTERS) return `${text.slice(0, SHOWN_CHARACTERS)}… (${text.length} characters of JSON)`;
  }
  return value;
}
