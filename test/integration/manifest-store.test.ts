// The Distributed Map's manifests, written as a stream and read back, in an S3-compatible bucket and in a folder.
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { fileManifestStore, s3ManifestStore, type ManifestLine, type ManifestStore } from '../../functions/core/stores/manifest-store.js';
import { s3ClientConfig } from '../../functions/core/stores/s3-store.js';
import { freshBucket, freshFolder, sandbox } from '../harness/context.js';

async function* records(n: number): AsyncIterable<unknown> {
  for (let i = 0; i < n; i++) yield { h: `hash${i}\u00e9"quoted"`, s: 'external', n: i };
}

/** Writes n records, reads them back, and reads back a slice of lines by the byte range `read` gave them. */
async function roundTrip(store: ManifestStore, key: string, n: number): Promise<unknown[]> {
  await store.write(key, records(n));
  const lines: ManifestLine[] = [];
  for await (const line of store.read(key)) lines.push(line);
  // the lines' ranges follow each other from byte 0
  lines.forEach((line, i) => expect(line.start).toBe(i === 0 ? 0 : lines[i - 1]!.end));
  if (n > 2) {
    const [from, to] = [Math.floor(n / 3), Math.floor((2 * n) / 3)];
    const slice: unknown[] = [];
    for await (const { record } of store.read(key, { start: lines[from]!.start, end: lines[to]!.end })) slice.push(record);
    expect(slice).toEqual(lines.slice(from, to + 1).map((line) => line.record));
  }
  for await (const line of store.read(key, { start: 5, end: 5 })) throw new Error(`an empty range read ${JSON.stringify(line)}`);
  return lines.map((line) => line.record);
}

describe('manifest stores', () => {
  // 120,000 lines of ~55 bytes (~6.6 MB) are more than one 5 MB part: the S3 upload goes multipart
  const expected = (n: number) => Array.from({ length: n }, (_, i) => ({ h: `hash${i}\u00e9"quoted"`, s: 'external', n: i }));

  it('S3: a multipart upload of JSON Lines, read back in order', async () => {
    const bucket = await freshBucket('manifest');
    const { s3 } = sandbox();
    const store = s3ManifestStore(() => new S3Client(s3ClientConfig({ endpoint: s3.endpoint, bucket }, s3.credentials)), bucket);
    expect(await roundTrip(store, 'manifests/lab/run-1/hash.jsonl', 120_000)).toEqual(expected(120_000));
    expect(await roundTrip(store, 'manifests/lab/run-2/hash.jsonl', 0)).toEqual([]);
  });

  it('file: written whole under the key, read back in order', async () => {
    const store = fileManifestStore(await freshFolder('manifest'));
    expect(await roundTrip(store, 'manifests/lab/run-1/hash.jsonl', 1000)).toEqual(expected(1000));
  });
});
