// The remote CLI against mocked AWS clients: progress read from hand-built execution histories shaped like the
// deployed workflows', and the commands' output and exit codes for running, finished, failed and throttled calls.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
  type HistoryEventType,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { Command } from 'commander';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AWS_RETRIES } from '../../functions/core/aws-retries.js';
import { createS3Client, createSfnClient, regionOfArn, registerRemoteCommands, type RemoteIo } from '../../functions/remote/commands.js';
import { describe as describeExecution, readHistory, RemoteCommandError } from '../../functions/remote/executions.js';
import { progressFromHistory } from '../../functions/remote/progress-from-history.js';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Migrate011';
const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:Migrate011:run-1';
const MAP_RUN = 'arn:aws:states:eu-west-1:123456789012:mapRun:Migrate011/HashObjects:abc';
const INPUT_011 = {
  from: '0.11',
  schema: 'lab',
  defaultStore: 'external',
  mode: 'in-place',
  keepLegacy: false,
  execute: false,
  stores: { external: { protocol: 's3', endpoint: 's3.amazonaws.com', bucket: 'b', location: 'dj/lab' } },
};
const PLAN = {
  plan: {
    schema: 'lab',
    stores: [
      { store: 'external', objects: 3, bytes: 3000 },
      { store: 'raw', objects: 1, bytes: 500 },
    ],
    columns: [
      { table: 'scan', column: 'image', pointers: 10 },
      { table: 'trace', column: 'signal', pointers: 5 },
    ],
  },
};

/** Builds a history as Step Functions writes it: ids in order, each event linked to the one it follows. */
class History {
  readonly events: HistoryEvent[] = [];
  private readonly start = Date.UTC(2026, 10, 21, 10);

  add(type: HistoryEventType, previousEventId: number | undefined, details: Partial<HistoryEvent> = {}): number {
    const id = this.events.length + 1;
    this.events.push({ id, previousEventId: previousEventId ?? 0, type, timestamp: new Date(this.start + id * 1000), ...details });
    return id;
  }

  /** TaskStateEntered → TaskScheduled → TaskStarted, returning the TaskStarted id. */
  enterTask(name: string, previous: number | undefined): number {
    const entered = this.add('TaskStateEntered', previous, { stateEnteredEventDetails: { name, input: '{}' } });
    const scheduled = this.add('TaskScheduled', entered, {
      taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'eu-west-1', parameters: '{}' },
    });
    return this.add('TaskStarted', scheduled, { taskStartedEventDetails: { resourceType: 'lambda', resource: 'invoke' } });
  }

  /** TaskSucceeded with the Lambda Invoke response around `payload`, then TaskStateExited; returns the exit id. */
  succeedTask(name: string, started: number, payload: unknown): number {
    const output = JSON.stringify({ ExecutedVersion: '$LATEST', Payload: payload, SdkHttpMetadata: {}, StatusCode: 200 });
    const succeeded = this.add('TaskSucceeded', started, { taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output } });
    return this.add('TaskStateExited', succeeded, { stateExitedEventDetails: { name, output: '{}' } });
  }

  task(name: string, previous: number | undefined, payload: unknown): number {
    return this.succeedTask(name, this.enterTask(name, previous), payload);
  }
}

