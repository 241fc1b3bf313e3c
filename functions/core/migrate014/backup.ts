// Local backup for an in-place 0.14 → 2.0 migration: a full copy of the schema into `<schema>_backup_<date>`
// (tables, keys, foreign keys and rows), and a restore that swaps the copy back in one atomic RENAME TABLE,
// keeping the replaced tables in `<schema>_replaced_<time>` so that a restore deletes nothing either.
// In AWS the backup is an RDS snapshot instead.
import type { Connection } from 'mysql2/promise';
import { execute, quoteId, schemaDefaults, select, tableRef, withoutForeignKeyChecks } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import { LOCK_TABLE } from '../lock/schema-lock.js';

const MAX_NAME = 64;
/**
 * Created first in a backup, naming its source; marked complete once every row is copied and counted. A rerun reuses
 * a complete backup, and takes again one that a crash left incomplete: every table in it is a copy this tool made.
 */
export const BACKUP_MARKER_TABLE = '~djmigrate_backup';

export interface SchemaCopy {
  backup: string;
  tables: { table: string; rows: number }[];
}

export function backupName(schema: string, date: Date): string {
  return `${schema}_backup_${date.toISOString().slice(0, 10).replace(/-/g, '')}`;
}

async function schemaExists(conn: Connection, schema: string): Promise<{ charset: string; collation: string } | null> {
  const row = await schemaDefaults(conn, schema);
  // Names from the server itself, checked anyway since they go into DDL unquoted.
  if (row && !/^\w+$/.test(row.charset + row.collation)) throw new MigrationRefusedError(`unexpected character set ${row.charset} / ${row.collation} on ${schema}`);
  return row;
}

async function tablesOf(conn: Connection, schema: string): Promise<{ name: string; type: string }[]> {
  return select<{ name: string; type: string }>(
    conn,
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [schema],
  );
}

/** The schema's tables a backup copies; refused when it has views. */
async function tablesToCopy(conn: Connection, schema: string): Promise<{ name: string }[]> {
  // the run's own lock is not data: a restored schema must not come back locked
  const tables = (await tablesOf(conn, schema)).filter((table) => table.name !== LOCK_TABLE);
  const views = tables.filter((table) => table.type !== 'BASE TABLE');
  if (views.length) throw new MigrationRefusedError(`schema ${schema} has views, which this backup does not copy; back it up with mysqldump instead:`, views.map((v) => v.name));
  return tables;
}

/** Copies every table of `schema` with its DDL (foreign keys included) and rows into a new database. */
export async function backupSchema(conn: Connection, schema: string, name = backupName(schema, new Date())): Promise<SchemaCopy> {
  const source = await schemaExists(conn, schema);
  if (!source) throw new MigrationRefusedError(`schema ${schema} does not exist; check the schema name`);
  if (name.length > MAX_NAME) throw new MigrationRefusedError(`the backup name ${name} is longer than ${MAX_NAME} characters; choose a shorter one`);
  if (await schemaExists(conn, name)) throw new MigrationRefusedError(`${name} already exists; drop or rename it, or choose another backup name`);
  const tables = await tablesToCopy(conn, schema);

  await execute(conn, `CREATE DATABASE ${quoteId(name)} DEFAULT CHARACTER SET ${source.charset} COLLATE ${source.collation}`);
  const marker = tableRef(name, BACKUP_MARKER_TABLE);
  await execute(
    conn,
    `CREATE TABLE ${marker} (source varchar(64) NOT NULL, tables int unsigned NOT NULL DEFAULT 0, complete boolean NOT NULL DEFAULT FALSE, ` +
      `taken_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (source)) COMMENT='djmigrate: a backup, complete once marked so'`,
  );
  await execute(conn, `INSERT INTO ${marker} (source) VALUES (?)`, [schema]);
  const copied: SchemaCopy = { backup: name, tables: [] };
  // Tables are created in name order, so foreign keys may point at tables created later.
  await withoutForeignKeyChecks(conn, async () => {
    for (const { name: table } of tables) {
      const [created] = await select<{ 'Create Table': string }>(conn, `SHOW CREATE TABLE ${tableRef(schema, table)}`);
      // SHOW CREATE TABLE names the table unqualified and its same-schema parents unqualified: qualify the
      // new table so it, and those parents, resolve in the backup database.
      const ddl = created['Create Table'].replace(/^CREATE TABLE `(?:[^`]|``)+`/, `CREATE TABLE ${tableRef(name, table)}`);
      await execute(conn, ddl);
      const rows = await execute(conn, `INSERT INTO ${tableRef(name, table)} SELECT * FROM ${tableRef(schema, table)}`);
      copied.tables.push({ table, rows });
    }
  });
  for (const { table, rows } of copied.tables) {
    const [{ n }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(name, table)}`);
    if (Number(n) !== rows) throw new MigrationRefusedError(`the backup of ${schema}.${table} holds ${n} rows, not ${rows}; the schema changed during the backup — rerun it while nothing writes`);
  }
  await execute(conn, `UPDATE ${marker} SET tables = ?, complete = TRUE WHERE source = ?`, [copied.tables.length, schema]);
  return copied;
}

