import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  NotFound,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { Readable } from 'node:stream';
import { digestStream, type StreamDigest } from './hash-stream.js';
import { inKeyRange, keyJustBefore, pastKeyRange, type KeyRange } from './key-ranges.js';
import { AWS_RETRIES } from '../aws-retries.js';
import { CallBudget, forEachWithin } from '../call-budget.js';
import { ObjectMissingError, statEach, type ObjectInfo, type ObjectStore } from './object-store.js';

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

/**
 * Where a listing past its first page is split into key ranges listed side by side: every fourth character of
 * URL-safe base64 in byte order (0.11's object names), which also splits hex (0.12's uuid folders). Any key lands
 * in exactly one range whatever its characters; these only make the ranges about even.
 */
const KEY_RANGE_BOUNDS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz'.split('').filter((_, index) => index % 4 === 0 && index > 0);

/** Keys statMany looks up by one listing: a span of keys next to each other takes one LIST (S3's 1,000 a page). */
const STAT_SPAN_KEYS = 999;
/**
 * A LIST costs what 12.5 HEADs do (S3 Standard: $0.005 against $0.0004 per 1,000) and takes about as long as one:
 * statMany lists a span on while a page shows at least this many of its keys, and HEADs the rest.
 */
const KEYS_WORTH_A_LIST = 13;

/** S3 directory buckets (`…--x-s3`) list in no order and ignore StartAfter. */
export const DIRECTORY_BUCKET = /--x-s3$/;

/** Times one read goes on after its download broke off (see S3ObjectStore.read). */
const READ_RESUMES = 3;

/** S3's largest object one CopyObject (or PutObject) takes; bigger ones go in parts. */
export const SINGLE_REQUEST_MAX_BYTES = 5 * 1024 ** 3;
/** S3's limits on a multipart upload: 10,000 parts, each at least 5 MiB (but the last) and at most 5 GiB. */
const MAX_UPLOAD_PARTS = 10_000;
const MIN_PART_BYTES = 5 * 1024 ** 2;
/** A multipart copy's parts (S3 copies them; nothing passes through this process), this many at once. */
const COPY_PART_BYTES = 512 * 1024 ** 2;
const COPY_PARTS_IN_FLIGHT = 4;

export interface S3StoreOptions {
  /** Key ranges a big listing is split into and listed at once (1: one request after another). */
  listRanges?: number;
  /** Objects bigger than this are copied in parts (default SINGLE_REQUEST_MAX_BYTES; tests set it small). */
  singleCopyMaxBytes?: number;
}

/** Part size for `size` bytes in at most MAX_UPLOAD_PARTS parts, at least `preferred` (and S3's 5 MiB). */
export function partBytesFor(size: number, preferred: number): number {
  return Math.max(preferred, MIN_PART_BYTES, Math.ceil(size / MAX_UPLOAD_PARTS));
}

