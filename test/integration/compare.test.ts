// compareQueryResults against the sandbox's MariaDB: a 0.14 production table vs its 2.x copy.
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { afterEach, expect, it } from 'vitest';
import { hashOfDigest } from '../../functions/core/datajoint/v2.js';
import { execute, quoteId, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { compareQueryResults, compareStep, type CompareCheckpoint, type CompareResult, type CompareStep } from '../../functions/core/migrate014/compare.js';
import { freshSchemaName, openConnection } from '../harness/context.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest();

async function schemas(): Promise<{ conn: Connection; prod: string; test: string }> {
  const prod = freshSchemaName('cmp');
  const test = `${prod}_v2`;
  const conn = await openConnection();
  cleanups.push(async () => {
    for (const name of [prod, test]) await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(name)}`);
    await conn.end();
  });
  await execute(conn, `CREATE DATABASE ${quoteId(prod)}`);
  await execute(conn, `CREATE DATABASE ${quoteId(test)}`);
  return { conn, prod, test };
}

const TABLE = '#reading`s';

/** 0.14: float value, hidden 0.14 timestamp; 2.x: double value, `_job_version`, columns in another order. */
async function readingTables(conn: Connection, prod: string, test: string, rows = 10): Promise<void> {
  await execute(
    conn,
    `CREATE TABLE ${tableRef(prod, TABLE)} (subject varchar(16) NOT NULL, n int NOT NULL, value float NOT NULL, label varchar(32) NOT NULL, data longblob,
     note varchar(32) DEFAULT NULL, taken datetime NOT NULL, \`_abc_timestamp\` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (subject, n)) ENGINE=InnoDB`,
  );
  await execute(
    conn,
    `CREATE TABLE ${tableRef(test, TABLE)} (subject varchar(16) NOT NULL COMMENT ':varchar(16):', n int NOT NULL COMMENT ':int32:', label varchar(32) NOT NULL,
     value double NOT NULL COMMENT ':float64:', data longblob COMMENT ':<blob>:', note varchar(32) DEFAULT NULL, taken datetime(3) NOT NULL,
     \`_job_version\` varchar(64) DEFAULT '', PRIMARY KEY (subject, n)) ENGINE=InnoDB`,
  );
  for (let i = 0; i < rows; i++) {
    const row = [i % 2 ? "o'brien" : 'b`tick', i, i / 10 + 0.1, `label ${i}`, Buffer.from([0, i, 255]), i % 3 ? null : `note ${i}`, `2024-01-0${1 + (i % 9)} 10:00:00`];
    await execute(conn, `INSERT INTO ${tableRef(prod, TABLE)} (subject, n, value, label, data, note, taken) VALUES (?, ?, ?, ?, ?, ?, ?)`, row);
    await execute(conn, `INSERT INTO ${tableRef(test, TABLE)} (subject, n, value, label, data, note, taken, _job_version) VALUES (?, ?, ?, ?, ?, ?, ?, 'v2')`, row);
  }
}

it('reports a copy of a table as equal across chunks (hidden columns ignored, float vs double, datetime vs datetime(3))', async () => {
  const { conn, prod, test } = await schemas();
  await readingTables(conn, prod, test, 10);
  const result = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE, chunkRows: 3 });
  expect(result).toMatchObject({ match: true, row_count: 10, test_row_count: 10, discrepancies: [], truncated: false });
  expect(result.columns).toEqual({ compared: ['subject', 'n', 'value', 'label', 'data', 'note', 'taken'], onlyInProd: [], onlyInTest: [] });
});

it('in calls that stop after every chunk (through JSON, as the state carries it): the one-call result, every chunk read once', async () => {
  const { conn, prod, test } = await schemas();
  await readingTables(conn, prod, test, 10);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET label = 'changed' WHERE subject = ? AND n = 4`, ['b`tick']);
  await execute(conn, `DELETE FROM ${tableRef(test, TABLE)} WHERE subject = ? AND n = 7`, ["o'brien"]);
  for (const extra of ['new', 'newer', 'x\'y']) await execute(conn, `INSERT INTO ${tableRef(test, TABLE)} (subject, n, value, label, taken) VALUES (?, 1, 0, 'x', '2024-01-01')`, [extra]);
  const options = { prodSchema: prod, testSchema: test, table: TABLE, chunkRows: 3 };
  const whole = await compareQueryResults(conn, options);
  expect(whole.discrepancies.filter((d) => d.kind === 'missing-in-prod')).toHaveLength(3);
  let checkpoint: CompareCheckpoint | null = null;
  let calls = 0;
  let result: CompareResult | null = null;
  while (!result) {
    const step: CompareStep = JSON.parse(JSON.stringify(await compareStep(conn, options, { budgetMs: 0, checkpoint })));
    ({ result, checkpoint } = step);
    calls += 1;
    expect(calls).toBeLessThan(20);
  }
  expect(result).toEqual(JSON.parse(JSON.stringify(whole)));
  // pass 1: 10 production rows in chunks of 3 (4 calls); pass 2: 12 test rows in chunks of 3, until the 3 unmatched are found
  expect(calls).toBe(4 + 4);
});

it('names changed, missing and extra rows by primary key', async () => {
  const { conn, prod, test } = await schemas();
  await readingTables(conn, prod, test, 10);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET label = 'changed' WHERE subject = ? AND n = 4`, ['b`tick']);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET note = 'was null' WHERE subject = ? AND n = 1`, ["o'brien"]);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET data = ? WHERE subject = ? AND n = 6`, [Buffer.from([0, 6, 254]), 'b`tick']);
  await execute(conn, `DELETE FROM ${tableRef(test, TABLE)} WHERE subject = ? AND n = 7`, ["o'brien"]);
  await execute(conn, `INSERT INTO ${tableRef(test, TABLE)} (subject, n, value, label, taken) VALUES ('new', 1, 0, 'x', '2024-01-01')`);
  const result = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE, chunkRows: 4 });
  expect(result.match).toBe(false);
  expect(result.row_count).toBe(10);
  expect(result.discrepancies).toEqual(
    expect.arrayContaining([
      { key: { subject: 'b`tick', n: 4 }, column: 'label', kind: 'value', prod: 'label 4', test: 'changed' },
      { key: { subject: "o'brien", n: 1 }, column: 'note', kind: 'value', prod: null, test: 'was null' },
      { key: { subject: 'b`tick', n: 6 }, column: 'data', kind: 'value', prod: '0x0006ff', test: '0x0006fe' },
      { key: { subject: "o'brien", n: 7 }, kind: 'missing-in-test' },
      { key: { subject: 'new', n: 1 }, kind: 'missing-in-prod' },
    ]),
  );
  expect(result.discrepancies).toHaveLength(5);

  const firstTwo = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE, maxDiscrepancies: 2 });
  expect(firstTwo).toMatchObject({ match: false, truncated: true });
  expect(firstTwo.discrepancies).toHaveLength(2);
});

