// Hashes one batch of legacy objects where they are: each object streamed once through MD5 and SHA-256,
// checked against the size and the SHA-256 that 0.11 recorded, and (native mode) copied server-side to its
// 0.12 uuid path. A corrupt, truncated or swapped object stops the migration.
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE, LEGACY_HASH_LENGTH, legacyHashFromDigest, legacyObjectKey, legacyRelativePath } from '../datajoint/v011.js';
import { migratedBlobUuid, storeObjectKey, uuidRelativePath } from '../datajoint/v012.js';
import { execute, select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
import { digestStream } from '../stores/hash-stream.js';
import { ObjectMissingError } from '../stores/object-store.js';
import type { Migrate011Input } from './input.js';
import { journalTables } from './journal.js';
import type { OpenStore } from '../stores/object-store.js';

export interface HashedBatch {
  batch: number;
  objects: number;
  bytes: number;
}

export interface PendingObject {
  legacy_hash: Buffer;
  store: string;
  size: number;
}

interface HashedObject extends PendingObject {
  contentsHash: Buffer;
  newHash: Buffer;
}

export async function hashBatch(conn: Connection, input: Migrate011Input, batch: number, openStore: OpenStore, progress: ProgressSink): Promise<HashedBatch> {
  const t = journalTables(input.schema);
  const pending = await select<PendingObject>(conn, `SELECT legacy_hash, store, size FROM ${t.objects} WHERE batch = ? AND contents_hash IS NULL`, [batch]);
  const limit = pLimit(input.hashConcurrency);
  const outcomes = await Promise.allSettled(pending.map((object) => limit(() => hashObject(input, { ...object, size: Number(object.size) }, openStore, progress))));
  const hashed = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  // Keep what was verified even when another object failed: a rerun then only redoes the failures.
  if (hashed.length) {
    await execute(
      conn,
      `INSERT INTO ${t.objects} (legacy_hash, store, batch, size, contents_hash, new_hash, contents_from) VALUES ?
       ON DUPLICATE KEY UPDATE contents_hash = VALUES(contents_hash), new_hash = VALUES(new_hash), contents_from = VALUES(contents_from)`,
      [hashed.map((object) => [object.legacy_hash, object.store, batch, object.size, object.contentsHash, object.newHash, 'stream'])],
    );
  }
  const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as Error] : []));
  const refusals = failures.filter((error) => error instanceof MigrationRefusedError);
  if (refusals.length) {
    throw new MigrationRefusedError(`${refusals.length} object(s) of batch ${batch} failed verification; nothing was rewritten:`, refusals.map((error) => error.message));
  }
  if (failures.length) throw failures[0];
  return { batch, objects: hashed.length, bytes: hashed.reduce((sum, object) => sum + object.size, 0) };
}

export async function hashObject(input: Migrate011Input, object: PendingObject, openStore: OpenStore, progress: ProgressSink): Promise<HashedObject> {
  const value = object.legacy_hash.toString('latin1');
  const spec = input.stores[object.store];
  if (!spec) throw new MigrationRefusedError(`store "${object.store}" is no longer in the config; add it back and rerun`);
  const store = openStore(object.store);
  const key = legacyObjectKey(spec.protocol, spec.location, input.schema, value);
  let digest;
  try {
    digest = await digestStream(await store.read(key));
  } catch (error) {
    if (error instanceof ObjectMissingError) {
      throw new MigrationRefusedError(`object ${key} is missing from store "${object.store}" (${store.description}); restore it and rerun`);
    }
    throw error;
  }
  if (digest.size !== object.size) {
    throw new MigrationRefusedError(
      `object ${key} in store "${object.store}" has ${digest.size} bytes but ${LEGACY_EXTERNAL_TABLE} records ${object.size}: it was truncated or replaced; restore the original and rerun`,
    );
  }
  const sha = legacyHashFromDigest(digest.sha256);
  if (sha !== value.slice(0, LEGACY_HASH_LENGTH)) {
    throw new MigrationRefusedError(
      `object ${key} in store "${object.store}" does not match its legacy hash (its bytes hash to ${sha}): it is corrupt or another object was put in its place; restore the original and rerun`,
    );
  }
  let newHash: Buffer;
  if (input.mode === 'native') {
    newHash = digest.md5;
    const target = storeObjectKey(spec.protocol, spec.location, uuidRelativePath(input.schema, digest.md5));
    const existing = await store.stat(target);
    // A uuid path is named by the MD5 of its bytes: an object already there with the same size is this object.
    if (!existing) await store.copy(key, target);
    else if (existing.size !== digest.size) {
      throw new MigrationRefusedError(`store "${object.store}" already has ${target} with ${existing.size} bytes, not ${digest.size}: something else was written at that 0.12 path; inspect it before rerunning`);
    }
  } else {
    newHash = migratedBlobUuid(legacyRelativePath(input.schema, value));
  }
  progress.report({ kind: 'objects-hashed', objects: 1, bytes: digest.size });
  return { ...object, contentsHash: digest.md5, newHash };
}
