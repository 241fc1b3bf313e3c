import { recordBatchChecksums, type ChecksumJobStarted } from '../core/migrate011/batch-checksum.js';
import { preparedWork } from '../core/migrate011/prepare.js';
import { checksumJobsOf } from './deps.js';
import { lambdaDeps } from './lambda-deps.js';
import { manifestKey } from './ops/reports.js';
import { budgetedCall, phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * After the Compute checksum job: records its MD5s (in calls of a bounded time from a checkpoint in the journal,
 * `done: false` until the last result file), then does what Prepare left for it, the hash manifest of what is still
 * to hash. Its result takes the place of Prepare's.
 */
export function makeRecordChecksumsHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string; checksum: ChecksumJobStarted }) => {
    const { job, run } = event.checksum;
    const recorded = job
      ? await recordBatchChecksums(conn, input, checksumJobsOf(deps), { job, run }, openStore, progress, budgetedCall(event, deps))
      : { done: true, recorded: 0, left: 0 };
    if (!recorded.done) return { ...recorded, manifest: null, columns: [], tableColumns: [] };
    return { ...recorded, ...(await preparedWork(conn, input, { manifests: deps.manifests, manifestKey: manifestKey(input.schema, event.run, 'hash') })) };
  });
}

export const handler = makeRecordChecksumsHandler(lambdaDeps);
