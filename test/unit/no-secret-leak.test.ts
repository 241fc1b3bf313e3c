// No part of the database secret (password, user, host) may reach the execution input/output, the logs, the reports,
// the events or an error message: handlers run with a secret of unique sentinels, and every channel is searched.
import { inspect } from 'node:util';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { clearCache } from '@middy/util';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeInspectHandler } from '../../functions/handlers/inspect.js';
import { createLambdaDeps, parseDbSecret } from '../../functions/handlers/lambda-deps.js';
import { phaseHandler } from '../../functions/handlers/phase-handler.js';
import { makeReportHandler } from '../../functions/handlers/report.js';
import { makeUnlockHandler } from '../../functions/handlers/unlock.js';
import { makeDiscoverBatchHandler } from '../../functions/handlers/batch/discover.js';

vi.mock('../../functions/core/lock/schema-lock.js', async () => (await import('../harness/core-fakes.js')).schemaLockFake());
vi.mock('../../functions/core/migrate011/inspect.js', async () => (await import('../harness/core-fakes.js')).inspect011Fake());
vi.mock('../../functions/core/migrate011/plan.js', async () => (await import('../harness/core-fakes.js')).plan011Fake());
vi.mock('../../functions/core/migrate011/report.js', async () => (await import('../harness/core-fakes.js')).report011Fake());

const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
const PASSWORD = `S3cr3t-Sentinel-${unique}`;
const USER = `sentinel_user_${unique}`;
const HOST = `sentinel-host-${unique}.db.example`;
const SENTINELS = [PASSWORD, USER, HOST];
const SECRET = { host: HOST, port: 3306, username: USER, password: PASSWORD, engine: 'mysql' };
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:djmigrate-db-AbCdEf';
const RUN = 'arn:aws:states:eu-west-1:123456789012:execution:Migrate011:exec-leak';
const INPUT = { from: '0.11', schema: 'lab', stores: {}, execute: true };

const s3 = mockClient(S3Client);
const eventBridge = mockClient(EventBridgeClient);
const secretsManager = mockClient(SecretsManagerClient);

const fakeConnection = () => ({ end: vi.fn(async () => undefined) }) as unknown as Connection;
/** What a driver says on a refused login: it names the user and the client host. */
const accessDenied = () => Object.assign(new Error(`Access denied for user '${USER}'@'${HOST}' (using password: YES)`), { code: 'ER_ACCESS_DENIED_ERROR', errno: 1045 });

/** Everything that leaves the function: output streams, results, errors (as Lambda serializes them and in full), S3 bodies, events. */
let seen: string[] = [];
let restore: () => void = () => undefined;
beforeEach(() => {
  seen = [];
  s3.reset();
  eventBridge.reset();
  secretsManager.reset();
  s3.on(PutObjectCommand).resolves({});
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(SECRET) });
  const grab = (chunk: unknown) => {
    seen.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(grab),
    vi.spyOn(process.stderr, 'write').mockImplementation(grab),
    ...(['log', 'info', 'warn', 'error', 'debug'] as const).map((method) => vi.spyOn(console, method).mockImplementation((...args: unknown[]) => grab(args.map((arg) => inspect(arg, { depth: 10 })).join(' ')))),
  ];
  restore = () => spies.forEach((spy) => spy.mockRestore());
});
afterEach(() => {
  restore();
  clearCache();
});

function collectAws(): void {
  for (const call of s3.commandCalls(PutObjectCommand)) seen.push(String(call.args[0].input.Body), JSON.stringify(call.args[0].input));
  for (const call of eventBridge.commandCalls(PutEventsCommand)) seen.push(JSON.stringify(call.args[0].input));
}

/** Runs the handler; records its result or its error (the Lambda runtime's serialization and a full inspect, causes included). */
async function run(handler: (event: never, context: never) => Promise<unknown>, event: unknown): Promise<{ result?: unknown; error?: Error }> {
  seen.push(JSON.stringify(event));
  try {
    const result = await handler(event as never, {} as never);
    seen.push(JSON.stringify(result));
    return { result };
  } catch (caught) {
    const error = caught as Error;
    seen.push(JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: error.stack?.split('\n') }));
    seen.push(inspect(error, { depth: 10 }));
    return { error };
  }
}

function expectNoSentinel(): void {
  collectAws();
  const everything = seen.join('\n');
  expect(everything.length).toBeGreaterThan(0);
  for (const sentinel of SENTINELS) expect(everything).not.toContain(sentinel);
}

function lambdaDeps(connect: (options: ConnectionOptions) => Promise<Connection> = async () => fakeConnection()) {
  return createLambdaDeps({ secretArn: SECRET_ARN, reportsBucket: 'reports-bucket', eventBus: 'default', connect, workBudgetMs: 1000 });
}

