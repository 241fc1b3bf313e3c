// Lambda operations around the handlers: structured logs with the execution ARN and schema, EMF metrics, reports in
// the reports bucket, outcome events, and the database secret through @middy/secrets-manager (rotation, IAM auth).
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clearCache } from '@middy/util';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeReportBatchHandler } from '../../functions/handlers/batch/report.js';
import { tableColumnsOf } from '../../functions/handlers/table-columns.js';
import { makeInspectHandler } from '../../functions/handlers/inspect.js';
import { ACCOUNT_ID_ENV, BATCH_CHECKSUM_ROLE_ENV, createLambdaDeps, type LambdaDepsOptions } from '../../functions/handlers/lambda-deps.js';
import { checksumJobsOf } from '../../functions/handlers/deps.js';
import { makeReport014Handler } from '../../functions/handlers/migrate014/report.js';
import { makePlan014Handler } from '../../functions/handlers/migrate014/plan.js';
import { phaseHandler } from '../../functions/handlers/phase-handler.js';
import { makeReportHandler } from '../../functions/handlers/report.js';
import { makeUnlockHandler } from '../../functions/handlers/unlock.js';
import { makeUnlockAbandonedHandler } from '../../functions/handlers/unlock-abandoned.js';
import { createLocalDeps } from '../../functions/local/local-deps.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';

vi.mock('../../functions/core/lock/schema-lock.js', async () => (await import('../harness/core-fakes.js')).schemaLockFake());
vi.mock('../../functions/core/migrate011/inspect.js', async () => (await import('../harness/core-fakes.js')).inspect011Fake());
vi.mock('../../functions/core/migrate011/plan.js', async () => (await import('../harness/core-fakes.js')).plan011Fake());
vi.mock('../../functions/core/migrate011/report.js', async () => (await import('../harness/core-fakes.js')).report011Fake());
vi.mock('../../functions/core/migrate014/plan.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../functions/core/migrate014/plan.js')>()),
  planMigration014: vi.fn(async () => ({ plan: { schema: 'lab14', strategy: 'in-place', status: 'ready', problems: [], inPlace: { external: { columns: [{ objects: 2, bytes: 20, pointers: 2 }] } } }, checkpoint: null })),
}));
vi.mock('../../functions/core/migrate014/report.js', () => ({
  buildReport014: vi.fn(async () => ({
    schema: 'lab14',
    from: '0.14',
    to: '2.0',
    strategy: 'in-place',
    status: 'migrated',
    backup: null,
    columns: [{ table: 't', column: 'c', kind: 'blob', store: 'main', rowsFilled: 7 }],
    problems: [],
    plan: { status: 'ready', problems: [] },
    finishedAt: '2026-01-01T00:00:00.000Z',
  })),
}));

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:djmigrate-db-AbCdEf';
const RUN = 'arn:aws:states:eu-west-1:123456789012:execution:Migrate011:exec-1';
const RUN_014 = 'arn:aws:states:eu-west-1:123456789012:execution:Migrate014:exec-14';
const INPUT = { from: '0.11', schema: 'lab', stores: {}, execute: true };
const INPUT_014 = { from: '0.14', schema: 'lab14', strategy: 'in-place', stores: {}, execute: true };
const SECRET = { host: 'db.internal.example', port: 3306, username: 'migrator', password: 'first-password' };

const s3 = mockClient(S3Client);
const eventBridge = mockClient(EventBridgeClient);
const secretsManager = mockClient(SecretsManagerClient);