/** The 0.11 workflow up to and including the two hash batches, run side by side, one of them retried once. */
function historyThroughHashing(): { history: History; last: number } {
  const h = new History();
  const started = h.add('ExecutionStarted', undefined, { executionStartedEventDetails: { input: JSON.stringify(INPUT_011) } });
  let last = h.task('Validate', started, { input: INPUT_011 });
  last = h.task('Inspect', last, PLAN);
  last = h.add('ChoiceStateExited', h.add('ChoiceStateEntered', last, { stateEnteredEventDetails: { name: 'ExecuteOrPlanOnly' } }), {
    stateExitedEventDetails: { name: 'ExecuteOrPlanOnly' },
  });
  last = h.task('Prepare', last, { hashBatches: [0, 1], columns: [0, 1] });
  const mapStarted = h.add('MapStateStarted', h.add('MapStateEntered', last, { stateEnteredEventDetails: { name: 'HashObjects' } }));
  const iteration0 = h.add('MapIterationStarted', mapStarted, { mapIterationStartedEventDetails: { name: 'HashObjects', index: 0 } });
  const iteration1 = h.add('MapIterationStarted', mapStarted, { mapIterationStartedEventDetails: { name: 'HashObjects', index: 1 } });
  // both iterations' events interleave: only the previousEventId chain says which TaskSucceeded is whose
  const task0 = h.enterTask('HashBatch', iteration0);
  const task1 = h.enterTask('HashBatch', iteration1);
  const failed = h.add('TaskFailed', task1, { taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'TransientError', cause: 'S3 timed out' } });
  const exit0 = h.succeedTask('HashBatch', task0, { batch: 0, objects: 2, bytes: 2000 });
  const retried = h.add('TaskStarted', h.add('TaskScheduled', failed));
  const exit1 = h.succeedTask('HashBatch', retried, { batch: 1, objects: 2, bytes: 1500 });
  h.add('MapIterationSucceeded', exit0, { mapIterationSucceededEventDetails: { name: 'HashObjects', index: 0 } });
  last = h.add('MapIterationSucceeded', exit1, { mapIterationSucceededEventDetails: { name: 'HashObjects', index: 1 } });
  last = h.add('MapStateExited', h.add('MapStateSucceeded', last), { stateExitedEventDetails: { name: 'HashObjects' } });
  return { history: h, last };
}

function succeededHistory(): History {
  const { history: h, last: hashed } = historyThroughHashing();
  let last = h.task('InsertRows', hashed, { inserted: 4 });
  last = h.add('MapStateStarted', h.add('MapStateEntered', last, { stateEnteredEventDetails: { name: 'RewriteColumns' } }));
  last = h.add('MapIterationStarted', last, { mapIterationStartedEventDetails: { name: 'RewriteColumns', index: 0 } });
  last = h.task('RewriteColumn', last, { column: 0, done: false, rows: 6 });
  last = h.task('RewriteColumn', last, { column: 0, done: true, rows: 4 });
  last = h.add('MapIterationStarted', last, { mapIterationStartedEventDetails: { name: 'RewriteColumns', index: 1 } });
  last = h.task('RewriteColumn', last, { column: 1, done: true, rows: 5 });
  last = h.add('MapStateExited', h.add('MapStateSucceeded', last), { stateExitedEventDetails: { name: 'RewriteColumns' } });
  last = h.task('Finish', last, {});
  last = h.task('Verify', last, { ok: true });
  last = h.task('Report', last, { status: 'migrated' });
  h.add('ExecutionSucceeded', last, { executionSucceededEventDetails: { output: '{"status":"migrated"}' } });
  return h;
}

