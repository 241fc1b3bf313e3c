// `npm run bench -- --v014 ROWS`: the 0.14 → 2.0 migration's own rates, the ones `plan --from 0.14` estimates AWS
// time and cost from. A 0.14 schema on the throwaway servers: `trace` (ROWS rows, blob@main on s3rver) pointing at
// `--v014-objects` objects of a few bytes, filed by 0.12 (uuid paths, as 0.14 writes them), plus a small parent table.
// Measured through the local runner, phase by phase: in place on one copy (Plan, PrepareExternalStorage and Verify
// check every object: objects/s; MigrateExternalColumns converts the rows: rows/s), then the copy strategy from
// another (CopyTables and CompareTables: rows/s; then again with `trace` in 4 parts), and its pointer building alone
// (pointers/s; and an attach column's, whose pointers read and write an object each: attachments/s). Then Verify's pointer check alone on the migrated copy, read as a
// table under 40M rows is (distinct pointers in order) and as a bigger one is (primary-key pages). Last, a schema of
// a parent and 4 sibling tables of ROWS / 4 rows copied one table after another (copySchemaData) and by the state
// machine, whose CopyTables copies a foreign-key level's tables at once.
import type { Connection } from 'mysql2/promise';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execute, quoteId, tableRef } from '../functions/core/db/sql.js';
import { copySchemaData, createParallelSchema } from '../functions/core/migrate014/copy.js';
import { ensurePointers, POINTER_TABLE_014 } from '../functions/core/migrate014/external-storage.js';
import type { Report014 } from '../functions/core/migrate014/report.js';
import { verifyInPlace, type InPlaceVerifyOptions } from '../functions/core/migrate014/verify.js';
import { openObjectWriter } from '../functions/core/stores/object-writer.js';
import { openObjectStore } from '../functions/core/stores/open-store.js';
import { MIGRATE_014_PHASES } from '../functions/local/cli-014.js';
import { PhaseClock } from '../functions/local/cli-output.js';
import { migrateLocally014 } from '../functions/local/migrate.js';
import { connect, startSandbox, type Sandbox } from '../functions/local/sandbox/sandbox.js';
import { createV014Schema, declareV014Table, insertV014Rows, v014Attach, v014Blob, type V014Stores } from '../functions/local/sandbox/v014-pipeline.js';
import { configEntries, copySchema } from './fixture.js';
import { formatInt, mb, RssSampler } from './measure.js';

const DATABASE = 'djbench_v014';
const PRISTINE = 'djbench_v014_pristine';
const BUCKET = 'djm-bench-v014';
const SIBLINGS = 'djbench_v014_siblings';
const ATTACHMENTS = 'djbench_v014_attach';
const SCHEMAS = [DATABASE, PRISTINE, `${DATABASE}_v2`, `${PRISTINE}_v2`, SIBLINGS, `${SIBLINGS}_serial`, `${SIBLINGS}_v2`, ATTACHMENTS];

