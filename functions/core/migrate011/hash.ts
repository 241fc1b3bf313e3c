// Hashes legacy objects where they are: each object streamed once through MD5 and SHA-256, checked against the size
// and the SHA-256 that 0.11 recorded, and (native mode) copied server-side to its 0.12 uuid path. Two passes share
// this: the Distributed Map's (hashItems, no database; recordHashes writes its results) and the standard one
// (hashBatch, a journal batch), which runs after it and stops the migration on a corrupt, truncated or swapped object.
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE, LEGACY_HASH_LENGTH, legacyHashFromDigest, legacyObjectKey, legacyRelativePath } from '../datajoint/v011.js';
import { migratedBlobUuid, storeObjectKey, uuidRelativePath } from '../datajoint/v012.js';
import { execute, select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
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

/** One line of the hash manifest (the Distributed Map's item): an object still to hash, as the journal has it. */
export interface ManifestItem {
  /** The legacy `~external` hash (ASCII: base64 SHA-256 + store suffix). */
  h: string;
  s: string;
  n: number;
}

/** What a Distributed Map child hands to RecordHashes: the item with its hashes (hex). */
export interface HashedItem extends ManifestItem {
  md5: string;
  uuid: string;
}

export interface ItemsHashed {
  hashed: HashedItem[];
  /** Items not started before the deadline: left for the standard pass. */
  left: number;
  /** Items that failed verification: left for the standard pass, which stops the migration naming them. */
  refused: string[];
}

/** The standard pass: every object of one journal batch that is not hashed yet, recorded in the journal. */
export async function hashBatch(conn: Connection, input: Migrate011Input, batch: number, openStore: OpenStore, progress: ProgressSink): Promise<HashedBatch> {
  const t = journalTables(input.schema);
  const pending = await select<PendingObject>(conn, `SELECT legacy_hash, store, size FROM ${t.objects} WHERE batch = ? AND contents_hash IS NULL`, [batch]);
  const limit = pLimit(input.hashConcurrency);
  const outcomes = await Promise.allSettled(pending.map((object) => limit(() => hashObject(input, { ...object, size: Number(object.size) }, openStore, progress))));
  const hashed = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  // Keep what was verified even when another object failed: a rerun then only redoes the failures.
  await recordHashed(conn, input, hashed);
  const failures = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as Error] : []));
  const refusals = failures.filter((error) => error instanceof MigrationRefusedError);
  if (refusals.length) {
    throw new MigrationRefusedError(`${refusals.length} object(s) of batch ${batch} failed verification; nothing was rewritten:`, refusals.map((error) => error.message));
  }
  if (failures.length) throw failures[0];
  return { batch, objects: hashed.length, bytes: hashed.reduce((sum, object) => sum + object.size, 0) };
}

/**
 * The Distributed Map's pass, without the database: hashes the items until `deadline` (an Express child lives at
 * most 5 minutes). Objects that fail verification or are not reached stay unhashed in the journal; the standard pass
 * after the map hashes them again and stops on a bad one with its full reason. Other errors (S3 unreachable) throw:
 * the child is retried, or counted against the map's tolerated failures.
 */
export async function hashItems(input: Migrate011Input, items: readonly ManifestItem[], openStore: OpenStore, progress: ProgressSink, deadline: number): Promise<ItemsHashed> {
  const limit = pLimit(input.hashConcurrency);
  const outcomes = await Promise.allSettled(
    items.map((item) =>
      limit(async () => (Date.now() < deadline ? hashObject(input, { legacy_hash: Buffer.from(item.h, 'latin1'), store: item.s, size: item.n }, openStore, progress) : null)),
    ),
  );
  const failure = outcomes.find((outcome) => outcome.status === 'rejected' && !(outcome.reason instanceof MigrationRefusedError));
  if (failure) throw (failure as PromiseRejectedResult).reason;
  const hashed: HashedItem[] = [];
  const refused: string[] = [];
  let left = 0;
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') refused.push((outcome.reason as Error).message);
    else if (outcome.value === null) left += 1;
    else {
      const { legacy_hash, store, size, contentsHash, newHash } = outcome.value;
      hashed.push({ h: legacy_hash.toString('latin1'), s: store, n: size, md5: contentsHash.toString('hex'), uuid: newHash.toString('hex') });
    }
  }
  return { hashed, left, refused };
}

/** Records what a Distributed Map child hashed (the only database write of the map's pass). */
export async function recordHashes(conn: Connection, input: Migrate011Input, items: readonly HashedItem[]): Promise<number> {
  await recordHashed(
    conn,
    input,
    items.map((item) => ({ legacy_hash: Buffer.from(item.h, 'latin1'), store: item.s, size: item.n, contentsHash: Buffer.from(item.md5, 'hex'), newHash: Buffer.from(item.uuid, 'hex') })),
  );
  return items.length;
}

async function recordHashed(conn: Connection, input: Migrate011Input, hashed: readonly HashedObject[]): Promise<void> {
  if (!hashed.length) return;
  const t = journalTables(input.schema);
  // one statement per call; only objects the journal lists are updated (Prepare recorded each with its size)
  const rows = hashed.map(() => 'SELECT ? AS legacy_hash, ? AS store, ? AS size, ? AS contents_hash, ? AS new_hash').join(' UNION ALL ');
  const changed = await execute(
    conn,
    `UPDATE ${t.objects} o JOIN (${rows}) h ON o.legacy_hash = h.legacy_hash AND o.store = h.store AND o.size = h.size
        SET o.contents_hash = h.contents_hash, o.new_hash = h.new_hash, o.contents_from = 'stream'`,
    hashed.flatMap((object) => [object.legacy_hash, object.store, object.size, object.contentsHash, object.newHash]),
  );
  if (changed !== hashed.length) {
    throw new MigrationRefusedError(`${hashed.length - changed} hashed object(s) are not in the migration journal as hashed; rerun the migration from the start`);
  }
}

export async function hashObject(input: Migrate011Input, object: PendingObject, openStore: OpenStore, progress: ProgressSink): Promise<HashedObject> {
  const value = object.legacy_hash.toString('latin1');
  const spec = input.stores[object.store];
  if (!spec) throw new MigrationRefusedError(`store "${object.store}" is no longer in the config; add it back and rerun`);
  const store = openStore(object.store);
  const key = legacyObjectKey(spec.protocol, spec.location, input.schema, value);
  let digest;
  try {
    digest = await store.digest(key);
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
    if (!existing) await store.copy(key, target, digest.size);
    else if (existing.size !== digest.size) {
      throw new MigrationRefusedError(`store "${object.store}" already has ${target} with ${existing.size} bytes, not ${digest.size}: something else was written at that 0.12 path; inspect it before rerunning`);
    }
  } else {
    newHash = migratedBlobUuid(legacyRelativePath(input.schema, value));
  }
  progress.report({ kind: 'objects-hashed', objects: 1, bytes: digest.size });
  return { ...object, contentsHash: digest.md5, newHash };
}