/** Everything the process writes (Powertools writes to process.stdout/stderr through its own Console). */
function captureOutput() {
  const chunks: string[] = [];
  const grab = (chunk: unknown) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(grab), vi.spyOn(process.stderr, 'write').mockImplementation(grab)];
  return {
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim().startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

const fakeConnection = () => ({ end: vi.fn(async () => undefined) }) as unknown as Connection;

function deps(overrides: LambdaDepsOptions = {}): { deps: HandlerDeps; connect: ReturnType<typeof vi.fn> } {
  const connect = vi.fn(async (_options: ConnectionOptions) => fakeConnection());
  return {
    connect,
    deps: createLambdaDeps({ secretArn: SECRET_ARN, reportsBucket: 'reports-bucket', eventBus: 'default', connect, workBudgetMs: 1000, ...overrides }),
  };
}

const invoke = <E>(handler: (event: E, context: never) => Promise<unknown>, event: E) => handler(event, {} as never);

let output: ReturnType<typeof captureOutput>;
beforeEach(() => {
  s3.reset();
  eventBridge.reset();
  secretsManager.reset();
  s3.on(PutObjectCommand).resolves({});
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
  output = captureOutput();
});
afterEach(() => {
  output.restore();
  clearCache();
});

const events = () =>
  eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []).map((entry) => ({ ...entry, detail: JSON.parse(entry.Detail ?? '{}') as Record<string, unknown> }));

describe('logs', () => {
  it('every log line of an invocation carries the execution ARN and the schema, progress included', async () => {
    const { deps: lambda } = deps();
    await invoke(makeInspectHandler(() => lambda), { input: { ...INPUT, execute: false }, run: RUN });
    const progress = output.lines().find((line) => line.type === 'progress');
    expect(progress).toMatchObject({ level: 'INFO', message: 'progress', service: 'djmigrate', executionArn: RUN, schema: 'lab', kind: 'planned', objects: 5 });
  });

  it('logs a failure once, with its name and message, and the keys of that invocation only', async () => {
    const { deps: lambda } = deps();
    const failing = phaseHandler(() => lambda, async () => {
      throw new Error('boom');
    }, 'check');
    await expect(invoke(failing, { input: INPUT, run: RUN })).rejects.toThrow('boom');
    const errors = output.lines().filter((line) => line.level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ message: 'invocation failed', error: { name: 'Error', message: 'boom' }, executionArn: RUN, schema: 'lab' });
    // the next invocation (another schema, no run) does not inherit the keys
    await invoke(makeInspectHandler(() => lambda), { input: { ...INPUT, schema: 'other', execute: false } });
    const last = output.lines().filter((line) => line.type === 'progress').at(-1)!;
    expect(last.schema).toBe('other');
    expect(last.executionArn).toBeUndefined();
  });
});

describe('metrics', () => {
  const emf = () => output.lines().filter((line) => line._aws);

  it('publishes one EMF line per invocation with the progress metrics and the Workflow dimension', async () => {
    const { deps: lambda } = deps();
    const working = phaseHandler(() => lambda, async ({ progress }) => {
      progress.report({ kind: 'objects-hashed', objects: 3, bytes: 300 });
      progress.report({ kind: 'rows-rewritten', table: 't', column: 'c', rows: 4 });
      progress.report({ kind: 'rows-copied', table: 't', rows: 6 });
      return 'ok';
    }, 'check');
    await invoke(working, { input: INPUT, run: RUN });
    const lines = emf();
    expect(lines).toHaveLength(1);
    const [line] = lines as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }; [key: string]: unknown }[];
    const directive = line!._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe('djmigrate');
    expect(directive.Dimensions).toEqual([['Workflow']]); // exactly: the dashboard searches {djmigrate,Workflow}
    expect(directive.Metrics.map((metric) => metric.Name).sort()).toEqual(['BytesHashed', 'ObjectsHashed', 'RowsCopied', 'RowsRewritten']);
    expect(line).toMatchObject({ Workflow: 'migrate011', ObjectsHashed: 3, BytesHashed: 300, RowsRewritten: 4, RowsCopied: 6 });
  });

  it('counts a failed invocation in Errors, with the workflow of the handler', async () => {
    const { deps: lambda } = deps();
    const { phase014Handler } = await import('../../functions/handlers/phase-handler.js');
    const failing = phase014Handler(() => lambda, async () => {
      throw new Error('nope');
    }, 'check');
    await expect(invoke(failing, { input: INPUT_014, run: RUN_014 })).rejects.toThrow('nope');
    expect(emf()).toHaveLength(1);
    expect(emf()[0]).toMatchObject({ Workflow: 'migrate014', Errors: 1 });
  });

  it('locally there are no middlewares and the CLI progress sink stays the one given', () => {
    const progress = { report: vi.fn() };
    const local = createLocalDeps({ database: { host: 'h', port: 3306, user: 'u', password: 'p' }, stores: {} } as never, progress);
    expect(local.middleware).toBeUndefined();
    expect(local.progress).toBe(progress);
  });
});

