// The 0.14 → 2.0 state machine the stack deploys, executed locally with the real handlers against MariaDB, s3rver and
// a file store: in place (every column kind, backup, verify by bytes), a crash after each state or between the calls
// of one column and a rerun converging to the clean result, and the copy strategy with its comparison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { backupName } from '../../functions/core/migrate014/backup.js';
import { ASSUMED_014 } from '../../functions/core/migrate014/estimate.js';
import { entriesOf, type Plan014 } from '../../functions/core/migrate014/plan.js';
import type { Report014 } from '../../functions/core/migrate014/report.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { PLAN_IN_STATE_BYTES } from '../../functions/handlers/migrate014/plan.js';
import { formatPlan014 } from '../../functions/local/format.js';
import { silentProgress } from '../../functions/core/progress.js';
import { MIGRATE_014_HANDLERS, type HandlerName, type Migrate014HandlerName } from '../../functions/handlers/names.js';
import type { PhaseInvoker } from '../../functions/handlers/registry.js';
import { migrateLocally014, type LocalMigration014Options } from '../../functions/local/migrate.js';
import { buildExampleLabV014, createV014Schema, declareV014Table, insertV014Rows, v014Blob, type V014Stores } from '../../functions/local/sandbox/v014-pipeline.js';
import { fileStore, freshBucket, freshFolder, freshSchemaName, openConnection, s3Store, sandbox } from '../harness/context.js';
import { failingAfter, losingFirstResult, SimulatedCrash } from '../harness/crashes.js';
import { schemaSnapshot, writeDataJointConfig014 } from '../harness/migration.js';

/** 900 rows, every tenth NULL, over 700 contents: 630 distinct objects, more than one pointer batch (500). */
const TRACE_ROWS = 900;
const TRACE_CONTENTS = 700;
const traceContents = (i: number) => (i % 10 === 3 ? null : Buffer.from(`mYm\0trace ${i % TRACE_CONTENTS}`));
const TRACE_OBJECTS = new Set(Array.from({ length: TRACE_ROWS }, (_, i) => traceContents(i)?.toString('hex')).filter(Boolean)).size;

type Connection = Awaited<ReturnType<typeof openConnection>>;

