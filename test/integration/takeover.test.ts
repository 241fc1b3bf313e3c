// The official 0.12 tool stops part-way on a NULL pointer (real-examples 2.2), leaving some columns converted and
// `~external` in place. djmigrate must take such a schema over: leave the converted columns alone, migrate the rest.
import { createHash } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { externalTableDdl, externalTableName } from '../../functions/core/datajoint/v012.js';
import { execute, quoteId, quoteValue, select, tableRef } from '../../functions/core/db/sql.js';
import type { Plan } from '../../functions/core/migrate011/plan.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { buildExampleLab, type LegacyFixture } from '../../functions/local/sandbox/legacy-pipeline.js';
import { legacyScenario, type Scenario } from '../harness/migration.js';

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

/** Steps e–h of the official `_migrate_dj011_blob` for one column (spec B.6), including its flaws: nullable, moved last. */
async function officialMigrateColumn(current: Scenario, fixture: LegacyFixture, table: string, column: string, constraint: string, store: string, comment: string) {
  const { conn, schema } = current;
  const t = tableRef(schema, table);
  await execute(conn, externalTableDdl(schema, store, quoteId));
  const marker = quoteValue(`:blob@${store}:${comment}`);
  await execute(conn, `ALTER TABLE ${t} ADD COLUMN ${quoteId(`${column}_tempsub`)} binary(16) DEFAULT NULL COMMENT ${marker}`);
  const values = await select<{ value: string }>(conn, `SELECT DISTINCT ${quoteId(column)} AS value FROM ${t}`);
  for (const { value } of values) {
    const object = fixture.objects.find((o) => o.value === value)!;
    const filepath = `${schema}/${value}`;
    const uuid = createHash('md5').update(filepath).digest();
    await execute(conn, `INSERT IGNORE INTO ${tableRef(schema, externalTableName(store))} (hash, size, filepath, contents_hash) VALUES (?, ?, ?, ?)`, [
      uuid,
      object.size,
      filepath,
      createHash('md5').update(object.bytes).digest(),
    ]);
    await execute(conn, `UPDATE ${t} SET ${quoteId(`${column}_tempsub`)} = ? WHERE ${quoteId(column)} = ?`, [uuid, value]);
  }
  await execute(
    conn,
    `ALTER TABLE ${t} DROP FOREIGN KEY ${quoteId(constraint)}, DROP COLUMN ${quoteId(column)},
       CHANGE COLUMN ${quoteId(`${column}_tempsub`)} ${quoteId(column)} binary(16) DEFAULT NULL COMMENT ${marker},
       ADD FOREIGN KEY (${quoteId(column)}) REFERENCES ${tableRef(schema, externalTableName(store))} (hash)`,
  );
}

it('takes over a schema the official tool left half-migrated, with a NULL pointer in the remaining column', async () => {
  scenario = await legacyScenario('takeover', (options) => buildExampleLab({ ...options, nullThumb: true }));
  await officialMigrateColumn(scenario, scenario.fixture, 'frame', 'img', 'frame_ibfk_2', 'local', '');
  await officialMigrateColumn(scenario, scenario.fixture, 'recording', 'trace', 'recording_ibfk_2', 'external', 'raw: volts, sampled at 1 kHz');
  const { conn, schema } = scenario;

  const planned = await scenario.run({ execute: false });
  const plan = (planned.output as { plan: Plan }).plan;
  expect(plan.status).toBe('ready');
  expect(plan.columns.map((c) => `${c.table}.${c.column}`)).toEqual(['recording.thumb']);
  expect(plan.alreadyMigrated).toEqual([
    { table: 'frame', column: 'img', store: 'local' },
    { table: 'recording', column: 'trace', store: 'external' },
  ]);

  const result = await scenario.run();
  expect(result.error).toBeUndefined();
  const report = result.output as Report;
  expect(report.status).toBe('migrated');
  expect(report.columns.map((c) => [`${c.table}.${c.column}`, c.pointers, c.ok])).toEqual([['recording.thumb', 2, true]]);
  const tables = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema])).map((r) => r.name);
  expect(tables).not.toContain(LEGACY_EXTERNAL_TABLE);
  const columns = await select<{ name: string; type: string; nullable: string; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'recording' ORDER BY ORDINAL_POSITION`,
    [schema],
  );
  // thumb keeps its place; trace stays where the official tool moved it.
  expect(columns.map((c) => [c.name, c.type, c.nullable, c.comment])).toEqual([
    ['session_id', 'int(11)', 'NO', ''],
    ['rec_id', 'smallint(6)', 'NO', ''],
    ['thumb', 'binary(16)', 'YES', ':blob@shared:'],
    ['params', 'longblob', 'NO', ''],
    ['trace', 'binary(16)', 'YES', ':blob@external:raw: volts, sampled at 1 kHz'],
  ]);
  const thumbs = await select<{ thumb: Buffer | null }>(conn, `SELECT thumb FROM ${tableRef(schema, 'recording')} ORDER BY session_id, rec_id`);
  expect(thumbs.map((row) => row.thumb === null)).toEqual([false, false, true]);
});
