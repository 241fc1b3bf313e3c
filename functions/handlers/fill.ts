import { fillColumn } from '../core/migrate011/rewrite.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeFillHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, progress, deps }, event: { input: unknown; column: number }) =>
    fillColumn(conn, input, Number(event.column), { budgetMs: deps.workBudgetMs }, progress),
  );
}

export const handler = makeFillHandler(lambdaDeps);
