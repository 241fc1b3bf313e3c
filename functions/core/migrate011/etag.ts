// trustEtag: where S3 already knows an object's MD5 (a 32-hex ETag: single-part upload, no SSE-KMS/SSE-C), take the
// contents hash from the listing (1,000 objects per call) instead of reading every object. Not assumed, checked:
// stores whose bucket encrypts with KMS by default are streamed as usual, and a random sample of the trusted objects
// is streamed and must match both its ETag and its legacy SHA-256, else the migration stops. S3-compatible servers
// may give multipart uploads a 32-hex ETag that is not their MD5 (AWS appends "-<parts>"): there only objects too
// small to have been uploaded in parts are trusted.
import { randomInt } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { legacyObjectKey, legacyRelativePath } from '../datajoint/v011.js';
import { migratedBlobUuid } from '../datajoint/v012.js';
import { keyRangeCondition } from '../db/keyset.js';
import { execute, select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import { expectedStoreKeys, keyRanges, type KeyRange } from '../stores/key-ranges.js';
import { ListedObjects } from '../stores/listed-objects.js';
import type { OpenStore } from '../stores/object-store.js';
import { isAwsEndpoint } from '../stores/s3-store.js';
import { hashObject } from './hash.js';
import type { Migrate011Input } from './input.js';
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

/** Fills `contents_hash`/`new_hash` of the journal's pending objects of S3 stores from their listed ETags. */
export async function hashFromListings(conn: Connection, input: Migrate011Input, openStore: OpenStore, progress: ProgressSink): Promise<EtagOutcome[]> {
  const t = journalTables(input.schema);
  const outcomes: EtagOutcome[] = [];
  for (const [name, spec] of Object.entries(input.stores)) {
    if (spec.protocol !== 's3') continue;
    const [{ pending }] = await select<{ pending: number }>(conn, `SELECT COUNT(*) AS pending FROM ${t.objects} WHERE store = ? AND contents_hash IS NULL`, [name]);
    if (!Number(pending)) continue;
    const store = openStore(name);
    const encryption = await store.defaultEncryption?.();
    if (encryption === 'aws:kms' || encryption === 'aws:kms:dsse') {
      outcomes.push({ store: name, trusted: 0, streamed: Number(pending), note: `bucket encrypts with ${encryption} by default: ETags are not MD5s, every object is streamed` });
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
    // in place only: the store holds 0.11 names
    const ranges = keyRanges(prefix, expectedStoreKeys(Number(pending), false), input.listingPassObjects);
    const whole = ranges.length === 1 ? await listTrusted({}) : null;
    /** Each range with its listing and the pending objects whose keys are in it that the listing vouches for. */
    async function* trustedPages(): AsyncGenerator<TrustedPending[]> {
      for (const range of ranges) {
        const listed = whole ?? (await listTrusted(range));
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
    }
    // first the count and a random sample, checked before anything is recorded; then the pages again, recorded
    const sample = new Reservoir<TrustedPending>(ETAG_SAMPLE);
    for await (const page of trustedPages()) for (const object of page) sample.offer(object);
    await checkTrustedSample(input, sample.items, openStore, (object) =>
      `store "${name}": the ETag of ${legacyObjectKey('s3', spec.location, input.schema, object.value)} (${object.md5.toString('hex')}) is not the MD5 of its bytes (SSE-KMS or SSE-C objects?); nothing was changed. Rerun without trustEtag (--trust-etag)`,
    );
    for await (const page of trustedPages()) await recordTrustedHashes(conn, input, page, 'etag', progress);
    outcomes.push({ store: name, trusted: sample.seen, streamed: Number(pending) - sample.seen, ...(encryption === undefined ? { note: 'bucket default encryption unknown: checked on a sample of streamed objects' } : {}) });
  }
  return outcomes;
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

  offer(item: T): void {
    this.seen += 1;
    if (this.items.length < this.size) this.items.push(item);
    else {
      const slot = randomInt(this.seen);
      if (slot < this.size) this.items[slot] = item;
    }
  }
}
