// Everything a local run needs, thrown away afterwards: a MariaDB (unless DJMIGRATE_TEST_MYSQL_URL names a
// server to use instead), an s3rver, and a temp folder under which file stores live.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { S3StoreSpec } from '../../core/config/store-spec.js';
import type { S3Credentials } from '../../core/stores/s3-store.js';
import { removeOnExit, startMariaDb, type MariaDbServer } from './mariadb.js';
import { startS3rver, type S3rverServer } from './s3rver.js';

/** Set to a `mysql://user:password@host:port/` URL to test against that server instead of a throwaway MariaDB. */
export const MYSQL_URL_ENV = 'DJMIGRATE_TEST_MYSQL_URL';

export interface Sandbox {
  /** `mysql://user:password@127.0.0.1:port/` (no database). */
  mysqlUrl: string;
  /** True when the MySQL server is the one from DJMIGRATE_TEST_MYSQL_URL (not started here, not stopped). */
  externalMysql: boolean;
  s3: {
    /** DataJoint-style `127.0.0.1:<port>`, for a store spec's `endpoint`. */
    endpoint: string;
    url: string;
    credentials: S3Credentials;
  };
  /** A temp folder for file stores (removed by `stop`). */
  fileRoot: string;
  createBucket(name: string): Promise<void>;
  /** An s3 store spec on this sandbox's s3rver. */
  s3Store(bucket: string, location: string): S3StoreSpec;
  stop(): Promise<void>;
}

export interface StartSandboxOptions {
  /** Defaults to process.env.DJMIGRATE_TEST_MYSQL_URL; when unset a throwaway MariaDB is started. */
  mysqlUrl?: string;
}

export async function startSandbox(options: StartSandboxOptions = {}): Promise<Sandbox> {
  const givenUrl = options.mysqlUrl ?? (process.env[MYSQL_URL_ENV] || undefined);
  const started = await Promise.allSettled([
    givenUrl ? Promise.resolve(null) : startMariaDb(),
    startS3rver(),
    mkdtemp(join(tmpdir(), 'djm-files-')),
  ] as const);
  const [dbResult, s3Result, rootResult] = started;
  if (dbResult.status === 'rejected' || s3Result.status === 'rejected' || rootResult.status === 'rejected') {
    await Promise.allSettled([
      dbResult.status === 'fulfilled' ? dbResult.value?.stop() : undefined,
      s3Result.status === 'fulfilled' ? s3Result.value.stop() : undefined,
      rootResult.status === 'fulfilled' ? rm(rootResult.value, { recursive: true, force: true }) : undefined,
    ]);
    const reasons = started.filter((result) => result.status === 'rejected').map((result) => (result as PromiseRejectedResult).reason);
    throw reasons.length === 1 ? reasons[0] : new AggregateError(reasons, reasons.map(String).join('\n'));
  }
  const db: MariaDbServer | null = dbResult.value;
  const s3: S3rverServer = s3Result.value;
  const fileRoot = rootResult.value;
  const rootGuard = removeOnExit(fileRoot);
  const mysqlUrl = givenUrl ?? db!.url;
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  let stopped = false;
  return {
    mysqlUrl,
    externalMysql: db === null,
    s3: { endpoint: s3.endpoint, url: s3.url, credentials },
    fileRoot,
    createBucket: (name) => s3.createBucket(name),
    s3Store: (bucket, location) => ({ protocol: 's3', endpoint: s3.endpoint, bucket, location }),
    async stop() {
      if (stopped) return;
      stopped = true;
      const results = await Promise.allSettled([db?.stop(), s3.stop(), rm(fileRoot, { recursive: true, force: true })]);
      rootGuard.release();
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) throw (failure as PromiseRejectedResult).reason;
    },
  };
}

/**
 * A mysql2/promise connection: one statement per query, BIGINTs as numbers while they fit and as strings only
 * beyond 2^53. `database` overrides the URL's path.
 */
export async function connect(url: string, database?: string): Promise<mysql.Connection> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'mysql:') throw new Error(`expected a mysql:// URL, got ${parsed.protocol}`);
  const fromPath = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return mysql.createConnection({
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: database ?? (fromPath || undefined),
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
  });
}
