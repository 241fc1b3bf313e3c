// migrate_external_storage in place on example_lab_v014 (real-examples part 5): the pointers are what real 2.3.2
// writes (part 6.5), each pointer's path holds bytes whose base32 MD5 is its hash, and a rerun changes nothing.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { storeObjectKey } from '../../functions/core/datajoint/v012.js';
import { hashOfDigest, pythonJson, pythonUtcIso } from '../../functions/core/datajoint/v2.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import {
  migrateExternalStorage,
  migrateTableColumns,
  planExternalStorage,
  planExternalStorageStep,
  prepareExternalStorage,
  type ExternalPlanCheckpoint,
  type ExternalPlanStep,
  type ExternalStorageOptions,
  type TableColumnsCheckpoint,
} from '../../functions/core/migrate014/external-storage.js';
import { openObjectWriter, type ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import type { ProgressEvent } from '../../functions/core/progress.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import { buildExampleLabV014, declareV014Table, insertV014Rows, MIGRATED_SAMPLE, v014Attach, v014Blob, v014Filepath, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchema, s3Store, sandbox, type FreshSchema } from '../harness/context.js';
import { foreignKeysOf, schemaSnapshot } from '../harness/migration.js';

let schema: FreshSchema | undefined;
afterEach(async () => {
  await schema?.cleanup();
  schema = undefined;
});

interface Setup {
  conn: FreshSchema['conn'];
  db: string;
  folder: string;
  stores: V014Stores;
  options: ExternalStorageOptions;
  openStore: (name: string) => ObjectStore;
  openWriter: (name: string) => ObjectWriter;
}

async function setup(prefix: string, extra: Partial<ExternalStorageOptions> = {}): Promise<Setup> {
  schema = await freshSchema(prefix);
  const [bucket, folder] = await Promise.all([freshBucket(prefix.replace(/_/g, '-')), freshFolder(prefix)]);
  const credentials = sandbox().s3.credentials;
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials }, local: { spec: fileStore(folder) } };
  await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores });
  const options: ExternalStorageOptions = { schema: schema.name, stores: { main: stores.main.spec, local: stores.local.spec }, ...extra };
  const opened = new Map<string, ObjectStore>();
  const openStore = (name: string): ObjectStore => {
    if (!opened.has(name)) opened.set(name, openObjectStore(stores[name].spec, stores[name].credentials));
    return opened.get(name)!;
  };
  const openWriter = (name: string): ObjectWriter => openObjectWriter(stores[name].spec, stores[name].credentials);
  return { conn: schema.conn, db: schema.name, folder, stores, options, openStore, openWriter };
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const md5 = (bytes: Uint8Array): Buffer => createHash('md5').update(bytes).digest();

async function isMariaDb(conn: Setup['conn']): Promise<boolean> {
  const [{ version }] = await select<{ version: string }>(conn, 'SELECT VERSION() AS version');
  return /mariadb/i.test(version);
}

async function pointers(s: Setup): Promise<Record<string, Record<string, string | null>>> {
  const rows = await select<Record<string, string | null | number>>(
    s.conn,
    `SELECT animal_id, sample_id, ${['waveform', 'waveform_opt', 'report', 'scan'].map((c) => `CAST(${c} AS CHAR) AS ${c}`).join(', ')}
       FROM ${tableRef(s.db, 'sample')} ORDER BY animal_id, sample_id`,
  );
  return Object.fromEntries(
    rows.map((row) => [
      `${row.animal_id},${row.sample_id}`,
      { waveform: row.waveform as string | null, waveform_opt: row.waveform_opt as string | null, report: row.report as string | null, scan: row.scan as string | null },
    ]),
  );
}

async function filepathTimestamps(s: Setup): Promise<Record<string, string>> {
  const rows = await select<{ filepath: string; epoch: string }>(
    s.conn,
    `SELECT filepath, CAST(UNIX_TIMESTAMP(\`timestamp\`) AS CHAR) AS epoch FROM ${tableRef(s.db, '~external_local')}`,
  );
  return Object.fromEntries(rows.map((row) => [row.filepath, pythonUtcIso(new Date(Number(row.epoch) * 1000))]));
}

/** Every hash pointer's path holds bytes whose base32 MD5 is its hash and whose length is its size. */
async function checkObjects(s: Setup, all: Record<string, Record<string, string | null>>): Promise<void> {
  for (const row of Object.values(all)) {
    for (const [name, text] of Object.entries(row)) {
      if (text === null || name === 'scan') continue;
      const pointer = JSON.parse(text) as { hash: string; path: string; store: string; size: number };
      const spec = s.stores.main.spec;
      const bytes = await readAll(await s.openStore('main').read(storeObjectKey(spec.protocol, spec.location, pointer.path)));
      expect(hashOfDigest(md5(bytes)), `${name} ${pointer.path}`).toBe(pointer.hash);
      expect(bytes.length).toBe(pointer.size);
    }
  }
}

