import { S3Client } from '@aws-sdk/client-s3';
import type { StoreSpec } from '../config/store-spec.js';
import { FileObjectStore } from './file-store.js';
import type { ObjectStore } from './object-store.js';
import { DIRECTORY_BUCKET, isAwsEndpoint, s3ClientConfig, S3ObjectStore, type S3Credentials } from './s3-store.js';

/**
 * Key ranges listed at once on AWS. S3-compatible servers get one request after another (s3rver walks the whole
 * bucket for each), and so do S3 directory buckets (`…--x-s3`): they list in no order and ignore StartAfter.
 */
export const AWS_LIST_RANGES = 16;

/** The object store behind a DataJoint store spec. Without credentials the SDK's default chain applies (Lambda role). */
export function openObjectStore(spec: StoreSpec, credentials?: S3Credentials): ObjectStore {
  if (spec.protocol === 'file') return new FileObjectStore(spec.location);
  return new S3ObjectStore(new S3Client(s3ClientConfig(spec, credentials)), spec.bucket, {
    listRanges: isAwsEndpoint(spec.endpoint) && !DIRECTORY_BUCKET.test(spec.bucket) ? AWS_LIST_RANGES : 1,
  });
}

/**
 * Opens a store (or writer) once per name and spec and hands the same one back after: it keeps its S3 client, and so
 * its connections, across calls (a writer opened per attachment paid a new client and connection for every PUT).
 */
export function openedOnce<T>(open: (name: string, spec: StoreSpec) => T): (name: string, spec: StoreSpec) => T {
  const opened = new Map<string, T>();
  return (name, spec) => {
    const key = `${name}\u0000${JSON.stringify(spec)}`;
    let value = opened.get(key);
    if (value === undefined) {
      value = open(name, spec);
      opened.set(key, value);
    }
    return value;
  };
}
