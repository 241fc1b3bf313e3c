// A 0.11 migration crashing at any kind of write statement it makes (the first and the last of each shape), before
// the statement or after it committed, then rerun: the rerun must end in exactly the clean run's state.
import { isDeepStrictEqual } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteId } from '../../functions/core/db/sql.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { silentProgress } from '../../functions/core/progress.js';
import { migrateLocally, type LocalMigrationOptions } from '../../functions/local/migrate.js';
import { buildExampleLab } from '../../functions/local/sandbox/legacy-pipeline.js';
import { freshLegacyStores, freshSchemaName, openConnection } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig } from '../harness/migration.js';
import { crashingAt, crashPointsOf, recordingWrites, shapeOf, type CrashMode, type CrashPoint } from '../harness/statement-crash.js';

const MODES: CrashMode[] = ['before', 'after'];

const EVERY_STATEMENT = process.env.DJMIGRATE_CRASH_EVERY_STATEMENT === '1';

const variants: { name: string; options: Pick<LocalMigrationOptions, 'mode' | 'distributedHashingFrom' | 'workBudgetMs'> }[] = [
  { name: 'in place', options: { mode: 'in-place' } },
  // The Distributed Map's path and every budgeted phase one unit per call (checkpoints between all of them): minutes,
  // so only in the full sweep (DJMIGRATE_CRASH_EVERY_STATEMENT=1); its kinds of statement are the in-place run's.
  ...(EVERY_STATEMENT ? [{ name: 'native, hashing through the Distributed Map, one unit per call', options: { mode: 'native' as const, distributedHashingFrom: 1, workBudgetMs: 0 } }] : []),
];

describe.each(variants)('0.11 $name: a crash at a write statement, then a rerun', ({ options }) => {
  const schema = freshSchemaName('crash011');
  let conn: Connection;
  let configPath: string;
  let stores: Awaited<ReturnType<typeof freshLegacyStores>>;
  let reference: Record<string, unknown>;
  const points: CrashPoint[] = [];

  const rebuild = async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await buildExampleLab({ conn, database: schema, stores: stores.stores });
  };
  const run = (overrides: Partial<LocalMigrationOptions> = {}) =>
    migrateLocally({ configPath, schema, defaultStore: 'external', keepLegacy: false, execute: true, progress: silentProgress, ...options, ...overrides });

  beforeAll(async () => {
    conn = await openConnection();
    stores = await freshLegacyStores('crash011');
    configPath = await writeDataJointConfig(stores.folder, stores.stores);
    await rebuild();
    const statements: string[] = [];
    const clean = await run({ wrapDeps: recordingWrites(statements) });
    expect(clean.error).toBeUndefined();
    expect((clean.output as Report).status).toBe('migrated');
    reference = await schemaSnapshot(conn, schema);
    points.push(...crashPointsOf(statements));
  }, 60_000);

  afterAll(async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await conn.end();
  });

  it('covers every kind of write: journal, lock, temporary columns, fills, indexes, swaps, external tables, cleanup', () => {
    const shapes = new Set(points.map((point) => point.shape));
    for (const made of ['ALTER TABLE `?`.`?` ADD COLUMN', 'ALTER TABLE `?`.`?` ADD INDEX', 'ALTER TABLE `?`.`?` DROP FOREIGN KEY', 'ALTER TABLE `?`.`?` RENAME INDEX', 'DROP TABLE `?`.`?`']) {
      expect([...shapes].some((shape) => shape.startsWith(made))).toBe(true);
    }
    expect(shapes).toContain(shapeOf('COMMIT'));
  });

  it('converges from a crash before or after each of them', async () => {
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
        } else if (!isDeepStrictEqual(await schemaSnapshot(conn, schema), reference)) {
          diverged.push(`${where}: the rerun ended in another state than the clean run`);
        }
      }
    }
    expect(diverged).toEqual([]);
    expect(unreached.filter((point) => !point.last)).toEqual([]);
    expect(unreached.length).toBeLessThan(points.length / 4);
  }, 600_000);
});
