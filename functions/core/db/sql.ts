// Every identifier and value reaches MySQL through mysql2's escaping: DataJoint table names start with `~`,
// `#` or `_`, and a hostile name may contain backticks or quotes.
import mysql, { type Connection, type FieldPacket, type RowDataPacket, type TypeCast } from 'mysql2/promise';
import { MigrationRefusedError } from '../errors.js';

/** One quoted identifier; dots are part of the name, never a qualifier. */
export function quoteId(name: string): string {
  return mysql.escapeId(name, true);
}

/** `db`.`table` */
export function tableRef(database: string, table: string): string {
  return `${quoteId(database)}.${quoteId(table)}`;
}

export function quoteValue(value: unknown): string {
  return mysql.escape(value as Parameters<typeof mysql.escape>[0]);
}

export type Row = Record<string, unknown>;

export async function select<T extends object = Row>(conn: Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = (await conn.query<RowDataPacket[]>(sql, values)) as [RowDataPacket[], FieldPacket[]];
  return rows as T[];
}

export async function execute(conn: Connection, sql: string, values: unknown[] = []): Promise<number> {
  const [result] = await conn.query(sql, values);
  return (result as { affectedRows?: number }).affectedRows ?? 0;
}

/** Runs `work` in one transaction: committed when it returns, rolled back when it throws. */
export async function inTransaction<T>(conn: Connection, work: () => Promise<T>): Promise<T> {
  await execute(conn, 'START TRANSACTION');
  try {
    const result = await work();
    await execute(conn, 'COMMIT');
    return result;
  } catch (error) {
    await execute(conn, 'ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** The rows an UPDATE changed; execute() counts the rows it matched (mysql2 asks the server for found rows). */
export async function executeChanged(conn: Connection, sql: string, values: unknown[] = []): Promise<number> {
  const [result] = await conn.query(sql, values);
  return (result as { changedRows?: number }).changedRows ?? 0;
}

const TEXT_OR_BYTES = new Set(['STRING', 'VAR_STRING', 'VARCHAR', 'TINY_BLOB', 'MEDIUM_BLOB', 'LONG_BLOB', 'BLOB', 'ENUM', 'SET', 'JSON', 'GEOMETRY', 'BIT']);

/**
 * Values exactly as the server sent them: numbers and dates as text, strings and binary columns as mysql2
 * decodes them (Buffer for binary), so keys read in one statement can be sent back in the next without losing
 * precision (bigint, decimal, datetime(6)).
 */
export const rawTypeCast: TypeCast = (field, next) => (TEXT_OR_BYTES.has(field.type) ? next() : field.string());

/** Raw-typed select (see rawTypeCast). */
export async function selectRaw<T extends object = Row>(conn: Connection, sql: string, values: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql, values, typeCast: rawTypeCast });
  return rows as T[];
}

/** Raw-typed select whose rows are arrays in the order of the select list (no column name can clash with an alias). */
export async function selectRawArrays(conn: Connection, sql: string, values: unknown[] = []): Promise<unknown[][]> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql, values, typeCast: rawTypeCast, rowsAsArray: true });
  return rows as unknown as unknown[][];
}

/**
 * SQL that is true when some row of `table` has `column` = `value` (all three already quoted), found by one probe of
 * the column's index. A scalar subquery with LIMIT, not EXISTS or IN: MariaDB turns those into a semi-join that may
 * read the whole index instead, once per query (0.73 s for a 1M-row column pointing at 20 of 3,000 objects, against
 * 9 ms), and a query paged over the referenced rows would pay that per page.
 */
export function indexProbe(table: string, column: string, value: string): string {
  return keyProbe(`${table} r`, `r.${column} = ${value}`);
}

/**
 * As indexProbe, on any condition of an index's columns: true when `from` has a row where `where` holds (`absent`:
 * when it has none). In a query paged with LIMIT, NOT EXISTS against a table that grows as the pages are written (a
 * map of pointers) was materialized whole for every page: building 400,000 pointers took 58 s, against 4.6 s for
 * 100,000.
 */
export function keyProbe(from: string, where: string, absent = false): string {
  return `(SELECT 1 FROM ${from} WHERE ${where} LIMIT 1) IS ${absent ? '' : 'NOT '}NULL`;
}

/** The server's estimate of a column's distinct values (the cardinality of an index it leads), null when it has none. */
export async function estimatedDistinctValues(conn: Connection, schema: string, table: string, column: string): Promise<number | null> {
  const [{ cardinality }] = await select<{ cardinality: number | null }>(
    conn,
    'SELECT MAX(CARDINALITY) AS cardinality FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1',
    [schema, table, column],
  );
  return cardinality === null ? null : Number(cardinality);
}