function failedHistory(): History {
  const { history: h, last: hashed } = historyThroughHashing();
  const started = h.enterTask('InsertRows', hashed);
  const lambdaFailed = h.add('LambdaFunctionFailed', started, {
    lambdaFunctionFailedEventDetails: { error: 'Lambda.Unknown', cause: 'The Lambda runtime exited' },
  });
  const taskFailed = h.add('TaskFailed', lambdaFailed, { taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' } });
  h.add('ExecutionFailed', taskFailed, { executionFailedEventDetails: { error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' } });
  return h;
}

describe('progressFromHistory', () => {
  it('is all zeros for an empty history', () => {
    expect(progressFromHistory([])).toEqual({
      objectsHashed: 0,
      bytesHashed: 0,
      rowsRewritten: 0,
      columnsDone: 0,
      rowsCopied: 0,
      tablesDone: 0,
      totals: {},
      failures: 0,
    });
  });

  it('sums a running 0.11 execution, telling interleaved Map iterations apart', () => {
    const { history } = historyThroughHashing();
    expect(progressFromHistory(history.events)).toEqual({
      status: 'RUNNING',
      objectsHashed: 4,
      bytesHashed: 3500,
      rowsRewritten: 0,
      columnsDone: 0,
      rowsCopied: 0,
      tablesDone: 0,
      totals: { objects: 4, bytes: 3500, rows: 15, columns: 2 },
      failures: 1,
      lastError: { error: 'TransientError', cause: 'S3 timed out' },
      currentState: 'HashBatch',
    });
  });

  it('counts every rewrite round and each column once it is done', () => {
    const progress = progressFromHistory(succeededHistory().events);
    expect(progress).toMatchObject({ status: 'SUCCEEDED', rowsRewritten: 15, columnsDone: 2, objectsHashed: 4, currentState: 'Report' });
  });

  it('keeps the last error and counts Lambda, task, iteration and execution failures', () => {
    const h = failedHistory();
    h.add('MapIterationFailed', undefined, { mapIterationFailedEventDetails: { name: 'HashObjects', index: 3 } });
    const progress = progressFromHistory(h.events);
    expect(progress.status).toBe('FAILED');
    expect(progress.failures).toBe(1 + 3 + 1);
    expect(progress.lastError).toEqual({ error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' });
  });

  it('reads the 0.14 states: Plan totals, MigrateColumn and CopyTable', () => {
    const h = new History();
    let last = h.add('ExecutionStarted', undefined);
    last = h.task('Plan', last, { plan: { stores: [{ objects: 7, bytes: 70 }], columns: [{ pointers: 9 }] } });
    last = h.task('MigrateColumn', last, { column: 0, done: true, rows: 9 });
    last = h.task('CopyTable', last, { table: 'scan', done: false, rows: 100 });
    h.task('CopyTable', last, { table: 'scan', done: true, rows: 20 });
    expect(progressFromHistory(h.events)).toMatchObject({
      totals: { objects: 7, bytes: 70, rows: 9, columns: 1 },
      rowsRewritten: 9,
      columnsDone: 1,
      rowsCopied: 120,
      tablesDone: 1,
      currentState: 'CopyTable',
    });
  });

  it('skips task outputs it cannot read and a TaskSucceeded whose state is not in the history', () => {
    const h = new History();
    const started = h.enterTask('HashBatch', h.add('ExecutionStarted', undefined));
    h.add('TaskSucceeded', started, { taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: 'not json' } });
    h.add('TaskSucceeded', 999, { taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: JSON.stringify({ Payload: { objects: 5 } }) } });
    expect(progressFromHistory(h.events)).toMatchObject({ objectsHashed: 0, failures: 0 });
  });
});

const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);

interface Run {
  out: string[];
  err: string[];
  exitCode: number | undefined;
}

async function run(args: string[], io: RemoteIo = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('djmigrate').exitOverride();
  registerRemoteCommands(program, {
    sfn: (region) => new SFNClient({ region }),
    s3: (region) => new S3Client({ region }),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    tty: false,
    ...io,
  });
  process.exitCode = undefined;
  await program.parseAsync(['node', 'djmigrate', ...args]);
  const exitCode = process.exitCode as number | undefined;
  process.exitCode = undefined;
  return { out, err, exitCode };
}

function awsError(name: string, message = name, attempts = 1): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400, attempts } });
}

function mockExecution(status: 'RUNNING' | 'SUCCEEDED' | 'FAILED', history: History, extra: Record<string, unknown> = {}): void {
  sfnMock.on(DescribeExecutionCommand).resolves({
    executionArn: EXECUTION,
    stateMachineArn: STATE_MACHINE,
    status,
    startDate: new Date(Date.UTC(2026, 10, 21, 10)),
    ...extra,
  });
  sfnMock.on(GetExecutionHistoryCommand).resolves({ events: history.events });
}