describe('no secret value leaves the function', () => {
  it('a successful run: inspect, report (S3 body, result, event), unlock', async () => {
    const connect = vi.fn(async (_options: ConnectionOptions) => fakeConnection());
    const deps = lambdaDeps(connect);
    expect((await run(makeInspectHandler(() => deps), { input: { ...INPUT, execute: false }, run: RUN })).error).toBeUndefined();
    const report = await run(makeReportHandler(() => deps), { input: INPUT, run: RUN, inspected: { plan: {} }, finished: {}, verified: {} });
    expect(report.result).toMatchObject({ reportLocation: 's3://reports-bucket/reports/lab/exec-leak.json' });
    expect((await run(makeUnlockHandler(() => deps), { input: INPUT, run: RUN, failure: { Error: 'TransientError', Cause: 'lost connection' } })).error).toBeUndefined();
    // the secret was used: it reached the driver, and only the driver
    expect(connect.mock.calls[0]![0]).toMatchObject({ password: PASSWORD, user: USER, host: HOST });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    // the capture works: the logs (progress with the run's keys) and the report body were searched
    expect(seen.join('\n')).toContain('"type":"progress"');
    expect(seen.join('\n')).toContain('"executionArn":"' + RUN + '"');
    expectNoSentinel();
  });

  it('access denied, also after re-reading the secret (ER_ACCESS_DENIED_ERROR)', async () => {
    const deps = lambdaDeps(async () => {
      throw accessDenied();
    });
    const { error } = await run(makeInspectHandler(() => deps), { input: INPUT, run: RUN });
    expect(error?.name).toBe('MigrationRefused');
    const unlocked = await run(makeUnlockHandler(() => deps), { input: INPUT, run: RUN });
    expect(unlocked.error?.name).toBe('MigrationRefused');
    const discovered = await run(makeDiscoverBatchHandler(() => deps), { from: '0.11', schemas: ['lab'], template: { stores: {} } });
    expect(discovered.error).toBeDefined();
    expectNoSentinel();
  });

  it('a rotated secret whose retry fails otherwise, an unreachable host, an unknown host', async () => {
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(SECRET) })
      .resolves({ SecretString: JSON.stringify({ ...SECRET, password: `${PASSWORD}-rotated` }) });
    let calls = 0;
    const deps = lambdaDeps(async () => {
      calls += 1;
      if (calls === 1) throw accessDenied();
      if (calls === 2) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${HOST}`), { code: 'ENOTFOUND', hostname: HOST });
      throw Object.assign(new Error(`connect ECONNREFUSED ${HOST}:3306`), { code: 'ECONNREFUSED', address: HOST });
    });
    const first = await run(makeInspectHandler(() => deps), { input: INPUT, run: RUN });
    expect(first.error?.message).toContain('ENOTFOUND');
    const second = await run(makeInspectHandler(() => deps), { input: INPUT, run: RUN });
    expect(second.error?.name).toBe('TransientError');
    expectNoSentinel();
  });

  it('an error from inside a phase that quotes the database user (table access denied, lost connection)', async () => {
    const deps = lambdaDeps();
    const denied = phaseHandler(() => deps, async () => {
      // the phase opened the connection: the secret is known
      throw Object.assign(new Error(`SELECT command denied to user '${USER}'@'${HOST}' for table 'scan'`), { code: 'ER_TABLEACCESS_DENIED_ERROR' });
    }, 'check');
    const lost = phaseHandler(() => deps, async () => {
      throw Object.assign(new Error(`Connection lost: ${HOST} closed the connection (${USER})`), { code: 'PROTOCOL_CONNECTION_LOST' });
    }, 'check');
    expect((await run(denied, { input: INPUT, run: RUN })).error?.message).toContain('SELECT command denied');
    expect((await run(lost, { input: INPUT, run: RUN })).error?.name).toBe('TransientError');
    expectNoSentinel();
  });

  const malformed: [string, string | undefined][] = [
    ['not JSON', `host=${HOST} user=${USER} password=${PASSWORD}`],
    ['a JSON string', JSON.stringify(`${USER}:${PASSWORD}@${HOST}`)],
    ['a JSON array', JSON.stringify([HOST, USER, PASSWORD])],
    ['wrong types', JSON.stringify({ host: HOST, username: USER, password: 12345, port: PASSWORD, ssl: PASSWORD })],
    ['missing fields', JSON.stringify({ password: PASSWORD, iamAuth: PASSWORD })],
    ['binary', undefined],
  ];
  it.each(malformed)('a malformed secret (%s): a refusal naming fields, never values', async (_label, secretString) => {
    secretsManager.on(GetSecretValueCommand).resolves(secretString === undefined ? { SecretBinary: new TextEncoder().encode(PASSWORD) } : { SecretString: secretString });
    const deps = lambdaDeps();
    const { error } = await run(makeInspectHandler(() => deps), { input: INPUT, run: RUN });
    expect(error?.name).toBe('MigrationRefused');
    expect(error?.message).toContain(SECRET_ARN);
    expectNoSentinel();
  });

  it('parseDbSecret names the bad fields only', () => {
    const error = (() => {
      try {
        parseDbSecret({ host: 7, username: '', password: [PASSWORD], port: PASSWORD, ssl: HOST }, SECRET_ARN);
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error?.message).toMatch(/host must be a non-empty string[\s\S]*password must be a string[\s\S]*port must be an integer[\s\S]*ssl must be/);
    for (const sentinel of SENTINELS) expect(inspect(error, { depth: 10 })).not.toContain(sentinel);
  });
});
