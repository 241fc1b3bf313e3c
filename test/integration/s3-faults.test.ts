// What S3 does now and then, answered by a real HTTP server as S3 answers: 503 SlowDown while a prefix takes more
// requests than it can yet (a store's reads and writes ride it out: the client's adaptive retries, a body from memory),
// and a download that breaks off mid-object (the read goes on from where it stopped, from the same object only).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectWriter } from '../../functions/core/stores/object-writer.js';
import { AWS_RETRIES } from '../../functions/core/aws-retries.js';
import { s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';

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
    if (request.url?.includes('/broken/')) return breakOff(request, response);
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

/** A MiB whose download breaks off after 400 KiB; a ranged GET of the rest answers while its If-Match is the ETag. */
const WHOLE = Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => (i * 7) % 251));
const BREAK_AT = 400 * 1024;
const ETAG = '"whole-1"';
/** The Range and If-Match headers of each GET of the breaking object; breaks: downloads still to break off. */
const ranged: { range?: string; ifMatch?: string }[] = [];
let breaks = 0;
let etagNow = ETAG;
function breakOff(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  const range = request.headers.range;
  ranged.push({ range, ifMatch: request.headers['if-match'] });
  if (range) {
    if (request.headers['if-match'] !== etagNow) {
      response.writeHead(412, { 'content-type': 'application/xml' }).end('<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
      return;
    }
    const from = Number(/^bytes=(\d+)-$/.exec(range)![1]);
    const rest = WHOLE.subarray(from);
    response.writeHead(206, { 'content-length': String(rest.length), 'content-range': `bytes ${from}-${WHOLE.length - 1}/${WHOLE.length}`, etag: etagNow });
    if (breaks-- > 0) {
      response.write(rest.subarray(0, 1024), () => response.socket?.destroy());
      return;
    }
    response.end(rest);
    return;
  }
  response.writeHead(200, { 'content-length': String(WHOLE.length), etag: etagNow });
  breaks--;
  response.write(WHOLE.subarray(0, BREAK_AT), () => response.socket?.destroy());
}

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
  expect(AWS_RETRIES.maxAttempts).toBeGreaterThan(4);
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

it('goes on with a download that broke off from the byte it reached, of the same object only', async () => {
  ranged.length = 0;
  breaks = 2;
  etagNow = ETAG;
  // broken off after 400 KiB, then again 1 KiB into the rest: read whole, hashed as the object
  const digest = await store().digest('db/broken/a');
  expect(digest.size).toBe(WHOLE.length);
  expect(digest.md5.equals(createHash('md5').update(WHOLE).digest())).toBe(true);
  expect(ranged).toEqual([{}, { range: `bytes=${BREAK_AT}-`, ifMatch: ETAG }, { range: `bytes=${BREAK_AT + 1024}-`, ifMatch: ETAG }]);
  // replaced meanwhile: the rest is refused, nothing of two objects is mixed
  ranged.length = 0;
  breaks = 1;
  const read = await store().read('db/broken/b');
  etagNow = '"whole-2"';
  await expect(text(read)).rejects.toMatchObject({ name: 'PreconditionFailed' });
  etagNow = ETAG;
}, 30_000);
