import type { Connection } from 'mysql2/promise';
import { MigrationRefusedError } from '../core/errors.js';
import type { ChecksumJobs } from '../core/migrate011/batch-checksum.js';
import type { StoreSpec } from '../core/config/store-spec.js';
import type { SchemaBackup } from '../core/migrate014/backup-step.js';
import type { ManifestStore } from '../core/stores/manifest-store.js';
import type { ObjectStore } from '../core/stores/object-store.js';
import type { ObjectWriter } from '../core/stores/object-writer.js';
import type { ProgressSink } from '../core/progress.js';
import type { EventPublisher } from './ops/events.js';
import type { AnyMiddleware } from './ops/invocation.js';
import type { Workflow } from './ops/metrics.js';
import type { ReportStore } from './ops/reports.js';

/**
 * A budgeted invocation's work unless told otherwise: 10 of a function's 15 minutes, the rest for the last chunk and the
 * swap. Local runs use it too: a budget shorter than listing a store would leave Verify listing it again for each object.
 */
export const DEFAULT_WORK_BUDGET_MS = 10 * 60_000;

/** What a handler needs from its runtime: Lambda builds these from env + Secrets Manager, the local runner from the user's config. */
export interface HandlerDeps {
  openDatabase(): Promise<Connection>;
  openStore(name: string, spec: StoreSpec): ObjectStore;
  /** Writes new objects (native 0.12 copies, 2.x attachments, copy-files). */
  openWriter(name: string, spec: StoreSpec): ObjectWriter;
  /** The 0.14 in-place backup: an RDS snapshot in AWS when the stack names the instance, else a schema copy. */
  backup: SchemaBackup;
  progress: ProgressSink;
  /** How long one budgeted invocation (Inspect, Prepare, fill, InsertRows, rewrite, Verify; 0.14 column, table copy) works before handing back. */
  workBudgetMs: number;
  /** Where report handlers keep the full report (Lambda: the reports bucket when the stack names one; locally: nowhere). */
  reports: ReportStore;
  /** Work manifests the Distributed Map reads (Lambda: `manifests/` of the stack's manifests bucket; locally: a folder). */
  manifests: ManifestStore;
  /**
   * S3 Batch Operations Compute checksum jobs (Lambda: when the stack gives the functions its Batch Operations role;
   * locally: none, there is no local equivalent). Absent: s3BatchChecksum is refused.
   */
  checksumJobs?: ChecksumJobs;
  /** Outcome notifications (Lambda: the event bus when the stack names one; locally: none). Never throws. */
  events: EventPublisher;
  /**
   * Middlewares around each handler invocation (Lambda: log keys, metrics, error log and, when the handler opens the
   * database, the Secrets Manager read; locally: none).
   */
  middleware?(use: { workflow: Workflow; database: boolean }): AnyMiddleware[];
}

const S3_BATCH_UNAVAILABLE =
  's3BatchChecksum needs S3 Batch Operations, which only the deployed stack can reach (its functions get the Batch Operations role); start the migration on AWS (djmigrate start), or drop s3BatchChecksum from the input to stream the objects';

/** The deps' Compute checksum jobs, or the refusal that says where s3BatchChecksum works. */
export function checksumJobsOf(deps: HandlerDeps): ChecksumJobs {
  if (!deps.checksumJobs) throw new MigrationRefusedError(S3_BATCH_UNAVAILABLE);
  return deps.checksumJobs;
}
