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
import { createInterface } from 'node:readline';

export interface ManifestStore {
  /** Writes one JSON value per line under `key`. */
  write(key: string, records: AsyncIterable<unknown>): Promise<void>;
  /** The records of the manifest at `key`, in order. */
  read(key: string): AsyncIterable<unknown>;
}

function jsonLines(records: AsyncIterable<unknown>): Readable {
  return Readable.from(
    (async function* () {
      for await (const record of records) yield `${JSON.stringify(record)}\n`;
    })(),
  );
}

async function* parseLines(lines: AsyncIterable<string>): AsyncIterable<unknown> {
  for await (const line of lines) if (line.trim()) yield JSON.parse(line) as unknown;
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
    read(key) {
      return parseLines(createInterface({ input: createReadStream(join(root, key)), crlfDelay: Infinity }));
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
    async *read(key) {
      const { Body } = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      yield* parseLines(createInterface({ input: Body as Readable, crlfDelay: Infinity }));
    },
  };
}
