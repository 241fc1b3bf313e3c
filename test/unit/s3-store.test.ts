// AWS error paths of the S3 store, which a local S3-compatible server cannot produce on demand.
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, NotFound, S3Client, S3ServiceException, UploadPartCopyCommand } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { classifyError, TransientError } from '../../functions/core/errors.js';
import { ObjectMissingError } from '../../functions/core/stores/object-store.js';
import { AWS_LIST_RANGES, openedOnce, openObjectStore } from '../../functions/core/stores/open-store.js';
import { AWS_RETRIES } from '../../functions/core/aws-retries.js';
import { s3ClientConfig, S3ObjectStore } from '../../functions/core/stores/s3-store.js';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const store = () => new S3ObjectStore(new S3Client({ region: 'us-east-1' }), 'lab-bucket');
const serviceError = (name: string, status: number) => new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

describe('S3 object store', () => {
  it('reports a missing object as ObjectMissingError on read and as null on stat', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no such key', $metadata: {} }));
    s3.on(HeadObjectCommand).rejects(new NotFound({ message: 'not found', $metadata: {} }));
    await expect(store().read('lab/db/h')).rejects.toBeInstanceOf(ObjectMissingError);
    await expect(store().stat('lab/db/h')).resolves.toBeNull();
  });

  it('turns throttling and 5xx answers into TransientError, which the state machine retries', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('SlowDown', 503));
    const error = await store().read('lab/db/h').catch((e: unknown) => e);
    expect(classifyError(error)).toBeInstanceOf(TransientError);
    expect(classifyError(serviceError('InternalError', 500))).toBeInstanceOf(TransientError);
    expect(classifyError(serviceError('AccessDenied', 403))).not.toBeInstanceOf(TransientError);
  });

  it('copies server-side with the source key URL-encoded and never deletes', async () => {
    s3.on(CopyObjectCommand).resolves({});
    await store().copy('lab/db/a+b c', 'lab/db/0a/bc/0abc', 1024);
    const [call] = s3.commandCalls(CopyObjectCommand);
    expect(call.args[0].input).toEqual({ Bucket: 'lab-bucket', Key: 'lab/db/0a/bc/0abc', CopySource: 'lab-bucket/lab/db/a%2Bb%20c' });
  });

  it('copies an object past the CopyObject limit in byte ranges of a multipart upload, completed in part order', async () => {
    const GiB = 1024 ** 3;
    const size = 1.25 * GiB;
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-1' });
    s3.on(UploadPartCopyCommand).callsFake((input: { PartNumber: number }) => ({ CopyPartResult: { ETag: `"etag-${input.PartNumber}"` } }));
    s3.on(CompleteMultipartUploadCommand).resolves({});
    await new S3ObjectStore(new S3Client({ region: 'us-east-1' }), 'lab-bucket', { singleCopyMaxBytes: GiB }).copy('lab/db/big', 'lab/_hash/big', size);
    expect(s3.commandCalls(CopyObjectCommand)).toHaveLength(0);
    const parts = s3.commandCalls(UploadPartCopyCommand).map((call) => call.args[0].input);
    expect(parts.map((part) => [part.PartNumber, part.CopySourceRange, part.CopySource, part.UploadId]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [1, `bytes=0-${GiB / 2 - 1}`, 'lab-bucket/lab/db/big', 'up-1'],
      [2, `bytes=${GiB / 2}-${GiB - 1}`, 'lab-bucket/lab/db/big', 'up-1'],
      [3, `bytes=${GiB}-${size - 1}`, 'lab-bucket/lab/db/big', 'up-1'],
    ]);
    const [complete] = s3.commandCalls(CompleteMultipartUploadCommand);
    expect(complete.args[0].input).toMatchObject({ Key: 'lab/_hash/big', UploadId: 'up-1', MultipartUpload: { Parts: [1, 2, 3].map((n) => ({ PartNumber: n, ETag: `"etag-${n}"` })) } });
    expect(s3.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0);
  });

  it('aborts a multipart copy whose part fails, and reports a missing source as missing', async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: 'up-2' });
    s3.on(UploadPartCopyCommand).rejects(new NoSuchKey({ message: 'no such key', $metadata: {} }));
    s3.on(AbortMultipartUploadCommand).resolves({});
    const copy = new S3ObjectStore(new S3Client({ region: 'us-east-1' }), 'lab-bucket', { singleCopyMaxBytes: 1 }).copy('lab/db/gone', 'lab/_hash/gone', 64 * 1024 ** 2);
    await expect(copy).rejects.toBeInstanceOf(ObjectMissingError);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((call) => call.args[0].input)).toEqual([{ Bucket: 'lab-bucket', Key: 'lab/_hash/gone', UploadId: 'up-2' }]);
  });

  it('opens a store or writer once per name and spec, so its client and connections serve every call', () => {
    let opened = 0;
    const open = openedOnce((name, spec) => ({ name, spec, n: ++opened }));
    const spec = { protocol: 's3' as const, bucket: 'lab-bucket', location: 'store' };
    expect(open('main', spec)).toBe(open('main', { ...spec }));
    expect(open('main', { ...spec, location: 'other' })).not.toBe(open('main', spec));
    expect(open('copy', spec).n).toBe(3);
  });

  it('uses path style and checksums only when required for S3-compatible servers, SDK defaults for AWS but its retries', () => {
    expect(s3ClientConfig({ endpoint: 'localhost:9000', bucket: 'b' })).toMatchObject({
      endpoint: 'http://localhost:9000',
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      retryMode: 'adaptive',
      maxAttempts: AWS_RETRIES.maxAttempts,
    });
    expect(s3ClientConfig({ endpoint: 'minio.lab:9000', bucket: 'b', secure: true }).endpoint).toBe('https://minio.lab:9000');
    const aws = s3ClientConfig({ endpoint: 's3.amazonaws.com', bucket: 'b', region: 'eu-west-1' });
    expect(aws).toEqual({ region: 'eu-west-1', retryMode: 'adaptive', maxAttempts: AWS_RETRIES.maxAttempts });
  });

  it('fails the whole listing when one of its key ranges is refused, and stops the others', async () => {
    const page = (keys: string[], truncated: boolean) => ({ Contents: keys.map((Key) => ({ Key, Size: 1 })), IsTruncated: truncated, ...(truncated ? { NextContinuationToken: 't' } : {}) });
    s3.on(ListObjectsV2Command).callsFake((input: { StartAfter?: string }) => {
      if (input.StartAfter === undefined) return page(['lab/db/-1'], true);
      if (input.StartAfter === 'lab/db/V') throw serviceError('AccessDenied', 403);
      return page([], false);
    });
    const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }), 'lab-bucket', { listRanges: 4 });
    const listed: string[] = [];
    const failure = (async () => {
      for await (const object of store.list('lab/db/')) listed.push(object.key);
    })();
    await expect(failure).rejects.toMatchObject({ name: 'AccessDenied' });
    // the first page, then the rest in ranges after "lab/db/-1" split at F, V and k (every 16th of the 64 characters)
    const starts = s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input.StartAfter ?? '(none)');
    expect(starts.sort()).toEqual(['(none)', 'lab/db/-1', 'lab/db/F', 'lab/db/V', 'lab/db/k'].sort());
    expect(listed).toEqual(['lab/db/-1']);
  });

  it('lists general purpose buckets on AWS in key ranges, directory buckets and other servers one request after another', async () => {
    s3.on(ListObjectsV2Command).callsFake((input: { StartAfter?: string; ContinuationToken?: string }) =>
      input.StartAfter === undefined && input.ContinuationToken === undefined
        ? { Contents: [{ Key: 'lab/db/-1', Size: 1 }], IsTruncated: true, NextContinuationToken: 't' }
        : { Contents: [], IsTruncated: false },
    );
    const requests = async (bucket: string, endpoint?: string) => {
      s3.resetHistory();
      for await (const object of openObjectStore({ protocol: 's3', bucket, location: 'lab', ...(endpoint ? { endpoint } : {}) }).list('lab/db/')) void object;
      return s3.commandCalls(ListObjectsV2Command).length;
    };
    expect(await requests('lab-bucket')).toBe(1 + AWS_LIST_RANGES);
    expect(await requests('lab--usw2-az1--x-s3')).toBe(2);
    expect(await requests('lab-bucket', 'minio.lab:9000')).toBe(2);
  });
});
