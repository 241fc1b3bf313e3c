// Runs the real synthesized 0.11 → 0.12 definition with small fake handlers: the control flow (Choice, Maps,
// rewrite loop, Retry, failure) is the deployed one, only the Lambdas are replaced.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DjmigrateStack, projectCdkContext } from '../../lib/djmigrate-stack.js';
import { MigrationRefusedError, TransientError } from '../../functions/core/errors.js';
import { MIGRATE_011_HANDLERS, UNLOCK_HANDLER, type Migrate011HandlerName, type UnlockHandlerName } from '../../functions/handlers/names.js';
import { definitionFromDefinitionString, loadDefinition, synthesizeDefinitions } from '../../functions/local/definition.js';
import { runLocally, type LocalHandler } from '../../functions/local/runner.js';

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
}

/** Fake handlers with the result shapes of the real ones; `override` replaces single handlers. */
function fakeHandlers(override: Partial<Record<Name, LocalHandler>> = {}): Fake {
  const calls: Fake['calls'] = [];
  const rewrites = new Map<number, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const base: Record<Name, LocalHandler> = {
    validate: async (event) => ({ input: { defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: false, hashConcurrency: 8, ...(event as object) } }),
    inspect: async () => ({ plan: { columns: 2, objects: 5 } }),
    prepare: async () => ({ hashBatches: [0, 1, 2, 3, 4, 5], columns: [10, 11], objects: 5 }),
    hash: async (event) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 15));
      inFlight -= 1;
      return { batch: (event as { batch: number }).batch, objects: 1, bytes: 10 };
    },
    insert: async () => ({ inserted: 5, stores: [{ store: 'external', table: '~external_external', inserted: 5 }] }),
    rewrite: async (event) => {
      const { column } = event as { column: number };
      const round = (rewrites.get(column) ?? 0) + 1;
      rewrites.set(column, round);
      // column 10 needs three bounded invocations, column 11 one
      return { column, done: column === 11 || round === 3, rows: round * 100 };
    },
    finish: async () => ({ legacyTable: 'dropped' }),
    verify: async () => ({ ok: true, legacyReferences: 0, columns: [] }),
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
  return { handlers, calls, names: () => calls.map((call) => call.handler), maxHashesInFlight: () => maxInFlight };
}

describe('runLocally (0.11 workflow)', () => {
  beforeAll(async () => {
    await loadDefinition('migrate011'); // synth once (~2 s), cached for the runs below
  }, 120_000);

  it('plan only: validates, inspects and ends with the inspect result', async () => {
    const fake = fakeHandlers();
    const entered: string[] = [];
    const result = await runLocally({
      input: INPUT,
      handlers: fake.handlers,
      onStateEntered: (name) => entered.push(name),
      workflow: 'migrate011',
    });
    expect(result).toEqual({ status: 'SUCCEEDED', output: { plan: { columns: 2, objects: 5 } } });
    expect(fake.names()).toEqual(['validate', 'inspect']);
    expect(fake.calls[0]!.event).toEqual(INPUT);
    expect(fake.calls[1]!.event).toEqual({ input: expect.objectContaining({ schema: 'lab_ephys', execute: false }), run: RUN });
    expect(entered).toEqual(['Validate', 'Inspect', 'ExecuteOrPlanOnly', 'PlanOnly']);
  });

  it('execute: calls every handler in order, fans out over hash batches and columns, loops rewrite until done', async () => {
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
    expect(names.slice(3, 9)).toEqual(Array(6).fill('hash'));
    expect(names.slice(9)).toEqual(['insert', 'rewrite', 'rewrite', 'rewrite', 'rewrite', 'finish', 'verify', 'report']);

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
    // RewriteColumns: one column at a time, each repeated until done
    expect(of('rewrite')).toEqual([
      { input, run, column: 10 },
      { input, run, column: 10 },
      { input, run, column: 10 },
      { input, run, column: 11 },
    ]);
    expect(of('insert')).toEqual([{ input, run }]);
    expect(of('finish')).toEqual([{ input, run }]);
    expect(of('verify')).toEqual([{ input, run }]);
    expect(of('unlock')).toEqual([]);
    // report gets each handler's own result; its result is the execution output
    const reportEvent = {
      input,
      run,
      inspected: { plan: { columns: 2, objects: 5 } },
      verified: { ok: true, legacyReferences: 0, columns: [] },
      finished: { legacyTable: 'dropped' },
    };
    expect(of('report')).toEqual([reportEvent]);
    expect(result.output).toEqual({ status: 'migrated', received: reportEvent });

    expect(entered.filter((name) => name === 'HashBatch')).toHaveLength(6);
    expect(entered.filter((name) => name === 'ColumnRewritten')).toHaveLength(4);
    expect(entered.filter((name) => name === 'ColumnDone')).toHaveLength(2);
    expect(entered.at(-1)).toBe('Report');
  });

  it('retries a TransientError (by name) and succeeds', async () => {
    let failures = 0;
    const fake = fakeHandlers({
      insert: async () => {
        if (failures++ === 0) throw new TransientError('connection lost (will be retried)');
        return { inserted: 5, stores: [] };
      },
    });
    const started = Date.now();
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result.status).toBe('SUCCEEDED');
    expect(fake.names().filter((name) => name === 'insert')).toHaveLength(2);
    expect(fake.names().at(-1)).toBe('report');
    expect(Date.now() - started).toBeLessThan(1500); // the definition's 2 s interval is overridden locally
  });

  it('gives up after the Retry policy: 1 attempt + 6 retries, then fails with the TransientError', async () => {
    const fake = fakeHandlers({
      hash: async () => {
        throw new TransientError('store answers 503 (will be retried)');
      },
      prepare: async () => ({ hashBatches: [7], columns: [] }),
    });
    const result = await runLocally({ input: { ...INPUT, execute: true }, handlers: fake.handlers, workflow: 'migrate011' });
    expect(result).toEqual({ status: 'FAILED', error: { name: 'TransientError', message: 'store answers 503 (will be retried)' } });
    expect(fake.names().filter((name) => name === 'hash')).toHaveLength(7);
    expect(fake.names()).not.toContain('insert');
    // the failure path released the schema lock before the execution failed
    expect(fake.names().at(-1)).toBe('unlock');
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
      HashBatch: 'hash',
      InsertRows: 'insert',
      RewriteColumn: 'rewrite',
      Finish: 'finish',
      Verify: 'verify',
      Report: 'report',
      ReleaseLock: 'unlock',
    });
    // JSONPath only: nothing the local executor would silently ignore
    const text = JSON.stringify(loaded.definition);
    expect(text).not.toMatch(/QueryLanguage|JSONata|"Assign"|ItemReader|DISTRIBUTED/);
  }, 60_000);
});