async function freshStores(prefix: string): Promise<{ stores: V014Stores; configPath: string }> {
  const [bucket, folder] = await Promise.all([freshBucket(prefix), freshFolder(prefix)]);
  const stores: V014Stores = { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
  return { stores, configPath: await writeDataJointConfig014(folder, stores, { local: { stage: folder } }) };
}

async function buildPipeline(conn: Connection, schema: string, stores: V014Stores): Promise<void> {
  await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
  await conn.query(`DROP DATABASE IF EXISTS ${quoteId(backupName(schema, new Date()))}`);
  await buildExampleLabV014({ conn, database: schema, stores });
  await declareV014Table(conn, schema, {
    name: 'trace',
    primaryKey: [{ name: 'trace_id', sqlType: 'int' }],
    attributes: [{ name: 'data', type: 'blob@local', nullable: true }],
  });
  const rows = Array.from({ length: TRACE_ROWS }, (_, i) => {
    const contents = traceContents(i);
    return { trace_id: i, data: contents && v014Blob(contents) };
  });
  await insertV014Rows(conn, schema, 'trace', rows, stores);
  // filepath pointers carry the row's timestamp: pin it so every rebuild converts to the same bytes
  for (const store of Object.keys(stores)) await execute(conn, `UPDATE ${tableRef(schema, `~external_${store}`)} SET \`timestamp\` = '2026-01-02 03:04:05'`);
}

function crashingAfter(name: HandlerName, when: (call: number) => boolean) {
  return failingAfter(name, when, (call) => new SimulatedCrash(`simulated crash after ${name} call ${call}`));
}

describe('0.14 → 2.0 in place through the state machine', () => {
  const schema = freshSchemaName('wf014');
  let conn: Connection;
  let reference: Record<string, unknown>;
  let cleanVerification: Report014['verification'];
  let current: { stores: V014Stores; configPath: string };

  const run = (overrides: Partial<LocalMigration014Options> = {}) =>
    migrateLocally014({
      configPath: current.configPath,
      execute: true,
      progress: silentProgress,
      input: { schema, backup: true, verifyObjects: true },
      ...overrides,
    });
  const rebuild = async () => {
    current = await freshStores('wf014');
    await buildPipeline(conn, schema, current.stores);
  };
  const expectConverged = async () => {
    const rerun = await run();
    expect(rerun.error).toBeUndefined();
    const report = rerun.output as Report014;
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  };

  beforeAll(async () => {
    conn = await openConnection();
    await rebuild();
    const before = await schemaSnapshot(conn, schema);
    const planned = await run({ execute: false });
    expect(planned.status).toBe('SUCCEEDED');
    expect(await schemaSnapshot(conn, schema)).toEqual(before);

    const clean = await run();
    expect(clean.error).toBeUndefined();
    const report = clean.output as Report014;
    expect(report.status).toBe('migrated');
    expect(report.backup).toMatchObject({ kind: 'schema-copy', id: backupName(schema, new Date()), done: true });
    // verifyObjects: Verify streamed every blob and attachment and found the base32 MD5 of its bytes in `hash`
    const verified = report.verification!.external!.columns;
    expect(verified.map((c) => `${c.table}.${c.column}`).sort()).toEqual(['sample.report', 'sample.scan', 'sample.waveform', 'sample.waveform_opt', 'trace.data']);
    for (const column of verified) expect(column.checkedContents).toBe(column.kind !== 'filepath');
    expect(verified.find((c) => c.table === 'trace')).toMatchObject({ rows: 810, objects: TRACE_OBJECTS });
    expect(report.columns!.find((c) => c.table === 'trace')!.rowsFilled).toBe(810);
    expect(await schemaSnapshot(conn, backupName(schema, new Date()))).toEqual(before);
    reference = await schemaSnapshot(conn, schema);
    cleanVerification = report.verification;

    const again = await run();
    expect((again.output as Report014).status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  }, 120_000);

  afterAll(async () => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(backupName(schema, new Date()))}`);
    await conn.end();
  });

  const inPlaceHandlers = MIGRATE_014_HANDLERS.filter((name) => !['prepareCopy014', 'copyTable014', 'compareTable014'].includes(name));
  it.each(inPlaceHandlers)('a crash after the %s state, then a rerun, ends as the clean run', async (name: Migrate014HandlerName) => {
    await rebuild();
    const failed = await run({ wrapHandlers: crashingAfter(name, (call) => call === 1) });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.name).toBe('SimulatedCrash');
    await expectConverged();
  }, 60_000);

  // the Task's Retry calls a handler again with the same input when its result was lost (a Lambda timed out returning)
  it.each(inPlaceHandlers)('a %s call whose result was lost, called again with the same input, ends as the clean run', async (name: Migrate014HandlerName) => {
    await rebuild();
    const { wrapHandlers, lost } = losingFirstResult(name);
    const result = await run({ wrapHandlers });
    expect(lost()).toBe(true);
    expect(result.error).toBeUndefined();
    expect((result.output as Report014).status).toBe('migrated');
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  }, 60_000);

  it('hands a column back between its calls when the budget runs out, also across a crash there', async () => {
    await rebuild();
    const calls: unknown[] = [];
    const tracing = (handlers: Partial<Record<HandlerName, PhaseInvoker>>) => ({
      ...handlers,
      migrateColumn014: async (event: unknown) => {
        const result = await handlers.migrateColumn014!(event);
        calls.push(result);
        return result;
      },
    });
    // a zero budget: every call does one batch of work and hands back
    const failed = await run({ workBudgetMs: 0, wrapHandlers: (h) => crashingAfter('migrateColumn014', (call) => call === 2)(tracing(h)) });
    expect(failed.error?.name).toBe('SimulatedCrash');
    expect(calls.slice(0, 2)).toContainEqual(expect.objectContaining({ done: false }));
    calls.length = 0;
    const rerun = await run({ workBudgetMs: 0, wrapHandlers: tracing });
    expect((rerun.output as Report014).status).toBe('migrated');
    expect(calls.filter((call) => (call as { done: boolean }).done === false).length).toBeGreaterThan(0);
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  }, 60_000);
  it('plans, prepares and verifies in calls when the budget runs out: the clean run\'s result, also across a crash between two Verify calls', async () => {
    await rebuild();
    const entered = new Map<string, number>();
    const onStateEntered = (state: string) => entered.set(state, (entered.get(state) ?? 0) + 1);
    // a zero budget: every call checks one object per slot (concurrency 8) and hands back its checkpoint
    const failed = await run({ workBudgetMs: 0, onStateEntered, wrapHandlers: crashingAfter('verify014', (call) => call === 2) });
    expect(failed.error?.name).toBe('SimulatedCrash');
    // 636 objects: each phase that looks at every object takes at least 636 / 8 calls
    const atLeast = Math.ceil((TRACE_OBJECTS + 6) / 8);
    expect(entered.get('Plan')).toBeGreaterThanOrEqual(atLeast);
    expect(entered.get('PrepareExternalStorage')).toBeGreaterThanOrEqual(atLeast);
    expect(entered.get('Verify')).toBe(2);
    entered.clear();
    const rerun = await run({ workBudgetMs: 0, onStateEntered });
    const report = rerun.output as Report014;
    expect(report.status).toBe('migrated');
    expect(report.verification).toEqual(cleanVerification);
    expect(entered.get('Verify')).toBeGreaterThanOrEqual(atLeast);
    expect(await schemaSnapshot(conn, schema)).toEqual(reference);
  }, 120_000);
});

describe('0.14 → 2.0 copy strategy through the state machine', () => {
  const schema = freshSchemaName('cp014');
  const dest = `${schema}_v2`;
  let conn: Connection;

  beforeAll(async () => {
    conn = await openConnection();
  });
  afterAll(async () => {
    for (const name of [schema, dest]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    await conn.end();
  });

  it('declares the _v2 schema, copies every table, compares them; a changed row is named by its primary key', async () => {
    const { stores, configPath } = await freshStores('cp014');
    await buildPipeline(conn, schema, stores);
    const source = await schemaSnapshot(conn, schema);
    const input = { schema, strategy: 'copy', createDest: true };
    const run = () => migrateLocally014({ configPath, execute: true, progress: silentProgress, input });

    const planned = await migrateLocally014({ configPath, execute: false, progress: silentProgress, input });
    expect(planned.error).toBeUndefined();
    const plan = (planned.output as { plan: { status: string; copy: { tables: string[] } } }).plan;
    expect(plan.status).toBe('ready');
    expect(plan.copy.tables.indexOf('animal')).toBeLessThan(plan.copy.tables.indexOf('sample'));
    // copy estimate: the pointers of sample and trace built first (a call each), then every table one copy call and one
    // compare call; two foreign-key levels (animal and trace, then sample)
    const tables = plan.copy.tables.length;
    expect((planned.output as { plan: Plan014 }).plan.estimate).toMatchObject({ stateTransitions: ASSUMED_014.fixedTransitionsCopy + 2 * 2 + 2 * 2 + 2 + 2 * tables + 2 * tables + 4 * tables });
    expect((await conn.query('SHOW DATABASES LIKE ?', [dest]))[0]).toEqual([]);

    const copied = await run();
    expect(copied.error).toBeUndefined();
    const report = copied.output as Report014;
    expect(report.problems).toEqual([]);
    expect(report.status).toBe('copied');
    expect(report.tables!.map((t) => t.table).sort()).toEqual(plan.copy.tables.slice().sort());
    for (const table of report.tables!) expect(table).toMatchObject({ match: true, testRowCount: table.rowCount });
    expect(report.tables!.find((t) => t.table === 'trace')!.rowCount).toBe(TRACE_ROWS);
    // the source is untouched
    expect(await schemaSnapshot(conn, schema)).toEqual(source);

    await execute(conn, `UPDATE ${tableRef(dest, 'sample')} SET label = 'changed' WHERE animal_id = 1 AND sample_id = 1`);
    const rerun = await run();
    const differs = rerun.output as Report014;
    expect(differs.status).toBe('compare-failed');
    const sample = differs.tables!.find((t) => t.table === 'sample')!;
    expect(sample.match).toBe(false);
    expect(sample.discrepancies).toEqual([expect.objectContaining({ key: { animal_id: 1, sample_id: 1 }, column: 'label', kind: 'value' })]);
    expect(differs.problems.join('\n')).toContain(`${dest}.sample`);
  }, 120_000);

  it('a copy with another store map clears the pointers of the run before once, in PrepareCopy, not while two tables build theirs', async () => {
    const mapped = freshSchemaName('cpm014');
    const { stores, configPath } = await freshStores('cpm014');
    await buildPipeline(conn, mapped, stores);
    const pointerMap = tableRef(mapped, '~djmigrate_014_pointer');
    const marker = Buffer.alloc(16, 0xee);
    let marked = 0;
    try {
      const first = await migrateLocally014({ configPath, execute: true, progress: silentProgress, input: { schema: mapped, strategy: 'copy', createDest: true } });
      expect((first.output as Report014).status).toBe('copied');
      // another destination, with the local store renamed: the pointers of the run before name the old store
      const renamed = await migrateLocally014({
        configPath,
        execute: true,
        progress: silentProgress,
        input: { schema: mapped, strategy: 'copy', createDest: true, dest: `${mapped}_v2b`, storeMap: { local: 'local2' } },
        wrapHandlers: (handlers) => ({
          ...handlers,
          copyTable014: async (event: unknown) => {
            // before the first call: a pointer no call builds; a call that clears the map takes it away
            if ((marked += 1) === 1) await execute(conn, `INSERT INTO ${pointerMap} (store, kind, hash, pointer) VALUES ('marker', 'blob', ?, '{}')`, [marker]);
            return handlers.copyTable014!(event);
          },
        }),
      });
      expect((renamed.output as Report014).status).toBe('copied');
      const [{ n }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${pointerMap} WHERE store = 'marker'`);
      expect(Number(n)).toBe(1);
      const [{ stores: named }] = await select<{ stores: string }>(conn, `SELECT GROUP_CONCAT(DISTINCT JSON_UNQUOTE(JSON_EXTRACT(pointer, '$.store'))) AS stores FROM ${pointerMap} WHERE store = 'local'`);
      expect(named).toBe('local2');
    } finally {
      for (const db of [mapped, `${mapped}_v2`, `${mapped}_v2b`]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`);
    }
  }, 60_000);

  // with no budget a call and trace in 3 parts: about 8 CopyPointers calls, then 5 CopyTable calls
  it.each([
    ['prepareCopy014', 1],
    ['copyTable014', 2],
    ['copyTable014', 11],
    ['compareTable014', 2],
  ] as const)('a crash after %s call %i, then a rerun, ends as the clean copy', async (name, call) => {
    const crashed = freshSchemaName('cpc014');
    const { stores, configPath } = await freshStores('cpc014');
    await buildPipeline(conn, crashed, stores);
    await conn.query(`ANALYZE TABLE ${tableRef(crashed, 'trace')}`);
    const source = await schemaSnapshot(conn, crashed);
    const run = (wrapHandlers?: ReturnType<typeof crashingAfter>) =>
      migrateLocally014({ configPath, execute: true, progress: silentProgress, input: { schema: crashed, strategy: 'copy', createDest: true, copyPartRows: 300 }, workBudgetMs: 0, wrapHandlers });
    try {
      const failed = await run(crashingAfter(name, (n) => n === call));
      expect(failed.status).toBe('FAILED');
      expect(failed.error?.name).toBe('SimulatedCrash');
      const rerun = await run();
      expect(rerun.error).toBeUndefined();
      const report = rerun.output as Report014;
      expect(report.status).toBe('copied');
      for (const table of report.tables!) expect(table).toMatchObject({ match: true, testRowCount: table.rowCount });
      expect(report.tables!.find((t) => t.table === 'trace')!.rowCount).toBe(TRACE_ROWS);
      expect(await schemaSnapshot(conn, crashed)).toEqual(source);
    } finally {
      for (const db of [crashed, `${crashed}_v2`]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`);
    }
  }, 60_000);

  it('with no budget a call, each call is handed the checkpoint the call before returned: pointers column by column, then a big table in parts', async () => {
    const budgeted = freshSchemaName('cpb014');
    const { stores, configPath } = await freshStores('cpb014');
    await buildPipeline(conn, budgeted, stores);
    await conn.query(`ANALYZE TABLE ${tableRef(budgeted, 'trace')}`);
    const checkpoints: unknown[] = [];
    const items: { table: string; only: string; part: unknown }[] = [];
    try {
      const planned = await migrateLocally014({ configPath, execute: false, progress: silentProgress, input: { schema: budgeted, strategy: 'copy', createDest: true, copyPartRows: 300 } });
      expect((planned.output as { plan: Plan014 }).plan.copy!.parts).toEqual([{ table: 'trace', column: 'trace_id', parts: 3 }]);
      const result = await migrateLocally014({
        configPath,
        execute: true,
        progress: silentProgress,
        // trace (900 rows) in parts of 300
        input: { schema: budgeted, strategy: 'copy', createDest: true, copyPartRows: 300 },
        workBudgetMs: 0,
        wrapHandlers: (handlers) => ({
          ...handlers,
          copyTable014: async (event: unknown) => {
            items.push((event as { item: (typeof items)[number] }).item);
            const called = (await handlers.copyTable014!(event)) as { table: string; checkpoint: unknown };
            checkpoints.push({ table: called.table, given: (event as { checkpoint?: unknown }).checkpoint ?? null, returned: called.checkpoint });
            return called;
          },
        }),
      });
      expect(result.error).toBeUndefined();
      const report = result.output as Report014;
      expect(report.status).toBe('copied');
      for (const table of report.tables!) expect(table).toMatchObject({ match: true, testRowCount: table.rowCount });
      // sample's 4 external columns and trace's one: a call per batch of pointers, each handed the one before's checkpoint
      const sample = checkpoints.filter((c) => (c as { table: string }).table === 'sample') as { given: unknown; returned: { stage: string; column: string } | null }[];
      expect(sample.filter((c) => c.returned?.stage === 'pointers').map((c) => c.returned!.column)).toEqual(['waveform', 'waveform_opt', 'report', 'scan']);
      expect(sample[0].given).toBeNull();
      for (let i = 1; i < sample.length; i++) expect(sample[i].given).toEqual(sample[i - 1].returned);
      // every pointer built before the first row; trace's rows in 3 parts (trace_id 0 … 899), each copied by a call of its own
      const firstRows = items.findIndex((item) => item.only === 'rows');
      expect(items.slice(firstRows).every((item) => item.only === 'rows')).toBe(true);
      expect(new Set(items.slice(0, firstRows).map((item) => item.table))).toEqual(new Set(['sample', 'trace']));
      expect(items.filter((item) => item.table === 'trace' && item.only === 'rows').map((item) => item.part)).toEqual([
        { column: 'trace_id', from: null, until: '300' },
        { column: 'trace_id', from: '300', until: '600' },
        { column: 'trace_id', from: '600', until: null },
      ]);
      expect(report.tables!.find((t) => t.table === 'trace')!.rowCount).toBe(TRACE_ROWS);
    } finally {
      for (const name of [budgeted, `${budgeted}_v2`]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    }
  }, 120_000);
});

