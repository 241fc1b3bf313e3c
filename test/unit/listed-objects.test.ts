// A store listing's objects held compactly (ListedObjects): whatever the keys, it must answer as a Map of key → object would.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { legacyHash } from '../../functions/core/datajoint/v011.js';
import { ListedObjects, type ListedObject } from '../../functions/core/stores/listed-objects.js';

const PREFIX = 'dj/lab_ephys/';
const hashOf = (i: number) => legacyHash(Buffer.from(`object ${i}`));

/** Sets every [key, size] in both (with an MD5 made from the size when `md5s`), then checks every key asked gives the same answer. */
function expectLikeMap(entries: [string, number][], asked: string[], md5s = false): ListedObjects {
  const listed = new ListedObjects(PREFIX, { md5s });
  const reference = new Map<string, ListedObject>();
  for (const [key, size] of entries) {
    const object = { size, ...(md5s ? { md5: createHash('md5').update(String(size)).digest() } : {}) };
    listed.set(key, object);
    reference.set(key, object);
  }
  for (const key of asked) expect(listed.get(key), key).toEqual(reference.get(key));
  expect(listed.count).toBe(reference.size);
  return listed;
}

describe('ListedObjects', () => {
  it('answers as a Map for 0.11 object names of several suffixes, across many table growths', () => {
    const entries: [string, number][] = [];
    for (let i = 0; i < 50_000; i++) entries.push([`${PREFIX}${hashOf(i)}${['', 'shared', 'raw_2'][i % 3]}`, i * 1_000_003]);
    // the same hash under another suffix is another object; one name listed twice keeps its last size
    entries.push([`${PREFIX}${hashOf(0)}shared`, 7], [`${PREFIX}${hashOf(3)}`, 8]);
    const asked = [...entries.map(([key]) => key), `${PREFIX}${hashOf(1)}`, `${PREFIX}${hashOf(50_001)}`, `${PREFIX}${hashOf(2)}other`];
    expectLikeMap(entries, asked);
    // with each object's MD5 (trustEtag's listing)
    expectLikeMap(entries, asked, true);
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
    expectLikeMap(entries, [...entries.map(([key]) => key), `${PREFIX}${hash}x`, `${PREFIX}`], true);
    expect(() => new ListedObjects(PREFIX, { md5s: true }).set(`${PREFIX}${hash}`, { size: 1 })).toThrow(/without a 16-byte MD5/);
  });
});
