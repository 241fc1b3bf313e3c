// The Verify step of the 0.14 → 2.0 in-place migration on example_lab_v014: after all steps it finds nothing wrong
// (and with verifyContents re-hashes every blob and attachment), it names each kind of damage, reports the 0.14
// columns left before migrating, and never writes anything.
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { storeObjectKey } from '../../functions/core/datajoint/v012.js';
import { execute, select, serverFlavor, tableRef } from '../../functions/core/db/sql.js';
import { migrateSchemaInPlace, type InPlaceOptions } from '../../functions/core/migrate014/in-place.js';
import { IN_PLACE_STEPS } from '../../functions/core/migrate014/steps.js';
import { columnDefinition, readColumns } from '../../functions/core/migrate014/update-comments.js';
import { verifyInPlace, type InPlaceVerification, type InPlaceVerifyCheckpoint, type InPlaceVerifyOptions, type InPlaceVerifyStep } from '../../functions/core/migrate014/verify.js';
import type { ProgressEvent } from '../../functions/core/progress.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import { openObjectWriter, type ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchema, s3Store, sandbox, type FreshSchema } from '../harness/context.js';
import { schemaSnapshot } from '../harness/migration.js';

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
  verify: InPlaceVerifyOptions;
  openStore: (name: string) => ObjectStore;
  openWriter: (name: string) => ObjectWriter;
  migrate(extra?: Partial<InPlaceOptions>): Promise<void>;
}

async function setup(prefix: string): Promise<Setup> {
  schema = await freshSchema(prefix);
  const [bucket, folder] = await Promise.all([freshBucket(prefix.replace(/_/g, '-')), freshFolder(prefix)]);
  const credentials = sandbox().s3.credentials;
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials }, local: { spec: fileStore(folder) } };
  await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores });
  const specs = { main: stores.main.spec, local: stores.local.spec };
  const opened = new Map<string, ObjectStore>();
  const openStore = (name: string): ObjectStore => {
    if (!opened.has(name)) opened.set(name, openObjectStore(stores[name].spec, stores[name].credentials));
    return opened.get(name)!;
  };
  const openWriter = (name: string): ObjectWriter => openObjectWriter(stores[name].spec, stores[name].credentials);
  const conn = schema.conn;
  const db = schema.name;
  return {
    conn,
    db,
    folder,
    stores,
    verify: { schema: db, steps: IN_PLACE_STEPS, stores: specs },
    openStore,
    openWriter,
    async migrate(extra = {}) {
      await migrateSchemaInPlace(conn, { schema: db, steps: IN_PLACE_STEPS, backup: false, stores: specs, ...extra }, { openStore, openWriter });
    },
  };
}

/** The verification in one call (no budget). */
async function verifyToEnd(s: Setup, options: InPlaceVerifyOptions) {
  const { verified } = await verifyInPlace(s.conn, options, s.openStore);
  return verified!;
}

const EXPECTED_COLUMNS = [
  ['sample', 'waveform', 'blob', 'main', 3, 2, 61 + 48],
  ['sample', 'waveform_opt', 'blob', 'main', 1, 1, 130],
  ['sample', 'report', 'attach', 'main', 3, 1, 27],
  ['sample', 'scan', 'filepath', 'local', 3, 2, 9 + 14],
];

async function pointerOf(s: Setup, column: string, animal: number, sample: number): Promise<{ hash: string; path: string; size: number }> {
  const [row] = await select<{ v: string }>(s.conn, `SELECT CAST(${column} AS CHAR) AS v FROM ${tableRef(s.db, 'sample')} WHERE animal_id = ? AND sample_id = ?`, [animal, sample]);
  return JSON.parse(row.v) as { hash: string; path: string; size: number };
}

/** Sets a column's comment with a full MODIFY COLUMN (the definition restated as information_schema has it). */
async function setComment(s: Setup, table: string, column: string, comment: (old: string) => string): Promise<void> {
  const flavor = await serverFlavor(s.conn);
  const info = (await readColumns(s.conn, s.db, flavor, table)).find((c) => c.column === column)!;
  await execute(s.conn, `ALTER TABLE ${tableRef(s.db, table)} MODIFY COLUMN ${columnDefinition(info, comment(info.comment), flavor)}`);
}

