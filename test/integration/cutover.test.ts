// cutover / rollback against the sandbox's MariaDB: one atomic RENAME TABLE per direction, FKs follow.
import type { Connection } from 'mysql2/promise';
import { afterEach, expect, it } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { cutover, rollback } from '../../functions/core/migrate014/cutover.js';
import { freshSchemaName, openConnection } from '../harness/context.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ conn: Connection; schema: string; old: string; v2: string }> {
  const schema = freshSchemaName('cut');
  const conn = await openConnection();
  const old = `${schema}_old`;
  const v2 = `${schema}_v2`;
  cleanups.push(async () => {
    for (const name of [schema, old, v2]) await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(name)}`);
    await conn.end();
  });
  await execute(conn, `CREATE DATABASE ${quoteId(schema)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await execute(conn, `CREATE DATABASE ${quoteId(v2)} CHARACTER SET latin1 COLLATE latin1_swedish_ci`);
  await buildPipeline(conn, schema, 'prod');
  await buildPipeline(conn, v2, 'v2');
  return { conn, schema, old, v2 };
}

/** subject ← session ← #trace (FK chain), `~log`, `~external_main` ← session.raw, a table name with a backtick. */
async function buildPipeline(conn: Connection, db: string, tag: string): Promise<void> {
  await execute(conn, `CREATE TABLE ${tableRef(db, '~external_main')} (hash binary(16) NOT NULL, size bigint unsigned NOT NULL, PRIMARY KEY (hash)) ENGINE=InnoDB`);
  await execute(conn, `CREATE TABLE ${tableRef(db, 'subject')} (subject_id int NOT NULL, name varchar(32) NOT NULL, PRIMARY KEY (subject_id)) ENGINE=InnoDB`);
  await execute(
    conn,
    `CREATE TABLE ${tableRef(db, 'session')} (subject_id int NOT NULL, session int NOT NULL, raw binary(16) DEFAULT NULL, PRIMARY KEY (subject_id, session),
     FOREIGN KEY (subject_id) REFERENCES ${tableRef(db, 'subject')} (subject_id), FOREIGN KEY (raw) REFERENCES ${tableRef(db, '~external_main')} (hash)) ENGINE=InnoDB`,
  );
  await execute(
    conn,
    `CREATE TABLE ${tableRef(db, '#trace`x')} (subject_id int NOT NULL, session int NOT NULL, v double NOT NULL, PRIMARY KEY (subject_id, session),
     FOREIGN KEY (subject_id, session) REFERENCES ${tableRef(db, 'session')} (subject_id, session)) ENGINE=InnoDB`,
  );
  await execute(conn, `CREATE TABLE ${tableRef(db, '~log')} (id int NOT NULL AUTO_INCREMENT, msg varchar(255), PRIMARY KEY (id)) ENGINE=InnoDB`);
  await execute(conn, `INSERT INTO ${tableRef(db, '~external_main')} VALUES (UNHEX(MD5(?)), 3)`, [tag]);
  for (let i = 1; i <= 3; i++) {
    await execute(conn, `INSERT INTO ${tableRef(db, 'subject')} VALUES (?, ?)`, [i, `${tag}-${i}`]);
    await execute(conn, `INSERT INTO ${tableRef(db, 'session')} VALUES (?, 1, UNHEX(MD5(?)))`, [i, tag]);
    await execute(conn, `INSERT INTO ${tableRef(db, '#trace`x')} VALUES (?, 1, ?)`, [i, i / 2]);
  }
  await execute(conn, `INSERT INTO ${tableRef(db, '~log')} (msg) VALUES (?)`, [`${tag} log`]);
}

async function snapshot(conn: Connection, db: string): Promise<Record<string, unknown[]> | null> {
  const [exists] = await select(conn, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db]);
  if (!exists) return null;
  const tables = await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db]);
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) out[name] = await select(conn, `SELECT * FROM ${tableRef(db, name)} ORDER BY 1`);
  return out;
}

async function foreignKeys(conn: Connection, db: string): Promise<string[]> {
  const rows = await select<{ child: string; parent_schema: string; parent: string }>(
    conn,
    'SELECT TABLE_NAME AS child, UNIQUE_CONSTRAINT_SCHEMA AS parent_schema, REFERENCED_TABLE_NAME AS parent FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY TABLE_NAME, REFERENCED_TABLE_NAME',
    [db],
  );
  return rows.map((r) => `${r.child} -> ${r.parent_schema === db ? '' : `${r.parent_schema}.`}${r.parent}`);
}

async function collation(conn: Connection, db: string): Promise<string | undefined> {
  const [row] = await select<{ c: string }>(conn, 'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db]);
  return row?.c;
}

async function refusal(promise: Promise<unknown>): Promise<MigrationRefusedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationRefusedError);
  return error as MigrationRefusedError;
}

it('moves every table in one RENAME, keeps rows and foreign keys, and rollback restores the names', async () => {
  const { conn, schema, old, v2 } = await setup();
  const prodBefore = await snapshot(conn, schema);
  const v2Before = await snapshot(conn, v2);
  const fks = ['#trace`x -> session', 'session -> subject', 'session -> ~external_main'];
  expect(await foreignKeys(conn, schema)).toEqual(fks);

  const result = await cutover(conn, { schema, suffix: '_v2', oldSuffix: '_old' });
  expect(result.moved).toHaveLength(10);
  expect(result.moved.slice(0, 5).every((m) => m.fromSchema === schema && m.toSchema === old)).toBe(true);
  expect(result.moved.slice(5).every((m) => m.fromSchema === v2 && m.toSchema === schema)).toBe(true);
  expect(result.createdDatabases).toEqual([old]);
  expect(result.droppedDatabases).toEqual([v2]);
  expect(result.alteredDatabases).toEqual([schema]);

  expect(await snapshot(conn, old)).toEqual(prodBefore);
  expect(await snapshot(conn, schema)).toEqual(v2Before);
  expect(await snapshot(conn, v2)).toBeNull();
  expect(await foreignKeys(conn, schema)).toEqual(fks);
  expect(await foreignKeys(conn, old)).toEqual(fks);
  expect(await collation(conn, old)).toBe('utf8mb4_bin');
  expect(await collation(conn, schema)).toBe('latin1_swedish_ci');
  // The FKs are enforced against the tables in their new databases.
  await expect(execute(conn, `INSERT INTO ${tableRef(schema, 'session')} VALUES (99, 1, NULL)`)).rejects.toThrow(/foreign key/i);
  await expect(execute(conn, `DELETE FROM ${tableRef(old, 'subject')} WHERE subject_id = 1`)).rejects.toThrow(/foreign key/i);
  await execute(conn, `INSERT INTO ${tableRef(schema, 'subject')} VALUES (4, 'v2-4')`);
  await execute(conn, `INSERT INTO ${tableRef(schema, 'session')} VALUES (4, 1, NULL)`);

  const back = await rollback(conn, { schema, suffix: '_v2', oldSuffix: '_old' });
  expect(back.moved).toHaveLength(10);
  expect(back.createdDatabases).toEqual([v2]);
  expect(back.droppedDatabases).toEqual([old]);
  expect(await snapshot(conn, schema)).toEqual(prodBefore);
  const v2After = await snapshot(conn, v2);
  expect(v2After!.subject).toHaveLength(4); // the row written after the cutover came back with the v2 tables
  expect({ ...v2After, subject: v2After!.subject.slice(0, 3), session: v2After!.session.slice(0, 3) }).toEqual(v2Before);
  expect(await snapshot(conn, old)).toBeNull();
  expect(await foreignKeys(conn, schema)).toEqual(fks);
  expect(await foreignKeys(conn, v2)).toEqual(fks);
  expect(await collation(conn, schema)).toBe('utf8mb4_bin');
  expect(await collation(conn, v2)).toBe('latin1_swedish_ci');
});