let tmp: string;
beforeEach(() => {
  sfnMock.reset();
  s3Mock.reset();
  tmp = mkdtempSync(path.join(tmpdir(), 'djmigrate-remote-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
  delete process.env.DJMIGRATE_STATE_MACHINE_ARN;
});
afterAll(() => {
  sfnMock.restore();
  s3Mock.restore();
});

describe('executions', () => {
  it('reads every page of the history, 1000 events at a time', async () => {
    const events = succeededHistory().events;
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: events.slice(0, 10), nextToken: 'page-2' })
      .resolvesOnce({ events: events.slice(10) });
    expect(await readHistory(new SFNClient({ region: 'eu-west-1' }), EXECUTION)).toEqual(events);
    const calls = sfnMock.commandCalls(GetExecutionHistoryCommand).map((call) => call.args[0].input);
    expect(calls).toEqual([
      { executionArn: EXECUTION, maxResults: 1000, nextToken: undefined, reverseOrder: false },
      { executionArn: EXECUTION, maxResults: 1000, nextToken: 'page-2', reverseOrder: false },
    ]);
  });

  it('after a known event reads newest first and stops there, returning the new events oldest first', async () => {
    const events = succeededHistory().events;
    const newestFirst = [...events].reverse();
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: newestFirst.slice(0, 3), nextToken: 'older' })
      .resolvesOnce({ events: newestFirst.slice(3), nextToken: 'older-still' });
    const known = events.length - 5;
    expect(await readHistory(new SFNClient({ region: 'eu-west-1' }), EXECUTION, known)).toEqual(events.slice(known));
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(2);
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)[0].args[0].input.reverseOrder).toBe(true);
  });

  it.each([
    ['ExecutionDoesNotExist', `no execution ${EXECUTION}; check the ARN and region`],
    ['InvalidArn', `no execution ${EXECUTION}; check the ARN and region`],
    ['AccessDeniedException', `access denied: your AWS identity lacks states:DescribeExecution on ${EXECUTION}`],
  ])('turns %s into a message that says what to do', async (name, message) => {
    sfnMock.on(DescribeExecutionCommand).rejects(awsError(name));
    const failure = describeExecution(new SFNClient({ region: 'eu-west-1' }), EXECUTION);
    await expect(failure).rejects.toThrow(RemoteCommandError);
    await expect(failure).rejects.toThrow(message);
  });

  it('makes clients for the region of the ARN that retry adaptively', async () => {
    expect(regionOfArn(EXECUTION)).toBe('eu-west-1');
    expect(regionOfArn('not-an-arn')).toBeUndefined();
    const sfn = await createSfnClient(regionOfArn(EXECUTION));
    expect(await sfn.config.region()).toBe('eu-west-1');
    expect(await sfn.config.maxAttempts()).toBe(AWS_RETRIES.maxAttempts);
    expect(await sfn.config.retryStrategy()).toMatchObject({ mode: 'adaptive' });
    const s3 = await createS3Client('eu-west-1');
    expect(await s3.config.maxAttempts()).toBe(AWS_RETRIES.maxAttempts);
  });
});