it('compares floats within the tolerance', async () => {
  const { conn, prod, test } = await schemas();
  await readingTables(conn, prod, test, 3);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET value = value + 5e-8 WHERE n = 0`);
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET value = 123456.7 WHERE n = 1`);
  await execute(conn, `UPDATE ${tableRef(prod, TABLE)} SET value = 123456.75 WHERE n = 1`);
  expect((await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE })).match).toBe(true); // relative above 1
  await execute(conn, `UPDATE ${tableRef(test, TABLE)} SET value = value + 1e-3 WHERE n = 2`);
  const outside = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE });
  expect(outside.match).toBe(false);
  expect(outside.discrepancies).toEqual([{ key: { subject: 'b`tick', n: 2 }, column: 'value', kind: 'value', prod: expect.closeTo(0.3, 6), test: expect.closeTo(0.301, 6) }]);
  expect((await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE, tolerance: 1e-2 })).match).toBe(true);
});

it('reports a row count mismatch', async () => {
  const { conn, prod, test } = await schemas();
  await readingTables(conn, prod, test, 5);
  await execute(conn, `DELETE FROM ${tableRef(test, TABLE)} WHERE n = 3`);
  const result = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: TABLE });
  expect(result).toMatchObject({ match: false, row_count: 5, test_row_count: 4 });
  expect(result.discrepancies).toEqual([
    { key: {}, kind: 'row-count', prod: 5, test: 4 },
    { key: { subject: "o'brien", n: 3 }, kind: 'missing-in-test' },
  ]);
});

