import { fillTableColumns } from '../core/migrate011/rewrite.js';
import { pauseAfter, type PollEvent } from '../core/polling.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';
import { tableColumnsOf } from './table-columns.js';

/** `waitSeconds`: the pause before the next call when the objects a column needs are still hashing (else 0). */
export function makeFillHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, progress, deps }, event: { input: unknown; columns?: unknown; column?: unknown } & PollEvent) => {
    const filled = await fillTableColumns(conn, input, tableColumnsOf(event, 'fill'), { budgetMs: deps.workBudgetMs }, progress);
    return { ...filled, waitSeconds: pauseAfter(filled.waiting, event) };
  });
}

export const handler = makeFillHandler(lambdaDeps);
