// Keyset chunking on a table's primary key (shared by the 0.11 column rewrite and the 0.14 → 2.0 copy): the key of
// the row `rows` rows further on, and tuple comparisons spelled out so that MySQL and MariaDB both use index ranges.
// The table is always aliased `t`.
import type { Connection } from 'mysql2/promise';
import type { KeyRange } from '../stores/key-ranges.js';
import { quoteId, select, selectRaw } from './sql.js';

/** A primary-key value as the server sent it (see rawTypeCast): text, or bytes for binary columns. */
export type KeyValue = string | Buffer;

/** One chunk of a table's rows: its condition on the primary key (alias `t`; '' for all), and its last key (null: the table's end). */
export interface KeyChunk {
  where: string;
  values: KeyValue[];
  last: KeyValue[] | null;
}

/** Rows of a table a scan reads per statement by default (chunkRowsFor). */
const SCAN_CHUNK_ROWS = 1_000_000;

/**
 * Rows per primary-key chunk for a scan of a statement each over the table (a caller can stop between two), or null
 * for one statement: a table the server estimates at up to two chunks, or without a primary key, needs no lookups of
 * where chunks end.
 */
export async function chunkRowsFor(conn: Connection, schema: string, table: string, primaryKey: string[], rows = SCAN_CHUNK_ROWS): Promise<number | null> {
  return primaryKey.length > 0 && (await estimatedRows(conn, schema, table)) > 2 * rows ? rows : null;
}

/** The table's rows as the server estimates them (InnoDB's statistics: cheap, roughly right; 0 when unknown). */
export async function estimatedRows(conn: Connection, schema: string, table: string): Promise<number> {
  const [row] = await select<{ estimate: number | null }>(conn, 'SELECT TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, table]);
  return Number(row?.estimate ?? 0);
}

/** Every table's rows in a schema as the server estimates them (one query; see estimatedRows). */
export async function estimatedTableRows(conn: Connection, schema: string): Promise<Map<string, number>> {
  const rows = await select<{ name: string; n: number | string | null }>(conn, 'SELECT TABLE_NAME AS name, TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema]);
  return new Map(rows.map((row) => [row.name, Number(row.n ?? 0)]));
}

/** A condition on a table aliased `t`, with its values. */
export interface RowCondition {
  sql: string;
  values: KeyValue[];
}

/**
 * The chunk of `rows` rows (null: all) after `after` (null: from the first) of `table` (aliased `t`), of the rows
 * `within` holds for (default all; a range of the key's first column, say).
 */
export async function keyChunk(conn: Connection, table: string, primaryKey: string[], after: KeyValue[] | null, rows: number | null, within: RowCondition | null = null): Promise<KeyChunk> {
  const last = rows === null ? null : await chunkBoundary(conn, table, primaryKey, after, rows, within);
  const range = [within, after && tupleCondition(primaryKey, after, '>'), last && tupleCondition(primaryKey, last, '<=')].filter((condition) => condition !== null);
  return { where: range.map((condition) => condition.sql).join(' AND '), values: range.flatMap((condition) => condition.values), last };
}

/** A primary key's values as text (a journal column, a checkpoint): binary values as hex. */
export function encodeKey(values: KeyValue[]): string {
  return JSON.stringify(values.map((value) => (Buffer.isBuffer(value) ? { hex: value.toString('hex') } : value)));
}

export function decodeKey(encoded: string): KeyValue[] {
  return (JSON.parse(encoded) as (string | { hex: string })[]).map((value) => (typeof value === 'string' ? value : Buffer.from(value.hex, 'hex')));
}

/** The primary key of the row `rows` rows after `after` (aliased `t` in `table`; of the rows `within` holds for), or null when fewer remain. */
export async function chunkBoundary(conn: Connection, table: string, primaryKey: string[], after: KeyValue[] | null, rows: number, within: RowCondition | null = null): Promise<KeyValue[] | null> {
  const conditions = [within, after && tupleCondition(primaryKey, after, '>')].filter((condition) => condition !== null);
  const columns = primaryKey.map(quoteId).join(', ');
  const found = await selectRaw(
    conn,
    `SELECT ${columns} FROM ${table} t ${conditions.length ? `WHERE ${conditions.map((c) => c.sql).join(' AND ')}` : ''} ORDER BY ${columns} LIMIT 1 OFFSET ${rows - 1}`,
    conditions.flatMap((c) => c.values),
  );
  return found.length ? primaryKey.map((name) => found[0][name] as KeyValue) : null;
}

/**
 * `(a, b) > (x, y)` spelled out as `a > x OR (a = x AND b > y)` (and `<=` likewise), which MySQL and MariaDB
 * both turn into index ranges. Columns are qualified with `alias` (default `t`).
 */
export function tupleCondition(columns: string[], values: KeyValue[], op: '>' | '<=', alias = 't'): { sql: string; values: KeyValue[] } {
  const strict = op === '>' ? '>' : '<';
  const terms: string[] = [];
  const params: KeyValue[] = [];
  const ref = (c: string) => `${quoteId(alias)}.${quoteId(c)}`;
  columns.forEach((column, i) => {
    const equal = columns.slice(0, i).map((c) => `${ref(c)} = ?`);
    terms.push([...equal, `${ref(column)} ${strict} ?`].join(' AND '));
    params.push(...values.slice(0, i), values[i]);
  });
  if (op === '<=') {
    terms.push(columns.map((c) => `${ref(c)} = ?`).join(' AND '));
    params.push(...values);
  }
  return { sql: `(${terms.map((term) => `(${term})`).join(' OR ')})`, values: params };
}

/**
 * A query read in pages of at most `pageRows` rows, each page after the last key of the one before: `fetch(after)`
 * reads the page after `after` (null: the first), `keyOf` gives a row's key; `start`: the key to read after (resuming).
 * Memory stays one page.
 */
export async function* keysetPages<Row, Key>(fetch: (after: Key | null) => Promise<Row[]>, keyOf: (row: Row) => Key, pageRows: number, start: Key | null = null): AsyncGenerator<Row[]> {
  let after = start;
  for (;;) {
    const page = await fetch(after);
    if (page.length) yield page;
    if (page.length < pageRows) return;
    after = keyOf(page[page.length - 1]);
  }
}

/** The primary-key columns of a table, in key order (empty when it has none). */
export async function primaryKeyOf(conn: Connection, schema: string, table: string): Promise<string[]> {
  const rows = await select<{ column_name: string }>(
    conn,
    `SELECT COLUMN_NAME AS column_name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`,
    [schema, table],
  );
  return rows.map((row) => row.column_name);
}

/**
 * SQL that is true when a store key made of `prefix` and the binary string `name` (a binary column, or `CAST(… AS
 * BINARY)`) is in the key range: only the rows of one listing pass are read. Null for the whole range.
 */
export function keyRangeCondition(name: string, prefix: string, range: KeyRange): { sql: string; values: Buffer[] } | null {
  const terms: string[] = [];
  const values: Buffer[] = [];
  for (const [bound, op] of [
    [range.from, '>='],
    [range.before, '<'],
  ] as const) {
    if (bound === undefined) continue;
    if (!bound.startsWith(prefix)) throw new Error(`key range bound ${bound} is not under ${prefix}`);
    terms.push(`${name} ${op} ?`);
    values.push(Buffer.from(bound.slice(prefix.length)));
  }
  return terms.length ? { sql: terms.join(' AND '), values } : null;
}
