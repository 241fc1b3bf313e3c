// The local backup of an in-place 0.14 → 2.0 migration: a full copy, and a restore that brings back exactly
// the schema as it was (tables, columns, keys, foreign keys, rows) and deletes nothing.
import { afterEach, expect, it } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { BACKUP_MARKER_TABLE, backupName, backupSchema, ensureSchemaBackup, restoreSchema } from '../../functions/core/migrate014/backup.js';
import { freshSchema, type FreshSchema } from '../harness/context.js';
import { schemaSnapshot } from '../harness/migration.js';

let schema: FreshSchema | undefined;
const extra: string[] = [];
afterEach(async () => {
  for (const name of extra.splice(0)) await schema?.conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
  await schema?.cleanup();
  schema = undefined;
});

it('copies a schema with its foreign keys and rows, and restores it atomically after changes', async () => {
  schema = await freshSchema('backup');
  const { conn, name } = schema;
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  await execute(conn, `CREATE TABLE ${tableRef(name, 'session')} (session_id int NOT NULL, note varchar(20) NOT NULL DEFAULT 'x', PRIMARY KEY (session_id))`);
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, '_scan')} (session_id int NOT NULL, scan_id int NOT NULL, data longblob, PRIMARY KEY (session_id, scan_id),
       FOREIGN KEY (session_id) REFERENCES ${tableRef(name, 'session')} (session_id) ON UPDATE CASCADE)`,
  );
  await execute(conn, `CREATE TABLE ${tableRef(name, '~log')} (id int PRIMARY KEY, event varchar(255))`);
  await execute(conn, `INSERT INTO ${tableRef(name, 'session')} VALUES (1, 'a'), (2, 'b')`);
  await execute(conn, `INSERT INTO ${tableRef(name, '_scan')} VALUES (1, 1, x'00ff'), (2, 1, NULL)`);
  await execute(conn, `INSERT INTO ${tableRef(name, '~log')} VALUES (1, 'declared')`);
  const before = await schemaSnapshot(conn, name, { includeJournal: true });

  const backup = backupName(name.slice(0, 40), new Date('2026-11-21T12:00:00Z'));
  expect(backup).toMatch(/_backup_20261121$/);
  extra.push(backup);
  const copy = await backupSchema(conn, name, backup);
  expect([...copy.tables].sort((a, b) => (a.table < b.table ? -1 : 1))).toEqual([
    { table: '_scan', rows: 2 },
    { table: 'session', rows: 2 },
    { table: '~log', rows: 1 },
  ]);
  const [fk] = await select<{ referenced_schema: string }>(
    conn,
    `SELECT REFERENCED_TABLE_SCHEMA AS referenced_schema FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '_scan' AND REFERENCED_TABLE_NAME IS NOT NULL`,
    [backup],
  );
  expect(fk.referenced_schema).toBe(backup);
  // every table it creates has a primary key (RDS MySQL with sql_require_primary_key refuses any other), its marker too
  const keyless = await select<{ name: string }>(
    conn,
    `SELECT t.TABLE_NAME AS name FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ?
        AND NOT EXISTS (SELECT 1 FROM information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY')`,
    [backup],
  );
  expect(keyless).toEqual([]);
  await expect(backupSchema(conn, name, backup)).rejects.toThrow(/already exists/);

  // The migration changes things...
  await execute(conn, `ALTER TABLE ${tableRef(name, '_scan')} ADD COLUMN pointer json NULL`);
  await execute(conn, `DELETE FROM ${tableRef(name, '_scan')} WHERE session_id = 2`);
  await execute(conn, `CREATE TABLE ${tableRef(name, '~lineage')} (table_name varchar(64) PRIMARY KEY)`);

  const restored = await restoreSchema(conn, name, backup, new Date('2026-11-21T13:14:15Z'));
  extra.push(restored.replacedInto);
  expect([...restored.restored].sort()).toEqual(['_scan', 'session', '~log']);
  expect(await schemaSnapshot(conn, name, { includeJournal: true })).toEqual(before);
  const replaced = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [restored.replacedInto])).map((r) => r.name).sort();
  expect(replaced).toEqual(['_scan', 'session', '~lineage', '~log']);
  expect(await select(conn, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [backup])).toEqual([]);
});

it('a rerun reuses a complete backup, takes again one a crash left incomplete, and refuses any other database of its name', async () => {
  schema = await freshSchema('rebackup');
  const { conn, name } = schema;
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  await execute(conn, `CREATE TABLE ${tableRef(name, 'session')} (session_id int NOT NULL, PRIMARY KEY (session_id))`);
  await execute(conn, `INSERT INTO ${tableRef(name, 'session')} VALUES (1), (2), (3)`);
  const backup = `${name}_bk`;
  extra.push(backup);
  const rows = () => select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(backup, 'session')}`).then(([row]) => Number(row.n));

  expect(await ensureSchemaBackup(conn, name, backup)).toMatchObject({ reused: false, tables: [{ table: 'session', rows: 3 }] });
  expect(await ensureSchemaBackup(conn, name, backup)).toMatchObject({ reused: true, tables: [{ table: 'session', rows: 3 }] });

  // a crash in the middle of the copy: the marker is there, not yet marked complete
  await execute(conn, `DELETE FROM ${tableRef(backup, 'session')} WHERE session_id > 1`);
  await execute(conn, `UPDATE ${tableRef(backup, BACKUP_MARKER_TABLE)} SET complete = FALSE`);
  expect(await ensureSchemaBackup(conn, name, backup)).toMatchObject({ reused: false, tables: [{ table: 'session', rows: 3 }] });
  expect(await rows()).toBe(3);

  // a crash right after CREATE DATABASE: empty
  await execute(conn, `DROP DATABASE ${quoteId(backup)}`);
  await execute(conn, `CREATE DATABASE ${quoteId(backup)}`);
  expect(await ensureSchemaBackup(conn, name, backup)).toMatchObject({ reused: false, tables: [{ table: 'session', rows: 3 }] });

  // a database of that name that this tool did not make, or made for another schema: refused and left as it is
  await execute(conn, `DROP TABLE ${tableRef(backup, BACKUP_MARKER_TABLE)}`);
  await execute(conn, `DELETE FROM ${tableRef(backup, 'session')} WHERE session_id = 3`);
  await expect(ensureSchemaBackup(conn, name, backup)).rejects.toThrow(`${backup} already exists but is not a djmigrate backup of ${name}; drop or rename it and rerun`);
  await execute(conn, `CREATE TABLE ${tableRef(backup, BACKUP_MARKER_TABLE)} (source varchar(64) NOT NULL PRIMARY KEY, complete boolean NOT NULL)`);
  await execute(conn, `INSERT INTO ${tableRef(backup, BACKUP_MARKER_TABLE)} VALUES ('another_schema', FALSE)`);
  await expect(ensureSchemaBackup(conn, name, backup)).rejects.toThrow(/is not a djmigrate backup/);
  expect(await rows()).toBe(2);
});
