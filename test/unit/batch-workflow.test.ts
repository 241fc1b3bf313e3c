// Runs the real synthesized batch definition locally: fake Discover, the real (pure) BatchReport, and child
// executions either faked per workflow or run through the real 0.11 definition with fake phase handlers.
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_SCHEMAS, MAX_BATCH_SKIPPED } from '../../functions/core/batch/discover.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { buildBatchReport, type BatchReport, type BatchReportEvent } from '../../functions/handlers/batch/report.js';
import { makeDiscoverBatchHandler, type DiscoverBatchResult } from '../../functions/handlers/batch/discover.js';
import { BATCH_CAUSE_CHARACTERS, batchFailure } from '../../functions/handlers/batch/failure.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { MIGRATE_011_HANDLERS, UNLOCK_HANDLER } from '../../functions/handlers/names.js';
import { loadDefinition } from '../../functions/local/definition.js';
import { runLocally, type ChildRunner, type LocalHandler } from '../../functions/local/runner.js';

const TEMPLATE = { execute: true, stores: { external: { protocol: 's3', bucket: 'lab-external', location: 'dj' } } };

function discoverFake(schemas: string[], extra: Partial<DiscoverBatchResult> = {}): LocalHandler {
  return async (event) => {
    const input = event as { from: '0.11' | '0.14'; template: Record<string, unknown>; maxConcurrency?: number; windowEndsAt?: string };
    return {
      from: input.from,
      template: { ...input.template, from: input.from },
      schemas: schemas.map((schema) => ({ schema })),
      skipped: [{ schema: 'lab_done', reason: 'already migrated (no ~external table)' }],
      maxConcurrency: input.maxConcurrency ?? 2,
      windowEndsAt: input.windowEndsAt ?? null,
      ...extra,
    } satisfies DiscoverBatchResult;
  };
}

const reportBatch: LocalHandler = async (event) => buildBatchReport(event as BatchReportEvent);
const failureBatch: LocalHandler = async (event) => batchFailure(event as Parameters<typeof batchFailure>[0]);