describe('djmigrate start', () => {
  it('starts with inline input and prints the execution ARN and how to follow it', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    const result = await run(['start', '--state-machine', STATE_MACHINE, '--input-json', JSON.stringify(INPUT_011), '--name', 'run-1']);
    expect(result).toEqual({ out: [EXECUTION, `Follow it with: djmigrate watch ${EXECUTION}`], err: [], exitCode: 0 });
    const [call] = sfnMock.commandCalls(StartExecutionCommand);
    expect(call.args[0].input).toEqual({ stateMachineArn: STATE_MACHINE, input: JSON.stringify(INPUT_011), name: 'run-1' });
  });

  it('reads the input from a file and the state machine from DJMIGRATE_STATE_MACHINE_ARN', async () => {
    const input = { from: '0.14', to: '2.0', schema: 'lab', strategy: 'in-place', execute: true, stores: {} };
    const file = path.join(tmp, 'input.json');
    writeFileSync(file, JSON.stringify(input, null, 2));
    process.env.DJMIGRATE_STATE_MACHINE_ARN = STATE_MACHINE;
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    const result = await run(['start', '--input', file]);
    expect(result.exitCode).toBe(0);
    const [call] = sfnMock.commandCalls(StartExecutionCommand);
    expect(call.args[0].input.stateMachineArn).toBe(STATE_MACHINE);
    expect(JSON.parse(call.args[0].input.input ?? '')).toEqual(input);
  });

  it.each([
    ['[1, 2]', '--input-json must be a JSON object (like {"from":"0.11","schema":...}), not an array'],
    ['"lab"', '--input-json must be a JSON object (like {"from":"0.11","schema":...}), not a string'],
    ['null', '--input-json must be a JSON object (like {"from":"0.11","schema":...}), not null'],
    ['{from: 0.11}', '--input-json is not JSON'],
  ])('refuses %s before calling AWS', async (json, message) => {
    const result = await run(['start', '--state-machine', STATE_MACHINE, '--input-json', json]);
    expect(result.exitCode).toBe(1);
    expect(result.err[0]).toContain(`error: ${message}`);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('refuses without a state machine, without input, with both inputs, or with a missing file', async () => {
    expect((await run(['start', '--input-json', '{}'])).err).toEqual(['error: give --state-machine ARN or set DJMIGRATE_STATE_MACHINE_ARN']);
    expect((await run(['start', '--state-machine', STATE_MACHINE])).err).toEqual(['error: give exactly one of --input FILE and --input-json JSON']);
    expect((await run(['start', '--state-machine', STATE_MACHINE, '--input', 'x.json', '--input-json', '{}'])).exitCode).toBe(1);
    expect((await run(['start', '--state-machine', STATE_MACHINE, '--input', path.join(tmp, 'missing.json')])).err[0]).toMatch(/^error: cannot read --input .*missing\.json/);
    expect(sfnMock.calls()).toHaveLength(0);
  });

  it('names the state machine it cannot find', async () => {
    sfnMock.on(StartExecutionCommand).rejects(awsError('StateMachineDoesNotExist', 'State Machine Does Not Exist'));
    const result = await run(['start', '--state-machine', STATE_MACHINE, '--input-json', '{}']);
    expect(result.err).toEqual([`error: no state machine ${STATE_MACHINE}; check the ARN and region (is the stack deployed there?)`]);
    expect(result.exitCode).toBe(1);
  });
});

describe('djmigrate status', () => {
  it('summarizes a running execution', async () => {
    mockExecution('RUNNING', historyThroughHashing().history);
    const result = await run(['status', EXECUTION]);
    expect(result.exitCode).toBe(0);
    expect(result.out.join('\n')).toBe(
      [
        `Execution  ${EXECUTION}`,
        'Status     RUNNING (started 2026-11-21T10:00:00.000Z)',
        'State      HashBatch',
        'Objects    4 / 4 hashed, 3.5 KB of 3.5 KB',
        'Rows       0 / 15 rewritten',
        'Columns    0 / 2 done',
        'Failures   1',
        'Last error TransientError: S3 timed out',
      ].join('\n'),
    );
  });

  it('prints JSON for a succeeded execution, the history read across two pages', async () => {
    const events = succeededHistory().events;
    mockExecution('SUCCEEDED', succeededHistory(), { stopDate: new Date(Date.UTC(2026, 10, 21, 11)) });
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: events.slice(0, 20), nextToken: 'page-2' })
      .resolvesOnce({ events: events.slice(20) });
    const result = await run(['status', EXECUTION, '--json']);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.out.join('\n'))).toMatchObject({
      executionArn: EXECUTION,
      status: 'SUCCEEDED',
      progress: { objectsHashed: 4, rowsRewritten: 15, columnsDone: 2, totals: { rows: 15, columns: 2 } },
      mapRuns: [],
    });
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(2);
  });

  it('exits 1 for a failed execution and shows its error', async () => {
    mockExecution('FAILED', failedHistory(), { error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' });
    const result = await run(['status', EXECUTION]);
    expect(result.exitCode).toBe(1);
    expect(result.out.join('\n')).toContain('Status     FAILED');
    expect(result.out.join('\n')).toContain('Failures   4');
    expect(result.out.join('\n')).toContain('Last error MigrationRefusedError: duplicate hash in ~external');
  });

  it('asks DescribeMapRun for the item counts of each Map Run', async () => {
    const h = new History();
    const started = h.add('ExecutionStarted', undefined);
    h.add('MapRunStarted', h.add('MapStateEntered', started, { stateEnteredEventDetails: { name: 'HashObjects' } }), {
      mapRunStartedEventDetails: { mapRunArn: MAP_RUN },
    });
    mockExecution('RUNNING', h);
    sfnMock.on(DescribeMapRunCommand, { mapRunArn: MAP_RUN }).resolves({
      mapRunArn: MAP_RUN,
      status: 'RUNNING',
      itemCounts: { pending: 10, running: 4, succeeded: 85, failed: 1, timedOut: 0, aborted: 0, total: 100, resultsWritten: 85 },
    });
    const result = await run(['status', EXECUTION]);
    expect(result.out.join('\n')).toContain(`Map run    ${MAP_RUN} RUNNING: 85 succeeded, 1 failed of 100 items`);
    // the children's objects (Express executions, not in the parent's history) count as hashed
    expect(result.out.join('\n')).toMatch(/Objects {4}85 hashed/);
    expect(sfnMock.commandCalls(DescribeMapRunCommand)).toHaveLength(1);
  });

  it('says when there is no such execution', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('ExecutionDoesNotExist', 'Execution Does Not Exist'));
    const result = await run(['status', EXECUTION]);
    expect(result).toEqual({ out: [], err: [`error: no execution ${EXECUTION}; check the ARN and region`], exitCode: 1 });
  });

  it('says it was throttled once the retries are spent', async () => {
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', AWS_RETRIES.maxAttempts));
    const result = await run(['status', EXECUTION]);
    expect(result.err).toEqual([`error: AWS throttled states:DescribeExecution on ${EXECUTION} on all 8 attempts; retry later`]);
    expect(result.exitCode).toBe(1);
  });

  it('lets the SDK retry throttling before giving up (real client, fake transport)', async () => {
    let requests = 0;
    const throttled: RemoteIo['sfn'] = (region) => {
      const client = new SFNClient({
          region,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
          maxAttempts: 2,
          requestHandler: {
            handle: async () => {
              requests += 1;
              const body = JSON.stringify({ __type: 'com.amazonaws.swf.service.model#ThrottlingException', message: 'Rate exceeded' });
              return {
                response: {
                  statusCode: 400,
                  reason: 'Bad Request',
                  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'r' },
                  body: Readable.from([Buffer.from(body)]),
                },
              };
            },
          },
        });
      // mockClient stubbed SFNClient.prototype.send: this client goes through the SDK's own middleware (and retries)
      client.send = Object.getPrototypeOf(SFNClient.prototype).send as SFNClient['send'];
      return client;
    };
    const result = await run(['status', EXECUTION], { sfn: throttled });
    expect(requests).toBe(2);
    expect(result.err).toEqual([`error: AWS throttled states:DescribeExecution on ${EXECUTION} on all 2 attempts; retry later`]);
    expect(result.exitCode).toBe(1);
  });
});

