// trustEtag: the contents hashes of S3 objects come from the listing's ETags, checked on a read sample, and the
// migration ends exactly as a full read would; an ETag that is not the MD5 of the bytes stops it before any rewrite.
import { afterEach, expect, it } from 'vitest';
import { float64Array } from '../../functions/core/datajoint/blob.js';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { ETAG_SAMPLE } from '../../functions/core/migrate011/etag.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { digestStream } from '../../functions/core/stores/hash-stream.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { buildExampleLab, declareLegacyTable, insertLegacyRows, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { legacyScenario, schemaSnapshot, type Scenario } from '../harness/migration.js';

const TRACES = 40;

/** example_lab plus 40 distinct blobs in the s3 store `external`: more than the ETag sample. */
async function buildLabWithTraces(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, {
    name: 'trace',
    primaryKey: [{ name: 'trace_id', sqlType: 'int' }],
    attributes: [{ name: 'samples', type: 'external' }],
  });
  const rows = Array.from({ length: TRACES }, (_, i) => ({ trace_id: i, samples: float64Array([1, 3], [i, i + 0.5, i * 2]) }));
  const objects = await insertLegacyRows(options.conn, options.database, 'trace', rows, options.stores);
  return { ...fixture, tables: [...fixture.tables, 'trace'], objects: [...fixture.objects, ...objects] };
}

/** Listings of part of a store (a key range: listed in passes). */
let rangedListings = 0;

/** Counts object reads per store and lets a test rewrite what listings say. */
function instrumented(reads: Map<string, number>, listed: (info: { key: string; size: number; etag?: string }) => { key: string; size: number; etag?: string } = (info) => info) {
  const wrap = (name: string, store: ObjectStore): ObjectStore => ({
    description: store.description,
    stat: (key) => store.stat(key),
    copy: (source, target, size) => store.copy(source, target, size),
    read: (key) => {
      reads.set(name, (reads.get(name) ?? 0) + 1);
      return store.read(key);
    },
    // through the counting read above, so a digest counts as a read
    async digest(key) {
      return digestStream(await this.read(key));
    },
    async *list(prefix, range) {
      if (range?.from !== undefined || range?.before !== undefined) rangedListings += 1;
      for await (const info of store.list(prefix, range)) yield listed(info);
    },
    ...(store.defaultEncryption ? { defaultEncryption: () => store.defaultEncryption!() } : {}),
  });
  return (deps: HandlerDeps): HandlerDeps => ({ ...deps, openStore: (name, spec) => wrap(name, deps.openStore(name, spec)) });
}

const contentsHashes = (scenario: Scenario, store: string) =>
  select<{ filepath: string; contents_hash: string }>(
    scenario.conn,
    `SELECT SUBSTRING_INDEX(filepath, '/', -1) AS filepath, HEX(contents_hash) AS contents_hash FROM ${tableRef(scenario.schema, `~external_${store}`)} ORDER BY filepath`,
  );

let scenarios: Scenario[] = [];
afterEach(async () => {
  for (const scenario of scenarios) await scenario.cleanup();
  scenarios = [];
});

it('takes S3 contents hashes from ETags, reads only a sample, and ends as a full read does (stores listed in passes, in calls)', async () => {
  const [trusting, reading] = await Promise.all([legacyScenario('etag_trust', buildLabWithTraces), legacyScenario('etag_read', buildLabWithTraces)]);
  scenarios.push(trusting, reading);
  const reads = new Map<string, number>();
  // every store listed in passes over key ranges by Inspect, trustEtag and Verify, each call stopping after one unit
  // of work (trustEtag: a pass of sampling or recording): the same result as in one listing and one call
  let prepares = 0;
  const trusted = await trusting.run({
    trustEtag: true,
    listingPassObjects: 5,
    workBudgetMs: 0,
    wrapDeps: instrumented(reads),
    onStateEntered: (state) => void (state === 'Prepare' && prepares++),
  });
  expect(trusted.error).toBeUndefined();
  expect(rangedListings).toBeGreaterThan(3);
  // the ETag step's passes (sampling and recording) of the 40 s3 objects in passes of 5 took calls of their own
  expect(prepares).toBeGreaterThan(2 * Math.ceil(TRACES / 5));
  const report = trusted.output as Report;
  expect(report.status).toBe('migrated');
  expect(report.trustEtag).toBe(true);
  const external = report.stores.find((store) => store.store === 'external')!;
  expect(external.fromEtag).toBe(external.objects);
  expect(external.objects).toBeGreaterThan(ETAG_SAMPLE);
  // only the sample of the s3 store was read; the file store has no ETags and was read whole
  expect(reads.get('external')).toBe(ETAG_SAMPLE);
  expect(report.stores.find((store) => store.store === 'local')?.fromEtag ?? 0).toBe(0);

  const full = await reading.run();
  expect((full.output as Report).stores.every((store) => store.fromEtag === 0)).toBe(true);
  for (const store of ['external', 'shared']) expect(await contentsHashes(trusting, store)).toEqual(await contentsHashes(reading, store));
});

it('stops before any rewrite when a listed ETag is not the MD5 of the bytes', async () => {
  const scenario = await legacyScenario('etag_bad', buildLabWithTraces);
  scenarios.push(scenario);
  const before = await schemaSnapshot(scenario.conn, scenario.schema);
  // what SSE-KMS objects look like: a 32-hex ETag that is not their MD5
  const lying = instrumented(new Map(), (info) => (info.etag ? { ...info, etag: 'f'.repeat(32) } : info));
  // in calls, each stopping after a pass: the sample is still checked before anything is recorded
  const refused = await scenario.run({ trustEtag: true, listingPassObjects: 5, workBudgetMs: 0, wrapDeps: lying });
  expect(refused.error?.name).toBe('MigrationRefused');
  expect(refused.error?.message).toMatch(/is not the MD5 of its bytes \(SSE-KMS or SSE-C objects\?\); nothing was changed\. Rerun without trustEtag/);
  expect(await schemaSnapshot(scenario.conn, scenario.schema)).toEqual(before);
});

it('refuses trustEtag with native mode, naming the field', async () => {
  const scenario = await legacyScenario('etag_native', buildExampleLab);
  scenarios.push(scenario);
  const refused = await scenario.run({ trustEtag: true, mode: 'native' });
  expect(refused.error?.name).toBe('MigrationRefused');
  expect(refused.error?.message).toMatch(/trustEtag: trustEtag works with mode "in-place" only/);
});
