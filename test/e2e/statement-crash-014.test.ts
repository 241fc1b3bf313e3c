// A 0.14 → 2.0 migration crashing at any kind of write statement it makes (the first and the last of each shape),
// before the statement or after it committed, then rerun: the rerun must end in exactly the clean run's state.
import { isDeepStrictEqual } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, quoteId, tableRef } from '../../functions/core/db/sql.js';
import { backupName } from '../../functions/core/migrate014/backup.js';
import type { Report014 } from '../../functions/core/migrate014/report.js';
import { silentProgress } from '../../functions/core/progress.js';
import { migrateLocally014, type LocalMigration014Options } from '../../functions/local/migrate.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchemaName, openConnection, s3Store, sandbox } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig014 } from '../harness/migration.js';
import { crashingAt, crashPointsOf, recordingWrites, type CrashMode, type CrashPoint } from '../harness/statement-crash.js';

const MODES: CrashMode[] = ['before', 'after'];

describe.each([
  { name: 'in place, with its backup', input: { backup: true, verifyObjects: true }, outcome: 'migrated', schemas: (schema: string) => [schema] },
  { name: 'copy', input: { strategy: 'copy', createDest: true }, outcome: 'copied', schemas: (schema: string) => [schema, `${schema}_v2`] },
] as const)('0.14 $name: a crash at a write statement, then a rerun', ({ input, outcome, schemas }) => {
  const schema = freshSchemaName('crash014');
  let conn: Connection;
  let configPath: string;
  let reference: Record<string, unknown>[];
  const points: CrashPoint[] = [];

  // fresh stores each time: what a run wrote to them (attachments at their 2.x paths) goes with the schema
  const rebuild = async () => {
    for (const name of [...schemas(schema), backupName(schema, new Date())]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    const [bucket, folder] = await Promise.all([freshBucket('crash014'), freshFolder('crash014')]);
    const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
    configPath = await writeDataJointConfig014(folder, stores, { local: { stage: folder } });
    await buildExampleLabV014({ conn, database: schema, stores });
    // filepath pointers carry the row's timestamp: pinned, so every rebuild converts to the same bytes
    for (const store of Object.keys(stores)) await execute(conn, `UPDATE ${tableRef(schema, `~external_${store}`)} SET \`timestamp\` = '2026-01-02 03:04:05'`);
  };
  const run = (overrides: Partial<LocalMigration014Options> = {}) =>
    migrateLocally014({ configPath, execute: true, progress: silentProgress, input: { schema, ...input }, ...overrides });
  const snapshots = () => Promise.all(schemas(schema).map((name) => schemaSnapshot(conn, name)));

  beforeAll(async () => {
    conn = await openConnection();
    await rebuild();
    const statements: string[] = [];
    const clean = await run({ wrapDeps: recordingWrites(statements) });
    expect(clean.error).toBeUndefined();
    expect((clean.output as Report014).status).toBe(outcome);
    reference = await snapshots();
    points.push(...crashPointsOf(statements));
  }, 60_000);

  afterAll(async () => {
    for (const name of [...schemas(schema), backupName(schema, new Date())]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    await conn.end();
  });

  it('converges from a crash before or after each kind of write', async () => {
    expect(points.length).toBeGreaterThan(10);
    const diverged: string[] = [];
    // how often a phase polls (and so heartbeats) depends on timing: a run may make fewer of such a statement
    const unreached: CrashPoint[] = [];
    for (const point of points) {
      for (const mode of MODES) {
        await rebuild();
        const crash = crashingAt(point, mode);
        const crashed = await run({ wrapDeps: crash.wrapDeps });
        const where = `${mode} #${point.occurrence} ${point.shape}`;
        if (!crash.reached()) unreached.push(point);
        // a crash the state machine's Retry absorbed finishes the run; else the user reruns it
        const final = crashed.error ? await run() : crashed;
        if (final.error) {
          diverged.push(`${where}: the rerun failed: ${final.error.name}: ${final.error.message.slice(0, 200)}`);
        } else if ((final.output as Report014).status !== outcome) {
          diverged.push(`${where}: the rerun ended ${(final.output as Report014).status}`);
        } else if (!isDeepStrictEqual(await snapshots(), reference)) {
          diverged.push(`${where}: the rerun ended in another state than the clean run`);
        }
      }
    }
    expect(diverged).toEqual([]);
    expect(unreached.filter((point) => !point.last)).toEqual([]);
    expect(unreached.length).toBeLessThan(points.length / 4);
  }, 900_000);
});
