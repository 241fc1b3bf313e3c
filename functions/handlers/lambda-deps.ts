// HandlerDeps inside Lambda: the database from a Secrets Manager secret (its ARN in DJMIGRATE_DB_SECRET_ARN, read by
// @middy/secrets-manager on the handler and cached for 15 minutes), the stores through the function's role (no
// credentials anywhere), progress as structured JSON logs and EMF metrics, reports in the reports bucket, outcome events
// on the event bus. Nothing here may log or put into an error message any part of the secret's value.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ControlClient } from '@aws-sdk/client-s3-control';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Signer } from '@aws-sdk/rds-signer';
import secretsManager from '@middy/secrets-manager';
import { clearCache, getInternal } from '@middy/util';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import { classifyError, MigrationRefusedError, TransientError, UNREACHABLE_CODES } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import type { ChecksumJobs } from '../core/migrate011/batch-checksum.js';
import { s3ManifestStore, type ManifestStore } from '../core/stores/manifest-store.js';
import { s3BatchChecksumJobs } from '../core/stores/s3-batch-checksum.js';
import { openedOnce, openObjectStore } from '../core/stores/open-store.js';
import { openObjectWriter } from '../core/stores/object-writer.js';
import { rdsSnapshotBackup, schemaCopyBackup, type SchemaBackup } from '../core/migrate014/backup-step.js';
import { DEFAULT_WORK_BUDGET_MS, type HandlerDeps } from './deps.js';
import { EVENT_BUS_ENV, eventBridgePublisher, noEvents, type EventPublisher } from './ops/events.js';
import { observability, type AnyMiddleware } from './ops/invocation.js';
import { createLogger } from './ops/logger.js';
import { createMetrics, recordProgress } from './ops/metrics.js';
import { noReports, REPORTS_BUCKET_ENV, REPORTS_KMS_KEY_ENV, s3ReportStore, type ReportStore } from './ops/reports.js';

/** Same name as the stack's DB_SECRET_ARN_ENV (not imported: the bundle must not pull in aws-cdk-lib). */
export const DB_SECRET_ARN_ENV = 'DJMIGRATE_DB_SECRET_ARN';
/** Milliseconds one budgeted invocation may work (the stack sets it from the function's timeout). */
export const WORK_BUDGET_ENV = 'DJMIGRATE_WORK_BUDGET_MS';
/** The RDS instance (or, with the cluster variable, Aurora cluster) the 0.14 backup snapshots; unset: a schema copy. */
export const RDS_INSTANCE_ENV = 'DJMIGRATE_RDS_INSTANCE';
export const RDS_CLUSTER_ENV = 'DJMIGRATE_RDS_CLUSTER';

/** Same name as the stack's variable: the bucket of the Distributed Map's manifests. */
export const MANIFESTS_BUCKET_ENV = 'DJMIGRATE_MANIFESTS_BUCKET';
/** Same names as the stack's (lib/djmigrate-stack.ts): the role S3 Batch Operations assumes for Compute checksum jobs, and the account they run in. */
export const BATCH_CHECKSUM_ROLE_ENV = 'DJMIGRATE_BATCH_CHECKSUM_ROLE_ARN';
export const ACCOUNT_ID_ENV = 'DJMIGRATE_ACCOUNT_ID';
/** Where in the manifests bucket each run's Compute checksum manifest and report go. */
export const CHECKSUM_PREFIX = 'manifests/checksums';

/** An RDS Proxy endpoint to connect through instead of the secret's host (same user and password or IAM auth). */
export const DB_PROXY_ENDPOINT_ENV = 'DJMIGRATE_DB_PROXY_ENDPOINT';

/** `true`: connect with an RDS IAM auth token (made by @aws-sdk/rds-signer, TLS) instead of the secret's password. */
export const DB_IAM_AUTH_ENV = 'DJMIGRATE_DB_IAM_AUTH';
/** How long a read secret is reused (a rotation is picked up at the latest then, or at once on access denied). */
export const SECRET_CACHE_MS = 15 * 60_000;

