// Copy strategy (issue 3 item 5): create_parallel_schema generates the `_v2` DDL from example_lab_v014 (markers,
// JSON codec columns, no FK to `~external_*`), copy_table_data / copySchemaData move every row with the 0.14 uuids
// converted to the JSON the in-place migration writes, reruns insert nothing, an interrupted copy resumes, and a
// destination that cannot hold the source's columns is refused before any row moves.
import { createHash } from 'node:crypto';
import { afterEach, expect, it, vi } from 'vitest';
import { hashOfDigest } from '../../functions/core/datajoint/v2.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import type { ProgressEvent } from '../../functions/core/progress.js';
import { copyItemsOf, copyPartsOf, copySchemaData, copyTableData, createParallelSchema, foreignKeyLevels, foreignKeyOrder, planParallelSchema, type CopyTableCheckpoint, type CopyTableResult } from '../../functions/core/migrate014/copy.js';
import { migrateExternalStorage } from '../../functions/core/migrate014/external-storage.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import { openObjectWriter, type ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { copyTableDataCommand, createParallelSchemaCommand } from '../../functions/local/cli-copy.js';
import { buildExampleLabV014, declareV014Table, insertV014Rows, MIGRATED_SAMPLE, v014Blob, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchema, freshSchemaName, s3Store, sandbox, type FreshSchema } from '../harness/context.js';
import { foreignKeysOf, writeDataJointConfig014 } from '../harness/migration.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  conn: FreshSchema['conn'];
  source: string;
  stores: V014Stores;
  specs: Record<string, V014Stores[string]['spec']>;
  openStore: (name: string) => ObjectStore;
  openWriter: (name: string) => ObjectWriter;
}

async function setup(prefix: string): Promise<Setup & { folder: string }> {
  const schema = await freshSchema(prefix);
  cleanups.push(() => schema.cleanup());
  const [bucket, folder] = await Promise.all([freshBucket(prefix.replace(/_/g, '-')), freshFolder(prefix)]);
  const credentials = sandbox().s3.credentials;
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials }, local: { spec: fileStore(folder) } };
  await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores });
  const opened = new Map<string, ObjectStore>();
  const openStore = (name: string): ObjectStore => {
    if (!opened.has(name)) opened.set(name, openObjectStore(stores[name].spec, stores[name].credentials));
    return opened.get(name)!;
  };
  const openWriter = (name: string): ObjectWriter => openObjectWriter(stores[name].spec, stores[name].credentials);
  return { conn: schema.conn, source: schema.name, folder, stores, specs: { main: stores.main.spec, local: stores.local.spec }, openStore, openWriter };
}

