// The seed's scenario end to end: real 0.11 pipelines on MariaDB + s3rver + a file store, migrated by the
// state machine the CDK stack synthesizes, executed locally with the real handlers; checked with SQL.
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { OBJECT_TABLE } from '../../functions/core/migrate011/journal.js';
import { storeObjectKey, uuidRelativePath } from '../../functions/core/datajoint/v012.js';
import { select, tableRef } from '../../functions/core/db/sql.js';
import type { Plan } from '../../functions/core/migrate011/plan.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { buildExampleLab, buildSeedPipeline, declareLegacyTable, insertLegacyRows, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { blobArray } from '../../functions/core/datajoint/blob.js';
import { coreContext, foreignKeysOf, legacyScenario, schemaSnapshot, storeSnapshot, verifyToTheEnd, type Scenario } from '../harness/migration.js';

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

async function columnsOf(conn: Scenario['conn'], schema: string, table: string) {
  return select<{ name: string; type: string; nullable: string; comment: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
}

/** example_lab with Recording(2,1).thumb NULL, plus a table whose external-x comment contains a colon. */
async function buildLabWithNullAndColon(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab({ ...options, nullThumb: true });
  await declareLegacyTable(options.conn, options.database, {
    name: 'note',
    primaryKey: [{ name: 'note_id', sqlType: 'int' }],
    attributes: [{ name: 'pic', type: 'external-shared', comment: 'units: mV' }],
  });
  const objects = await insertLegacyRows(options.conn, options.database, 'note', [{ note_id: 1, pic: blobArray('float64', [1, 2], [0.5, 0.25]) }], options.stores);
  return { ...fixture, tables: [...fixture.tables, 'note'], objects: [...fixture.objects, ...objects] };
}

/** Every ~external_<store> row is what the official 0.12 tool writes (real-examples 2.6), for this schema name. */
async function expectOfficialExternalRows(scenario: Scenario): Promise<void> {
  const { conn, schema } = scenario;
  const storeOfKey: Record<string, string> = { external: 'external', 'external-shared': 'shared', 'external-local': 'local' };
  for (const store of ['external', 'shared', 'local']) {
    const rows = await select<{ hash: string; size: number; attachment_name: null; filepath: string; contents_hash: string }>(
      conn,
      `SELECT LOWER(HEX(hash)) AS hash, size, attachment_name, filepath, LOWER(HEX(contents_hash)) AS contents_hash FROM ${tableRef(schema, `~external_${store}`)} ORDER BY filepath`,
    );
    const expected = scenario.fixture.objects
      .filter((object) => storeOfKey[object.store] === store)
      .map((object) => {
        const filepath = `${schema}/${object.value}`;
        return { hash: md5(filepath), size: object.size, attachment_name: null, filepath, contents_hash: md5(object.bytes) };
      })
      .sort((a, b) => (a.filepath < b.filepath ? -1 : 1));
    expect(rows.map((row) => ({ ...row, size: Number(row.size) }))).toEqual(expected);
  }
}

describe('0.11 → 0.12 through the synthesized state machine', () => {
  it('plans without changing anything, then migrates example_lab in place exactly as 0.12 reads it, and a rerun changes nothing', async () => {
    scenario = await legacyScenario('e2e_lab', buildExampleLab);
    const { conn, schema } = scenario;
    const before = await schemaSnapshot(conn, schema, { includeJournal: true });
    const objectsBefore = await storeSnapshot(scenario);

    const planned = await scenario.run({ execute: false });
    expect(planned.status).toBe('SUCCEEDED');
    const plan = (planned.output as { plan: Plan }).plan;
    expect(plan.status).toBe('ready');
    expect(plan.stores.map((s) => [s.store, s.columns, s.objects, s.bytes, s.missingObjects]).sort()).toEqual([
      ['external', 1, 3, 148, 0],
      ['local', 1, 2, 100, 0],
      ['shared', 1, 2, 75, 0],
    ]);
    expect(await schemaSnapshot(conn, schema, { includeJournal: true })).toEqual(before);

    const result = await scenario.run();
    expect(result.error).toBeUndefined();
    const report = result.output as Report;
    expect(report.status).toBe('migrated');
    expect(report.legacyTable).toBe('dropped');
    expect(report.columns.every((column) => column.ok)).toBe(true);

    const tables = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [schema])).map((r) => r.name);
    expect(tables.filter((name) => !name.startsWith('~djmigrate_'))).toEqual(['frame', 'recording', 'session', '~external_external', '~external_local', '~external_shared', '~log']);

    // Positions, NOT NULL and comments (colon kept) as they were; only type and marker change.
    expect(await columnsOf(conn, schema, 'recording')).toEqual([
      { name: 'session_id', type: 'int(11)', nullable: 'NO', comment: '' },
      { name: 'rec_id', type: 'smallint(6)', nullable: 'NO', comment: '' },
      { name: 'trace', type: 'binary(16)', nullable: 'NO', comment: ':blob@external:raw: volts, sampled at 1 kHz' },
      { name: 'thumb', type: 'binary(16)', nullable: 'YES', comment: ':blob@shared:' },
      { name: 'params', type: 'longblob', nullable: 'NO', comment: '' },
    ]);
    expect((await columnsOf(conn, schema, 'frame')).at(-1)).toEqual({ name: 'img', type: 'binary(16)', nullable: 'NO', comment: ':blob@local:' });
    const externalKeys = [...(await foreignKeysOf(conn, schema, 'frame')), ...(await foreignKeysOf(conn, schema, 'recording'))].filter((fk) => fk.referenced.startsWith('~external'));
    expect(externalKeys).toEqual([
      { table_name: 'frame', column_name: 'img', referenced: '~external_local', on_update: 'RESTRICT', on_delete: 'RESTRICT' },
      { table_name: 'recording', column_name: 'thumb', referenced: '~external_shared', on_update: 'RESTRICT', on_delete: 'RESTRICT' },
      { table_name: 'recording', column_name: 'trace', referenced: '~external_external', on_update: 'RESTRICT', on_delete: 'RESTRICT' },
    ]);

    await expectOfficialExternalRows(scenario);
    const pointers = await select<{ session_id: number; rec_id: number; trace: string; thumb: string }>(
      conn,
      `SELECT session_id, rec_id, LOWER(HEX(trace)) AS trace, LOWER(HEX(thumb)) AS thumb FROM ${tableRef(schema, 'recording')} ORDER BY session_id, rec_id`,
    );
    expect(pointers).toEqual([
      { session_id: 1, rec_id: 1, trace: md5(`${schema}/kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg`), thumb: md5(`${schema}/0AURbyiEro79_ZzeYm4o9jgcAQKewj-ClaTOB0WslB4shared`) },
      { session_id: 1, rec_id: 2, trace: md5(`${schema}/7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s`), thumb: md5(`${schema}/0AURbyiEro79_ZzeYm4o9jgcAQKewj-ClaTOB0WslB4shared`) },
      { session_id: 2, rec_id: 1, trace: md5(`${schema}/BHWG2D_7vzVk2kjULJ3H6qAlqHvEf_KirrDJbvY1Ums`), thumb: md5(`${schema}/fMI016hmLGeHF02A8HJgtKGdB6FWHLXsV4dAjgOkIK0shared`) },
    ]);
    // In place: no object moved, copied or rewritten.
    expect(await storeSnapshot(scenario)).toEqual(objectsBefore);

    const after = await schemaSnapshot(conn, schema);
    const rerun = await scenario.run();
    expect(rerun.status).toBe('SUCCEEDED');
    expect((rerun.output as Report).status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(after);
  });

  it('keeps NULL pointers NULL and comments with colons on external-<x> columns', async () => {
    scenario = await legacyScenario('e2e_null', buildLabWithNullAndColon);
    const { conn, schema } = scenario;
    const result = await scenario.run();
    expect(result.error).toBeUndefined();
    expect((result.output as Report).status).toBe('migrated');
    const thumbs = await select<{ thumb: string | null }>(conn, `SELECT HEX(thumb) AS thumb FROM ${tableRef(schema, 'recording')} ORDER BY session_id, rec_id`);
    expect(thumbs.map((row) => row.thumb === null)).toEqual([false, false, true]);
    expect(await columnsOf(conn, schema, 'note')).toEqual([
      { name: 'note_id', type: 'int(11)', nullable: 'NO', comment: '' },
      { name: 'pic', type: 'binary(16)', nullable: 'NO', comment: ':blob@shared:units: mV' },
    ]);
    // One shared object row serves both columns that point to it.
    const [{ n }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(schema, '~external_shared')}`);
    expect(Number(n)).toBe(2);
  });

  it('native mode copies each object to its 0.12 uuid path, records md5 hashes, keeps ~external on request and deletes nothing', async () => {
    scenario = await legacyScenario('e2e_native', buildSeedPipeline);
    const { conn, schema } = scenario;
    const objectsBefore = await storeSnapshot(scenario);
    const result = await scenario.run({ mode: 'native', keepLegacy: true });
    expect(result.error).toBeUndefined();
    const report = result.output as Report;
    expect(report.status).toBe('migrated');
    expect(report.legacyTable).toBe('renamed');

    const objectsAfter = await storeSnapshot(scenario);
    for (const [key, value] of Object.entries(objectsBefore)) expect(objectsAfter[key]).toBe(value);
    const storeOfKey: Record<string, string> = { external: 'external', 'external-shared': 'shared', 'external-local': 'local' };
    for (const object of scenario.fixture.objects) {
      const store = storeOfKey[object.store];
      const spec = scenario.stores[object.store].spec;
      const digest = createHash('md5').update(object.bytes).digest();
      const key = storeObjectKey(spec.protocol, spec.location, uuidRelativePath(schema, digest));
      expect(objectsAfter[key]).toBe(`${object.size}:${digest.toString('hex')}`);
      const rows = await select<{ size: number; filepath: string | null; contents_hash: string | null }>(
        conn,
        `SELECT size, filepath, contents_hash FROM ${tableRef(schema, `~external_${store}`)} WHERE hash = UNHEX(?)`,
        [digest.toString('hex')],
      );
      expect(rows.map((row) => ({ ...row, size: Number(row.size) }))).toEqual([{ size: object.size, filepath: null, contents_hash: null }]);
    }
    const tables = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema])).map((r) => r.name);
    expect(tables).toContain('~djmigrate_legacy_external');
    expect(tables).not.toContain(LEGACY_EXTERNAL_TABLE);
    expect((await columnsOf(conn, schema, 'a')).map((c) => [c.name, c.nullable, c.comment])).toEqual([
      ['id', 'NO', ''],
      ['blob_external', 'NO', ':blob@external:uses S3'],
      ['blob_share', 'NO', ':blob@shared:uses S3'],
    ]);

    // Verify in passes over the uuid folders' first hex digit finds what it finds in one listing: an object gone
    const { input, openStore } = await coreContext(scenario);
    const native = { ...input, mode: 'native' as const };
    const local = scenario.fixture.objects.find((object) => object.store === 'external-local')!;
    const gone = storeObjectKey('file', scenario.stores['external-local'].spec.location, uuidRelativePath(schema, createHash('md5').update(local.bytes).digest()));
    await rename(gone, `${gone}.away`);
    const whole = await verifyToTheEnd(conn, native, openStore);
    expect(whole.columns.reduce((sum, column) => sum + column.objectsMissing, 0)).toBeGreaterThan(0);
    expect(whole.columns.flatMap((column) => column.problems).join('\n')).toContain(gone);
    expect(await verifyToTheEnd(conn, { ...native, listingPassObjects: 1 }, openStore)).toEqual(whole);
    await rename(`${gone}.away`, gone);
    expect((await verifyToTheEnd(conn, { ...native, listingPassObjects: 1 }, openStore)).ok).toBe(true);
  });

  it('hashes through the Distributed Map (manifest, batched children, RecordHashes) to the same result', async () => {
    scenario = await legacyScenario('e2e_dmap', buildExampleLab);
    const entered: string[] = [];
    const result = await scenario.run({ distributedHashingFrom: 1, hashConcurrency: 2, onStateEntered: (name) => entered.push(name) });
    expect(result.error).toBeUndefined();
    expect((result.output as Report).status).toBe('migrated');
    expect(entered).toEqual(expect.arrayContaining(['HashManifest', 'HashManifestChildren', 'HashItems', 'RecordHashes', 'HashManifestTolerance', 'PendingBatches']));
    // the children hashed everything: the standard Map had nothing left
    expect(entered).not.toContain('HashBatch');
    await expectOfficialExternalRows(scenario);
    const journal = await select<{ contents_from: string; n: number }>(scenario.conn, `SELECT contents_from, COUNT(*) AS n FROM ${tableRef(scenario.schema, OBJECT_TABLE)} GROUP BY contents_from`);
    expect(journal.map((row) => [row.contents_from, Number(row.n)])).toEqual([['stream', scenario.fixture.objects.length]]);
  });

  it('a corrupt object is left by the Distributed Map and stopped by the standard pass with its reason; nothing is rewritten', async () => {
    scenario = await legacyScenario('e2e_dmap_bad', buildExampleLab);
    const { conn, schema } = scenario;
    const victim = scenario.fixture.objects.find((object) => object.store === 'external-local')!;
    const corrupt = Buffer.from(victim.bytes);
    corrupt[0] ^= 0xff;
    await writeFile(victim.key, corrupt);
    const before = await schemaSnapshot(conn, schema);
    const entered: string[] = [];
    const result = await scenario.run({ distributedHashingFrom: 1, onStateEntered: (name) => entered.push(name) });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('MigrationRefused');
    expect(result.error?.message).toMatch(/does not match its legacy hash/);
    expect(entered).toEqual(expect.arrayContaining(['HashItems', 'RecordHashes', 'HashBatch', 'ReleaseLock']));
    expect(entered).not.toContain('InsertRows');
    // the user's tables are untouched (only the journal knows what was hashed)
    expect(await schemaSnapshot(conn, schema)).toEqual(before);
  });
});
