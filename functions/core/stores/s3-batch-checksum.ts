// Optional contents-hash backend for stores too large to pull through Lambda: S3 Batch Operations' "Compute checksum"
// (MD5, FULL_OBJECT) computes the MD5 of every object's exact bytes at rest, and we read the values back from the job's
// completion report. Clients are injected, never created here.
//
// What the AWS documentation says, and where:
// - Operation: CreateJob with Operation.S3ComputeObjectChecksum { ChecksumAlgorithm, ChecksumType } (MD5 and FULL_OBJECT are
//   valid values): https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_S3ComputeObjectChecksumOperation.html
//   (and @aws-sdk/client-s3-control's S3ComputeObjectChecksumOperation type).
// - CSV manifest: `bucket,key[,versionId]` lines, object keys URL-encoded, format S3BatchOperations_CSV_20180820; the manifest
//   location names the manifest object's ETag (User Guide, "Specifying a manifest").
// - Completion report: the only report format the API knows is Report_CSV_20180820 (JobReportFormat has no other value in
//   client-s3-control 3.1112.0). "For Compute checksum jobs, the completion report contains checksum values for every
//   object" — https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html. The same page shows
//   the top-level `<prefix>/job-<id>/manifest.json` ({ Format, ReportCreationDate, Results: [{ TaskExecutionStatus,
//   Bucket, MD5Checksum, Key }], ReportSchema: "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode,
//   ResultMessage" }) and result CSV files under `job-<id>/results/`.
// Left open by the pages we could read, so parsed defensively:
// - WHERE the checksum sits in a Compute checksum row. AWS's own sample (aws-samples/sample-s3-batch-checksum-validation,
//   its results processor) reads a JSON object from the seventh column with `checksum_hex`, `checksum_base64`,
//   `checksumAlgorithm` and `ETag`. We accept that, any JSON carrying a checksum/md5 field (algorithm/type checked when
//   present), a plain value there, or an extra column after the seven above.
// - Its encoding: S3's checksum convention is base64 (x-amz-checksum-*); hex is accepted too; 16 bytes are required.
// - Column order of ErrorCode and HTTPStatusCode: the ReportSchema says ErrorCode first, but the page's Lambda example row
//   (`bucket,image_14975,,failed,200,PermanentFailure,"..."`) has the HTTP status first; the numeric one is the status.
// - Whether report keys are URL-encoded like the manifest's: we decode them (a malformed %-sequence is kept as is).
// Batch Operations jobs run in the region of the S3 Control client; the buckets must be in that region.
import { createHash } from 'node:crypto';
import {
  CreateJobCommand,
  DescribeJobCommand,
  type JobDescriptor,
  type S3ControlClient,
} from '@aws-sdk/client-s3-control';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { classifyError, MigrationRefusedError, TransientError } from '../errors.js';

export interface S3Location {
  bucket: string;
  key: string;
}

export interface ReportLocation {
  bucket: string;
  /** Report prefix inside the bucket; S3 writes `<prefix>/job-<id>/manifest.json` and `.../results/*.csv`. */
  prefix: string;
}

export interface StartChecksumJobInput {
  accountId: string;
  /** Role S3 Batch Operations assumes: reads the manifest and the objects, writes the report. The caller needs iam:PassRole on it. */
  roleArn: string;
  manifest: S3Location;
  report: ReportLocation;
  /** Streamed into the manifest (multipart as it grows): millions of objects never sit in memory. */
  objects: Iterable<S3Location> | AsyncIterable<S3Location>;
  /** ClientRequestToken (1–64 chars): the same token and input return the same job instead of a second one. */
  clientToken: string;
  /** Defaults to 10. */
  priority?: number;
  /** ARN partition of the buckets; defaults to `aws`. */
  partition?: string;
  description?: string;
}

export interface ChecksumJobState {
  done: boolean;
  /** Set when the job ended without completing (Failed/Cancelled): what happened and where to look. */
  failed?: string;
  status: string;
  total: number;
  succeeded: number;
  failedTasks: number;
}