/** A DataJoint `s3` store: keys are object keys inside the bucket. */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly listRanges: number;
  private readonly singleCopyMaxBytes: number;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    { listRanges = 1, singleCopyMaxBytes = SINGLE_REQUEST_MAX_BYTES }: S3StoreOptions = {},
  ) {
    this.description = `s3://${bucket}`;
    this.listRanges = Math.min(listRanges, KEY_RANGE_BOUNDS.length + 1);
    this.singleCopyMaxBytes = singleCopyMaxBytes;
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

  /**
   * Sizes of many objects (null: missing). Where their keys lie close together in key order (a column's 0.12 objects
   * are filed by their uuid), a listing of their span finds them, up to 1,000 keys a request where a HEAD answers for
   * one: the keys in key order are cut into spans of STAT_SPAN_KEYS, `concurrency` spans listed at once, each until
   * past its last key or until a page shows fewer than KEYS_WORTH_A_LIST of them (keys far apart, or among many
   * others). Every key the listings did not show gets a HEAD, `statsInFlight` at once: a missing object is always one
   * S3 said is missing, never one a listing skipped.
   */
  async statMany(keys: readonly string[], concurrency: number, statsInFlight = concurrency): Promise<Map<string, ObjectInfo | null>> {
    const found = new Map<string, ObjectInfo | null>();
    // S3 lists in UTF-8 byte order
    const sorted = [...new Set(keys)].map((key) => ({ key, bytes: Buffer.from(key, 'utf8') })).sort((a, b) => Buffer.compare(a.bytes, b.bytes));
    if (sorted.length > 0 && !DIRECTORY_BUCKET.test(this.bucket)) {
      const spans = Array.from({ length: Math.ceil(sorted.length / STAT_SPAN_KEYS) }, (_, i) => sorted.slice(i * STAT_SPAN_KEYS, (i + 1) * STAT_SPAN_KEYS));
      await forEachWithin(spans, new CallBudget(), concurrency, (span) => this.listSpan(span, found));
    }
    const unseen = sorted.filter(({ key }) => !found.has(key)).map(({ key }) => key);
    for (const [key, info] of await statEach(this, unseen, statsInFlight)) found.set(key, info);
    return found;
  }

  /** Lists the span of keys (sorted in byte order) into `found`, for statMany. */
  private async listSpan(span: { key: string; bytes: Buffer }[], found: Map<string, ObjectInfo | null>): Promise<void> {
    const first = span[0].key;
    const last = span[span.length - 1];
    const wanted = new Set(span.map(({ key }) => key));
    // the keys' common prefix, not ending inside a UTF-16 surrogate pair
    let common = 0;
    while (common < first.length && first[common] === last.key[common]) common += 1;
    const prefix = first.slice(0, /[\uD800-\uDBFF]/.test(first[common - 1] ?? '') ? common - 1 : common);
    // StartAfter just before the first key (an ASCII last character has a predecessor in both orders)
    const startAfter = first.charCodeAt(first.length - 1) < 0x80 ? keyJustBefore(first) : undefined;
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix, ...(startAfter === undefined ? {} : { StartAfter: startAfter }) });
    for await (const page of pages) {
      let shown = 0;
      for (const info of objectInfos(page)) {
        if (Buffer.compare(Buffer.from(info.key, 'utf8'), last.bytes) > 0) return;
        if (wanted.has(info.key)) {
          found.set(info.key, info);
          shown += 1;
        }
      }
      if (shown < KEYS_WORTH_A_LIST) return;
    }
  }

  /**
   * The object's bytes. A download that breaks off (a reset connection: a long one of many GB meets one now and then)
   * goes on from the byte it reached with a ranged GET of the same object (If-Match its ETag: a replaced object fails
   * with PreconditionFailed rather than mixing two), up to READ_RESUMES times, instead of failing the whole object.
   */
  async read(key: string): Promise<Readable> {
    let first;
    try {
      first = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(this.description, key);
      throw error;
    }
    const { client, bucket } = this;
    const { ETag: etag, ContentLength: length } = first;
    let body = first.Body as Readable;
    return Readable.from(
      (async function* () {
        let offset = 0;
        for (let resumes = 0; ; resumes++) {
          try {
            for await (const chunk of body) {
              offset += (chunk as Buffer).length;
              yield chunk as Buffer;
            }
            return;
          } catch (error) {
            if (resumes >= READ_RESUMES || !etag || length === undefined || offset >= length) throw error;
            body = (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-`, IfMatch: etag }))).Body as Readable;
          }
        }
      })(),
      { objectMode: false },
    );
  }

  async digest(key: string): Promise<StreamDigest> {
    // Network-bound: hashing the response stream on this thread keeps up with it.
    return digestStream(await this.read(key));
  }

  async copy(sourceKey: string, targetKey: string, size: number): Promise<void> {
    const copySource = `${this.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
    try {
      if (size <= this.singleCopyMaxBytes) await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: targetKey, CopySource: copySource }));
      else await this.copyInParts(copySource, targetKey, size);
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(this.description, sourceKey);
      throw error;
    }
  }

  /**
   * A copy past CopyObject's 5 GiB: S3 copies byte ranges into a multipart upload, which appears at the key only when
   * completed whole; on any failure the upload is aborted (S3 would otherwise keep, and bill, its parts).
   */
  private async copyInParts(copySource: string, targetKey: string, size: number): Promise<void> {
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: targetKey }));
    const partBytes = partBytesFor(size, COPY_PART_BYTES);
    const limit = pLimit(COPY_PARTS_IN_FLIGHT);
    try {
      const parts = await Promise.all(
        Array.from({ length: Math.ceil(size / partBytes) }, (_, index) =>
          limit(async () => {
            const first = index * partBytes;
            const last = Math.min(size, first + partBytes) - 1;
            const part = await this.client.send(
              new UploadPartCopyCommand({ Bucket: this.bucket, Key: targetKey, UploadId, PartNumber: index + 1, CopySource: copySource, CopySourceRange: `bytes=${first}-${last}` }),
            );
            return { PartNumber: index + 1, ETag: part.CopyPartResult?.ETag };
          }),
        ),
      );
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: targetKey, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      limit.clearQueue();
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: targetKey, UploadId })).catch(() => undefined);
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

  /**
   * ListObjectsV2 gives 1,000 keys a request, one request after another: a million objects take minutes. Past the
   * first page, the rest of the prefix (or of its key range) is split into `listRanges` key ranges listed side by
   * side (keys come in no particular order then).
   */
  async *list(prefix: string, range: KeyRange = {}): AsyncIterable<ObjectInfo> {
    const inRange = (info: ObjectInfo) => inKeyRange(info.key, range);
    const startAfter = range.from === undefined ? undefined : keyJustBefore(range.from);
    const first = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(startAfter === undefined ? {} : { StartAfter: startAfter }) }));
    const firstInfos = [...objectInfos(first)];
    yield* firstInfos.filter(inRange);
    const listedUpTo = firstInfos.at(-1)?.key ?? startAfter ?? '';
    if (!first.IsTruncated || pastKeyRange(listedUpTo, range)) return;
    if (this.listRanges <= 1) {
      const rest = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix, ContinuationToken: first.NextContinuationToken });
      for await (const page of rest) {
        const infos = [...objectInfos(page)];
        yield* infos.filter(inRange);
        if (infos.length && pastKeyRange(infos.at(-1)!.key, range)) return;
      }
      return;
    }
    // range i holds the keys after bounds[i] up to and including bounds[i + 1]; the first starts after the first page
    const step = (KEY_RANGE_BOUNDS.length + 1) / this.listRanges;
    const bounds = [
      listedUpTo,
      ...Array.from({ length: this.listRanges - 1 }, (_, i) => prefix + KEY_RANGE_BOUNDS[Math.floor((i + 1) * step) - 1]).filter(
        (bound) => bound > listedUpTo && !pastKeyRange(bound, range),
      ),
    ];
    const ranges = bounds.map((after, i) => this.listRange(prefix, after, bounds[i + 1] ?? range.before));
    for await (const infos of interleave(ranges)) yield* infos.filter(inRange);
  }

  private async *listRange(prefix: string, after: string, upTo: string | undefined): AsyncGenerator<ObjectInfo[]> {
    for await (const page of paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: prefix, StartAfter: after })) {
      const infos = [...objectInfos(page)];
      if (upTo === undefined || infos.length === 0 || infos.at(-1)!.key <= upTo) {
        yield infos;
        continue;
      }
      yield infos.filter((info) => info.key <= upTo);
      return;
    }
  }
}

