import { recordBatchChecksums, type ChecksumJobStarted } from '../core/migrate011/batch-checksum.js';
import { preparedWork } from '../core/migrate011/prepare.js';
import { checksumJobsOf } from './deps.js';
import { lambdaDeps } from './lambda-deps.js';
import { manifestKey } from './ops/reports.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * After the Compute checksum job: records its MD5s, then does what Prepare left for it, the hash manifest of what is
 * still to hash. Its result takes the place of Prepare's.
 */
export function makeRecordChecksumsHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string; checksum: ChecksumJobStarted }) => {
    const { job, run } = event.checksum;
    const recorded = job ? await recordBatchChecksums(conn, input, checksumJobsOf(deps), { job, run }, openStore, progress) : { recorded: 0, left: 0 };
    return { ...recorded, ...(await preparedWork(conn, input, { manifests: deps.manifests, manifestKey: manifestKey(input.schema, event.run, 'hash') })) };
  });
}

export const handler = makeRecordChecksumsHandler(lambdaDeps);
