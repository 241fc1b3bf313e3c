// `npm run bench -- --plan-objects N`: what Inspect and the plan cost for a schema of many objects. A file store of
// N objects, each pointed at by one row of one table; the objects are empty files (Inspect compares the store's
// listing with `~external`'s sizes and reads no bytes). Measures the Inspect handler's work (the structure, then
// the plan: every value checked, the store listed, every referenced object looked up) and its peak RSS.
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE, legacyHash } from '../functions/core/datajoint/v011.js';
import { tableRef } from '../functions/core/db/sql.js';
import { Migrate011InputSchema } from '../functions/core/migrate011/input.js';
import { inspectSchema } from '../functions/core/migrate011/inspect.js';
import { planMigration } from '../functions/core/migrate011/plan.js';
import { openObjectStore } from '../functions/core/stores/open-store.js';
import { createLegacySchema, declareLegacyTable } from '../functions/local/sandbox/legacy-pipeline.js';
import { connect, startSandbox } from '../functions/local/sandbox/sandbox.js';
import { formatInt, mb, RssSampler } from './measure.js';

const DATABASE = 'djbench_plan';
const CHUNK = 10_000;

export async function planScale(objects: number, log: (line: string) => void): Promise<void> {
  log(`bench --plan-objects: Inspect + plan of ${formatInt(objects)} objects in a file store, one row pointing at each`);
  const sandbox = await startSandbox();
  const conn = await connect(sandbox.mysqlUrl);
  try {
    const location = join(sandbox.fileRoot, 'plan-scale');
    await mkdir(join(location, DATABASE), { recursive: true });
    await createLegacySchema(conn, DATABASE);
    await declareLegacyTable(conn, DATABASE, { name: 'cell', primaryKey: [{ name: 'cell_id', sqlType: 'int' }], attributes: [{ name: 'trace', type: 'external-local' }] });
    const built = performance.now();
    const limit = pLimit(64);
    for (let start = 0; start < objects; start += CHUNK) {
      const values = Array.from({ length: Math.min(CHUNK, objects - start) }, (_, k) => [start + k, `${legacyHash(Buffer.from(String(start + k)))}local`] as const);
      await conn.query(`INSERT INTO ${tableRef(DATABASE, LEGACY_EXTERNAL_TABLE)} (hash, size) VALUES ?`, [values.map(([, value]) => [value, 0])]);
      await conn.query(`INSERT INTO ${tableRef(DATABASE, 'cell')} (cell_id, trace) VALUES ?`, [values]);
      await Promise.all(values.map(([, value]) => limit(async () => (await open(join(location, DATABASE, value), 'w')).close())));
    }
    log(`built in ${((performance.now() - built) / 1000).toFixed(1)} s`);

    const input = Migrate011InputSchema.parse({ from: '0.11', schema: DATABASE, stores: { local: { protocol: 'file', location } } });
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    const sampler = new RssSampler(50).start();
    const started = performance.now();
    const plan = await planMigration(conn, input, await inspectSchema(conn, input, { checkValues: false }), (name) => openObjectStore(input.stores[name]));
    const seconds = (performance.now() - started) / 1000;
    const peak = sampler.stop();
    const [store] = plan.stores;
    if (plan.status !== 'ready' || store?.objects !== objects || store.missingObjects !== 0) throw new Error(`unexpected plan: ${JSON.stringify(plan.problems)}`);
    log(`bench --plan-objects: ${formatInt(objects)} objects planned in ${seconds.toFixed(1)} s (${formatInt(objects / seconds)} objects/s); peak RSS ${Math.round(mb(peak))} MB (${Math.round(mb(before))} MB before, +${Math.round(mb(peak - before))} MB)`);
  } finally {
    await conn.end().catch(() => {});
    await sandbox.stop();
  }
}
