import { recordBatchChecksums, type ChecksumJobs, type ChecksumJobStarted } from '../core/migrate011/batch-checksum.js';
import { MigrationRefusedError } from '../core/errors.js';
import { preparedWork } from '../core/migrate011/prepare.js';
import type { HandlerDeps } from './deps.js';
import { lambdaDeps } from './lambda-deps.js';
import { manifestKey } from './ops/reports.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function checksumJobsOf(deps: HandlerDeps): ChecksumJobs {
  if (!deps.checksumJobs) {
    throw new MigrationRefusedError(
      's3BatchChecksum needs S3 Batch Operations, which only the deployed stack can reach (its functions get the Batch Operations role); start the migration on AWS (djmigrate start), or drop s3BatchChecksum from the input to stream the objects',
    );
  }
  return deps.checksumJobs;
}

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