describe('djmigrate watch', () => {
  it('polls until the execution ends, one line per poll off a terminal, and exits 0 on success', async () => {
    const done = succeededHistory().events;
    const { history: running } = historyThroughHashing();
    sfnMock
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION, status: 'RUNNING' })
      .resolves({ executionArn: EXECUTION, status: 'SUCCEEDED' });
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: running.events })
      .resolvesOnce({ events: done.slice(running.events.length).reverse() });
    const result = await run(['watch', EXECUTION, '--interval', '0']);
    expect(result.out).toEqual([
      'RUNNING | HashBatch | objects 4 / 4 (3.5 KB) | rows 0 / 15 | columns 0 / 2 | failures 1',
      'SUCCEEDED | Report | objects 4 / 4 (3.5 KB) | rows 15 / 15 | columns 2 / 2 | failures 1',
      `${EXECUTION}: SUCCEEDED`,
    ]);
    expect(result.exitCode).toBe(0);
    // the second poll read only the new events, newest first
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)[1].args[0].input.reverseOrder).toBe(true);
  });

  it('exits 1 with the error and cause of a failed execution', async () => {
    mockExecution('FAILED', failedHistory(), { error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' });
    const result = await run(['watch', EXECUTION, '--interval', '0']);
    expect(result.exitCode).toBe(1);
    expect(result.out.at(-1)).toBe(`${EXECUTION}: FAILED`);
    expect(result.err).toEqual(['error: MigrationRefusedError (4 failure events in the history)\ncause: duplicate hash in ~external']);
  });

  it('on a terminal draws a bar instead of a line per poll', async () => {
    mockExecution('SUCCEEDED', succeededHistory());
    const result = await run(['watch', EXECUTION, '--interval', '0'], { tty: true });
    expect(result).toEqual({ out: [`${EXECUTION}: SUCCEEDED`], err: [], exitCode: 0 });
  });

  it('rejects a negative interval', async () => {
    await expect(run(['watch', EXECUTION, '--interval', '-1'])).rejects.toThrow(/seconds, 0 or more/);
  });
});

