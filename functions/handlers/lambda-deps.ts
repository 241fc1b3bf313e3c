// HandlerDeps inside Lambda: the database from a Secrets Manager secret (its ARN in DJMIGRATE_DB_SECRET_ARN, read
// once per container), the stores through the function's role (no credentials anywhere), progress as JSON log lines.
// Nothing here may log or put into an error message any part of the secret's value.
import { RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import mysql, { type Connection, type ConnectionOptions } from 'mysql2/promise';
import type { StoreSpec } from '../core/config/store-spec.js';
import { MigrationRefusedError, TransientError, UNREACHABLE_CODES } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import type { ObjectStore } from '../core/stores/object-store.js';
import { openObjectStore } from '../core/stores/open-store.js';
import { openObjectWriter } from '../core/stores/object-writer.js';
import { rdsSnapshotBackup, schemaCopyBackup, type SchemaBackup } from '../core/migrate014/backup-step.js';
import type { HandlerDeps } from './deps.js';

/** Same name as the stack's DB_SECRET_ARN_ENV (not imported: the bundle must not pull in aws-cdk-lib). */
export const DB_SECRET_ARN_ENV = 'DJMIGRATE_DB_SECRET_ARN';
/** Milliseconds one budgeted invocation may work (the stack sets it from the function's timeout). */
export const WORK_BUDGET_ENV = 'DJMIGRATE_WORK_BUDGET_MS';
/** Without the variable: 10 of the function's 15 minutes, the rest is for the last chunk and the swap. */
export const DEFAULT_WORK_BUDGET_MS = 10 * 60_000;
/** The RDS instance (or, with the cluster variable, Aurora cluster) the 0.14 backup snapshots; unset: a schema copy. */
export const RDS_INSTANCE_ENV = 'DJMIGRATE_RDS_INSTANCE';
export const RDS_CLUSTER_ENV = 'DJMIGRATE_RDS_CLUSTER';

/** The fields djmigrate reads from the secret (an RDS-style secret: extra fields such as engine/dbname are ignored). */
export interface DbSecret {
  host: string;
  port: number;
  username: string;
  password: string;
  /** true (or "Amazon RDS"): TLS with the Amazon RDS CA bundle. Default: no TLS. */
  ssl?: boolean | 'Amazon RDS';
}

export interface LambdaDepsOptions {
  /** Default: process.env.DJMIGRATE_DB_SECRET_ARN. */
  secretArn?: string;
  secretsManager?: Pick<SecretsManagerClient, 'send'>;
  /** Where progress lines go. Default console.log. */
  log?: (line: string) => void;
  /** Default mysql.createConnection. */
  connect?: (options: ConnectionOptions) => Promise<Connection>;
  /** Default: process.env.DJMIGRATE_WORK_BUDGET_MS, else 10 minutes. */
  workBudgetMs?: number;
}

/** Builds HandlerDeps for Lambda. Keeps the secret and the opened store clients for the life of the instance. */
export function createLambdaDeps(options: LambdaDepsOptions = {}): HandlerDeps {
  const log = options.log ?? ((line: string) => console.log(line));
  const connect = options.connect ?? ((connectionOptions: ConnectionOptions) => mysql.createConnection(connectionOptions));
  let secretsManager = options.secretsManager;
  let secret: Promise<DbSecret> | undefined;

  const readSecret = (): Promise<DbSecret> => {
    if (!secret) {
      const secretArn = options.secretArn ?? process.env[DB_SECRET_ARN_ENV];
      secretsManager ??= new SecretsManagerClient({});
      const client = secretsManager;
      secret = secretArn
        ? fetchDbSecret(client, secretArn)
        : Promise.reject(new MigrationRefusedError(`${DB_SECRET_ARN_ENV} is not set: the function does not know its database secret`));
      secret.catch(() => {
        secret = undefined; // a failed read (throttling, network) is tried again by the next call
      });
    }
    return secret;
  };

  const stores = new Map<string, ObjectStore>();
  let backup: SchemaBackup | undefined;
  const progress: ProgressSink = {
    report(event) {
      log(JSON.stringify({ level: 'INFO', type: 'progress', ...event }));
    },
  };

  return {
    async openDatabase() {
      const current = await readSecret();
      try {
        return await connect(connectionOptions(current));
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (UNREACHABLE_CODES.has(code)) {
          throw new TransientError(
            `cannot reach the database at ${current.host}:${current.port} from the function (${code}); check the secret's host and port, and that the functions' subnets and security group can reach it`,
            { cause: error },
          );
        }
        // the secret may have been rotated since this container read it: read it again once
        if (code !== 'ER_ACCESS_DENIED_ERROR') throw error;
        secret = undefined;
        const fresh = await readSecret();
        if (fresh.password === current.password && fresh.username === current.username) throw error;
        return connect(connectionOptions(fresh));
      }
    },
    openStore(name: string, spec: StoreSpec) {
      const key = `${name}\u0000${JSON.stringify(spec)}`;
      let store = stores.get(key);
      if (!store) {
        store = openObjectStore(spec); // no credentials: the SDK's default chain, i.e. the function's role
        stores.set(key, store);
      }
      return store;
    },
    openWriter(_name: string, spec: StoreSpec) {
      return openObjectWriter(spec);
    },
    get backup() {
      backup ??= backupFromEnv();
      return backup;
    },
    progress,
    workBudgetMs: options.workBudgetMs ?? workBudgetFromEnv(),
  };
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

async function fetchDbSecret(client: Pick<SecretsManagerClient, 'send'>, secretArn: string): Promise<DbSecret> {
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (typeof response.SecretString !== 'string') {
    throw new MigrationRefusedError(`database secret ${secretArn} has no SecretString (binary secrets are not supported)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(response.SecretString);
  } catch {
    // JSON.parse's message quotes the text: never pass it on
    throw new MigrationRefusedError(`database secret ${secretArn} is not a JSON object with host, port, username and password`);
  }
  return parseDbSecret(value, secretArn);
}

/** Checks the secret's shape; messages name missing/invalid fields only, never values. */
export function parseDbSecret(value: unknown, secretArn: string): DbSecret {
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
  const password = fields.password;
  if (typeof password !== 'string') problems.push('password must be a string');
  const port = fields.port === undefined ? 3306 : Number(fields.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push('port must be an integer 1-65535');
  const ssl = fields.ssl;
  if (ssl !== undefined && ssl !== true && ssl !== false && ssl !== 'Amazon RDS') problems.push('ssl must be true, false or "Amazon RDS"');
  if (problems.length) throw new MigrationRefusedError(`database secret ${secretArn} is incomplete`, problems);
  return { host, port, username, password: password as string, ssl: ssl as DbSecret['ssl'] };
}

function connectionOptions(secret: DbSecret): ConnectionOptions {
  return {
    host: secret.host,
    port: secret.port,
    user: secret.username,
    password: secret.password,
    ...(secret.ssl ? { ssl: 'Amazon RDS' } : {}),
    connectTimeout: 10_000,
    enableKeepAlive: true,
  };
}