/**
 * The backup of a run that may be a rerun: today's backup of `schema` when an earlier run completed it, else a new
 * one. One that a crash left incomplete is dropped and taken again: its marker names `schema` (what it holds are this
 * tool's copies), or it holds nothing yet. Any other database of that name is refused, never touched.
 */
export async function ensureSchemaBackup(conn: Connection, schema: string, name = backupName(schema, new Date())): Promise<SchemaCopy & { reused: boolean }> {
  if (!(await schemaExists(conn, name))) return { ...(await backupSchema(conn, schema, name)), reused: false };
  const present = await tablesOf(conn, name);
  const marked = present.some((table) => table.name === BACKUP_MARKER_TABLE);
  // SELECT *: an earlier version's marker has no `complete` (it was written only once the backup was)
  const [marker] = marked ? await select<{ source: string; complete?: number }>(conn, `SELECT * FROM ${tableRef(name, BACKUP_MARKER_TABLE)}`) : [];
  // a crash before the marker had its row leaves nothing to keep
  const empty = !marker && present.every((table) => table.name === BACKUP_MARKER_TABLE);
  if (empty || (marker?.source === schema && marker.complete !== undefined && !Number(marker.complete))) {
    await execute(conn, `DROP DATABASE ${quoteId(name)}`);
    return { ...(await backupSchema(conn, schema, name)), reused: false };
  }
  if (marker?.source !== schema) {
    throw new MigrationRefusedError(`${name} already exists but is not a djmigrate backup of ${schema}; drop or rename it and rerun`);
  }
  const tables: SchemaCopy['tables'] = [];
  for (const { name: table } of present) {
    if (table === BACKUP_MARKER_TABLE) continue;
    const [{ n }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(name, table)}`);
    tables.push({ table, rows: Number(n) });
  }
  return { backup: name, tables, reused: true };
}

export interface Restored {
  restored: string[];
  /** Where the tables that were replaced now are (nothing is dropped). */
  replacedInto: string;
}

/** Puts the backup's tables back in place of the schema's, all in one atomic RENAME TABLE. */
export async function restoreSchema(conn: Connection, schema: string, backup: string, now = new Date()): Promise<Restored> {
  const target = await schemaExists(conn, schema);
  if (!target) throw new MigrationRefusedError(`schema ${schema} does not exist; nothing to restore into`);
  if (!(await schemaExists(conn, backup))) throw new MigrationRefusedError(`backup ${backup} does not exist; list the backups with SHOW DATABASES LIKE '${schema}\\_backup\\_%'`);
  const replacedInto = `${schema}_replaced_${now.toISOString().replace(/\D/g, '').slice(0, 14)}`.slice(0, MAX_NAME);
  if (await schemaExists(conn, replacedInto)) throw new MigrationRefusedError(`${replacedInto} already exists; wait a second and retry`);
  const current = await tablesOf(conn, schema);
  const saved = (await tablesOf(conn, backup)).filter((table) => table.name !== BACKUP_MARKER_TABLE);
  if (saved.length === 0) throw new MigrationRefusedError(`backup ${backup} holds no tables; it was already restored or never filled`);
  await execute(conn, `CREATE DATABASE ${quoteId(replacedInto)} DEFAULT CHARACTER SET ${target.charset} COLLATE ${target.collation}`);
  const moves = [
    ...current.map(({ name }) => `${tableRef(schema, name)} TO ${tableRef(replacedInto, name)}`),
    ...saved.map(({ name }) => `${tableRef(backup, name)} TO ${tableRef(schema, name)}`),
  ];
  await execute(conn, `RENAME TABLE ${moves.join(', ')}`);
  await execute(conn, `DROP DATABASE ${quoteId(backup)}`);
  return { restored: saved.map((table) => table.name), replacedInto };
}