describe('batch workflow (local)', () => {
  beforeAll(async () => {
    await loadDefinition('batch');
  }, 120_000);

  it('maps the child tasks to the per-schema machines', async () => {
    const loaded = await loadDefinition('batch');
    expect(loaded.handlerOfState).toEqual({ Discover: 'discoverBatch', SchemaFailed: 'failureBatch', BatchReport: 'reportBatch' });
    expect(loaded.childOfState).toEqual({ StartMigrate011: 'migrate011', StartMigrate014: 'migrate014' });
    const text = JSON.stringify(loaded.definition);
    expect(text).toContain('states:startExecution.sync:2');
    expect(text).not.toMatch(/QueryLanguage|JSONata|"Assign"|ItemReader|DISTRIBUTED/);
  });

  it('runs each schema as a child with template + schema, bounded concurrency; one failure does not stop the others', async () => {
    const inputs: unknown[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const child: ChildRunner = async (input) => {
      inputs.push(input);
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight -= 1;
      const schema = (input as { schema: string }).schema;
      if (schema === 'lab_b') return { status: 'FAILED', error: { name: 'MigrationRefused', message: 'lab_b: 1 object is missing from store external' } };
      return { status: 'SUCCEEDED', output: { status: 'migrated', schema } };
    };
    const entered: string[] = [];
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', schemas: ['lab_a', 'lab_b', 'lab_c', 'lab_d'], template: TEMPLATE, maxConcurrency: 2 },
      handlers: { discoverBatch: discoverFake(['lab_a', 'lab_b', 'lab_c', 'lab_d']), failureBatch, reportBatch },
      children: { migrate011: child, migrate014: async () => ({ status: 'FAILED', error: { name: 'Wrong', message: 'wrong machine' } }) },
      onStateEntered: (name) => entered.push(name),
    });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    const report = result.output as BatchReport;
    expect(report).toMatchObject({ status: 'partial', from: '0.11', succeeded: 3, failed: 1, notStarted: 0, skipped: 1, windowEndsAt: null });
    expect(report.schemas.map((s) => [s.schema, s.status])).toEqual([
      ['lab_a', 'SUCCEEDED'],
      ['lab_b', 'FAILED'],
      ['lab_c', 'SUCCEEDED'],
      ['lab_d', 'SUCCEEDED'],
      ['lab_done', 'SKIPPED'],
    ]);
    expect(report.schemas[0]).toMatchObject({ outcome: 'migrated', executionArn: expect.stringContaining(':execution:migrate011:') });
    expect(report.schemas[1]).toEqual({
      schema: 'lab_b',
      status: 'FAILED',
      error: 'MigrationRefused',
      cause: 'lab_b: 1 object is missing from store external',
      executionArn: expect.stringContaining(':execution:migrate011:'),
    });
    expect(inputs).toHaveLength(4);
    expect(inputs).toContainEqual({ ...TEMPLATE, from: '0.11', schema: 'lab_c' });
    expect(maxInFlight).toBe(2);
    expect(entered.filter((name) => name === 'SchemaFailed')).toHaveLength(1);
    expect(entered.at(-1)).toBe('BatchReport');
  });

  it('routes 0.14 batches to the 0.14 machine and records plan-only children as planned', async () => {
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.14', schemas: ['lab_a'], template: TEMPLATE },
      handlers: { discoverBatch: discoverFake(['lab_a'], { skipped: [] }), failureBatch, reportBatch },
      children: { migrate014: async () => ({ status: 'SUCCEEDED', output: { plan: { status: 'ready' } } }) },
    });
    expect(result.output).toMatchObject({ status: 'succeeded', succeeded: 1, schemas: [{ schema: 'lab_a', status: 'SUCCEEDED', outcome: 'planned' }] });
  });

  it('starts no schema once the window has ended', async () => {
    const started: unknown[] = [];
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', schemas: ['lab_a', 'lab_b'], template: TEMPLATE, windowEndsAt: '2020-01-01T00:00:00.000Z' },
      handlers: { discoverBatch: discoverFake(['lab_a', 'lab_b']), failureBatch, reportBatch },
      children: { migrate011: async (input) => (started.push(input), { status: 'SUCCEEDED', output: { status: 'migrated' } }) },
    });
    expect(started).toEqual([]);
    expect(result.output).toMatchObject({ status: 'failed', succeeded: 0, notStarted: 2, windowEndsAt: '2020-01-01T00:00:00.000Z' });
    expect((result.output as BatchReport).schemas[0]).toEqual({ schema: 'lab_a', status: 'NOT_STARTED', reason: 'the maintenance window ended at 2020-01-01T00:00:00.000Z' });
  });

  it('stops starting schemas when the window ends during the batch', async () => {
    const windowEndsAt = new Date(Date.now() + 300).toISOString();
    const started: string[] = [];
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', schemas: ['a', 'b', 'c'], template: TEMPLATE, maxConcurrency: 1, windowEndsAt },
      handlers: { discoverBatch: discoverFake(['a', 'b', 'c']), failureBatch, reportBatch },
      children: {
        migrate011: async (input) => {
          started.push((input as { schema: string }).schema);
          await new Promise((resolve) => setTimeout(resolve, 400));
          return { status: 'SUCCEEDED', output: { status: 'migrated' } };
        },
      },
    });
    expect(started).toEqual(['a']);
    expect(result.output).toMatchObject({ succeeded: 1, notStarted: 2 });
  });

  it('runs the children through the real 0.11 definition with the same handlers', async () => {
    const seen: string[] = [];
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', schemas: ['lab_a', 'lab_b'], template: { ...TEMPLATE, execute: false } },
      handlers: {
        ...Object.fromEntries([...MIGRATE_011_HANDLERS, UNLOCK_HANDLER].map((name) => [name, async () => { throw new Error(`${name} is not called by a plan`); }])),
        discoverBatch: discoverFake(['lab_a', 'lab_b']),
        failureBatch,
        reportBatch,
        validate: async (event) => ({ input: { defaultStore: 'external', mode: 'in-place', keepLegacy: false, hashConcurrency: 8, verifyContents: false, ...(event as object) } }),
        inspect: async (event) => {
          const schema = (event as { input: { schema: string } }).input.schema;
          seen.push(schema);
          if (schema === 'lab_b') throw new MigrationRefusedError('schema lab_b cannot be migrated', ['object x is missing']);
          return { plan: { status: 'ready' }, checkpoint: null };
        },
      },
    });
    expect(seen.sort()).toEqual(['lab_a', 'lab_b']);
    const report = result.output as BatchReport;
    expect(report).toMatchObject({ succeeded: 1, failed: 1 });
    expect(report.schemas[0]).toMatchObject({ schema: 'lab_a', status: 'SUCCEEDED', outcome: 'planned' });
    expect(report.schemas[1]).toMatchObject({ schema: 'lab_b', status: 'FAILED', error: 'MigrationRefused', cause: expect.stringContaining('object x is missing') });
  });

  it('fails the batch on a Discover refusal (bad input), starting nothing', async () => {
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', template: TEMPLATE },
      handlers: {
        discoverBatch: async () => {
          throw new MigrationRefusedError('the batch execution input is not valid; fix these fields:', ['schemas: give exactly one of schemas and schemaPattern']);
        },
        failureBatch,
        reportBatch,
      },
      children: { migrate011: async () => ({ status: 'SUCCEEDED', output: {} }) },
    });
    expect(result).toMatchObject({ status: 'FAILED', error: { name: 'MigrationRefused' } });
  });
});

