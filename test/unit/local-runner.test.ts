// Runs the real synthesized 0.11 → 0.12 definition with small fake handlers: the control flow (Choice, Maps,
// rewrite loop, Retry, failure) is the deployed one, only the Lambdas are replaced.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DjmigrateStack, projectCdkContext } from '../../lib/djmigrate-stack.js';
import { MigrationRefusedError, TransientError } from '../../functions/core/errors.js';
import { MIGRATE_011_HANDLERS, TASK_RETRIES, UNLOCK_HANDLER, type Migrate011HandlerName, type Migrate014HandlerName, type UnlockHandlerName } from '../../functions/handlers/names.js';
import { definitionFromDefinitionString, loadDefinition, synthesizeDefinitions } from '../../functions/local/definition.js';
import { retryCountFieldsOf, runLocally, STATE_DATA_LIMIT_BYTES, type LocalHandler } from '../../functions/local/runner.js';
import { inlineDistributedMaps, loadBatch, readBatches, type InlinedDistributedMap } from '../../functions/local/distributed-map.js';
import { fileManifestStore } from '../../functions/core/stores/manifest-store.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What Lambda reports for a call killed by its timeout. */
function timedOut(seconds: number): Error {
  return Object.assign(new Error(`Task timed out after ${seconds.toFixed(2)} seconds`), { name: 'Sandbox.Timedout' });
}

const INPUT = {
  from: '0.11',
  schema: 'lab_ephys',
  stores: { external: { protocol: 's3', bucket: 'lab-external', location: 'dj' } },
};

type Name = Migrate011HandlerName | UnlockHandlerName;

/** What every phase but Validate gets besides its own fields: the execution id, the schema lock's holder. */
const RUN = expect.stringMatching(/^arn:aws:states:[^:]+:\d+:execution:migrate011:local-/);

interface Fake {
  handlers: Record<Name, LocalHandler>;
  calls: { handler: Name; event: unknown }[];
  names: () => Name[];
  maxHashesInFlight: () => number;
  maxFillsInFlight: () => number;
}

/** Fake handlers with the result shapes of the real ones; `override` replaces single handlers. */
function fakeHandlers(override: Partial<Record<Name, LocalHandler>> = {}): Fake {
  const calls: Fake['calls'] = [];
  const fills = new Map<number, number>();
  const rewrites = new Map<number, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  let fillsInFlight = 0;
  let maxFillsInFlight = 0;
  const base: Record<Name, LocalHandler> = {
    validate: async (event) => ({ input: { defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: false, hashConcurrency: 8, ...(event as object) } }),
    inspect: async () => ({ plan: { columns: 2, objects: 5 }, checkpoint: null }),
    prepare: async () => ({ done: true, manifest: null, columns: [10, 11, 12], tableColumns: [[10], [11, 12]], objects: 5 }),
    startChecksum: async () => ({ job: 'job-1', run: 'djmigrate-run', objects: 3 }),
    checksumState: async () => ({ done: true, status: 'Complete', total: 3, succeeded: 3, failedTasks: 0, waitSeconds: 0 }),
    recordChecksums: async () => ({ done: true, recorded: 3, left: 0, manifest: null, columns: [10, 11, 12], tableColumns: [[10], [11, 12]], objects: 5 }),
    pendingBatches: async () => ({ hashBatches: [0, 1, 2, 3, 4, 5] }),
    hashItems: async (event) => ({ hashed: (event as { items: unknown[] }).items, left: 0, refused: [] }),
    recordHashes: async (event) => ({ recorded: (event as { hashed: unknown[] }).hashed.length, left: 0, refused: 0 }),
    hash: async (event) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 15));
      inFlight -= 1;
      return { batch: (event as { batch: number }).batch, objects: 1, bytes: 10 };
    },
    fill: async (event) => {
      const [column] = (event as { columns: number[] }).columns;
      const round = (fills.get(column) ?? 0) + 1;
      fills.set(column, round);
      fillsInFlight += 1;
      maxFillsInFlight = Math.max(maxFillsInFlight, fillsInFlight);
      await new Promise((resolve) => setTimeout(resolve, 15));
      fillsInFlight -= 1;
      // table of column 10: first waits for its store's objects, then needs two bounded invocations; the other one
      if (column === 10 && round === 1) return { column, done: false, rows: 0, waiting: true, waitSeconds: 15 };
      return { column: column === 10 ? 10 : 12, done: column === 11 || round === 3, rows: (round - 1) * 100, waiting: false, waitSeconds: 0 };
    },
    discardFills: async () => ({ dropped: 2 }),
    insert: async () => ({ done: true, inserted: 5, stores: [{ store: 'external', table: '~external_external', inserted: 5 }] }),
    rewrite: async (event) => {
      const [column] = (event as { columns: number[] }).columns;
      const round = (rewrites.get(column) ?? 0) + 1;
      rewrites.set(column, round);
      // table of column 10 needs two bounded invocations (rows written since its fill), the other one (its columns in turn)
      return { column: column === 10 ? 10 : 12, done: column !== 10 || round === 2, rows: round * 10 };
    },
    finish: async () => ({ legacyTable: 'dropped' }),
    // a first bounded call that stops on the way, then the end
    verify: async () =>
      calls.filter((call) => call.handler === 'verify').length === 1
        ? { done: false, store: 'external', pass: 1, passes: 1, column: 'scan.frame', objects: 3 }
        : { done: true, ok: true, legacyReferences: 0, columns: [] },
    report: async (event) => ({ status: 'migrated', received: event }),
    unlock: async () => ({ released: true }),
  };
  const handlers = Object.fromEntries(
    ([...MIGRATE_011_HANDLERS, UNLOCK_HANDLER] as Name[]).map((name) => [
      name,
      async (event: unknown) => {
        calls.push({ handler: name, event });
        return (override[name] ?? base[name])(event);
      },
    ]),
  ) as Record<Name, LocalHandler>;
  return { handlers, calls, names: () => calls.map((call) => call.handler), maxHashesInFlight: () => maxInFlight, maxFillsInFlight: () => maxFillsInFlight };
}

