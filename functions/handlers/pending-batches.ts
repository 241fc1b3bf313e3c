import { pendingHashBatches } from '../core/migrate011/prepare.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** The journal batches the standard Map still has to hash (all of them without a Distributed Map before it). */
export function makePendingBatchesHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }) => ({ hashBatches: await pendingHashBatches(conn, input) }));
}

export const handler = makePendingBatchesHandler(lambdaDeps);
