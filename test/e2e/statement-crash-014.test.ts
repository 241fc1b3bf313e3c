// A 0.14 → 2.0 migration crashing at any kind of write statement it makes (the first and the last of each shape),
// and at each object it writes or copies, before the write or after it (committed, the reply lost), then rerun: the
// rerun must end in exactly the clean run's state.
import { isDeepStrictEqual } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, quoteId, tableRef } from '../../functions/core/db/sql.js';
import { backupName } from '../../functions/core/migrate014/backup.js';
import type { Report014 } from '../../functions/core/migrate014/report.js';
import { silentProgress } from '../../functions/core/progress.js';
import { migrateLocally014 } from '../../functions/local/migrate.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchemaName, openConnection, s3Store, sandbox } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig014 } from '../harness/migration.js';
import { EVERY_STATEMENT, crashAtStatements, crashEach, crashPointsOf, recordingStoreWrites, recordingWrites, storeWriteCrashes, type CrashPoint, type CrashScenario } from '../harness/crashes.js';

/** The full sweep takes minutes per workflow. */
const SWEEP_TIMEOUT_MS = EVERY_STATEMENT ? 3_600_000 : 600_000;

describe.each([
  { name: 'in place, with its backup', input: { backup: true, verifyObjects: true }, outcome: 'migrated', schemas: (schema: string) => [schema] },
  { name: 'in place, with copyFiles', input: { copyFiles: true }, outcome: 'migrated', schemas: (schema: string) => [schema] },
  { name: 'copy, with copyFiles', input: { strategy: 'copy', createDest: true, copyFiles: true }, outcome: 'copied', schemas: (schema: string) => [schema, `${schema}_v2`] },
  // every table of two rows or more copied in parts (ranges of its first key column), the parts side by side
  { name: 'copy in parts', input: { strategy: 'copy', createDest: true, copyPartRows: 1 }, outcome: 'copied', schemas: (schema: string) => [schema, `${schema}_v2`] },
] as const)('0.14 $name: a crash, then a rerun', ({ input, outcome, schemas }) => {
  const schema = freshSchemaName('crash014');
  const dropAll = async () => {
    for (const name of [...schemas(schema), backupName(schema, new Date())]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
  };
  let conn: Connection;
  let configPath: string;
  let reference: Record<string, unknown>[];
  const points: CrashPoint[] = [];
  const storeWrites: string[] = [];

  const snapshots = () => Promise.all(schemas(schema).map((name) => schemaSnapshot(conn, name)));
  const scenario: CrashScenario = {
    // fresh stores each time: what a run wrote to them (attachments at their 2.x paths, copies) goes with the schema
    async rebuild() {
      await dropAll();
      const [bucket, folder] = await Promise.all([freshBucket('crash014'), freshFolder('crash014')]);
      const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
      configPath = await writeDataJointConfig014(folder, stores, { local: { stage: folder } });
      await buildExampleLabV014({ conn, database: schema, stores });
      // filepath pointers carry the row's timestamp: pinned, so every rebuild converts to the same bytes
      for (const store of Object.keys(stores)) await execute(conn, `UPDATE ${tableRef(schema, `~external_${store}`)} SET \`timestamp\` = '2026-01-02 03:04:05'`);
    },
    // the full sweep also makes every budgeted call one unit of work (checkpoints between all of them)
    run: (wrapDeps) =>
      migrateLocally014({ configPath, execute: true, progress: silentProgress, input: { schema, ...input }, ...(EVERY_STATEMENT ? { workBudgetMs: 0 } : {}), ...(wrapDeps ? { wrapDeps } : {}) }),
    async differs(result) {
      const { status } = result.output as Report014;
      if (status !== outcome) return `the rerun ended ${status}`;
      return isDeepStrictEqual(await snapshots(), reference) ? null : 'the rerun ended in another state than the clean run';
    },
  };

  beforeAll(async () => {
    conn = await openConnection();
    await scenario.rebuild();
    const statements: string[] = [];
    const clean = await scenario.run((deps) => recordingStoreWrites(storeWrites)(recordingWrites(statements)(deps)));
    expect(clean.error).toBeUndefined();
    expect((clean.output as Report014).status).toBe(outcome);
    reference = await snapshots();
    points.push(...crashPointsOf(statements));
  }, 60_000);

  afterAll(async () => {
    await dropAll();
    await conn.end();
  });

  it('converges from a crash before or after each kind of write statement', async () => {
    expect(points.length).toBeGreaterThan(10);
    const { diverged, missedEarly, missedShare } = await crashAtStatements(scenario, points);
    expect(diverged).toEqual([]);
    expect(missedEarly).toEqual([]);
    expect(missedShare).toBeLessThan(0.25);
  }, SWEEP_TIMEOUT_MS);

  it('converges from a crash before or after each object written or copied', async () => {
    expect(storeWrites.length).toBeGreaterThan(0);
    const { diverged, unreached } = await crashEach(scenario, storeWriteCrashes(storeWrites));
    expect(diverged).toEqual([]);
    expect(unreached).toEqual([]);
  }, SWEEP_TIMEOUT_MS);
});