/** The fields djmigrate reads from the secret (an RDS-style secret: extra fields such as engine/dbname are ignored). */
export interface DbSecret {
  host: string;
  port: number;
  username: string;
  /** Not needed with iamAuth. */
  password: string;
  /** true (or "Amazon RDS"): TLS with the Amazon RDS CA bundle. Default: no TLS (IAM auth always uses TLS). */
  ssl?: boolean | 'Amazon RDS';
  /** true: the password is an RDS IAM auth token made for each connection (the function's role needs rds-db:connect). */
  iamAuth?: boolean;
}

export interface LambdaDepsOptions {
  /** Default: process.env.DJMIGRATE_DB_SECRET_ARN. */
  secretArn?: string;
  /** The client @middy/secrets-manager reads the secret with. Default: its own SecretsManagerClient. */
  secretsManager?: Pick<SecretsManagerClient, 'send'>;
  /** Default: one Powertools Logger (service POWERTOOLS_SERVICE_NAME, else djmigrate). */
  logger?: Logger;
  /** Default: Powertools Metrics (namespace POWERTOOLS_METRICS_NAMESPACE, else djmigrate). */
  metrics?: Metrics;
  /** Default mysql.createConnection. */
  connect?: (options: ConnectionOptions) => Promise<Connection>;
  /** Default: process.env.DJMIGRATE_WORK_BUDGET_MS, else 10 minutes. */
  workBudgetMs?: number;
  /** Default: process.env.DJMIGRATE_REPORTS_BUCKET; unset or null: reports are not written. */
  reportsBucket?: string | null;
  s3?: Pick<S3Client, 'send'>;
  /** Default: process.env.DJMIGRATE_MANIFESTS_BUCKET; unset or null: no Distributed Map manifests can be written. */
  manifestsBucket?: string | null;
  /** Default: process.env.DJMIGRATE_EVENT_BUS; unset or null: no events. */
  eventBus?: string | null;
  eventBridge?: Pick<EventBridgeClient, 'send'>;
  /** Default: process.env.DJMIGRATE_DB_PROXY_ENDPOINT; unset or null: the secret's host. */
  proxyEndpoint?: string | null;
  /** Default: process.env.DJMIGRATE_DB_IAM_AUTH === 'true' (a secret's own iamAuth: true also turns it on). */
  iamAuth?: boolean;
  /** Makes the IAM auth token. Default: @aws-sdk/rds-signer's Signer in the function's region. */
  iamToken?: (secret: DbSecret) => Promise<string>;
}

let instances = 0;