it('treats a 0.14 binary(16) pointer and the 2.x JSON pointer to the same bytes as equal (incl. migrated 0.11 blobs, attach@, filepath@)', async () => {
  const { conn, prod, test } = await schemas();
  const ext = tableRef(prod, '~external_raw');
  await execute(
    conn,
    `CREATE TABLE ${ext} (hash binary(16) NOT NULL COMMENT ':uuid:hash', size bigint unsigned NOT NULL, attachment_name varchar(255) DEFAULT NULL,
     filepath varchar(1000) DEFAULT NULL, contents_hash binary(16) DEFAULT NULL, timestamp timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (hash)) ENGINE=InnoDB`,
  );
  await execute(
    conn,
    `CREATE TABLE ${tableRef(prod, 'recording')} (id int NOT NULL, trace binary(16) DEFAULT NULL COMMENT ':blob@raw:the trace', PRIMARY KEY (id),
     FOREIGN KEY (trace) REFERENCES ${ext} (hash)) ENGINE=InnoDB`,
  );
  await execute(conn, `CREATE TABLE ${tableRef(test, 'recording')} (id int NOT NULL COMMENT ':int32:', trace json DEFAULT NULL COMMENT ':<blob@main>:the trace', PRIMARY KEY (id)) ENGINE=InnoDB`);

  const objects = [Buffer.from('object one'), Buffer.from('object two'), Buffer.from('object three')];
  // 0: native 0.12+ blob (uuid = md5 of the bytes); 1: migrated from 0.11 (uuid = md5 of its path, contents_hash = md5 of the bytes); 2: NULL.
  await execute(conn, `INSERT INTO ${ext} (hash, size) VALUES (?, ?)`, [md5(objects[0]), objects[0].length]);
  const legacyPath = `${prod}/ZgfTYh4m1mlp3kBa50o_23wL6VM6wEfPJauVfE5F-dcraw`;
  await execute(conn, `INSERT INTO ${ext} (hash, size, filepath, contents_hash) VALUES (?, ?, ?, ?)`, [md5(legacyPath), objects[1].length, legacyPath, md5(objects[1])]);
  await execute(conn, `INSERT INTO ${tableRef(prod, 'recording')} VALUES (0, ?), (1, ?), (2, NULL)`, [md5(objects[0]), md5(legacyPath)]);
  const pointer = (bytes: Buffer, path: string) => JSON.stringify({ hash: hashOfDigest(md5(bytes)), path, schema: test, store: 'main', size: bytes.length });
  await execute(conn, `INSERT INTO ${tableRef(test, 'recording')} VALUES (0, ?), (1, ?), (2, NULL)`, [
    pointer(objects[0], `${prod}/xx/yy/${md5(objects[0]).toString('hex')}`),
    pointer(objects[1], legacyPath),
  ]);

  const equal = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'recording' });
  expect(equal).toMatchObject({ match: true, row_count: 3, discrepancies: [] });

  await execute(conn, `UPDATE ${tableRef(test, 'recording')} SET trace = ? WHERE id = 1`, [pointer(objects[2], legacyPath)]);
  const changed = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'recording' });
  expect(changed.discrepancies).toEqual([{ key: { id: 1 }, column: 'trace', kind: 'value', prod: hashOfDigest(md5(objects[1])), test: hashOfDigest(md5(objects[2])) }]);

  // attach@ (uuid = md5 of name + NUL + contents = the 2.x object's hash) and filepath@ (matched by relative path).
  const attachObject = Buffer.concat([Buffer.from('a.txt\0'), Buffer.from('contents')]);
  await execute(conn, `ALTER TABLE ${tableRef(prod, 'recording')} ADD COLUMN att binary(16) DEFAULT NULL COMMENT ':attach@raw:', ADD COLUMN fp binary(16) DEFAULT NULL COMMENT ':filepath@raw:'`);
  await execute(conn, `ALTER TABLE ${tableRef(test, 'recording')} ADD COLUMN att json DEFAULT NULL COMMENT ':<attach@main>:', ADD COLUMN fp json DEFAULT NULL COMMENT ':<filepath@main>:'`);
  await execute(conn, `INSERT INTO ${ext} (hash, size, attachment_name) VALUES (?, 8, 'a.txt')`, [md5(attachObject)]);
  await execute(conn, `INSERT INTO ${ext} (hash, size, filepath, contents_hash) VALUES (?, 4, 'dir/f.dat', ?)`, [md5('dir/f.dat'), md5('data')]);
  await execute(conn, `UPDATE ${tableRef(prod, 'recording')} SET att = ?, fp = ? WHERE id = 0`, [md5(attachObject), md5('dir/f.dat')]);
  await execute(conn, `UPDATE ${tableRef(test, 'recording')} SET att = ?, fp = ?, trace = ? WHERE id = 0`, [
    pointer(attachObject, `_hash/${test}/${hashOfDigest(md5(attachObject))}`),
    JSON.stringify({ path: 'dir/f.dat', store: 'main', size: 4, is_dir: false, timestamp: '2026-11-21T21:49:25.544320+00:00' }),
    pointer(objects[0], `${prod}/xx/yy/${md5(objects[0]).toString('hex')}`),
  ]);
  const withAttach = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'recording' });
  expect(withAttach.discrepancies.map((d) => `${String(d.key.id)}.${d.column}`)).toEqual(['1.trace']);
  await execute(conn, `UPDATE ${tableRef(test, 'recording')} SET fp = ? WHERE id = 0`, [JSON.stringify({ path: 'dir/other.dat', store: 'main', size: 4, is_dir: false, timestamp: '' })]);
  const otherPath = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'recording' });
  expect(otherPath.discrepancies).toContainEqual({ key: { id: 0 }, column: 'fp', kind: 'value', prod: 'filepath:dir/f.dat', test: 'filepath:dir/other.dat' });

  // A custom resolver is used instead of the default.
  const custom = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'recording', resolvePointer: async () => 'same' });
  expect(custom.match).toBe(true);
});