it('finds a fully migrated schema consistent, with per-column counts, and writes nothing', async () => {
  const s = await setup('verify_ok');
  await s.migrate();
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });

  const result = await verifyToEnd(s, s.verify);
  expect(result.problems).toEqual([]);
  expect(result.ok).toBe(true);
  expect(result.comments).toEqual({ pending: 0 });
  expect(result.lineage).toEqual({ missing: 0, stale: 0 });
  expect(result.external?.remaining).toEqual([]);
  expect(result.external?.columns.map((c) => [c.table, c.column, c.kind, c.store, c.rows, c.objects, c.bytes])).toEqual(EXPECTED_COLUMNS);
  expect(result.external?.columns.every((c) => !c.checkedContents)).toBe(true);

  const full = await verifyToEnd(s, { ...s.verify, verifyContents: true, concurrency: 2 });
  expect(full.problems).toEqual([]);
  expect(full.ok).toBe(true);
  expect(full.external?.columns.map((c) => [c.column, c.checkedContents])).toEqual([
    ['waveform', true],
    ['waveform_opt', true],
    ['report', true],
    ['scan', false],
  ]);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);
});

it('before migrating: not ok, lists the 0.14 columns, pending comments and missing lineage, and writes nothing', async () => {
  const s = await setup('verify_before');
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });
  const result = await verifyToEnd(s, s.verify);
  expect(result.ok).toBe(false);
  expect(result.external?.remaining).toEqual(['sample.waveform', 'sample.waveform_opt', 'sample.report', 'sample.scan']);
  expect(result.external?.columns).toEqual([]);
  expect(result.comments!.pending).toBeGreaterThan(0);
  expect(result.lineage!.missing).toBeGreaterThan(0);
  const text = result.problems.join('\n');
  expect(text).toMatch(/sample\.waveform is still a 0\.14 external column/);
  expect(text).toMatch(/sample\.scan is still a 0\.14 external column/);
  expect(text).toMatch(/~lineage does not exist/);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);

  // Only the requested steps are checked.
  const comments = await verifyToEnd(s, { ...s.verify, steps: ['update_blob_comments'] });
  expect(comments.external).toBeUndefined();
  expect(comments.lineage).toBeUndefined();
  expect(comments.problems.every((p) => /lacks the 2\.x marker|update_blob_comments/.test(p))).toBe(true);
});

it('an object overwritten with other bytes of the same size: only verifyContents catches it', async () => {
  const s = await setup('verify_overwrite');
  await s.migrate();
  const pointer = await pointerOf(s, 'waveform_opt', 1, 1);
  const spec = s.stores.main.spec;
  const key = storeObjectKey(spec.protocol, spec.location, pointer.path);
  const other = Buffer.alloc(pointer.size, 7);
  await s.openWriter('main').put(key, Readable.from([other]), other.length);

  const plain = await verifyToEnd(s, s.verify);
  expect(plain.problems).toEqual([]);
  expect(plain.ok).toBe(true);

  const full = await verifyToEnd(s, { ...s.verify, verifyContents: true });
  expect(full.ok).toBe(false);
  expect(full.problems).toHaveLength(1);
  expect(full.problems[0]).toContain('sample.waveform_opt');
  expect(full.problems[0]).toContain(key);
  expect(full.problems[0]).toContain(`the pointer says hash ${pointer.hash}`);
});

it('a deleted object, a pointer with a wrong size and a pointer with a wrong store are named', async () => {
  const s = await setup('verify_damage');
  await s.migrate();
  await rm(`${s.folder}/sub/scan_001.dat`);
  await execute(s.conn, `UPDATE ${tableRef(s.db, 'sample')} SET waveform_opt = JSON_SET(waveform_opt, '$.size', 131) WHERE animal_id = 1 AND sample_id = 1`);
  await execute(s.conn, `UPDATE ${tableRef(s.db, 'sample')} SET report = JSON_SET(report, '$.store', 'elsewhere') WHERE animal_id = 2 AND sample_id = 7`);
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });

  const result = await verifyToEnd(s, s.verify);
  expect(result.ok).toBe(false);
  expect(result.problems).toHaveLength(3);
  const text = result.problems.join('\n');
  expect(text).toMatch(new RegExp(`sample\\.scan: object ${s.folder}/sub/scan_001\\.dat in store "local" .* is missing`));
  expect(text).toMatch(/sample\.waveform_opt: object \S+ in store "main" .* has 130 bytes, the pointer says size 131/);
  expect(text).toMatch(/sample\.report: pointer .* has store "elsewhere", not "main"/);
  // The edited report pointer is a second distinct value.
  expect(result.external?.columns.find((c) => c.column === 'report')?.objects).toBe(2);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);
});