export async function v014Rates(rows: number, objects: number, log: (line: string) => void): Promise<void> {
  if (objects < 1 || rows < objects) throw new Error(`--v014 ${rows} --v014-objects ${objects}: give at least one object and at least as many rows as objects`);
  log(`bench --v014: ${formatInt(rows)} rows of a blob@ column (s3rver) over ${formatInt(objects)} objects, 0.14 → 2.0`);
  const sandbox = await startSandbox();
  const conn = await connect(sandbox.mysqlUrl);
  try {
    await sandbox.createBucket(BUCKET);
    const stores: V014Stores = { main: { spec: sandbox.s3Store(BUCKET, 'v014'), credentials: sandbox.s3.credentials } };
    const started = performance.now();
    await buildSchema(conn, stores, rows, objects);
    await copySchema(conn, DATABASE, PRISTINE);
    log(`built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const configPath = await writeConfig(sandbox, stores);

    const inPlace = await timedRun(configPath, { schema: DATABASE }, log);
    const inPlaceReport = inPlace.report;
    if (inPlaceReport.status !== 'migrated') throw new Error(`in place: ${inPlaceReport.status}: ${inPlaceReport.problems.join('; ')}`);
    const phase = (name: string) => inPlace.phases[name] ?? 0;
    log(
      `in place ${inPlace.seconds.toFixed(1)} s: object checks ${formatInt(objects / phase('Plan'))} objects/s (Plan ${phase('Plan').toFixed(1)} s), ` +
        `${formatInt(objects / phase('PrepareExternalStorage'))}/s (PrepareExternalStorage ${phase('PrepareExternalStorage').toFixed(1)} s), ` +
        `${formatInt(objects / phase('Verify'))}/s (Verify ${phase('Verify').toFixed(1)} s); conversion ${formatInt(rows / phase('MigrateExternalColumns'))} rows/s ` +
        `(MigrateExternalColumns ${phase('MigrateExternalColumns').toFixed(1)} s); peak RSS ${Math.round(mb(inPlace.peakRss))} MB`,
    );

    const byPointer = await timedVerify(conn, stores, {});
    const byKey = await timedVerify(conn, stores, { keyPagesFromRows: 0 });
    log(
      `Verify's pointer check alone: by pointer ${byPointer.toFixed(1)} s (${formatInt(objects / byPointer)} objects/s), ` +
        `by primary key ${byKey.toFixed(1)} s (${formatInt(rows / byKey)} rows/s, ${formatInt(objects / byKey)} objects/s)`,
    );

    // the copy strategy from the untouched copy: declare <schema>_v2, copy every table, compare
    await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(`${PRISTINE}_v2`)}`);
    const copy = await timedRun(configPath, { schema: PRISTINE, strategy: 'copy', createDest: true }, log);
    if (copy.report.status !== 'copied') throw new Error(`copy: ${copy.report.status}: ${copy.report.problems.join('; ')}`);
    const copied = copy.report.tables!.reduce((sum, table) => sum + table.rowCount, 0);
    const copyPhase = (name: string) => copy.phases[name] ?? 0;
    log(
      `copy ${copy.seconds.toFixed(1)} s: CopyTables ${formatInt(copied / copyPhase('CopyTables'))} rows/s (${copyPhase('CopyTables').toFixed(1)} s), ` +
        `CompareTables ${formatInt(copied / copyPhase('CompareTables'))} rows/s (${copyPhase('CompareTables').toFixed(1)} s); peak RSS ${Math.round(mb(copy.peakRss))} MB`,
    );
    // trace again, in 4 parts (2 at once, fillConcurrency) instead of whole
    await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(`${PRISTINE}_v2`)}`);
    await conn.query(`ANALYZE TABLE ${tableRef(PRISTINE, 'trace')}`);
    const inParts = await timedRun(configPath, { schema: PRISTINE, strategy: 'copy', createDest: true, copyPartRows: Math.ceil(rows / 4) }, log);
    if (inParts.report.status !== 'copied') throw new Error(`copy in parts: ${inParts.report.status}: ${inParts.report.problems.join('; ')}`);
    const partsPhase = (name: string) => inParts.phases[name] ?? 0;
    log(
      `copy with trace in 4 parts, 2 at once: CopyTables ${formatInt(copied / partsPhase('CopyTables'))} rows/s (${partsPhase('CopyTables').toFixed(1)} s, ` +
        `whole ${copyPhase('CopyTables').toFixed(1)} s; BuildPointers ${partsPhase('BuildPointers').toFixed(1)} s)`,
    );

    // the copy's (and the conversion's) pointer building alone, from an empty map: what the model's pointer rate is
    await execute(conn, `DELETE FROM ${tableRef(PRISTINE, POINTER_TABLE_014)}`);
    const store = openObjectStore(stores.main.spec, stores.main.credentials);
    const pointersStarted = performance.now();
    const built = await ensurePointers(conn, { schema: PRISTINE, stores: { main: stores.main.spec } }, { table: 'trace', column: 'data' }, { openStore: () => store, openWriter: () => { throw new Error('blobs write nothing'); } });
    const pointerSeconds = (performance.now() - pointersStarted) / 1000;
    log(`pointers alone (a blob column's, from an empty map): ${formatInt(built.pointers)} in ${pointerSeconds.toFixed(1)} s, ${formatInt(built.pointers / pointerSeconds)} pointers/s`);
    const attachments = await attachmentPointers(conn, stores, Math.max(100, Math.min(2_000, Math.floor(objects / 5))));
    log(
      `an attach column's pointers: ${formatInt(attachments.count)} attachments of 1 KB (each checked by a read, then written at its 2.x path) in ` +
        `${attachments.seconds.toFixed(1)} s, ${formatInt(attachments.count / attachments.seconds)}/s`,
    );

    const siblingRows = Math.max(1, Math.floor(rows / 4));
    await buildSiblings(conn, siblingRows);
    const serialStarted = performance.now();
    await createParallelSchema(conn, { source: SIBLINGS, dest: `${SIBLINGS}_serial` });
    await copySchemaData(conn, { source: SIBLINGS, dest: `${SIBLINGS}_serial`, stores: {}, openStore: () => { throw new Error('no store'); } });
    const serial = (performance.now() - serialStarted) / 1000;
    const byLevel = await timedRun(configPath, { schema: SIBLINGS, strategy: 'copy', createDest: true }, log);
    if (byLevel.report.status !== 'copied') throw new Error(`copy by level: ${byLevel.report.status}: ${byLevel.report.problems.join('; ')}`);
    log(
      `a parent and 4 sibling tables of ${formatInt(siblingRows)} rows: declared and copied one table after another ${serial.toFixed(1)} s, ` +
        `by the state machine (a level's tables 2 at once) PrepareCopy + CopyTables ${((byLevel.phases.PrepareCopy ?? 0) + (byLevel.phases.CopyTables ?? 0)).toFixed(1)} s`,
    );

    log(
      `bench --v014: ${formatInt(rows)} rows, ${formatInt(objects)} objects: checks ${formatInt(objects / phase('Verify'))}–${formatInt(objects / phase('Plan'))} objects/s, ` +
        `conversion ${formatInt(rows / phase('MigrateExternalColumns'))} rows/s, copy ${formatInt(copied / copyPhase('CopyTables'))} rows/s, compare ${formatInt(copied / copyPhase('CompareTables'))} rows/s`,
    );
  } finally {
    // a MySQL server of the user's (DJMIGRATE_TEST_MYSQL_URL) keeps no bench schema
    if (sandbox.externalMysql) for (const db of SCHEMAS) await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(db)}`).catch(() => {});
    await conn.end().catch(() => {});
    await sandbox.stop();
  }
}

/** `session` (a row) and `trace` (rows over objects: row i points at object i mod objects). */
async function buildSchema(conn: Connection, stores: V014Stores, rows: number, objects: number): Promise<void> {
  for (const db of SCHEMAS) await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(db)}`);
  await createV014Schema(conn, DATABASE);
  await declareV014Table(conn, DATABASE, { name: 'session', primaryKey: [{ name: 'session_id', sqlType: 'int' }], attributes: [{ name: 'note', type: 'varchar(64)' }] });
  await declareV014Table(conn, DATABASE, {
    name: 'trace',
    primaryKey: [{ name: 'trace_id', sqlType: 'int' }],
    parents: [{ table: 'session', columns: ['session_id'] }],
    attributes: [{ name: 'gain', type: 'float' }, { name: 'data', type: 'blob@main', nullable: true }],
  });
  await execute(conn, `INSERT INTO ${tableRef(DATABASE, 'session')} VALUES (1, 'bench')`);
  // each object once through 0.14's insert (upload + `~external_main` row), then the other rows as copies of them
  const BATCH = 1000;
  for (let start = 0; start < objects; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, objects - start) }, (_, k) => ({ session_id: 1, trace_id: start + k, gain: 1, data: v014Blob(Buffer.from(`mYm\0trace ${start + k}`)) }));
    await insertV014Rows(conn, DATABASE, 'trace', batch, stores);
  }
  for (let done = objects; done < rows; ) {
    const step = Math.min(done, rows - done);
    await execute(
      conn,
      `INSERT INTO ${tableRef(DATABASE, 'trace')} (session_id, trace_id, gain, data) SELECT session_id, trace_id + ?, gain, data FROM ${tableRef(DATABASE, 'trace')} WHERE trace_id < ?`,
      [done, step],
    );
    done += step;
  }
}