export interface ChecksumTaskFailure {
  bucket: string;
  key: string;
  code: string;
  message: string;
  httpStatus?: number;
}

/** One result file of a completion report. */
export interface ChecksumReport {
  /** "bucket/key" → the 16-byte MD5 of the object's bytes. */
  checksums: Map<string, Buffer>;
  failures: ChecksumTaskFailure[];
}

/** URL-encodes a key for a Batch Operations CSV manifest (every reserved character, `+` and space included). */
export const encodeManifestKey = (key: string): string =>
  encodeURIComponent(key).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** One line of the CSV manifest: `bucket,urlencodedkey`. Bucket names cannot contain commas or quotes. */
export function manifestLine({ bucket, key }: S3Location): string {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new MigrationRefusedError(`"${bucket}" is not a valid S3 bucket name for a Batch Operations manifest.`);
  return `${bucket},${encodeManifestKey(key)}\n`;
}

const jobPlace = (jobId: string) => `S3 console → Batch Operations → job ${jobId} (in the region of the S3 Control client)`;
const trimPrefix = (prefix: string) => prefix.replace(/^\/+|\/+$/g, '');
const reportManifestKey = (prefix: string, jobId: string) => [trimPrefix(prefix), `job-${jobId}`, 'manifest.json'].filter(Boolean).join('/');