async function expectText(s: Setup, actual: string | null, expected: Record<string, unknown>): Promise<void> {
  if (await isMariaDb(s.conn)) expect(actual).toBe(pythonJson(expected));
  else expect(JSON.parse(actual!)).toEqual(expected); // MySQL re-orders JSON keys; 2.x does not care.
}

async function checkColumns(s: Setup, store = 'main'): Promise<void> {
  const columns = await select<{ name: string; type: string; nullable: string; comment: string }>(
    s.conn,
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' ORDER BY ORDINAL_POSITION`,
    [s.db],
  );
  const json = (await isMariaDb(s.conn)) ? 'longtext' : 'json';
  expect(columns.map((c) => c.name)).toEqual(['animal_id', 'sample_id', 'label', 'n_spikes', 'gain', 'offset', 'raw', 'waveform', 'waveform_opt', 'report', 'scan']);
  expect(columns.slice(7).map((c) => [c.name, c.type, c.nullable, c.comment])).toEqual([
    ['waveform', json, 'NO', `:<blob@${store}>:external blob`],
    ['waveform_opt', json, 'YES', `:<blob@${store}>:optional external blob`],
    ['report', json, 'NO', `:<attach@${store}>:attachment`],
    ['scan', json, 'NO', ':<filepath@local>:managed file'],
  ]);
  if (json === 'longtext') {
    // What 2.x itself declares on MariaDB (real-examples 6.2): utf8mb4_bin longtext with a json_valid CHECK.
    const details = await select<{ name: string; collation: string }>(
      s.conn,
      `SELECT COLUMN_NAME AS name, COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' AND DATA_TYPE = 'longtext' ORDER BY ORDINAL_POSITION`,
      [s.db],
    );
    expect(details.map((d) => d.collation)).toEqual(['utf8mb4_bin', 'utf8mb4_bin', 'utf8mb4_bin', 'utf8mb4_bin']);
    const checks = await select<{ clause: string }>(
      s.conn,
      `SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = 'sample' ORDER BY CHECK_CLAUSE`,
      [s.db],
    );
    expect(checks.map((c) => c.clause)).toEqual(['json_valid(`report`)', 'json_valid(`scan`)', 'json_valid(`waveform_opt`)', 'json_valid(`waveform`)'].sort());
  }
  const fks = await foreignKeysOf(s.conn, s.db, 'sample');
  expect(fks.map((fk) => [fk.column_name, fk.referenced])).toEqual([['animal_id', 'animal']]);
  const tables = await select<{ name: string }>(s.conn, "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '~external%' ORDER BY TABLE_NAME", [s.db]);
  expect(tables.map((t) => t.name)).toEqual(['~external_local', '~external_main']);
}

async function storeListing(s: Setup): Promise<string[]> {
  const listing: string[] = [];
  for await (const object of s.openStore('main').list('')) listing.push(`${object.key}:${object.size}`);
  for await (const object of s.openStore('local').list(`${s.folder}/`)) listing.push(`${object.key}:${object.size}`);
  return listing.sort();
}

it('converts every external column of example_lab_v014 into the pointers 2.3.2 writes, and a rerun changes nothing', async () => {
  const s = await setup('ext_storage');
  const plan = await planExternalStorage(s.conn, s.options, s.openStore);
  expect(plan.problems).toEqual([]);
  expect(plan.status).toBe('ready');
  expect(plan.columns.map((c) => [c.table, c.column, c.kind, c.store, c.nullable, c.rows, c.pointers, c.objects])).toEqual([
    ['sample', 'waveform', 'blob', 'main', false, 3, 3, 2],
    ['sample', 'waveform_opt', 'blob', 'main', true, 3, 1, 1],
    ['sample', 'report', 'attach', 'main', false, 3, 3, 1],
    ['sample', 'scan', 'filepath', 'local', false, 3, 3, 2],
  ]);

  const result = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(result.status).toBe('migrated');
  expect(result.columns.map((c) => [c.column, c.rowsFilled, c.state])).toEqual([
    ['waveform', 3, 'swapped'],
    ['waveform_opt', 1, 'swapped'],
    ['report', 3, 'swapped'],
    ['scan', 3, 'swapped'],
  ]);
  expect(result.objectsWritten).toBe(1);
  expect(result.objectsCopied).toBe(0);
  await checkColumns(s);

  const db = s.db;
  const all = await pointers(s);
  const times = await filepathTimestamps(s);
  const waveform = { hash: 'i33xnnjp3kuajkswrsmjoivqnu', path: `${db}/46/f7/46f776b52fdaa804aa568c989722b06d`, schema: db, store: 'main', size: 61 };
  const report = { hash: 'su3biuootdak5aforz72h6qh6u', path: `_hash/${db}/su3biuootdak5aforz72h6qh6u`, schema: db, store: 'main', size: 27 };
  await expectText(s, all['1,1'].waveform, waveform);
  await expectText(s, all['1,1'].waveform_opt, { hash: 'yjrayfxfseh4scgxv7nmbly3ku', path: `${db}/c2/62/c2620c16e5910fc908d7afdac0af1b55`, schema: db, store: 'main', size: 130 });
  await expectText(s, all['1,1'].report, report);
  await expectText(s, all['1,1'].scan, { path: 'sub/scan_001.dat', store: 'local', size: 9, is_dir: false, timestamp: times['sub/scan_001.dat'] });
  await expectText(s, all['2,7'].waveform, waveform);
  expect(all['2,7'].waveform_opt).toBeNull();
  await expectText(s, all['2,7'].report, report);
  await expectText(s, all['2,7'].scan, { path: 'scan_002.v2.dat', store: 'local', size: 14, is_dir: false, timestamp: times['scan_002.v2.dat'] });
  expect(times['sub/scan_001.dat']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000\+00:00$/);
  // The row migrated from 0.11: base32(contents_hash) and the legacy object, never the md5 of the path.
  const migrated = all[`${MIGRATED_SAMPLE.animal_id},${MIGRATED_SAMPLE.sample_id}`];
  await expectText(s, migrated.waveform, {
    hash: hashOfDigest(Buffer.from('595936a35db89e00c9588724083ee5f0', 'hex')),
    path: `${db}/7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s`,
    schema: db,
    store: 'main',
    size: 48,
  });
  await checkObjects(s, all);

  const attach = await readAll(await s.openStore('main').read(`example014/_hash/${db}/su3biuootdak5aforz72h6qh6u`));
  expect(attach.length).toBe(27);
  expect(attach.toString('latin1')).toBe('report.v1.txt\0hello report\n');

  const before = await schemaSnapshot(s.conn, db);
  const objectsBefore = await storeListing(s);
  const rerun = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(rerun.status).toBe('nothing-to-do');
  expect(rerun.objectsWritten + rerun.objectsCopied).toBe(0);
  expect(await schemaSnapshot(s.conn, db)).toEqual(before);
  expect(await storeListing(s)).toEqual(objectsBefore);
  expect((await planExternalStorage(s.conn, s.options, s.openStore)).status).toBe('nothing-to-do');
});

