// The column swap on tables a hand-tuned 0.11 schema may hold: identifiers with backticks and quotes, a unique
// index over the external column, a composite primary key with text parts, several external columns in a row.
// The refusal to swap a column holding a pointer the migration never saw; the keys' names after the in-place swap, and
// its check of the foreign key it added unvalidated.
import { afterEach, expect, it, vi } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { hashBatch } from '../../functions/core/migrate011/hash.js';
import { insertExternalRows } from '../../functions/core/migrate011/insert.js';
import { COLUMN_TABLE, journalColumns, journalTables } from '../../functions/core/migrate011/journal.js';
import { pendingHashBatches } from '../../functions/core/migrate011/prepare.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { discardFills, fillColumn, fillTableColumns, rewriteColumn } from '../../functions/core/migrate011/rewrite.js';
import { silentProgress } from '../../functions/core/progress.js';
import { blobArray } from '../../functions/core/datajoint/blob.js';
import { buildExampleLab, declareLegacyTable, insertLegacyRows, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { openConnection } from '../harness/context.js';
import { coreContext, foreignKeysOf, legacyScenario, prepareScenario, type Scenario } from '../harness/migration.js';

const TABLE = 'we`ird "tab\'le';
const COLUMN = 'blob`col';

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

async function buildOddTable(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, {
    name: TABLE,
    primaryKey: [
      { name: 'subject', sqlType: 'varchar(16)' },
      { name: 'n', sqlType: 'bigint' },
    ],
    attributes: [
      { name: COLUMN, type: 'external-local', comment: 'a "quoted" comment: with colons' },
      { name: 'second', type: 'external', nullable: true },
      { name: 'tag', type: 'int' },
    ],
  });
  await execute(options.conn, `ALTER TABLE ${tableRef(options.database, TABLE)} ADD UNIQUE INDEX ${quoteId('uniq`pair')} (${quoteId(COLUMN)}, tag)`);
  const rows = Array.from({ length: 5 }, (_, i) => ({
    subject: i % 2 ? "o'brien" : 'b`tick',
    n: 9007199254740993n + BigInt(i),
    [COLUMN]: blobArray('float64', [1, 2], [i, i + 0.5]),
    second: i === 3 ? null : blobArray('int16', [3], [i, i, i]),
    tag: i,
  }));
  const objects = await insertLegacyRows(options.conn, options.database, TABLE, rows, options.stores);
  return { ...fixture, tables: [...fixture.tables, TABLE], objects: [...fixture.objects, ...objects] };
}

/** The example lab and a `trial` table whose external `clip` the tests point at the lab's objects. */
async function buildLabWithTrials(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, { name: 'trial', primaryKey: [{ name: 'trial_id', sqlType: 'int' }], attributes: [{ name: 'clip', type: 'external' }] });
  return fixture;
}

/** `rows` trials pointing in turn at the objects of the first two recordings' traces, which it returns. */
async function pointTrialsAtTwoObjects({ conn, schema }: Scenario, rows: number): Promise<{ trace: string }[]> {
  const shared = await select<{ trace: string }>(conn, `SELECT trace FROM ${tableRef(schema, 'recording')} ORDER BY session_id, rec_id LIMIT 2`);
  await execute(conn, `INSERT INTO ${tableRef(schema, 'trial')} (trial_id, clip) VALUES ?`, [Array.from({ length: rows }, (_, i) => [i, shared[i % 2].trace])]);
  return shared;
}

it('swaps columns of a table with hostile identifiers, keeps a unique index over the column and bigint/text keys intact', async () => {
  scenario = await legacyScenario('rewrite_odd', buildOddTable);
  const { conn, schema } = scenario;
  const keysBefore = await select(conn, `SELECT subject, CAST(n AS CHAR) AS n, tag FROM ${tableRef(schema, TABLE)} ORDER BY subject, n`);

  const result = await scenario.run({ mode: 'native' });
  expect(result.error).toBeUndefined();
  expect((result.output as Report).status).toBe('migrated');

  const columns = await select<{ name: string; type: string; nullable: string; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, TABLE],
  );
  expect(columns.map((c) => [c.name, c.type, c.nullable, c.comment])).toEqual([
    ['subject', 'varchar(16)', 'NO', ''],
    ['n', 'bigint(20)', 'NO', ''],
    [COLUMN, 'binary(16)', 'NO', ':blob@local:a "quoted" comment: with colons'],
    ['second', 'binary(16)', 'YES', ':blob@external:'],
    ['tag', 'int(11)', 'NO', ''],
  ]);
  const unique = await select<{ column_name: string; non_unique: number }>(
    conn,
    `SELECT COLUMN_NAME AS column_name, NON_UNIQUE AS non_unique FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'uniq\`pair' ORDER BY SEQ_IN_INDEX`,
    [schema, TABLE],
  );
  expect(unique.map((row) => [row.column_name, Number(row.non_unique)])).toEqual([
    [COLUMN, 0],
    ['tag', 0],
  ]);
  expect(await select(conn, `SELECT subject, CAST(n AS CHAR) AS n, tag FROM ${tableRef(schema, TABLE)} ORDER BY subject, n`)).toEqual(keysBefore);
  const [{ nulls }] = await select<{ nulls: number }>(conn, `SELECT SUM(second IS NULL) AS nulls FROM ${tableRef(schema, TABLE)}`);
  expect(Number(nulls)).toBe(1);
});

