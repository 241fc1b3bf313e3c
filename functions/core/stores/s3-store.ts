import {
  CopyObjectCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { digestStream, type StreamDigest } from './hash-stream.js';
import { ObjectMissingError, type ObjectInfo, type ObjectStore } from './object-store.js';

export interface S3Location {
  /** DataJoint's `endpoint` (`host[:port]`, no scheme); an AWS endpoint or none uses the SDK's own. */
  endpoint?: string;
  bucket: string;
  /** DataJoint's `secure`: https when true. DataJoint 0.11–0.14 default to plain http. */
  secure?: boolean;
  region?: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** A DataJoint `s3` store: keys are object keys inside the bucket. */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {
    this.description = `s3://${bucket}`;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async read(key: string): Promise<Readable> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return object.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(this.description, key);
      throw error;
    }
  }

  async digest(key: string): Promise<StreamDigest> {
    // Network-bound: hashing the response stream on this thread keeps up with it.
    return digestStream(await this.read(key));
  }

  async copy(sourceKey: string, targetKey: string): Promise<void> {
    const copySource = `${this.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: targetKey, CopySource: copySource }));
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(this.description, sourceKey);
      throw error;
    }
  }

  async defaultEncryption(): Promise<string | null | undefined> {
    try {
      const response = await this.client.send(new GetBucketEncryptionCommand({ Bucket: this.bucket }));
      return response.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm ?? null;
    } catch (error) {
      if ((error as { name?: string }).name === 'ServerSideEncryptionConfigurationNotFoundError') return null;
      // not allowed (s3:GetEncryptionConfiguration) or not implemented (S3-compatible servers): unknown
      return undefined;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix })) {
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0, ...(object.ETag ? { etag: object.ETag.replace(/"/g, '') } : {}) };
      }
    }
  }
}

function isMissing(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return error instanceof NoSuchKey || error instanceof NotFound || name === 'NoSuchKey' || name === 'NotFound';
}

/** True for endpoints the SDK resolves itself (AWS S3); anything else is an S3-compatible server. */
export function isAwsEndpoint(endpoint: string | undefined): boolean {
  return endpoint === undefined || endpoint === '' || /(^|\.)amazonaws\.com(\.cn)?(:\d+)?$/i.test(endpoint.replace(/^https?:\/\//, ''));
}

/**
 * Client settings for a DataJoint s3 store. Non-AWS servers (MinIO, Ceph, s3rver) get path-style addressing and
 * checksums only when required: with the SDK's default checksums they store streamed uploads with the
 * aws-chunked framing inside the object.
 */
export function s3ClientConfig(location: S3Location, credentials?: S3Credentials): S3ClientConfig {
  const region = location.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (isAwsEndpoint(location.endpoint)) return { region, ...(credentials ? { credentials } : {}) };
  const scheme = location.secure ? 'https' : 'http';
  const endpoint = /^https?:\/\//.test(location.endpoint!) ? location.endpoint! : `${scheme}://${location.endpoint}`;
  return {
    region,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(credentials ? { credentials } : {}),
  };
}
