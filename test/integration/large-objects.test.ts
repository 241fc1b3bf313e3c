// Objects past S3's single-request limit (5 GiB) written by djmigrate (a 2.x attachment): a multipart upload against a
// real S3-compatible server, with the limit set small. Nothing appears at the key unless every byte arrived.
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { S3ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';
import { freshBucket, sandbox } from '../harness/context.js';

const MiB = 1024 ** 2;
let client: S3Client;
let bucket: string;

beforeAll(async () => {
  const { s3 } = sandbox();
  bucket = await freshBucket('large');
  client = new S3Client(s3ClientConfig({ endpoint: s3.endpoint, bucket }, s3.credentials));
});

/** `mib` MiB of bytes that differ chunk by chunk, streamed a MiB at a time (then an error, when given). */
function source(mib: number, failAfter?: number): { stream: Readable; md5: string } {
  const chunks = Array.from({ length: mib }, (_, i) => Buffer.alloc(MiB, i + 1));
  const md5 = createHash('md5');
  for (const chunk of chunks) md5.update(chunk);
  async function* generate() {
    for (const [index, chunk] of chunks.entries()) {
      if (index === failAfter) throw new Error('connection reset while reading the source');
      yield chunk;
    }
  }
  return { stream: Readable.from(generate()), md5: md5.digest('hex') };
}

function commandsSent() {
  const sent: string[] = [];
  const send = client.send.bind(client);
  const spy = vi.spyOn(client, 'send').mockImplementation(((command: { constructor: { name: string } }) => {
    sent.push(command.constructor.name);
    return send(command as never);
  }) as never);
  return { sent, restore: () => spy.mockRestore() };
}

describe('S3 writer past the single-PUT limit', () => {
  it('uploads in parts, and the object reads back whole', async () => {
    const { stream, md5 } = source(40);
    const requests = commandsSent();
    await new S3ObjectWriter(client, bucket, MiB).put('lab/_hash/big', stream, 40 * MiB).finally(requests.restore);
    // parts of 16 MiB: three
    expect(requests.sent.filter((name) => name === 'UploadPartCommand')).toHaveLength(3);
    expect(requests.sent).toContain('CompleteMultipartUploadCommand');
    expect(requests.sent).not.toContain('PutObjectCommand');
    const body = (await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'lab/_hash/big' }))).Body as Readable;
    const read = createHash('md5');
    for await (const chunk of body) read.update(chunk as Buffer);
    expect(read.digest('hex')).toBe(md5);
  });

  it('an object up to the limit is one PutObject', async () => {
    const { stream } = source(1);
    const requests = commandsSent();
    await new S3ObjectWriter(client, bucket, MiB).put('lab/_hash/small', stream, MiB).finally(requests.restore);
    expect(requests.sent).toEqual(['PutObjectCommand']);
  });

  it.each([
    ['shorter than its size', 20, 21, undefined],
    ['longer than its size', 20, 19, undefined],
    ['failing after its first part', 20, 20, 18],
  ])('a source %s fails the upload and leaves nothing at the key', async (_, mib, declared, failAfter) => {
    const key = `lab/_hash/${mib}-${declared}-${failAfter ?? 'none'}`;
    const { stream } = source(mib, failAfter);
    const requests = commandsSent();
    const put = new S3ObjectWriter(client, bucket, MiB).put(key, stream, declared * MiB).finally(requests.restore);
    await expect(put).rejects.toThrow(failAfter ? /connection reset/ : /changed while it was copied/);
    expect(requests.sent).not.toContain('CompleteMultipartUploadCommand');
    expect(requests.sent.at(-1)).toBe('AbortMultipartUploadCommand');
    expect(await new S3ObjectStore(client, bucket).stat(key)).toBeNull();
  });
});
