// What the workflows' Lambda tasks share: how a task invokes its handler, the one Retry policy, how results are kept.
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TASK_RETRIES, UNLOCK_HANDLER, type UnlockHandlerName } from '../../functions/handlers/names.js';

/** The one Retry every task has: transient failures of the handler (by error name) and of the Lambda service. */
export const TASK_RETRY: Readonly<sfn.RetryProps> = Object.freeze({
  errors: [
    'TransientError',
    'Lambda.ClientExecutionTimeoutException',
    'Lambda.ServiceException',
    'Lambda.AWSLambdaException',
    'Lambda.SdkClientException',
    'Lambda.TooManyRequestsException',
  ],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: TASK_RETRIES,
});

/**
 * A call that timed out (or ran out of memory: Lambda reports both as Lambda.Unknown) is made once more: a budgeted
 * call goes on from its checkpoint, and every handler converges when called again with the same input (tested).
 */
export const TIMEOUT_RETRY: Readonly<sfn.RetryProps> = Object.freeze({
  errors: ['Sandbox.Timedout', 'Lambda.Unknown', sfn.Errors.TIMEOUT],
  interval: Duration.seconds(10),
  maxAttempts: 1,
});

/**
 * ReleaseLock's only Retry: both kinds of failure in one retrier, so that `$$.State.RetryCount` (which counts the
 * retries of every retrier) tells the handler exactly when it is on its last attempt and must announce the failure.
 */
export const UNLOCK_RETRY: Readonly<sfn.RetryProps> = Object.freeze({
  ...TASK_RETRY,
  errors: [...(TASK_RETRY.errors ?? []), ...(TIMEOUT_RETRY.errors ?? [])],
});

export interface WorkflowOptions<Name extends string> {
  /**
   * TimeoutSeconds of each handler's Task. Set them at least as long as the Lambda timeouts: the local executor
   * gives a Task without TimeoutSeconds only 60 s. Default: none (AWS: bounded by the Lambda timeout).
   */
  readonly taskTimeouts?: Partial<Record<Name, Duration>>;
}

export type TaskProps = Pick<tasks.LambdaInvokeProps, 'payload' | 'resultSelector' | 'resultPath' | 'outputPath' | 'comment'>;

/** Makes the Task `stateName` calling `handler`, with `retries` (default: the shared TASK_RETRY and TIMEOUT_RETRY). */
export type TaskInvoker<Name extends string> = (stateName: string, handler: Name, props: TaskProps, retries?: readonly Readonly<sfn.RetryProps>[]) => tasks.LambdaInvoke;

/** A factory of Lambda tasks in `scope`: the Lambda response is reduced to what `props` select, with the shared Retry. */
export function taskFactory<Name extends string>(scope: Construct, functions: Record<Name, lambda.IFunction>, options: WorkflowOptions<Name>): TaskInvoker<Name> {
  return (stateName, handler, props, retries = [TASK_RETRY, TIMEOUT_RETRY]) => {
    const timeout = options.taskTimeouts?.[handler];
    const task = new tasks.LambdaInvoke(scope, stateName, {
      lambdaFunction: functions[handler],
      payloadResponseOnly: false,
      retryOnServiceExceptions: false,
      ...(timeout ? { taskTimeout: sfn.Timeout.duration(timeout) } : {}),
      ...props,
    });
    for (const retry of retries) task.addRetry({ ...retry, errors: [...(retry.errors ?? [])] });
    return task;
  };
}

/** A construct-time option that must be a positive integer (a Map's MaxConcurrency, a retention in days). */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** A migration's first state: the raw execution input checked, the state becomes { input } with defaults filled in. */
export function validateTask<Name extends string>(invoke: TaskInvoker<Name>, handler: Name): tasks.LambdaInvoke {
  return invoke('Validate', handler, {
    comment: 'Checks the execution input; the state becomes { input } with defaults filled in.',
    payload: sfn.TaskInput.fromJsonPathAt('$'),
    resultSelector: selectFields(['input']),
  });
}

/**
 * JSONPath cannot store a whole Payload at a ResultPath without a key, so results whose fields the workflow reads
 * are selected field by field (a missing field fails the execution with States.Runtime, naming the path).
 */
export function selectFields(fields: readonly string[]): Record<string, string> {
  return Object.fromEntries(fields.map((field) => [field, sfn.JsonPath.stringAt(`$.Payload.${field}`)]));
}

/** Results the workflow only passes on are kept whole under `Payload`. */
export const WHOLE_PAYLOAD = { Payload: sfn.JsonPath.objectAt('$.Payload') };

/**
 * What a phase's Lambda gets: the validated input, the execution id (`run`, the schema lock's holder) and `fields`.
 * Inside a Map the iteration's state carries `input` (see the itemSelectors); the execution id is the same everywhere.
 */
export function phasePayload(fields: Record<string, unknown> = {}): sfn.TaskInput {
  return sfn.TaskInput.fromObject({ input: sfn.JsonPath.objectAt('$.input'), run: sfn.JsonPath.stringAt('$$.Execution.Id'), ...fields });
}