describe('reports and events', () => {
  it('report: writes reports/<schema>/<execution>.json (JSON, encrypted), returns reportLocation, announces Succeeded', async () => {
    const { deps: lambda } = deps();
    const result = (await invoke(makeReportHandler(() => lambda), { input: INPUT, run: RUN, inspected: { plan: {} }, finished: {}, verified: {} } as never)) as Record<string, unknown>;
    expect(result).toMatchObject({ schema: 'lab', status: 'migrated', reportLocation: 's3://reports-bucket/reports/lab/exec-1.json' });
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: 'reports-bucket', Key: 'reports/lab/exec-1.json', ContentType: 'application/json', ServerSideEncryption: 'AES256' });
    expect(JSON.parse(put.Body as string)).toMatchObject({ schema: 'lab', status: 'migrated' });
    expect(events()).toEqual([
      expect.objectContaining({
        Source: 'djmigrate',
        DetailType: 'DataJoint Migration Succeeded',
        EventBusName: 'default',
        detail: expect.objectContaining({ schema: 'lab', from: '0.11', status: 'migrated', executionArn: RUN, reportLocation: 's3://reports-bucket/reports/lab/exec-1.json', rowsRewritten: 5 }),
      }),
    ]);
  });

  it('report014 and reportBatch keep their reports too', async () => {
    const { deps: lambda } = deps();
    const result014 = (await invoke(makeReport014Handler(() => lambda), { input: INPUT_014, run: RUN_014 } as never)) as Record<string, unknown>;
    expect(result014.reportLocation).toBe('s3://reports-bucket/reports/lab14/exec-14.json');
    const batchRun = 'arn:aws:states:eu-west-1:123456789012:execution:Batch:nightly';
    const batch = (await invoke(makeReportBatchHandler(() => lambda), {
      run: batchRun,
      discovered: { from: '0.11', skipped: [], windowEndsAt: null },
      results: [{ schema: 'lab', status: 'SUCCEEDED', outcome: 'migrated' }],
    })) as Record<string, unknown>;
    expect(batch).toMatchObject({ status: 'succeeded', reportLocation: 's3://reports-bucket/reports/batch/nightly.json' });
    expect(events().map((event) => event.DetailType)).toEqual(['DataJoint Migration Succeeded', 'DataJoint Migration Succeeded']);
    expect(events()[1]!.detail).toMatchObject({ from: '0.11', status: 'succeeded', succeeded: 1, executionArn: batchRun });
    // without deps (the local runner's registry) the batch report is only returned
    const local = (await invoke(makeReportBatchHandler(), { discovered: { from: '0.11', skipped: [], windowEndsAt: null }, results: [] })) as Record<string, unknown>;
    expect(local.reportLocation).toBeUndefined();
  });

  it('inspect / plan014 announce Plan Ready only when the plan is the output (execute: false)', async () => {
    const { deps: lambda } = deps();
    await invoke(makeInspectHandler(() => lambda), { input: INPUT, run: RUN });
    expect(events()).toEqual([]);
    await invoke(makeInspectHandler(() => lambda), { input: { ...INPUT, execute: false }, run: RUN });
    const planned = (await invoke(makePlan014Handler(() => lambda), { input: { ...INPUT_014, execute: false }, run: RUN_014 })) as { plan: Record<string, unknown> };
    // the whole 0.14 plan is kept beside the reports (the state may get it cut to size)
    expect(planned.plan).toMatchObject({ schema: 'lab14', planLocation: 's3://reports-bucket/reports/lab14/exec-14-plan.json' });
    expect(s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key)).toEqual(['reports/lab14/exec-14-plan.json']);
    expect(events().map((event) => [event.DetailType, event.detail.schema, event.detail.status])).toEqual([
      ['DataJoint Migration Plan Ready', 'lab', 'ready'],
      ['DataJoint Migration Plan Ready', 'lab14', 'ready'],
    ]);
    // rows: every row the rewrite writes (6), the NULL pointer's too, not the 5 pointers
    expect(events()[0]!.detail).toMatchObject({ objects: 5, bytes: 500, rows: 6, columns: 1, executionArn: RUN });
  });

  it('unlock announces Failed with the caught error (optional failure field)', async () => {
    const { deps: lambda } = deps();
    const failure = { Error: 'MigrationRefused', Cause: JSON.stringify({ errorType: 'MigrationRefused', errorMessage: 'store "x" is not in the input' }) };
    await expect(invoke(makeUnlockHandler(() => lambda), { input: INPUT_014, run: RUN_014, failure })).resolves.toEqual({ released: true });
    await expect(invoke(makeUnlockHandler(() => lambda), { input: { schema: 'lab' }, run: RUN })).resolves.toEqual({ released: true });
    expect(events().map((event) => [event.DetailType, event.detail])).toEqual([
      ['DataJoint Migration Failed', { schema: 'lab14', from: '0.14', status: 'failed', executionArn: RUN_014, error: 'MigrationRefused', cause: 'store "x" is not in the input', lockReleased: true }],
      ['DataJoint Migration Failed', { schema: 'lab', status: 'failed', executionArn: RUN, lockReleased: true }],
    ]);
  });

  it('unlock announces Failed once: not from an attempt whose transient failure the Retry policy will repeat', async () => {
    const { deps: lambda } = deps({ connect: vi.fn(async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))) });
    await expect(invoke(makeUnlockHandler(() => lambda), { input: INPUT, run: RUN, retry: 0 })).rejects.toMatchObject({ name: 'TransientError' });
    await expect(invoke(makeUnlockHandler(() => lambda), { input: INPUT, run: RUN, retry: 5 })).rejects.toMatchObject({ name: 'TransientError' });
    expect(events()).toEqual([]);
    // the last retry announces it, without lockReleased (unknown)
    await expect(invoke(makeUnlockHandler(() => lambda), { input: INPUT, run: RUN, retry: 6 })).rejects.toMatchObject({ name: 'TransientError' });
    expect(events().map((event) => [event.DetailType, event.detail])).toEqual([['DataJoint Migration Failed', { schema: 'lab', from: '0.11', status: 'failed', executionArn: RUN }]]);
  });

  it('offers Compute checksum jobs only where the stack gave the role, the account and the manifests bucket', () => {
    expect(() => checksumJobsOf(deps({ manifestsBucket: 'djm-manifests' }).deps)).toThrow(/s3BatchChecksum needs S3 Batch Operations, which only the deployed stack can reach/);
    vi.stubEnv(BATCH_CHECKSUM_ROLE_ENV, 'arn:aws:iam::123456789012:role/batch');
    vi.stubEnv(ACCOUNT_ID_ENV, '123456789012');
    try {
      expect(deps({ manifestsBucket: null }).deps.checksumJobs).toBeUndefined();
      expect(checksumJobsOf(deps({ manifestsBucket: 'djm-manifests' }).deps)).toEqual({ start: expect.any(Function), state: expect.any(Function), report: expect.any(Function) });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('unlockAbandoned frees the lock of an aborted or timed-out execution from its status-change event and announces it', async () => {
    const { deps: lambda, connect } = deps();
    const statusChange = (status: string, input?: unknown) => ({
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      detail: { executionArn: RUN, status, ...(input === undefined ? {} : { input: JSON.stringify(input) }), error: null, cause: null },
    });
    await expect(invoke(makeUnlockAbandonedHandler(() => lambda), statusChange('ABORTED', INPUT))).resolves.toEqual({ released: true });
    await expect(invoke(makeUnlockAbandonedHandler(() => lambda), statusChange('TIMED_OUT', INPUT_014))).resolves.toEqual({ released: true });
    expect(events().map((event) => [event.DetailType, event.detail])).toEqual([
      ['DataJoint Migration Failed', { schema: 'lab', from: '0.11', status: 'aborted', executionArn: RUN, error: 'States.Aborted', lockReleased: true }],
      ['DataJoint Migration Failed', { schema: 'lab14', from: '0.14', status: 'timed-out', executionArn: RUN, error: 'States.Timeout', lockReleased: true }],
    ]);
    // no input in the event (too large for it): nothing to release, no connection
    const calls = connect.mock.calls.length;
    await expect(invoke(makeUnlockAbandonedHandler(() => lambda), statusChange('ABORTED'))).resolves.toEqual({ released: false, reason: expect.stringContaining('no execution input') });
    expect(connect.mock.calls.length).toBe(calls);
    // only aborted and timed-out executions: a failed one released its lock on its own path
    await expect(invoke(makeUnlockAbandonedHandler(() => lambda), statusChange('FAILED', INPUT))).rejects.toThrow();
  });

  it('a failed publish or report write is logged and does not fail the handler', async () => {
    eventBridge.on(PutEventsCommand).rejects(Object.assign(new Error('AccessDeniedException: not allowed'), { name: 'AccessDeniedException' }));
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const { deps: lambda } = deps();
    const result = (await invoke(makeReportHandler(() => lambda), { input: INPUT, run: RUN, inspected: { plan: {} }, finished: {}, verified: {} } as never)) as Record<string, unknown>;
    expect(result.status).toBe('migrated');
    expect(result.reportLocation).toBeUndefined();
    const logged = output.lines();
    expect(logged).toContainEqual(expect.objectContaining({ message: 'event not published', detailType: 'DataJoint Migration Succeeded', executionArn: RUN }));
    expect(logged).toContainEqual(expect.objectContaining({ message: 'report not written', key: 'reports/lab/exec-1.json' }));
    // a partial failure of PutEvents too
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    await expect(invoke(makeInspectHandler(() => lambda), { input: { ...INPUT, execute: false }, run: RUN })).resolves.toBeDefined();
    expect(output.lines()).toContainEqual(expect.objectContaining({ message: 'event not published', errorCode: 'InternalFailure' }));
  });

  it('without a reports bucket or event bus: no report location, no events', async () => {
    const { deps: lambda } = deps({ reportsBucket: null, eventBus: null });
    const result = (await invoke(makeReportHandler(() => lambda), { input: INPUT, run: RUN, inspected: { plan: {} }, finished: {}, verified: {} } as never)) as Record<string, unknown>;
    expect(result.reportLocation).toBeUndefined();
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('database secret (@middy/secrets-manager)', () => {
  it('reads the secret once for many invocations (cached) and connects with its fields', async () => {
    const { deps: lambda, connect } = deps();
    const handler = makeInspectHandler(() => lambda);
    await invoke(handler, { input: INPUT, run: RUN });
    await invoke(handler, { input: INPUT, run: RUN });
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(secretsManager.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: SECRET_ARN });
    expect(connect).toHaveBeenCalledTimes(2);
    expect(connect.mock.calls[0]![0]).toMatchObject({ host: SECRET.host, port: 3306, user: SECRET.username, password: SECRET.password });
  });

  it('after ER_ACCESS_DENIED_ERROR reads the secret again (rotation) and connects with the new password', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(SECRET) })
      .resolves({ SecretString: JSON.stringify({ ...SECRET, password: 'rotated-password' }) });
    const connect = vi.fn(async (options: ConnectionOptions) => {
      if (options.password === SECRET.password) throw Object.assign(new Error(`Access denied for user '${SECRET.username}'@'10.0.0.1' (using password: YES)`), { code: 'ER_ACCESS_DENIED_ERROR' });
      return fakeConnection();
    });
    const { deps: lambda } = deps({ connect });
    await expect(invoke(makeInspectHandler(() => lambda), { input: INPUT, run: RUN })).resolves.toBeDefined();
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(connect.mock.calls.map((call) => call[0].password)).toEqual([SECRET.password, 'rotated-password']);
  });

  it('the same secret still refused: a MigrationRefused naming the secret, not the user', async () => {
    const connect = vi.fn(async () => {
      throw Object.assign(new Error(`Access denied for user '${SECRET.username}'@'10.0.0.1' (using password: YES)`), { code: 'ER_ACCESS_DENIED_ERROR' });
    });
    const { deps: lambda } = deps({ connect });
    const error = (await invoke(makeInspectHandler(() => lambda), { input: INPUT, run: RUN }).catch((caught: unknown) => caught)) as Error;
    expect(error.name).toBe('MigrationRefused');
    expect(error.message).toContain(SECRET_ARN);
    expect(error.message).not.toContain(SECRET.username);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    expect(connect).toHaveBeenCalledTimes(1);
  });

  it('a throttled read is a TransientError and is tried again by the next invocation', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }))
      .resolves({ SecretString: JSON.stringify(SECRET) });
    const { deps: lambda } = deps();
    const handler = makeInspectHandler(() => lambda);
    await expect(invoke(handler, { input: INPUT, run: RUN })).rejects.toMatchObject({ name: 'TransientError' });
    await expect(invoke(handler, { input: INPUT, run: RUN })).resolves.toBeDefined();
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('a missing secret or missing permission is a refusal naming the secret', async () => {
    secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error(`Secrets Manager can't find the specified secret.`), { name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }));
    const { deps: lambda } = deps();
    await expect(invoke(makeInspectHandler(() => lambda), { input: INPUT, run: RUN })).rejects.toMatchObject({ name: 'MigrationRefused', message: expect.stringContaining('ResourceNotFoundException') });
  });

  it('without DJMIGRATE_DB_SECRET_ARN: a refusal', async () => {
    const { deps: lambda } = deps({ secretArn: '' });
    await expect(lambda.openDatabase()).rejects.toMatchObject({ name: 'MigrationRefused', message: expect.stringContaining('DJMIGRATE_DB_SECRET_ARN') });
  });

  it('iamAuth: true connects with an RDS IAM token over TLS (no password in the secret)', async () => {
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ host: SECRET.host, port: 3306, username: 'iam_user', iamAuth: true }) });
    const iamToken = vi.fn(async () => 'signed-token');
    const { deps: lambda, connect } = deps({ iamToken });
    await invoke(makeInspectHandler(() => lambda), { input: INPUT, run: RUN });
    expect(iamToken).toHaveBeenCalledWith(expect.objectContaining({ host: SECRET.host, username: 'iam_user', port: 3306 }));
    expect(connect.mock.calls[0]![0]).toMatchObject({ user: 'iam_user', password: 'signed-token', ssl: 'Amazon RDS' });
  });

  it('DJMIGRATE_DB_IAM_AUTH (the iamAuth option) turns IAM auth on for a secret without the field', async () => {
    const iamToken = vi.fn(async () => 'signed-token');
    const { deps: lambda, connect } = deps({ iamToken, iamAuth: true });
    await lambda.openDatabase();
    expect(connect.mock.calls[0]![0]).toMatchObject({ password: 'signed-token', ssl: 'Amazon RDS' });
  });
});

describe('fill event', () => {
  it("takes a table's columns, or the single column an execution started before that change passes", () => {
    expect(tableColumnsOf({ input: {}, columns: [3, '4'] }, 'fill')).toEqual([3, 4]);
    expect(tableColumnsOf({ input: {}, column: 7 }, 'rewrite')).toEqual([7]);
    expect(() => tableColumnsOf({ input: {}, columns: [] }, 'fill')).toThrow(/a fill event names its table's columns as "columns"/);
    expect(() => tableColumnsOf({ input: {}, column: 0 }, 'rewrite')).toThrow(/a rewrite event .*got \{"input":\{\},"column":0\}/);
  });
});