it('with copyFiles and storeMap copies blobs to _hash/<schema>/<hash> and names the 2.x store', async () => {
  const s = await setup('ext_copy', { copyFiles: true, storeMap: { main: 'raw' } });
  const result = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(result.objectsCopied).toBe(3);
  expect(result.objectsWritten).toBe(1);
  await checkColumns(s, 'raw');
  const db = s.db;
  const all = await pointers(s);
  await expectText(s, all['1,1'].waveform, { hash: 'i33xnnjp3kuajkswrsmjoivqnu', path: `_hash/${db}/i33xnnjp3kuajkswrsmjoivqnu`, schema: db, store: 'raw', size: 61 });
  const legacyHash = hashOfDigest(Buffer.from('595936a35db89e00c9588724083ee5f0', 'hex'));
  await expectText(s, all['2,9'].waveform, { hash: legacyHash, path: `_hash/${db}/${legacyHash}`, schema: db, store: 'raw', size: 48 });
  await checkObjects(s, all);
  // The legacy objects stay where they were.
  expect(await s.openStore('main').stat(`example014/${db}/46/f7/46f776b52fdaa804aa568c989722b06d`)).not.toBeNull();
});

it('refuses and changes nothing when an object is missing', async () => {
  const s = await setup('ext_missing');
  await rm(`${s.folder}/sub/scan_001.dat`);
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });
  const plan = await planExternalStorage(s.conn, s.options, s.openStore);
  expect(plan.status).toBe('refused');
  expect(plan.problems.join('\n')).toMatch(/sub\/scan_001\.dat is missing from store "local"/);
  await expect(migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter)).rejects.toBeInstanceOf(MigrationRefusedError);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);
});

it('plans in calls that stop after every object: the same plan, every object counted once; a checkpoint of other columns is set aside', async () => {
  const s = await setup('ext_plan_calls', { concurrency: 1 });
  await rm(`${s.folder}/sub/scan_001.dat`);
  const whole = await planExternalStorage(s.conn, s.options, s.openStore);
  const stats = new Map<string, number>();
  const counting = (name: string): ObjectStore => {
    const store = s.openStore(name);
    const count = (key: string) => stats.set(key, (stats.get(key) ?? 0) + 1);
    return Object.assign(Object.create(store) as ObjectStore, {
      stat: async (key: string) => {
        count(key);
        return store.stat(key);
      },
      ...(store.statMany && {
        statMany: async (keys: readonly string[], concurrency: number) => {
          keys.forEach(count);
          return store.statMany!(keys, concurrency);
        },
      }),
    });
  };
  const inCalls = async (first: ExternalPlanCheckpoint | null) => {
    let step: ExternalPlanStep = { plan: null, checkpoint: first! };
    let calls = 0;
    do {
      // through JSON, as the execution's state carries it
      step = JSON.parse(JSON.stringify(await planExternalStorageStep(s.conn, s.options, counting, { budgetMs: 0, checkpoint: calls === 0 ? first : step.checkpoint, progress })));
      calls += 1;
      expect(calls).toBeLessThan(20);
    } while (!step.plan);
    return { plan: step.plan, calls };
  };
  const checked = new Map<string, number>();
  const progress = { report: (event: ProgressEvent) => event.kind === 'objects-checked' && checked.set(`${event.table}.${event.column}`, (checked.get(`${event.table}.${event.column}`) ?? 0) + event.objects) };
  const { plan, calls } = await inCalls(null);
  expect(plan).toEqual(whole);
  // the progress counts every object once, by column
  expect(Object.fromEntries(checked)).toEqual(Object.fromEntries(whole.columns.map((c) => [`${c.table}.${c.column}`, c.objects])));
  checked.clear();
  expect(plan.status).toBe('refused');
  // one call per referenced object: 2 waveform, 1 waveform_opt, 1 report, 2 scan
  expect(calls).toBe(6);
  // every object looked at (a call looks at its page's objects at once, and checks as many as its budget allows)
  expect(stats.size).toBe(6);

  const stale: ExternalPlanCheckpoint = { found: ['sample.gone'], columns: [], problems: ['stale'], cursor: { column: 0, after: 'ff', objects: { count: 0, examples: [] } } };
  expect((await inCalls(stale)).plan).toEqual(whole);
});

