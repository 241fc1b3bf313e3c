// `npm run bench -- --many-objects N`: a schema of many objects, where per-object costs show. A file store of N
// objects, each pointed at by one row of one table; each object is a few bytes (its number), so per-object costs
// are all there is. Measures the Inspect handler's work (the structure, then the plan: every value checked, the store
// listed, every referenced object looked up) and its peak RSS, then the whole migration through the local runner,
// phase by phase.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE, legacyHash } from '../functions/core/datajoint/v011.js';
import { tableRef } from '../functions/core/db/sql.js';
import { Migrate011InputSchema } from '../functions/core/migrate011/input.js';
import { inspectSchema } from '../functions/core/migrate011/inspect.js';
import { planMigration } from '../functions/core/migrate011/plan.js';
import type { Report } from '../functions/core/migrate011/report.js';
import type { KeyRange } from '../functions/core/stores/key-ranges.js';
import type { ObjectStore } from '../functions/core/stores/object-store.js';
import { openObjectStore } from '../functions/core/stores/open-store.js';
import { MIGRATE_011_PHASES } from '../functions/local/cli-011.js';
import { PhaseClock } from '../functions/local/cli-output.js';
import { migrateLocally } from '../functions/local/migrate.js';
import { createLegacySchema, declareLegacyTable } from '../functions/local/sandbox/legacy-pipeline.js';
import { connect, startSandbox } from '../functions/local/sandbox/sandbox.js';
import { writeLegacyConfig } from './fixture.js';
import { formatInt, mb, RssSampler } from './measure.js';

const DATABASE = 'djbench_many';
const CHUNK = 10_000;

/**
 * What the process holds (V8 heap + array buffers, after a full GC) each time a store listing has been read to its
 * end, that listing then held whole: RSS also counts garbage not yet collected, which hides a listing's size.
 */
class HeldAfterListing {
  private readonly samples: number[] = [];

  watch(store: ObjectStore): ObjectStore {
    const samples = this.samples;
    return Object.assign(Object.create(store) as ObjectStore, {
      async *list(prefix: string, range?: KeyRange) {
        yield* store.list(prefix, range);
        // array buffers are freed after the collection that finds them dead, not within it
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        await new Promise((resolve) => setImmediate(resolve));
        gc?.();
        const memory = process.memoryUsage();
        samples.push(memory.heapUsed + memory.arrayBuffers);
      },
    });
  }

  summary(): string {
    return `held after each of ${this.samples.length} listing(s): ${this.samples.map((bytes) => Math.round(mb(bytes))).join(', ')} MB (heap + buffers after GC)`;
  }
}