it('refuses to swap a column holding a pointer written after the migration took stock, names the row, and leaves the column as it was', async () => {
  scenario = await legacyScenario('rewrite_late', buildExampleLab);
  const { conn, schema } = scenario;
  const { input, openStore } = await prepareScenario(scenario);
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  await insertExternalRows(conn, input);

  // a 0.11 client still running: a new row whose object (and ~external row) the journal has never seen
  const [late] = await insertLegacyRows(conn, schema, 'recording', [{ session_id: 1, rec_id: 99, trace: blobArray('float64', [2], [9, 9]), thumb: null, params: blobArray('float64', [1], [0]) }], scenario.stores);
  const trace = (await journalColumns(conn, schema)).find((c) => c.table_name === 'recording' && c.column_name === 'trace');
  expect(trace).toBeDefined();
  const refusal = rewriteColumn(conn, input, trace!.column_id, { budgetMs: 10_000 }, silentProgress);
  await expect(refusal).rejects.toThrow(/recording\.trace has pointers that are not in the migration journal.*the column was not swapped/s);
  await expect(refusal).rejects.toMatchObject({ details: [`session_id=1, rec_id=99: ${late.value}`] });
  // still the 0.11 column with its foreign key to ~external, the late pointer intact
  const [{ pointer }] = await select<{ pointer: string }>(conn, `SELECT trace AS pointer FROM ${tableRef(schema, 'recording')} WHERE rec_id = 99`);
  expect(pointer).toBe(late.value);
  const [{ referenced }] = await select<{ referenced: string }>(
    conn,
    `SELECT REFERENCED_TABLE_NAME AS referenced FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'recording' AND COLUMN_NAME = 'trace' AND REFERENCED_TABLE_NAME IS NOT NULL`,
    [schema],
  );
  expect(referenced).toBe('~external');
});

