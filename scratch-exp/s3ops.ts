import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { s3ClientConfig } from '../functions/core/stores/s3-store.js';
import { startSandbox } from '../functions/local/sandbox/sandbox.js';
const sandbox = await startSandbox();
await sandbox.createBucket('ops');
const client = new S3Client(s3ClientConfig({ endpoint: sandbox.s3.endpoint, bucket: 'ops' }, sandbox.s3.credentials));
const N = 500;
for (const conc of [8, 32]) {
  const limit = pLimit(conc);
  const time = async (label: string, op: (i: number) => Promise<unknown>) => {
    const t = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => limit(() => op(i))));
    console.log(conc, label, ((performance.now() - t) / N).toFixed(2), 'ms/op');
  };
  await time('PUT', (i) => client.send(new PutObjectCommand({ Bucket: 'ops', Key: `a/${conc}/${i}`, Body: Buffer.from(`x${i}`) })));
  await time('HEAD', (i) => client.send(new HeadObjectCommand({ Bucket: 'ops', Key: `a/${conc}/${i}` })));
  await time('HEAD missing', (i) => client.send(new HeadObjectCommand({ Bucket: 'ops', Key: `b/${conc}/${i}` })).catch(() => 0));
  await time('GET', async (i) => { const r = await client.send(new GetObjectCommand({ Bucket: 'ops', Key: `a/${conc}/${i}` })); await (r.Body as any).transformToByteArray(); });
}
await sandbox.stop();