it('keeps ten of a column\'s object problems and counts the rest', async () => {
  const s = await setup('ext_plan_cap');
  await declareV014Table(s.conn, s.db, { name: 'many', primaryKey: [{ name: 'n', sqlType: 'int' }], attributes: [{ name: 'file', type: 'filepath@local', comment: 'a file' }] });
  await insertV014Rows(s.conn, s.db, 'many', Array.from({ length: 12 }, (_, n) => ({ n, file: v014Filepath(`gone/f${n}.dat`, `contents ${n}`) })), s.stores);
  await rm(`${s.folder}/gone`, { recursive: true });
  const plan = await planExternalStorage(s.conn, s.options, s.openStore);
  const missing = plan.problems.filter((problem) => /^many\.file .*gone\/f\d+\.dat is missing/.test(problem));
  expect(missing).toHaveLength(10);
  expect(plan.problems).toContain('many.file: 2 more object(s) missing, of the wrong size or damaged (the first 10 above)');
  expect(plan.columns.find((c) => c.table === 'many')?.objects).toBe(12);
});

it('converts a table in calls that each fill one chunk, going on from the checkpoint the call before returned', async () => {
  const reference = await setup('ext_calls_ref');
  await migrateExternalStorage(reference.conn, reference.options, reference.openStore, reference.openWriter);
  const dump = async (x: Setup) =>
    (await select<Record<string, unknown>>(x.conn, `SELECT CAST(waveform AS CHAR) w, CAST(waveform_opt AS CHAR) o, CAST(report AS CHAR) r, CAST(scan AS CHAR) c FROM ${tableRef(x.db, 'sample')} ORDER BY animal_id, sample_id`)).map(
      // the schemas were built apart: their filepath rows' timestamps may differ by a second
      (row) => JSON.stringify(row).replaceAll(x.db, 'DB').replace(/"timestamp\\": \\"[^"\\]*/g, 'timestamp'),
    );
  const converted = await dump(reference);
  await schema!.cleanup();
  const s = await setup('ext_calls', { fillChunkRows: 1 });
  const prepared = await prepareExternalStorage(s.conn, s.options, s.openStore);
  expect(prepared.tableColumns).toEqual([prepared.columns]);
  const filledByCall: number[] = [];
  let checkpoint: TableColumnsCheckpoint | null = null;
  for (;;) {
    let filled = 0;
    const progress = { report: (event: ProgressEvent) => void (event.kind === 'rows-rewritten' && (filled += event.rows)) };
    // a zero budget: each call does one batch of work and hands back; the checkpoint through JSON, as the state carries it
    const step: Awaited<ReturnType<typeof migrateTableColumns>> = JSON.parse(
      JSON.stringify(await migrateTableColumns(s.conn, s.options, prepared.tableColumns![0], { openStore: s.openStore, openWriter: s.openWriter, progress }, 0, checkpoint)),
    );
    filledByCall.push(filled);
    if (step.done) break;
    checkpoint = step.checkpoint;
    expect(filledByCall.length).toBeLessThan(40);
  }
  // 3 rows a column (waveform_opt's one non-NULL): never a call that only re-reads what an earlier one filled
  expect(filledByCall.reduce((sum, n) => sum + n, 0)).toBe(3 + 1 + 3 + 3);
  expect(filledByCall.every((n) => n <= 1)).toBe(true);
  expect(await dump(s)).toEqual(converted);
});

it('refuses when a store is not configured', async () => {
  const s = await setup('ext_nostore');
  const options = { ...s.options, stores: { main: s.options.stores.main } };
  const plan = await planExternalStorage(s.conn, options, s.openStore);
  expect(plan.status).toBe('refused');
  expect(plan.problems.join('\n')).toMatch(/store "local", which is not in the config/);
});