// the check before the swap, with the column's rows grouped by pointer first and row by row
it.each([
  ['grouped', Number.MAX_SAFE_INTEGER],
  ['per_row', -1],
])('a column filled beside the hashing: rows added since are filled at the swap; a pointer changed since stops it, and the rerun fills again (check %s)', async (mode, groupedCheckUpToDistinct) => {
  scenario = await legacyScenario(`rewrite_early_${mode}`, buildExampleLab);
  const { conn, schema } = scenario;
  const { input, openStore } = await prepareScenario(scenario);
  const trace = (await journalColumns(conn, schema)).find((c) => c.table_name === 'recording' && c.column_name === 'trace')!;
  // before its store is hashed the fill waits, its temporary column already added (unfilled in every row)
  expect(await fillColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ done: false, waiting: true });
  const [{ rows, unfilled }] = await select<{ rows: number; unfilled: number }>(
    conn,
    `SELECT COUNT(*) AS \`rows\`, SUM(${quoteId(trace.temp_column)} = ?) AS unfilled FROM ${tableRef(schema, 'recording')}`,
    [Buffer.alloc(16)],
  );
  expect(Number(rows)).toBeGreaterThan(0);
  expect(Number(unfilled)).toBe(Number(rows));
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  const filled = await fillColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress);
  expect(filled).toMatchObject({ done: false, waiting: false });
  expect(filled.rows).toBeGreaterThan(0);
  expect((await journalColumns(conn, schema)).find((c) => c.column_id === trace.column_id)!.state).toBe('filled');
  // the next call builds the index the swapped column will need, named as the temporary column for now
  expect(await fillColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ done: true, rows: 0 });
  const indexed = await select<{ name: string }>(conn, `SELECT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'recording' AND COLUMN_NAME = ?`, [schema, trace.temp_column]);
  expect(indexed.map((row) => row.name)).toEqual([trace.temp_column]);
  await insertExternalRows(conn, input);

  // a 0.11 client still writing: a copy of a row (its object known to the journal) and a pointer moved to another object
  const recording = tableRef(schema, 'recording');
  const [first, second] = await select<{ rec_id: number; trace: string }>(conn, `SELECT rec_id, trace FROM ${recording} WHERE session_id = 1 ORDER BY rec_id LIMIT 2`);
  expect(first.trace).not.toBe(second.trace);
  await execute(conn, `INSERT INTO ${recording} (session_id, rec_id, trace, thumb, params) SELECT session_id, 77, trace, thumb, params FROM ${recording} WHERE session_id = 1 AND rec_id = ?`, [first.rec_id]);
  await execute(conn, `UPDATE ${recording} SET trace = ? WHERE session_id = 1 AND rec_id = ?`, [second.trace, first.rec_id]);
  await expect(rewriteColumn(conn, input, trace.column_id, { budgetMs: 10_000, groupedCheckUpToDistinct }, silentProgress)).rejects.toThrow(
    /1 pointer\(s\) of recording\.trace changed after their new value was written .*the column was not swapped/s,
  );
  // the new column is gone and the journal starts the column over; the 0.11 column still holds every pointer
  expect((await select(conn, `SHOW COLUMNS FROM ${recording} LIKE ?`, [trace.temp_column])).length).toBe(0);
  expect((await journalColumns(conn, schema)).find((c) => c.column_id === trace.column_id)).toMatchObject({ state: 'pending', resume_after: null });

  expect(await rewriteColumn(conn, input, trace.column_id, { budgetMs: 10_000, groupedCheckUpToDistinct }, silentProgress)).toMatchObject({ done: true });
  // each row points at the new hash of the object its 0.11 pointer named, the moved and the added row included
  const pointers = await select<{ rec_id: number; hash: Buffer }>(conn, `SELECT rec_id, trace AS hash FROM ${recording} WHERE session_id = 1 AND rec_id IN (?, ?, 77)`, [first.rec_id, second.rec_id]);
  const byRec = new Map(pointers.map((row) => [Number(row.rec_id), row.hash.toString('hex')]));
  expect(byRec.get(first.rec_id)).toBe(byRec.get(second.rec_id));
  expect(byRec.get(77)).not.toBe(byRec.get(first.rec_id));
  expect(byRec.get(77)).toMatch(/^[0-9a-f]{32}$/);
});

it("a table's columns fill in turn, grouped by Prepare: each call goes on to the next column once one is done", async () => {
  scenario = await legacyScenario('rewrite_table_group', buildExampleLab);
  const { conn, schema } = scenario;
  const { input, openStore, prepared } = await prepareScenario(scenario);
  const columns = await journalColumns(conn, schema);
  const idsOf = (table: string) => columns.filter((c) => c.table_name === table).map((c) => c.column_id);
  // one group per table, together the columns to rewrite
  expect(prepared.tableColumns.map((group) => [...group].sort())).toEqual(expect.arrayContaining([idsOf('recording').sort(), idsOf('frame')]));
  expect(prepared.tableColumns).toHaveLength(2);
  expect(prepared.tableColumns.flat().sort()).toEqual([...prepared.columns].sort());
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);

  const group = prepared.tableColumns.find((ids) => ids.length === 2)!;
  const reported: number[] = [];
  for (let call = 0; call < 10; call++) {
    const progress = await fillTableColumns(conn, input, group, { budgetMs: 10_000 }, silentProgress);
    reported.push(progress.column);
    if (progress.done) break;
  }
  // fill, then index, per column: the second call builds the first's index and fills the second
  expect(reported).toEqual([group[0], group[1], group[1]]);
  const states = (await journalColumns(conn, schema)).filter((c) => group.includes(c.column_id));
  expect(states.map((c) => c.state)).toEqual(['filled', 'filled']);
  const indexed = await select<{ name: string }>(conn, `SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'recording'`, [schema]);
  expect(indexed.map((row) => row.name)).toEqual(expect.arrayContaining(states.map((c) => c.temp_column)));
  await expect(fillTableColumns(conn, input, [], { budgetMs: 10_000 }, silentProgress)).rejects.toThrow(/at least one column/);
});