it('refuses, changing nothing, while _old holds tables, _v2 is missing, or a view/trigger exists', async () => {
  const { conn, schema, old, v2 } = await setup();
  const state = async () => [await snapshot(conn, schema), await snapshot(conn, old), await snapshot(conn, v2)];

  await execute(conn, `CREATE DATABASE ${quoteId(old)}`);
  await execute(conn, `CREATE TABLE ${tableRef(old, 'leftover')} (x int)`);
  let before = await state();
  expect((await refusal(cutover(conn, { schema }))).message).toMatch(/_old` already exists and holds 1 object/);
  expect(await state()).toEqual(before);
  await execute(conn, `DROP TABLE ${tableRef(old, 'leftover')}`);

  await execute(conn, `CREATE VIEW ${tableRef(schema, 'names')} AS SELECT name FROM ${tableRef(schema, 'subject')}`);
  await execute(conn, `CREATE TRIGGER ${quoteId(v2)}.${quoteId('trg')} BEFORE INSERT ON ${tableRef(v2, 'subject')} FOR EACH ROW SET NEW.name = NEW.name`);
  before = await state();
  const unmovable = await refusal(cutover(conn, { schema }));
  expect(unmovable.message).toContain(`view ${tableRef(schema, 'names')}`);
  expect(unmovable.message).toContain('trigger');
  expect(await state()).toEqual(before);
  await execute(conn, `DROP VIEW ${tableRef(schema, 'names')}`);
  await execute(conn, `DROP TRIGGER ${quoteId(v2)}.${quoteId('trg')}`);

  await execute(conn, `DROP DATABASE ${quoteId(v2)}`);
  before = await state();
  expect((await refusal(cutover(conn, { schema }))).message).toMatch(/_v2` does not exist/);
  expect(await state()).toEqual(before);
  expect((await refusal(rollback(conn, { schema }))).message).toMatch(/_old` has no tables/);
  expect(await state()).toEqual(before);
});

it('refuses while another session works in the schema or holds a lock on one of its tables', async () => {
  const { conn, schema, old, v2 } = await setup();
  const state = async () => [await snapshot(conn, schema), await snapshot(conn, old), await snapshot(conn, v2)];
  const before = await state();

  const other = await openConnection(schema);
  try {
    expect((await refusal(cutover(conn, { schema }))).message).toMatch(/other sessions are using/);
    expect(await state()).toEqual(before);
  } finally {
    await other.end();
  }

  // A session without a default database, inside a transaction that read a table: a metadata lock.
  const locker = await openConnection();
  try {
    await locker.query('BEGIN');
    await locker.query(`SELECT * FROM ${tableRef(v2, 'subject')}`);
    const error = await refusal(cutover(conn, { schema, lockWaitSeconds: 1 }));
    expect(error.message).toMatch(/lock/);
    expect(await state()).toEqual(before);
    await locker.query('ROLLBACK');
  } finally {
    await locker.end();
  }
  expect((await cutover(conn, { schema })).moved).toHaveLength(10);
});

it('refuses when a table outside the moved schemas references a table that would be parked, and moves several schemas together', async () => {
  const { conn, schema, old, v2 } = await setup();
  const lab = freshSchemaName('cutlab');
  cleanups.push(async () => {
    for (const name of [lab, `${lab}_old`, `${lab}_v2`]) await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(name)}`);
  });
  for (const db of [lab, `${lab}_v2`]) {
    await execute(conn, `CREATE DATABASE ${quoteId(db)}`);
    const target = db === lab ? schema : v2;
    await execute(conn, `CREATE TABLE ${tableRef(db, 'surgery')} (subject_id int NOT NULL, PRIMARY KEY (subject_id), FOREIGN KEY (subject_id) REFERENCES ${tableRef(target, 'subject')} (subject_id)) ENGINE=InnoDB`);
    await execute(conn, `INSERT INTO ${tableRef(db, 'surgery')} VALUES (2)`);
  }
  await execute(conn, `CREATE TABLE ${tableRef(v2, 'bad')} (subject_id int NOT NULL, PRIMARY KEY (subject_id), FOREIGN KEY (subject_id) REFERENCES ${tableRef(schema, 'subject')} (subject_id)) ENGINE=InnoDB`);
  const error = await refusal(cutover(conn, { schema }));
  expect(error.message).toContain(`${tableRef(lab, 'surgery')} references ${tableRef(schema, 'subject')}`);
  expect(error.message).toMatch(/`bad` references .*Re-declare that table/);
  await execute(conn, `DROP TABLE ${tableRef(v2, 'bad')}`);
  expect(await snapshot(conn, old)).toBeNull();

  const both = await cutover(conn, { schema: [schema, lab] });
  expect(both.moved).toHaveLength(12);
  expect(await foreignKeys(conn, lab)).toEqual([`surgery -> ${schema}.subject`]);
  expect(await foreignKeys(conn, `${lab}_old`)).toEqual([`surgery -> ${old}.subject`]);
  expect(await snapshot(conn, lab)).toEqual({ surgery: [{ subject_id: 2 }] });
});
