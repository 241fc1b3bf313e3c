import type { DepsProvider } from './phase-handler.js';
import type { BatchHandlerName, Migrate011HandlerName, Migrate014HandlerName, UnlockHandlerName } from './names.js';
import { makeDiscoverBatchHandler } from './batch/discover.js';
import { makeFailureBatchHandler } from './batch/failure.js';
import { makeReportBatchHandler } from './batch/report.js';
import { makeDiscardFillsHandler } from './discard-fills.js';
import { makeFillHandler } from './fill.js';
import { makeFinishHandler } from './finish.js';
import { makeHashHandler } from './hash.js';
import { makeHashItemsHandler } from './hash-items.js';
import { makePendingBatchesHandler } from './pending-batches.js';
import { makeRecordHashesHandler } from './record-hashes.js';
import { makeInsertHandler } from './insert.js';
import { makeInspectHandler } from './inspect.js';
import { makePrepareHandler } from './prepare.js';
import { makeChecksumStateHandler } from './checksum-state.js';
import { makeRecordChecksumsHandler } from './record-checksums.js';
import { makeStartChecksumHandler } from './start-checksum.js';
import { makeReportHandler } from './report.js';
import { makeRewriteHandler } from './rewrite.js';
import { makeValidateHandler } from './validate.js';
import { makeVerifyHandler } from './verify.js';
import { makeUnlockHandler } from './unlock.js';
import { Migrate014InputSchema } from '../core/migrate014/input.js';
import { makeBackup014Handler } from './migrate014/backup.js';
import { makeComments014Handler } from './migrate014/comments.js';
import { makeCompareTable014Handler } from './migrate014/compare-table.js';
import { makeCopyTable014Handler } from './migrate014/copy-table.js';
import { makeLineage014Handler } from './migrate014/lineage.js';
import { makeMigrateColumn014Handler } from './migrate014/migrate-column.js';
import { makePlan014Handler } from './migrate014/plan.js';
import { makePrepareCopy014Handler } from './migrate014/prepare-copy.js';
import { makePrepareExternal014Handler } from './migrate014/prepare-external.js';
import { makeReport014Handler } from './migrate014/report.js';
import { makeVerify014Handler } from './migrate014/verify.js';

export type PhaseInvoker = (event: unknown) => Promise<unknown>;
type MiddyHandler = (event: never, context: never) => Promise<unknown>;

/** Middy handlers as plain functions of the event (no Lambda context in this process). */
function invokers<Name extends string>(handlers: Record<Name, MiddyHandler>): Record<Name, PhaseInvoker> {
  return Object.fromEntries(
    Object.entries<MiddyHandler>(handlers).map(([name, handler]) => [name, (event: unknown) => handler(event as never, {} as never)]),
  ) as Record<Name, PhaseInvoker>;
}

/** The same handlers Lambda runs, bound to the given deps, for running the 0.11 workflow in this process. */
export function migrate011Handlers(getDeps: DepsProvider): Record<Migrate011HandlerName | UnlockHandlerName, PhaseInvoker> {
  return invokers<Migrate011HandlerName | UnlockHandlerName>({
    unlock: makeUnlockHandler(getDeps),
    validate: makeValidateHandler(),
    inspect: makeInspectHandler(getDeps),
    prepare: makePrepareHandler(getDeps),
    startChecksum: makeStartChecksumHandler(getDeps),
    checksumState: makeChecksumStateHandler(getDeps),
    recordChecksums: makeRecordChecksumsHandler(getDeps),
    hashItems: makeHashItemsHandler(getDeps),
    recordHashes: makeRecordHashesHandler(getDeps),
    pendingBatches: makePendingBatchesHandler(getDeps),
    hash: makeHashHandler(getDeps),
    fill: makeFillHandler(getDeps),
    discardFills: makeDiscardFillsHandler(getDeps),
    insert: makeInsertHandler(getDeps),
    rewrite: makeRewriteHandler(getDeps),
    finish: makeFinishHandler(getDeps),
    verify: makeVerifyHandler(getDeps),
    report: makeReportHandler(getDeps),
  });
}

/** The same for the 0.14 → 2.0 workflow. */
export function migrate014Handlers(getDeps: DepsProvider): Record<Migrate014HandlerName | UnlockHandlerName, PhaseInvoker> {
  return invokers<Migrate014HandlerName | UnlockHandlerName>({
    unlock: makeUnlockHandler(getDeps),
    validate014: makeValidateHandler(Migrate014InputSchema),
    plan014: makePlan014Handler(getDeps),
    backup014: makeBackup014Handler(getDeps),
    comments014: makeComments014Handler(getDeps),
    prepareExternal014: makePrepareExternal014Handler(getDeps),
    migrateColumn014: makeMigrateColumn014Handler(getDeps),
    lineage014: makeLineage014Handler(getDeps),
    prepareCopy014: makePrepareCopy014Handler(getDeps),
    copyTable014: makeCopyTable014Handler(getDeps),
    compareTable014: makeCompareTable014Handler(getDeps),
    verify014: makeVerify014Handler(getDeps),
    report014: makeReport014Handler(getDeps),
  });
}

/** The batch workflow's own handlers (its children run with the 0.11 or 0.14 handlers). */
export function batchHandlers(getDeps: DepsProvider): Record<BatchHandlerName, PhaseInvoker> {
  return invokers<BatchHandlerName>({
    discoverBatch: makeDiscoverBatchHandler(getDeps),
    failureBatch: makeFailureBatchHandler(),
    reportBatch: makeReportBatchHandler(),
  });
}