/** MySQL and MariaDB differ in DDL details (defaults, foreign-key rules), so some statements are spelled per server. */
export type ServerFlavor = 'mysql' | 'mariadb';

export async function serverFlavor(conn: Connection): Promise<ServerFlavor> {
  const [row] = await select<{ version: string }>(conn, 'SELECT VERSION() AS version');
  return /mariadb/i.test(String(row?.version ?? '')) ? 'mariadb' : 'mysql';
}

/** Runs `work` with the session's foreign-key checks off (statements that must not validate or order by them), then turns them back on. */
export async function withoutForeignKeyChecks<T>(conn: Connection, work: () => Promise<T>): Promise<T> {
  await execute(conn, 'SET SESSION FOREIGN_KEY_CHECKS = 0');
  try {
    return await work();
  } finally {
    await execute(conn, 'SET SESSION FOREIGN_KEY_CHECKS = 1');
  }
}

/** How long a migration statement waits for a lock held by another session before giving up (and being retried). */
export const DEFAULT_LOCK_WAIT_SECONDS = 10;

/**
 * Runs `work` with the session's lock waits capped at `seconds` (metadata locks for DDL, row locks for DML), then
 * restores them. On a live schema a statement that would queue behind a long transaction fails fast instead
 * (ER_LOCK_WAIT_TIMEOUT: retried as transient) rather than blocking every session queued behind it.
 */
export async function withLockWaitLimit<T>(conn: Connection, seconds: number, work: () => Promise<T>): Promise<T> {
  if (!Number.isInteger(seconds) || seconds < 1) throw new MigrationRefusedError(`the lock wait limit must be a whole number of seconds ≥ 1, got ${seconds}`);
  const [saved] = await select<{ metadata: number | string; row: number | string }>(conn, 'SELECT @@SESSION.lock_wait_timeout AS metadata, @@SESSION.innodb_lock_wait_timeout AS `row`');
  await execute(conn, 'SET SESSION lock_wait_timeout = ?, SESSION innodb_lock_wait_timeout = ?', [seconds, seconds]);
  try {
    return await work();
  } finally {
    await execute(conn, 'SET SESSION lock_wait_timeout = ?, SESSION innodb_lock_wait_timeout = ?', [Number(saved.metadata), Number(saved.row)]);
  }
}

/**
 * `ALTER TABLE … ADD COLUMN` (one or several) as a metadata-only change where the server can (MariaDB ≥ 10.4,
 * MySQL ≥ 8.0.29: no table copy, no long lock on a big table), else as the server's default algorithm. `rebuild`:
 * first try an online rebuild (concurrent reads and writes go on), so every row carries the new column's default up
 * front: an UPDATE that then sets it keeps the row's size, where on an instantly added column each updated row grows
 * and its page splits (several times slower, and the table ends up ~60 % bigger). Where the server cannot rebuild
 * online (a FULLTEXT index), it falls back as above.
 */
export async function addColumn(conn: Connection, table: string, columnSql: string | readonly string[], { rebuild = false } = {}): Promise<void> {
  const additions = [columnSql].flat().map((definition) => `ADD COLUMN ${definition}`).join(', ');
  const algorithms = [...(rebuild ? [', FORCE, ALGORITHM=INPLACE, LOCK=NONE'] : []), ', ALGORITHM=INSTANT'];
  for (const algorithm of algorithms) {
    try {
      await execute(conn, `ALTER TABLE ${table} ${additions}${algorithm}`);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!/^ER_ALTER_OPERATION_NOT_SUPPORTED/.test(code) && code !== 'ER_NOT_SUPPORTED_YET') throw error;
    }
  }
  await execute(conn, `ALTER TABLE ${table} ${additions}`);
}

export interface SchemaDefaults {
  charset: string;
  collation: string;
}

/** The schema's default character set and collation, or null when the server has no such schema. */
export async function schemaDefaults(conn: Connection, schema: string): Promise<SchemaDefaults | null> {
  const [row] = await select<SchemaDefaults>(
    conn,
    'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [schema],
  );
  return row ?? null;
}

/** Refuses, saying what to check, when the schema does not exist. */
export async function requireSchema(conn: Connection, schema: string): Promise<SchemaDefaults> {
  const defaults = await schemaDefaults(conn, schema);
  if (!defaults) throw new MigrationRefusedError(`schema ${schema} does not exist on this server: check the schema name and the database host in the config`);
  return defaults;
}