it('a discard while the temporary columns are being added (the ALTER waiting for its lock) still drops them', async () => {
  scenario = await legacyScenario('rewrite_discard_race', buildExampleLab);
  const { conn, schema } = scenario;
  const { input } = await prepareScenario(scenario);
  const trace = (await journalColumns(conn, schema)).find((c) => c.table_name === 'recording' && c.column_name === 'trace')!;
  const recording = tableRef(schema, 'recording');
  // a transaction that read the table holds its metadata lock: the fill's ALTER waits for it
  const [holder, other] = await Promise.all([openConnection(), openConnection()]);
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT COUNT(*) FROM ${recording}`);
    const fill = fillColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress);
    await vi.waitFor(
      async () => expect(await select(other, `SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE 'ALTER TABLE%' AND STATE LIKE '%metadata lock%'`)).toHaveLength(1),
      { timeout: 10_000, interval: 20 },
    );
    // the refusal path meanwhile: no temporary column to drop yet
    await discardFills(other, input);
    await holder.query('COMMIT');
    expect(await fill).toMatchObject({ done: true, waiting: false });
  } finally {
    await holder.end();
    await other.end();
  }
  expect((await select(conn, `SHOW COLUMNS FROM ${recording} LIKE ?`, [trace.temp_column])).length).toBe(0);
});

it('a column pointing at few objects is filled once those are hashed, while other objects of its store still wait', async () => {
  scenario = await legacyScenario('rewrite_few', buildLabWithTrials);
  const { conn, schema } = scenario;
  const recording = tableRef(schema, 'recording');
  const shared = await pointTrialsAtTwoObjects(scenario, 200);
  await execute(conn, `ANALYZE TABLE ${tableRef(schema, 'trial')}, ${recording}`);
  const { input, openStore } = await prepareScenario(scenario);
  const columns = await journalColumns(conn, schema);
  const clip = columns.find((c) => c.table_name === 'trial')!;
  const trace = columns.find((c) => c.table_name === 'recording' && c.column_name === 'trace')!;
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  // one object of the store, which trace points at and clip does not, is still to hash
  const [other] = await select<{ trace: string }>(conn, `SELECT trace FROM ${recording} WHERE trace NOT IN (?, ?) LIMIT 1`, [shared[0].trace, shared[1].trace]);
  await execute(conn, `UPDATE ${journalTables(schema).objects} SET contents_hash = NULL, new_hash = NULL WHERE legacy_hash = CAST(? AS BINARY)`, [other.trace]);

  expect(await fillColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ done: false, waiting: true });
  const filled = await fillColumn(conn, input, clip.column_id, { budgetMs: 10_000 }, silentProgress);
  expect(filled).toMatchObject({ done: false, waiting: false, rows: 200 });
  expect((await journalColumns(conn, schema)).find((c) => c.column_id === clip.column_id)!.state).toBe('filled');
});

it('a pointer differing only in letter case, written while the column fills, is neither filled nor counted, and stops the swap naming its row', async () => {
  scenario = await legacyScenario('rewrite_case', buildLabWithTrials);
  const { conn, schema } = scenario;
  const trial = tableRef(schema, 'trial');
  const shared = await pointTrialsAtTwoObjects(scenario, 50);
  const { input, openStore } = await prepareScenario(scenario);
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  // a 0.11 client writes the first object's name with one letter's case flipped: the case-insensitive foreign key takes it
  const letter = shared[0].trace.search(/[a-zA-Z]/);
  const flipped = shared[0].trace[letter] === shared[0].trace[letter].toLowerCase() ? shared[0].trace[letter].toUpperCase() : shared[0].trace[letter].toLowerCase();
  const variant = shared[0].trace.slice(0, letter) + flipped + shared[0].trace.slice(letter + 1);
  await execute(conn, `INSERT INTO ${trial} (trial_id, clip) VALUES (99, ?)`, [variant]);

  const clip = (await journalColumns(conn, schema)).find((c) => c.table_name === 'trial')!;
  expect(await fillColumn(conn, input, clip.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ waiting: false, rows: 50 });
  await insertExternalRows(conn, input);
  const refusal = rewriteColumn(conn, input, clip.column_id, { budgetMs: 10_000 }, silentProgress);
  await expect(refusal).rejects.toThrow(/trial\.clip has pointers that are not in the migration journal/);
  await expect(refusal).rejects.toMatchObject({ details: [`trial_id=99: ${variant}`] });
});

it('fills by one table rebuild for all its columns and a CASE over a few pointers, or by an instant column and journal lookups (wide rows, many pointers); both swap to the right objects', async () => {
  scenario = await legacyScenario('rewrite_wide', async (options: LegacyFixtureOptions) => {
    const fixture = await buildExampleLab(options);
    await declareLegacyTable(options.conn, options.database, {
      name: 'wide',
      primaryKey: [{ name: 'wide_id', sqlType: 'int' }],
      attributes: [
        { name: 'clip', type: 'external', nullable: true },
        { name: 'payload', type: 'longblob' },
      ],
    });
    // 2 MB of rows of ~4 KB (an inline blob) pointing at 40 objects, every third pointer NULL
    const rows = Array.from({ length: 500 }, (_, i) => ({ wide_id: i, clip: i % 3 === 2 ? null : blobArray('float64', [1], [i % 40]), payload: Buffer.alloc(4000, i) }));
    const objects = await insertLegacyRows(options.conn, options.database, 'wide', rows, options.stores);
    return { ...fixture, tables: [...fixture.tables, 'wide'], objects: [...fixture.objects, ...objects] };
  });
  const { conn, schema } = scenario;
  const wide = tableRef(schema, 'wide');
  await execute(conn, `ANALYZE TABLE ${wide}, ${tableRef(schema, 'recording')}`);
  const before = await select<{ wide_id: number; clip: string | null }>(conn, `SELECT wide_id, clip FROM ${wide} ORDER BY wide_id`);
  expect(new Set(before.map((row) => row.clip)).size).toBe(41);
  const { input, openStore } = await prepareScenario(scenario);
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  // InnoDB gives a rebuilt table a new id; an instant ADD COLUMN keeps it
  const tableId = async (table: string) =>
    Number((await select<{ id: number }>(conn, 'SELECT TABLE_ID AS id FROM information_schema.INNODB_SYS_TABLES WHERE NAME = ?', [`${schema}/${table}`]))[0].id);
  const columns = await journalColumns(conn, schema);
  const hasColumn = async (table: string, name: string) => (await select(conn, `SHOW COLUMNS FROM ${tableRef(schema, table)} LIKE ?`, [name])).length > 0;
  const thumb = columns.find((c) => c.table_name === 'recording' && c.column_name === 'thumb')!;
  // recording.thumb's temporary column comes with trace's, in the same rebuild: thumb's own fill rebuilds nothing
  for (const [table, column, rebuilt] of [['recording', 'trace', true], ['recording', 'thumb', false], ['wide', 'clip', false]] as const) {
    const entry = columns.find((c) => c.table_name === table && c.column_name === column)!;
    expect(await hasColumn(table, entry.temp_column)).toBe(entry === thumb);
    const tableBefore = await tableId(table);
    expect(await fillColumn(conn, input, entry.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ waiting: false });
    expect((await tableId(table)) !== tableBefore).toBe(rebuilt);
  }

  const result = await scenario.run();
  expect(result.error).toBeUndefined();
  const newHashes = new Map(
    (await select<{ legacy: Buffer; hash: Buffer }>(conn, `SELECT legacy_hash AS legacy, new_hash AS hash FROM ${journalTables(schema).objects}`)).map((o) => [o.legacy.toString(), o.hash.toString('hex')]),
  );
  const after = await select<{ wide_id: number; clip: Buffer | null }>(conn, `SELECT wide_id, clip FROM ${wide} ORDER BY wide_id`);
  expect(after.map((row) => row.clip?.toString('hex') ?? null)).toEqual(before.map((row) => (row.clip === null ? null : newHashes.get(row.clip))));
  const [definition] = await select<{ nullable: string; fallback: string | null }>(
    conn,
    "SELECT IS_NULLABLE AS nullable, COLUMN_DEFAULT AS fallback FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'wide' AND COLUMN_NAME = 'clip'",
    [schema],
  );
  expect(definition).toEqual({ nullable: 'YES', fallback: 'NULL' });
});

it('names the swapped-in keys as the official 0.12 tool left them: the next free <table>_ibfk_<n>, an index named as the column, RESTRICT', async () => {
  scenario = await legacyScenario('rewrite_names', buildExampleLab);
  const { conn, schema } = scenario;
  const result = await scenario.run({ mode: 'in-place' });
  expect(result.error).toBeUndefined();
  const keyLines = async (table: string) =>
    (await select<{ 'Create Table': string }>(conn, `SHOW CREATE TABLE ${tableRef(schema, table)}`))[0]['Create Table'].split('\n').filter((line) => /^\s+(KEY|CONSTRAINT) /.test(line));
  // real-examples 2.5 (names, indexes); column order and NULL-ability stay as they were, unlike the official tool's
  expect(await keyLines('recording')).toEqual([
    '  KEY `trace` (`trace`),',
    '  KEY `thumb` (`thumb`),',
    '  CONSTRAINT `recording_ibfk_1` FOREIGN KEY (`session_id`) REFERENCES `session` (`session_id`) ON UPDATE CASCADE,',
    '  CONSTRAINT `recording_ibfk_4` FOREIGN KEY (`trace`) REFERENCES `~external_external` (`hash`),',
    '  CONSTRAINT `recording_ibfk_5` FOREIGN KEY (`thumb`) REFERENCES `~external_shared` (`hash`)',
  ]);
  expect(await keyLines('frame')).toEqual([
    '  KEY `img` (`img`),',
    '  CONSTRAINT `frame_ibfk_1` FOREIGN KEY (`session_id`, `rec_id`) REFERENCES `recording` (`session_id`, `rec_id`) ON UPDATE CASCADE,',
    '  CONSTRAINT `frame_ibfk_3` FOREIGN KEY (`img`) REFERENCES `~external_local` (`hash`)',
  ]);
  const rules = [...(await foreignKeysOf(conn, schema, 'recording')), ...(await foreignKeysOf(conn, schema, 'frame'))].filter((key) => key.referenced.startsWith('~external_'));
  expect(rules.map((key) => `${key.column_name} ${key.on_update} ${key.on_delete}`).sort()).toEqual(['img RESTRICT RESTRICT', 'thumb RESTRICT RESTRICT', 'trace RESTRICT RESTRICT']);

  // a crash after a swap, before its prebuilt index got the column's name and the journal its state: the rerun of the
  // column names the index and records the swap
  const trace = (await journalColumns(conn, schema)).find((c) => c.table_name === 'recording' && c.column_name === 'trace')!;
  await execute(conn, `ALTER TABLE ${tableRef(schema, 'recording')} RENAME INDEX \`trace\` TO ${quoteId(trace.temp_column)}`);
  await execute(conn, `UPDATE ${tableRef(schema, COLUMN_TABLE)} SET state = 'pending' WHERE column_id = ?`, [trace.column_id]);
  const { input } = await coreContext(scenario);
  expect(await rewriteColumn(conn, input, trace.column_id, { budgetMs: 10_000 }, silentProgress)).toMatchObject({ done: true });
  expect((await keyLines('recording'))[0]).toBe('  KEY `trace` (`trace`),');
  expect((await journalColumns(conn, schema)).find((c) => c.column_id === trace.column_id)!.state).toBe('swapped');
});