/** A schema name dropped after the test. */
function scratch(s: Setup, prefix: string): string {
  const name = freshSchemaName(prefix);
  cleanups.push(async () => void (await s.conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`)));
  return name;
}

async function columnsOf(conn: Setup['conn'], schema: string, table: string) {
  return select<{ name: string; type: string; nullable: string; dflt: string | null; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS dflt, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
}

async function sampleRows(conn: Setup['conn'], schema: string): Promise<Record<string, unknown>[]> {
  const rows = await select<Record<string, unknown>>(
    conn,
    `SELECT animal_id, sample_id, label, n_spikes, gain, \`offset\`, HEX(raw) AS raw,
            CAST(waveform AS CHAR) AS waveform, CAST(waveform_opt AS CHAR) AS waveform_opt, CAST(report AS CHAR) AS report, CAST(scan AS CHAR) AS scan
       FROM ${tableRef(schema, 'sample')} ORDER BY animal_id, sample_id`,
  );
  return rows.map((row) => {
    const out: Record<string, unknown> = { ...row };
    for (const name of ['waveform', 'waveform_opt', 'report', 'scan']) {
      if (out[name] === null) continue;
      const parsed = JSON.parse(String(out[name])) as Record<string, unknown>;
      delete parsed.timestamp; // the `~external_local` rows of two fixtures may be a second apart
      out[name] = parsed;
    }
    return out;
  });
}

const copyOptions = (s: Setup, dest: string) => ({
  source: s.source,
  dest,
  stores: s.specs,
  openStore: s.openStore,
  openWriter: s.openWriter,
});

it('create_parallel_schema declares the 2.x tables: markers, JSON codec columns, FKs re-targeted, ~lineage; rerun is a no-op', async () => {
  const s = await setup('copy_ddl');
  const dest = scratch(s, 'copy_ddl_v2');
  const plan = await planParallelSchema(s.conn, { source: s.source, dest });
  expect(plan.problems).toEqual([]);
  expect(plan.tables).toEqual(['animal', 'sample']);
  expect(plan.droppedExternalKeys.sort()).toEqual(['sample.report', 'sample.scan', 'sample.waveform', 'sample.waveform_opt']);
  const created = await createParallelSchema(s.conn, { source: s.source, dest });
  expect(created.created).toEqual(['animal', 'sample']);

  const [{ version }] = await select<{ version: string }>(s.conn, 'SELECT VERSION() AS version');
  const json = /mariadb/i.test(version) ? 'longtext' : 'json';
  const animal = await columnsOf(s.conn, dest, 'animal');
  expect(animal.map((c) => [c.name, c.type.replace(/^int\(11\)$/, 'int'), c.comment])).toEqual([
    ['animal_id', 'int', ':int32:animal number'],
    ['species', 'varchar(32)', ':varchar(32):species name'],
  ]);
  expect(animal[1].dflt).toMatch(/^'?mouse'?$/);
  const sample = await columnsOf(s.conn, dest, 'sample');
  expect(sample.map((c) => [c.name, c.comment])).toEqual([
    ['animal_id', 'animal number'], // inherited: no marker
    ['sample_id', 'sample number'], // unsigned: no marker by default
    ['label', ':varchar(32):free text'],
    ['n_spikes', 'spike count'],
    ['gain', ':float32:amplifier gain'],
    ['offset', ':float64:baseline offset'],
    ['raw', ':<blob>:in-table blob'],
    ['waveform', ':<blob@main>:external blob'],
    ['waveform_opt', ':<blob@main>:optional external blob'],
    ['report', ':<attach@main>:attachment'],
    ['scan', ':<filepath@local>:managed file'],
  ]);
  expect(sample.slice(7).map((c) => [c.type, c.nullable])).toEqual([
    [json, 'NO'],
    [json, 'YES'],
    [json, 'NO'],
    [json, 'NO'],
  ]);
  expect(sample.find((c) => c.name === 'label')!.dflt).toMatch(/^'?none'?$/);
  const fks = await foreignKeysOf(s.conn, dest, 'sample');
  expect(fks.map((fk) => [fk.column_name, fk.referenced])).toEqual([['animal_id', 'animal']]);
  const [{ schema: referencedSchema }] = await select<{ schema: string }>(
    s.conn,
    `SELECT REFERENCED_TABLE_SCHEMA AS \`schema\` FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' AND REFERENCED_TABLE_NAME IS NOT NULL`,
    [dest],
  );
  expect(referencedSchema).toBe(dest);
  const tables = await select<{ name: string }>(s.conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [dest]);
  expect(tables.map((t) => t.name)).toEqual(['animal', 'sample', '~lineage']);
  const [src] = await select<{ c: string }>(s.conn, 'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [s.source]);
  const [dst] = await select<{ c: string }>(s.conn, 'SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [dest]);
  expect(dst.c).toBe(src.c);

  const again = await createParallelSchema(s.conn, { source: s.source, dest });
  expect(again.created).toEqual([]);
});

it('copies every table with pointers converted as the in-place migration writes them; a rerun copies nothing', async () => {
  const s = await setup('copy_all');
  const dest = scratch(s, 'copy_all_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  const result = await copySchemaData(s.conn, { ...copyOptions(s, dest), chunkRows: 2 });
  expect(result.tables.map((t) => [t.table, t.rowsCopied])).toEqual([
    ['animal', 2],
    ['sample', 3],
  ]);
  expect(result.tables[1].converted).toEqual(['waveform', 'waveform_opt', 'report', 'scan']);
  expect(result.rowsCopied).toBe(5);

  const rows = await sampleRows(s.conn, dest);
  const db = s.source;
  expect(rows[0].waveform).toEqual({ hash: 'i33xnnjp3kuajkswrsmjoivqnu', path: `${db}/46/f7/46f776b52fdaa804aa568c989722b06d`, schema: db, store: 'main', size: 61 });
  expect(rows[0].report).toEqual({ hash: 'su3biuootdak5aforz72h6qh6u', path: `_hash/${db}/su3biuootdak5aforz72h6qh6u`, schema: db, store: 'main', size: 27 });
  expect(rows[0].scan).toEqual({ path: 'sub/scan_001.dat', store: 'local', size: 9, is_dir: false });
  expect(rows[1].waveform_opt).toBeNull();
  const migrated = rows.find((r) => Number(r.animal_id) === MIGRATED_SAMPLE.animal_id && Number(r.sample_id) === MIGRATED_SAMPLE.sample_id)!;
  expect((migrated.waveform as { hash: string }).hash).toBe(hashOfDigest(Buffer.from('595936a35db89e00c9588724083ee5f0', 'hex')));
  const animals = await select<{ animal_id: number; species: string }>(s.conn, `SELECT animal_id, species FROM ${tableRef(dest, 'animal')} ORDER BY animal_id`);
  expect(animals.map((a) => [Number(a.animal_id), a.species])).toEqual([
    [1, 'rat'],
    [2, 'mouse'],
  ]);

  // The same rows migrated in place by migrate_external_storage (an identical fixture under another name).
  const twin = scratch(s, 'copy_twin');
  await buildExampleLabV014({ conn: s.conn, database: twin, stores: s.stores });
  await migrateExternalStorage(s.conn, { schema: twin, stores: s.specs }, s.openStore, s.openWriter);
  const inPlace = JSON.parse(JSON.stringify(await sampleRows(s.conn, twin)).split(twin).join(db));
  expect(rows).toEqual(inPlace);

  const rerun = await copySchemaData(s.conn, copyOptions(s, dest));
  expect(rerun.rowsCopied).toBe(0);
});

it('an interrupted copy resumes where it stopped', async () => {
  const s = await setup('copy_resume');
  const dest = scratch(s, 'copy_resume_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'animal' });
  const crash = new Error('crash after one chunk');
  await expect(
    copyTableData(s.conn, {
      ...copyOptions(s, dest),
      table: 'sample',
      chunkRows: 1,
      hooks: {
        async afterChunk() {
          throw crash;
        },
      },
    }),
  ).rejects.toBe(crash);
  const [{ n }] = await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(dest, 'sample')}`);
  expect(Number(n)).toBe(1);
  const resumed = await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'sample', chunkRows: 1 });
  expect(resumed.rowsCopied).toBe(2);
  expect((await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'sample' })).rowsCopied).toBe(0);
});

it('calls of a bounded time go on from the checkpoint the call before returned: pointers, then rows, no chunk read twice', async () => {
  const s = await setup('copy_calls');
  const dest = scratch(s, 'copy_calls_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'animal' });
  const [{ n: sourceRows }] = await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(s.source, 'sample')}`);
  let checkpoint: CopyTableCheckpoint | null = null;
  let chunks = 0;
  const calls: { stage: string | undefined; chunks: number }[] = [];
  for (;;) {
    const before = chunks;
    // a deadline already past: each call does one pointer batch, or copies one chunk of one row, and hands back
    const call: CopyTableResult = await copyTableData(s.conn, {
      ...copyOptions(s, dest),
      table: 'sample',
      chunkRows: 1,
      deadline: 0,
      checkpoint,
      hooks: { afterChunk: async () => void (chunks += 1) },
    });
    calls.push({ stage: call.checkpoint?.stage, chunks: chunks - before });
    if (call.done) {
      expect(call.checkpoint).toBeNull();
      break;
    }
    expect(call.checkpoint).not.toEqual(checkpoint);
    checkpoint = call.checkpoint;
    expect(calls.length).toBeLessThan(30);
  }
  const pointerCalls = calls.filter((call) => call.stage === 'pointers');
  // each of sample's 4 external columns: a batch, then a call finding no more; no row copied meanwhile
  expect(pointerCalls).toEqual(Array.from({ length: 4 }, () => ({ stage: 'pointers', chunks: 0 })));
  // then a chunk a call, each row once, then the call that finds the end
  expect(calls.slice(pointerCalls.length).map((call) => call.chunks)).toEqual(Array.from({ length: Number(sourceRows) + 1 }, () => 1));
  const [{ n }] = await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(dest, 'sample')}`);
  expect(Number(n)).toBe(Number(sourceRows));
});

it("builds a big column's pointers in calls from the checkpoint, refuses at the chunk of a row whose pointer is missing, and a new run copies it", async () => {
  const s = await setup('copy_pointer_calls');
  await declareV014Table(s.conn, s.source, { name: 'trace', primaryKey: [{ name: 'trace_id', sqlType: 'int' }], attributes: [{ name: 'data', type: 'blob@local', nullable: true }] });
  // 1,200 objects: three batches of pointers
  const bytesOf = (i: number) => Buffer.from(`mYm\0object ${i}`);
  await insertV014Rows(s.conn, s.source, 'trace', Array.from({ length: 1_200 }, (_, i) => ({ trace_id: i, data: v014Blob(bytesOf(i)) })), s.stores);
  const dest = scratch(s, 'copy_pointer_calls_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  const options = { ...copyOptions(s, dest), table: 'trace', chunkRows: 100, deadline: 0 };
  const pointers = async () => Number((await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(s.source, '~djmigrate_014_pointer')} WHERE store = 'local'`))[0].n);
  const destRows = async () => Number((await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(dest, 'trace')}`))[0].n);

  const events: ProgressEvent[] = [];
  const first = await copyTableData(s.conn, { ...options, progress: { report: (event) => events.push(event) } });
  expect(first).toMatchObject({ done: false, rowsCopied: 0, checkpoint: { stage: 'pointers', column: 'data', after: expect.stringMatching(/^[0-9a-f]{32}$/) } });
  expect(await pointers()).toBe(500);
  expect(events).toEqual([{ kind: 'pointers-built', table: 'trace', column: 'data', pointers: 500 }]);
  // a pointer recorded before the checkpoint, lost: the calls that go on from the checkpoint do not look back for it
  const checkpointed = first.checkpoint as Extract<CopyTableCheckpoint, { stage: 'pointers' }>;
  await execute(s.conn, `DELETE FROM ${tableRef(s.source, '~djmigrate_014_pointer')} WHERE store = 'local' AND hash < UNHEX(?) ORDER BY hash LIMIT 1`, [checkpointed.after]);
  let checkpoint: CopyTableCheckpoint | null = first.checkpoint;
  const stages: string[] = [];
  let refused: unknown = null;
  for (let call = 0; call < 30 && checkpoint; call++) {
    try {
      const step: CopyTableResult = await copyTableData(s.conn, { ...options, checkpoint });
      if (step.checkpoint) stages.push(step.checkpoint.stage);
      checkpoint = step.checkpoint;
    } catch (error) {
      refused = error;
      break;
    }
  }
  expect(stages.slice(0, 2)).toEqual(['pointers', 'pointers']);
  expect(stages).toContain('rows');
  expect(await pointers()).toBe(1_200 - 1);
  // the lost pointer's row is not copied (never with a NULL for its pointer): its chunk refuses, naming its uuid
  expect(refused).toBeInstanceOf(MigrationRefusedError);
  expect((refused as MigrationRefusedError).message).toMatch(/rows of .*\.trace reference 0\.14 objects with no 2\.x pointer/);
  expect((refused as MigrationRefusedError).details).toEqual([expect.stringMatching(/^trace\.data: [0-9A-F]{32}$/)]);
  const copiedBefore = await destRows();
  expect(copiedBefore).toBeGreaterThan(0);
  expect(copiedBefore).toBeLessThan(1_200);
  // a new run (no checkpoint) computes the missing pointer and copies the rest
  const rerun = await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'trace' });
  expect(rerun).toMatchObject({ done: true, rowsCopied: 1_200 - copiedBefore });
  const values = await select<{ id: number; data: string }>(s.conn, `SELECT trace_id AS id, CAST(data AS CHAR) AS data FROM ${tableRef(dest, 'trace')} ORDER BY trace_id`);
  expect(values).toHaveLength(1_200);
  for (const { id, data } of values) expect(JSON.parse(data)).toMatchObject({ hash: hashOfDigest(createHash('md5').update(bytesOf(id)).digest()), store: 'local', size: bytesOf(id).length });
});

it("copies a big table in parts (ranges of its integer first key column, read off MIN and MAX), each part's rows once, after a pointers-only pass", async () => {
  const s = await setup('copy_parts');
  await declareV014Table(s.conn, s.source, { name: 'trace', primaryKey: [{ name: 'trace_id', sqlType: 'int' }], attributes: [{ name: 'data', type: 'blob@local', nullable: true }] });
  await insertV014Rows(s.conn, s.source, 'trace', Array.from({ length: 1_200 }, (_, i) => ({ trace_id: i - 100, data: i % 7 ? v014Blob(Buffer.from(`mYm\0part ${i % 50}`)) : null })), s.stores);
  await s.conn.query(`ANALYZE TABLE ${tableRef(s.source, 'trace')}, ${tableRef(s.source, 'sample')}`);
  const dest = scratch(s, 'copy_parts_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  // ~1,200 rows (the server's estimate) in parts of 400: three value ranges of trace_id (-100 … 1,099), open at both ends
  const parts = await copyPartsOf(s.conn, s.source, 'trace', 400);
  expect(parts).toEqual([
    { column: 'trace_id', from: null, until: '300' },
    { column: 'trace_id', from: '300', until: '700' },
    { column: 'trace_id', from: '700', until: null },
  ]);
  // under twice the part's rows: whole; at most a part per value of the first column (sample's animal_id: 2 values)
  expect(await copyPartsOf(s.conn, s.source, 'trace', 1_000)).toEqual([]);
  expect(await copyPartsOf(s.conn, s.source, 'sample', 1)).toEqual([
    { column: 'animal_id', from: null, until: expect.any(String) },
    { column: 'animal_id', from: expect.any(String), until: null },
  ]);
  // a first key column that is not an integer: whole
  await execute(s.conn, `CREATE TABLE ${tableRef(s.source, 'named')} (name varchar(8) NOT NULL, PRIMARY KEY (name)) ENGINE=InnoDB`);
  await execute(s.conn, `INSERT INTO ${tableRef(s.source, 'named')} VALUES ('a'), ('b'), ('c'), ('d')`);
  await s.conn.query(`ANALYZE TABLE ${tableRef(s.source, 'named')}`);
  expect(await copyPartsOf(s.conn, s.source, 'named', 1)).toEqual([]);
  await execute(s.conn, `DROP TABLE ${tableRef(s.source, 'named')}`);
  const items = await copyItemsOf(s.conn, copyOptions(s, dest), 400);
  expect(items.pointers.map((item) => item.table).sort()).toEqual(['sample', 'trace']);
  expect(items.levels.flat().filter((item) => item.table === 'trace').map((item) => item.part)).toEqual(parts);

  const pointersOnly = await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'trace', only: 'pointers' });
  expect(pointersOnly).toMatchObject({ done: true, rowsCopied: 0, checkpoint: null });
  const copied: number[] = [];
  for (const part of [...parts].reverse()) {
    const call = await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'trace', only: 'rows', part, chunkRows: 64 });
    expect(call.done).toBe(true);
    copied.push(call.rowsCopied);
  }
  expect(copied).toEqual([400, 400, 400]);
  const [{ n, distinct }] = await select<{ n: number; distinct: number }>(s.conn, `SELECT COUNT(*) AS n, COUNT(DISTINCT trace_id) AS \`distinct\` FROM ${tableRef(dest, 'trace')}`);
  expect([Number(n), Number(distinct)]).toEqual([1_200, 1_200]);
  // a part copied again inserts nothing; rows only, without their pointers, refuse at their chunk
  expect((await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'trace', only: 'rows', part: parts[1] })).rowsCopied).toBe(0);
  await execute(s.conn, `DELETE FROM ${tableRef(dest, 'trace')} WHERE trace_id >= 700`);
  await execute(s.conn, `DELETE FROM ${tableRef(s.source, '~djmigrate_014_pointer')} WHERE store = 'local'`);
  await expect(copyTableData(s.conn, { ...copyOptions(s, dest), table: 'trace', only: 'rows', part: parts[2] })).rejects.toThrow(/no 2\.x pointer/);
});

