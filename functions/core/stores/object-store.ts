// One interface for every place DataJoint keeps external objects, so the migration core never knows
// whether it talks to S3, an S3-compatible server or a folder on disk.
import type { Readable } from 'node:stream';
import { CallBudget, forEachWithin } from '../call-budget.js';
import type { StreamDigest } from './hash-stream.js';
import type { KeyRange } from './key-ranges.js';

export interface ObjectInfo {
  /** For S3 the key inside the bucket; for a file store the absolute path. */
  key: string;
  size: number;
  /** S3's ETag without quotes (an MD5 only for single-part uploads without SSE-KMS/SSE-C); absent for files. */
  etag?: string;
}

export interface ObjectStore {
  /** Human-readable root, for messages: `s3://bucket` or `file:/data/store`. */
  readonly description: string;
  /** Size of the object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Sizes of many objects (null: missing), where the store has a faster way than a stat each (see statObjects). */
  statMany?(keys: readonly string[], concurrency: number, statsInFlight?: number): Promise<Map<string, ObjectInfo | null>>;
  /** A stream of the object's bytes; rejects with ObjectMissingError when it does not exist. */
  read(key: string): Promise<Readable>;
  /** MD5 + SHA-256 + size of the object's bytes in one pass; rejects with ObjectMissingError when it does not exist. */
  digest(key: string): Promise<StreamDigest>;
  /** Server-side copy of an object of `size` bytes (S3: CopyObject, or a multipart copy past 5 GiB; file copy); never deletes the source. */
  copy(sourceKey: string, targetKey: string, size: number): Promise<void>;
  /** Every object whose key starts with the prefix (a folder prefix ends with `/`), within the key range when given. */
  list(prefix: string, range?: KeyRange): AsyncIterable<ObjectInfo>;
  /** S3 only: the bucket's default server-side encryption algorithm, null when none, undefined when it cannot be read. */
  defaultEncryption?(): Promise<string | null | undefined>;
}

/** The object store of a named DataJoint store. */
export type OpenStore = (name: string) => ObjectStore;

export class ObjectMissingError extends Error {
  override readonly name = 'ObjectMissingError';
  constructor(readonly store: string, readonly key: string) {
    super(`object ${key} does not exist in ${store}`);
  }
}

/**
 * Sizes of many objects (null: missing): the store's statMany (listings `concurrency` at once), else a stat each;
 * single stats `statsInFlight` at once (default `concurrency`).
 */
export function statObjects(store: ObjectStore, keys: readonly string[], concurrency: number, statsInFlight = concurrency): Promise<Map<string, ObjectInfo | null>> {
  return store.statMany ? store.statMany(keys, concurrency, statsInFlight) : statEach(store, keys, statsInFlight);
}

/** A stat per key, `concurrency` at once. */
export async function statEach(store: Pick<ObjectStore, 'stat'>, keys: readonly string[], concurrency: number): Promise<Map<string, ObjectInfo | null>> {
  const found = new Map<string, ObjectInfo | null>();
  await forEachWithin([...new Set(keys)], new CallBudget(), concurrency, async (key) => void found.set(key, await store.stat(key)));
  return found;
}
