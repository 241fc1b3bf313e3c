// The file store hashes on a pool of worker threads: the digests must be those of node:crypto over the same bytes,
// and a failed read must fail only its own object.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../../functions/core/stores/file-store.js';
import { HashPool, HashReadError } from '../../functions/core/stores/hash-pool.js';
import { ObjectMissingError } from '../../functions/core/stores/object-store.js';

let folder: string;
let store: FileObjectStore;
const files = new Map<string, Buffer>();

const expected = (bytes: Buffer) => ({
  md5: createHash('md5').update(bytes).digest(),
  sha256: createHash('sha256').update(bytes).digest(),
  size: bytes.length,
});

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'djm-hash-pool-'));
  store = new FileObjectStore(folder);
  await mkdir(join(folder, 'db'));
  const sizes = [0, 1, 4096, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 12_345];
  // more files than workers, so some wait in the queue
  for (let i = sizes.length; i < availableParallelism() * 3 + 2; i += 1) sizes.push(1000 + i * 7919);
  for (const [i, size] of sizes.entries()) {
    const path = join(folder, 'db', `object-${i}`);
    const bytes = randomBytes(size);
    await writeFile(path, bytes);
    files.set(path, bytes);
  }
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('file store digest (worker pool)', () => {
  it('equals node:crypto MD5 and SHA-256 of the same bytes, many files at once', async () => {
    const paths = [...files.keys()];
    const digests = await Promise.all(paths.map((path) => store.digest(path)));
    digests.forEach((digest, i) => expect(digest).toEqual(expected(files.get(paths[i])!)));
  });

  it('rejects a missing file with ObjectMissingError, and only that one', async () => {
    const [present] = files.keys();
    const missing = join(folder, 'db', 'missing');
    const [lost, found] = await Promise.allSettled([store.digest(missing), store.digest(present)]);
    expect(lost.status).toBe('rejected');
    const error = (lost as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(ObjectMissingError);
    expect(error).toMatchObject({ key: missing, store: store.description });
    expect(found).toEqual({ status: 'fulfilled', value: expected(files.get(present)!) });
  });

  it('keeps working after a failed read', async () => {
    await expect(store.digest(join(folder, 'db'))).rejects.toThrow(/EISDIR/);
    await expect(store.digest(join(folder, 'nope', 'nothing'))).rejects.toBeInstanceOf(ObjectMissingError);
    const paths = [...files.keys()];
    const digests = await Promise.all(paths.map((path) => store.digest(path)));
    digests.forEach((digest, i) => expect(digest).toEqual(expected(files.get(paths[i])!)));
  });
});

describe('HashPool', () => {
  it('queues tasks beyond its size and reports errno codes', async () => {
    const pool = new HashPool(1);
    try {
      const paths = [...files.keys()];
      const digests = await Promise.all(paths.map((path) => pool.digest(path)));
      digests.forEach((digest, i) => expect(digest).toEqual(expected(files.get(paths[i])!)));
      const error = await pool.digest(join(folder, 'missing')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HashReadError);
      expect(error).toMatchObject({ code: 'ENOENT' });
    } finally {
      await pool.terminate();
    }
  });

  it('hands a free worker several waiting files in one message: a missing one fails alone, every digest lands on its own file', async () => {
    const pool = new HashPool(2);
    try {
      const paths = [...files.keys()];
      // queued at once behind the first two: the workers then take them in batches
      const asked = [...paths, join(folder, 'db', 'missing'), ...paths.slice().reverse()];
      const settled = await Promise.allSettled(asked.map((path) => pool.digest(path)));
      settled.forEach((result, i) => {
        if (i === paths.length) expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
        else expect(result).toEqual({ status: 'fulfilled', value: expected(files.get(asked[i]!)!) });
      });
    } finally {
      await pool.terminate();
    }
  });

  it('fails only the running task when its worker dies, and replaces the worker', async () => {
    const pool = new HashPool(1);
    try {
      const [path, bytes] = [...files.entries()].reduce((a, b) => (b[1].length > a[1].length ? b : a));
      const running = pool.digest(path);
      const queued = pool.digest(path);
      // kill the worker in the middle of the first task
      await pool.terminate();
      await expect(running).rejects.toThrow(/exited/);
      await expect(queued).resolves.toEqual(expected(bytes));
    } finally {
      await pool.terminate();
    }
  });
});
