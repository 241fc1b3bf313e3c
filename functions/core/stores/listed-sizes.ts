// The sizes of a store listing's objects, held compactly: Inspect and Verify look every referenced object up in the
// listing of its store, and a Lambda's memory bounds how many objects that can be. A 0.11 object's name (43-character
// base64url SHA-256 + store suffix) is kept as its 32 bytes in an open-addressing table keyed by their leading bytes
// (uniform already): ~50 bytes an object instead of ~160–250 for a Map of key strings. Any other key goes to a Map.
import { LEGACY_HASH_LENGTH, LEGACY_STORE_SUFFIX_MAX } from '../datajoint/v011.js';
import type { ObjectStore } from './object-store.js';

const HASH_BYTES = 32;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const INITIAL_ENTRIES = 1024;

/** Object sizes by 32-byte hash: entries in flat arrays, slots holding entry index + 1 (0: empty), at most half full. */
class SizesByHash {
  private hashes = Buffer.alloc(HASH_BYTES * INITIAL_ENTRIES);
  private sizes = new Float64Array(INITIAL_ENTRIES);
  private slots = new Uint32Array(INITIAL_ENTRIES * 2);
  count = 0;

  set(hash: Buffer, size: number): void {
    const slot = this.slotOf(hash);
    const entry = this.slots[slot];
    if (entry) {
      this.sizes[entry - 1] = size;
      return;
    }
    if (this.count === this.sizes.length) this.growEntries();
    hash.copy(this.hashes, this.count * HASH_BYTES);
    this.sizes[this.count] = size;
    this.slots[slot] = ++this.count;
    if (this.count * 2 > this.slots.length) this.growSlots();
  }

  get(hash: Buffer): number | undefined {
    const entry = this.slots[this.slotOf(hash)];
    return entry ? this.sizes[entry - 1] : undefined;
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

/** Sizes of the objects listed under `prefix`, by key. */
export class ListedSizes {
  /** 0.11 object names, by store suffix. */
  private readonly bySuffix = new Map<string, SizesByHash>();
  private readonly others = new Map<string, number>();
  /** The hash of the key at hand, decoded (one buffer for all: a listing's keys come one by one). */
  private readonly hash = Buffer.alloc(HASH_BYTES);

  constructor(private readonly prefix: string) {}

  set(key: string, size: number): void {
    const suffix = this.legacyName(key);
    if (suffix === null) {
      this.others.set(key, size);
      return;
    }
    let table = this.bySuffix.get(suffix);
    if (!table) this.bySuffix.set(suffix, (table = new SizesByHash()));
    table.set(this.hash, size);
  }

  get(key: string): number | undefined {
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

/** Every object under `prefix` in the store, with its size. */
export async function listSizes(store: ObjectStore, prefix: string): Promise<ListedSizes> {
  const sizes = new ListedSizes(prefix);
  for await (const object of store.list(prefix)) sizes.set(object.key, object.size);
  return sizes;
}
