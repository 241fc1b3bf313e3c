// Store listings: the S3 store's past one page, in key ranges listed side by side (AWS) or one request after
// another, against a real S3-compatible server; the file store's, its sizes read many files at a time. Every key
// under the prefix exactly once, nothing outside it.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import { beforeAll, expect, it, onTestFinished, vi } from 'vitest';
import { FileObjectStore } from '../../functions/core/stores/file-store.js';
import { BASE64URL_KEY_ORDER, expectedKeys, HEX_KEY_ORDER, inKeyRange, keyRanges, type KeyRange } from '../../functions/core/stores/key-ranges.js';
import type { ObjectInfo } from '../../functions/core/stores/object-store.js';
import { s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';
import { freshBucket, freshFolder, sandbox } from '../harness/context.js';

const PREFIX = 'lab/db/';
let client: S3Client;
let bucket: string;
/** key → size of everything under PREFIX */
const expected = new Map<string, number>();

beforeAll(async () => {
  const { s3 } = sandbox();
  bucket = await freshBucket('listing');
  client = new S3Client(s3ClientConfig({ endpoint: s3.endpoint, bucket }, s3.credentials));
  // 0.11 names (URL-safe base64, 43 characters), keys equal to a range bound or around one (of the listing's ranges
  // side by side and of the passes: K, V, f), characters outside the bounds' alphabet, 0.12-style hex folders: 2,600
  // keys, three pages and more
  const names = Array.from({ length: 2_500 }, () => randomBytes(32).toString('base64url').slice(0, 43));
  names.push('3', '7', '-', '-a', '_', 'w', 'wz', 'z', 'z~', '~tail', '.hidden', 'Ärger', '0a/bc/0abc', 'ff/ee/ffee', 'c/d', 'K', 'V', 'f');
  for (let i = 0; i < 85; i++) names.push(`${(i * 3).toString(16).padStart(2, '0')}/${randomBytes(1).toString('hex')}/${randomBytes(16).toString('hex')}`);
  const limit = pLimit(32);
  const put = (key: string, size: number) => limit(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(size, 1) })));
  await Promise.all(names.map((name, i) => put(PREFIX + name, i % 7).then(() => expected.set(PREFIX + name, i % 7))));
  // neighbours that share the prefix's start but not the prefix
  await Promise.all(['lab/db', 'lab/dbx/a', 'lab/da', 'lab/dc'].map((key) => put(key, 1)));
}, 120_000);

async function listAll(ranges: number, keyRange?: KeyRange): Promise<ObjectInfo[]> {
  const listed: ObjectInfo[] = [];
  for await (const object of new S3ObjectStore(client, bucket, { listRanges: ranges }).list(PREFIX, keyRange)) listed.push(object);
  return listed;
}

/** Spies on the client's requests (until the test ends): their command names in order, and the most of each kind in flight at once. */
function recordRequests() {
  const sent: string[] = [];
  const inFlight = new Map<string, number>();
  const mostInFlight = new Map<string, number>();
  const send = client.send.bind(client);
  const spy = vi.spyOn(client, 'send').mockImplementation((async (command: { constructor: { name: string } }) => {
    const name = command.constructor.name;
    sent.push(name);
    inFlight.set(name, (inFlight.get(name) ?? 0) + 1);
    mostInFlight.set(name, Math.max(mostInFlight.get(name) ?? 0, inFlight.get(name)!));
    try {
      return await send(command as never);
    } finally {
      inFlight.set(name, inFlight.get(name)! - 1);
    }
  }) as never);
  const count = (name: string) => sent.filter((sentName) => sentName === name).length;
  const clear = () => {
    sent.length = 0;
    mostInFlight.clear();
  };
  onTestFinished(() => spy.mockRestore());
  return { count, clear, mostInFlight };
}

