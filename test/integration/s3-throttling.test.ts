// S3 answers 503 SlowDown while a prefix takes more requests than it can yet: a store's reads ride it out (the
// client's adaptive retries) rather than failing a whole hash batch. A real HTTP server answers as S3 does.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { S3_MAX_ATTEMPTS, s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';

const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>';
let server: Server;
let endpoint: string;
/** Requests to throttle before answering, and the requests seen. */
let throttle = 0;
let requests = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    requests++;
    request.resume();
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

const store = () => new S3ObjectStore(new S3Client(s3ClientConfig({ endpoint, bucket: 'lab' }, { accessKeyId: 'k', secretAccessKey: 's' })), 'lab');

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
