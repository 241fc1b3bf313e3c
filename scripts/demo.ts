// `npm run demo`: starts a throwaway MariaDB and s3rver, builds the seed notebook's DataJoint 0.11 pipeline
// (tables A and B; stores `external` and `external-shared` on S3, `external-local` on files, shared blobs) plus
// a larger table so the figures mean something, then runs `djmigrate plan` and `djmigrate run` exactly as a user
// would, shows the migrated DDL, and cleans everything up.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blobArray } from '../functions/core/datajoint/blob.js';
import { LEGACY_EXTERNAL_TABLE } from '../functions/core/datajoint/v011.js';
import { execute, select, tableRef } from '../functions/core/db/sql.js';
import { main } from '../functions/local/cli.js';
import { buildSeedPipeline, declareLegacyTable, insertLegacyRows, pseudoRandn, type LegacyStores } from '../functions/local/sandbox/legacy-pipeline.js';
import { connect, startSandbox } from '../functions/local/sandbox/sandbox.js';

const SCHEMA = 'djtest_blobs';
const BUCKET = 'migrate-test';
const SCANS = 60;
const SCAN_VALUES = 50_000;
const TRIALS = 20_000;

const say = (text: string) => console.log(`\n\u001b[1m== ${text}\u001b[0m`);

say('Starting a throwaway MariaDB and s3rver');
const sandbox = await startSandbox();
try {
  await sandbox.createBucket(BUCKET);
  const conn = await connect(sandbox.mysqlUrl);
  const localFolder = join(sandbox.fileRoot, 'migrate-test');
  const stores: LegacyStores = {
    external: { spec: sandbox.s3Store(BUCKET, 'store'), credentials: sandbox.s3.credentials },
    'external-shared': { spec: sandbox.s3Store(BUCKET, 'maps'), credentials: sandbox.s3.credentials },
    'external-local': { spec: { protocol: 'file', location: localFolder } },
  };

  say(`Building the seed's DataJoint 0.11 pipeline in schema ${SCHEMA}`);
  await buildSeedPipeline({ conn, database: SCHEMA, stores });
  // A larger table: SCANS objects of 400 KB on S3, and TRIALS rows pointing at them.
  await declareLegacyTable(conn, SCHEMA, { name: 'scan', primaryKey: [{ name: 'scan_id', sqlType: 'int' }], attributes: [{ name: 'image', type: 'external', comment: 'raw scan: 50k samples' }] });
  await declareLegacyTable(conn, SCHEMA, {
    name: 'trial',
    primaryKey: [{ name: 'trial_id', sqlType: 'int' }],
    attributes: [{ name: 'snippet', type: 'external-shared', nullable: true, comment: 'clip, if any' }],
  });
  for (let first = 0; first < SCANS; first += 10) {
    const rows = Array.from({ length: 10 }, (_, i) => ({ scan_id: first + i, image: blobArray('float64', [SCAN_VALUES], pseudoRandn(SCAN_VALUES, first + i + 100)) }));
    await insertLegacyRows(conn, SCHEMA, 'scan', rows, stores);
  }
  const clips = Array.from({ length: 20 }, (_, i) => ({ trial_id: i, snippet: blobArray('float64', [64], pseudoRandn(64, i + 1000)) }));
  await insertLegacyRows(conn, SCHEMA, 'trial', clips, stores);
  const clipValues = await select<{ hash: string }>(conn, `SELECT hash FROM ${tableRef(SCHEMA, LEGACY_EXTERNAL_TABLE)} WHERE hash LIKE '%shared' ORDER BY hash`);
  const more = Array.from({ length: TRIALS - clips.length }, (_, i) => [clips.length + i, i % 7 === 0 ? null : clipValues[i % clipValues.length].hash]);
  for (let i = 0; i < more.length; i += 5000) await execute(conn, `INSERT INTO ${tableRef(SCHEMA, 'trial')} (trial_id, snippet) VALUES ?`, [more.slice(i, i + 5000)]);

  const url = new URL(sandbox.mysqlUrl);
  const s3 = (location: string) => ({ protocol: 's3', endpoint: sandbox.s3.endpoint, bucket: BUCKET, location, access_key: sandbox.s3.credentials.accessKeyId, secret_key: sandbox.s3.credentials.secretAccessKey });
  const configPath = join(sandbox.fileRoot, 'dj_local_conf.json');
  await writeFile(
    configPath,
    JSON.stringify(
      {
        'database.host': url.hostname,
        'database.port': Number(url.port),
        'database.user': decodeURIComponent(url.username),
        'database.password': decodeURIComponent(url.password),
        external: s3('store'),
        'external-shared': s3('maps'),
        'external-local': { protocol: 'file', location: localFolder },
      },
      null,
      2,
    ),
  );
  const args = ['--from', '0.11', '--config', configPath, '--schema', SCHEMA];

  say(`npx djmigrate plan ${args.join(' ')}`);
  if ((await main(['node', 'djmigrate', 'plan', ...args])) !== 0) throw new Error('the plan was refused');

  const reportPath = join(sandbox.fileRoot, 'report.json');
  say(`npx djmigrate run ${args.join(' ')} --report ${reportPath}`);
  const exitCode = await main(['node', 'djmigrate', 'run', ...args, '--report', reportPath]);

  say('What DataJoint 0.12 now reads (SHOW CREATE TABLE b)');
  const [created] = await select<{ 'Create Table': string }>(conn, `SHOW CREATE TABLE ${tableRef(SCHEMA, 'b')}`);
  console.log(created['Create Table']);
  await conn.end();
  process.exitCode = exitCode;
} finally {
  say('Stopping the throwaway servers');
  await sandbox.stop();
}
