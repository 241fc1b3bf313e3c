// A crash after any state, or in the middle of a hash batch or of a column's rewrite chunks, followed by a rerun,
// must end in exactly the state a clean run reaches, with no reference lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { journalTables } from '../../functions/core/migrate011/journal.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { silentProgress, type ProgressSink } from '../../functions/core/progress.js';
import { digestStream } from '../../functions/core/stores/hash-stream.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { MIGRATE_011_HANDLERS, type HandlerName } from '../../functions/handlers/names.js';
import { acquireSchemaLock, LOCK_TABLE } from '../../functions/core/lock/schema-lock.js';
import { TransientError } from '../../functions/core/errors.js';
import { LOCK_STALE_AFTER_SECONDS } from '../../functions/handlers/run-lock.js';
import type { PhaseInvoker } from '../../functions/handlers/registry.js';
import { migrateLocally, type LocalMigrationOptions } from '../../functions/local/migrate.js';
import { buildExampleLab, declareLegacyTable, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { checksumStandIn, md5FromStores, withChecksumJobs } from '../harness/checksum-jobs.js';
import { freshLegacyStores, freshSchemaName, openConnection, type FreshLegacyStores } from '../harness/context.js';
import { failingAfter, losingFirstResult, SimulatedCrash } from '../harness/crashes.js';
import { schemaSnapshot, writeDataJointConfig } from '../harness/migration.js';

const TRIAL_ROWS = 2500;

const DISTRIBUTED_MAP_HANDLERS = new Set<HandlerName>(['hashItems', 'recordHashes']);
const CHECKSUM_HANDLERS = new Set<HandlerName>(['startChecksum', 'checksumState', 'recordChecksums']);

/** example_lab plus a 2,500-row table sharing a few objects, so a column's rewrite takes several chunks. */
async function buildPipeline(options: LegacyFixtureOptions): Promise<void> {
  await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, {
    name: 'trial',
    primaryKey: [{ name: 'trial_id', sqlType: 'int' }],
    attributes: [{ name: 'clip', type: 'external', comment: 'shared clip' }],
  });
  const values = await select<{ hash: string }>(options.conn, `SELECT hash FROM ${tableRef(options.database, LEGACY_EXTERNAL_TABLE)} WHERE CHAR_LENGTH(hash) = 43 ORDER BY hash`);
  const rows = Array.from({ length: TRIAL_ROWS }, (_, i) => [i, values[i % values.length].hash]);
  await execute(options.conn, `INSERT INTO ${tableRef(options.database, 'trial')} (trial_id, clip) VALUES ?`, [rows]);
}

