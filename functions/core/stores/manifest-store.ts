// Where work manifests live: JSON Lines files the Distributed Map reads (ItemReader) — in AWS objects of the stack's
// manifests bucket, locally files below a folder. Written as a stream, so a manifest of millions of objects never sits
// in memory whole.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** One record of a manifest and the bytes [start, end) of its line, so a slice of lines can be read back alone. */
export interface ManifestLine {
  record: unknown;
  start: number;
  end: number;
}

/** Bytes [start, end) of a manifest: a run of whole lines, as `read` reported their ranges. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ManifestStore {
  /** Writes one JSON value per line under `key`. */
  write(key: string, records: AsyncIterable<unknown>): Promise<void>;
  /** The records of the manifest at `key`, in order: all, or those of the lines in `range`. */
  read(key: string, range?: ByteRange): AsyncIterable<ManifestLine>;
}

function jsonLines(records: AsyncIterable<unknown>): Readable {
  return Readable.from(
    (async function* () {
      for await (const record of records) yield `${JSON.stringify(record)}\n`;
    })(),
  );
}

/** Splits bytes that start at `offset` of a manifest into its records, each with its line's byte range. */
async function* parseLines(chunks: AsyncIterable<Buffer>, offset: number): AsyncIterable<ManifestLine> {
  let pending: Buffer = Buffer.alloc(0);
  let start = offset;
  const parsed = (line: Buffer, end: number): ManifestLine[] => {
    const text = line.toString('utf8').trim();
    return text ? [{ record: JSON.parse(text) as unknown, start, end }] : [];
  };
  for await (const chunk of chunks) {
    const bytes = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let from = 0;
    for (let newline = bytes.indexOf(10); newline !== -1; newline = bytes.indexOf(10, from)) {
      const end = start + newline + 1 - from;
      yield* parsed(bytes.subarray(from, newline), end);
      start = end;
      from = newline + 1;
    }
    pending = bytes.subarray(from);
  }
  yield* parsed(pending, start + pending.length);
}

/** Manifests as files below `root` (the local runner's). */
export function fileManifestStore(root: string): ManifestStore {
  return {
    async write(key, records) {
      const path = join(root, key);
      await mkdir(dirname(path), { recursive: true });
      // a manifest appears whole or not at all
      const partial = `${path}.partial`;
      await pipeline(jsonLines(records), createWriteStream(partial));
      await rename(partial, path);
    },
    async *read(key, range) {
      // an empty range reads nothing (createReadStream's end is inclusive)
      if (range && range.end <= range.start) return;
      yield* parseLines(createReadStream(join(root, key), range ? { start: range.start, end: range.end - 1 } : {}), range?.start ?? 0);
    },
  };
}

/** Manifests as objects of `bucket` (multipart upload as they are produced, SSE-S3); the client is made on first use. */
export function s3ManifestStore(makeClient: () => S3Client, bucket: string): ManifestStore {
  let made: S3Client | undefined;
  const client = () => (made ??= makeClient());
  return {
    async write(key, records) {
      await new Upload({
        client: client(),
        params: {
          Bucket: bucket,
          Key: key,
          Body: jsonLines(records),
          ContentType: 'application/jsonl',
          ServerSideEncryption: 'AES256',
        },
      }).done();
    },
    async *read(key, range) {
      if (range && range.end <= range.start) return;
      const { Body } = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }));
      yield* parseLines(Body as Readable, range?.start ?? 0);
    },
  };
}
