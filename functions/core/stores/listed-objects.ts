// A store listing's objects (size, and the MD5 of a trusted ETag), held compactly: Inspect, Verify and trustEtag look
// every referenced object up in the listing of its store, and a Lambda's memory bounds how many objects that can be.
// A 0.11 object's name (43-character base64url SHA-256 + store suffix) is kept as its 32 bytes in an open-addressing
// table keyed by their leading bytes (uniform already): ~50 bytes an object (+16 with MD5s) instead of ~160–250 for a
// Map of key strings. Any other key goes to a Map.
import { LEGACY_HASH_LENGTH, LEGACY_STORE_SUFFIX_MAX } from '../datajoint/v011.js';
import type { KeyRange } from './key-ranges.js';
import type { ObjectStore } from './object-store.js';

const HASH_BYTES = 32;
const MD5_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const INITIAL_ENTRIES = 1024;

export interface ListedObject {
  size: number;
  /** Only in a listing made with `md5s`. */
  md5?: Buffer;
}

/**
 * Objects by 32-byte hash: entries in flat arrays (hash, size, MD5 when kept), slots holding entry index + 1 (0:
 * empty), at most half full.
 */
class ObjectsByHash {
  private hashes = Buffer.alloc(HASH_BYTES * INITIAL_ENTRIES);
  private sizes = new Float64Array(INITIAL_ENTRIES);
  private md5s: Buffer | null;
  private slots = new Uint32Array(INITIAL_ENTRIES * 2);
  count = 0;

  constructor(withMd5s: boolean) {
    this.md5s = withMd5s ? Buffer.alloc(MD5_BYTES * INITIAL_ENTRIES) : null;
  }

  set(hash: Buffer, object: ListedObject): void {
    const slot = this.slotOf(hash);
    let entry = this.slots[slot];
    if (!entry) {
      if (this.count === this.sizes.length) this.growEntries();
      hash.copy(this.hashes, this.count * HASH_BYTES);
      entry = this.slots[slot] = ++this.count;
    }
    this.sizes[entry - 1] = object.size;
    if (this.md5s) object.md5!.copy(this.md5s, (entry - 1) * MD5_BYTES);
    if (this.count * 2 > this.slots.length) this.growSlots();
  }

  get(hash: Buffer): ListedObject | undefined {
    const entry = this.slots[this.slotOf(hash)];
    if (!entry) return undefined;
    const start = (entry - 1) * MD5_BYTES;
    return { size: this.sizes[entry - 1]!, ...(this.md5s ? { md5: Buffer.from(this.md5s.subarray(start, start + MD5_BYTES)) } : {}) };
  }

  /** The slot holding `hash`, or the empty one where it would go. */
  private slotOf(hash: Buffer): number {
    const mask = this.slots.length - 1;
    let slot = hash.readUInt32LE(0) & mask;
    for (let entry = this.slots[slot]; entry; entry = this.slots[slot]) {
      const start = (entry - 1) * HASH_BYTES;
      if (hash.compare(this.hashes, start, start + HASH_BYTES) === 0) return slot;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  private growEntries(): void {
    const hashes = Buffer.alloc(this.hashes.length * 2);
    this.hashes.copy(hashes);
    this.hashes = hashes;
    const sizes = new Float64Array(this.sizes.length * 2);
    sizes.set(this.sizes);
    this.sizes = sizes;
    if (this.md5s) {
      const md5s = Buffer.alloc(this.md5s.length * 2);
      this.md5s.copy(md5s);
      this.md5s = md5s;
    }
  }

  private growSlots(): void {
    this.slots = new Uint32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let entry = 1; entry <= this.count; entry++) {
      let slot = this.hashes.readUInt32LE((entry - 1) * HASH_BYTES) & mask;
      while (this.slots[slot]) slot = (slot + 1) & mask;
      this.slots[slot] = entry;
    }
  }
}

/** The objects listed under `prefix`, by key; `md5s`: keep each object's MD5 too. */
export class ListedObjects {
  /** 0.11 object names, by store suffix. */
  private readonly bySuffix = new Map<string, ObjectsByHash>();
  private readonly others = new Map<string, ListedObject>();
  /** The hash of the key at hand, decoded (one buffer for all: a listing's keys come one by one). */
  private readonly hash = Buffer.alloc(HASH_BYTES);

  constructor(
    private readonly prefix: string,
    private readonly options: { md5s?: boolean } = {},
  ) {}

  set(key: string, object: ListedObject): void {
    // a listing of MD5s holds one for every object: none would read back as zeros
    if (this.options.md5s && object.md5?.length !== MD5_BYTES) throw new Error(`a listing of MD5s got ${key} without a 16-byte MD5`);
    const suffix = this.legacyName(key);
    const kept = this.options.md5s ? object : { size: object.size };
    if (suffix === null) {
      this.others.set(key, kept);
      return;
    }
    let table = this.bySuffix.get(suffix);
    if (!table) this.bySuffix.set(suffix, (table = new ObjectsByHash(Boolean(this.options.md5s))));
    table.set(this.hash, kept);
  }

  get(key: string): ListedObject | undefined {
    const suffix = this.legacyName(key);
    return suffix === null ? this.others.get(key) : this.bySuffix.get(suffix)?.get(this.hash);
  }

  get count(): number {
    let count = this.others.size;
    for (const table of this.bySuffix.values()) count += table.count;
    return count;
  }

  /**
   * For a key `<prefix><43-character hash><suffix>`: its suffix, the hash's 32 bytes decoded into `this.hash`; null
   * for any other key.
   */
  private legacyName(key: string): string | null {
    const end = this.prefix.length + LEGACY_HASH_LENGTH;
    if (key.length < end || key.length > end + LEGACY_STORE_SUFFIX_MAX || !key.startsWith(this.prefix)) return null;
    const encoded = key.slice(this.prefix.length, end);
    const suffix = key.slice(end);
    // only the one spelling of the bytes: the last character carries 4 of them, its 2 low bits zero (other
    // spellings decode alike but name other objects)
    if (suffix.includes('/') || !BASE64URL.test(encoded) || BASE64URL_ALPHABET.indexOf(encoded[LEGACY_HASH_LENGTH - 1]!) % 4 !== 0) return null;
    this.hash.write(encoded, 'base64url');
    return suffix;
  }
}

/** Every object under `prefix` in the store (within the key range when given), with its size. */
export async function listObjects(store: ObjectStore, prefix: string, range: KeyRange = {}): Promise<ListedObjects> {
  const listed = new ListedObjects(prefix);
  for await (const object of store.list(prefix, range)) listed.set(object.key, object);
  return listed;
}
