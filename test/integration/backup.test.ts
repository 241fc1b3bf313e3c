// The local backup of an in-place 0.14 → 2.0 migration: a full copy, and a restore that brings back exactly
// the schema as it was (tables, columns, keys, foreign keys, rows) and deletes nothing.
import { afterEach, expect, it } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { backupName, backupSchema, restoreSchema } from '../../functions/core/migrate014/backup.js';
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
