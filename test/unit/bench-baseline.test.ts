// The bench's baseline (bench/baseline-seed.ts, the seed notebook's procedure) must produce what djmigrate produces
// on the same pipeline, or comparing their speed would mean nothing: the same `~external_<store>` rows and the same
// pointer in every row. Two copies of real-examples' example_lab (its objects live under the database name, so each
// copy has its own schema and stores); names are normalised by stripping the database from the paths.
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection } from 'mysql2/promise';
import { externalTableName, migratedBlobUuid } from '../../functions/core/datajoint/v012.js';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { buildExampleLab } from '../../functions/local/sandbox/legacy-pipeline.js';
import { migrateLikeSeed } from '../../bench/baseline-seed.js';
import { legacyScenario, type Scenario } from '../harness/migration.js';

const COLUMNS = [
  { table: 'recording', key: ['session_id', 'rec_id'], column: 'trace', store: 'external' },
  { table: 'recording', key: ['session_id', 'rec_id'], column: 'thumb', store: 'shared' },
  { table: 'frame', key: ['session_id', 'rec_id', 'frame'], column: 'img', store: 'local' },
];

/** Every ~external_<store> row and every pointer, with the database name taken out of the paths. */
async function outcome(conn: Connection, schema: string): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  for (const store of ['external', 'shared', 'local']) {
    const rows = await select<{ hash: Buffer; size: number; filepath: string; contents_hash: string }>(
      conn,
      `SELECT hash, size, filepath, HEX(contents_hash) AS contents_hash FROM ${tableRef(schema, externalTableName(store))} ORDER BY filepath`,
    );
    for (const row of rows) expect(row.hash.equals(migratedBlobUuid(row.filepath))).toBe(true);
    result[store] = rows.map((row) => [Number(row.size), row.filepath.replace(`${schema}/`, ''), row.contents_hash]);
  }
  for (const { table, key, column, store } of COLUMNS) {
    const rows = await select<Record<string, unknown>>(
      conn,
      `SELECT ${key.map((k) => `t.${k}`).join(', ')}, e.filepath AS filepath FROM ${tableRef(schema, table)} t
         LEFT JOIN ${tableRef(schema, externalTableName(store))} e ON e.hash = t.${column} ORDER BY ${key.map((k) => `t.${k}`).join(', ')}`,
    );
    result[`${table}.${column}`] = rows.map((row) => [...key.map((k) => Number(row[k])), row.filepath === null ? null : String(row.filepath).replace(`${schema}/`, '')]);
  }
  return result;
}

describe('bench baseline (the seed procedure in TypeScript)', () => {
  const scenarios: Scenario[] = [];
  afterEach(async () => {
    await Promise.all(scenarios.splice(0).map((scenario) => scenario.cleanup()));
  });

  it('leaves the same ~external_<store> rows and pointers as djmigrate in place', async () => {
    const [djm, seed] = await Promise.all([legacyScenario('bench_djm', buildExampleLab), legacyScenario('bench_seed', buildExampleLab)]);
    scenarios.push(djm, seed);
    const run = await djm.run();
    expect(run.status).toBe('SUCCEEDED');
    const result = await migrateLikeSeed(seed.conn, seed.schema, {
      external: seed.stores.external,
      shared: seed.stores['external-shared'],
      local: seed.stores['external-local'],
    });
    expect(result.columns.map((c) => `${c.column}:${c.store}`).sort()).toEqual(['img:local', 'thumb:shared', 'trace:external']);
    expect(await outcome(seed.conn, seed.schema)).toEqual(await outcome(djm.conn, djm.schema));
    // the procedure drops the legacy table, as the notebook's In[26] does
    const legacy = await select(seed.conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [seed.schema, '~external']);
    expect(legacy).toEqual([]);
  });
});