it('converges after a failure part-way, after a crash right after a swap, and after a crash before the journal update', async () => {
  const s = await setup('ext_resume', { fillChunkRows: 1 });
  const failing = (): ObjectWriter => ({
    description: 'failing',
    put: async () => {
      throw new Error('simulated upload failure');
    },
  });
  await expect(migrateExternalStorage(s.conn, s.options, s.openStore, failing)).rejects.toThrow('simulated upload failure');
  // The blob columns were converted before the attachment column failed.
  const comments = async () =>
    (
      await select<{ name: string; comment: string }>(
        s.conn,
        "SELECT COLUMN_NAME AS name, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' AND COLUMN_NAME NOT IN ('animal_id', 'sample_id', 'label', 'n_spikes', 'gain', 'offset', 'raw') ORDER BY ORDINAL_POSITION",
        [s.db],
      )
    ).map((c) => `${c.name} ${c.comment}`);
  expect(await comments()).toEqual([
    'waveform :<blob@main>:external blob',
    'waveform_opt :<blob@main>:optional external blob',
    'report :attach@main:attachment',
    'scan :filepath@local:managed file',
  ]);

  await expect(migrateExternalStorage(s.conn, { ...s.options, copyFiles: true }, s.openStore, s.openWriter)).rejects.toThrow(/unfinished migrate_external_storage run started with/);

  const crash = { ...s.options, hooks: { afterSwap: async (_table: string, column: string) => { if (column === 'scan') throw new Error('simulated crash after swap'); } } };
  await expect(migrateExternalStorage(s.conn, crash, s.openStore, s.openWriter)).rejects.toThrow('simulated crash after swap');
  expect(await comments()).toEqual([
    'waveform :<blob@main>:external blob',
    'waveform_opt :<blob@main>:optional external blob',
    'report :<attach@main>:attachment',
    'scan :<filepath@local>:managed file',
    '_djmigrate_v1_4 djmigrate: 0.14 pointer, dropped once converted',
  ]);

  const result = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(result.columns.map((c) => [c.column, c.state, c.rowsFilled])).toEqual([['scan', 'already-swapped', 0]]);
  await checkColumns(s);
  const all = await pointers(s);
  await checkObjects(s, all);
  const times = await filepathTimestamps(s);
  await expectText(s, all['1,1'].scan, { path: 'sub/scan_001.dat', store: 'local', size: 9, is_dir: false, timestamp: times['sub/scan_001.dat'] });

  // A crash after the last ALTER but before the journal recorded it.
  await select(s.conn, `UPDATE ${tableRef(s.db, '~djmigrate_014_column')} SET state = 'pending' WHERE column_name = 'scan'`);
  const before = await schemaSnapshot(s.conn, s.db);
  const again = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(again.columns.map((c) => [c.column, c.state])).toEqual([['scan', 'already-swapped']]);
  expect(await schemaSnapshot(s.conn, s.db)).toEqual(before);
});

it('converts a row a 0.14 client wrote between the last fill and the swap', async () => {
  const s = await setup('ext_slipped');
  const sample = tableRef(s.db, 'sample');
  const hooks = {
    beforeSwap: async (_table: string, column: string) => {
      if (column !== 'waveform_opt') return;
      // waveform is JSON by now; the other external columns still take 0.14 uuids.
      await select(
        s.conn,
        `INSERT INTO ${sample} (animal_id, sample_id, raw, waveform, waveform_opt, report, scan)
         SELECT 1, 2, raw, waveform, UNHEX('C2620C16E5910FC908D7AFDAC0AF1B55'), report, scan FROM ${sample} WHERE animal_id = 1 AND sample_id = 1`,
      );
    },
  };
  const result = await migrateExternalStorage(s.conn, { ...s.options, hooks }, s.openStore, s.openWriter);
  expect(result.columns.map((c) => [c.column, c.rowsFilled])).toEqual([
    ['waveform', 3],
    ['waveform_opt', 2],
    ['report', 4],
    ['scan', 4],
  ]);
  await checkColumns(s);
  const all = await pointers(s);
  expect(all['1,2'].waveform_opt).toBe(all['1,1'].waveform_opt);
  await checkObjects(s, all);
});

it('with verifyObjects refuses a blob whose bytes no longer match its uuid (same size)', async () => {
  const s = await setup('ext_verify', { verifyObjects: true });
  const spec = s.stores.main.spec;
  const key = storeObjectKey(spec.protocol, spec.location, `${s.db}/46/f7/46f776b52fdaa804aa568c989722b06d`);
  const replaced = Buffer.alloc(61, 7);
  await s.openWriter('main').put(key, Readable.from([replaced]), replaced.length);
  expect((await s.openStore('main').stat(key))?.size).toBe(61);
  const plan = await planExternalStorage(s.conn, s.options, s.openStore);
  expect(plan.status).toBe('refused');
  expect(plan.problems).toHaveLength(1);
  expect(plan.problems[0]).toMatch(/46f776b52fdaa804aa568c989722b06d does not hash to its recorded md5/);
  // Without re-hashing only sizes are checked.
  expect((await planExternalStorage(s.conn, { ...s.options, verifyObjects: false }, s.openStore)).status).toBe('ready');
});