export async function manyObjects(
  objects: number,
  log: (line: string) => void,
  { distributedHashingFrom, listingPassObjects, workBudgetMs }: { distributedHashingFrom?: number; listingPassObjects?: number; workBudgetMs?: number } = {},
): Promise<void> {
  log(`bench --many-objects: ${formatInt(objects)} objects in a file store, one row pointing at each`);
  const sandbox = await startSandbox();
  const conn = await connect(sandbox.mysqlUrl);
  try {
    const location = join(sandbox.fileRoot, 'many-objects');
    await mkdir(join(location, DATABASE), { recursive: true });
    await createLegacySchema(conn, DATABASE);
    await declareLegacyTable(conn, DATABASE, { name: 'cell', primaryKey: [{ name: 'cell_id', sqlType: 'int' }], attributes: [{ name: 'trace', type: 'external-local' }] });
    const built = performance.now();
    const limit = pLimit(64);
    for (let start = 0; start < objects; start += CHUNK) {
      const objectsOfChunk = Array.from({ length: Math.min(CHUNK, objects - start) }, (_, k) => {
        const bytes = Buffer.from(String(start + k));
        return { id: start + k, bytes, value: `${legacyHash(bytes)}local` };
      });
      await conn.query(`INSERT INTO ${tableRef(DATABASE, LEGACY_EXTERNAL_TABLE)} (hash, size) VALUES ?`, [objectsOfChunk.map(({ value, bytes }) => [value, bytes.length])]);
      await conn.query(`INSERT INTO ${tableRef(DATABASE, 'cell')} (cell_id, trace) VALUES ?`, [objectsOfChunk.map(({ id, value }) => [id, value])]);
      await Promise.all(objectsOfChunk.map(({ value, bytes }) => limit(() => writeFile(join(location, DATABASE, value), bytes))));
    }
    log(`built in ${((performance.now() - built) / 1000).toFixed(1)} s`);

    const input = Migrate011InputSchema.parse({ from: '0.11', schema: DATABASE, stores: { local: { protocol: 'file', location } }, ...(listingPassObjects !== undefined ? { listingPassObjects } : {}) });
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    const sampler = new RssSampler(50).start();
    const started = performance.now();
    const held = new HeldAfterListing();
    const plan = await planMigration(conn, input, await inspectSchema(conn, input, { checkValues: false }), (name) => held.watch(openObjectStore(input.stores[name])));
    const seconds = (performance.now() - started) / 1000;
    const peak = sampler.stop();
    const [store] = plan.stores;
    if (plan.status !== 'ready' || store?.objects !== objects || store.missingObjects !== 0) throw new Error(`unexpected plan: ${JSON.stringify(plan.problems)}`);
    log(`Inspect + plan: ${seconds.toFixed(1)} s (${formatInt(objects / seconds)} objects/s); peak RSS ${Math.round(mb(peak))} MB (${Math.round(mb(before))} MB before, +${Math.round(mb(peak - before))} MB); ${held.summary()}`);

    const configPath = join(sandbox.fileRoot, 'many-objects.dj_local_conf.json');
    await writeLegacyConfig(configPath, sandbox.mysqlUrl, { 'external-local': { spec: { protocol: 'file', location } } });
    const clock = new PhaseClock(MIGRATE_011_PHASES);
    const runSampler = new RssSampler(50).start();
    const runStarted = performance.now();
    const run = await migrateLocally({ configPath, schema: DATABASE, defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, progress: { report: () => {} }, ...(distributedHashingFrom !== undefined ? { distributedHashingFrom } : {}), ...(listingPassObjects !== undefined ? { listingPassObjects } : {}), ...(workBudgetMs !== undefined ? { workBudgetMs } : {}), ...clock.listeners() });
    const runSeconds = (performance.now() - runStarted) / 1000;
    const runPeak = runSampler.stop();
    if (run.status !== 'SUCCEEDED' || (run.output as Report).status !== 'migrated') throw new Error(`the migration did not finish: ${run.error?.name ?? (run.output as Report).status}: ${run.error?.message ?? ''}`);
    const phases = Object.entries(clock.seconds()).map(([phase, phaseSeconds]) => `${phase} ${phaseSeconds.toFixed(1)}`);
    log(`migration: ${runSeconds.toFixed(1)} s (${formatInt(objects / runSeconds)} objects/s) — ${phases.join(', ')}; peak RSS ${Math.round(mb(runPeak))} MB`);
    const calls = Object.entries(clock.entered()).filter(([, n]) => n > 1).map(([phase, n]) => `${phase} ${n}`);
    log(`  phases entered more than once (budgeted calls, polls): ${calls.length ? calls.join(', ') : 'none'}${workBudgetMs !== undefined ? ` (work budget ${workBudgetMs / 1000} s a call)` : ''}`);
    log(`bench --many-objects: ${formatInt(objects)} objects: Inspect + plan ${seconds.toFixed(1)} s (+${Math.round(mb(peak - before))} MB), whole migration ${runSeconds.toFixed(1)} s (peak RSS ${Math.round(mb(runPeak))} MB)`);
  } finally {
    await conn.end().catch(() => {});
    await sandbox.stop();
  }
}