describe('0.14 → 2.0: a schema of many tables through the state machine', () => {
  const schema = freshSchemaName('wide014');
  /** A marker and a lineage row per attribute: the whole plan of this schema is ~4x the 256 KiB an execution's state holds. */
  const TABLES = 150;
  const EXTERNAL_TABLES = 6;
  let conn: Connection;
  let current: { stores: V014Stores; configPath: string };

  beforeAll(async () => {
    conn = await openConnection();
    current = await freshStores('wide014');
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(schema)}`);
    await createV014Schema(conn, schema);
    await declareV014Table(conn, schema, { name: 'subject', primaryKey: [{ name: 'subject_id', sqlType: 'int', comment: 'subject number' }], attributes: [] });
    for (let t = 0; t < TABLES; t++) {
      const external = t < EXTERNAL_TABLES;
      await declareV014Table(conn, schema, {
        name: `analysis_step_${t}`,
        primaryKey: [{ name: `step_id`, sqlType: 'int', comment: 'step number' }],
        parents: [{ table: 'subject', columns: ['subject_id'] }],
        attributes: [
          { name: 'score', type: 'float', comment: 'a score of the step' },
          { name: 'counted', type: 'int', comment: 'how many were counted' },
          { name: 'label', type: 'varchar(255)', comment: 'what the step is called' },
          { name: 'ratio', type: 'double', comment: 'a ratio' },
          { name: 'raw', type: 'longblob', comment: 'in-table blob' },
          ...(external ? [{ name: 'trace', type: 'blob@main', nullable: true, comment: 'external trace' }] : []),
        ],
      });
      if (external) {
        if (t === 0) await conn.query(`INSERT INTO ${tableRef(schema, 'subject')} VALUES (1)`);
        const rows = [0, 1, 2].map((i) => ({ subject_id: 1, step_id: i, score: i, counted: i, label: `step ${i}`, ratio: 0.5, raw: Buffer.from('x'), trace: v014Blob(Buffer.from(`mYm\0trace ${t} ${i}`)) }));
        await insertV014Rows(conn, schema, `analysis_step_${t}`, rows, current.stores);
      } else {
        // rows with long labels: a changed copy of them has long discrepancies
        const rows = [0, 1, 2, 3, 4, 5].map((i) => [1, i, i, i, `${'a'.repeat(250)} ${i}`, 0.5, Buffer.from('x')]);
        await conn.query(`INSERT INTO ${tableRef(schema, `analysis_step_${t}`)} (subject_id, step_id, score, counted, label, ratio, raw) VALUES ?`, [rows]);
      }
    }
  }, 120_000);

  afterAll(async () => {
    for (const name of [schema, `${schema}_v2`]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    await conn.end();
  });

  it('copies it into a declared _v2 schema and compares every table (the copy leaves the source as it is)', async () => {
    const copied = await migrateLocally014({ configPath: current.configPath, execute: true, progress: silentProgress, input: { schema, strategy: 'copy', createDest: true } });
    expect(copied.error).toBeUndefined();
    const report = copied.output as Report014;
    expect(report.status).toBe('copied');
    expect(report.tables).toHaveLength(TABLES + 1);
    expect(report.tables!.every((table) => table.match)).toBe(true);

    // every label of the copy changed: 5 long discrepancies found in each of 144 tables, more than the state holds;
    // each table keeps what fits its share and counts the rest, and the report names how to list them
    const dest = `${schema}_v2`;
    for (let t = EXTERNAL_TABLES; t < TABLES; t++) await conn.query(`UPDATE ${tableRef(dest, `analysis_step_${t}`)} SET label = CONCAT(REPEAT('b', 250), step_id)`);
    const differs = await migrateLocally014({ configPath: current.configPath, execute: true, progress: silentProgress, input: { schema, strategy: 'copy', createDest: true } });
    expect(differs.error).toBeUndefined();
    const failed = differs.output as Report014;
    expect(failed.status).toBe('compare-failed');
    const changed = failed.tables!.filter((table) => !table.match);
    expect(changed).toHaveLength(TABLES - EXTERNAL_TABLES);
    for (const table of changed) {
      expect(table.discrepancies.length).toBeGreaterThanOrEqual(1);
      expect(table.discrepancies.length + (table.discrepanciesLeftOut ?? 0)).toBe(5);
      expect(table.discrepancies[0]).toMatchObject({ key: { subject_id: 1, step_id: 0 }, column: 'label', kind: 'value' });
    }
    expect(failed.problems).toHaveLength(TABLES - EXTERNAL_TABLES);
    expect(failed.problems[0]).toMatch(/differs from .* \(\d discrepanc(y|ies) shown, \d more found; `djmigrate compare --config … --prod \S+ --test \S+ --table analysis_step_\d+` lists them\)/);
  }, 180_000);

  it('plans (the state gets the plan cut to size, --plan-file the whole of it) and migrates', async () => {
    const input = { schema };
    const written: unknown[] = [];
    const keepPlans = (deps: HandlerDeps): HandlerDeps => ({ ...deps, reports: { put: async (_key, plan) => (written.push(plan), 'kept-plan.json') } });
    const planned = await migrateLocally014({ configPath: current.configPath, execute: false, progress: silentProgress, input, wrapDeps: keepPlans });
    expect(planned.error).toBeUndefined();
    const plan = (planned.output as { plan: Plan014 }).plan;
    expect(plan.status).toBe('ready');
    expect(Buffer.byteLength(JSON.stringify(plan))).toBeLessThanOrEqual(PLAN_IN_STATE_BYTES);
    expect(plan.planLocation).toBe('kept-plan.json');
    // the whole plan went to the reports store: a marker for every attribute but the inherited subject_id (external
    // ones get theirs with their conversion)
    const whole = written[0] as Plan014;
    expect(written).toHaveLength(1);
    expect(whole.omitted).toBeUndefined();
    const markers = 1 + TABLES * 6;
    expect(whole.inPlace!.comments!.changes).toHaveLength(markers);
    expect(whole.inPlace!.external!.columns).toHaveLength(EXTERNAL_TABLES);
    // the state's copy keeps each list's first entries and counts the rest
    const changes = plan.inPlace!.comments!.changes;
    expect(changes).toEqual(whole.inPlace!.comments!.changes.slice(0, changes.length));
    expect(changes.length + plan.omitted!['inPlace.comments.changes']!).toBe(markers);
    expect(entriesOf(plan, 'inPlace.lineage.changes', plan.inPlace!.lineage!.changes)).toBe(whole.inPlace!.lineage!.changes.length);
    expect(formatPlan014(plan)).toContain(`update_blob_comments: ${markers} column(s) get a core-type marker`);
    expect(formatPlan014(plan)).toContain('the whole plan is in kept-plan.json');

    const ran = await migrateLocally014({ configPath: current.configPath, execute: true, progress: silentProgress, input });
    expect(ran.error).toBeUndefined();
    const report = ran.output as Report014;
    expect(report.status).toBe('migrated');
    expect(report.columns).toHaveLength(EXTERNAL_TABLES);
    // user tables only: 0.14 declares `~external_<store>`'s uuid columns with a `:uuid:` comment of its own
    const [marked] = await conn.query(`SELECT COUNT(*) AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME NOT LIKE '~%' AND COLUMN_COMMENT LIKE ':%:%'`, [schema]);
    expect(Number((marked as { n: number }[])[0]!.n)).toBe(markers + EXTERNAL_TABLES);
    const [lineage] = await conn.query(`SELECT COUNT(*) AS n FROM ${tableRef(schema, '~lineage')}`);
    expect(Number((lineage as { n: number }[])[0]!.n)).toBe(whole.inPlace!.lineage!.rows.length);
  }, 180_000);
});
