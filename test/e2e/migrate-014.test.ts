// 0.14 → 2.0 in place through the CLI as a user runs it: plan, run with a backup, rerun; convert-config.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { backupName } from '../../functions/core/migrate014/backup.js';
import type { Plan014 } from '../../functions/core/migrate014/plan.js';
import { buildExampleLabV014, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchema, s3Store, sandbox, type FreshSchema } from '../harness/context.js';
import { schemaSnapshot, writeDataJointConfig014 } from '../harness/migration.js';

const exec = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/djmigrate.js');

let schema: FreshSchema | undefined;
afterEach(async () => {
  if (schema) await schema.conn.query(`DROP DATABASE IF EXISTS ${quoteId(backupName(schema.name, new Date()))}`);
  await schema?.cleanup();
  schema = undefined;
});

async function djmigrate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

it('plans, backs up and migrates a 0.14 schema in place; a rerun plans nothing; the config converts', async () => {
  schema = await freshSchema('e2e_014');
  const [bucket, folder] = await Promise.all([freshBucket('e2e-014'), freshFolder('e2e_014')]);
  const credentials = sandbox().s3.credentials;
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials }, local: { spec: fileStore(folder) } };
  await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores });
  const configPath = await writeDataJointConfig014(folder, stores, { local: { stage: folder } });
  const main = stores.main.spec as { bucket: string; location: string };
  const before = await schemaSnapshot(schema.conn, schema.name);
  const args = ['--from', '0.14', '--to', '2.0', '--config', configPath, '--schema', schema.name, '--strategy', 'in-place'];

  const planFile = join(folder, '..', `${schema.name}-014-plan.json`);
  const planned = await djmigrate(['plan', ...args, '--json', '--plan-file', planFile]);
  expect(planned.stderr).not.toMatch(/refused/);
  expect(planned.code).toBe(0);
  const { planLocation, ...printed } = JSON.parse(planned.stdout) as Plan014;
  // a plan this short is printed whole; --plan-file has the same
  expect(planLocation).toBe(planFile);
  expect(printed.omitted).toBeUndefined();
  expect(JSON.parse(await readFile(planFile, 'utf8'))).toEqual(printed);
  // the AWS estimate: the S3 store's objects are checked by listings, nothing read or written but attachments
  expect(printed.estimate).toMatchObject({ stateTransitions: expect.any(Number), s3Requests: { list: 3 } });
  expect((await djmigrate(['plan', ...args])).stdout).toMatch(/Estimated on AWS: about \d+ s; \d+ state transitions/);
  const plan = printed.inPlace!;
  expect(plan.steps).toEqual(['update_blob_comments', 'migrate_external_storage', 'add_lineage_table']);
  expect(plan.external?.columns.map((c) => c.column).sort()).toEqual(['report', 'scan', 'waveform', 'waveform_opt']);
  // the copy strategy's plan with parts of a row: sample (3 rows, animal_id 1 and 2) in one part per animal
  await schema.conn.query(`ANALYZE TABLE ${quoteId(schema.name)}.sample`);
  const copyArgs = args.map((arg) => (arg === 'in-place' ? 'copy' : arg));
  expect((await djmigrate(['plan', ...copyArgs, '--create-dest', '--copy-part-rows', '1'])).stdout).toContain('sample is copied in 2 parts side by side (ranges of animal_id)');
  expect(await schemaSnapshot(schema.conn, schema.name)).toEqual(before);

  const reportPath = join(folder, '..', `${schema.name}-014.json`);
  const ran = await djmigrate(['run', ...args, '--backup', '--report', reportPath]);
  expect(ran.stderr).not.toMatch(/refused|Error/);
  expect(ran.code).toBe(0);
  const report = JSON.parse(await readFile(reportPath, 'utf8'));
  expect(report.status).toBe('migrated');
  expect(report.backup).toMatchObject({ kind: 'schema-copy', id: backupName(schema.name, new Date()), done: true, reused: false });
  // The backup holds the schema as it was.
  expect(await schemaSnapshot(schema.conn, report.backup.id)).toEqual(before);

  const comments = await select<{ name: string; comment: string }>(
    schema.conn,
    `SELECT COLUMN_NAME AS name, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'sample' ORDER BY ORDINAL_POSITION`,
    [schema.name],
  );
  expect(comments.map((c) => c.comment)).toEqual([
    'animal number',
    'sample number',
    ':varchar(32):free text',
    'spike count',
    ':float32:amplifier gain',
    ':float64:baseline offset',
    ':<blob>:in-table blob',
    ':<blob@main>:external blob',
    ':<blob@main>:optional external blob',
    ':<attach@main>:attachment',
    ':<filepath@local>:managed file',
  ]);
  const lineage = await select<{ table_name: string; attribute_name: string; lineage: string }>(schema.conn, `SELECT * FROM ${tableRef(schema.name, '~lineage')} ORDER BY table_name, attribute_name`);
  expect(lineage).toEqual([
    { table_name: 'animal', attribute_name: 'animal_id', lineage: `${schema.name}.animal.animal_id` },
    { table_name: 'sample', attribute_name: 'animal_id', lineage: `${schema.name}.animal.animal_id` },
    { table_name: 'sample', attribute_name: 'sample_id', lineage: `${schema.name}.sample.sample_id` },
  ]);

  const after = await schemaSnapshot(schema.conn, schema.name);
  const replanned = (JSON.parse((await djmigrate(['plan', ...args, '--json'])).stdout) as Plan014).inPlace!;
  expect(replanned.comments?.changes).toEqual([]);
  expect(replanned.external?.status).toBe('nothing-to-do');
  expect(replanned.lineage?.changes).toEqual([]);
  expect((await djmigrate(['run', ...args, '--report', join(folder, '..', `${schema.name}-014-rerun.json`)])).code).toBe(0);
  expect(await schemaSnapshot(schema.conn, schema.name)).toEqual(after);

  const converted = await djmigrate(['convert-config', configPath]);
  expect(converted.code).toBe(0);
  const config2 = JSON.parse(converted.stdout);
  expect(config2.stores.main).toMatchObject({ protocol: 's3', bucket: main.bucket, location: main.location, secure: false });
  expect(config2.stores.local).toMatchObject({ protocol: 'file', location: folder });
});