it('in calls that stop after every object: the same verification, every object counted once, nothing written', async () => {
  const s = await setup('verify_calls');
  await s.migrate();
  await rm(`${s.folder}/sub/scan_001.dat`);
  await execute(s.conn, `UPDATE ${tableRef(s.db, 'sample')} SET waveform_opt = JSON_SET(waveform_opt, '$.size', 131) WHERE animal_id = 1 AND sample_id = 1`);
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });
  const options = { ...s.verify, verifyContents: true, concurrency: 1 };
  const whole = await verifyToEnd(s, options);
  // a query per distinct pointer, or pages of 4 looked up 3 at a time: the same
  expect(await verifyToEnd(s, { ...options, pageValues: 1 })).toEqual(whole);
  expect(await verifyToEnd(s, { ...options, pageValues: 4, checkValues: 3 })).toEqual(whole);

  const stats = new Map<string, number>();
  const counting = (name: string): ObjectStore => {
    const store = s.openStore(name);
    return {
      ...store,
      description: store.description,
      list: store.list.bind(store),
      read: store.read.bind(store),
      copy: store.copy.bind(store),
      digest: store.digest.bind(store),
      stat: async (key) => {
        stats.set(key, (stats.get(key) ?? 0) + 1);
        return store.stat(key);
      },
    };
  };
  let checkpoint: InPlaceVerifyCheckpoint | null = null;
  let calls = 0;
  let verified: InPlaceVerification | null = null;
  const reported = new Map<string, number>();
  const progress = { report: (event: ProgressEvent) => event.kind === 'objects-verified' && reported.set(`${event.table}.${event.column}`, (reported.get(`${event.table}.${event.column}`) ?? 0) + event.objects) };
  while (!verified) {
    // through JSON, as the execution's state carries it
    const step: InPlaceVerifyStep = JSON.parse(JSON.stringify(await verifyInPlace(s.conn, options, counting, { budgetMs: 0, checkpoint, progress })));
    ({ verified, checkpoint } = step);
    calls += 1;
    expect(calls).toBeLessThan(20);
  }
  expect(verified).toEqual(whole);
  // the progress counts every object once, by column
  expect(Object.fromEntries(reported)).toEqual(Object.fromEntries(whole.external!.columns.map((c) => [`${c.table}.${c.column}`, c.objects])));
  expect(whole.problems).toHaveLength(2);
  // one call per distinct pointer: 2 waveform, 1 waveform_opt, 1 report, 2 scan
  expect(calls).toBe(6);
  // every object looked at (a call looks at its page's objects at once, and checks as many as its budget allows)
  expect(stats.size).toBe(6);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);
});

it('a table read in primary-key pages: the same problems and counts, in pages and in calls; a pointer met again once forgotten counts again, and says so', async () => {
  const s = await setup('verify_by_key');
  await s.migrate();
  // Sample(1,1) takes Sample(2,9)'s waveform: in key order the waveform pointers are W', W, W'
  const [{ v }] = await select<{ v: string }>(s.conn, `SELECT CAST(waveform AS CHAR) AS v FROM ${tableRef(s.db, 'sample')} WHERE animal_id = 2 AND sample_id = 9`);
  await execute(s.conn, `UPDATE ${tableRef(s.db, 'sample')} SET waveform = ? WHERE animal_id = 1 AND sample_id = 1`, [v]);
  await rm(`${s.folder}/sub/scan_001.dat`);
  await execute(s.conn, `UPDATE ${tableRef(s.db, 'sample')} SET waveform_opt = JSON_SET(waveform_opt, '$.size', 131) WHERE animal_id = 1 AND sample_id = 1`);
  const before = await schemaSnapshot(s.conn, s.db, { includeJournal: true });
  const options = { ...s.verify, verifyContents: true, concurrency: 1 };
  const byKeyOptions = { ...options, keyPagesFromRows: 0 };

  const byPointer = await verifyToEnd(s, options);
  const byKey = await verifyToEnd(s, byKeyOptions);
  expect(byPointer.external!.columns.every((c) => c.readBy === 'pointer' && c.distinctCounts)).toBe(true);
  expect(byKey.problems).toHaveLength(2);
  expect(byKey.problems).toEqual(byPointer.problems);
  expect(byKey.external!.columns).toEqual(byPointer.external!.columns.map((c) => ({ ...c, readBy: 'primary-key' })));
  // a row a page: the same
  expect(await verifyToEnd(s, { ...byKeyOptions, pageRows: 1 })).toEqual(byKey);

  const counts = (verified: InPlaceVerification) => verified.external!.columns.map((c) => [c.column, c.rows, c.objects, c.distinctCounts]);
  // W' counted twice in waveform; scan's pointers counted once each, but no longer known to be
  const countedAgain = [
    ['waveform', 3, 3, false],
    ['waveform_opt', 1, 1, true],
    ['report', 3, 1, true],
    ['scan', 3, 2, false],
  ];
  // remembering one pointer: W' is forgotten for W, checked again and counted twice
  const forgetful = await verifyToEnd(s, { ...byKeyOptions, pageRows: 1, seenPointers: 1 });
  expect(forgetful.problems).toEqual(byKey.problems);
  expect(counts(forgetful)).toEqual(countedAgain);

  // in calls that stop after every object, through JSON as the execution's state carries the checkpoint: each call
  // starts with nothing remembered, so a pointer met again in a later call counts again
  let checkpoint: InPlaceVerifyCheckpoint | null = null;
  let verified: InPlaceVerification | null = null;
  let calls = 0;
  while (!verified) {
    const step: InPlaceVerifyStep = JSON.parse(JSON.stringify(await verifyInPlace(s.conn, byKeyOptions, s.openStore, { budgetMs: 0, checkpoint })));
    ({ verified, checkpoint } = step);
    calls += 1;
    expect(calls).toBeLessThan(20);
  }
  expect(verified.problems).toEqual(byKey.problems);
  expect(counts(verified)).toEqual(countedAgain);
  // a call per object checked: W', W, W'; waveform_opt; report; the two scans
  expect(calls).toBe(7);
  expect(await schemaSnapshot(s.conn, s.db, { includeJournal: true })).toEqual(before);
});

