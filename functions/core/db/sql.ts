// Every identifier and value reaches MySQL through mysql2's escaping: DataJoint table names start with `~`,
// `#` or `_`, and a hostile name may contain backticks or quotes.
import mysql, { type Connection, type FieldPacket, type RowDataPacket, type TypeCast } from 'mysql2/promise';

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
