// Runs a deployed workflow on this machine: aws-local-stepfunctions executes the ASL synthesized from the real stack,
// and every Task state calls the given in-process handler instead of Lambda.
import type { RunOptions } from 'aws-local-stepfunctions';
import type { HandlerName } from '../handlers/names.js';
import type { WorkflowName } from '../../lib/djmigrate-stack.js';
import { TASK_RETRY } from '../../lib/workflows/tasks.js';
import { loadDefinition, type LoadDefinitionOptions } from './definition.js';

const RETRIED_ERRORS = new Set(TASK_RETRY.errors);

export type LocalHandler = (event: unknown) => Promise<unknown>;

export interface RunLocallyOptions {
  workflow: WorkflowName;
  /** The execution input (what would be passed to StartExecution). */
  input: unknown;
  /** One in-process function per handler of the workflow; called with the Task's Payload, its result becomes the Lambda Payload. */
  handlers: Partial<Record<HandlerName, LocalHandler>>;
  /** Called for every state entered (also inside Maps), in order; shortly after the fact, never blocking the run. */
  onStateEntered?: (stateName: string) => void;
  /** Where the definition comes from (see {@link loadDefinition}). */
  definitionOptions?: LoadDefinitionOptions;
}

export interface LocalRunResult {
  status: 'SUCCEEDED' | 'FAILED';
  /** The execution output when SUCCEEDED. */
  output?: unknown;
  /**
   * Why it FAILED: the error a handler threw, unchanged (`name` as Step Functions would see it as `Error`, e.g.
   * `MigrationRefused`, or `TransientError` after the retries ran out), or a `States.*` error of the executor.
   */
  error?: { name: string; message: string };
}

/**
 * Executes a workflow's state machine locally. Same definition as in AWS (Retry, Choice, Wait, Maps with their
 * MaxConcurrency), with retry intervals and waits set to 0. Never throws for a failed execution: see `status`/`error`.
 */
export async function runLocally(options: RunLocallyOptions): Promise<LocalRunResult> {
  const [{ machine, handlerOfState, waitStates }, sfn] = await Promise.all([prepareMachine(options.workflow, options.definitionOptions), loadLocalStepFunctions()]);

  const taskResourceLocalHandlers: TaskHandlers = {};
  const retryIntervalOverrides: Record<string, number> = {};
  // Step Functions starts no new Lambda once a state failed for good; locally a failed Map would otherwise go on
  // starting its remaining iterations. Calls already running are awaited before the run returns.
  const inFlight = new Set<Promise<unknown>>();
  let halted: Error | undefined;
  for (const [stateName, handlerName] of Object.entries(handlerOfState)) {
    const handler = options.handlers[handlerName];
    if (typeof handler !== 'function') throw new Error(`no local handler for ${handlerName} (state ${stateName})`);
    // a lambda:invoke Task hands over { FunctionName, Payload } and expects the Invoke response
    taskResourceLocalHandlers[stateName] = async (event) => {
      if (halted) throw halted;
      const call = handler(jsonCopy((event as { Payload?: unknown } | null)?.Payload));
      inFlight.add(call);
      let result: unknown;
      try {
        result = await call;
      } catch (thrown) {
        // thrown as is: Retry matches error.name (TransientError), the run fails with it (MigrationRefused)
        const error = thrown instanceof Error ? thrown : new Error(String(thrown));
        if (!RETRIED_ERRORS.has(error.name)) halted ??= error;
        throw error;
      } finally {
        inFlight.delete(call);
      }
      return { StatusCode: 200, Payload: jsonCopy(result) } as JsonValue;
    };
    retryIntervalOverrides[stateName] = 0;
  }

  // a Wait only paces polling in AWS (a snapshot being taken); locally the handler answers at once
  const waitTimeOverrides = Object.fromEntries(waitStates.map((name) => [name, 0]));
  const execution = machine.run(jsonCopy(options.input) as JsonValue, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides },
  });
  // always drain the event log (it queues every event until read)
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered' && options.onStateEntered) {
        try {
          options.onStateEntered(event.state.name);
        } catch {
          // a progress callback must not break the run
        }
      }
    }
  })();

  let result: LocalRunResult;
  try {
    result = { status: 'SUCCEEDED', output: await execution.result };
  } catch (error) {
    const cause = error instanceof sfn.ExecutionError ? (error as Error & { cause?: unknown }).cause : error;
    result = { status: 'FAILED', error: describeError(cause) };
  }
  halted ??= new Error('the execution has ended');
  await Promise.allSettled([...inFlight]);
  await events;
  return result;
}

type LocalStepFunctions = typeof import('aws-local-stepfunctions');
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Parameters<TaskHandlers[string]>[0];
let localStepFunctions: Promise<LocalStepFunctions> | undefined;
interface PreparedMachine {
  machine: InstanceType<LocalStepFunctions['StateMachine']>;
  handlerOfState: Record<string, HandlerName>;
  waitStates: string[];
}
const machines = new Map<string, Promise<PreparedMachine>>();

/** aws-local-stepfunctions uses Promise.withResolvers (Node ≥ 22): polyfill it first on Node 20, then import. */
function loadLocalStepFunctions(): Promise<LocalStepFunctions> {
  const P = Promise as PromiseConstructor & { withResolvers?: unknown };
  if (typeof P.withResolvers !== 'function') {
    Object.defineProperty(Promise, 'withResolvers', {
      configurable: true,
      writable: true,
      value: function withResolvers<T>(this: PromiseConstructor) {
        let resolve!: (value: T | PromiseLike<T>) => void;
        let reject!: (reason?: unknown) => void;
        const promise = new this<T>((res, rej) => {
          resolve = res;
          reject = rej;
        });
        return { promise, resolve, reject };
      },
    });
  }
  localStepFunctions ??= import('aws-local-stepfunctions');
  return localStepFunctions;
}

/** The definition, parsed and validated once per process (per workflow and handlersDir). */
function prepareMachine(workflow: WorkflowName, definitionOptions: LoadDefinitionOptions = {}): Promise<PreparedMachine> {
  const key = `${workflow}\0${definitionOptions.handlersDir ?? ''}`;
  let prepared = machines.get(key);
  if (!prepared) {
    prepared = Promise.all([loadDefinition(workflow, definitionOptions), loadLocalStepFunctions()]).then(([loaded, sfn]) => ({
      machine: new sfn.StateMachine(loaded.definition as never),
      handlerOfState: loaded.handlerOfState,
      waitStates: Object.entries(loaded.definition.States).filter(([, state]) => state.Type === 'Wait').map(([name]) => name),
    }));
    machines.set(key, prepared);
    prepared.catch(() => machines.delete(key));
  }
  return prepared;
}

/** What crossing the Lambda boundary does to a value: JSON in, JSON out (undefined → null). */
function jsonCopy(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  return { name: 'Error', message: String(error) };
}
