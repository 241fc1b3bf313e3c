import { insertExternalRows } from '../core/migrate011/insert.js';
import { lambdaDeps } from './lambda-deps.js';
import { budgetedCall, phaseHandler, type DepsProvider } from './phase-handler.js';

/** Works for a bounded time and reports `done: false` until every batch is in; each call of a run goes on from the last. */
export function makeInsertHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, deps }, event: { input: unknown; run?: string }) =>
    insertExternalRows(conn, input, budgetedCall(event, deps)),
  );
}

export const handler = makeInsertHandler(lambdaDeps);