const ODD_TABLE = 'we`ird "tab\'le';
const ODD_COLUMN = 'att`ach';

async function declareOddTable(s: Setup): Promise<void> {
  await declareV014Table(s.conn, s.db, {
    name: ODD_TABLE,
    primaryKey: [
      { name: 'subject', sqlType: 'varchar(16)' },
      { name: 'n', sqlType: 'bigint' },
    ],
    attributes: [
      { name: 'tag', type: 'int', default: '0' },
      { name: ODD_COLUMN, type: 'attach@local', nullable: true, comment: 'a "quoted" comment: with colons' },
      { name: 'big', type: 'filepath@main', comment: 'large file' },
    ],
  });
  await insertV014Rows(
    s.conn,
    s.db,
    ODD_TABLE,
    [
      { subject: "o'brien", n: 9007199254740993n, [ODD_COLUMN]: v014Attach('résumé.v2.tar.gz', 'zipped'), big: v014Filepath('deep/a b/c.bin', 'big contents', { nullContentsHash: true }) },
      { subject: 'b`tick', n: 1n, [ODD_COLUMN]: null, big: v014Filepath('deep/a b/c.bin', 'big contents', { nullContentsHash: true }) },
    ],
    s.stores,
  );
}

it('converts attachments with non-ASCII names in a file store, filepaths without contents_hash, NULLs, and hostile identifiers', async () => {
  const s = await setup('ext_odd');
  await declareOddTable(s);
  const result = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(result.columns.filter((c) => c.table === ODD_TABLE).map((c) => [c.column, c.kind, c.rowsFilled])).toEqual([
    [ODD_COLUMN, 'attach', 1],
    ['big', 'filepath', 2],
  ]);
  const columns = await select<{ name: string; nullable: string; comment: string }>(
    s.conn,
    'SELECT COLUMN_NAME AS name, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [s.db, ODD_TABLE],
  );
  expect(columns.map((c) => [c.name, c.nullable, c.comment])).toEqual([
    ['subject', 'NO', ''],
    ['n', 'NO', ''],
    ['tag', 'NO', ''],
    [ODD_COLUMN, 'YES', ':<attach@local>:a "quoted" comment: with colons'],
    ['big', 'NO', ':<filepath@main>:large file'],
  ]);
  expect(await foreignKeysOf(s.conn, s.db, ODD_TABLE)).toEqual([]);
  const rows = await select<{ subject: string; a: string | null; big: string }>(
    s.conn,
    `SELECT subject, CAST(${quoteId(ODD_COLUMN)} AS CHAR) AS a, CAST(big AS CHAR) AS big FROM ${tableRef(s.db, ODD_TABLE)} ORDER BY subject`,
  );
  expect(rows[0].a).toBeNull();
  const name = Buffer.from('résumé.v2.tar.gz\0', 'utf8');
  const object = Buffer.concat([name, Buffer.from('zipped')]);
  const hash = hashOfDigest(md5(object));
  await expectText(s, rows[1].a, { hash, path: `_hash/${s.db}/${hash}`, schema: s.db, store: 'local', size: object.length });
  const written = await readAll(await s.openStore('local').read(`${s.folder}/_hash/${s.db}/${hash}`));
  expect(written.equals(object)).toBe(true);
  const times = await select<{ epoch: string }>(s.conn, `SELECT CAST(UNIX_TIMESTAMP(\`timestamp\`) AS CHAR) AS epoch FROM ${tableRef(s.db, '~external_main')} WHERE filepath = 'deep/a b/c.bin'`);
  const big = { path: 'deep/a b/c.bin', store: 'main', size: 12, is_dir: false, timestamp: pythonUtcIso(new Date(Number(times[0].epoch) * 1000)) };
  await expectText(s, rows[0].big, big);
  await expectText(s, rows[1].big, big);
});