/** An attach@main column of `count` attachments of 1 KB in a schema of its own, and the time its pointers take. */
async function attachmentPointers(conn: Connection, stores: V014Stores, count: number): Promise<{ count: number; seconds: number }> {
  await createV014Schema(conn, ATTACHMENTS);
  await declareV014Table(conn, ATTACHMENTS, { name: 'doc', primaryKey: [{ name: 'doc_id', sqlType: 'int' }], attributes: [{ name: 'file', type: 'attach@main' }] });
  for (let start = 0; start < count; start += 500) {
    const rows = Array.from({ length: Math.min(500, count - start) }, (_, k) => ({ doc_id: start + k, file: v014Attach(`doc${start + k}.txt`, Buffer.alloc(1024, (start + k) % 251)) }));
    await insertV014Rows(conn, ATTACHMENTS, 'doc', rows, stores);
  }
  const store = openObjectStore(stores.main.spec, stores.main.credentials);
  const writer = openObjectWriter(stores.main.spec, stores.main.credentials);
  const started = performance.now();
  const built = await ensurePointers(conn, { schema: ATTACHMENTS, stores: { main: stores.main.spec } }, { table: 'doc', column: 'file' }, { openStore: () => store, openWriter: () => writer });
  const seconds = (performance.now() - started) / 1000;
  if (built.written !== count) throw new Error(`attachments: ${built.written} written of ${count}`);
  return { count, seconds };
}

