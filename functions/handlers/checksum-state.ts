import { batchChecksumState } from '../core/migrate011/batch-checksum.js';
import { pauseAfter, type PollEvent } from '../core/polling.js';
import { checksumJobsOf } from './deps.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * Polled by the workflow until the Compute checksum job is done. A database phase only to renew the schema lock (its
 * heartbeat), so that a job running for hours does not leave the lock looking stale.
 */
export function makeChecksumStateHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ deps }, event: { input: unknown; run?: string; job: string } & PollEvent) => {
    const state = await batchChecksumState(checksumJobsOf(deps), event.job);
    return { ...state, waitSeconds: pauseAfter(!state.done, event) };
  });
}

export const handler = makeChecksumStateHandler(lambdaDeps);