describe('discoverBatch handler', () => {
  /** A connection answering only what discover asks: every database exists, none has ~external (or each a full one). */
  const fakeDeps = (databases: string[], tables: string[] = []) =>
    ({
      openDatabase: async () => ({
        query: async (sql: string) => [sql.includes('SCHEMATA') ? databases.map((name) => ({ name })) : tables.map((name) => ({ name, rows: 1 })), []],
        end: async () => undefined,
      }),
    }) as unknown as HandlerDeps;
  const now = () => new Date('2026-11-21T22:00:00.000Z');

  it('computes the window from windowMinutes, adds from to the template and skips what needs nothing', async () => {
    const handler = makeDiscoverBatchHandler(() => fakeDeps(['lab_a', 'mysql']), now);
    const result = await handler({ from: '0.11', schemas: ['lab_a', 'mysql', 'lab_x'], template: TEMPLATE, windowMinutes: 90 } as never, {} as never);
    expect(result).toEqual({
      from: '0.11',
      template: { ...TEMPLATE, from: '0.11' },
      schemas: [],
      skipped: [
        { schema: 'lab_x', reason: 'no such schema' },
        { schema: 'lab_a', reason: 'already migrated (no ~external table)' },
        { schema: 'mysql', reason: 'system schema' },
      ],
      maxConcurrency: 2,
      windowEndsAt: '2026-11-21T23:30:00.000Z',
    });
  });

  it('refuses a batch of more schemas than its state holds the outcomes of, to migrate or to skip, starting nothing', async () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `lab_${i}`);
    const refusal = (databases: string[], tables: string[]) =>
      makeDiscoverBatchHandler(() => fakeDeps(databases, tables), now)({ from: '0.11', schemaPattern: 'lab\\_%', template: TEMPLATE } as never, {} as never).catch((error: unknown) => error);
    expect(await refusal(names(MAX_BATCH_SCHEMAS), ['~external'])).toMatchObject({ schemas: expect.any(Array) });
    const tooMany = await refusal(names(MAX_BATCH_SCHEMAS + 1), ['~external']);
    expect(tooMany).toBeInstanceOf(MigrationRefusedError);
    expect((tooMany as Error).message).toMatch(/^this batch would migrate 251 schemas, more than the 250 one batch keeps the outcome of .*split it: narrower schemaPattern values/);
    expect(((await refusal(names(MAX_BATCH_SKIPPED + 1), [])) as Error).message).toMatch(/^this batch would skip 501 schemas, more than the 500/);
  });

  it.each([
    [{ from: '0.11', template: TEMPLATE }, 'schemas: give exactly one of schemas'],
    [{ from: '0.12', schemas: ['a'], template: TEMPLATE }, 'from:'],
    [{ from: '0.11', schemas: ['a'], template: { ...TEMPLATE, schema: 'a' } }, 'template.schema'],
    [{ from: '0.11', schemas: ['a'], template: { ...TEMPLATE, access_key: 'x' } }, 'unknown field(s) access_key'],
    [{ from: '0.11', schemas: ['a'], template: TEMPLATE, windowEndsAt: 'tomorrow' }, 'windowEndsAt'],
    [{ from: '0.11', schemas: ['a'], template: TEMPLATE, maxConcurrency: 0 }, 'maxConcurrency'],
    [{ from: '0.14', schemas: ['a'], template: { stores: {}, strategy: 'sideways' } }, 'template.strategy'],
  ])('refuses %j naming the field', async (input, field) => {
    const handler = makeDiscoverBatchHandler(() => fakeDeps([]), now);
    const refusal = await handler(input as never, {} as never).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(MigrationRefusedError);
    expect((refusal as Error).message).toContain(field);
  });
});

describe('batch workflow (local): many schemas failing at once', () => {
  it('reports 200 failed schemas with long refusals: what the Map keeps of each failure fits the state (256 KiB)', async () => {
    const schemas = Array.from({ length: 200 }, (_, i) => `lab_${String(i).padStart(3, '0')}`);
    const refusal = (schema: string) => `schema ${schema} cannot be migrated as it is; nothing was changed: ${'object lab/abcdef is missing from store external; restore it and rerun. '.repeat(20)}`;
    const result = await runLocally({
      workflow: 'batch',
      input: { from: '0.11', schemas, template: TEMPLATE, maxConcurrency: 8 },
      handlers: { discoverBatch: discoverFake(schemas, { maxConcurrency: 8 }), failureBatch, reportBatch },
      children: { migrate011: async (input) => ({ status: 'FAILED', error: { name: 'MigrationRefused', message: refusal((input as { schema: string }).schema) } }) },
    });
    expect(result.error).toBeUndefined();
    const report = result.output as BatchReport;
    expect(report).toMatchObject({ status: 'failed', failed: 200 });
    // the start of each refusal (the child execution has the whole of it) and the child to look at
    expect(report.schemas[7]).toEqual({
      schema: 'lab_007',
      status: 'FAILED',
      error: 'MigrationRefused',
      cause: `${refusal('lab_007').slice(0, BATCH_CAUSE_CHARACTERS)}…`,
      executionArn: expect.stringMatching(/:execution:migrate011:/),
    });
  }, 60_000);
});