it('refuses a missing table or different primary keys', async () => {
  const { conn, prod, test } = await schemas();
  await execute(conn, `CREATE TABLE ${tableRef(prod, 't')} (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a))`);
  await expect(compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 't' })).rejects.toBeInstanceOf(MigrationRefusedError);
  await execute(conn, `CREATE TABLE ${tableRef(test, 't')} (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b))`);
  await expect(compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 't' })).rejects.toThrow(/primary keys differ/);
});

const DIGIT_LIST = Array.from({ length: 10 }, (_, i) => `SELECT ${i} AS x`).join(' UNION ALL ');
const DIGITS = `(${DIGIT_LIST})`;

it('compares more than 10,000 rows row by row (no CHECKSUM TABLE fallback) and finds one changed row', async () => {
  const { conn, prod, test } = await schemas();
  for (const db of [prod, test]) {
    await execute(conn, `CREATE TABLE ${tableRef(db, 'big')} (a int NOT NULL, b varchar(8) NOT NULL, v double NOT NULL, PRIMARY KEY (a, b)) ENGINE=InnoDB`);
    await execute(
      conn,
      `INSERT INTO ${tableRef(db, 'big')} SELECT n DIV 3, CONCAT('k', n MOD 3), n / 7 FROM
       (SELECT 1 + d1.x + 10 * d2.x + 100 * d3.x + 1000 * d4.x AS n FROM ${DIGITS} d1, ${DIGITS} d2, ${DIGITS} d3, (${DIGIT_LIST} UNION ALL SELECT 10 UNION ALL SELECT 11) d4) s`,
    );
  }
  // Same values, another column type: CHECKSUM TABLE could never match this.
  await execute(conn, `ALTER TABLE ${tableRef(test, 'big')} MODIFY v decimal(20, 10) NOT NULL`);
  expect((await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'big' })).match).toBe(true);
  await execute(conn, `UPDATE ${tableRef(test, 'big')} SET v = v + 1 WHERE a = 3833 AND b = 'k2'`);
  const result = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'big' });
  expect(result).toMatchObject({ match: false, row_count: 12000 });
  expect(result.discrepancies).toEqual([{ key: { a: 3833, b: 'k2' }, column: 'v', kind: 'value', prod: expect.closeTo(11501 / 7, 6), test: expect.closeTo(11501 / 7 + 1, 6) }]);
});

it('shows a long text or JSON value by its first 100 characters and its length (discrepancies travel in the state); finds changed JSON on MariaDB', async () => {
  // MariaDB's json is a longtext the driver parses: compared as text, any two objects were "[object Object]"
  const { conn, prod, test } = await schemas();
  for (const db of [prod, test]) await execute(conn, `CREATE TABLE ${tableRef(db, 'notes')} (id int NOT NULL, body mediumtext NOT NULL, meta json, PRIMARY KEY (id)) ENGINE=InnoDB`);
  const body = 'é'.repeat(50_000);
  const meta = JSON.stringify({ path: 'x'.repeat(300) });
  await execute(conn, `INSERT INTO ${tableRef(prod, 'notes')} VALUES (1, ?, ?), (2, 'short', NULL)`, [body, meta]);
  await execute(conn, `INSERT INTO ${tableRef(test, 'notes')} VALUES (1, ?, ?), (2, 'changed', NULL)`, [`${body}!`, JSON.stringify({ path: 'y'.repeat(300) })]);
  const result = await compareQueryResults(conn, { prodSchema: prod, testSchema: test, table: 'notes' });
  expect(result.discrepancies).toEqual([
    { key: { id: 1 }, column: 'body', kind: 'value', prod: `${'é'.repeat(100)}… (50000 characters)`, test: `${'é'.repeat(100)}… (50001 characters)` },
    { key: { id: 1 }, column: 'meta', kind: 'value', prod: expect.stringMatching(/^\{"path":"x{91}… \(311 characters of JSON\)$/), test: expect.stringMatching(/^\{"path":"y{91}… /) },
    { key: { id: 2 }, column: 'body', kind: 'value', prod: 'short', test: 'changed' },
  ]);
});
