import { recordHashes, type HashedItem } from '../core/migrate011/hash.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** A Distributed Map child's second step: records what HashItems hashed (its function's concurrency is the database budget). */
export function makeRecordHashesHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }, event: { input: unknown; hashed: HashedItem[]; left: number; refused: string[] }) => ({
    recorded: await recordHashes(conn, input, event.hashed),
    left: event.left,
    refused: event.refused.length,
  }));
}

export const handler = makeRecordHashesHandler(lambdaDeps);
