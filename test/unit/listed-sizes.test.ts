// A store listing's sizes held compactly (ListedSizes): whatever the keys, it must answer as a Map of key → size would.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { legacyHash } from '../../functions/core/datajoint/v011.js';
import { ListedSizes } from '../../functions/core/stores/listed-sizes.js';

const PREFIX = 'dj/lab_ephys/';
const hashOf = (i: number) => legacyHash(Buffer.from(`object ${i}`));

/** Sets every [key, size] in both, then checks every key asked gives the same answer. */
function expectLikeMap(entries: [string, number][], asked: string[]): ListedSizes {
  const listed = new ListedSizes(PREFIX);
  const reference = new Map<string, number>();
  for (const [key, size] of entries) {
    listed.set(key, size);
    reference.set(key, size);
  }
  for (const key of asked) expect(listed.get(key), key).toBe(reference.get(key));
  expect(listed.count).toBe(reference.size);
  return listed;
}

describe('ListedSizes', () => {
  it('answers as a Map for 0.11 object names of several suffixes, across many table growths', () => {
    const entries: [string, number][] = [];
    for (let i = 0; i < 50_000; i++) entries.push([`${PREFIX}${hashOf(i)}${['', 'shared', 'raw_2'][i % 3]}`, i * 1_000_003]);
    // the same hash under another suffix is another object; one name listed twice keeps its last size
    entries.push([`${PREFIX}${hashOf(0)}shared`, 7], [`${PREFIX}${hashOf(3)}`, 8]);
    const asked = [...entries.map(([key]) => key), `${PREFIX}${hashOf(1)}`, `${PREFIX}${hashOf(50_001)}`, `${PREFIX}${hashOf(2)}other`];
    expectLikeMap(entries, asked);
  });

  it('keeps keys of any other form apart, exactly as listed', () => {
    const hash = hashOf(1);
    // the last character's unused low bit set: decodes to the same bytes, but is another object name
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = hash.slice(0, -1) + alphabet[alphabet.indexOf(hash.at(-1)!) + 1];
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(hash, 'base64url'));
    const entries: [string, number][] = [
      [`${PREFIX}${hash}`, 1],
      [`${PREFIX}${respelled}`, 2],
      [`other/lab_ephys/${hash}`, 3], // outside the prefix
      [`${PREFIX}${hash}/nested`, 4],
      [`${PREFIX}${hash}toolongsuffix`, 5],
      [`${PREFIX}${hash.slice(0, 42)}`, 6], // too short
      [`${PREFIX}${hash.slice(0, 42)}+`, 7], // not base64url
      [`${PREFIX}lab_ephys/ab/cd/${createHash('md5').update('x').digest('hex')}`, 8], // a 0.12 path
    ];
    expectLikeMap(entries, [...entries.map(([key]) => key), `${PREFIX}${hash}x`, `${PREFIX}`]);
  });
});
