// The batch machine end to end: three real 0.11 schemas sharing one set of stores (MariaDB + s3rver + a file store),
// one of them missing an object; the synthesized batch definition runs locally with the real handlers, each schema
// as a child execution of the synthesized 0.11 machine. Checked with SQL.
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverSchemas } from '../../functions/core/batch/discover.js';
import { loadDataJointConfig, storeLocations } from '../../functions/core/config/datajoint-config.js';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { quoteId, select } from '../../functions/core/db/sql.js';
import { silentProgress } from '../../functions/core/progress.js';
import type { BatchReport } from '../../functions/handlers/batch/report.js';
import { batchHandlers, migrate011Handlers } from '../../functions/handlers/registry.js';
import { BATCH_HANDLERS } from '../../functions/handlers/names.js';
import { losingFirstResult, type Handlers } from '../harness/crashes.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { createLocalDeps } from '../../functions/local/local-deps.js';
import { runLocally } from '../../functions/local/runner.js';
import { buildExampleLab, type LegacyFixture } from '../../functions/local/sandbox/legacy-pipeline.js';
import { lineageTableDdl } from '../../functions/core/datajoint/v2.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshLegacyStores, freshSchemaName, openConnection, s3Store, sandbox } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig } from '../harness/migration.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function tablesOf(conn: Awaited<ReturnType<typeof openConnection>>, schema: string): Promise<string[]> {
  const rows = await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [schema]);
  return rows.map((row) => row.name);
}