it('reads a small attachment once (checked, then written from memory) and a big one twice (never held whole)', async () => {
  const s = await setup('ext_attach_reads');
  await declareV014Table(s.conn, s.db, { name: 'doc', primaryKey: [{ name: 'n', sqlType: 'int' }], attributes: [{ name: 'file', type: 'attach@main', nullable: true }] });
  const big = Buffer.alloc(5 * 1024 ** 2, 7);
  await insertV014Rows(s.conn, s.db, 'doc', [{ n: 1, file: v014Attach('small.txt', 'small contents') }, { n: 2, file: v014Attach('big.bin', big) }], s.stores);
  const reads = new Map<string, number>();
  const counting = (name: string): ObjectStore => {
    const store = s.openStore(name);
    return Object.assign(Object.create(store) as ObjectStore, {
      read: (key: string) => {
        // 0.12 names an attachment `<uuid>.<its name>`
        const name = key.split('/').pop()!.replace(/^[0-9a-f]{32}\./, '');
        reads.set(name, (reads.get(name) ?? 0) + 1);
        return store.read(key);
      },
    });
  };
  // sizes written from memory (the S3 client can send those again on SlowDown) and streamed
  const fromMemory: number[] = [];
  const streamed: number[] = [];
  const recording = (name: string): ObjectWriter => {
    const writer = s.openWriter(name);
    return {
      description: writer.description,
      put: (key, body, size) => {
        (Buffer.isBuffer(body) ? fromMemory : streamed).push(size);
        return writer.put(key, body, size);
      },
    };
  };
  await migrateExternalStorage(s.conn, s.options, counting, recording);
  // the example lab's report.v1.txt is small too
  expect(Object.fromEntries(reads)).toEqual({ 'small.txt': 1, 'big.bin': 2, 'report.v1.txt': 1 });
  expect(streamed).toEqual([big.length + 'big.bin\0'.length]);
  expect(fromMemory.sort()).toEqual(['small.txt\0small contents'.length, 'report.v1.txt\0hello report\n'.length].sort());
  const rows = await select<{ n: number; file: string }>(s.conn, `SELECT n, CAST(file AS CHAR) AS file FROM ${tableRef(s.db, 'doc')} ORDER BY n`);
  for (const [row, name, contents] of [[rows[0], 'small.txt', Buffer.from('small contents')], [rows[1], 'big.bin', big]] as const) {
    const object = Buffer.concat([Buffer.from(`${name}\0`), contents]);
    const hash = hashOfDigest(md5(object));
    await expectText(s, row.file, { hash, path: `_hash/${s.db}/${hash}`, schema: s.db, store: 'main', size: object.length });
    expect((await readAll(await s.openStore('main').read(`example014/_hash/${s.db}/${hash}`))).equals(object)).toBe(true);
  }
});

it('refuses a column that is part of an index (JSON cannot be indexed)', async () => {
  const s = await setup('ext_index');
  await select(s.conn, `ALTER TABLE ${tableRef(s.db, 'sample')} ADD UNIQUE INDEX pair (waveform, label)`);
  const plan = await planExternalStorage(s.conn, s.options, s.openStore);
  expect(plan.status).toBe('refused');
  expect(plan.problems).toEqual(['sample.waveform is part of index pair; a JSON column cannot be indexed, drop the index and rerun']);
});

/** `trace`: a table of its own with a nullable blob@local column. */
async function declareTrace(s: Setup): Promise<void> {
  await declareV014Table(s.conn, s.db, {
    name: 'trace',
    primaryKey: [{ name: 'trace_id', sqlType: 'int' }],
    attributes: [{ name: 'data', type: 'blob@local', nullable: true }],
  });
}

it('pages through more pointers than one batch and fills in primary-key chunks', async () => {
  const s = await setup('ext_many', { fillChunkRows: 97 });
  await declareTrace(s);
  const count = 1234;
  const rows = Array.from({ length: count }, (_, i) => ({ trace_id: i, data: i % 10 === 3 ? null : v014Blob(Buffer.from(`mYm\0object ${i % 700}`)) }));
  await insertV014Rows(s.conn, s.db, 'trace', rows, s.stores);
  const result = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  const trace = result.columns.find((c) => c.table === 'trace')!;
  expect(trace.rowsFilled).toBe(rows.filter((r) => r.data !== null).length);
  const values = await select<{ id: number; data: string | null }>(s.conn, `SELECT trace_id AS id, CAST(data AS CHAR) AS data FROM ${tableRef(s.db, 'trace')} ORDER BY trace_id`);
  expect(values).toHaveLength(count);
  for (const { id, data } of values) {
    if (id % 10 === 3) {
      expect(data).toBeNull();
      continue;
    }
    const bytes = Buffer.from(`mYm\0object ${id % 700}`);
    const digest = md5(bytes);
    expect(JSON.parse(data!)).toEqual({ hash: hashOfDigest(digest), path: storeRelative(s.db, digest), schema: s.db, store: 'local', size: bytes.length });
  }
});

