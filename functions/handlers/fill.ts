import { z } from 'zod';
import { fillTableColumns } from '../core/migrate011/rewrite.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** One table's columns (journal ids, Prepare's `tableColumns[i]`), filled in turn. */
const TableColumnsSchema = z.array(z.coerce.number().int().positive()).nonempty();

export function makeFillHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, progress, deps }, event: { input: unknown; columns: unknown }) =>
    fillTableColumns(conn, input, TableColumnsSchema.parse(event.columns), { budgetMs: deps.workBudgetMs }, progress),
  );
}

export const handler = makeFillHandler(lambdaDeps);
