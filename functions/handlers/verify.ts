import { verifyMigration } from '../core/migrate011/verify.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** Works for a bounded time and reports `done: false` until every check is done; each call of a run goes on from the last. */
export function makeVerifyHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string }) =>
    // without a run to resume under, the call goes to the end
    verifyMigration(conn, input, openStore, event.run === undefined ? { progress } : { run: event.run, budgetMs: deps.workBudgetMs, progress }),
  );
}

export const handler = makeVerifyHandler(lambdaDeps);