it('builds the pointers of a column in calls too, each going on after the last hash the call before recorded', async () => {
  const s = await setup('ext_pointer_calls', { fillChunkRows: 500 });
  await declareTrace(s);
  // 1,200 objects: three batches of pointers
  const rows = Array.from({ length: 1_200 }, (_, i) => ({ trace_id: i, data: v014Blob(Buffer.from(`mYm\0object ${i}`)) }));
  await insertV014Rows(s.conn, s.db, 'trace', rows, s.stores);
  const prepared = await prepareExternalStorage(s.conn, s.options, s.openStore);
  const [{ id }] = await select<{ id: number }>(s.conn, `SELECT column_id AS id FROM ${tableRef(s.db, '~djmigrate_014_column')} WHERE table_name = 'trace'`);
  const trace = [Number(id)];
  expect(prepared.tableColumns).toContainEqual(trace);
  const io = { openStore: s.openStore, openWriter: s.openWriter };
  const pointers = async () => Number((await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(s.db, '~djmigrate_014_pointer')} WHERE store = 'local'`))[0].n);

  // a zero budget: a batch of 500 a call, then the checkpoint of the last hash recorded
  const first = await migrateTableColumns(s.conn, s.options, trace, io, 0);
  expect(first.checkpoint).toMatchObject({ stage: 'pointers', after: expect.stringMatching(/^[0-9a-f]{32}$/) });
  expect(first.pointers).toBe(500);
  const before = await pointers();
  // a pointer recorded before the checkpoint, lost: the calls that go on from the checkpoint do not look back for it
  await execute(s.conn, `DELETE FROM ${tableRef(s.db, '~djmigrate_014_pointer')} WHERE store = 'local' AND hash < UNHEX(?) ORDER BY hash LIMIT 1`, [first.checkpoint!.after]);
  let checkpoint = first.checkpoint;
  const stages: string[] = [];
  let refused: unknown = null;
  for (let call = 0; call < 20 && checkpoint; call++) {
    try {
      const step = await migrateTableColumns(s.conn, s.options, trace, io, 0, checkpoint);
      if (step.checkpoint) stages.push(step.checkpoint.stage);
      checkpoint = step.checkpoint;
    } catch (error) {
      refused = error;
      break;
    }
  }
  expect(stages[0]).toBe('pointers');
  expect(stages).toContain('fill');
  expect(await pointers()).toBe(before - 1 + 1_200 - 500);
  // the row of the lost pointer is left unfilled, and the fill's last check refuses to swap the column
  expect(refused).toBeInstanceOf(MigrationRefusedError);
  expect(String((refused as Error).message)).toMatch(/trace\.data has pointers without a 2\.x pointer/);
  // a new run (no checkpoint) builds it again and converts the column
  const rerun = await migrateExternalStorage(s.conn, s.options, s.openStore, s.openWriter);
  expect(rerun.columns.find((c) => c.table === 'trace')?.state).toBe('swapped');
});

it('checks the fill and converts the rows written before the swap in calls too: every stage in chunks, none reading the whole table in one call', async () => {
  const s = await setup('ext_stage_calls', { fillChunkRows: 100, checkChunkRows: 100 });
  await declareTrace(s);
  const rows = Array.from({ length: 1_200 }, (_, i) => ({ trace_id: i, data: v014Blob(Buffer.from(`mYm\0staged ${i}`)) }));
  await insertV014Rows(s.conn, s.db, 'trace', rows, s.stores);
  await prepareExternalStorage(s.conn, s.options, s.openStore);
  const [{ id }] = await select<{ id: number }>(s.conn, `SELECT column_id AS id FROM ${tableRef(s.db, '~djmigrate_014_column')} WHERE table_name = 'trace'`);
  const io = { openStore: s.openStore, openWriter: s.openWriter };
  // a zero budget: a batch of pointers, a chunk of 100 rows filled or checked a call
  const stages: string[] = [];
  let checkpoint: Awaited<ReturnType<typeof migrateTableColumns>>['checkpoint'] = null;
  for (let call = 0; call < 200; call++) {
    const step = await migrateTableColumns(s.conn, s.options, [Number(id)], io, 0, checkpoint);
    if (step.done) break;
    stages.push(step.checkpoint!.stage);
    checkpoint = step.checkpoint;
  }
  const calls = (stage: string) => stages.filter((name) => name === stage).length;
  // 1,200 rows in chunks of 100: the fill and its check 12 calls each (the last ends the stage and goes on); after the
  // swap the kept column's fill and check likewise (its pointers are all there: one call goes through them)
  expect(calls('pointers')).toBeGreaterThanOrEqual(2);
  expect(calls('fill')).toBeGreaterThanOrEqual(11);
  expect(calls('check')).toBeGreaterThanOrEqual(11);
  expect(calls('late-fill')).toBeGreaterThanOrEqual(11);
  expect(calls('late-check')).toBeGreaterThanOrEqual(11);
  expect(stages.indexOf('late-fill')).toBeGreaterThan(stages.lastIndexOf('check'));
  const values = await select<{ id: number; data: string }>(s.conn, `SELECT trace_id AS id, CAST(data AS CHAR) AS data FROM ${tableRef(s.db, 'trace')} ORDER BY trace_id`);
  expect(values).toHaveLength(1_200);
  for (const { id: traceId, data } of values) expect(JSON.parse(data)).toMatchObject({ hash: hashOfDigest(md5(Buffer.from(`mYm\0staged ${traceId}`))) });
  const [{ state }] = await select<{ state: string }>(s.conn, `SELECT state FROM ${tableRef(s.db, '~djmigrate_014_column')} WHERE column_id = ?`, [id]);
  expect(state).toBe('swapped');
  const columns = await select<{ name: string }>(s.conn, `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'trace'`, [s.db]);
  expect(columns.map((c) => c.name).sort()).toEqual(['data', 'trace_id']);
});

function storeRelative(db: string, digest: Buffer): string {
  const hex = digest.toString('hex');
  return `${db}/${hex.slice(0, 2)}/${hex.slice(2, 4)}/${hex}`;
}
