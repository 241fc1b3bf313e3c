import { batchChecksumState } from '../core/migrate011/batch-checksum.js';
import { lambdaDeps } from './lambda-deps.js';
import { checksumJobsOf } from './deps.js';
import { storePhaseHandler, type DepsProvider } from './phase-handler.js';

/** Polled by the workflow until the Compute checksum job is done; no database. */
export function makeChecksumStateHandler(getDeps: DepsProvider) {
  return storePhaseHandler(getDeps, async ({ deps }, event: { input: unknown; job: string }) => batchChecksumState(checksumJobsOf(deps), event.job));
}

export const handler = makeChecksumStateHandler(lambdaDeps);
