import middy from '@middy/core';
import type { Connection } from 'mysql2/promise';
import type { z } from 'zod';
import type { StoreSpec } from '../core/config/store-spec.js';
import { classifyError, MigrationRefusedError } from '../core/errors.js';
import { Migrate011InputSchema, type Migrate011Input } from '../core/migrate011/input.js';
import { Migrate014InputSchema, type Migrate014Input } from '../core/migrate014/input.js';
import type { ProgressSink } from '../core/progress.js';
import type { ObjectStore, OpenStore } from '../core/stores/object-store.js';
import type { ObjectWriter } from '../core/stores/object-writer.js';
import type { HandlerDeps } from './deps.js';
import { withDeps } from './ops/invocation.js';
import type { Workflow } from './ops/metrics.js';
import { enterLock, leaveLock, type LockUse } from './run-lock.js';

/** Lambda creates its deps on first use (cold start), the local runner hands in ready ones. */
export type DepsProvider = () => HandlerDeps;

export interface PhaseContext<Input> {
  conn: Connection;
  input: Input;
  openStore: OpenStore;
  openWriter: (name: string) => ObjectWriter;
  progress: ProgressSink;
  deps: HandlerDeps;
}

type StoreInput = { stores: Record<string, StoreSpec>; schema: string; execute: boolean; takeOverLock: boolean };

/**
 * The glue every phase handler of one migration shares: re-check the (already validated) input, open one database
 * connection, run the phase, and turn transient failures into the error name the state machine retries.
 */
function phaseHandlerFor<Input extends StoreInput>(inputSchema: z.ZodType<Input, unknown>, describeRun: (input: Input) => string, workflow: Workflow) {
  /** `lock`: how the phase treats the schema's lock (see run-lock.ts); writing phases hold it. */
  return function phaseHandler<Event extends { input: unknown; run?: string }, Result>(
    getDeps: DepsProvider,
    run: (context: PhaseContext<Input>, event: Event) => Promise<Result>,
    lock: LockUse = 'hold',
  ) {
    return middy(async (event: Event): Promise<Result> => {
      const deps = getDeps();
      const input = inputSchema.parse(event.input);
      const identity = { run: event.run, schema: input.schema, execute: input.execute, takeOverLock: input.takeOverLock, description: describeRun(input) };
      let conn: Connection | undefined;
      try {
        conn = await deps.openDatabase();
        await enterLock(conn, lock, identity);
        const result = await run({ conn, ...storeContext(deps, input) }, event);
        await leaveLock(conn, lock, identity);
        return result;
      } catch (error) {
        throw classifyError(error);
      } finally {
        await conn?.end().catch(() => undefined);
      }
    }).use(withDeps(getDeps, workflow)); // Lambda: database secret, log keys, metrics (see HandlerDeps.middleware)
  };
}

/**
 * A 0.11 phase that needs only the stores (the Distributed Map's hashing, many at once): no database connection and
 * so no lock check; what it finds is recorded by a database phase after it.
 */
export function storePhaseHandler<Event extends { input: unknown }, Result>(
  getDeps: DepsProvider,
  run: (context: Omit<PhaseContext<Migrate011Input>, 'conn'>, event: Event) => Promise<Result>,
) {
  return middy(async (event: Event): Promise<Result> => {
    const deps = getDeps();
    const input = Migrate011InputSchema.parse(event.input);
    try {
      return await run(storeContext(deps, input), event);
    } catch (error) {
      throw classifyError(error);
    }
  }).use(withDeps(getDeps, 'migrate011', false));
}

/**
 * How a phase that works in calls from a checkpoint in the journal runs: for the work budget, under the execution's
 * id (its checkpoint's key); without an execution id there is nothing to resume under, so the call goes to the end.
 */
export function budgetedCall(event: { run?: string }, deps: HandlerDeps): { run?: string; budgetMs?: number } {
  return event.run === undefined ? {} : { run: event.run, budgetMs: deps.workBudgetMs };
}

export const phaseHandler = phaseHandlerFor<Migrate011Input>(Migrate011InputSchema, (input) => `0.11 -> 0.12 ${input.mode}`, 'migrate011');
export const phase014Handler = phaseHandlerFor<Migrate014Input>(Migrate014InputSchema, (input) => `0.14 -> 2.0 ${input.strategy}`, 'migrate014');

/** Everything of a phase's context but the database connection. */
function storeContext<Input extends StoreInput>(deps: HandlerDeps, input: Input): Omit<PhaseContext<Input>, 'conn'> {
  return { input, openStore: storeOpener(deps, input), openWriter: (name) => deps.openWriter(name, storeSpec(input, name)), progress: deps.progress, deps };
}

function storeSpec(input: StoreInput, name: string): StoreSpec {
  const spec = input.stores[name];
  if (!spec) throw new MigrationRefusedError(`store "${name}" is not in the execution input's stores; add it`);
  return spec;
}

function storeOpener(deps: HandlerDeps, input: StoreInput): OpenStore {
  const opened = new Map<string, ObjectStore>();
  return (name) => {
    if (!opened.has(name)) opened.set(name, deps.openStore(name, storeSpec(input, name)));
    return opened.get(name)!;
  };
}
