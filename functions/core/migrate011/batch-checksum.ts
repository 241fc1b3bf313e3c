// s3BatchChecksum: for S3 stores too large to pull through Lambda, S3 Batch Operations' Compute checksum (MD5,
// FULL_OBJECT) computes every pending object's MD5 at rest, and its completion report gives the contents hashes.
// Like trustEtag, the SHA-256 check against the legacy hash is then skipped for those objects, except on a random
// sample that is streamed and must match both; objects the job failed on stay pending and are streamed as usual.
// The job is started once per run (its client token is derived from the execution), polled, then read.
import { createHash, randomUUID } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { legacyObjectKey } from '../datajoint/v011.js';
import { CallBudget } from '../call-budget.js';
import { select } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
import type { OpenStore } from '../stores/object-store.js';
import type { ChecksumJobState, ChecksumReport, S3Location } from '../stores/s3-batch-checksum.js';
import { checkTrustedSample, recordTrustedHashes, type TrustedObject } from './etag.js';
import type { Migrate011Input } from './input.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { journalObjects, journalTables } from './journal.js';

/** S3 Batch Operations as the migration uses it; `run` names the job's manifest, report and idempotency token. */
export interface ChecksumJobs {
  start(objects: AsyncIterable<S3Location>, run: string): Promise<string>;
  state(job: string): Promise<ChecksumJobState>;
  /** The completion report, one result file at a time, from the `skip`-th on (those before it are not read). */
  report(job: string, run: string, skip?: number): AsyncIterable<ChecksumReport>;
}

export interface ChecksumJobStarted {
  /** Null when no S3 object is left to hash. */
  job: string | null;
  /** The run's short name the job's files are kept under. */
  run: string;
  objects: number;
}

export interface ChecksumsRecorded {
  /** False: the call ran out of time; call again (with the same run) to go on from the next result file. */
  done: boolean;
  /** Objects recorded by this execution's calls (a file read again after a crash counts only what it adds). */
  recorded: number;
  /** S3 objects still to hash: the job failed on them, or did not report them. */
  left: number;
}

/** A token S3 accepts (1–64 characters) that is the same for every retry of one execution on one schema. */
export function checksumRunName(input: Migrate011Input, execution: string): string {
  return `djmigrate-${createHash('sha256').update(`${execution}\u0000${input.schema}`).digest('hex').slice(0, 40)}`;
}

const s3StoreNames = (input: Migrate011Input) => Object.entries(input.stores).flatMap(([name, spec]) => (spec.protocol === 's3' ? [name] : []));

/** Where an S3 store keeps a legacy object: its bucket, and the key prefix its values follow. */
function placeOf(input: Migrate011Input, store: string): { bucket: string; prefix: string } {
  const spec = input.stores[store];
  if (spec?.protocol !== 's3') throw new Error(`store ${store} is not an S3 store`);
  return { bucket: spec.bucket, prefix: legacyObjectKey('s3', spec.location, input.schema, '') };
}

/** The journal's objects of S3 stores not hashed yet (keyset pages), as bucket and key. */
async function* pendingS3Objects(conn: Connection, input: Migrate011Input, counted: { objects: number }): AsyncGenerator<S3Location> {
  const stores = s3StoreNames(input);
  if (!stores.length) return;
  for await (const row of journalObjects<{ legacy_hash: Buffer; store: string }>(conn, input.schema, 'legacy_hash, store', 'contents_hash IS NULL AND store IN (?)', [stores])) {
    const { bucket, prefix } = placeOf(input, row.store);
    counted.objects += 1;
    yield { bucket, key: `${prefix}${row.legacy_hash.toString('latin1')}` };
  }
}

