// The statements the rewrite runs against live tables: metadata-only ADD COLUMN where the server can (with a
// fallback where it cannot), and lock waits capped so a migration never queues behind another session for long.
import { afterEach, expect, it } from 'vitest';
import { addColumn, execute, quoteId, select, tableRef, withLockWaitLimit } from '../../functions/core/db/sql.js';
import { freshSchema, openConnection, type FreshSchema } from '../harness/context.js';

let schema: FreshSchema | undefined;
afterEach(async () => {
  await schema?.cleanup();
  schema = undefined;
});

const columnsOf = async (current: FreshSchema, table: string) =>
  (await select<{ name: string }>(current.conn, 'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [current.name, table])).map((r) => r.name);

it('adds a column in place of its neighbours, instantly where possible and by the default algorithm where not', async () => {
  schema = await freshSchema('liveddl');
  await execute(schema.conn, `CREATE DATABASE ${quoteId(schema.name)}`);
  const plain = tableRef(schema.name, 'plain');
  const fulltext = tableRef(schema.name, 'with_fulltext');
  await execute(schema.conn, `CREATE TABLE ${plain} (id int NOT NULL, a char(51) NULL, b int NULL, PRIMARY KEY (id)) ENGINE=InnoDB`);
  // a FULLTEXT index rules out ALGORITHM=INSTANT on MariaDB and MySQL: the fallback must take over
  await execute(schema.conn, `CREATE TABLE ${fulltext} (id int NOT NULL, a char(51) NULL, t text, PRIMARY KEY (id), FULLTEXT KEY ft (t)) ENGINE=InnoDB`);
  await expect(execute(schema.conn, `ALTER TABLE ${fulltext} ADD COLUMN probe int NULL, ALGORITHM=INSTANT`)).rejects.toMatchObject({ code: expect.stringMatching(/^ER_ALTER_OPERATION_NOT_SUPPORTED/) });
  await execute(schema.conn, `INSERT INTO ${plain} VALUES (1, 'x', 2)`);
  await addColumn(schema.conn, plain, '`_djmigrate_1` binary(16) NULL DEFAULT NULL AFTER `a`');
  await addColumn(schema.conn, fulltext, '`_djmigrate_1` binary(16) NULL DEFAULT NULL AFTER `a`');
  expect(await columnsOf(schema, 'plain')).toEqual(['id', 'a', '_djmigrate_1', 'b']);
  expect(await columnsOf(schema, 'with_fulltext')).toEqual(['id', 'a', '_djmigrate_1', 't']);
});

it('adds a column by an online rebuild when asked (a new InnoDB table id), falling back where the server cannot rebuild online', async () => {
  schema = await freshSchema('liveddl');
  await execute(schema.conn, `CREATE DATABASE ${quoteId(schema.name)}`);
  const plain = tableRef(schema.name, 'plain');
  const fulltext = tableRef(schema.name, 'with_fulltext');
  await execute(schema.conn, `CREATE TABLE ${plain} (id int NOT NULL, a char(51) NULL, PRIMARY KEY (id)) ENGINE=InnoDB`);
  await execute(schema.conn, `CREATE TABLE ${fulltext} (id int NOT NULL, a char(51) NULL, t text, PRIMARY KEY (id), FULLTEXT KEY ft (t)) ENGINE=InnoDB`);
  await execute(schema.conn, `INSERT INTO ${plain} VALUES (1, 'x'), (2, NULL)`);
  const tableId = async (table: string) =>
    Number((await select<{ id: number }>(schema!.conn, 'SELECT TABLE_ID AS id FROM information_schema.INNODB_SYS_TABLES WHERE NAME = ?', [`${schema!.name}/${table}`]))[0].id);
  const before = await tableId('plain');
  await addColumn(schema.conn, plain, "`_djmigrate_1` binary(16) NOT NULL DEFAULT X'00000000000000000000000000000000' AFTER `a`", { rebuild: true });
  expect(await tableId('plain')).not.toBe(before);
  const rows = await select<{ id: number; value: Buffer }>(schema.conn, `SELECT id, _djmigrate_1 AS value FROM ${plain} ORDER BY id`);
  expect(rows.map((row) => [Number(row.id), row.value.toString('hex')])).toEqual([[1, '0'.repeat(32)], [2, '0'.repeat(32)]]);
  await addColumn(schema.conn, fulltext, '`_djmigrate_1` binary(16) NULL DEFAULT NULL AFTER `a`', { rebuild: true });
  expect(await columnsOf(schema, 'with_fulltext')).toEqual(['id', 'a', '_djmigrate_1', 't']);
});

it('gives up on a row lock after the limit (a transient error) and restores the session settings', async () => {
  schema = await freshSchema('lockwait');
  await execute(schema.conn, `CREATE DATABASE ${quoteId(schema.name)}`);
  const table = tableRef(schema.name, 't');
  await execute(schema.conn, `CREATE TABLE ${table} (id int NOT NULL, v int NULL, PRIMARY KEY (id)) ENGINE=InnoDB`);
  await execute(schema.conn, `INSERT INTO ${table} VALUES (1, 0)`);
  const holder = await openConnection();
  try {
    await holder.query('BEGIN');
    await holder.query(`UPDATE ${table} SET v = 1 WHERE id = 1`);
    const [before] = await select<{ lw: string; ilw: string }>(schema.conn, 'SELECT @@SESSION.lock_wait_timeout AS lw, @@SESSION.innodb_lock_wait_timeout AS ilw');
    const started = Date.now();
    await expect(withLockWaitLimit(schema.conn, 1, () => execute(schema!.conn, `UPDATE ${table} SET v = 2 WHERE id = 1`))).rejects.toMatchObject({ code: 'ER_LOCK_WAIT_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(30_000);
    const [after] = await select<{ lw: string; ilw: string }>(schema.conn, 'SELECT @@SESSION.lock_wait_timeout AS lw, @@SESSION.innodb_lock_wait_timeout AS ilw');
    expect(after).toEqual(before);
    await expect(withLockWaitLimit(schema.conn, 0, async () => 1)).rejects.toThrow(/whole number of seconds ≥ 1/);
  } finally {
    await holder.query('ROLLBACK');
    await holder.end();
  }
});