it.each([
  [1, 3],
  [16, 3],
  [1, 20],
  [4, 2],
])('lists a key range (listed %i side by side) as the whole listing filtered; %i passes together list every key once', async (ranges, passes) => {
  const byPass: { range: KeyRange; listed: ObjectInfo[] }[] = [];
  // one pass after another, as Inspect and Verify list them
  for (const range of keyRanges(PREFIX, expectedKeys(passes, BASE64URL_KEY_ORDER), 1)) byPass.push({ range, listed: await listAll(ranges, range) });
  for (const { range, listed } of byPass) {
    expect(listed.map((object) => object.key).sort()).toEqual([...expected.keys()].filter((key) => inKeyRange(key, range)).sort());
  }
  const all = byPass.flatMap(({ listed }) => listed);
  expect(all.length).toBe(expected.size);
  expect(new Map(all.map((object) => [object.key, object.size]))).toEqual(expected);
});

it.each([1, 2, 4, 16])('lists every key under the prefix exactly once with %i key range(s)', async (ranges) => {
  const listed = await listAll(ranges);
  expect(listed.length).toBe(expected.size);
  expect(new Map(listed.map((object) => [object.key, object.size]))).toEqual(expected);
  expect(listed.every((object) => /^[0-9a-f]{32}$/.test(object.etag ?? ''))).toBe(true);
});

