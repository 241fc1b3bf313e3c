// The column swap on tables a hand-tuned 0.11 schema may hold: identifiers with backticks and quotes, a unique
// index over the external column, a composite primary key with text parts, several external columns in a row.
// And the fill by the ADD COLUMN's table copy, with the chunks finishing what it left.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { parseDataJointConfig, storeLocations } from '../../functions/core/config/datajoint-config.js';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { finishMigration } from '../../functions/core/migrate011/finish.js';
import { hashBatch } from '../../functions/core/migrate011/hash.js';
import { Migrate011InputSchema } from '../../functions/core/migrate011/input.js';
import { insertExternalRows } from '../../functions/core/migrate011/insert.js';
import { inspectSchema } from '../../functions/core/migrate011/inspect.js';
import { journalColumns } from '../../functions/core/migrate011/journal.js';
import { pendingHashBatches, prepareMigration } from '../../functions/core/migrate011/prepare.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { rewriteColumn } from '../../functions/core/migrate011/rewrite.js';
import { verifyMigration } from '../../functions/core/migrate011/verify.js';
import { silentProgress, type ProgressEvent } from '../../functions/core/progress.js';
import { fileManifestStore } from '../../functions/core/stores/manifest-store.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { blobArray } from '../../functions/core/datajoint/blob.js';
import { buildExampleLab, declareLegacyTable, insertLegacyRows, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { legacyScenario, type Scenario } from '../harness/migration.js';

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

/** example_lab plus a 100-row table whose nullable column points at a few of its objects (every tenth row NULL). */
async function buildWithTrials(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, {
    name: 'trial',
    primaryKey: [{ name: 'trial_id', sqlType: 'int' }],
    attributes: [{ name: 'clip', type: 'external', nullable: true }],
  });
  const values = await select<{ hash: string }>(options.conn, `SELECT hash FROM ${tableRef(options.database, LEGACY_EXTERNAL_TABLE)} WHERE CHAR_LENGTH(hash) = 43 ORDER BY hash`);
  const rows = Array.from({ length: 100 }, (_, i) => [i, i % 10 === 9 ? null : values[i % values.length].hash]);
  await execute(options.conn, `INSERT INTO ${tableRef(options.database, 'trial')} (trial_id, clip) VALUES ?`, [rows]);
  return fixture;
}

it('fills a few-valued column by the ADD COLUMN table copy; after a crash, rows it left NULL are filled by the chunks', async () => {
  scenario = await legacyScenario('rewrite_copy', buildWithTrials);
  const { conn, schema } = scenario;
  const config = parseDataJointConfig(JSON.parse(await readFile(scenario.configPath, 'utf8')), 'external', {});
  const input = Migrate011InputSchema.parse({ from: '0.11', schema, stores: storeLocations(config), execute: true });
  const openStore = (name: string) => openObjectStore(input.stores[name], config.stores[name].credentials);
  const manifests = fileManifestStore(join(dirname(scenario.configPath), `${schema}-manifests`));
  const prepared = await prepareMigration(conn, input, await inspectSchema(conn, input), { openStore, progress: silentProgress, manifests, manifestKey: 'copy/hash.jsonl' });
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  await insertExternalRows(conn, input);

  const clip = (await journalColumns(conn, schema)).find((c) => c.table_name === 'trial' && c.column_name === 'clip')!;
  const trial = tableRef(schema, 'trial');
  const [{ pointers, nulls }] = await select<{ pointers: number; nulls: number }>(conn, `SELECT COUNT(clip) AS pointers, SUM(clip IS NULL) AS nulls FROM ${trial}`);
  expect([Number(pointers), Number(nulls)]).toEqual([90, 10]);
  const copyFill = { minRows: 0, maxValues: 64 };
  const events: ProgressEvent[] = [];
  const crashAfterFill = {
    report(event: ProgressEvent) {
      events.push(event);
      if (event.kind === 'rows-rewritten') throw new Error('simulated crash after the fill');
    },
  };
  await expect(rewriteColumn(conn, input, clip.column_id, { budgetMs: 10_000, initialChunkRows: 10, copyFill }, crashAfterFill)).rejects.toThrow(/simulated crash/);
  // one statement filled every pointer (chunks of 10 rows would have reported 10 rows) and the journal counts them
  expect(events).toEqual([{ kind: 'rows-rewritten', table: 'trial', column: 'clip', rows: 90 }]);
  const temp = quoteId(clip.temp_column);
  const [{ filled, journalRows }] = await select<{ filled: number; journalRows: number }>(
    conn,
    `SELECT (SELECT COUNT(${temp}) FROM ${trial}) AS filled, (SELECT rows_rewritten FROM ${tableRef(schema, '~djmigrate_011_column')} WHERE column_id = ?) AS journalRows`,
    [clip.column_id],
  );
  expect([Number(filled), Number(journalRows)]).toEqual([Number(pointers), Number(pointers)]);

  // rows the copy did not fill, as a server that does not evaluate the default per row would leave them
  expect(await execute(conn, `UPDATE ${trial} SET ${temp} = NULL WHERE clip IS NOT NULL ORDER BY trial_id DESC LIMIT 2`)).toBe(2);
  const rerun = await rewriteColumn(conn, input, clip.column_id, { budgetMs: 10_000, copyFill }, silentProgress);
  expect(rerun).toEqual({ column: clip.column_id, done: true, rows: 2 });

  for (const column of prepared.columns) while (!(await rewriteColumn(conn, input, column, { budgetMs: 10_000, copyFill }, silentProgress)).done);
  await finishMigration(conn, input);
  const verification = await verifyMigration(conn, input, openStore);
  expect(verification.ok).toBe(true);
  expect(verification.columns.find((c) => c.table === 'trial')).toMatchObject({ pointers: 90, ok: true });
  const [{ stillNull }] = await select<{ stillNull: number }>(conn, `SELECT SUM(clip IS NULL) AS stillNull FROM ${trial}`);
  expect(Number(stillNull)).toBe(10);
  // the swap dropped the CASE default with the temporary column's name
  const [{ columnDefault }] = await select<{ columnDefault: string | null }>(
    conn,
    `SELECT COLUMN_DEFAULT AS columnDefault FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'trial' AND COLUMN_NAME = 'clip'`,
    [schema],
  );
  expect(columnDefault).toBe('NULL');
});
