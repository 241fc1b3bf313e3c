// s3BatchChecksum through the synthesized 0.11 machine with the real handlers: S3 Batch Operations itself has no local
// equivalent, so a stand-in (test/harness/checksum-jobs.ts) computes the MD5s from the objects at rest (a job not done
// at the first look, a completion report with one failed task). The migration must end exactly as a full read does.
import { afterEach, expect, it } from 'vitest';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { TransientError } from '../../functions/core/errors.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { buildExampleLab } from '../../functions/local/sandbox/legacy-pipeline.js';
import { checksumStandIn, md5FromStores, withChecksumJobs as withJobs } from '../harness/checksum-jobs.js';
import { legacyScenario, schemaSnapshot, type Scenario } from '../harness/migration.js';

let scenarios: Scenario[] = [];
afterEach(async () => {
  for (const scenario of scenarios) await scenario.cleanup();
  scenarios = [];
});

const journal = (scenario: Scenario) =>
  select<{ store: string; contents_from: string; n: number }>(
    scenario.conn,
    `SELECT store, contents_from, COUNT(*) AS n FROM ${tableRef(scenario.schema, '~djmigrate_011_object')} GROUP BY store, contents_from ORDER BY store, contents_from`,
  );

it('takes the S3 objects\' contents hashes from the Compute checksum job, streams what it failed on, and ends as a full read does', async () => {
  const [batched, reading] = await Promise.all([legacyScenario('s3batch', buildExampleLab), legacyScenario('s3batch_read', buildExampleLab)]);
  scenarios.push(batched, reading);
  const s3Keys = batched.fixture.objects.filter((object) => object.store !== 'external-local').map((object) => object.key).sort();
  const failed = s3Keys[0];
  const readMd5 = md5FromStores(batched.stores);
  const job = checksumStandIn(async (object) => (object.key === failed ? null : readMd5(object)));
  const result = await batched.run({ s3BatchChecksum: true, wrapDeps: withJobs(job.jobs) });
  expect(result.error).toBeUndefined();
  const report = result.output as Report;
  expect(report.status).toBe('migrated');
  expect(report.s3BatchChecksum).toBe(true);
  // one job over every S3 object (none of the file store's), polled until done
  expect(job.started).toHaveLength(1);
  expect(job.started[0].map((object) => object.key).sort()).toEqual(s3Keys);
  expect(job.looks).toBe(2);
  // the failed task's object was streamed instead; the file store was streamed as always
  expect(report.stores.reduce((sum, store) => sum + store.fromS3Batch, 0)).toBe(s3Keys.length - 1);
  expect((await journal(batched)).filter((row) => row.contents_from === 'stream').reduce((sum, row) => sum + Number(row.n), 0)).toBe(
    batched.fixture.objects.length - s3Keys.length + 1,
  );

  // the same contents hashes as reading every object (pointers differ only by the schema name in their path)
  const full = await reading.run();
  expect((full.output as Report).status).toBe('migrated');
  const contentsHashes = (scenario: Scenario, store: string) =>
    select(scenario.conn, `SELECT SUBSTRING_INDEX(filepath, '/', -1) AS name, HEX(contents_hash) AS md5, size FROM ${tableRef(scenario.schema, `~external_${store}`)} ORDER BY name`);
  for (const store of ['external', 'shared']) {
    const hashes = await contentsHashes(batched, store);
    expect(hashes.length).toBeGreaterThan(0);
    expect(hashes).toEqual(await contentsHashes(reading, store));
  }
});

it('records the completion report in calls, a result file a call, and goes on from its checkpoint when a call\'s result is lost', async () => {
  const [clean, inCalls] = await Promise.all([legacyScenario('s3batch_clean', buildExampleLab), legacyScenario('s3batch_calls', buildExampleLab)]);
  scenarios.push(clean, inCalls);
  const job = (scenario: Scenario) => checksumStandIn(md5FromStores(scenario.stores)).jobs;
  expect((await clean.run({ s3BatchChecksum: true, wrapDeps: withJobs(job(clean)) })).error).toBeUndefined();
  let calls = 0;
  const entered: string[] = [];
  const result = await inCalls.run({
    s3BatchChecksum: true,
    wrapDeps: withJobs(job(inCalls)),
    // a zero budget: each call records one of the report's two files; the second call's result is lost
    workBudgetMs: 0,
    onStateEntered: (state) => entered.push(state),
    wrapHandlers: (handlers) => ({
      ...handlers,
      recordChecksums: async (event: unknown) => {
        const recorded = await handlers.recordChecksums!(event);
        if (++calls === 2) throw new TransientError('simulated lost result');
        return recorded;
      },
    }),
  });
  expect(result.error).toBeUndefined();
  expect((result.output as Report).status).toBe('migrated');
  // file 1; file 2 (its result lost) and the Retry of that call (nothing left to read: done) in the state's second entry
  expect(calls).toBe(3);
  expect(entered.filter((state) => state === 'RecordChecksums')).toHaveLength(2);
  expect(await journal(inCalls)).toEqual(await journal(clean));
});

it('stops before any rewrite when the job reports MD5s that are not those of the bytes', async () => {
  const scenario = await legacyScenario('s3batch_bad', buildExampleLab);
  scenarios.push(scenario);
  const before = await schemaSnapshot(scenario.conn, scenario.schema);
  const job = checksumStandIn(async () => Buffer.alloc(16, 0xab));
  const refused = await scenario.run({ s3BatchChecksum: true, wrapDeps: withJobs(job.jobs) });
  expect(refused.error?.name).toBe('MigrationRefused');
  expect(refused.error?.message).toMatch(/S3 Batch Operations job job-1 reports an MD5 for s3:\/\/\S+ that is not the MD5 of its bytes; nothing was recorded/);
  expect(await schemaSnapshot(scenario.conn, scenario.schema)).toEqual(before);
});

it('refuses s3BatchChecksum where S3 Batch Operations cannot be reached (locally), changing no user table', async () => {
  const scenario = await legacyScenario('s3batch_local', buildExampleLab);
  scenarios.push(scenario);
  const before = await schemaSnapshot(scenario.conn, scenario.schema, { includeJournal: true });
  const refused = await scenario.run({ s3BatchChecksum: true });
  expect(refused.error?.name).toBe('MigrationRefused');
  expect(refused.error?.message).toMatch(/s3BatchChecksum needs S3 Batch Operations, which only the deployed stack can reach.*drop s3BatchChecksum from the input/);
  // refused before the run: not even the journal was created
  expect(await schemaSnapshot(scenario.conn, scenario.schema, { includeJournal: true })).toEqual(before);
  const native = await scenario.run({ s3BatchChecksum: true, mode: 'native', wrapDeps: withJobs(checksumStandIn(async () => null).jobs) });
  expect(native.error?.message).toMatch(/s3BatchChecksum: s3BatchChecksum works with mode "in-place" only/);
});