it('refuses a destination without a source column, or with a NOT NULL column lacking a default, and changes nothing', async () => {
  const s = await setup('copy_refuse');
  const dest = scratch(s, 'copy_refuse_v2');
  await createParallelSchema(s.conn, { source: s.source, dest });
  await s.conn.query(`ALTER TABLE ${tableRef(dest, 'animal')} DROP COLUMN species`);
  const missing = copyTableData(s.conn, { ...copyOptions(s, dest), table: 'animal' });
  await expect(missing).rejects.toBeInstanceOf(MigrationRefusedError);
  await expect(missing).rejects.toThrow(/species/);
  await s.conn.query(`ALTER TABLE ${tableRef(dest, 'animal')} ADD COLUMN species varchar(32) NOT NULL DEFAULT 'mouse', ADD COLUMN cage int NOT NULL`);
  const required = copySchemaData(s.conn, copyOptions(s, dest));
  await expect(required).rejects.toBeInstanceOf(MigrationRefusedError);
  await expect(required).rejects.toThrow(/cage/);
  for (const table of ['animal', 'sample']) {
    const [{ n }] = await select<{ n: number }>(s.conn, `SELECT COUNT(*) AS n FROM ${tableRef(dest, table)}`);
    expect(Number(n)).toBe(0);
  }
  // A hidden 2.x column with a default (like `_job_version`) is fine and gets its default.
  await s.conn.query(`ALTER TABLE ${tableRef(dest, 'animal')} DROP COLUMN cage, ADD COLUMN _job_version varchar(64) DEFAULT ''`);
  // djmigrate's own source columns (an in-place run's temporary columns) are left behind.
  await s.conn.query(`ALTER TABLE ${tableRef(s.source, 'animal')} ADD COLUMN _djmigrate_v2_9 json NULL`);
  const copied = await copyTableData(s.conn, { ...copyOptions(s, dest), table: 'animal' });
  expect(copied.rowsCopied).toBe(2);
  expect(copied.defaulted).toEqual(['_job_version']);
  expect(copied.skipped).toEqual(['_djmigrate_v2_9']);
});

