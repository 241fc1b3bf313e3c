// S3 answers 503 SlowDown while a prefix takes more requests than it can yet: a store's reads ride it out (the
// client's adaptive retries) rather than failing a whole hash batch. A real HTTP server answers as S3 does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { S3_MAX_ATTEMPTS, s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>';
let server: Server;
let endpoint: string;
/** Requests to throttle before answering, and the requests seen. */
let throttle = 0;
let requests = 0;
/** Bytes of each request's body. */
const bodies: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    requests++;
    let bytes = 0;
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => bodies.push(bytes));
    if (throttle > 0) {
      throttle--;
      response.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '5', etag: '"5d41402abc4b2a76b9719d911017c592"' }).end('hello');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = () => new S3Client(s3ClientConfig({ endpoint, bucket: 'lab' }, { accessKeyId: 'k', secretAccessKey: 's' }));
const store = () => new S3ObjectStore(client(), 'lab');

async function text(stream: AsyncIterable<Buffer>): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk.toString('utf8');
  return out;
}

it('reads through a run of SlowDown answers that the SDK default of 3 attempts would not outlast', async () => {
  throttle = 3;
  requests = 0;
  expect(await text(await store().read('db/object'))).toBe('hello');
  expect(requests).toBe(4);
  expect(S3_MAX_ATTEMPTS).toBeGreaterThan(4);
}, 30_000);

it('writes an object from memory through SlowDown answers (a streamed one is not sent again: the SDK does not retry it)', async () => {
  throttle = 2;
  requests = 0;
  bodies.length = 0;
  await new S3ObjectWriter(client(), 'lab').put('db/_hash/x', Buffer.alloc(1024, 7), 1024);
  expect(bodies).toEqual([1024, 1024, 1024]);
  throttle = 1;
  await expect(new S3ObjectWriter(client(), 'lab').put('db/_hash/y', Readable.from([Buffer.alloc(1024, 7)]), 1024)).rejects.toMatchObject({ name: 'SlowDown' });
  throttle = 0;
}, 30_000);
