import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { S3ObjectWriter } from '../functions/core/stores/object-writer.js';
import { s3ClientConfig } from '../functions/core/stores/s3-store.js';
let throttle = 1;
const seen: number[] = [];
const server = createServer((req, res) => {
  let n = 0;
  req.on('data', (c: Buffer) => (n += c.length));
  req.on('end', () => {
    seen.push(n);
    if (throttle-- > 0) { res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>x</Message></Error>'); return; }
    res.writeHead(200, { etag: '"x"' }).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
const w = new S3ObjectWriter(new S3Client(s3ClientConfig({ endpoint, bucket: 'b' }, { accessKeyId: 'k', secretAccessKey: 's' })), 'b');
const body = Readable.from([Buffer.alloc(600, 1), Buffer.alloc(424, 2)]);
try { await w.put('k', body, 1024); console.log('ok', seen); } catch (e) { console.log('error', (e as Error).name, (e as Error).message, seen); }
throttle = 1; seen.length = 0;
try { await w.put('k2', Buffer.alloc(1024, 3) as never, 1024); console.log('buffer ok', seen); } catch (e) { console.log('buffer error', (e as Error).name, seen); }
server.close();
