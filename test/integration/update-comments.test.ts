// update_blob_comments against the real MariaDB: the `animal`/`sample` tables of real-examples 5.2 (0.14.6 DDL)
// get exactly the comments 2.3.2 wrote for the same attributes (real-examples 6.2/6.3), and every other part of
// every column (type, NULL, DEFAULT, EXTRA, charset, collation, CHECK, position), every index and every FK stays.
import { afterEach, expect, it } from 'vitest';
import { externalTableDdl } from '../../functions/core/datajoint/v012.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { applyCommentUpdates, planCommentUpdates } from '../../functions/core/migrate014/update-comments.js';
import { freshSchema, type FreshSchema } from '../harness/context.js';

let fresh: FreshSchema | undefined;
afterEach(async () => {
  await fresh?.cleanup();
  fresh = undefined;
});

async function buildExample(schema: FreshSchema): Promise<void> {
  const { conn, name } = schema;
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  await execute(conn, externalTableDdl(name, 'main', quoteId));
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, 'animal')} (
       animal_id int NOT NULL COMMENT "animal number",
       species varchar(32) NOT NULL DEFAULT 'mouse' COMMENT "species name",
       PRIMARY KEY (animal_id)
     ) ENGINE=InnoDB`,
  );
  // As 0.14.6 declares it (real-examples 5.2), except `sample_id`, declared `int` as in the 2.3.2 table (6.2) so
  // that its marker can be compared; `n_spikes` keeps the unsigned type. `report` is an internal attachment.
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, 'sample')} (
       animal_id int NOT NULL COMMENT "animal number",
       sample_id int NOT NULL COMMENT "sample number",
       label varchar(32) NOT NULL DEFAULT 'none' COMMENT "free text",
       n_spikes int unsigned NOT NULL DEFAULT 0 COMMENT "spike count",
       gain float NOT NULL DEFAULT 1.5 COMMENT "amplifier gain",
       \`offset\` double NOT NULL DEFAULT 0.25 COMMENT "baseline offset",
       raw longblob NOT NULL COMMENT "in-table blob",
       waveform binary(16) NOT NULL COMMENT ":blob@main:external blob",
       report longblob NOT NULL COMMENT ":attach:attachment",
       PRIMARY KEY (animal_id, sample_id),
       FOREIGN KEY (animal_id) REFERENCES ${tableRef(name, 'animal')} (animal_id) ON UPDATE CASCADE,
       FOREIGN KEY (waveform) REFERENCES ${tableRef(name, '~external_main')} (hash) ON UPDATE RESTRICT ON DELETE RESTRICT
     ) ENGINE=InnoDB`,
  );
  // Every kind of DEFAULT, NULL-ability, AUTO_INCREMENT, collations, a MariaDB JSON column, an existing marker.
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, 'extra`s')} (
       id int NOT NULL AUTO_INCREMENT COMMENT "row id",
       quip varchar(40) NOT NULL DEFAULT 'it''s "fine" \\\\ ok' COMMENT "quote: 'single' and \\"double\\"",
       created timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT "native timestamp",
       touched datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3) COMMENT "last change",
       note varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL COMMENT "case-sensitive",
       latin varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL DEFAULT '' COMMENT "",
       maybe_n smallint COMMENT "optional",
       ratio decimal(6,3) NOT NULL DEFAULT 1.250 COMMENT "ratio",
       mood enum('calm','busy') CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT 'calm' COMMENT "mood",
       day date DEFAULT '2020-01-01' COMMENT "day",
       flags tinyint NOT NULL DEFAULT -1 COMMENT "flags",
       big bigint unsigned NOT NULL DEFAULT 18446744073709551615 COMMENT "big",
       doc json DEFAULT NULL COMMENT "document",
       code char(3) NOT NULL DEFAULT 'abc' COMMENT "code",
       six int NOT NULL DEFAULT (2 * 3) COMMENT "expression default",
       marked int NOT NULL DEFAULT 5 COMMENT ":int32:already marked",
       tiny tinyblob COMMENT "small blob",
       _hidden int DEFAULT NULL COMMENT "hidden",
       PRIMARY KEY (id),
       UNIQUE KEY quip_code (quip, code),
       KEY by_day (day)
     ) ENGINE=InnoDB`,
  );
}

/** SHOW CREATE TABLE without the column comments: everything update_blob_comments must not change. */
async function shapeOf(schema: FreshSchema, table: string): Promise<string> {
  const [row] = await select<Record<string, string>>(schema.conn, `SHOW CREATE TABLE ${tableRef(schema.name, table)}`);
  return row['Create Table'].replace(/ COMMENT '(?:[^'\\]|''|\\.)*'/g, '');
}

async function columnsOf(schema: FreshSchema) {
  return select<Record<string, unknown>>(
    schema.conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal_position, COLUMN_TYPE AS column_type,
            IS_NULLABLE AS is_nullable, COLUMN_DEFAULT AS column_default, EXTRA AS extra, CHARACTER_SET_NAME AS character_set_name,
            COLLATION_NAME AS collation_name, COLUMN_KEY AS column_key, COLUMN_COMMENT AS column_comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    [schema.name],
  );
}

async function keysOf(schema: FreshSchema) {
  return {
    statistics: await select(
      schema.conn,
      `SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, NON_UNIQUE AS non_unique
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      [schema.name],
    ),
    usage: await select(
      schema.conn,
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, COLUMN_NAME AS column_name, REFERENCED_TABLE_NAME AS referenced_table_name
         FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
      [schema.name],
    ),
    checks: await select(
      schema.conn,
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause
         FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
      [schema.name],
    ),
  };
}