/**
 * A Map running the `step` handler's Task (named `names.task`) over the items at `itemsPath` (numbers, strings or
 * lists of numbers, passed as `field`), each item's task called again while its result says `done: false` (with
 * `whileWaiting`, after that pause when it says `waiting: true`). The task keeps the result's `fields` at
 * `$.progress`; the iteration's output is the last result.
 */
export function loopingMap<Name extends string>(
  scope: Construct,
  invoke: TaskInvoker<Name>,
  names: { map: string; task: string; check: string; done: string },
  step: { handler: Name; comment: string; fields: readonly string[] },
  props: {
    itemsPath: string;
    field: string;
    maxConcurrency: number;
    comment: string;
    resultPath?: string;
    /**
     * A result saying `waiting: true` is followed by this Wait: its length is the result's `waitSeconds`, which the
     * handler grows from `seconds` (given as `pollSeconds`, with the pause before as `waitedSeconds`; nextPollSeconds).
     */
    whileWaiting?: { state: string; seconds: number };
    /** Each call gets the `checkpoint` the call before returned (null for the first, set by this Pass state). */
    checkpoint?: { start: string };
  },
): sfn.Map {
  const waits = props.whileWaiting;
  const task = invoke(names.task, step.handler, {
    comment: step.comment,
    payload: phasePayload({
      [props.field]: sfn.JsonPath.stringAt(`$.${props.field}`),
      ...(props.checkpoint ? { checkpoint: sfn.JsonPath.objectAt('$.progress.checkpoint') } : {}),
      ...(waits ? { pollSeconds: waits.seconds, waitedSeconds: sfn.JsonPath.numberAt('$.progress.waitSeconds') } : {}),
    }),
    resultSelector: selectFields(step.fields),
    resultPath: '$.progress',
  });
  const done = new sfn.Succeed(scope, names.done, { outputPath: '$.progress' });
  const check = new sfn.Choice(scope, names.check).when(sfn.Condition.booleanEquals('$.progress.done', true), done);
  if (waits) {
    // a step that reports `waiting` (its inputs are not ready yet) is called again after a pause, not at once
    const pause = new sfn.Wait(scope, waits.state, { time: sfn.WaitTime.secondsPath('$.progress.waitSeconds') });
    check.when(sfn.Condition.booleanEquals('$.progress.waiting', true), pause.next(task));
  }
  task.next(check.otherwise(task));
  // before the first call: no checkpoint, no pause yet
  const initial = { ...(props.checkpoint ? { checkpoint: null } : {}), ...(waits ? { waitSeconds: 0 } : {}) };
  const first = props.checkpoint
    ? new sfn.Pass(scope, props.checkpoint.start, { comment: 'No checkpoint yet: the first call starts from the beginning.', result: sfn.Result.fromObject(initial), resultPath: '$.progress' }).next(task)
    : task;
  return new sfn.Map(scope, names.map, {
    comment: props.comment,
    itemsPath: props.itemsPath,
    itemSelector: {
      input: sfn.JsonPath.objectAt('$.input'),
      [props.field]: sfn.JsonPath.stringAt('$$.Map.Item.Value'),
      ...(waits && !props.checkpoint ? { progress: initial } : {}),
    },
    maxConcurrency: props.maxConcurrency,
    resultPath: props.resultPath ?? sfn.JsonPath.DISCARD,
  }).itemProcessor(first);
}

/**
 * The failure path of a migration: any of `guarded` failing for good (after its Retry) goes to ReleaseLock, which
 * frees the schema for a rerun, and then to Failed, which ends the execution with the original error and cause.
 * Returns ReleaseLock, for failure paths that clean up before it (their Catch keeps the error at `$.failure`).
 */
export function releaseLockOnFailure(
  scope: Construct,
  invoke: TaskInvoker<UnlockHandlerName>,
  guarded: readonly (sfn.TaskStateBase | sfn.Map | sfn.DistributedMap | sfn.Parallel)[],
): tasks.LambdaInvoke {
  const failed = new sfn.Fail(scope, 'Failed', { comment: 'The error of the state that failed.', errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
  const release = invoke('ReleaseLock', UNLOCK_HANDLER, {
    comment: 'Frees the schema lock so that a rerun can start; everything done so far is kept and resumed.',
    // the retry count lets the handler announce the failure once, not once per attempt
    payload: phasePayload({ failure: sfn.JsonPath.objectAt('$.failure'), retry: sfn.JsonPath.numberAt('$$.State.RetryCount') }),
    resultPath: sfn.JsonPath.DISCARD,
  }, [UNLOCK_RETRY]);
  // the original error is kept at $.failure even when releasing fails (the lock then goes stale)
  release.addCatch(failed, { resultPath: '$.releaseFailure' });
  release.next(failed);
  for (const state of guarded) state.addCatch(release, { resultPath: '$.failure' });
  return release;
}