interface AwsErrorShape {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

const errorName = (error: unknown) => (error as AwsErrorShape)?.name ?? (error as AwsErrorShape)?.Code ?? '';
const isAccessDenied = (error: unknown) => /AccessDenied|Forbidden|UnauthorizedOperation/i.test(errorName(error)) || (error as AwsErrorShape)?.$metadata?.httpStatusCode === 403;
const THROTTLING = new Set(['TooManyRequestsException', 'ThrottlingException', 'Throttling', 'SlowDown', 'RequestLimitExceeded', 'InternalServiceException']);

/** Throttling/5xx → TransientError; everything else as classifyError leaves it. */
function transientOr(error: unknown, what: string): unknown {
  if (THROTTLING.has(errorName(error))) return new TransientError(`${what}: ${(error as Error).message} (throttled: retried before giving up)`, { cause: error });
  const classified = classifyError(error);
  if (classified instanceof TransientError) return new TransientError(`${what}: ${classified.message}`, { cause: error });
  return classified;
}

const stripQuotes = (etag: string) => etag.replace(/^"|"$/g, '');

async function* fromIterator<T>(iterator: Iterator<T>): AsyncGenerator<T> {
  for (let next = iterator.next(); !next.done; next = iterator.next()) yield next.value;
}
const toAsync = <T>(iterator: Iterator<T>): AsyncIterator<T> => fromIterator(iterator);

/**
 * Writes the CSV manifest, then creates the Compute checksum job (MD5, FULL_OBJECT, report of all tasks). Re-running with the
 * same clientToken and objects writes the same manifest (same ETag) and gets the same job back. Returns the job id.
 */
export async function startChecksumJob(control: S3ControlClient, s3: S3Client, input: StartChecksumJobInput): Promise<string> {
  const { accountId, roleArn, manifest, report, clientToken } = input;
  if (!/^\d{12}$/.test(accountId)) throw new MigrationRefusedError(`"${accountId}" is not a 12-digit AWS account id.`);
  if (clientToken.length < 1 || clientToken.length > 64) throw new MigrationRefusedError('The Batch Operations ClientRequestToken must be 1–64 characters.');
  const partition = input.partition ?? 'aws';
  // the first object is taken before anything is written: an empty list is refused without touching AWS
  const objects = (Symbol.asyncIterator in input.objects ? input.objects[Symbol.asyncIterator]() : toAsync(input.objects[Symbol.iterator]()));
  const first = await objects.next();
  if (first.done) throw new MigrationRefusedError('No objects to checksum: a Batch Operations job needs at least one manifest line.');
  let count = 0;
  const lines = Readable.from(
    (async function* () {
      let next: IteratorResult<S3Location> = first;
      while (!next.done) {
        count += 1;
        yield manifestLine(next.value);
        next = await objects.next();
      }
    })(),
  );

  let etag: string | undefined;
  try {
    const put = await new Upload({ client: s3, params: { Bucket: manifest.bucket, Key: manifest.key, Body: lines, ContentType: 'text/csv', ServerSideEncryption: 'AES256' } }).done();
    etag = put.ETag;
    if (!etag) etag = (await s3.send(new HeadObjectCommand({ Bucket: manifest.bucket, Key: manifest.key }))).ETag;
  } catch (error) {
    if (isAccessDenied(error)) {
      throw new MigrationRefusedError(`Access denied writing the Batch Operations manifest s3://${manifest.bucket}/${manifest.key}.`, [
        `grant s3:PutObject (and s3:GetObject) on arn:${partition}:s3:::${manifest.bucket}/${manifest.key} to the migration's role`,
      ]);
    }
    throw transientOr(error, `writing the Batch Operations manifest s3://${manifest.bucket}/${manifest.key}`);
  }
  if (!etag) throw new TransientError(`S3 returned no ETag for the manifest s3://${manifest.bucket}/${manifest.key}; retry.`);

  try {
    const out = await control.send(
      new CreateJobCommand({
        AccountId: accountId,
        ConfirmationRequired: false,
        Operation: { S3ComputeObjectChecksum: { ChecksumAlgorithm: 'MD5', ChecksumType: 'FULL_OBJECT' } },
        Manifest: {
          Spec: { Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key'] },
          Location: { ObjectArn: `arn:${partition}:s3:::${manifest.bucket}/${manifest.key}`, ETag: stripQuotes(etag) },
        },
        Report: {
          Enabled: true,
          Bucket: `arn:${partition}:s3:::${report.bucket}`,
          Prefix: trimPrefix(report.prefix) || undefined,
          Format: 'Report_CSV_20180820',
          ReportScope: 'AllTasks',
        },
        RoleArn: roleArn,
        Priority: input.priority ?? 10,
        ClientRequestToken: clientToken,
        Description: (input.description ?? `djmigrate contents hash (${count} objects)`).slice(0, 256),
      }),
    );
    if (!out.JobId) throw new TransientError('S3 Batch Operations CreateJob returned no JobId; retry (the same ClientRequestToken returns the same job).');
    return out.JobId;
  } catch (error) {
    if (error instanceof TransientError || error instanceof MigrationRefusedError) throw error;
    if (isAccessDenied(error)) {
      throw new MigrationRefusedError('Access denied creating the S3 Batch Operations Compute checksum job.', [
        `the migration's role needs s3:CreateJob (on account ${accountId})`,
        `and iam:PassRole on ${roleArn} (condition iam:PassedToService = batchoperations.s3.amazonaws.com)`,
        `${roleArn} must trust batchoperations.s3.amazonaws.com, read the manifest s3://${manifest.bucket}/${manifest.key} and the objects, and s3:PutObject into the report bucket s3://${report.bucket}/${trimPrefix(report.prefix)}`,
      ]);
    }
    const name = errorName(error);
    if (name === 'IdempotencyException') {
      throw new MigrationRefusedError(`ClientRequestToken "${clientToken}" was already used for a different Batch Operations job request; use a new token for a new object list.`);
    }
    if (name === 'BadRequestException' || name === 'InvalidRequestException') {
      throw new MigrationRefusedError(`S3 Batch Operations refused the Compute checksum job: ${(error as Error).message}`, [
        'Compute checksum must be available in this region and the buckets must be in the S3 Control client\'s region',
      ]);
    }
    throw transientOr(error, 'creating the S3 Batch Operations job');
  }
}

/** Where a Batch Operations job stands. Complete → done; Failed/Cancelled → done with `failed` saying where to look. */
export async function checksumJobState(control: S3ControlClient, accountId: string, jobId: string): Promise<ChecksumJobState> {
  let job: JobDescriptor | undefined;
  try {
    job = (await control.send(new DescribeJobCommand({ AccountId: accountId, JobId: jobId }))).Job;
  } catch (error) {
    const name = errorName(error);
    if (name === 'NotFoundException' || name === 'NoSuchJob') {
      throw new MigrationRefusedError(`S3 Batch Operations job ${jobId} does not exist in account ${accountId} (in this region).`, [
        'check the region of the S3 Control client and the account id; a job created elsewhere is not visible here',
      ]);
    }
    if (isAccessDenied(error)) {
      throw new MigrationRefusedError(`Access denied describing S3 Batch Operations job ${jobId}.`, [`the migration's role needs s3:DescribeJob (on account ${accountId})`]);
    }
    throw transientOr(error, `describing S3 Batch Operations job ${jobId}`);
  }
  if (!job) throw new TransientError(`DescribeJob returned no job for ${jobId}; retry.`);
  const status = job.Status ?? 'Unknown';
  const progress = job.ProgressSummary ?? {};
  const state: ChecksumJobState = {
    done: false,
    status,
    total: progress.TotalNumberOfTasks ?? 0,
    succeeded: progress.NumberOfTasksSucceeded ?? 0,
    failedTasks: progress.NumberOfTasksFailed ?? 0,
  };
  switch (status) {
    case 'Complete':
      return { ...state, done: true };
    case 'Failed':
    case 'Cancelled': {
      const reasons = (job.FailureReasons ?? []).map((f) => [f.FailureCode, f.FailureReason].filter(Boolean).join(': ')).filter(Boolean);
      const why = [job.StatusUpdateReason, ...reasons].filter(Boolean).join('; ');
      const where = job.Report?.Bucket ? ` and its completion report under ${job.Report.Bucket}/${job.Report.Prefix ?? ''}` : '';
      return {
        ...state,
        done: true,
        failed:
          `S3 Batch Operations job ${jobId} ${status === 'Failed' ? 'failed' : 'was cancelled'}` +
          ` (${state.succeeded}/${state.total} tasks succeeded, ${state.failedTasks} failed)${why ? `: ${why}` : ''}.` +
          ` Look at ${jobPlace(jobId)}${where}.`,
      };
    }
    default:
      // New, Preparing, Ready, Active, Pausing, Paused, Suspended, Completing, Failing, Cancelling: not finished yet
      // (Failing/Cancelling end in Failed/Cancelled, after which the report is written).
      return state;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Completion report

/** RFC 4180 CSV: quoted fields may hold commas, doubled quotes and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const endField = () => {
    row.push(field);
    field = '';
  };
  const endRow = () => {
    endField();
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') endField();
    else if (c === '\n') endRow();
    else if (c === '\r') {
      if (text[i + 1] !== '\n') endRow();
    } else field += c;
    i++;
  }
  if (field !== '' || row.length) endRow();
  return rows;
}

const HEX_MD5 = /^[0-9a-f]{32}$/i;
const B64_MD5 = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** A 16-byte MD5 from its base64 (S3's checksum convention) or hex form; null when the value is neither. */
export function decodeMd5(value: string): Buffer | null {
  const v = value.trim();
  if (HEX_MD5.test(v)) return Buffer.from(v, 'hex');
  if (B64_MD5.test(v)) {
    const bytes = Buffer.from(v, 'base64');
    return bytes.length === 16 ? bytes : null;
  }
  return null;
}

const looksLikeChecksum = (v: string) => /^[0-9a-f]{32}$/i.test(v.trim()) || /^[A-Za-z0-9+/=_-]{16,}(-\d+)?$/.test(v.trim());

/** Checksum candidates in a ResultMessage: JSON fields named like a checksum, or the message itself. */
function candidatesFromMessage(message: string): { values: string[]; algorithm?: string; type?: string } {
  const text = message.trim();
  if (!text) return { values: [] };
  if (text.startsWith('{')) {
    try {
      const values: string[] = [];
      let algorithm: string | undefined;
      let type: string | undefined;
      const walk = (node: unknown) => {
        if (!node || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
          const key = k.toLowerCase();
          if (typeof v === 'string') {
            if (key.includes('algorithm')) algorithm = v;
            else if (key.includes('type')) type = v;
            else if (key.includes('checksum') || key.includes('md5') || key === 'value' || key === 'digest') values.push(v);
          } else walk(v);
        }
      };
      walk(JSON.parse(text));
      return { values, algorithm, type };
    } catch {
      // not JSON after all: fall through to the plain forms
    }
  }
  const labelled = /(?:^|[\s,;{])(?:md5|checksum)[^:=]*[:=]\s*"?([A-Za-z0-9+/=-]+)"?/i.exec(text);
  if (labelled) return { values: [labelled[1]] };
  return { values: [text] };
}

const decodeKey = (key: string) => {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
};

async function readObject(s3: S3Client, bucket: string, key: string, what: string): Promise<Buffer> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!out.Body) throw new TransientError(`Empty body reading ${what} s3://${bucket}/${key}; retry.`);
    return Buffer.from(await out.Body.transformToByteArray());
  } catch (error) {
    if (error instanceof TransientError) throw error;
    const name = errorName(error);
    if (name === 'NoSuchKey' || name === 'NotFound') {
      throw new MigrationRefusedError(`${what} s3://${bucket}/${key} does not exist.`, [
        'the job may not have finished, may have been created with another report bucket/prefix, or wrote no report (no task ran)',
      ]);
    }
    if (isAccessDenied(error)) {
      throw new MigrationRefusedError(`Access denied reading ${what} s3://${bucket}/${key}.`, [`grant s3:GetObject on arn:aws:s3:::${bucket}/${key.replace(/[^/]*$/, '*')} to the migration's role`]);
    }
    throw transientOr(error, `reading ${what} s3://${bucket}/${key}`);
  }
}

interface ReportManifest {
  Format?: string;
  Results?: { TaskExecutionStatus?: string; Bucket?: string; Key?: string; MD5Checksum?: string }[];
}

/**
 * Reads a finished job's completion report: `<prefix>/job-<id>/manifest.json`, then each result CSV it lists (checked
 * against the MD5Checksum the manifest gives for it), one file at a time so that only one is ever in memory. Per file:
 * succeeded rows as "bucket/key" → 16-byte MD5, failed rows listed.
 */
export async function* readChecksumReport(s3: S3Client, report: ReportLocation, jobId: string, skip = 0): AsyncGenerator<ChecksumReport> {
  const manifestKey = reportManifestKey(report.prefix, jobId);
  const raw = await readObject(s3, report.bucket, manifestKey, 'the Batch Operations completion report manifest');
  let manifest: ReportManifest;
  try {
    manifest = JSON.parse(raw.toString('utf8')) as ReportManifest;
  } catch {
    throw new MigrationRefusedError(`The completion report manifest s3://${report.bucket}/${manifestKey} is not JSON.`);
  }
  if (manifest.Format && manifest.Format !== 'Report_CSV_20180820') {
    throw new MigrationRefusedError(`Unknown completion report format "${manifest.Format}" in s3://${report.bucket}/${manifestKey}; expected Report_CSV_20180820.`);
  }
  if (!Array.isArray(manifest.Results)) throw new MigrationRefusedError(`The completion report manifest s3://${report.bucket}/${manifestKey} has no Results list.`);

  // result files before `skip` (recorded by an earlier call) are not read
  const files = manifest.Results.flatMap((entry) => (entry.Key ? [{ ...entry, Key: entry.Key }] : []));
  for (const result of files.slice(skip)) {
    const checksums = new Map<string, Buffer>();
    const failures: ChecksumTaskFailure[] = [];
    const bucket = result.Bucket || report.bucket;
    const file = await readObject(s3, bucket, result.Key, 'the Batch Operations result file');
    if (result.MD5Checksum && HEX_MD5.test(result.MD5Checksum) && createHash('md5').update(file).digest('hex') !== result.MD5Checksum.toLowerCase()) {
      throw new TransientError(`Result file s3://${bucket}/${result.Key} does not match the MD5 its report manifest gives (partial read?); retry.`);
    }
    const where = `s3://${bucket}/${result.Key}`;
    for (const [line, cols] of parseCsv(file.toString('utf8')).entries()) {
      if (cols.length < 4) throw new MigrationRefusedError(`Line ${line + 1} of ${where} has ${cols.length} columns; expected Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage.`);
      const [objBucket, encodedKey, , taskStatus, c4 = '', c5 = '', message = '', ...extra] = cols;
      const key = decodeKey(encodedKey);
      const id = `${objBucket}/${key}`;
      const [httpText, code] = /^\d{3}$/.test(c4) && !/^\d{3}$/.test(c5) ? [c4, c5] : [c5, c4];
      const httpStatus = /^\d{3}$/.test(httpText) ? Number(httpText) : undefined;
      if (taskStatus.toLowerCase() !== 'succeeded') {
        failures.push({ bucket: objBucket, key, code: code || taskStatus, message, ...(httpStatus !== undefined ? { httpStatus } : {}) });
        continue;
      }
      const found = candidatesFromMessage(message);
      if (found.algorithm && found.algorithm.toUpperCase() !== 'MD5') {
        throw new MigrationRefusedError(`${where} reports a ${found.algorithm} checksum for ${id}; the contents hash needs MD5.`);
      }
      if (found.type && found.type.toUpperCase().replace(/[^A-Z]/g, '') !== 'FULLOBJECT') {
        throw new MigrationRefusedError(`${where} reports a ${found.type} checksum for ${id}; the contents hash needs FULL_OBJECT (a composite MD5 is not the MD5 of the bytes).`);
      }
      const candidates = [...found.values, ...extra.filter(looksLikeChecksum)];
      const md5 = candidates.map(decodeMd5).find((b): b is Buffer => b !== null);
      if (!md5) {
        throw new MigrationRefusedError(`No valid 16-byte MD5 for ${id} in ${where} (line ${line + 1}).`, [
          `found: ${JSON.stringify(candidates.length ? candidates : message).slice(0, 200)}`,
          'expected base64 (24 characters ending "==") or 32 hex digits; a value ending in "-N" is a composite checksum, not the MD5 of the bytes',
        ]);
      }
      const previous = checksums.get(id);
      if (previous && !previous.equals(md5)) throw new MigrationRefusedError(`The completion report gives two different MD5s for ${id}.`);
      checksums.set(id, md5);
    }
    yield { checksums, failures };
  }
}

export interface S3BatchChecksumOptions {
  accountId: string;
  /** The role S3 Batch Operations assumes (see StartChecksumJobInput.roleArn). */
  roleArn: string;
  /** Bucket for each run's CSV manifest and completion report, under `<prefix>/<run>/`. */
  bucket: string;
  prefix: string;
}

/**
 * The Compute checksum job of one run: its manifest at `<prefix>/<run>/manifest.csv`, its report under
 * `<prefix>/<run>/report`. The clients are made on first use (most functions never start a job).
 */
export function s3BatchChecksumJobs(makeClients: () => { control: S3ControlClient; s3: S3Client }, options: S3BatchChecksumOptions) {
  let made: { control: S3ControlClient; s3: S3Client } | undefined;
  const clients = () => (made ??= makeClients());
  const place = (run: string) => `${trimPrefix(options.prefix)}/${run}`;
  const report = (run: string): ReportLocation => ({ bucket: options.bucket, prefix: `${place(run)}/report` });
  return {
    start: (objects: AsyncIterable<S3Location>, run: string) =>
      startChecksumJob(clients().control, clients().s3, {
        accountId: options.accountId,
        roleArn: options.roleArn,
        manifest: { bucket: options.bucket, key: `${place(run)}/manifest.csv` },
        report: report(run),
        objects,
        clientToken: run,
      }),
    state: (job: string) => checksumJobState(clients().control, options.accountId, job),
    report: (job: string, run: string, skip?: number) => readChecksumReport(clients().s3, report(run), job, skip),
  };
}