it('stops after a swap whose new foreign key finds a ~external_<store> row deleted meanwhile; the rerun puts it back', async () => {
  scenario = await legacyScenario('rewrite_gc', buildExampleLab);
  const { conn, schema } = scenario;
  const { input, openStore } = await prepareScenario(scenario);
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  await insertExternalRows(conn, input);

  // a 0.12 external cleanup deleting a row no column references yet, after the fill's last chunk and before the swap
  await execute(
    conn,
    `CREATE TRIGGER ${tableRef(schema, 'cleanup_mid_swap')} AFTER UPDATE ON ${tableRef(schema, COLUMN_TABLE)} FOR EACH ROW
       IF NEW.table_name = 'frame' AND NEW.state = 'pending' AND NEW.resume_after IS NULL AND NEW.rows_rewritten > 0 THEN
         DELETE FROM ${tableRef(schema, '~external_local')} ORDER BY hash LIMIT 1;
       END IF`,
  );
  const img = (await journalColumns(conn, schema)).find((c) => c.table_name === 'frame' && c.column_name === 'img');
  await expect(rewriteColumn(conn, input, img!.column_id, { budgetMs: 10_000 }, silentProgress)).rejects.toThrow(
    /frame\.img points at [1-9]\d* object\(s\) that have no ~external_local row after the swap.*rerun the migration/s,
  );
  await execute(conn, `DROP TRIGGER ${tableRef(schema, 'cleanup_mid_swap')}`);

  const rerun = await scenario.run({ mode: 'in-place' });
  expect(rerun.error).toBeUndefined();
  expect((rerun.output as Report).status).toBe('migrated');
  const [{ dangling }] = await select<{ dangling: number }>(
    conn,
    `SELECT COUNT(*) AS dangling FROM ${tableRef(schema, 'frame')} f LEFT JOIN ${tableRef(schema, '~external_local')} e ON e.hash = f.img WHERE e.hash IS NULL`,
  );
  expect(Number(dangling)).toBe(0);
});
