// The 0.14 fixture writes what real 0.14.6 wrote for `example_lab_v014` (real-examples 5.2–5.5).
import { createHash } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { buildExampleLabV014, V014_LEGACY_W, V014_ZEROS100, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { freshBucket, freshFolder, freshSchema, fileStore, s3Store, sandbox, type FreshSchema } from '../harness/context.js';
import { foreignKeysOf } from '../harness/migration.js';

let schema: FreshSchema | undefined;
afterEach(async () => {
  await schema?.cleanup();
  schema = undefined;
});

async function v014Stores(prefix: string): Promise<{ bucket: string; folder: string; stores: V014Stores }> {
  const [bucket, folder] = await Promise.all([freshBucket(prefix), freshFolder(prefix)]);
  return { bucket, folder, stores: { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } } };
}

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

it('packs zeros((100,100)) into the 130 bytes 0.14.6 stores', () => {
  expect(V014_ZEROS100.length).toBe(130);
  expect(md5(V014_ZEROS100)).toBe('c2620c16e5910fc908d7afdac0af1b55');
  expect(md5(V014_LEGACY_W)).toBe('595936a35db89e00c9588724083ee5f0');
});

it('reproduces example_lab_v014: columns, ~external_* rows, sample rows and object keys of real-examples 5.3–5.5', async () => {
  schema = await freshSchema('v014_fixture');
  const { conn, name: db } = schema;
  const { folder, stores } = await v014Stores('v014-fixture');
  await buildExampleLabV014({ conn, database: db, stores });

  const tables = await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db]);
  expect(tables.map((t) => t.name)).toEqual(['animal', 'sample', '~external_local', '~external_main', '~log']);

  const columns = await select<{ name: string; type: string; nullable: string; def: string | null; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' ORDER BY ORDINAL_POSITION`,
    [db],
  );
  expect(columns.map((c) => [c.name, c.type.replace(/\(\d+\)/, (m) => (c.type.startsWith('varchar') || c.type.startsWith('binary') ? m : '')), c.nullable, c.comment])).toEqual([
    ['animal_id', 'int', 'NO', 'animal number'],
    ['sample_id', 'int unsigned', 'NO', 'sample number'],
    ['label', 'varchar(32)', 'NO', 'free text'],
    ['n_spikes', 'int unsigned', 'NO', 'spike count'],
    ['gain', 'float', 'NO', 'amplifier gain'],
    ['offset', 'double', 'NO', 'baseline offset'],
    ['raw', 'longblob', 'NO', 'in-table blob'],
    ['waveform', 'binary(16)', 'NO', ':blob@main:external blob'],
    ['waveform_opt', 'binary(16)', 'YES', ':blob@main:optional external blob'],
    ['report', 'binary(16)', 'NO', ':attach@main:attachment'],
    ['scan', 'binary(16)', 'NO', ':filepath@local:managed file'],
  ]);
  const fks = await foreignKeysOf(conn, db, 'sample');
  expect(fks.map((fk) => [fk.column_name, fk.referenced, fk.on_update, fk.on_delete])).toEqual([
    ['animal_id', 'animal', 'CASCADE', 'RESTRICT'],
    ['report', '~external_main', 'RESTRICT', 'RESTRICT'],
    ['scan', '~external_local', 'RESTRICT', 'RESTRICT'],
    ['waveform', '~external_main', 'RESTRICT', 'RESTRICT'],
    ['waveform_opt', '~external_main', 'RESTRICT', 'RESTRICT'],
  ]);

  const external = async (store: string) =>
    (
      await select<Record<string, unknown>>(
        conn,
        `SELECT HEX(hash) AS h, size, attachment_name, filepath, HEX(contents_hash) AS c FROM ${tableRef(db, `~external_${store}`)} ORDER BY HEX(hash)`,
      )
    ).map((r) => [r.h, Number(r.size), r.attachment_name, r.filepath, r.c]);
  const legacyPath = `${db}/7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s`;
  const migratedHash = md5(Buffer.from(legacyPath)).toUpperCase();
  expect(await external('main')).toEqual(
    [
      ['95361451CE98C0AE80AE8E7FA3FA07F5', 13, 'report.v1.txt', null, null],
      ['46F776B52FDAA804AA568C989722B06D', 61, null, null, null],
      ['C2620C16E5910FC908D7AFDAC0AF1B55', 130, null, null, null],
      [migratedHash, 48, null, legacyPath, '595936A35DB89E00C9588724083EE5F0'],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );
  expect(await external('local')).toEqual([
    ['785B397E3185B8645988099D8051AE26', 14, null, 'scan_002.v2.dat', '87B3C5333E171EE388A9AD85A0211240'],
    ['904300665E47EFE3A6ADF309617ACF3F', 9, null, 'sub/scan_001.dat', 'ADCC03D4200F472ABBE6F0A8E5B0BDEE'],
  ]);

  const rows = await select<Record<string, unknown>>(
    conn,
    `SELECT animal_id, sample_id, label, n_spikes, gain, \`offset\`, HEX(raw) AS raw, HEX(waveform) AS waveform, HEX(waveform_opt) AS waveform_opt, HEX(report) AS report, HEX(scan) AS scan
       FROM ${tableRef(db, 'sample')} ORDER BY animal_id, sample_id`,
  );
  expect(rows.slice(0, 2).map((r) => Object.values(r).map((v) => (typeof v === 'number' ? v : v)))).toEqual([
    [1, 1, 'first', 42, 2, -1, '6D596D0041010000000000000003000000000000000A00000000000000000001000200', '46F776B52FDAA804AA568C989722B06D', 'C2620C16E5910FC908D7AFDAC0AF1B55', '95361451CE98C0AE80AE8E7FA3FA07F5', '904300665E47EFE3A6ADF309617ACF3F'],
    [2, 7, 'none', 0, 1.5, 0.25, '646A30000401000000000000000A000000000000000501000000000000006104000000000000000A010001', '46F776B52FDAA804AA568C989722B06D', null, '95361451CE98C0AE80AE8E7FA3FA07F5', '785B397E3185B8645988099D8051AE26'],
  ]);
  expect(rows[2]).toMatchObject({ animal_id: 2, sample_id: 9, waveform: migratedHash });

  const s3 = openObjectStore(stores.main.spec, stores.main.credentials);
  const listing: string[][] = [];
  for await (const object of s3.list('example014/')) listing.push([object.key, String(object.size), md5(await readAll(await s3.read(object.key)))]);
  expect(listing.sort()).toEqual(
    [
      [`example014/${db}/46/f7/46f776b52fdaa804aa568c989722b06d`, '61', '46f776b52fdaa804aa568c989722b06d'],
      [`example014/${db}/95/36/95361451ce98c0ae80ae8e7fa3fa07f5.report.v1.txt`, '13', '36cc26bde7ec8859597292c4518d0bc4'],
      [`example014/${db}/c2/62/c2620c16e5910fc908d7afdac0af1b55`, '130', 'c2620c16e5910fc908d7afdac0af1b55'],
      [`example014/${legacyPath}`, '48', '595936a35db89e00c9588724083ee5f0'],
    ].sort(),
  );
  const files = openObjectStore(stores.local.spec);
  const fileListing: string[][] = [];
  for await (const object of files.list(`${folder}/`)) fileListing.push([object.key.slice(folder.length + 1), String(object.size), md5(await readAll(await files.read(object.key)))]);
  expect(fileListing.sort()).toEqual([
    ['scan_002.v2.dat', '14', '87b3c5333e171ee388a9ad85a0211240'],
    ['sub/scan_001.dat', '9', 'adcc03d4200f472abbe6f0a8e5b0bdee'],
  ]);
});