describe('crash and rerun converge to the clean result', () => {
  const schema = freshSchemaName('crash');
  let stores: FreshLegacyStores;
  let configPath: string;
  let conn: Awaited<ReturnType<typeof openConnection>>;
  let reference: Record<string, unknown>;
  let verified: Report['columns'];

  const rebuild = async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await buildPipeline({ conn, database: schema, stores: stores.stores });
  };
  const run = (overrides: Partial<LocalMigrationOptions> = {}) =>
    migrateLocally({ configPath, schema, defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, progress: silentProgress, ...overrides });
  const expectConverged = async () => {
    const rerun = await run();
    expect(rerun.error).toBeUndefined();
    expect((rerun.output as Report).status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  };

  beforeAll(async () => {
    stores = await freshLegacyStores('crash');
    configPath = await writeDataJointConfig(stores.folder, stores.stores);
    conn = await openConnection();
    await rebuild();
    const clean = await run();
    expect(clean.error).toBeUndefined();
    expect((clean.output as Report).status).toBe('migrated');
    reference = await schemaSnapshot(conn, schema);
    verified = (clean.output as Report).columns;
  });

  afterAll(async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await conn.end();
  });

  // DiscardFills runs only on the failure path of a refused hashing (refusals.test.ts)
  it.each(MIGRATE_011_HANDLERS.filter((name) => name !== 'discardFills'))('after the %s state', async (crashAfter) => {
    await rebuild();
    const wrapHandlers = failingAfter(crashAfter, (call) => call === 1, () => new SimulatedCrash(`simulated crash after ${crashAfter}`));
    // the Distributed Map's steps run only on its path; there one child of one failing fails the map. The checksum
    // steps run only with s3BatchChecksum (a stand-in for S3 Batch Operations); the rerun goes without it.
    const distributed = DISTRIBUTED_MAP_HANDLERS.has(crashAfter);
    const checksums = CHECKSUM_HANDLERS.has(crashAfter)
      ? { s3BatchChecksum: true, wrapDeps: withChecksumJobs(checksumStandIn(md5FromStores(stores.stores)).jobs) }
      : {};
    const failed = await run({ wrapHandlers, ...(distributed ? { distributedHashingFrom: 1 } : {}), ...checksums });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.name).toBe(distributed ? 'States.ExceedToleratedFailureThreshold' : 'SimulatedCrash');
    await expectConverged();
  });

  // In AWS a call can finish its work and lose its result (the Lambda timed out as it returned, a service error): the
  // Task's Retry calls the handler again with the same input, within the same execution.
  it.each(MIGRATE_011_HANDLERS.filter((name) => name !== 'discardFills'))('a %s call whose result was lost, called again with the same input', async (lostAfter) => {
    await rebuild();
    const { wrapHandlers, lost } = losingFirstResult(lostAfter);
    const distributed = DISTRIBUTED_MAP_HANDLERS.has(lostAfter) ? { distributedHashingFrom: 1 } : {};
    const checksums = CHECKSUM_HANDLERS.has(lostAfter) ? { s3BatchChecksum: true, wrapDeps: withChecksumJobs(checksumStandIn(md5FromStores(stores.stores)).jobs) } : {};
    const result = await run({ wrapHandlers, ...distributed, ...checksums });
    expect(lost()).toBe(true);
    expect(result.error).toBeUndefined();
    expect((result.output as Report).status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  });

  it('in the middle of a hash batch', async () => {
    await rebuild();
    let reads = 0;
    const failingStore = (store: ObjectStore): ObjectStore => ({
      description: store.description,
      stat: (key) => store.stat(key),
      copy: (source, target, size) => store.copy(source, target, size),
      list: (prefix) => store.list(prefix),
      read: async (key) => {
        reads += 1;
        if (reads === 3) throw new SimulatedCrash(`connection dropped while reading ${key}`);
        return store.read(key);
      },
      // through the failing read above, so the third digest crashes
      async digest(key) {
        return digestStream(await this.read(key));
      },
    });
    const wrapDeps = (deps: HandlerDeps): HandlerDeps => ({ ...deps, openStore: (name, spec) => failingStore(deps.openStore(name, spec)) });
    const failed = await run({ wrapDeps });
    expect(failed.status).toBe('FAILED');
    const [{ hashed, total }] = await select<{ hashed: number; total: number }>(
      conn,
      `SELECT SUM(contents_hash IS NOT NULL) AS hashed, COUNT(*) AS total FROM ${journalTables(schema).objects}`,
    );
    expect(Number(hashed)).toBeGreaterThan(0);
    expect(Number(hashed)).toBeLessThan(Number(total));
    await expectConverged();
  });

  it('in the middle of a column rewrite, between chunks', async () => {
    await rebuild();
    let chunks = 0;
    const wrapDeps = (deps: HandlerDeps): HandlerDeps => {
      const progress: ProgressSink = {
        report(event) {
          if (event.kind === 'rows-rewritten' && event.table === 'trial' && ++chunks === 1) throw new SimulatedCrash('crash after the first chunk of trial.clip');
          deps.progress.report(event);
        },
      };
      return { ...deps, progress };
    };
    const failed = await run({ wrapDeps });
    expect(failed.status).toBe('FAILED');
    const [journal] = await select<{ resume_after: string | null; rows_rewritten: number; temp_column: string }>(
      conn,
      `SELECT resume_after, rows_rewritten, temp_column FROM ${journalTables(schema).columns} WHERE table_name = 'trial'`,
    );
    expect(journal.resume_after).not.toBeNull();
    // an unfilled row holds the temporary column's default, 16 zero bytes
    const [{ filled }] = await select<{ filled: number }>(
      conn,
      `SELECT SUM(NOT (${quoteId(journal.temp_column)} <=> ?)) AS filled FROM ${tableRef(schema, 'trial')}`,
      [Buffer.alloc(16)],
    );
    expect(Number(filled)).toBe(Number(journal.rows_rewritten));
    expect(Number(filled)).toBeGreaterThan(0);
    expect(Number(filled)).toBeLessThan(TRIAL_ROWS);
    await expectConverged();
  });

  it('in the middle of Verify, between its calls: the retry goes on from its checkpoint', async () => {
    await rebuild();
    // every budgeted call stops after one object; the third Verify call's result is lost (as when Lambda times out
    // after the work), which the Task's Retry retries
    let calls = 0;
    let checkpointRun: string | undefined;
    const wrapHandlers = (handlers: Partial<Record<HandlerName, PhaseInvoker>>) => ({
      ...handlers,
      verify: async (event: unknown) => {
        const result = await handlers.verify!(event);
        if (++calls === 3) {
          [{ run: checkpointRun }] = await select<{ run: string }>(conn, `SELECT run FROM ${journalTables(schema).checkpoints} WHERE phase = 'verify'`);
          throw new TransientError('simulated: the third Verify call timed out');
        }
        return result;
      },
    });
    let checked = 0;
    const wrapDeps = (deps: HandlerDeps): HandlerDeps => ({
      ...deps,
      progress: { report: (event) => void (event.kind === 'objects-verified' ? (checked += event.objects) : deps.progress.report(event)) },
    });
    const result = await run({ wrapHandlers, wrapDeps, workBudgetMs: 0 });
    expect(result.error).toBeUndefined();
    const report = result.output as Report;
    expect(report.status).toBe('migrated');
    // more calls than objects (each call checks one), and every object checked once: not again after the retry
    const objects = verified.reduce((sum, column) => sum + column.objects, 0);
    expect(calls).toBeGreaterThan(objects);
    expect(checked).toBe(objects);
    expect(checkpointRun).toMatch(/:execution:migrate011:/);
    expect(report.columns).toEqual(verified);
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  });

  it('after a process died holding the schema lock: refused while it is fresh, taken over once stale with takeOverLock', async () => {
    await rebuild();
    // the first run dies between two phases without reaching its failure path (a killed process), lock still held
    const dead = 'arn:aws:states:us-east-1:123456789012:execution:migrate011:killed-run';
    await acquireSchemaLock(conn, schema, { holder: dead, description: '0.11 -> 0.12 in-place' });
    const refused = await run();
    expect(refused.error?.name).toBe('MigrationRefused');
    expect(refused.error?.message).toContain(dead);
    expect(refused.error?.message).toMatch(/wait for that run to finish, or stop that execution/);
    await execute(conn, `UPDATE ${tableRef(schema, LOCK_TABLE)} SET heartbeat_at = NOW(6) - INTERVAL ? SECOND`, [LOCK_STALE_AFTER_SECONDS + 60]);
    const stale = await run();
    expect(stale.error?.message).toMatch(/looks stale.*\n.*\n.*takeOverLock: true/s);
    const takenOver = await run({ takeOverLock: true });
    expect(takenOver.error).toBeUndefined();
    expect((takenOver.output as Report).status).toBe('migrated');
    // released at the end: the schema is exactly the clean run's, with no lock table left behind
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  });
});
