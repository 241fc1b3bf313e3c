import { afterEach, expect, it } from 'vitest';
import { select } from '../../functions/core/db/sql.js';
import { finalizeExternalTables } from '../../functions/core/migrate014/finalize.js';
import { migrateSchemaInPlace } from '../../functions/core/migrate014/in-place.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { openObjectWriter } from '../../functions/core/stores/object-writer.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchema, s3Store, sandbox, type FreshSchema } from '../harness/context.js';

let schema: FreshSchema | undefined;
afterEach(async () => {
  await schema?.cleanup();
  schema = undefined;
});

const tablesOf = async (current: FreshSchema) =>
  (await select<{ name: string }>(current.conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [current.name])).map((r) => r.name).sort();

it('renames the 0.14 external tables out of sight only once nothing points to them', async () => {
  schema = await freshSchema('finalize');
  const [bucket, folder] = await Promise.all([freshBucket('finalize'), freshFolder('finalize')]);
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
  await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores });

  const before = await tablesOf(schema);
  await expect(finalizeExternalTables(schema.conn, schema.name)).rejects.toThrow(/run the migrate_external_storage step first:[\s\S]*sample\.waveform → ~external_main/);
  expect(await tablesOf(schema)).toEqual(before);

  await migrateSchemaInPlace(
    schema.conn,
    { schema: schema.name, steps: ['migrate_external_storage'], backup: false, stores: { main: stores.main.spec, local: stores.local.spec } },
    { openStore: (name) => openObjectStore(stores[name].spec, stores[name].credentials), openWriter: (name) => openObjectWriter(stores[name].spec, stores[name].credentials) },
  );
  const result = await finalizeExternalTables(schema.conn, schema.name);
  expect(result.renamed.map((r) => r.to).sort()).toEqual(['~djmigrate_v014_external_local', '~djmigrate_v014_external_main']);
  const after = await tablesOf(schema);
  expect(after.filter((name) => name.startsWith('~external_'))).toEqual([]);
  expect(await finalizeExternalTables(schema.conn, schema.name)).toEqual({ renamed: [] });
});