/** Seconds of Verify's migrate_external_storage check of the migrated schema (its pointers' objects, by size). */
async function timedVerify(conn: Connection, stores: V014Stores, options: Partial<InPlaceVerifyOptions>): Promise<number> {
  const store = openObjectStore(stores.main.spec, stores.main.credentials);
  const started = performance.now();
  const { verified } = await verifyInPlace(conn, { schema: DATABASE, steps: ['migrate_external_storage'], stores: { main: stores.main.spec }, ...options }, () => store);
  const seconds = (performance.now() - started) / 1000;
  if (!verified?.ok) throw new Error(`Verify ${JSON.stringify(options)}: ${verified?.problems.join('; ')}`);
  return seconds;
}

/** `session` (a row) and four tables of `rows` rows each that point at it (plain columns: a foreign-key level of four). */
async function buildSiblings(conn: Connection, rows: number): Promise<void> {
  await createV014Schema(conn, SIBLINGS);
  await declareV014Table(conn, SIBLINGS, { name: 'session', primaryKey: [{ name: 'session_id', sqlType: 'int' }], attributes: [{ name: 'note', type: 'varchar(64)' }] });
  await execute(conn, `INSERT INTO ${tableRef(SIBLINGS, 'session')} VALUES (1, 'bench')`);
  for (let t = 0; t < 4; t++) {
    const table = `trial_${t}`;
    await declareV014Table(conn, SIBLINGS, {
      name: table,
      primaryKey: [{ name: 'trial_id', sqlType: 'int' }],
      parents: [{ table: 'session', columns: ['session_id'] }],
      attributes: [{ name: 'score', type: 'float' }, { name: 'label', type: 'varchar(64)' }],
    });
    await execute(conn, `INSERT INTO ${tableRef(SIBLINGS, table)} VALUES (1, 0, 0, 'trial 0')`);
    for (let done = 1; done < rows; ) {
      const step = Math.min(done, rows - done);
      await execute(
        conn,
        `INSERT INTO ${tableRef(SIBLINGS, table)} (session_id, trial_id, score, label) SELECT session_id, trial_id + ?, score + ?, CONCAT('trial ', trial_id + ?) FROM ${tableRef(SIBLINGS, table)} WHERE trial_id < ?`,
        [done, done, done, step],
      );
      done += step;
    }
  }
}

/** The user's 0.14 `dj_local_conf.json`: the stores under `stores`. */
async function writeConfig(sandbox: Sandbox, stores: V014Stores): Promise<string> {
  const entries = configEntries(sandbox.mysqlUrl, stores);
  const path = join(sandbox.fileRoot, 'bench-v014.dj_local_conf.json');
  await writeFile(path, JSON.stringify({ ...entries.database, stores: entries.stores }, null, 2));
  return path;
}

async function timedRun(configPath: string, input: { schema: string } & Record<string, unknown>, log: (line: string) => void) {
  const clock = new PhaseClock(MIGRATE_014_PHASES);
  const sampler = new RssSampler(50).start();
  const started = performance.now();
  const run = await migrateLocally014({ configPath, execute: true, progress: { report: () => {} }, input, ...clock.listeners() });
  const seconds = (performance.now() - started) / 1000;
  const peakRss = sampler.stop();
  if (run.status !== 'SUCCEEDED') throw new Error(`${input.schema}: ${run.error?.name}: ${run.error?.message}`);
  const phases = clock.seconds();
  log(`  ${String(input.strategy ?? 'in-place')}: ${Object.entries(phases).map(([name, s]) => `${name} ${s.toFixed(2)}`).join(', ')}`);
  return { seconds, phases, peakRss, report: run.output as Report014 };
}