/** Builds HandlerDeps for Lambda. Keeps the secret (through middy's cache) and the opened store clients for the life of the instance. */
export function createLambdaDeps(options: LambdaDepsOptions = {}): HandlerDeps {
  const logger = options.logger ?? createLogger();
  const metrics = options.metrics ?? createMetrics();
  const connect = options.connect ?? ((connectionOptions: ConnectionOptions) => mysql.createConnection(connectionOptions));
  const secretArn = options.secretArn ?? process.env[DB_SECRET_ARN_ENV];
  const iamAuthDefault = options.iamAuth ?? process.env[DB_IAM_AUTH_ENV] === 'true';
  const iamToken = options.iamToken ?? signerToken;

  // the secret: read by @middy/secrets-manager (on the handler, see `middleware`), parsed here
  const cacheKey = `djmigrate-db-secret-${++instances}`;
  const customClient = options.secretsManager;
  const secretsMiddleware = secretArn
    ? secretsManager({
        fetchData: { dbSecret: secretArn },
        cacheKey,
        cacheExpiry: SECRET_CACHE_MS,
        disablePrefetch: true,
        ...(customClient ? { AwsClient: fixedClient(customClient) } : {}),
      })
    : undefined;
  const secretValues = new Set<string>();
  const redact = (text: string): string => redactValues(text, secretValues);

  const loadSecret = async (request?: SecretRequest): Promise<DbSecret> => {
    if (!secretsMiddleware || !secretArn) {
      throw new MigrationRefusedError(`${DB_SECRET_ARN_ENV} is not set: the function does not know its database secret`);
    }
    const target = request ?? emptyRequest();
    let raw: unknown;
    try {
      await secretsMiddleware.before!(target as never);
      raw = (await getInternal(['dbSecret'], target as never)).dbSecret;
    } catch (error) {
      throw secretReadError(error, secretArn);
    }
    const parsed = parseDbSecret(raw, secretArn, iamAuthDefault);
    for (const value of [parsed.password, parsed.username, parsed.host]) if (value) secretValues.add(value);
    return parsed;
  };
  let secret: Promise<DbSecret> | undefined;
  const readSecret = (request?: SecretRequest): Promise<DbSecret> => {
    const reading = loadSecret(request);
    secret = reading;
    reading.catch(() => {
      if (secret === reading) secret = undefined; // a failed read (throttling, network) is tried again by the next call
    });
    return reading;
  };

  const proxyHost = options.proxyEndpoint !== undefined ? options.proxyEndpoint : process.env[DB_PROXY_ENDPOINT_ENV] || null;
  const connectWith = async (current: DbSecret): Promise<Connection> => {
    const target = proxyHost ? { ...current, host: proxyHost } : current;
    const password = target.iamAuth ? await iamToken(target) : target.password;
    return connect(connectionOptions(target, password));
  };

  let backup: SchemaBackup | undefined;
  const progress: ProgressSink = {
    report(event) {
      logger.info('progress', { type: 'progress', ...event });
      recordProgress(metrics, event);
    },
  };

  const reportsBucket = options.reportsBucket !== undefined ? options.reportsBucket : process.env[REPORTS_BUCKET_ENV] || null;
  const reports: ReportStore = reportsBucket
    ? lazy(() => s3ReportStore(options.s3 ?? new S3Client({}), reportsBucket, logger, process.env[REPORTS_KMS_KEY_ENV] || undefined))
    : noReports;
  const manifestsBucket = options.manifestsBucket !== undefined ? options.manifestsBucket : process.env[MANIFESTS_BUCKET_ENV] || null;
  const manifests: ManifestStore = manifestsBucket ? s3ManifestStore(() => new S3Client({}), manifestsBucket) : noManifests;
  const checksumRole = process.env[BATCH_CHECKSUM_ROLE_ENV];
  const accountId = process.env[ACCOUNT_ID_ENV];
  const checksumJobs: ChecksumJobs | undefined =
    checksumRole && accountId && manifestsBucket
      ? s3BatchChecksumJobs(() => ({ control: new S3ControlClient({}), s3: new S3Client({}) }), { accountId, roleArn: checksumRole, bucket: manifestsBucket, prefix: CHECKSUM_PREFIX })
      : undefined;
  const eventBus = options.eventBus !== undefined ? options.eventBus : process.env[EVENT_BUS_ENV] || null;
  const events: EventPublisher = eventBus ? eventBridgePublisher(lazySend(() => options.eventBridge ?? new EventBridgeClient({})), eventBus, logger) : noEvents;

  return {
    async openDatabase() {
      const current = await (secret ?? readSecret());
      try {
        return await connectWith(current);
      } catch (error) {
        const code = errorCode(error);
        if (code !== 'ER_ACCESS_DENIED_ERROR') throw connectError(error, code, secretArn!, redact);
        // the secret may have been rotated since it was read: read it again once
        clearCache([cacheKey]);
        const fresh = await readSecret();
        if (!fresh.iamAuth && fresh.password === current.password && fresh.username === current.username) throw accessDenied(secretArn!);
        try {
          return await connectWith(fresh);
        } catch (retryError) {
          throw connectError(retryError, errorCode(retryError), secretArn!, redact);
        }
      }
    },
    // no credentials: the SDK's default chain, i.e. the function's role
    openStore: openedOnce((_name, spec) => openObjectStore(spec)),
    openWriter: openedOnce((_name, spec) => openObjectWriter(spec)),
    get backup() {
      backup ??= backupFromEnv();
      return backup;
    },
    progress,
    workBudgetMs: options.workBudgetMs ?? workBudgetFromEnv(),
    reports,
    manifests,
    checksumJobs,
    events,
    middleware({ workflow, database }) {
      const list: AnyMiddleware[] = [observability({ logger, metrics, workflow, redact })];
      if (database) {
        list.push({
          before(request) {
            // read (from middy's cache, or Secrets Manager) now; a failure surfaces where the handler opens the database
            void readSecret(request as SecretRequest);
          },
        });
      }
      return list;
    },
  };
}