const comments = (columns: Record<string, unknown>[], table: string) =>
  Object.fromEntries(columns.filter((column) => column.table_name === table).map((column) => [column.column_name, column.column_comment]));
const withoutComments = (columns: Record<string, unknown>[]) => columns.map(({ column_comment: _comment, ...rest }) => rest);

it('writes the markers 2.3.2 writes and changes nothing else; a rerun is a no-op', async () => {
  fresh = await freshSchema('comments');
  await buildExample(fresh);
  const { conn, name } = fresh;
  const tables = ['animal', 'sample', 'extra`s', '~external_main'];
  await execute(conn, `INSERT INTO ${tableRef(name, 'extra`s')} (quip, doc) VALUES ('x', '{"a": 1}')`);
  const shapesBefore = await Promise.all(tables.map((table) => shapeOf(fresh!, table)));
  const columnsBefore = await columnsOf(fresh);
  const keysBefore = await keysOf(fresh);

  const plan = await planCommentUpdates(conn, name);
  expect(plan.problems).toEqual([]);
  expect(plan.statements).toHaveLength(3);
  expect(plan.skipped.map((s) => [s.table, s.column, s.marker, s.reason])).toEqual([
    ['extra`s', 'big', 'uint64', 'unsigned'],
    ['extra`s', '_hidden', 'int32', 'hidden'],
    ['sample', 'animal_id', 'int32', 'inherited'],
    ['sample', 'n_spikes', 'uint32', 'unsigned'],
  ]);
  expect(plan.skipped.find((s) => s.column === 'n_spikes')?.note).toMatch(/2\.x has no unsigned core type.*--unsigned-markers/);
  // Read-only: nothing changed yet.
  expect(await columnsOf(fresh)).toEqual(columnsBefore);

  const applied = await applyCommentUpdates(conn, name);
  expect(applied.altered).toBe(3);
  expect(applied.columns.map((c) => `${c.table}.${c.column}`)).toEqual(plan.changes.map((c) => `${c.table}.${c.column}`));

  const after = await columnsOf(fresh);
  // real-examples 6.2/6.3: what 2.3.2 wrote for the same attributes.
  expect(comments(after, 'animal')).toEqual({ animal_id: ':int32:animal number', species: ':varchar(32):species name' });
  expect(comments(after, 'sample')).toEqual({
    animal_id: 'animal number', // inherited through the FK: no marker
    sample_id: ':int32:sample number',
    label: ':varchar(32):free text',
    n_spikes: 'spike count', // int unsigned: native, unmarked
    gain: ':float32:amplifier gain',
    offset: ':float64:baseline offset',
    raw: ':<blob>:in-table blob',
    waveform: ':blob@main:external blob', // external column: another step
    report: ':<attach>:attachment',
  });
  expect(comments(after, 'extra`s')).toEqual({
    id: ':int32:row id',
    quip: `:varchar(40):quote: 'single' and "double"`,
    created: 'native timestamp',
    touched: ':datetime(3):last change',
    note: ':varchar(20):case-sensitive',
    latin: ':varchar(10):',
    maybe_n: ':int16:optional',
    ratio: ':decimal(6,3):ratio',
    mood: ":enum('calm','busy'):mood",
    day: ':date:day',
    flags: ':int8:flags',
    big: 'big',
    doc: ':json:document',
    code: ':char(3):code',
    six: ':int32:expression default',
    marked: ':int32:already marked',
    tiny: ':<blob>:small blob',
    _hidden: 'hidden',
  });
  expect(comments(after, '~external_main')).toEqual(comments(columnsBefore, '~external_main'));

  // Nothing but comments changed: every column attribute, position, index, FK and CHECK (MariaDB's JSON) is the same.
  expect(withoutComments(after)).toEqual(withoutComments(columnsBefore));
  expect(await keysOf(fresh)).toEqual(keysBefore);
  expect(keysBefore.checks).toEqual([{ table_name: 'extra`s', constraint_name: 'doc', check_clause: 'json_valid(`doc`)' }]);
  expect(await Promise.all(tables.map((table) => shapeOf(fresh!, table)))).toEqual(shapesBefore);
  const defaults = Object.fromEntries(after.filter((c) => c.table_name === 'extra`s').map((c) => [c.column_name, [c.column_default, c.extra, c.collation_name]]));
  expect(defaults).toMatchObject({
    id: [null, 'auto_increment', null],
    quip: [`'it''s "fine" \\\\ ok'`, '', 'utf8mb4_general_ci'],
    touched: ['current_timestamp(3)', 'on update current_timestamp(3)', null],
    note: ['NULL', '', 'utf8mb4_bin'],
    latin: ["''", '', 'latin1_swedish_ci'],
    six: ['(2 * 3)', '', null],
  });

  // The table still behaves: the defaults fill in, AUTO_INCREMENT counts on, the JSON check rejects bad JSON.
  await execute(conn, `INSERT INTO ${tableRef(name, 'extra`s')} (quip) VALUES ('y')`);
  const [row] = await select<Record<string, unknown>>(conn, `SELECT id, quip, code, six, ratio, day, flags, note FROM ${tableRef(name, 'extra`s')} WHERE quip = 'y'`);
  expect(row).toMatchObject({ id: 2, code: 'abc', six: 6, ratio: '1.250', flags: -1, note: null });
  await expect(execute(conn, `INSERT INTO ${tableRef(name, 'extra`s')} (quip, doc) VALUES ('z', 'not json')`)).rejects.toThrow(/CONSTRAINT/i);

  const rerun = await planCommentUpdates(conn, name);
  expect(rerun.changes).toEqual([]);
  expect(rerun.statements).toEqual([]);
  expect(await applyCommentUpdates(conn, name)).toEqual({ altered: 0, columns: [] });
  expect(await columnsOf(fresh)).toEqual(after);
});

it('writes the guide unsigned markers only when asked (with a bounded lock wait)', async () => {
  fresh = await freshSchema('comments_uint');
  await buildExample(fresh);
  const [{ before }] = await select<{ before: number }>(fresh.conn, 'SELECT @@SESSION.lock_wait_timeout AS `before`');
  const applied = await applyCommentUpdates(fresh.conn, fresh.name, { unsignedMarkers: true, lockWaitSeconds: 5 });
  // The session's lock_wait_timeout is put back afterwards.
  expect(await select(fresh.conn, 'SELECT @@SESSION.lock_wait_timeout AS `after`')).toEqual([{ after: before }]);
  expect(applied.columns.filter((c) => c.marker.startsWith('uint')).map((c) => [c.column, c.newComment])).toEqual([
    ['big', ':uint64:big'],
    ['n_spikes', ':uint32:spike count'],
  ]);
  const plan = await planCommentUpdates(fresh.conn, fresh.name, { unsignedMarkers: true });
  expect(plan.changes).toEqual([]);
  expect(plan.skipped.map((s) => s.reason)).toEqual(['hidden', 'inherited']);
});

it('refuses before changing anything when a comment would exceed 1024 characters', async () => {
  fresh = await freshSchema('comments_long');
  await buildExample(fresh);
  const { conn, name } = fresh;
  const long = 'x'.repeat(1020);
  await execute(conn, `CREATE TABLE ${tableRef(name, 'wordy')} (id int NOT NULL COMMENT ${`'${long}'`}, ok int NOT NULL DEFAULT 1 COMMENT 'fine', PRIMARY KEY (id)) ENGINE=InnoDB`);
  const before = await columnsOf(fresh);
  const plan = await planCommentUpdates(conn, name);
  expect(plan.problems).toEqual([expect.stringMatching(/^wordy\.id: with the marker :int32: its comment would be 1027 characters, over the 1024/)]);
  const refusal = await applyCommentUpdates(conn, name).catch((error: unknown) => error);
  expect(refusal).toBeInstanceOf(MigrationRefusedError);
  expect((refusal as Error).message).toMatch(/changed nothing.*\n {2}- wordy\.id: .*shorten the comment/s);
  expect(await columnsOf(fresh)).toEqual(before);
});

it('refuses a schema that does not exist', async () => {
  fresh = await freshSchema('comments_none');
  await expect(planCommentUpdates(fresh.conn, fresh.name)).rejects.toThrow(/does not exist on this server/);
});
