// Runs a deployed workflow on this machine: aws-local-stepfunctions executes the ASL synthesized from the real stack,
// and every Task state calls the given in-process handler instead of Lambda; a Task that starts a child execution
// (startExecution.sync:2, the batch workflow) runs the child workflow here too, with the same handlers.
import type { RunOptions } from 'aws-local-stepfunctions';
import type { ManifestStore } from '../core/stores/manifest-store.js';
import type { HandlerName } from '../handlers/names.js';
import { checkTolerance, inlineDistributedMaps, loadBatch, readBatches, type InlinedDistributedMap } from './distributed-map.js';
import type { WorkflowName } from '../../lib/djmigrate-stack.js';
import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION, loadDefinition, statesOfType, type AslDefinition, type LoadDefinitionOptions } from './definition.js';


export type LocalHandler = (event: unknown) => Promise<unknown>;

export interface RunLocallyOptions {
  workflow: WorkflowName;
  /** The execution input (what would be passed to StartExecution). */
  input: unknown;
  /** One in-process function per handler of the workflow; called with the Task's Payload, its result becomes the Lambda Payload. */
  handlers: Partial<Record<HandlerName, LocalHandler>>;
  /** Called for every state entered (also inside Maps), in order; shortly after the fact, never blocking the run. */
  onStateEntered?: (stateName: string) => void;
  /** Called for every state left successfully (also inside Maps and Parallels), like onStateEntered. */
  onStateExited?: (stateName: string) => void;
  /** Where the definition comes from (see {@link loadDefinition}). */
  definitionOptions?: LoadDefinitionOptions;
  /**
   * How a child execution runs (Task states with startExecution.sync:2), per child workflow. Default: the child's
   * own definition through {@link runLocally}, with the same handlers, children and definition options.
   */
  children?: Partial<Record<WorkflowName, ChildRunner>>;
  /** The execution's name (its `$$.Execution.Id` is a local execution ARN ending in it). Default: a new unique name. */
  executionName?: string;
  /** Where a Distributed Map's ItemReader reads its manifest (see distributed-map.ts); required by workflows that have one. */
  manifests?: ManifestStore;
  /**
   * At most this many Distributed Map children at once: locally they all share this process (and one S3-compatible
   * server), so the map's own MaxConcurrency (sized for Lambda) is capped. Default 4.
   */
  childConcurrency?: number;
  /** Fail the run, as AWS fails a Standard execution, past this many history events (default HISTORY_EVENT_LIMIT). */
  historyEventLimit?: number;
  /** Called once the run has ended with the history events it counted. */
  onHistoryEvents?: (events: number) => void;
}