async function countPendingS3(conn: Connection, input: Migrate011Input): Promise<number> {
  const stores = s3StoreNames(input);
  if (!stores.length) return 0;
  const [{ n }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${journalTables(input.schema).objects} WHERE contents_hash IS NULL AND store IN (?)`, [stores]);
  return Number(n);
}

export async function startBatchChecksum(conn: Connection, input: Migrate011Input, jobs: ChecksumJobs, execution: string): Promise<ChecksumJobStarted> {
  const run = checksumRunName(input, execution);
  if ((await countPendingS3(conn, input)) === 0) return { job: null, run, objects: 0 };
  const counted = { objects: 0 };
  const job = await jobs.start(pendingS3Objects(conn, input, counted), run);
  return { job, run, objects: counted.objects };
}

/** Where the job stands; a failed or cancelled job stops the migration with what S3 said and where to look. */
export async function batchChecksumState(jobs: ChecksumJobs, job: string): Promise<ChecksumJobState> {
  const state = await jobs.state(job);
  if (state.failed) throw new MigrationRefusedError(`${state.failed} Nothing was recorded; rerun, or rerun without s3BatchChecksum in the input to stream every object.`);
  return state;
}

/** The journal's pending objects among one result file's checksums, with their MD5s. */
async function reportedPending(conn: Connection, input: Migrate011Input, checksums: Map<string, Buffer>): Promise<(TrustedObject & S3Location)[]> {
  const t = journalTables(input.schema);
  const found: (TrustedObject & S3Location)[] = [];
  for (const store of s3StoreNames(input)) {
    const { bucket, prefix } = placeOf(input, store);
    const values = [...checksums.keys()].flatMap((id) => (id.startsWith(`${bucket}/${prefix}`) ? [id.slice(bucket.length + 1 + prefix.length)] : []));
    for (let i = 0; i < values.length; i += 1000) {
      const rows = await select<{ legacy_hash: Buffer; batch: number; size: number }>(
        conn,
        `SELECT legacy_hash, batch, size FROM ${t.objects} WHERE store = ? AND contents_hash IS NULL AND legacy_hash IN (?)`,
        [store, values.slice(i, i + 1000).map((value) => Buffer.from(value, 'latin1'))],
      );
      for (const row of rows) {
        const key = `${prefix}${row.legacy_hash.toString('latin1')}`;
        found.push({ ...row, store, bucket, key, md5: checksums.get(`${bucket}/${key}`)! });
      }
    }
  }
  return found;
}

/** How far the calls of one execution got through the completion report: its result files recorded, the sample checked. */
interface ChecksumsCheckpoint {
  files: number;
  recorded: number;
  checked: boolean;
}

/**
 * Records the reported MD5s of the journal's pending S3 objects, one result file at a time, for the call's budget
 * (a checkpoint in the journal after every file, under the execution's id). Before the first is recorded, a random
 * sample of its objects is streamed and must match (a wrong algorithm, encoding or column shows in every file); if it
 * does not, nothing is recorded.
 */
export async function recordBatchChecksums(
  conn: Connection,
  input: Migrate011Input,
  jobs: ChecksumJobs,
  started: { job: string; run: string },
  openStore: OpenStore,
  progress: ProgressSink,
  options: { budgetMs?: number; run?: string } = {},
): Promise<ChecksumsRecorded> {
  const budget = new CallBudget(options.budgetMs);
  const run = options.run ?? randomUUID();
  const done = (await loadCheckpoint<ChecksumsCheckpoint>(conn, input.schema, 'checksums', run)) ?? { files: 0, recorded: 0, checked: false };
  for await (const file of jobs.report(started.job, started.run, done.files)) {
    const reported = await reportedPending(conn, input, file.checksums);
    if (!done.checked && reported.length) {
      await checkTrustedSample(input, reported, openStore, (object) =>
        `S3 Batch Operations job ${started.job} reports an MD5 for s3://${object.bucket}/${object.key} that is not the MD5 of its bytes; nothing was recorded. Rerun without s3BatchChecksum in the input`,
      );
      done.checked = true;
    }
    await recordTrustedHashes(conn, input, reported, 's3-batch', progress);
    done.files += 1;
    done.recorded += reported.length;
    await saveCheckpoint(conn, input.schema, 'checksums', run, done);
    budget.used();
    if (budget.spent()) return { done: false, recorded: done.recorded, left: 0 };
  }
  return { done: true, recorded: done.recorded, left: await countPendingS3(conn, input) };
}
