// trustEtag: where S3 already knows an object's MD5 (a 32-hex ETag: single-part upload, no SSE-KMS/SSE-C), take the
// contents hash from the listing (1,000 objects per call) instead of reading every object. Not assumed, checked:
// stores whose bucket encrypts with KMS by default are streamed as usual, and a random sample of the trusted objects
// is streamed and must match both its ETag and its legacy SHA-256, else the migration stops. S3-compatible servers
// may give multipart uploads a 32-hex ETag that is not their MD5 (AWS appends "-<parts>"): there only objects too
// small to have been uploaded in parts are trusted.
import { randomInt, randomUUID } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { legacyObjectKey, legacyRelativePath } from '../datajoint/v011.js';
import { migratedBlobUuid } from '../datajoint/v012.js';
import { keyRangeCondition } from '../db/keyset.js';
import { CallBudget } from '../call-budget.js';
import { execute, select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { expectedStoreKeys, keyRanges, type KeyRange } from '../stores/key-ranges.js';
import { ListedObjects } from '../stores/listed-objects.js';
import type { OpenStore } from '../stores/object-store.js';
import { isAwsEndpoint } from '../stores/s3-store.js';
import { hashObject } from './hash.js';
import type { Migrate011Input } from './input.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { journalObjectPages, journalTables } from './journal.js';

/** Trusted objects per store that are streamed anyway to check the ETags (all of them when fewer). */
export const ETAG_SAMPLE = 16;
const MD5_ETAG = /^[0-9a-f]{32}$/;
/** The smallest part S3 accepts: an object below it was uploaded in one piece (or its upload had one part). */
const MULTIPART_MIN_BYTES = 5 * 1024 * 1024;
const WRITE_CHUNK = 1000;

export interface EtagOutcome {
  store: string;
  /** Objects whose contents hash was taken from the listing. */
  trusted: number;
  /** Objects left for streaming (multipart ETag, size differs, not listed, or the store is not trusted). */
  streamed: number;
  note?: string;
}

export interface EtagOptions {
  /** The execution the calls belong to (the checkpoint's key). Default: one of its own. */
  run?: string;
  /** Stop between listing passes once spent; the next call with the same run goes on. Default: no limit. */
  budget?: CallBudget;
}

/** A sampled object as the checkpoint keeps it (its binary fields in hex). */
interface SavedTrusted {
  legacy_hash: string;
  size: number;
  batch: number;
  value: string;
  md5: string;
}

/**
 * How far the calls got: the stores done, and in the store in progress its pending objects when it started (its
 * passes are cut for them), whether its sample was checked, the next pass (of the sampling, then of the recording)
 * and the sample so far.
 */
interface EtagCheckpoint {
  outcomes: EtagOutcome[];
  current: { store: string; pending: number; sampled: boolean; pass: number; seen: number; sample: SavedTrusted[] } | null;
}

/**
 * Fills `contents_hash`/`new_hash` of the journal's pending objects of S3 stores from their listed ETags; per store,
 * the sample is checked before anything is recorded. In calls of a budget: a checkpoint in the journal after every
 * listing pass; `done` false when a call stopped before the end.
 */
export async function hashFromListings(conn: Connection, input: Migrate011Input, openStore: OpenStore, progress: ProgressSink, options: EtagOptions = {}): Promise<{ done: boolean; outcomes: EtagOutcome[] }> {
  const t = journalTables(input.schema);
  const run = options.run ?? randomUUID();
  const budget = options.budget ?? new CallBudget();
  const progressSoFar = (await loadCheckpoint<EtagCheckpoint>(conn, input.schema, 'etag', run)) ?? { outcomes: [], current: null };
  const { outcomes } = progressSoFar;
  const save = () => saveCheckpoint<EtagCheckpoint>(conn, input.schema, 'etag', run, progressSoFar);
  const done = new Set(outcomes.map((outcome) => outcome.store));
  for (const [name, spec] of Object.entries(input.stores)) {
    if (spec.protocol !== 's3' || done.has(name)) continue;
    let current = progressSoFar.current?.store === name ? progressSoFar.current : null;
    if (!current) {
      const [{ pending }] = await select<{ pending: number }>(conn, `SELECT COUNT(*) AS pending FROM ${t.objects} WHERE store = ? AND contents_hash IS NULL`, [name]);
      if (!Number(pending)) continue;
      current = { store: name, pending: Number(pending), sampled: false, pass: 0, seen: 0, sample: [] };
    }
    const store = openStore(name);
    const encryption = await store.defaultEncryption?.();
    if (encryption === 'aws:kms' || encryption === 'aws:kms:dsse') {
      outcomes.push({ store: name, trusted: 0, streamed: current.pending, note: `bucket encrypts with ${encryption} by default: ETags are not MD5s, every object is streamed` });
      continue;
    }
    // only what could be trusted is kept of the listing (size and the ETag's MD5), compactly; a store bigger than a
    // listing may hold is listed in passes over key ranges, twice (for the sample, then to record)
    const maxSize = isAwsEndpoint(spec.endpoint) ? Number.POSITIVE_INFINITY : MULTIPART_MIN_BYTES;
    const prefix = legacyObjectKey('s3', spec.location, input.schema, '');
    const listTrusted = async (range: KeyRange) => {
      const listed = new ListedObjects(prefix, { md5s: true });
      for await (const object of store.list(prefix, range)) {
        if (object.etag && MD5_ETAG.test(object.etag) && object.size < maxSize) listed.set(object.key, { size: object.size, md5: Buffer.from(object.etag, 'hex') });
      }
      return listed;
    };
    // in place only: the store holds 0.11 names; cut for the objects pending when the store was started
    const ranges = keyRanges(prefix, expectedStoreKeys(current.pending, false), input.listingPassObjects);
    // one range: listed once for both the sample and the recording, when they fall in the same call
    let whole: ListedObjects | null = null;
    /** The pending objects whose keys are in the range that its listing vouches for. */
    async function* trustedPages(range: KeyRange): AsyncGenerator<TrustedPending[]> {
      const listed = ranges.length === 1 ? (whole ??= await listTrusted(range)) : await listTrusted(range);
      const inPass = keyRangeCondition('legacy_hash', prefix, range);
      const where = `store = ? AND contents_hash IS NULL${inPass ? ` AND ${inPass.sql}` : ''}`;
      for await (const page of journalObjectPages<PendingObject>(conn, input.schema, 'legacy_hash, size, batch', where, [name, ...(inPass?.values ?? [])])) {
        yield page.flatMap((object) => {
          const value = object.legacy_hash.toString('latin1');
          const key = legacyObjectKey('s3', spec.location, input.schema, value);
          // only the pass's listing is held: an object is found, and trusted, in its own pass
          const found = listed.get(key);
          return found?.md5 && found.size === Number(object.size) ? [{ ...object, value, store: name, md5: found.md5 }] : [];
        });
      }
    }
    progressSoFar.current = current;
    // first the count and a random sample, checked before anything is recorded; then the passes again, recorded
    if (!current.sampled) {
      const sample = Reservoir.restore(current.sample.map((object) => trustedOf(object, name)), current.seen, ETAG_SAMPLE);
      while (current.pass < ranges.length) {
        if (budget.spent()) return { done: false, outcomes };
        for await (const page of trustedPages(ranges[current.pass])) for (const object of page) sample.offer(object);
        budget.used();
        Object.assign(current, { pass: current.pass + 1, seen: sample.seen, sample: sample.items.map(savedTrusted) });
        await save();
      }
      await checkTrustedSample(input, sample.items, openStore, (object) =>
        `store "${name}": the ETag of ${legacyObjectKey('s3', spec.location, input.schema, object.value)} (${object.md5.toString('hex')}) is not the MD5 of its bytes (SSE-KMS or SSE-C objects?); nothing was changed. Rerun without trustEtag (--trust-etag)`,
      );
      Object.assign(current, { sampled: true, pass: 0 });
      await save();
    }
    while (current.pass < ranges.length) {
      if (budget.spent()) return { done: false, outcomes };
      for await (const page of trustedPages(ranges[current.pass])) await recordTrustedHashes(conn, input, page, 'etag', progress);
      budget.used();
      current.pass += 1;
      await save();
    }
    outcomes.push({ store: name, trusted: current.seen, streamed: current.pending - current.seen, ...(encryption === undefined ? { note: 'bucket default encryption unknown: checked on a sample of streamed objects' } : {}) });
    progressSoFar.current = null;
    await save();
  }
  return { done: true, outcomes };
}

function trustedOf(saved: SavedTrusted, store: string): TrustedPending {
  return { legacy_hash: Buffer.from(saved.legacy_hash, 'hex'), size: saved.size, batch: saved.batch, value: saved.value, store, md5: Buffer.from(saved.md5, 'hex') };
}

function savedTrusted(object: TrustedPending): SavedTrusted {
  return { legacy_hash: object.legacy_hash.toString('hex'), size: Number(object.size), batch: Number(object.batch), value: object.value, md5: object.md5.toString('hex') };
}

interface PendingObject {
  legacy_hash: Buffer;
  size: number;
  batch: number;
}

interface TrustedPending extends PendingObject, TrustedObject {
  /** The 0.11 object name (the legacy hash and suffix). */
  value: string;
}

/** An object whose MD5 S3 already knows (listing ETag, Batch Operations checksum), about to be trusted. */
export interface TrustedObject {
  legacy_hash: Buffer;
  store: string;
  batch: number;
  size: number;
  md5: Buffer;
}

/**
 * Reads a random sample of the objects whole (all when few), `hashConcurrency` at once: each must hash to its trusted
 * MD5 and to its legacy SHA-256, else the migration stops with `mismatch(object)` and nothing is recorded.
 */
export async function checkTrustedSample<T extends TrustedObject>(input: Migrate011Input, objects: T[], openStore: OpenStore, mismatch: (object: T) => string): Promise<void> {
  const limit = pLimit(input.hashConcurrency);
  const checks = sample(objects, ETAG_SAMPLE).map((object) =>
    limit(async () => {
      // hashObject refuses on its own when the bytes do not match the legacy SHA-256
      const hashed = await hashObject(input, { legacy_hash: object.legacy_hash, store: object.store, size: Number(object.size) }, openStore, silentProgress);
      if (!hashed.contentsHash.equals(object.md5)) throw new MigrationRefusedError(mismatch(object));
    }),
  );
  // the first mismatch decides: the reads not yet started are dropped
  await Promise.all(checks).catch((error: unknown) => {
    limit.clearQueue();
    throw error;
  });
}

/** Records trusted MD5s (and the 0.12 uuids) in the journal, noting where each came from. */
export async function recordTrustedHashes(conn: Connection, input: Migrate011Input, objects: TrustedObject[], from: 'etag' | 's3-batch', progress: ProgressSink): Promise<void> {
  const t = journalTables(input.schema);
  for (let i = 0; i < objects.length; i += WRITE_CHUNK) {
    const chunk = objects.slice(i, i + WRITE_CHUNK);
    await execute(
      conn,
      `INSERT INTO ${t.objects} (legacy_hash, store, batch, size, contents_hash, new_hash, contents_from) VALUES ?
       ON DUPLICATE KEY UPDATE contents_hash = VALUES(contents_hash), new_hash = VALUES(new_hash), contents_from = VALUES(contents_from)`,
      [chunk.map((object) => [object.legacy_hash, object.store, object.batch, object.size, object.md5, migratedBlobUuid(legacyRelativePath(input.schema, object.legacy_hash.toString('latin1'))), from])],
    );
    progress.report({ kind: 'objects-hashed', objects: chunk.length, bytes: chunk.reduce((sum, object) => sum + Number(object.size), 0) });
  }
}

function sample<T>(items: T[], size: number): T[] {
  const reservoir = new Reservoir<T>(size);
  for (const item of items) reservoir.offer(item);
  return reservoir.items;
}

/** A uniform random sample of at most `size` of the items offered, however many (reservoir sampling). */
class Reservoir<T> {
  readonly items: T[] = [];
  seen = 0;

  constructor(private readonly size: number) {}

  /** A sample taken so far (`items` out of `seen` offered), to go on offering to. */
  static restore<T>(items: T[], seen: number, size: number): Reservoir<T> {
    const reservoir = new Reservoir<T>(size);
    reservoir.items.push(...items);
    reservoir.seen = seen;
    return reservoir;
  }

  offer(item: T): void {
    this.seen += 1;
    if (this.items.length < this.size) this.items.push(item);
    else {
      const slot = randomInt(this.seen);
      if (slot < this.size) this.items[slot] = item;
    }
  }
}