type SecretRequest = { event: unknown; context: unknown; response: unknown; error: unknown; internal: Record<string, unknown> };

function emptyRequest(): SecretRequest {
  return { event: {}, context: {}, response: undefined, error: undefined, internal: {} };
}

/** An AwsClient for @middy/secrets-manager that hands out the given client. */
function fixedClient(client: Pick<SecretsManagerClient, 'send'>): typeof SecretsManagerClient {
  return function FixedClient() {
    return client;
  } as unknown as typeof SecretsManagerClient;
}

const noManifests: ManifestStore = {
  write() {
    return Promise.reject(new MigrationRefusedError(`${MANIFESTS_BUCKET_ENV} is not set: the function has no bucket for the Distributed Map's manifest; deploy the stack's manifests bucket or raise distributedHashingFrom above the object count`));
  },
  read() {
    throw new MigrationRefusedError(`${MANIFESTS_BUCKET_ENV} is not set: there are no manifests to read`);
  },
};

function lazy(make: () => ReportStore): ReportStore {
  let store: ReportStore | undefined;
  return {
    put(key, report) {
      store ??= make();
      return store.put(key, report);
    },
  };
}

function lazySend(make: () => Pick<EventBridgeClient, 'send'>): Pick<EventBridgeClient, 'send'> {
  let client: Pick<EventBridgeClient, 'send'> | undefined;
  return {
    send: ((command: never) => {
      client ??= make();
      return client.send(command);
    }) as EventBridgeClient['send'],
  };
}

async function signerToken(secret: DbSecret): Promise<string> {
  return new Signer({ hostname: secret.host, port: secret.port, username: secret.username }).getAuthToken();
}

function errorCode(error: unknown): string {
  return (error as { code?: string } | undefined)?.code ?? '';
}

/** Values shorter than this are not searched for (they would garble ordinary words). */
const MIN_REDACTED = 4;

export function redactValues(text: string, values: Iterable<string>): string {
  let result = text;
  for (const value of [...values].filter((item) => item.length >= MIN_REDACTED).sort((a, b) => b.length - a.length)) {
    result = result.split(value).join('***');
  }
  return result;
}

function accessDenied(secretArn: string): MigrationRefusedError {
  return new MigrationRefusedError(
    `the database refused the login of database secret ${secretArn} (ER_ACCESS_DENIED_ERROR); check the secret's username and password (or, with IAM auth, that the user has AWSAuthenticationPlugin and the function's role rds-db:connect)`,
  );
}

/** A connection error without the driver's text where that quotes the user or host; no cause attached. */
function connectError(error: unknown, code: string, secretArn: string, redact: (text: string) => string): Error {
  if (code === 'ER_ACCESS_DENIED_ERROR') return accessDenied(secretArn);
  if (UNREACHABLE_CODES.has(code)) {
    return new TransientError(
      `cannot reach the database of secret ${secretArn} from the function (${code}); check the secret's host and port, and that the functions' subnets and security group can reach it`,
    );
  }
  if (!(error instanceof Error)) return new Error(redact(String(error)));
  const clean = new Error(redact(error.message)) as Error & { code?: string };
  clean.name = error.name;
  if (code) clean.code = code;
  return classifyError(clean) as Error;
}

