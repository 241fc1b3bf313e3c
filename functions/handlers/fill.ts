import { fillTableColumns } from '../core/migrate011/rewrite.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';
import { tableColumnsOf } from './table-columns.js';

export function makeFillHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, progress, deps }, event: { input: unknown; columns?: unknown; column?: unknown }) =>
    fillTableColumns(conn, input, tableColumnsOf(event, 'fill'), { budgetMs: deps.workBudgetMs }, progress),
  );
}

export const handler = makeFillHandler(lambdaDeps);