/** Runs one child execution locally; `name` is the child execution's name. */
export type ChildRunner = (input: unknown, name: string) => Promise<LocalRunResult>;

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
  const [{ machine, handlerOfState, childOfState, waitStates, mapStates, pollingLooks, failurePath, retriedErrors, retryCountFields, distributedMaps }, sfn] = await Promise.all([
    prepareMachine(options.workflow, options.definitionOptions ?? {}, options.childConcurrency ?? DEFAULT_CHILD_CONCURRENCY),
    loadLocalStepFunctions(),
  ]);
  // a Distributed Map child that fails is counted against the map's tolerance, it does not end the run
  const childStates = new Set(distributedMaps.flatMap((map) => [...map.childStates]));
  const taskStates = new Set([...Object.keys(handlerOfState), ...Object.keys(childOfState)]);
  const childMaps = new Set(distributedMaps.map((map) => map.childrenState));
  // the states that stand in for a Distributed Map here and have no history events of the parent's in AWS
  const localOnly = new Set([...childStates, ...distributedMaps.flatMap((map) => [map.readerState, map.loadState, map.toleranceState])]);

  const taskResourceLocalHandlers: TaskHandlers = {};
  const retryIntervalOverrides: Record<string, number> = {};
  // Step Functions starts no new Lambda once a state failed for good (but the states a Catch leads to); locally a
  // failed Map would otherwise go on starting its remaining iterations. Calls already running are awaited before the
  // run returns.
  const inFlight = new Set<Promise<unknown>>();
  let halted: Error | undefined;
  // set once a state's data is over the quota: the run then stops as in AWS, without its failure path
  let overLimit: Error | undefined;
  let abortRun = () => {};
  // the local stand-ins of a Distributed Map hold all its batches in the state (AWS reads them in the Map itself)
  const unlimited = new Set(distributedMaps.flatMap((map) => [map.readerState, map.childrenState]));
  const overDataLimit = (stateName: string, what: string, value: unknown): Error | null => {
    if (unlimited.has(stateName)) return null;
    const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
    if (bytes <= STATE_DATA_LIMIT_BYTES) return null;
    return Object.assign(new Error(`state ${stateName}: ${what} is ${bytes} bytes, more than Step Functions' ${STATE_DATA_LIMIT_BYTES} (256 KiB)`), { name: 'States.DataLimitExceeded' });
  };
  const stopOverLimit = (error: Error) => {
    if (overLimit) return;
    overLimit = error;
    halted ??= error;
    abortRun();
  };
  /** A Task run in this process: halts with the run, fails it for good unless retried or in a Distributed Map child. */
  const inProcess = (stateName: string, work: (event: unknown) => Promise<unknown>) => async (event: unknown) => {
    if (halted && !failurePath.has(stateName)) throw halted;
    // the failure path (ReleaseLock) comes after every call already started, so the run's end is its last word: a
    // call still connecting would otherwise find the lock released and report a second failure
    if (failurePath.has(stateName)) await Promise.allSettled([...inFlight]);
    const call = work(event);
    inFlight.add(call);
    try {
      const result = jsonCopy(await call) as JsonValue;
      const over = overDataLimit(stateName, 'the task result', result);
      // in a Distributed Map child it fails that child (an Express execution of its own), else the run
      if (over && !childStates.has(stateName)) stopOverLimit(over);
      if (over) throw over;
      return result;
    } catch (thrown) {
      // thrown as is: Retry matches error.name (TransientError), the run fails with it (MigrationRefused)
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      if (!retriedErrors.has(error.name) && !childStates.has(stateName)) halted ??= error;
      throw error;
    } finally {
      inFlight.delete(call);
    }
  };
  // a Task's failed calls since its last success: a top-level Task's $$.State.RetryCount (the executor keeps none)
  const failedCalls = new Map<string, number>();
  for (const [stateName, handlerName] of Object.entries(handlerOfState)) {
    const handler = options.handlers[handlerName];
    if (typeof handler !== 'function') throw new Error(`no local handler for ${handlerName} (state ${stateName})`);
    const retryFields = retryCountFields.get(stateName) ?? [];
    // a lambda:invoke Task hands over { FunctionName, Payload } and expects the Invoke response
    taskResourceLocalHandlers[stateName] = inProcess(stateName, async (event) => {
      const payload = jsonCopy((event as { Payload?: unknown } | null)?.Payload) as Record<string, unknown> | null;
      if (payload) for (const field of retryFields) payload[field] = failedCalls.get(stateName) ?? 0;
      try {
        const result = { StatusCode: 200, Payload: await handler(payload) };
        failedCalls.delete(stateName);
        return result;
      } catch (error) {
        failedCalls.set(stateName, (failedCalls.get(stateName) ?? 0) + 1);
        throw error;
      }
    });
    retryIntervalOverrides[stateName] = 0;
  }

  for (const [stateName, workflow] of Object.entries(childOfState)) {
    const runChild: ChildRunner =
      options.children?.[workflow] ??
      ((input, name) =>
        runLocally({ ...options, workflow, input, executionName: name, onStateEntered: undefined, onStateExited: undefined }));
    // a startExecution.sync:2 Task hands over { StateMachineArn, Input } and expects DescribeExecution (Output as JSON);
    // a failed child fails the Task with States.TaskFailed, its Cause the child's DescribeExecution (Error, Cause)
    taskResourceLocalHandlers[stateName] = async (event) => {
      if (halted) throw halted;
      const parameters = (event ?? {}) as { StateMachineArn?: unknown; Input?: unknown; Name?: unknown };
      const name = typeof parameters.Name === 'string' ? parameters.Name : newExecutionName();
      const input = typeof parameters.Input === 'string' ? (JSON.parse(parameters.Input) as unknown) : jsonCopy(parameters.Input ?? {});
      const stateMachineArn = `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${String(parameters.StateMachineArn ?? workflow)}`;
      const described = {
        ExecutionArn: localExecutionArn(workflow, name),
        StateMachineArn: stateMachineArn,
        Name: name,
        StartDate: Date.now(),
        Input: JSON.stringify(input),
        InputDetails: { Included: true },
      };
      const child = await runChild(input, name);
      if (child.status === 'SUCCEEDED') {
        return { ...described, StopDate: Date.now(), Status: 'SUCCEEDED', Output: jsonCopy(child.output), OutputDetails: { Included: true } } as JsonValue;
      }
      const failure = new Error(
        JSON.stringify({ ...described, StopDate: Date.now(), Status: 'FAILED', Error: child.error?.name ?? 'Error', Cause: child.error?.message ?? '' }),
      );
      failure.name = 'States.TaskFailed';
      throw failure;
    };
  }

  for (const map of distributedMaps) {
    const parameters = (event: unknown) => (event ?? {}) as Record<string, unknown>;
    const manifests = () => {
      if (!options.manifests) throw new Error(`the workflow's Distributed Map ${map.name} reads a manifest: give runLocally a manifests store`);
      return options.manifests;
    };
    taskResourceLocalHandlers[map.readerState] = inProcess(map.readerState, async (event) => readBatches(map, manifests(), parameters(event)));
    taskResourceLocalHandlers[map.loadState] = inProcess(map.loadState, async (event) => loadBatch(map, manifests(), parameters(event)));
    taskResourceLocalHandlers[map.toleranceState] = inProcess(map.toleranceState, async (event) => checkTolerance(map, parameters(event)));
  }

  // a Wait paces polling in AWS (a snapshot being taken, objects still hashing): locally a short pause, enough not
  // to spin while the other branch of a Parallel works
  const waitTimeOverrides = Object.fromEntries(waitStates.map((name) => [name, LOCAL_WAIT_MS]));
  const execution = machine.run(jsonCopy(options.input) as JsonValue, {
    overrides: { taskResourceLocalHandlers, retryIntervalOverrides, waitTimeOverrides },
    context: localContext(options.workflow, options.executionName ?? newExecutionName()),
  });
  abortRun = () => execution.abort();
  const historyLimit = options.historyEventLimit ?? HISTORY_EVENT_LIMIT;
  let historyEvents = 0;
  // the entries still to pass over of the states a polling Wait leads back to (its Task, then that Task's Choice)
  const lookEntries = new Map<string, number>();
  /** History events a state's event stands for; 0 for a polling loop's look (see HISTORY_EVENT_LIMIT). */
  const historyEventsOf = (event: { type: string }, state: string): number => {
    if (event.type === 'StateExited') return 0;
    if (event.type !== 'StateEntered') return 1;
    const look = pollingLooks.get(state);
    if (look) {
      for (const next of look) lookEntries.set(next, (lookEntries.get(next) ?? 0) + 1);
      return 0;
    }
    const passed = lookEntries.get(state) ?? 0;
    if (passed > 0) {
      lookEntries.set(state, passed - 1);
      return 0;
    }
    // entered and exited, and a Task's or Map's own
    return 2 + (taskStates.has(state) ? TASK_EXTRA_EVENTS : mapStates.has(state) ? MAP_EXTRA_EVENTS : 0);
  };
  // always drain the event log (it queues every event until read)
  const events = (async () => {
    for await (const event of execution.eventLogs) {
      // a Distributed Map's children (here the iterations of its inline stand-in) are executions of their own
      const state = 'state' in event ? event.state.name : 'parentState' in event && !childMaps.has(event.parentState.name) ? event.parentState.name : null;
      if (state !== null && !localOnly.has(state)) {
        historyEvents += historyEventsOf(event, state);
        if (historyEvents > historyLimit) {
          stopOverLimit(
            Object.assign(new Error(`the execution history reached ${historyEvents} events at state ${state}, more than Step Functions' ${historyLimit} for a Standard execution; AWS fails the execution there`), {
              name: 'HistoryLimitExceeded',
            }),
          );
        }
      }
      if (event.type !== 'StateEntered' && event.type !== 'StateExited') continue;
      // read shortly after the fact: a state's output over the quota stops the run a few states late at worst
      const over = event.type === 'StateExited' && !childStates.has(event.state.name) && overDataLimit(event.state.name, 'the output', event.state.output);
      if (over) stopOverLimit(over);
      const listener = event.type === 'StateEntered' ? options.onStateEntered : options.onStateExited;
      if (listener) {
        try {
          listener(event.state.name);
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
  options.onHistoryEvents?.(historyEvents);
  const over = result.status === 'SUCCEEDED' && overDataLimit('(execution)', 'the execution output', result.output);
  if (over) stopOverLimit(over);
  return overLimit ? { status: 'FAILED', error: describeError(overLimit) } : result;
}

let executions = 0;

function newExecutionName(): string {
  return `local-${process.pid.toString(36)}-${(++executions).toString(36)}-${Date.now().toString(36)}`;
}

/** The ARN `$$.Execution.Id` has locally (an execution of the workflow's state machine). */
export function localExecutionArn(workflow: WorkflowName, name: string): string {
  return `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${workflow}:${name}`;
}

/**
 * Context object entries the executor lacks (it has only Execution.Input/StartTime): `$$.Execution.Id`/`Name` (the
 * same in every Map iteration, as in AWS), `$$.State.EnteredTime` — the time it is read at, which is when the
 * state reading it (the batch's window Choice) is entered; the executor copies this shallowly: the getter stays live —
 * and `$$.State.RetryCount`, 0 here (the executor keeps no per-state context): the runner puts each top-level Task's
 * own count into the Payload fields that read it (retryCountFieldsOf).
 */
function localContext(workflow: WorkflowName, name: string): NonNullable<RunOptions['context']> {
  return {
    Execution: { Id: localExecutionArn(workflow, name), Name: name },
    State: {
      get EnteredTime(): string {
        return new Date().toISOString();
      },
      RetryCount: 0,
    },
  } as unknown as NonNullable<RunOptions['context']>;
}

type LocalStepFunctions = typeof import('aws-local-stepfunctions');
type TaskHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;
type JsonValue = Parameters<TaskHandlers[string]>[0];
let localStepFunctions: Promise<LocalStepFunctions> | undefined;
interface PreparedMachine {
  machine: InstanceType<LocalStepFunctions['StateMachine']>;
  handlerOfState: Record<string, HandlerName>;
  childOfState: Record<string, WorkflowName>;
  waitStates: string[];
  /** Map and Parallel states (each records its start and end besides entering and leaving). */
  mapStates: Set<string>;
  /** Each Wait state and the states a look of its polling loop enters after it: the Task it leads to, that Task's Choice. */
  pollingLooks: Map<string, string[]>;
  /** States reached through a Catch (and what follows them): they run after a failure, as in AWS. */
  failurePath: Set<string>;
  /** Error names some Retry of the definition catches: such a failure is not final yet. */
  retriedErrors: Set<string>;
  /** Top-level Tasks' Payload fields that are `$$.State.RetryCount`, by state. */
  retryCountFields: Map<string, string[]>;
  /** The Distributed Maps, rewritten for the local executor. */
  distributedMaps: InlinedDistributedMap[];
}
const DEFAULT_CHILD_CONCURRENCY = 4;
/**
 * Step Functions' quota on a state's data (input, output, a task's result): 256 KiB of UTF-8. Exceeding it fails the
 * execution with States.DataLimitExceeded, which no Catch (not even States.ALL) handles.
 */
export const STATE_DATA_LIMIT_BYTES = 256 * 1024;
/**
 * Step Functions' quota on a Standard execution's history: 25,000 events, past which the execution fails. Counted
 * locally as AWS records them: a state entered and exited, a Map iteration or Parallel branch started and ended, a
 * retry, and a Task's scheduled, started and succeeded (or failed) besides; a Distributed Map's children are
 * executions of their own. Not counted: the looks of a polling loop (a Wait, the Task it leads back to and that
 * Task's Choice). Here a Wait lasts LOCAL_WAIT_MS, so a loop looks far more often than on AWS, where their number
 * follows the real time waited and the growing pauses (polling.ts: a few hundred over hours).
 */
export const HISTORY_EVENT_LIMIT = 25_000;
/** A Task's events besides entering and leaving it (scheduled, started, succeeded or failed); a Map's or Parallel's (started, ended). */
const TASK_EXTRA_EVENTS = 3;
const MAP_EXTRA_EVENTS = 2;
const LOCAL_WAIT_MS = 100;
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

/**
 * The definition, parsed once per process (per workflow, handlersDir and child concurrency). Not validated here: the
 * ASL check took ~0.4 s of every run's start, and the definitions are fixed at build time (local-runner.test.ts
 * validates each as this runs it, and checks it against what the stack synthesizes).
 */
function prepareMachine(workflow: WorkflowName, definitionOptions: LoadDefinitionOptions, childConcurrency: number): Promise<PreparedMachine> {
  const key = `${workflow}\0${definitionOptions.handlersDir ?? ''}\0${childConcurrency}`;
  let prepared = machines.get(key);
  if (!prepared) {
    prepared = Promise.all([loadDefinition(workflow, definitionOptions), loadLocalStepFunctions()]).then(([loaded, sfn]) => {
      const { definition, maps } = inlineDistributedMaps(loaded.definition, childConcurrency);
      return {
        machine: new sfn.StateMachine(definition as never, { validationOptions: { noValidate: true } }),
        handlerOfState: loaded.handlerOfState,
        childOfState: loaded.childOfState,
        waitStates: statesOfType(definition, 'Wait').map(([name]) => name),
        mapStates: new Set([...statesOfType(definition, 'Map'), ...statesOfType(definition, 'Parallel')].map(([name]) => name)),
        pollingLooks: pollingLooksOf(definition),
        failurePath: failurePathOf(definition.States),
        retriedErrors: retriedErrorsOf(definition),
        retryCountFields: retryCountFieldsOf(definition),
        distributedMaps: maps,
      };
    });
    machines.set(key, prepared);
    prepared.catch(() => machines.delete(key));
  }
  return prepared;
}

const RETRY_COUNT_PATH = '$$.State.RetryCount';

/**
 * The Payload fields of top-level Tasks that are `$$.State.RetryCount`. Such a state runs one at a time, so its
 * failed calls since its last success are its retries; inside a Map iterations would share that count: refused.
 */
export function retryCountFieldsOf(definition: AslDefinition): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const [name, state] of Object.entries(definition.States)) {
    const payload = (state.Parameters as { Payload?: Record<string, unknown> } | undefined)?.Payload ?? {};
    const reading = Object.entries(payload).filter(([, value]) => value === RETRY_COUNT_PATH).map(([key]) => key.replace(/\.\$$/, ''));
    if (reading.length > 0) fields.set(name, reading);
  }
  const everywhere = JSON.stringify(definition).split(RETRY_COUNT_PATH).length - 1;
  const topLevel = [...fields.values()].reduce((sum, list) => sum + list.length, 0);
  if (everywhere !== topLevel) throw new Error(`the local runner counts ${RETRY_COUNT_PATH} only in the Payload of a top-level Task; the definition reads it elsewhere`);
  return fields;
}

/** Every ErrorEquals of every Retry, also inside Maps and Parallels. */
function retriedErrorsOf(machine: { States?: Record<string, { Type: string; [key: string]: unknown }> }): Set<string> {
  const errors = new Set<string>();
  for (const state of Object.values(machine.States ?? {})) {
    for (const retrier of (state.Retry ?? []) as { ErrorEquals: string[] }[]) for (const name of retrier.ErrorEquals) errors.add(name);
    const inner = (state.ItemProcessor ?? state.Iterator) as Parameters<typeof retriedErrorsOf>[0] | undefined;
    for (const branch of [...(inner ? [inner] : []), ...((state.Branches ?? []) as Parameters<typeof retriedErrorsOf>[0][])]) {
      for (const name of retriedErrorsOf(branch)) errors.add(name);
    }
  }
  return errors;
}

/** The top-level states a Catch leads to, and every state after them. */
function failurePathOf(states: Record<string, { Type: string; [key: string]: unknown }>): Set<string> {
  const path = new Set<string>();
  const follow = (name: string | undefined) => {
    while (name && !path.has(name)) {
      path.add(name);
      name = states[name]?.Next as string | undefined;
    }
  };
  for (const state of Object.values(states)) for (const caught of (state.Catch ?? []) as { Next: string }[]) follow(caught.Next);
  return path;
}

/** What crossing the Lambda boundary does to a value: JSON in, JSON out (undefined → null). */
function jsonCopy(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Each Wait state of the definition with the Task it leads to and that Task's Next (the Choice of its loop). */
function pollingLooksOf(definition: AslDefinition): Map<string, string[]> {
  const byName = new Map(['Task', 'Choice', 'Wait'].flatMap((type) => statesOfType(definition, type)));
  return new Map(
    statesOfType(definition, 'Wait').map(([name, wait]) => {
      const task = String(wait.Next);
      const choice = byName.get(task)?.Next;
      return [name, typeof choice === 'string' ? [task, choice] : [task]];
    }),
  );
}
