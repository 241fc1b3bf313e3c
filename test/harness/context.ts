// What tests import to reach the sandbox started by global-setup.ts, and to get fresh, uniquely named
// databases, buckets and folders so tests never see each other's data (files run in parallel).
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import mysql from 'mysql2/promise';
import { inject } from 'vitest';
import type { FileStoreSpec, S3StoreSpec } from '../../functions/core/config/store-spec.js';
import { s3ClientConfig, type S3Credentials } from '../../functions/core/stores/s3-store.js';
import type { LegacyStores } from '../../functions/local/sandbox/legacy-pipeline.js';
import { connect } from '../../functions/local/sandbox/sandbox.js';

export interface SandboxContext {
  /** `mysql://user:password@host:port/` */
  mysqlUrl: string;
  s3: { endpoint: string; credentials: S3Credentials };
  /** A temp folder for file stores; removed when the run ends. */
  fileRoot: string;
}

/** The run's sandbox; throws (failing the calling test) when it could not be started. */
export function sandbox(): SandboxContext {
  const error = inject('sandboxError');
  if (error) throw new Error(`the test sandbox is not available: ${error}`);
  return {
    mysqlUrl: inject('mysqlUrl'),
    s3: { endpoint: inject('s3Endpoint'), credentials: { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') } },
    fileRoot: inject('fileRoot'),
  };
}

let counter = 0;
const uniqueTail = (): string => `${process.pid.toString(36)}_${(counter++).toString(36)}_${randomBytes(3).toString('hex')}`;

/** A database name no other test uses: `<prefix>_<pid>_<n>_<random>`, lower case, at most 64 characters. */
export function freshSchemaName(prefix = 'djm'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const tail = uniqueTail();
  return `${clean.slice(0, 63 - tail.length)}_${tail}`;
}

/** A bucket name no other test uses (S3 rules: lower case, digits, hyphens, 3–63 characters). */
export function freshBucketName(prefix = 'djm'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+/, '') || 'djm';
  const tail = uniqueTail().replace(/_/g, '-');
  return `${clean.slice(0, 62 - tail.length)}-${tail}`;
}

/** A mysql2 connection to the sandbox's server (see `connect` for its options). */
export function openConnection(database?: string): Promise<Connection> {
  return connect(sandbox().mysqlUrl, database);
}

export interface FreshSchema {
  /** The database name; not created yet (the legacy fixtures and tests create it). */
  name: string;
  /** A connection without a default database. */
  conn: Connection;
  /** Drops the database (if it exists) and closes the connection. */
  cleanup(): Promise<void>;
}

export async function freshSchema(prefix = 'djm'): Promise<FreshSchema> {
  const name = freshSchemaName(prefix);
  const conn = await openConnection();
  return {
    name,
    conn,
    async cleanup() {
      try {
        await conn.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name, true)}`);
      } finally {
        await conn.end();
      }
    },
  };
}

/** Creates a new bucket in the sandbox's s3rver and returns its name. */
export async function freshBucket(prefix = 'djm'): Promise<string> {
  const name = freshBucketName(prefix);
  await createBucket(name);
  return name;
}

/** A new empty folder under the sandbox's file root. */
export async function freshFolder(prefix = 'djm'): Promise<string> {
  return mkdtemp(join(sandbox().fileRoot, `${prefix.replace(/[^\w-]/g, '_')}-`));
}

export function s3Store(bucket: string, location: string): S3StoreSpec {
  return { protocol: 's3', endpoint: sandbox().s3.endpoint, bucket, location };
}

export function fileStore(location: string): FileStoreSpec {
  return { protocol: 'file', location };
}

export interface FreshLegacyStores {
  bucket: string;
  /** Root of the file store `external-local`. */
  folder: string;
  /** `external` (s3, location `lab`), `external-shared` (s3, location `shared`), `external-local` (file) — as in real-examples 1.1. */
  stores: LegacyStores;
}

/** The three 0.11 stores of real-examples 1.1 in a fresh bucket and folder (locations can be overridden). */
export async function freshLegacyStores(
  prefix = 'djm',
  locations: { external?: string; shared?: string } = {},
): Promise<FreshLegacyStores> {
  const [bucket, folder] = await Promise.all([freshBucket(prefix), freshFolder(prefix)]);
  const credentials = sandbox().s3.credentials;
  return {
    bucket,
    folder,
    stores: {
      external: { spec: s3Store(bucket, locations.external ?? 'lab'), credentials },
      'external-shared': { spec: s3Store(bucket, locations.shared ?? 'shared'), credentials },
      'external-local': { spec: fileStore(folder) },
    },
  };
}

async function createBucket(name: string): Promise<void> {
  const context = sandbox();
  const client = new S3Client(s3ClientConfig({ endpoint: context.s3.endpoint, bucket: name }, context.s3.credentials));
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } finally {
    client.destroy();
  }
}