function* objectInfos(page: ListObjectsV2CommandOutput): Iterable<ObjectInfo> {
  for (const object of page.Contents ?? []) {
    if (object.Key !== undefined) yield { key: object.Key, size: object.Size ?? 0, ...(object.ETag ? { etag: object.ETag.replace(/"/g, '') } : {}) };
  }
}

/** Values of all the iterables, each as soon as it comes; every iterable runs at once, one value ahead. */
async function* interleave<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const running = new Map<AsyncIterator<T>, Promise<{ from: AsyncIterator<T>; result: IteratorResult<T> }>>();
  const pull = (from: AsyncIterator<T>) => running.set(from, from.next().then((result) => ({ from, result })));
  for (const source of sources) pull(source[Symbol.asyncIterator]());
  try {
    while (running.size) {
      const { from, result } = await Promise.race(running.values());
      if (result.done) running.delete(from);
      else {
        pull(from);
        yield result.value;
      }
    }
  } finally {
    // an early stop (or a failed range) ends the other ranges too
    for (const [from, next] of running) {
      next.catch(() => undefined);
      Promise.resolve(from.return?.()).catch(() => undefined);
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
  if (isAwsEndpoint(location.endpoint)) return { region, ...AWS_RETRIES, ...(credentials ? { credentials } : {}) };
  const scheme = location.secure ? 'https' : 'http';
  const endpoint = /^https?:\/\//.test(location.endpoint!) ? location.endpoint! : `${scheme}://${location.endpoint}`;
  return {
    region,
    ...AWS_RETRIES,
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(credentials ? { credentials } : {}),
  };
}