describe('runLocally (0.11 workflow)', () => {
  beforeAll(async () => {
    await loadDefinition('migrate011'); // synth once (~2 s), cached for the runs below
  }, 120_000);

  it('plan only: validates, inspects (again while a call returns a checkpoint instead of the plan) and ends with the plan', async () => {
    const checkpoint = { cursor: { store: 0, pass: 0, after: 'abc' } };
    const fake = fakeHandlers({
      inspect: async (event) =>
        (event as { checkpoint: unknown }).checkpoint === null ? { plan: null, checkpoint } : { plan: { columns: 2, objects: 5 }, checkpoint: null },
    });
    const entered: string[] = [];
    const result = await runLocally({
      input: INPUT,
      handlers: fake.handlers,
      onStateEntered: (name) => entered.push(name),
      workflow: 'migrate011',
    });
    expect(result).toEqual({ status: 'SUCCEEDED', output: { plan: { columns: 2, objects: 5 } } });
    expect(fake.names()).toEqual(['validate', 'inspect', 'inspect']);
    expect(fake.calls[0]!.event).toEqual(INPUT);
    const input = expect.objectContaining({ schema: 'lab_ephys', execute: false });
    expect(fake.calls[1]!.event).toEqual({ input, run: RUN, checkpoint: null });
    expect(fake.calls[2]!.event).toEqual({ input, run: RUN, checkpoint });
    expect(entered).toEqual(['Validate', 'StartInspect', 'Inspect', 'Inspected', 'Inspect', 'Inspected', 'KeepPlan', 'ExecuteOrPlanOnly', 'PlanOnly']);
  });

  it("fails the run, as AWS does, past Step Functions' history quota, counting events as AWS records them", async () => {
    const run = (historyEventLimit: number) => runLocally({ input: INPUT, handlers: fakeHandlers().handlers, workflow: 'migrate011', historyEventLimit });
    // plan only: 2 Tasks (entered, scheduled, started, succeeded, exited: 5 each) and 5 other states (2 each)
    expect((await run(20)).status).toBe('SUCCEEDED');
    const over = await run(19);
    expect(over).toEqual({ status: 'FAILED', error: { name: 'HistoryLimitExceeded', message: expect.stringMatching(/reached 20 events at state PlanOnly, more than Step Functions' 19/) } });
    // a run's Tasks, Choices, Passes and Maps count; the looks of a polling loop (WaitForStoreHashed, FillTable,
    // TableFilled) do not: here a Wait lasts 100 ms, so a fill waiting for its objects looks far more often than on
    // AWS (where polling.ts bounds the looks)
    const counted = async (fill: LocalHandler) => {
      let events = 0;
      const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fakeHandlers({ fill }).handlers, workflow: 'migrate011', onHistoryEvents: (n) => (events = n) });
      expect(result.status).toBe('SUCCEEDED');
      return events;
    };
    const done = async (event: unknown) => ({ column: (event as { columns: number[] }).columns[0], done: true, rows: 0, waiting: false, waitSeconds: 0 });
    let looks = 0;
    const waitsFirst = async (event: unknown) => ({ column: (event as { columns: number[] }).columns[0], done: ++looks > 40, rows: 0, waiting: looks <= 40, waitSeconds: 10 });
    const once = await counted(done);
    expect(once).toBeGreaterThan(100);
    expect(await counted(waitsFirst)).toBe(once);
    expect(looks).toBe(42);
  });

  it('execute: calls every handler in order, fans out over hash batches and columns, loops rewrite and verify until done', async () => {
    const fake = fakeHandlers();
    const entered: string[] = [];
    const result = await runLocally({
      input: { ...INPUT, execute: true },
      handlers: fake.handlers,
      onStateEntered: (name) => entered.push(name),
      workflow: 'migrate011',
    });
    expect(result.status).toBe('SUCCEEDED');

    const names = fake.names();
    expect(names.slice(0, 3)).toEqual(['validate', 'inspect', 'prepare']);
    expect(names.slice(-4)).toEqual(['finish', 'verify', 'verify', 'report']);
    // HashAndFill: the hashing branch and the fill branch interleave, each in its own order; then the rewrites
    const sideBySide = names.slice(3, -8);
    expect(sideBySide.filter((name) => name !== 'fill')).toEqual(['pendingBatches', ...Array(6).fill('hash')]);
    expect(sideBySide.filter((name) => name === 'fill')).toHaveLength(4);
    expect(names.slice(-8, -4)).toEqual(['insert', 'rewrite', 'rewrite', 'rewrite']);
    const input = (fake.calls[1]!.event as { input: unknown }).input;
    expect(input).toEqual(expect.objectContaining({ schema: 'lab_ephys', execute: true }));
    const of = (handler: Name) => fake.calls.filter((call) => call.handler === handler).map((call) => call.event);
    const run = (of('prepare')[0] as { run: string }).run;
    expect(run).toEqual(RUN);
    expect(of('prepare')).toEqual([{ input, run }]);
    expect(of('hash').map((event) => (event as { batch: number }).batch).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const event of of('hash')) expect(event).toEqual({ input, run, batch: expect.any(Number) });
    // HashObjects runs batches at once, up to MaxConcurrency (default 4)
    expect(fake.maxHashesInFlight()).toBeGreaterThan(1);
    expect(fake.maxHashesInFlight()).toBeLessThanOrEqual(4);
    // FillTables: tables side by side (MaxConcurrency 2 by default), each repeated until done with all its columns; a
    // table waiting for its store is asked again after WaitForStoreHashed, meanwhile the other fills
    const fills = of('fill');
    // each call hands on the pause before it (none before the first; WaitForStoreHashed waited the 15 s the waiting
    // call asked for; the calls after it had no pause), and the minimum, storePollSeconds
    expect(fills.filter((event) => (event as { columns: number[] }).columns[0] === 10)).toEqual(
      [0, 15, 0].map((waitedSeconds) => ({ input, run, columns: [10], pollSeconds: 10, waitedSeconds })),
    );
    expect(fills.filter((event) => (event as { columns: number[] }).columns[0] === 11)).toEqual([{ input, run, columns: [11, 12], pollSeconds: 10, waitedSeconds: 0 }]);
    expect(fills.findIndex((event) => (event as { columns: number[] }).columns[0] === 11)).toBeLessThan(2);
    expect(fake.maxFillsInFlight()).toBe(2);
    expect(entered.filter((name) => name === 'WaitForStoreHashed')).toHaveLength(1);
    // RewriteColumns, after InsertRows: tables side by side, each repeated until done with all its columns
    const rewrites = of('rewrite');
    expect(rewrites.filter((event) => (event as { columns: number[] }).columns[0] === 10)).toEqual(Array(2).fill({ input, run, columns: [10] }));
    expect(rewrites.filter((event) => (event as { columns: number[] }).columns[0] === 11)).toEqual([{ input, run, columns: [11, 12] }]);
    expect(rewrites.findIndex((event) => (event as { columns: number[] }).columns[0] === 11)).toBeLessThan(2);
    expect(of('discardFills')).toEqual([]);
    expect(of('insert')).toEqual([{ input, run }]);
    expect(of('finish')).toEqual([{ input, run }]);
    // Verify called again while it reports done: false, under the same run (its checkpoint's key)
    expect(of('verify')).toEqual([{ input, run }, { input, run }]);
    expect(entered.filter((name) => name === 'Verified')).toHaveLength(2);
    expect(of('unlock')).toEqual([]);
    // report gets each handler's own result; its result is the execution output
    const reportEvent = {
      input,
      run,
      inspected: { plan: { columns: 2, objects: 5 } },
      verified: { done: true, ok: true, legacyReferences: 0, columns: [] },
      finished: { legacyTable: 'dropped' },
    };
    expect(of('report')).toEqual([reportEvent]);
    expect(result.output).toEqual({ status: 'migrated', received: reportEvent });

    expect(entered.filter((name) => name === 'HashBatch')).toHaveLength(6);
    expect(entered.filter((name) => name === 'TableFilled')).toHaveLength(4);
    expect(entered.filter((name) => name === 'ColumnRewritten')).toHaveLength(3);
    expect(entered.filter((name) => name === 'ColumnDone')).toHaveLength(2);
    expect(entered.at(-1)).toBe('Report');
  });

  it('s3BatchChecksum: starts the job, polls it until done, records its checksums in place of Prepare\'s result', async () => {
    let looks = 0;
    const fake = fakeHandlers({
      checksumState: async () => ({ done: ++looks === 3, status: looks === 3 ? 'Complete' : 'Active', total: 3, succeeded: looks, failedTasks: 0, waitSeconds: looks === 3 ? 0 : 60 + 30 * looks }),
      recordChecksums: async () => ({ done: true, recorded: 3, left: 0, manifest: null, columns: [11], tableColumns: [[11]], objects: 5 }),
    });
    const entered: string[] = [];
    const result = await runLocally({ input: { ...INPUT, execute: true, s3BatchChecksum: true }, handlers: fake.handlers, onStateEntered: (name) => entered.push(name), workflow: 'migrate011' });
    expect(result.status).toBe('SUCCEEDED');
    expect(fake.names().slice(0, 8)).toEqual(['validate', 'inspect', 'prepare', 'startChecksum', 'checksumState', 'checksumState', 'checksumState', 'recordChecksums']);
    const of = (handler: Name) => fake.calls.filter((call) => call.handler === handler).map((call) => call.event);
    const { input, run } = of('prepare')[0] as { input: unknown; run: string };
    // each look hands on the pause before it, from checksumPollSeconds (the first) to what the look before returned
    expect(of('checksumState')).toEqual([60, 90, 120].map((waitedSeconds) => ({ input, run, job: 'job-1', pollSeconds: 60, waitedSeconds })));
    expect(of('recordChecksums')).toEqual([{ input, run, checksum: { job: 'job-1', run: 'djmigrate-run' } }]);
    // the columns come from RecordChecksums' result now
    expect(of('rewrite')).toEqual([{ input, run, columns: [11] }]);
    expect(entered.filter((name) => name === 'WaitForChecksumJob')).toHaveLength(3);
  });

  it('s3BatchChecksum with no S3 object left to hash: no job, straight to RecordChecksums (which writes the manifest)', async () => {
    const fake = fakeHandlers({ startChecksum: async () => ({ job: null, run: 'djmigrate-run', objects: 0 }) });
    const result = await runLocally({ input: { ...INPUT, execute: true, s3BatchChecksum: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.status).toBe('SUCCEEDED');
    expect(fake.names().slice(0, 5)).toEqual(['validate', 'inspect', 'prepare', 'startChecksum', 'recordChecksums']);
    expect(fake.names()).toContain('pendingBatches');
  });

  it('retries a TransientError (by name) and succeeds', async () => {
    let failures = 0;
    const fake = fakeHandlers({
      insert: async () => {
        if (failures++ === 0) throw new TransientError('connection lost (will be retried)');
        return { done: true, inserted: 5, stores: [] };
      },
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.status).toBe('SUCCEEDED');
    expect(fake.names().filter((name) => name === 'insert')).toHaveLength(2);
    expect(fake.names().at(-1)).toBe('report');
  });

  it('calls Prepare and InsertRows again while they report done: false, then goes on', async () => {
    let prepares = 0;
    let inserts = 0;
    const fake = fakeHandlers({
      prepare: async () => (++prepares === 2 ? { done: true, manifest: null, columns: [10], tableColumns: [[10]] } : { done: false, manifest: null, columns: [], tableColumns: [] }),
      insert: async () => ({ done: ++inserts === 3, inserted: 5, stores: [] }),
    });
    const entered: string[] = [];
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, onStateEntered: (name) => entered.push(name), workflow: 'migrate011' });
    expect(result.status).toBe('SUCCEEDED');
    const names = fake.names();
    // the second Prepare call, then HashAndFill's branches (in either order)
    expect(names.slice(names.indexOf('prepare'), names.indexOf('prepare') + 2)).toEqual(['prepare', 'prepare']);
    expect(names.filter((name) => name === 'prepare')).toHaveLength(2);
    expect(names.indexOf('pendingBatches')).toBeGreaterThan(names.lastIndexOf('prepare'));
    expect(names.slice(names.indexOf('insert'), names.indexOf('insert') + 4)).toEqual(['insert', 'insert', 'insert', 'rewrite']);
    expect(entered.filter((name) => name === 'Prepared')).toHaveLength(2);
    expect(entered.filter((name) => name === 'RowsInserted')).toHaveLength(3);
  });

  // with the definition's intervals (2 s, doubling) the 6 retries would wait 126 s, past the test's timeout: the
  // runner sets them to 0
  it('gives up after the Retry policy: 1 attempt + 6 retries, then fails with the TransientError', async () => {
    const fake = fakeHandlers({
      hash: async () => {
        throw new TransientError('store answers 503 (will be retried)');
      },
      prepare: async () => ({ done: true, manifest: null, columns: [], tableColumns: [] }),
      pendingBatches: async () => ({ hashBatches: [7] }),
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'TransientError', message: 'store answers 503 (will be retried)' } });
    expect(fake.names().filter((name) => name === 'hash')).toHaveLength(7);
    expect(fake.names()).not.toContain('insert');
    // the failure path released the schema lock before the execution failed; the fills stay for the rerun
    expect(fake.names().at(-1)).toBe('unlock');
    expect(fake.names()).not.toContain('discardFills');
    expect(fake.calls.at(-1)!.event).toEqual(expect.objectContaining({ failure: { Error: 'TransientError', Cause: 'store answers 503 (will be retried)' } }));
  });

  it('calls a handler that timed out once more, then fails with the timeout', async () => {
    let hashes = 0;
    const fake = fakeHandlers({
      hash: async () => {
        hashes += 1;
        throw timedOut(900);
      },
      prepare: async () => ({ done: true, manifest: null, columns: [], tableColumns: [] }),
      pendingBatches: async () => ({ hashBatches: [7] }),
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'Sandbox.Timedout', message: 'Task timed out after 900.00 seconds' } });
    expect(hashes).toBe(2);
    expect(fake.names().at(-1)).toBe('unlock');
  });

  it('ReleaseLock that timed out and then keeps failing transiently is told it is on its last attempt once, on its last call', async () => {
    const retries: number[] = [];
    const fake = fakeHandlers({
      insert: async () => {
        throw new MigrationRefusedError('object lab/abc is missing from store "external"; restore it and rerun');
      },
      unlock: async (event) => {
        retries.push((event as { retry: number }).retry);
        throw retries.length === 1 ? timedOut(60) : new TransientError('database unreachable (will be retried)');
      },
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.status).toBe('FAILED');
    // the handler announces the failure when retry >= TASK_RETRIES: that must be its last call, and only that one
    expect(retries.filter((retry) => retry >= TASK_RETRIES)).toEqual([retries.at(-1)]);
    expect(retries).toEqual([...Array(TASK_RETRIES + 1).keys()]);
  });

  it('counts retries for the top-level Tasks whose Payload reads $$.State.RetryCount, and refuses a definition reading it elsewhere', () => {
    const task = (payload: Record<string, unknown>) => ({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Parameters: { FunctionName: 'f', Payload: payload }, End: true });
    const reading = { 'retry.$': '$$.State.RetryCount', 'run.$': '$$.Execution.Id' };
    expect(retryCountFieldsOf({ StartAt: 'A', States: { A: task(reading), B: task({ 'run.$': '$$.Execution.Id' }) } })).toEqual(new Map([['A', ['retry']]]));
    const inMap = { Type: 'Map', ItemProcessor: { StartAt: 'Inner', States: { Inner: task(reading) } }, End: true };
    expect(() => retryCountFieldsOf({ StartAt: 'M', States: { M: inMap } })).toThrow(/only in the Payload of a top-level Task/);
  });

  it('hashing fails and dropping the fills fails too: the lock is still released, with the hashing\'s error', async () => {
    const refusal = new MigrationRefusedError('1 object(s) of batch 7 failed verification; nothing was rewritten:', ['lab/abc does not match its legacy hash']);
    const fake = fakeHandlers({
      hash: async () => {
        throw refusal;
      },
      pendingBatches: async () => ({ hashBatches: [7] }),
      discardFills: async () => {
        throw new MigrationRefusedError('cannot drop _djmigrate_10');
      },
    });
    const entered: string[] = [];
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, onStateEntered: (name) => entered.push(name), workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'MigrationRefused', message: refusal.message } });
    expect(fake.names().slice(-2)).toEqual(['discardFills', 'unlock']);
    expect(fake.calls.at(-1)!.event).toEqual(expect.objectContaining({ failure: { Error: 'MigrationRefused', Cause: refusal.message } }));
    expect(entered.slice(-3)).toEqual(['DiscardFills', 'ReleaseLock', 'Failed']);
    expect(fake.names()).not.toContain('rewrite');
  });

  it('after a write phase fails, releases the lock (ReleaseLock) and fails with the original error (Failed)', async () => {
    const refusal = new MigrationRefusedError('object lab/abc is missing from store "external"; restore it and rerun');
    const fake = fakeHandlers({
      insert: async () => {
        throw refusal;
      },
    });
    const entered: string[] = [];
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, onStateEntered: (name) => entered.push(name), workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'MigrationRefused', message: refusal.message } });
    expect(fake.names().slice(-2)).toEqual(['insert', 'unlock']);
    expect(fake.calls.at(-1)!.event).toEqual({
      input: expect.objectContaining({ schema: 'lab_ephys' }),
      run: RUN,
      failure: { Error: 'MigrationRefused', Cause: refusal.message },
      retry: 0,
    });
    expect(entered.slice(-3)).toEqual(['InsertRows', 'ReleaseLock', 'Failed']);
  });

  it('fails on MigrationRefused with its message, without retrying or calling any later handler', async () => {
    const refusal = new MigrationRefusedError('schema lab_ephys is not a DataJoint 0.11 schema', ['~external has no `hash` column']);
    const fake = fakeHandlers({
      inspect: async () => {
        throw refusal;
      },
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'MigrationRefused', message: refusal.message } });
    expect(fake.names()).toEqual(['validate', 'inspect']);
  });


  it('fails with States.DataLimitExceeded when a task result is over 256 KiB, as AWS does: no later handler, no failure path', async () => {
    const padding = 'x'.repeat(STATE_DATA_LIMIT_BYTES);
    const fake = fakeHandlers({ prepare: async () => ({ done: true, manifest: null, columns: [10], tableColumns: [[10]], objects: 5, padding }) });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.status).toBe('FAILED');
    expect(result.error).toEqual({ name: 'States.DataLimitExceeded', message: expect.stringMatching(/^state Prepare: the task result is \d+ bytes, more than Step Functions' 262144 \(256 KiB\)$/) });
    // States.ALL does not catch it: the lock stays with the run (the unlock-abandoned rule releases it in AWS)
    expect(fake.names()).toEqual(['validate', 'inspect', 'prepare']);
  });

  it('fails with States.DataLimitExceeded when a state\'s output grows over 256 KiB from results each under it', async () => {
    const half = 'x'.repeat(STATE_DATA_LIMIT_BYTES / 2 + 10);
    const fake = fakeHandlers({
      inspect: async () => ({ plan: { columns: 2, objects: 5, half }, checkpoint: null }),
      // a field the workflow keeps (columns), beside the plan it kept
      prepare: async () => ({ done: true, manifest: null, columns: [10, half], tableColumns: [[10]], objects: 5 }),
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.error).toEqual({ name: 'States.DataLimitExceeded', message: expect.stringMatching(/^state Prepare: the output is \d+ bytes/) });
    expect(fake.names()).not.toContain('unlock');
    expect(fake.names()).not.toContain('report');
  });
  it('each definition, as the runner runs it (Distributed Maps inlined), passes the ASL validation the runner skips', async () => {
    const { StateMachine } = await import('aws-local-stepfunctions');
    const generated = JSON.parse(await readFile(new URL('../../functions/local/definitions.generated.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(generated).sort()).toEqual(['batch', 'migrate011', 'migrate014']);
    for (const workflow of ['migrate011', 'migrate014', 'batch'] as const) {
      const { definition } = inlineDistributedMaps((await loadDefinition(workflow)).definition, 4);
      expect(() => new StateMachine(definition as never), workflow).not.toThrow();
    }
    // the check does look: a definition whose Choice names a state that does not exist is refused
    const { definition } = await loadDefinition('migrate014');
    const choice = Object.values(definition.States).find((state) => state.Type === 'Choice') as { Default?: string };
    const broken = structuredClone({ ...definition, States: { ...definition.States } });
    const name = Object.entries(definition.States).find(([, state]) => state === (choice as unknown))![0];
    broken.States[name] = { ...(choice as object), Default: 'NoSuchState' } as never;
    expect(() => new StateMachine(broken as never)).toThrow();
  });
  it('runs the same definitions the stack deploys: the build-time file equals the resolved DefinitionStrings', async () => {
    const app = new App({ context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new DjmigrateStack(app, 'Djmigrate');
    const resources = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
    expect(Object.keys(resources).sort()).toEqual(Object.values(stack.stateMachineLogicalIds).sort());
    for (const [workflow, logicalId] of Object.entries(stack.stateMachineLogicalIds)) {
      const generated = await loadDefinition(workflow as keyof typeof stack.stateMachineLogicalIds);
      // stale file? run `npm run definitions` after changing lib/
      expect(generated.definition, workflow).toEqual(definitionFromDefinitionString(resources[logicalId]!.Properties.DefinitionString));
    }
    expect(await loadDefinition('migrate014')).toEqual((await synthesizeDefinitions()).migrate014);
    const loaded = await loadDefinition('migrate011');
    expect(loaded.handlerOfState).toEqual({
      Validate: 'validate',
      Inspect: 'inspect',
      Prepare: 'prepare',
      StartChecksumJob: 'startChecksum',
      ChecksumJobState: 'checksumState',
      RecordChecksums: 'recordChecksums',
      HashItems: 'hashItems',
      RecordHashes: 'recordHashes',
      PendingBatches: 'pendingBatches',
      HashBatch: 'hash',
      FillTable: 'fill',
      DiscardFills: 'discardFills',
      InsertRows: 'insert',
      RewriteColumn: 'rewrite',
      Finish: 'finish',
      Verify: 'verify',
      Report: 'report',
      ReleaseLock: 'unlock',
    });
    // JSONPath only: nothing the local executor would silently ignore once the Distributed Map is inlined
    expect(JSON.stringify(loaded.definition)).toMatch(/"Mode":"DISTRIBUTED","ExecutionType":"EXPRESS"/);
    const text = JSON.stringify(inlineDistributedMaps(loaded.definition, 4).definition);
    expect(text).not.toMatch(/QueryLanguage|JSONata|"Assign"|ItemReader|ItemBatcher|ResultWriter|DISTRIBUTED/);
  }, 60_000);
});

describe('runLocally: the Distributed Map (HashManifest) rewritten into a reader and an inline Map', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'djm-manifests-'));
    return () => rm(root, { recursive: true, force: true });
  });

  /** A manifest of `objects` items; prepare names it, so HashManifest runs. */
  async function withManifest(objects: number, override: Partial<Record<Name, LocalHandler>> = {}) {
    const manifests = fileManifestStore(root);
    const key = `manifests/lab_ephys/${objects}.jsonl`;
    await manifests.write(key, (async function* () {
      for (let i = 0; i < objects; i++) yield { h: `hash${i}`, s: 'external', n: i };
    })());
    const fake = fakeHandlers({ prepare: async () => ({ done: true, manifest: { key, objects }, columns: [10], tableColumns: [[10]] }), ...override });
    const entered: string[] = [];
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011', manifests, onStateEntered: (name) => entered.push(name) });
    const of = (handler: Name) => fake.calls.filter((call) => call.handler === handler).map((call) => call.event as Record<string, unknown>);
    return { result, fake, of, entered };
  }

  it('hands each child ItemBatcher\'s batch (100 items) with the run id, records it, then hashes what is left', async () => {
    const { result, fake, of, entered } = await withManifest(250);
    expect(result.status).toBe('SUCCEEDED');
    const batches = of('hashItems').map((event) => (event.items as { n: number }[]).map((item) => item.n));
    expect(batches.map((items) => items.length).sort()).toEqual([100, 100, 50]);
    expect(batches.flat().sort((a, b) => a - b)).toEqual([...Array(250).keys()]);
    const run = of('prepare')[0]!.run;
    expect(run).toEqual(RUN);
    // the child's input comes from BatchInput: the parent's run id (the lock holder), not the child's own
    for (const event of [...of('hashItems'), ...of('recordHashes')]) expect(event).toEqual(expect.objectContaining({ run, input: expect.objectContaining({ schema: 'lab_ephys' }) }));
    expect(of('recordHashes').map((event) => (event.hashed as unknown[]).length).sort()).toEqual([100, 100, 50]);
    // then the standard pass over whatever is still pending, and on
    const names = fake.names();
    expect(names.indexOf('pendingBatches')).toBeGreaterThan(names.lastIndexOf('recordHashes'));
    expect(names.slice(-5)).toEqual(['rewrite', 'finish', 'verify', 'verify', 'report']);
    expect(entered.filter((name) => name === 'HashItems')).toHaveLength(3);
  });

  it('lets its local stand-ins hold more batches than Step Functions\' 256 KiB of state data (AWS never puts them there)', async () => {
    // 1,000 batches, each with the BatchInput (the execution input): ~400 KB of batches
    const { result, of } = await withManifest(100_000, { hashItems: async () => ({ hashed: [], left: 0, refused: [] }) });
    expect(result.error).toBeUndefined();
    expect(of('recordHashes')).toHaveLength(1_000);
  }, 60_000);

  it('passes each child its batch as a byte range of the manifest, read back into the items AWS would batch', async () => {
    const manifests = fileManifestStore(root);
    const key = 'manifests/lab_ephys/sizes.jsonl';
    // sizes that cross the byte limit at different counts; multi-byte characters, so bytes and characters differ
    const items = Array.from({ length: 40 }, (_, i) => ({ h: `h${i}${'é'.repeat((i * 7) % 23)}`, n: i }));
    await manifests.write(key, (async function* () { yield* items; })());
    const map = { name: 'HashManifest', maxItemsPerBatch: 5, maxInputBytesPerBatch: 120 } as InlinedDistributedMap;
    const batches = await readBatches(map, manifests, { Key: key, BatchInput: { run: 'r' } });
    // what AWS's ItemBatcher makes of the items: at most 5 items and 120 bytes of JSON a batch (an item alone may pass it)
    const expected: unknown[][] = [];
    let current: unknown[] = [];
    let bytes = 0;
    for (const item of items) {
      const size = Buffer.byteLength(JSON.stringify(item));
      if (current.length && (current.length >= 5 || bytes + size > 120)) (expected.push(current), (current = []), (bytes = 0));
      current.push(item);
      bytes += size;
    }
    expected.push(current);
    expect(expected.length).toBeGreaterThan(8); // the byte limit cut some batches short
    expect(batches.every((batch) => !('Items' in batch))).toBe(true);
    const loaded = await Promise.all(batches.map((batch) => loadBatch(map, manifests, batch)));
    expect(loaded).toEqual(expected.map((Items) => ({ BatchInput: { run: 'r' }, Items })));
  });

  it('tolerates a failed child within ToleratedFailurePercentage (5 %): its objects are left to the standard pass', async () => {
    let calls = 0;
    const { result, of } = await withManifest(2100, {
      hashItems: async (event) => {
        if (++calls === 7) throw new Error('Lambda ran out of memory'); // not retried: the child fails for good
        return { hashed: (event as { items: unknown[] }).items, left: 0, refused: [] };
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(of('hashItems')).toHaveLength(21);
    expect(of('recordHashes')).toHaveLength(20);
    expect(of('pendingBatches')).toHaveLength(1);
  });

  it('fails past the threshold with States.ExceedToleratedFailureThreshold, after releasing the lock', async () => {
    let calls = 0;
    const { result, fake, of } = await withManifest(300, {
      hashItems: async (event) => {
        if (++calls === 2) throw new Error('Lambda ran out of memory');
        return { hashed: (event as { items: unknown[] }).items, left: 0, refused: [] };
      },
    });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'States.ExceedToleratedFailureThreshold', message: expect.stringMatching(/1 of 3 child executions failed/) } });
    expect(of('pendingBatches')).toEqual([]);
    expect(fake.names().at(-1)).toBe('unlock');
  });
});

describe('runLocally (0.14 workflow): the phases that work in calls loop on their checkpoint', () => {
  type Name014 = Migrate014HandlerName | UnlockHandlerName;
  const INPUT_014 = { from: '0.14', schema: 'lab14', stores: { main: { protocol: 'file', location: '/data/main' } } };

  /** An item of PrepareCopy's (copyItemsOf): a table's pointers, or its rows. */
  function copyItem(table: string, only: 'pointers' | 'rows' = 'rows') {
    return { table, only, part: null };
  }

  /** Each looping phase answers twice: first a checkpoint, then (given it back) its result. */
  function fake014(strategy: 'in-place' | 'copy') {
    const calls: { handler: Name014; event: Record<string, unknown> }[] = [];
    const twice = (name: Name014, result: Record<string, unknown>, pending: Record<string, unknown>) => (event: Record<string, unknown>) => {
      const first = !calls.some((call) => call.handler === name && call.event.table === event.table && call.event !== event);
      return first ? { ...pending, checkpoint: { of: name, table: event.table ?? null } } : { ...result, checkpoint: null };
    };
    const base: Record<Name014, (event: Record<string, unknown>) => unknown> = {
      validate014: (event) => ({ input: { ...event, strategy, steps: ['migrate_external_storage'], backup: false, execute: true, dest: 'lab14_v2' } }),
      plan014: twice('plan014', { plan: { status: 'ready' } }, { plan: null }),
      backup014: () => ({ kind: 'none', id: null, done: true, polls: 0, reused: false }),
      comments014: () => ({}),
      prepareExternal014: twice('prepareExternal014', { columns: [1, 2, 3], tableColumns: [[1, 2], [3]] }, { columns: null, tableColumns: null }),
      migrateColumn014: (event) => ({ column: (event.columns as number[]).at(-1), done: true, rows: 1, checkpoint: null }),
      lineage014: () => ({}),
      prepareCopy014: () => ({ tables: ['animal', 'sample'], pointers: [copyItem('sample', 'pointers')], levels: [[copyItem('animal')], [copyItem('sample')]], created: [] }),
      copyTable014: (event) => ({ table: (event.item as { table: string }).table, done: true, rows: 1, checkpoint: null }),
      compareTable014: (event) => twice('compareTable014', { comparison: { table: event.table, match: true } }, { comparison: null })(event),
      verify014: twice('verify014', { verified: { ok: true, problems: [] } }, { verified: null }),
      report014: (event) => ({ received: event }),
      unlock: () => ({ released: true }),
    };
    const handlers = Object.fromEntries(
      Object.entries(base).map(([name, handle]) => [
        name,
        async (event: unknown) => {
          calls.push({ handler: name as Name014, event: event as Record<string, unknown> });
          return handle(event as Record<string, unknown>);
        },
      ]),
    ) as Record<Name014, LocalHandler>;
    const events = (name: Name014) => calls.filter((call) => call.handler === name).map((call) => call.event);
    const of = (name: Name014) => events(name).map((event) => event.checkpoint ?? null);
    return { handlers, of, events };
  }

  it('in place: Plan, PrepareExternalStorage and Verify are called again with the checkpoint they returned', async () => {
    const fake = fake014('in-place');
    const result = await runLocally({ workflow: 'migrate014', input: INPUT_014, handlers: fake.handlers });
    expect(result.status).toBe('SUCCEEDED');
    for (const name of ['plan014', 'prepareExternal014', 'verify014'] as const) expect(fake.of(name)).toEqual([null, { of: name, table: null }]);
    // the columns converted a table at a time, the tables side by side
    const converted = fake.events('migrateColumn014').map((event) => event.columns);
    expect(converted).toHaveLength(2);
    expect(converted).toEqual(expect.arrayContaining([[1, 2], [3]]));
    const received = (result.output as { received: { plan: unknown; outcome: { verified: { Payload: unknown } } } }).received;
    expect(received.plan).toEqual({ status: 'ready' });
    expect(received.outcome.verified.Payload).toEqual({ ok: true, problems: [] });
  });

  it('copy: each CopyPointers and CopyTable call gets the checkpoint the call before returned, the first none; pointers first', async () => {
    const fake = fake014('copy');
    const received: [string, unknown][] = [];
    const handlers = {
      ...fake.handlers,
      copyTable014: async (event: unknown) => {
        const { item, checkpoint } = event as { item: { table: string; only: string }; checkpoint: unknown };
        const name = `${item.table} ${item.only}`;
        received.push([name, checkpoint]);
        const first = checkpoint === null;
        return { table: item.table, done: !first, rows: 1, checkpoint: first ? { of: name } : null };
      },
    };
    const result = await runLocally({ workflow: 'migrate014', input: INPUT_014, handlers });
    expect(result.status).toBe('SUCCEEDED');
    expect(received).toEqual([
      ['sample pointers', null],
      ['sample pointers', { of: 'sample pointers' }],
      ['animal rows', null],
      ['animal rows', { of: 'animal rows' }],
      ['sample rows', null],
      ['sample rows', { of: 'sample rows' }],
    ]);
  });

  it("copy: the pointers first, then the foreign-key levels one after another, a level's tables and parts two at once", async () => {
    const fake = fake014('copy');
    // trace in two parts
    const levels = [['subject'], ['session', 'animal', 'probe'], ['trace#0', 'trace#1']];
    const part = (name: string) => (name.includes('#') ? { column: 'trace_id', from: name.endsWith('0') ? null : '5', until: name.endsWith('0') ? '5' : null } : null);
    const spans = new Map<string, { start: number; end: number }>();
    let running = 0;
    let mostRunning = 0;
    const handlers = {
      ...fake.handlers,
      prepareCopy014: async () => ({
        tables: ['subject', 'session', 'animal', 'probe', 'trace'],
        pointers: [copyItem('session', 'pointers'), copyItem('trace', 'pointers')],
        levels: levels.map((level) => level.map((name) => ({ ...copyItem(name.split('#')[0]), part: part(name) }))),
        created: [],
      }),
      copyTable014: async (event: unknown) => {
        const { item } = event as { item: { table: string; only: string; part: { from: string | null } | null } };
        const name = item.only === 'pointers' ? `${item.table} pointers` : item.part ? `${item.table}#${item.part.from === null ? 0 : 1}` : item.table;
        const start = performance.now();
        mostRunning = Math.max(mostRunning, ++running);
        await new Promise((resolve) => setTimeout(resolve, 30));
        running -= 1;
        spans.set(name, { start, end: performance.now() });
        return { table: item.table, done: true, rows: 1, checkpoint: null };
      },
    };
    const result = await runLocally({ workflow: 'migrate014', input: INPUT_014, handlers });
    expect(result.status).toBe('SUCCEEDED');
    const ordered = [['session pointers', 'trace pointers'], ...levels];
    expect([...spans.keys()].sort()).toEqual(ordered.flat().sort());
    expect(mostRunning).toBe(2);
    // every item starts after each item of the stages before it has finished
    ordered.forEach((stage, i) => {
      for (const item of stage) {
        for (const before of ordered.slice(0, i).flat()) expect(spans.get(item)!.start).toBeGreaterThanOrEqual(spans.get(before)!.end);
      }
    });
    // the two parts side by side
    expect(spans.get('trace#1')!.start).toBeLessThan(spans.get('trace#0')!.end);
  });

  it('copy: each table\'s CompareTable is called again with its checkpoint; the report gets the comparisons', async () => {
    const fake = fake014('copy');
    const result = await runLocally({ workflow: 'migrate014', input: INPUT_014, handlers: fake.handlers });
    expect(result.status).toBe('SUCCEEDED');
    const checkpoints = fake.of('compareTable014');
    expect(checkpoints).toHaveLength(4);
    expect(checkpoints).toEqual(expect.arrayContaining([null, null, { of: 'compareTable014', table: 'animal' }, { of: 'compareTable014', table: 'sample' }]));
    const received = (result.output as { received: { outcome: { compared: unknown[] } } }).received;
    expect(received.outcome.compared).toEqual([
      { table: 'animal', match: true },
      { table: 'sample', match: true },
    ]);
  });
});
