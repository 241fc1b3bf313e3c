// Writing new objects (2.x attachments, copied blobs), streamed from a source of known length.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StoreSpec } from '../config/store-spec.js';
import { temporaryPath } from './file-store.js';
import { s3ClientConfig, type S3Credentials } from './s3-store.js';

/** Puts a new object from a stream of known length, never holding it whole in memory. */
export interface ObjectWriter {
  readonly description: string;
  put(key: string, body: Readable, size: number): Promise<void>;
}

export class S3ObjectWriter implements ObjectWriter {
  readonly description: string;
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {
    this.description = `s3://${bucket}`;
  }

  async put(key: string, body: Readable, size: number): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: size }));
  }
}

export class FileObjectWriter implements ObjectWriter {
  readonly description: string;
  constructor(readonly location: string) {
    this.description = `file:${location}`;
  }

  /** Writes a temporary file and renames it, so a crash never leaves a truncated object at the key. */
  async put(key: string, body: Readable, size: number): Promise<void> {
    await mkdir(dirname(key), { recursive: true });
    const temporary = temporaryPath(key);
    try {
      await pipeline(body, createWriteStream(temporary));
      const written = (await stat(temporary)).size;
      if (written !== size) throw new Error(`wrote ${written} bytes to ${key}, expected ${size}; the source changed while it was copied`);
      await rename(temporary, key);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

export function openObjectWriter(spec: StoreSpec, credentials?: S3Credentials): ObjectWriter {
  if (spec.protocol === 'file') return new FileObjectWriter(spec.location);
  return new S3ObjectWriter(new S3Client(s3ClientConfig(spec, credentials)), spec.bucket);
}
