// Key ranges for listing a big store in passes: every key under the prefix in exactly one range, whatever its
// characters, and each range holding about a pass of the objects expected under it.
import { describe, expect, it } from 'vitest';
import { BASE64URL_KEY_ORDER, expectedKeys, expectedStoreKeys, HEX_KEY_ORDER, inKeyRange, keyJustBefore, keyRanges, pastKeyRange } from '../../functions/core/stores/key-ranges.js';

const PREFIX = 'lab/db/';
const KEYS = [
  PREFIX,
  ...BASE64URL_KEY_ORDER.split('').flatMap((c) => [PREFIX + c, `${PREFIX}${c}-`, `${PREFIX}${c}zzzz`]),
  `${PREFIX}~tail`,
  `${PREFIX}.hidden`,
  `${PREFIX}Ärger`,
  `${PREFIX}😀`,
  `${PREFIX}\u0000`,
  `${PREFIX}0a/bc/0abc`,
];

/** The share of the expected objects each range holds. */
const shares = (expected: ReturnType<typeof expectedKeys>, perPass: number) =>
  keyRanges(PREFIX, expected, perPass).map((range) => [...expected].filter(([c]) => inKeyRange(PREFIX + c, range)).reduce((sum, [, n]) => sum + n, 0));

describe('keyRanges', () => {
  it.each([1, 2, 3, 7, 16, 64, 1000])('puts every key in exactly one range, at most 64/%i objects expected in each', (passes) => {
    const perPass = 64 / passes;
    const ranges = keyRanges(PREFIX, expectedKeys(64, BASE64URL_KEY_ORDER), perPass);
    expect(ranges.length).toBeGreaterThanOrEqual(Math.min(passes, 64));
    expect(ranges.length).toBeLessThanOrEqual(Math.min(passes + 1, 64));
    for (const key of KEYS) expect(ranges.filter((range) => inKeyRange(key, range)), key).toHaveLength(1);
    // in key order, each starting where the last ended
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.before);
    expect(ranges[0]!.from).toBeUndefined();
    expect(ranges.at(-1)!.before).toBeUndefined();
    if (passes <= 64) expect(Math.max(...shares(expectedKeys(64, BASE64URL_KEY_ORDER), perPass))).toBeLessThanOrEqual(perPass);
  });

  it('cuts where the objects are: 0.11 names, uuid folders, and both (native mode)', () => {
    expect(shares(expectedKeys(64, BASE64URL_KEY_ORDER), 16)).toEqual([16, 16, 16, 16]);
    expect(shares(expectedKeys(16, HEX_KEY_ORDER), 4)).toEqual([4, 4, 4, 4]);
    // native: 0.11 names (1 per character) and uuid folders (4 per hex digit) side by side, none over the pass
    const native = shares(expectedKeys(64, BASE64URL_KEY_ORDER, HEX_KEY_ORDER), 16);
    expect(native.reduce((sum, n) => sum + n, 0)).toBe(128);
    expect(Math.max(...native)).toBeLessThanOrEqual(16);
    expect(native.length).toBeLessThanOrEqual(10);
    expect(expectedStoreKeys(64, true)).toEqual(expectedKeys(64, BASE64URL_KEY_ORDER, HEX_KEY_ORDER));
    expect(expectedStoreKeys(64, false)).toEqual(expectedKeys(64, BASE64URL_KEY_ORDER));
    // one character expected to hold more than a pass gets a range of its own
    expect(shares(expectedKeys(160, HEX_KEY_ORDER), 5)).toEqual(Array(16).fill(10));
    // all in one pass
    expect(keyRanges(PREFIX, expectedKeys(10, BASE64URL_KEY_ORDER), 10)).toEqual([{}]);
    expect(keyRanges(PREFIX, expectedKeys(0, BASE64URL_KEY_ORDER), 1)).toEqual([{}]);
  });

  it('knows a key past the range, and a start just before a bound', () => {
    const [first, second] = keyRanges(PREFIX, expectedKeys(2, BASE64URL_KEY_ORDER), 1);
    expect(pastKeyRange(`${PREFIX}-`, first!)).toBe(false);
    expect(pastKeyRange(second!.from!, first!)).toBe(true);
    expect(pastKeyRange(`${PREFIX}zzz`, second!)).toBe(false);
    expect(keyJustBefore(`${PREFIX}W`)).toBe(`${PREFIX}V`);
    expect(keyJustBefore(`${PREFIX}W`) < `${PREFIX}W`).toBe(true);
    expect(keyJustBefore('a\u0000')).toBe('a');
  });
});
