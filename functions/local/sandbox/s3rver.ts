// A throwaway S3-compatible server: s3rver 3.7.1 in a child Node process on a free 127.0.0.1 port, with its
// data in a temp folder. The child runs with --openssl-legacy-provider: without it s3rver answers every
// paginated ListObjectsV2 with InternalError.
import { BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { s3ClientConfig } from '../../core/stores/s3-store.js';
import { guardChild, killChild, tailOf } from './mariadb.js';

export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface S3rverServer {
  /** DataJoint-style endpoint `127.0.0.1:<port>` (no scheme; plain http), as in a store spec's `endpoint`. */
  endpoint: string;
  /** The same as a URL: `http://127.0.0.1:<port>`. */
  url: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  /** Where s3rver keeps its buckets (removed by `stop`). */
  directory: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface StartS3rverOptions {
  startTimeoutMs?: number;
}

export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverServer> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const dir = await mkdtemp(join(tmpdir(), 'djm-s3rver-'));
  // -p 0: s3rver listens on a port the OS picks and prints it, so there is no race for the port.
  const child = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', '0', '--silent'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const guard = guardChild(child, [dir]);
  const log = tailOf(child, true);
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      let stdout = '';
      const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${options.startTimeoutMs ?? 30_000} ms:\n${log()}`)), options.startTimeoutMs ?? 30_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const match = /S3rver listening on [^\s:]+:(\d+)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${signal ?? `code ${code}`} before listening:\n${log()}`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    await killChild(child);
    guard.release();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  // Keep draining the pipes so a chatty child never blocks on a full pipe.
  child.stdout!.resume();
  child.stderr!.resume();
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`[djmigrate sandbox] s3rver on port ${port} exited unexpectedly (${signal ?? `code ${code}`}):\n${log()}`);
  });

  const endpoint = `127.0.0.1:${port}`;
  const credentials = { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: S3RVER_SECRET_KEY };
  return {
    endpoint,
    url: `http://${endpoint}`,
    accessKeyId: S3RVER_ACCESS_KEY,
    secretAccessKey: S3RVER_SECRET_KEY,
    directory: dir,
    async createBucket(name: string) {
      const client = new S3Client(s3ClientConfig({ endpoint, bucket: name }, credentials));
      try {
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } catch (error) {
        if (!(error instanceof BucketAlreadyOwnedByYou) && (error as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw error;
      } finally {
        client.destroy();
      }
    },
    async stop() {
      stopping = true;
      await killChild(child);
      guard.release();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
