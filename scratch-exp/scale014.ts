// throwaway: 0.14 schema with two blob columns sharing a store, an attach and a filepath column; phase times at a size
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execute, quoteId, tableRef } from '../functions/core/db/sql.js';
import { MIGRATE_014_PHASES } from '../functions/local/cli-014.js';
import { PhaseClock } from '../functions/local/cli-output.js';
import { migrateLocally014 } from '../functions/local/migrate.js';
import { connect, startSandbox } from '../functions/local/sandbox/sandbox.js';
import { createV014Schema, declareV014Table, insertV014Rows, v014Attach, v014Blob, v014Filepath, type V014Stores } from '../functions/local/sandbox/v014-pipeline.js';
import { configEntries } from '../bench/fixture.js';

const S = Number(process.argv[2] ?? 2000);
const DB = 'scale014', PRISTINE = 'scale014_p';
const sandbox = await startSandbox();
const conn = await connect(sandbox.mysqlUrl);
await sandbox.createBucket('scale');
const localDir = join(sandbox.fileRoot, 'local');
await mkdir(localDir, { recursive: true });
const stores: V014Stores = { main: { spec: sandbox.s3Store('scale', 'st'), credentials: sandbox.s3.credentials }, local: { spec: { protocol: 'file', location: localDir } as never } };
const t0 = performance.now();
async function build(DB: string) {
await createV014Schema(conn, DB);
await declareV014Table(conn, DB, { name: 'session', primaryKey: [{ name: 'session_id', sqlType: 'int' }], attributes: [{ name: 'note', type: 'varchar(64)' }] });
for (const [name, type] of [['t1', 'blob@main'], ['t2', 'blob@main'], ['t3', 'attach@main'], ['t4', 'filepath@local']] as const) {
  await declareV014Table(conn, DB, { name, primaryKey: [{ name: 'id', sqlType: 'int' }], parents: [{ table: 'session', columns: ['session_id'] }], attributes: [{ name: 'v', type, nullable: true }] });
}
await execute(conn, `INSERT INTO ${tableRef(DB, 'session')} VALUES (1, 'x')`);
const fill = async (table: string, objects: number, value: (i: number) => unknown, rows: number) => {
  for (let s = 0; s < objects; s += 500) {
    const batch = Array.from({ length: Math.min(500, objects - s) }, (_, k) => ({ session_id: 1, id: s + k, v: value(s + k) }));
    await insertV014Rows(conn, DB, table, batch as never, stores);
  }
  for (let done = objects; done < rows; ) {
    const step = Math.min(done, rows - done);
    await execute(conn, `INSERT INTO ${tableRef(DB, table)} (session_id, id, v) SELECT session_id, id + ?, v FROM ${tableRef(DB, table)} WHERE id < ?`, [done, step]);
    done += step;
  }
};
await fill('t1', S, (i) => v014Blob(Buffer.from(`mYm\0one ${i}`)), 5 * S);
await fill('t2', S, (i) => v014Blob(Buffer.from(`mYm\0two ${i}`)), 5 * S);
await fill('t3', S / 4, (i) => v014Attach(`f${i}.txt`, `attach ${i}`), S);
await fill('t4', S / 4, (i) => v014Filepath(`d/f${i}.dat`, `file ${i}`), S);
}
await build(DB);
if (process.argv[3] === 'pointers') {
  const { ensurePointers } = await import('../functions/core/migrate014/external-storage.js');
  const { openObjectStore } = await import('../functions/core/stores/open-store.js'); const { openObjectWriter } = await import('../functions/core/stores/object-writer.js');
  const specs = { main: stores.main.spec, local: stores.local.spec } as never;
  const io = { openStore: (n: string) => openObjectStore((stores as never)[n].spec, (stores as never)[n].credentials), openWriter: process.argv[4] === 'fresh' ? (n: string) => openObjectWriter((stores as never)[n].spec, (stores as never)[n].credentials) : ((w: Record<string, unknown>) => (n: string) => (w[n] ??= openObjectWriter((stores as never)[n].spec, (stores as never)[n].credentials)))({}) } as never;
  for (const t of ['t1', 't2', 't3', 't4']) {
    const st = performance.now();
    const built = await ensurePointers(conn, { schema: DB, stores: specs }, { table: t, column: 'v' }, io);
    console.log(t, built.pointers, ((performance.now() - st) / 1000).toFixed(2), 's');
  }
  process.exit(0);
}
await build(PRISTINE);
console.log(`S=${S} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const entries = configEntries(sandbox.mysqlUrl, stores);
const configPath = join(sandbox.fileRoot, 'conf.json');
await writeFile(configPath, JSON.stringify({ ...entries.database, stores: entries.stores }, null, 2));
for (const input of [{ schema: DB }, { schema: PRISTINE, strategy: 'copy', createDest: true }]) {
  const clock = new PhaseClock(MIGRATE_014_PHASES);
  const started = performance.now();
  const run = await migrateLocally014({ configPath, execute: true, progress: { report: () => {} }, input, ...clock.listeners() });
  const secs = (performance.now() - started) / 1000;
  console.log(`${input.schema} ${run.status} ${secs.toFixed(1)} s: ${Object.entries(clock.seconds()).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')}`);
  if (run.status !== 'SUCCEEDED') console.log(run.error);
}
await conn.end();
await sandbox.stop();
