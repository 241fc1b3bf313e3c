// s3BatchChecksum: for S3 stores too large to pull through Lambda, S3 Batch Operations' Compute checksum (MD5,
// FULL_OBJECT) computes every pending object's MD5 at rest, and its completion report gives the contents hashes.
// Like trustEtag, the SHA-256 check against the legacy hash is then skipped for those objects, except on a random
// sample that is streamed and must match both; objects the job failed on stay pending and are streamed as usual.
// The job is started once per run (its client token is derived from the execution), polled, then read.
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { legacyObjectKey } from '../datajoint/v011.js';
import { select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
import type { OpenStore } from '../stores/object-store.js';
import type { ChecksumJobState, ChecksumReport, S3Location } from '../stores/s3-batch-checksum.js';
import { checkTrustedSample, recordTrustedHashes, type TrustedObject } from './etag.js';
import type { Migrate011Input } from './input.js';
import { journalTables } from './journal.js';

/** S3 Batch Operations as the migration uses it; `run` names the job's manifest, report and idempotency token. */
export interface ChecksumJobs {
  start(objects: S3Location[], run: string): Promise<string>;
  state(job: string): Promise<ChecksumJobState>;
  report(job: string, run: string): Promise<ChecksumReport>;
}

export interface ChecksumJobStarted {
  /** Null when no S3 object is left to hash. */
  job: string | null;
  /** The run's short name the job's files are kept under. */
  run: string;
  objects: number;
}

export interface ChecksumsRecorded {
  recorded: number;
  /** Objects the job failed on (or did not report), left for streaming. */
  left: number;
}

/** A token S3 accepts (1–64 characters) that is the same for every retry of one execution on one schema. */
export function checksumRunName(input: Migrate011Input, execution: string): string {
  return `djmigrate-${createHash('sha256').update(`${execution}\u0000${input.schema}`).digest('hex').slice(0, 40)}`;
}

interface PendingObject {
  legacy_hash: Buffer;
  store: string;
  batch: number;
  size: number;
}

/** The journal's objects of S3 stores not hashed yet, each with its bucket and key. */
async function pendingS3Objects(conn: Connection, input: Migrate011Input): Promise<(PendingObject & S3Location)[]> {
  const s3Stores = Object.entries(input.stores).flatMap(([name, spec]) => (spec.protocol === 's3' ? [name] : []));
  if (!s3Stores.length) return [];
  const rows = await select<PendingObject>(
    conn,
    `SELECT legacy_hash, store, batch, size FROM ${journalTables(input.schema).objects} WHERE contents_hash IS NULL AND store IN (?) ORDER BY legacy_hash`,
    [s3Stores],
  );
  return rows.map((row) => {
    const spec = input.stores[row.store];
    if (spec.protocol !== 's3') throw new Error(`store ${row.store} is not an S3 store`);
    return { ...row, bucket: spec.bucket, key: legacyObjectKey('s3', spec.location, input.schema, row.legacy_hash.toString('latin1')) };
  });
}

export async function startBatchChecksum(conn: Connection, input: Migrate011Input, jobs: ChecksumJobs, execution: string): Promise<ChecksumJobStarted> {
  const run = checksumRunName(input, execution);
  const objects = await pendingS3Objects(conn, input);
  if (!objects.length) return { job: null, run, objects: 0 };
  const job = await jobs.start(
    objects.map(({ bucket, key }) => ({ bucket, key })),
    run,
  );
  return { job, run, objects: objects.length };
}

/** Where the job stands; a failed or cancelled job stops the migration with what S3 said and where to look. */
export async function batchChecksumState(jobs: ChecksumJobs, job: string): Promise<ChecksumJobState> {
  const state = await jobs.state(job);
  if (state.failed) throw new MigrationRefusedError(`${state.failed} Nothing was recorded; rerun, or rerun without s3BatchChecksum in the input to stream every object.`);
  return state;
}

/** Records the reported MD5s of the journal's pending S3 objects after checking a streamed sample against them. */
export async function recordBatchChecksums(
  conn: Connection,
  input: Migrate011Input,
  jobs: ChecksumJobs,
  started: { job: string; run: string },
  openStore: OpenStore,
  progress: ProgressSink,
): Promise<ChecksumsRecorded> {
  const report = await jobs.report(started.job, started.run);
  const pending = await pendingS3Objects(conn, input);
  const reported: (TrustedObject & S3Location)[] = pending.flatMap((object) => {
    const md5 = report.checksums.get(`${object.bucket}/${object.key}`);
    return md5 ? [{ ...object, md5 }] : [];
  });
  await checkTrustedSample(input, reported, openStore, (object) =>
    `S3 Batch Operations job ${started.job} reports an MD5 for s3://${object.bucket}/${object.key} that is not the MD5 of its bytes; nothing was recorded. Rerun without s3BatchChecksum in the input`,
  );
  await recordTrustedHashes(conn, input, reported, 's3-batch', progress);
  return { recorded: reported.length, left: pending.length - reported.length };
}
