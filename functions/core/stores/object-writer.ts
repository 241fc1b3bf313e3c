// Writing new objects (2.x attachments, copied blobs), streamed from a source of known length.
import { AbortMultipartUploadCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline as pipe, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StoreSpec } from '../config/store-spec.js';
import { temporaryPath } from './file-store.js';
import { partBytesFor, s3ClientConfig, SINGLE_REQUEST_MAX_BYTES, type S3Credentials } from './s3-store.js';

/** A multipart upload's part (held in memory while it goes up, two at once): 16 MiB, or more for objects past 160 GB. */
const UPLOAD_PART_BYTES = 16 * 1024 ** 2;
const UPLOAD_PARTS_IN_FLIGHT = 2;

/**
 * Puts a new object of known length: streamed (never held whole), or from memory, which S3's client can send again
 * when S3 answers SlowDown (it does not retry a stream it has read).
 */
export interface ObjectWriter {
  readonly description: string;
  put(key: string, body: Readable | Buffer, size: number): Promise<void>;
}

export class S3ObjectWriter implements ObjectWriter {
  readonly description: string;
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Bigger objects go up in parts (default: PutObject's 5 GiB; tests set it small). */
    private readonly singlePutMaxBytes = SINGLE_REQUEST_MAX_BYTES,
  ) {
    this.description = `s3://${bucket}`;
  }

  /**
   * One PutObject streamed from the source; past its 5 GiB a multipart upload, which holds only the parts in flight
   * and, on failure, is aborted, so nothing appears at the key until the whole object is there.
   */
  async put(key: string, body: Readable | Buffer, size: number): Promise<void> {
    if (Buffer.isBuffer(body) && body.length !== size) throw new Error(`${key}: ${body.length} bytes to write, expected ${size}`);
    if (size <= this.singlePutMaxBytes) {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: size }));
      return;
    }
    const upload = new Upload({
      client: this.client,
      // a failure of the source reaches the upload through the pipe
      params: { Bucket: this.bucket, Key: key, Body: pipe(streamOf(body), exactly(size, key), () => undefined) },
      partSize: partBytesFor(size, UPLOAD_PART_BYTES),
      queueSize: UPLOAD_PARTS_IN_FLIGHT,
      // aborted here, so that the upload's own failure is the one reported whether or not the abort succeeds
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      if (upload.uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upload.uploadId })).catch(() => undefined);
      throw error;
    }
  }
}

export class FileObjectWriter implements ObjectWriter {
  readonly description: string;
  constructor(readonly location: string) {
    this.description = `file:${location}`;
  }

  /** Writes a temporary file and renames it, so a crash never leaves a truncated object at the key. */
  async put(key: string, body: Readable | Buffer, size: number): Promise<void> {
    await mkdir(dirname(key), { recursive: true });
    const temporary = temporaryPath(key);
    try {
      await pipeline(streamOf(body), createWriteStream(temporary));
      const written = (await stat(temporary)).size;
      if (written !== size) throw new Error(`wrote ${written} bytes to ${key}, expected ${size}; the source changed while it was copied`);
      await rename(temporary, key);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

const streamOf = (body: Readable | Buffer): Readable => (Buffer.isBuffer(body) ? Readable.from([body]) : body);

/** Passes `size` bytes on and fails the stream at any other length (so a multipart upload of it is aborted). */
function exactly(size: number, key: string): Transform {
  let seen = 0;
  const wrong = () => new Error(`the source of ${key} gave ${seen > size ? `more than ${size}` : seen} bytes, expected ${size}; it changed while it was copied`);
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > size ? wrong() : null, chunk);
    },
    flush(done) {
      done(seen === size ? null : wrong());
    },
  });
}

export function openObjectWriter(spec: StoreSpec, credentials?: S3Credentials): ObjectWriter {
  if (spec.protocol === 'file') return new FileObjectWriter(spec.location);
  return new S3ObjectWriter(new S3Client(s3ClientConfig(spec, credentials)), spec.bucket);
}