it('statMany: keys close together are found by a listing of their span, keys far apart (past its limit) and missing keys by a HEAD each', async () => {
  const store = new S3ObjectStore(client, bucket);
  const requests = recordRequests();
  // close together: every other one of 120 keys, non-ASCII names whose UTF-16 order is not S3's UTF-8 order, and
  // two missing keys inside the span
  const put = pLimit(32);
  const names = [...Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(4, '0')}`), 'k\uFF01', 'k\u{1F600}', 'ké'];
  await Promise.all(names.map((name, i) => put(() => client.send(new PutObjectCommand({ Bucket: bucket, Key: `stat/${name}`, Body: Buffer.alloc(i % 5 + 1, 2) })))));
  const wanted = [...names.filter((_, i) => i % 2 === 0 || i >= 120), 'k0001x', 'k\uFF00'].map((name) => `stat/${name}`);
  requests.clear();
  const close = await store.statMany(wanted, 4);
  // only the two missing keys get a HEAD (a missing object is one S3 says is missing)
  expect(requests.count('HeadObjectCommand')).toBe(2);
  expect(requests.count('ListObjectsV2Command')).toBeGreaterThan(0);
  expect([...close.keys()].sort()).toEqual([...wanted].sort());
  for (const key of wanted) {
    const index = names.indexOf(key.slice('stat/'.length));
    expect(close.get(key)?.size ?? null, key).toBe(index < 0 ? null : (index % 5) + 1);
  }

  // far apart: the first and last keys of PREFIX, and a missing one past them: the listing stops after a page that
  // showed fewer than 13 of them, the keys it did not show get a HEAD each
  requests.clear();
  const far = await store.statMany([`${PREFIX}-`, `${PREFIX}~tail`, `${PREFIX}~zzz`], 4);
  expect(far.get(`${PREFIX}-`)?.size).toBe(expected.get(`${PREFIX}-`));
  expect(far.get(`${PREFIX}~tail`)?.size).toBe(expected.get(`${PREFIX}~tail`));
  expect(far.get(`${PREFIX}~zzz`)).toBeNull();
  expect(requests.count('HeadObjectCommand')).toBe(2);
}, 60_000);

it('statMany: keys among many others (every fifth key of PREFIX) are all found by listing, a LIST a page', async () => {
  const store = new S3ObjectStore(client, bucket);
  const requests = recordRequests();
  const byteOrder = [...expected.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const wanted = byteOrder.filter((_, i) => i % 5 === 0);
  const found = await store.statMany(wanted, 4);
  for (const key of wanted) expect(found.get(key)?.size, key).toBe(expected.get(key));
  // 521 keys over 2,603: one span listed through three pages of ~200 of its keys each, no HEAD
  expect(requests.count('HeadObjectCommand')).toBe(0);
  expect(requests.count('ListObjectsV2Command')).toBe(3);
}, 60_000);

it('statMany: many keys are cut into spans of 999 listed side by side (HEADs as many at once as asked), a LIST each when the keys lie together', async () => {
  const store = new S3ObjectStore(client, bucket);
  const requests = recordRequests();
  // every key under PREFIX (2,603) and two missing ones, one among them and one past them: three spans
  const missing = [`${PREFIX}0a/bc/0abcx`, `${PREFIX}~zzz`];
  const wanted = [...expected.keys(), ...missing];
  for (const [concurrency, statsInFlight, listsTogether, headsTogether] of [
    [4, 4, 3, 2],
    [4, 1, 3, 1],
    [1, 2, 1, 2],
  ]) {
    requests.clear();
    const found = await store.statMany(wanted, concurrency, statsInFlight);
    expect(found.size).toBe(wanted.length);
    for (const [key, size] of expected) expect(found.get(key)?.size, key).toBe(size);
    for (const key of missing) expect(found.get(key)).toBeNull();
    expect(requests.count('ListObjectsV2Command')).toBe(3);
    expect(requests.count('HeadObjectCommand')).toBe(2);
    expect(requests.mostInFlight.get('ListObjectsV2Command')).toBe(listsTogether);
    expect(requests.mostInFlight.get('HeadObjectCommand')).toBe(headsTogether);
  }
}, 60_000);

it('stops the other ranges when the reader stops early', async () => {
  const store = new S3ObjectStore(client, bucket, { listRanges: 16 });
  let read = 0;
  for await (const object of store.list(PREFIX)) {
    expect(object.key.startsWith(PREFIX)).toBe(true);
    if (++read === 1_500) break;
  }
  expect(read).toBe(1_500);
  // the store lists again from the start afterwards
  expect((await listAll(16)).length).toBe(expected.size);
});

it('lists every file under a file store prefix once, with its size, across folders and many files', async () => {
  const root = await freshFolder('listing');
  const files = new Map<string, number>();
  // 0.11's flat folder (more files than are read at once) and 0.12's subfolders
  const names = [
    ...Array.from({ length: 150 }, () => randomBytes(32).toString('base64url').slice(0, 43)),
    ...Array.from({ length: 70 }, (_, i) => `${(i % 4).toString(16)}a/b${i % 3}/${randomBytes(16).toString('hex')}`),
  ];
  for (const [i, name] of names.entries()) {
    const path = join(root, 'db', name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, Buffer.alloc(i % 5));
    files.set(path, i % 5);
  }
  for (const outside of ['dbx/a', 'd', 'other/db/a']) {
    await mkdir(dirname(join(root, outside)), { recursive: true });
    await writeFile(join(root, outside), 'x');
  }
  const listed: ObjectInfo[] = [];
  for await (const object of new FileObjectStore(root).list(`${join(root, 'db')}/`)) listed.push(object);
  expect(listed.length).toBe(files.size);
  expect(new Map(listed.map((object) => [object.key, object.size]))).toEqual(files);
  // in passes over key ranges (cut for base64url names, hex folders or both): each file in its range's listing only
  for (const expected of [expectedKeys(5, BASE64URL_KEY_ORDER), expectedKeys(5, HEX_KEY_ORDER), expectedKeys(5, BASE64URL_KEY_ORDER, HEX_KEY_ORDER)]) {
    const inPasses: ObjectInfo[] = [];
    for (const range of keyRanges(`${join(root, 'db')}/`, expected, 1)) {
      for await (const object of new FileObjectStore(root).list(`${join(root, 'db')}/`, range)) {
        expect(inKeyRange(object.key, range)).toBe(true);
        inPasses.push(object);
      }
    }
    expect(inPasses.length).toBe(files.size);
    expect(new Map(inPasses.map((object) => [object.key, object.size]))).toEqual(files);
  }
});
