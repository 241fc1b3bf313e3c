// A 0.11 migration crashing at any kind of write statement it makes (the first and the last of each shape), and at
// each object it copies, before the write or after it (committed, the reply lost), then rerun: the rerun must end in
// exactly the clean run's state.
import { isDeepStrictEqual } from 'node:util';
import type { Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteId } from '../../functions/core/db/sql.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { silentProgress } from '../../functions/core/progress.js';
import { migrateLocally, type LocalMigrationOptions } from '../../functions/local/migrate.js';
import { buildExampleLab } from '../../functions/local/sandbox/legacy-pipeline.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { checksumStandIn, md5FromStores, withChecksumJobs } from '../harness/checksum-jobs.js';
import { freshLegacyStores, freshSchemaName, openConnection } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig } from '../harness/migration.js';
import { EVERY_STATEMENT, crashAtStatements, crashEach, crashPointsOf, recordingStoreWrites, recordingWrites, shapeOf, storeWriteCrashes, type CrashPoint, type CrashScenario } from '../harness/crashes.js';

/** The full sweep takes minutes per workflow. */
const SWEEP_TIMEOUT_MS = EVERY_STATEMENT ? 3_600_000 : 600_000;

interface Variant {
  name: string;
  options: Pick<LocalMigrationOptions, 'mode' | 'distributedHashingFrom' | 'workBudgetMs' | 'trustEtag' | 's3BatchChecksum'> & { keepLegacy?: boolean };
  /** Crash at its write statements; at its store writes (the copies of native mode; an in-place run makes none). */
  crashAt: { statements: boolean; storeWrites: boolean };
}

const variants: Variant[] = [
  { name: 'in place', options: { mode: 'in-place' }, crashAt: { statements: true, storeWrites: false } },
  // Through the Distributed Map, and in the full sweep (DJMIGRATE_CRASH_EVERY_STATEMENT=1) every budgeted phase one
  // unit per call. Its kinds of statement are the in-place run's, so only the full sweep crashes them here.
  {
    name: 'native, hashing through the Distributed Map',
    options: { mode: 'native', distributedHashingFrom: 1, ...(EVERY_STATEMENT ? { workBudgetMs: 0 } : {}) },
    crashAt: { statements: EVERY_STATEMENT, storeWrites: true },
  },
  // The contents hashes from ETags, or from S3 Batch Operations' report: other phases make the statements (and in
  // the full sweep, each of their calls one unit of work); the second also keeps ~external under another name
  ...([{ trustEtag: true }, { s3BatchChecksum: true, keepLegacy: true }] satisfies Partial<Variant['options']>[]).map((extra) => ({
    name: `in place, ${Object.keys(extra).join(', ')}`,
    options: { mode: 'in-place' as const, ...extra, ...(EVERY_STATEMENT ? { workBudgetMs: 0 } : {}) },
    crashAt: { statements: true, storeWrites: false },
  })),
];

describe.each(variants)('0.11 $name: a crash, then a rerun', ({ options, crashAt }) => {
  const schema = freshSchemaName('crash011');
  let conn: Connection;
  let stores: Awaited<ReturnType<typeof freshLegacyStores>>;
  let configPath: string;
  let reference: Record<string, unknown>;
  const points: CrashPoint[] = [];
  const storeWrites: string[] = [];

  // S3 Batch Operations' checksums come from a stand-in that reads the objects
  const checksums = (deps: HandlerDeps) => (options.s3BatchChecksum ? withChecksumJobs(checksumStandIn(md5FromStores(stores.stores)).jobs)(deps) : deps);
  const run = ({ wrapDeps = (deps: HandlerDeps) => deps, ...overrides }: Partial<LocalMigrationOptions> = {}) =>
    migrateLocally({ configPath, schema, defaultStore: 'external', keepLegacy: false, execute: true, progress: silentProgress, ...options, ...overrides, wrapDeps: (deps) => wrapDeps(checksums(deps)) });
  const scenario: CrashScenario = {
    async rebuild() {
      await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
      // fresh stores too: the copies a run made go with its schema
      stores = await freshLegacyStores('crash011');
      configPath = await writeDataJointConfig(stores.folder, stores.stores);
      await buildExampleLab({ conn, database: schema, stores: stores.stores });
    },
    run: (wrapDeps) => run(wrapDeps ? { wrapDeps } : {}),
    async differs(result) {
      if ((result.output as Report).status !== 'migrated') return `the rerun ended ${(result.output as Report).status}`;
      return isDeepStrictEqual(await schemaSnapshot(conn, schema), reference) ? null : 'the rerun ended in another state than the clean run';
    },
  };

  beforeAll(async () => {
    conn = await openConnection();
    await scenario.rebuild();
    const statements: string[] = [];
    const clean = await run({ wrapDeps: (deps) => recordingStoreWrites(storeWrites)(recordingWrites(statements)(deps)) });
    expect(clean.error).toBeUndefined();
    expect((clean.output as Report).status).toBe('migrated');
    reference = await schemaSnapshot(conn, schema);
    points.push(...crashPointsOf(statements));
  }, 60_000);

  afterAll(async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await conn.end();
  });

  it('makes every kind of write: journal, lock, temporary columns, fills, indexes, swaps, external tables, cleanup (~external dropped or renamed); copies in native mode only', () => {
    const shapes = new Set(points.map((point) => point.shape));
    for (const made of ['ALTER TABLE `?`.`?` ADD COLUMN', 'ALTER TABLE `?`.`?` ADD INDEX', 'ALTER TABLE `?`.`?` DROP FOREIGN KEY', 'ALTER TABLE `?`.`?` RENAME INDEX', options.keepLegacy ? 'RENAME TABLE `?`.`?`' : 'DROP TABLE `?`.`?`']) {
      expect([...shapes].some((shape) => shape.startsWith(made))).toBe(true);
    }
    expect(shapes).toContain(shapeOf('COMMIT'));
    if (options.mode === 'native') expect(storeWrites.length).toBeGreaterThan(5);
    else expect(storeWrites).toEqual([]);
  });

  if (crashAt.statements) {
    it('converges from a crash before or after each write statement', async () => {
      const { diverged, missedEarly, missedShare } = await crashAtStatements(scenario, points);
      expect(diverged).toEqual([]);
      expect(missedEarly).toEqual([]);
      expect(missedShare).toBeLessThan(0.25);
    }, SWEEP_TIMEOUT_MS);
  }

  if (crashAt.storeWrites) {
    it('converges from a crash before or after each object copied', async () => {
      const { diverged, unreached } = await crashEach(scenario, storeWriteCrashes(storeWrites));
      expect(diverged).toEqual([]);
      expect(unreached).toEqual([]);
    }, SWEEP_TIMEOUT_MS);
  }
});