it('a reverted comment: a core-type marker is pending again, a codec marker makes the column 0.14 again', async () => {
  const s = await setup('verify_comment');
  await s.migrate();
  await setComment(s, 'sample', 'label', (old) => old.replace(/^:[^:]+:/, ''));
  let result = await verifyToEnd(s, s.verify);
  expect(result.ok).toBe(false);
  expect(result.comments).toEqual({ pending: 1 });
  expect(result.problems).toHaveLength(1);
  expect(result.problems[0]).toMatch(/^sample\.label: comment .* still lacks the 2\.x marker :varchar\(\d+\):/);

  await setComment(s, 'sample', 'scan', (old) => old.replace(/^:<filepath@local>:/, ':filepath@local:'));
  result = await verifyToEnd(s, { ...s.verify, steps: ['migrate_external_storage'] });
  expect(result.ok).toBe(false);
  expect(result.external?.remaining).toEqual(['sample.scan']);
  expect(result.external?.columns.map((c) => c.column)).toEqual(['waveform', 'waveform_opt', 'report']);
  expect(result.problems.join('\n')).toMatch(/sample\.scan is still a 0\.14 external column/);
});

it('a 2.x store name maps back through storeMap; a store without a spec is named', async () => {
  const s = await setup('verify_map');
  await s.migrate({ storeMap: { main: 'raw' } });
  const mapped = await verifyToEnd(s, { ...s.verify, storeMap: { main: 'raw' }, verifyContents: true });
  expect(mapped.problems).toEqual([]);
  expect(mapped.external?.columns.map((c) => [c.column, c.store, c.objects])).toEqual([
    ['waveform', 'raw', 2],
    ['waveform_opt', 'raw', 1],
    ['report', 'raw', 1],
    ['scan', 'local', 2],
  ]);

  const unmapped = await verifyToEnd(s, { ...s.verify, steps: ['migrate_external_storage'] });
  expect(unmapped.ok).toBe(false);
  expect(unmapped.problems).toHaveLength(3);
  expect(unmapped.problems.every((p) => /^sample\.(waveform|waveform_opt|report) points to store "raw", which has no spec in the stores; add "raw"/.test(p))).toBe(true);
});

it('caps the examples of one kind of problem at 10 and counts the rest', async () => {
  const s = await setup('verify_cap');
  await s.migrate();
  const columns = (await readColumns(s.conn, s.db, await serverFlavor(s.conn), 'sample')).map((c) => c.column);
  const list = columns.map((c) => `\`${c}\``).join(', ');
  const values = columns.map((c) => (c === 'sample_id' ? '? + 100' : c === 'scan' ? `JSON_SET(scan, '$.path', CONCAT('gone/', ?))` : `\`${c}\``));
  for (let n = 0; n < 13; n++) {
    const params = columns.flatMap((c) => (c === 'sample_id' || c === 'scan' ? [n] : []));
    await execute(s.conn, `INSERT INTO ${tableRef(s.db, 'sample')} (${list}) SELECT ${values.join(', ')} FROM ${tableRef(s.db, 'sample')} WHERE animal_id = 1 AND sample_id = 1`, params);
  }
  const result = await verifyToEnd(s, { ...s.verify, steps: ['migrate_external_storage'] });
  expect(result.ok).toBe(false);
  expect(result.problems).toHaveLength(11);
  expect(result.problems.slice(0, 10).every((p) => /^sample\.scan: object .*\/gone\/\d+ in store "local" .* is missing/.test(p))).toBe(true);
  expect(result.problems[10]).toBe('… and 3 more: sample.scan objects missing');
  expect(result.external?.columns.find((c) => c.column === 'scan')).toMatchObject({ rows: 16, objects: 15 });
});