/** A failed read of the secret: middy wraps the SDK's error; the SDK's error names the secret's ARN, never its value. */
function secretReadError(error: unknown, secretArn: string): unknown {
  const data = (error as { cause?: { data?: unknown[] } } | undefined)?.cause?.data;
  const inner = Array.isArray(data) && data.length ? data[0] : error;
  const classified = classifyError(inner);
  if (classified instanceof TransientError) return classified;
  const status = (inner as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode ?? 0;
  const name = (inner as { name?: string } | undefined)?.name ?? 'Error';
  if (status >= 400 && status < 500) {
    return new MigrationRefusedError(`cannot read database secret ${secretArn} (${name}); check that it exists and that the function's role may read it (secretsmanager:GetSecretValue, and kms:Decrypt for its key)`);
  }
  return inner;
}

function workBudgetFromEnv(): number {
  const value = Number(process.env[WORK_BUDGET_ENV]);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_WORK_BUDGET_MS;
}

function backupFromEnv(): SchemaBackup {
  const cluster = process.env[RDS_CLUSTER_ENV];
  const instance = process.env[RDS_INSTANCE_ENV];
  if (!cluster && !instance) return schemaCopyBackup;
  return rdsSnapshotBackup(new RDSClient({}), cluster ? { identifier: cluster, cluster: true } : { identifier: instance! });
}

let shared: HandlerDeps | undefined;

/** The HandlerDeps of this Lambda instance (created on first use, reused across invocations). */
export function lambdaDeps(): HandlerDeps {
  shared ??= createLambdaDeps();
  return shared;
}

/**
 * Checks the secret's shape (as @middy/secrets-manager parsed it: an object, the raw text when it is not JSON,
 * undefined when binary); messages name missing/invalid fields only, never values.
 */
export function parseDbSecret(value: unknown, secretArn: string, iamAuthDefault = false): DbSecret {
  if (value === undefined) {
    throw new MigrationRefusedError(`database secret ${secretArn} has no SecretString (binary secrets are not supported)`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MigrationRefusedError(`database secret ${secretArn} is not a JSON object with host, port, username and password`);
  }
  const fields = value as Record<string, unknown>;
  const problems: string[] = [];
  const text = (field: string): string => {
    const item = fields[field];
    if (typeof item !== 'string' || item === '') problems.push(`${field} must be a non-empty string`);
    return typeof item === 'string' ? item : '';
  };
  const host = text('host');
  const username = text('username');
  const iamAuthField = fields.iamAuth;
  if (iamAuthField !== undefined && typeof iamAuthField !== 'boolean') problems.push('iamAuth must be true or false');
  const iamAuth = iamAuthField === true || (iamAuthField === undefined && iamAuthDefault);
  const password = fields.password;
  if (typeof password !== 'string' && !(iamAuth && password === undefined)) problems.push('password must be a string');
  const port = fields.port === undefined ? 3306 : Number(fields.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push('port must be an integer 1-65535');
  const ssl = fields.ssl;
  if (ssl !== undefined && ssl !== true && ssl !== false && ssl !== 'Amazon RDS') problems.push('ssl must be true, false or "Amazon RDS"');
  if (problems.length) throw new MigrationRefusedError(`database secret ${secretArn} is incomplete`, problems);
  return { host, port, username, password: typeof password === 'string' ? password : '', ssl: ssl as DbSecret['ssl'], ...(iamAuth ? { iamAuth: true } : {}) };
}

function connectionOptions(secret: DbSecret, password: string): ConnectionOptions {
  return {
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password,
    ...(secret.ssl || secret.iamAuth ? { ssl: 'Amazon RDS' } : {}),
    connectTimeout: 10_000,
    enableKeepAlive: true,
  };
}
