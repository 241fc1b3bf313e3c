import { insertExternalRows } from '../core/migrate011/insert.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** Works for a bounded time and reports `done: false` until every batch is in; each call of a run goes on from the last. */
export function makeInsertHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, deps }, event: { input: unknown; run?: string }) =>
    // without a run to resume under, the call goes to the end
    insertExternalRows(conn, input, event.run === undefined ? {} : { run: event.run, budgetMs: deps.workBudgetMs }),
  );
}

export const handler = makeInsertHandler(lambdaDeps);
