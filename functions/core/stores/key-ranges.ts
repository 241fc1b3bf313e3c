// A store's keys under a prefix, split into ranges by the character that follows the prefix: a store too big to hold
// listed at once (a Lambda's memory) is listed and compared in passes, one range each. The ranges partition every
// possible key, so each key is in exactly one pass whatever its characters; the objects expected per character
// only make the passes about even.

/** Keys `from <= key < before` (an absent bound is open). */
export interface KeyRange {
  from?: string;
  before?: string;
}

/** 0.11 object names (URL-safe base64) in byte order, which is S3's listing order. */
export const BASE64URL_KEY_ORDER = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
/** 0.12 objects' first folder: hex digits of the uuid. */
export const HEX_KEY_ORDER = '0123456789abcdef';

/**
 * True when the key is in the range. Bounds are a prefix and one ASCII character, so JavaScript's comparison agrees
 * with S3's (UTF-8 bytes) on every key.
 */
export function inKeyRange(key: string, range: KeyRange): boolean {
  return (range.from === undefined || key >= range.from) && (range.before === undefined || key < range.before);
}

/** True when the key, and every key S3 lists after it, lies past the range. */
export function pastKeyRange(key: string, range: KeyRange): boolean {
  return range.before !== undefined && key >= range.before;
}

/** Objects expected under a prefix, by the character that follows it. */
export type ExpectedKeys = ReadonlyMap<string, number>;

/** `objects` spread evenly over each alphabet's characters, added up (native mode: 0.11 names and uuid folders). */
export function expectedKeys(objects: number, ...alphabets: string[]): ExpectedKeys {
  const expected = new Map<string, number>();
  for (const alphabet of alphabets) for (const c of alphabet) expected.set(c, (expected.get(c) ?? 0) + objects / alphabet.length);
  return expected;
}

/**
 * A 0.11 store's objects under the schema's prefix: their 0.11 names and, in native mode, the uuid folders of their
 * copies beside them (a rerun's plan may meet copies already made).
 */
export function expectedStoreKeys(objects: number, nativeMode: boolean): ExpectedKeys {
  return nativeMode ? expectedKeys(objects, BASE64URL_KEY_ORDER, HEX_KEY_ORDER) : expectedKeys(objects, BASE64URL_KEY_ORDER);
}

/**
 * Ranges covering every key, in key order, each expected to hold at most `perPass` objects (a single character
 * expected to hold more gets a range of its own): one range when all fit.
 */
export function keyRanges(prefix: string, expected: ExpectedKeys, perPass: number): KeyRange[] {
  const bounds: string[] = [];
  let held = 0;
  for (const c of [...expected.keys()].sort()) {
    const objects = expected.get(c)!;
    if (held > 0 && held + objects > perPass) {
      bounds.push(prefix + c);
      held = 0;
    }
    held += objects;
  }
  return Array.from({ length: bounds.length + 1 }, (_, i) => ({
    ...(i > 0 ? { from: bounds[i - 1] } : {}),
    ...(i < bounds.length ? { before: bounds[i] } : {}),
  }));
}

/** A key S3 can start after (StartAfter) so that its listing begins with `key` itself, or just before it. */
export function keyJustBefore(key: string): string {
  const last = key.charCodeAt(key.length - 1);
  return last > 0 ? key.slice(0, -1) + String.fromCharCode(last - 1) : key.slice(0, -1);
}