describe('djmigrate report', () => {
  it('prints the execution output when that is the report', async () => {
    mockExecution('SUCCEEDED', new History(), { output: '{"status":"migrated","schema":"lab"}' });
    const result = await run(['report', EXECUTION]);
    expect(result).toEqual({ out: [JSON.stringify({ status: 'migrated', schema: 'lab' }, null, 2)], err: [], exitCode: 0 });
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('fetches the report from S3 when the output names its reportLocation, and writes it with --output', async () => {
    const report = { status: 'migrated', schema: 'lab', columns: [{ table: 'scan', column: 'image' }] };
    mockExecution('SUCCEEDED', new History(), { output: JSON.stringify({ reportLocation: 's3://reports/djmigrate/lab/run-1.json', status: 'migrated' }) });
    s3Mock.on(GetObjectCommand, { Bucket: 'reports', Key: 'djmigrate/lab/run-1.json' }).resolves({
      Body: Object.assign(Readable.from([JSON.stringify(report)]), { transformToString: async () => JSON.stringify(report) }) as never,
    });
    const file = path.join(tmp, 'report.json');
    const result = await run(['report', EXECUTION, '--output', file]);
    expect(result).toEqual({ out: [`Report (from s3://reports/djmigrate/lab/run-1.json) written to ${file}`], err: [], exitCode: 0 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(report);
  });

  it('fetches the whole 0.14 plan from S3 when the output holds it cut to fit the state', async () => {
    const whole = { schema: 'lab14', status: 'ready', inPlace: { comments: { changes: Array.from({ length: 900 }, (_, i) => ({ table: `t${i}` })) } } };
    const cut = { ...whole, inPlace: { comments: { changes: whole.inPlace.comments.changes.slice(0, 50) } }, omitted: { 'inPlace.comments.changes': 850 }, planLocation: 's3://reports/reports/lab14/run-1-plan.json' };
    mockExecution('SUCCEEDED', new History(), { output: JSON.stringify({ plan: cut }) });
    s3Mock.on(GetObjectCommand, { Bucket: 'reports', Key: 'reports/lab14/run-1-plan.json' }).resolves({
      Body: Object.assign(Readable.from([JSON.stringify(whole)]), { transformToString: async () => JSON.stringify(whole) }) as never,
    });
    const result = await run(['report', EXECUTION]);
    expect(JSON.parse(result.out.join('\n'))).toEqual(whole);
    // a plan that fits is the output itself
    s3Mock.reset();
    mockExecution('SUCCEEDED', new History(), { output: JSON.stringify({ plan: { ...whole, planLocation: 's3://reports/reports/lab14/run-1-plan.json' } }) });
    expect(JSON.parse((await run(['report', EXECUTION])).out.join('\n')).plan.inPlace.comments.changes).toHaveLength(900);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('names the missing permission when S3 refuses the report', async () => {
    mockExecution('SUCCEEDED', new History(), { output: JSON.stringify({ reportLocation: 's3://reports/r.json' }) });
    s3Mock.on(GetObjectCommand).rejects(awsError('AccessDenied', 'Access Denied'));
    const result = await run(['report', EXECUTION]);
    expect(result.err).toEqual(['error: access denied: your AWS identity lacks s3:GetObject on s3://reports/r.json']);
    expect(result.exitCode).toBe(1);
  });

  it('exits 1 with the error and cause of a failed execution', async () => {
    mockExecution('FAILED', failedHistory(), { error: 'MigrationRefusedError', cause: 'duplicate hash in ~external' });
    const result = await run(['report', EXECUTION]);
    expect(result).toEqual({
      out: [],
      err: [`${EXECUTION} FAILED`, 'error: MigrationRefusedError\ncause: duplicate hash in ~external'],
      exitCode: 1,
    });
  });

  it('exits 1 while the execution is still running', async () => {
    mockExecution('RUNNING', new History());
    const result = await run(['report', EXECUTION]);
    expect(result.err).toEqual([`${EXECUTION} is RUNNING: there is no report until it ends (djmigrate watch ${EXECUTION})`]);
    expect(result.exitCode).toBe(1);
  });
});
