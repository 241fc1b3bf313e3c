import { verifyMigration } from '../core/migrate011/verify.js';
import { lambdaDeps } from './lambda-deps.js';
import { budgetedCall, phaseHandler, type DepsProvider } from './phase-handler.js';

/** Works for a bounded time and reports `done: false` until every check is done; each call of a run goes on from the last. */
export function makeVerifyHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string }) =>
    verifyMigration(conn, input, openStore, { ...budgetedCall(event, deps), progress }),
  );
}

export const handler = makeVerifyHandler(lambdaDeps);
