// Key ranges for listing a big store in passes: every key under the prefix in exactly one range, whatever its
// characters, and the ranges about even over the alphabet they are cut from.
import { describe, expect, it } from 'vitest';
import { BASE64URL_KEY_ORDER, HEX_KEY_ORDER, inKeyRange, keyJustBefore, keyRanges, listingPasses, pastKeyRange } from '../../functions/core/stores/key-ranges.js';

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

describe('keyRanges', () => {
  it.each([1, 2, 3, 7, 16, 64, 1000])('puts every key in exactly one of %i range(s)', (passes) => {
    const ranges = keyRanges(PREFIX, passes);
    expect(ranges).toHaveLength(Math.min(passes, BASE64URL_KEY_ORDER.length));
    for (const key of KEYS) expect(ranges.filter((range) => inKeyRange(key, range)), key).toHaveLength(1);
    // in key order, each starting where the last ended
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.before);
    expect(ranges[0]!.from).toBeUndefined();
    expect(ranges.at(-1)!.before).toBeUndefined();
  });

  it('cuts the alphabet evenly: base64url names and hex folders', () => {
    const share = (alphabet: string, passes: number) =>
      keyRanges(PREFIX, passes, alphabet).map((range) => alphabet.split('').filter((c) => inKeyRange(PREFIX + c, range)).length);
    expect(share(BASE64URL_KEY_ORDER, 4)).toEqual([16, 16, 16, 16]);
    expect(share(BASE64URL_KEY_ORDER, 3)).toEqual([21, 22, 21]);
    expect(share(HEX_KEY_ORDER, 4)).toEqual([4, 4, 4, 4]);
    expect(keyRanges(PREFIX, 100, HEX_KEY_ORDER)).toHaveLength(16);
  });

  it('counts passes from the objects a listing may hold', () => {
    expect(listingPasses(0, 10)).toBe(1);
    expect(listingPasses(10, 10)).toBe(1);
    expect(listingPasses(11, 10)).toBe(2);
    expect(listingPasses(25_000_000, 10_000_000)).toBe(3);
  });

  it('knows a key past the range, and a start just before a bound', () => {
    const [first, second] = keyRanges(PREFIX, 2);
    expect(pastKeyRange(`${PREFIX}-`, first!)).toBe(false);
    expect(pastKeyRange(second!.from!, first!)).toBe(true);
    expect(pastKeyRange(`${PREFIX}zzz`, second!)).toBe(false);
    expect(keyJustBefore(`${PREFIX}W`)).toBe(`${PREFIX}V`);
    expect(keyJustBefore(`${PREFIX}W`) < `${PREFIX}W`).toBe(true);
    expect(keyJustBefore('a\u0000')).toBe('a');
  });
});