it('the CLI commands create the _v2 schema and copy a table, then the whole schema with its pointers converted', async () => {
  const s = await setup('copy_cli');
  const dest = scratch(s, 'copy_cli_v2');
  const config = await writeDataJointConfig014(s.folder, s.stores);
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    expect(await createParallelSchemaCommand({ config, source: s.source, dest })).toBe(0);
    expect(await copyTableDataCommand({ config, source: s.source, dest, table: 'animal' })).toBe(0);
    expect(JSON.parse(String(log.mock.calls.at(-1)![0])).rowsCopied).toBe(2);
    expect(await copyTableDataCommand({ config, source: s.source, dest })).toBe(0);
    const [{ pointers }] = await select<{ pointers: number }>(s.conn, `SELECT COUNT(waveform) AS pointers FROM ${tableRef(dest, 'sample')}`);
    expect(Number(pointers)).toBeGreaterThan(0);
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
});

it('orders tables parents first and refuses foreign-key cycles', () => {
  const fk = (table: string, referencedTable: string, referencedSchema = 'db') => ({ table, referencedTable, referencedSchema });
  expect(foreignKeyOrder(['c', 'b', 'a'], [fk('c', 'b'), fk('b', 'a'), fk('c', 'c'), fk('a', 'x', 'other')], 'db')).toEqual(['a', 'b', 'c']);
  // levels: each table's parents in earlier ones; siblings together
  expect(foreignKeyLevels(['d', 'c', 'b', 'a', 'e'], [fk('d', 'b'), fk('d', 'c'), fk('b', 'a'), fk('c', 'a'), fk('e', 'a')], 'db')).toEqual([['a'], ['c', 'b', 'e'], ['d']]);
  expect(() => foreignKeyOrder(['a', 'b', 'c'], [fk('a', 'b'), fk('b', 'a')], 'db')).toThrow(MigrationRefusedError);
  expect(() => foreignKeyOrder(['a', 'b'], [fk('a', 'b'), fk('b', 'a')], 'db')).toThrow(/cycle/);
});