describe('batch: many 0.11 schemas through the synthesized batch machine', () => {
  it('migrates two schemas, reports the third (a missing object) as failed and leaves it unchanged; a LIKE pattern then skips the migrated ones', async () => {
    const base = freshSchemaName('e2e_batch');
    const names = ['a', 'b', 'c'].map((suffix) => `${base}_${suffix}`);
    const [a, b, c] = names as [string, string, string];
    const conn = await openConnection();
    cleanup = async () => {
      try {
        for (const name of names) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
      } finally {
        await conn.end();
      }
    };
    const stores = await freshLegacyStores('e2e-batch');
    const fixtures: Record<string, LegacyFixture> = {};
    for (const database of names) fixtures[database] = await buildExampleLab({ conn, database, stores: stores.stores });
    // b loses one object of its file store: its plan refuses, nothing of b is changed
    const lost = fixtures[b]!.objects.find((object) => object.store === 'external-local')!;
    await rm(lost.key);
    const bBefore = await schemaSnapshot(conn, b, { includeJournal: true });

    const configPath = await writeDataJointConfig(stores.folder, stores.stores);
    const config = await loadDataJointConfig(configPath, 'external');
    const deps = createLocalDeps(config, silentProgress);
    const handlers = { ...migrate011Handlers(() => deps), ...batchHandlers(() => deps) };
    const template = { defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, stores: storeLocations(config) };

    const result = await runLocally({ workflow: 'batch', input: { from: '0.11', schemas: names, template, maxConcurrency: 2 }, handlers });
    expect(result.error).toBeUndefined();
    const report = result.output as BatchReport;
    expect(report).toMatchObject({ status: 'partial', from: '0.11', succeeded: 2, failed: 1, notStarted: 0, skipped: 0, windowEndsAt: null });
    expect(report.schemas.map((schema) => [schema.schema, schema.status, schema.outcome ?? schema.error])).toEqual([
      [a, 'SUCCEEDED', 'migrated'],
      [b, 'FAILED', 'MigrationRefused'],
      [c, 'SUCCEEDED', 'migrated'],
    ]);
    expect(report.schemas[1]!.cause).toContain(b);

    for (const migrated of [a, c]) {
      const tables = await tablesOf(conn, migrated);
      expect(tables).not.toContain(LEGACY_EXTERNAL_TABLE);
      expect(tables).toEqual(expect.arrayContaining(['~external_external', '~external_local', '~external_shared']));
    }
    expect(await schemaSnapshot(conn, b, { includeJournal: true })).toEqual(bBefore);

    // A LIKE pattern (its `_` escaped) finds the three; the migrated two are skipped, b is the one left
    const pattern = `${base.replace(/[\\%_]/g, '\\$&')}\\_%`;
    expect(await discoverSchemas(conn, { from: '0.11', schemaPattern: pattern, exclude: [] })).toEqual({
      schemas: [b],
      skipped: [
        { schema: a, reason: 'already migrated (no ~external table)' },
        { schema: c, reason: 'already migrated (no ~external table)' },
      ],
    });
    expect(await discoverSchemas(conn, { from: '0.11', schemaPattern: pattern, exclude: [b] })).toMatchObject({ schemas: [], skipped: [{ schema: a }, { schema: b, reason: 'excluded' }, { schema: c }] });

    // the same through the batch machine: only b runs (and fails again), a and c are reported as skipped
    const again = await runLocally({ workflow: 'batch', input: { from: '0.11', schemaPattern: pattern, template }, handlers });
    expect(again.output).toMatchObject({ status: 'failed', succeeded: 0, failed: 1, skipped: 2 });
  }, 240_000);

  // In AWS a call can finish and lose its result (a timeout as it returned): the Task's Retry calls it again
  it('each batch step whose first result is lost is called again with the same input and the batch ends as without the loss', async () => {
    const base = freshSchemaName('e2e_batchlost');
    const [good, bad] = [`${base}_good`, `${base}_bad`];
    const conn = await openConnection();
    cleanup = async () => {
      try {
        for (const name of [good, bad]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
      } finally {
        await conn.end();
      }
    };
    const stores = await freshLegacyStores('e2e-batchlost');
    await buildExampleLab({ conn, database: good, stores: stores.stores });
    const badLab = await buildExampleLab({ conn, database: bad, stores: stores.stores });
    await rm(badLab.objects.find((object) => object.store === 'external-local')!.key);
    const config = await loadDataJointConfig(await writeDataJointConfig(stores.folder, stores.stores), 'external');
    const deps = createLocalDeps(config, silentProgress);
    const lostOnce = BATCH_HANDLERS.map(losingFirstResult);
    const handlers = lostOnce.reduce((wrapped, { wrapHandlers }) => wrapHandlers(wrapped), { ...migrate011Handlers(() => deps), ...batchHandlers(() => deps) } as Handlers);
    const calls = new Map<string, number>();
    const counted = Object.fromEntries(
      Object.entries(handlers).map(([name, handler]) => [name, (event: unknown) => (calls.set(name, (calls.get(name) ?? 0) + 1), handler(event))]),
    ) as Handlers;
    const template = { defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, stores: storeLocations(config) };

    const result = await runLocally({ workflow: 'batch', input: { from: '0.11', schemas: [good, bad], template }, handlers: counted });
    expect(result.error).toBeUndefined();
    expect(result.output).toMatchObject({ status: 'partial', succeeded: 1, failed: 1, notStarted: 0, skipped: 0 });
    expect((result.output as BatchReport).schemas.map((schema) => [schema.schema, schema.status, schema.outcome ?? schema.error])).toEqual([
      [good, 'SUCCEEDED', 'migrated'],
      [bad, 'FAILED', 'MigrationRefused'],
    ]);
    expect(BATCH_HANDLERS.map((name) => calls.get(name))).toEqual([2, 2, 2]);
    expect(await tablesOf(conn, good)).not.toContain(LEGACY_EXTERNAL_TABLE);
    expect(await tablesOf(conn, bad)).toContain(LEGACY_EXTERNAL_TABLE);
  }, 240_000);

  it('refuses a bad batch input naming the field, before touching any schema', async () => {
    const noDatabase = {
      openDatabase: () => Promise.reject(new Error('no database needed to refuse')),
    } as unknown as HandlerDeps;
    const handlers = batchHandlers(() => noDatabase);
    const result = await runLocally({ workflow: 'batch', input: { from: '0.11', schemas: ['x'], schemaPattern: 'x%', template: { stores: {} } }, handlers });
    expect(result.status).toBe('FAILED');
    expect(result.error).toMatchObject({ name: 'MigrationRefused', message: expect.stringContaining('schemas: give exactly one of schemas') });
    const badTemplate = await runLocally({ workflow: 'batch', input: { from: '0.11', schemas: ['x'], template: { stores: {}, mode: 'sideways' } }, handlers });
    expect(badTemplate.error).toMatchObject({ name: 'MigrationRefused', message: expect.stringContaining('template.mode') });
  });

  it('0.14 discovery: a schema with 0.14 external columns is migrated, one with ~lineage and none left is skipped, djmigrate copies are skipped', async () => {
    const base = freshSchemaName('e2e_batch14');
    const [todo, done, copy, backup] = [`${base}_todo`, `${base}_done`, `${base}_todo_v2`, `${base}_todo_backup_20260101`];
    const conn = await openConnection();
    cleanup = async () => {
      try {
        for (const name of [todo, done, copy, backup]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
      } finally {
        await conn.end();
      }
    };
    const [bucket, folder] = await Promise.all([freshBucket('e2e-batch14'), freshFolder('e2e_batch14')]);
    const stores: V014Stores = { main: { spec: s3Store(bucket, 'batch014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
    await buildExampleLabV014({ conn, database: todo, stores });
    for (const name of [done, copy, backup]) await conn.query(`CREATE DATABASE ${quoteId(name)}`);
    await conn.query(lineageTableDdl(done, quoteId));
    const pattern = `${base.replace(/[\\%_]/g, '\\$&')}\\_%`;
    expect(await discoverSchemas(conn, { from: '0.14', schemaPattern: pattern, exclude: [] })).toEqual({
      schemas: [todo],
      skipped: [
        { schema: done, reason: 'already migrated (no 0.14 external column left, ~lineage present)' },
        { schema: backup, reason: "djmigrate's backup copy" },
        { schema: copy, reason: 'a 2.0 copy (_v2) made by djmigrate' },
      ],
    });
    // an explicit list: unknown names are reported, not started
    expect(await discoverSchemas(conn, { from: '0.14', schemas: [todo, `${base}_nope`], exclude: [] })).toEqual({
      schemas: [todo],
      skipped: [{ schema: `${base}_nope`, reason: 'no such schema' }],
    });
  }, 120_000);
});
