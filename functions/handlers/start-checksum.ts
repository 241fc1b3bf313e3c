import { startBatchChecksum } from '../core/migrate011/batch-checksum.js';
import { lambdaDeps } from './lambda-deps.js';
import { checksumJobsOf } from './deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** s3BatchChecksum: starts the Compute checksum job over the S3 objects still to hash (none left: no job). */
export function makeStartChecksumHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, deps }, event: { input: unknown; run?: string }) =>
    startBatchChecksum(conn, input, checksumJobsOf(deps), event.run ?? input.schema),
  );
}

export const handler = makeStartChecksumHandler(lambdaDeps);
