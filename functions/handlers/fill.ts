import { z } from 'zod';
import { fillTableColumns } from '../core/migrate011/rewrite.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

const ColumnIdSchema = z.coerce.number().int().positive();
/**
 * One table's columns (journal ids, Prepare's `tableColumns[i]`), filled in turn; or `column`, one id, as executions
 * started before the fill took a table's columns pass it (a deploy while such an execution runs must not fail it).
 */
const FillEventSchema = z.union([
  z.object({ columns: z.array(ColumnIdSchema).nonempty() }),
  z.object({ column: ColumnIdSchema }).transform(({ column }) => ({ columns: [column] })),
]);

/** The column ids a fill event names. */
export function fillColumnsOf(event: unknown): number[] {
  const parsed = FillEventSchema.safeParse(event);
  if (!parsed.success) throw new Error(`a fill event names its table's columns as "columns" (journal ids, e.g. [3, 4]); got ${JSON.stringify(event)}`);
  return parsed.data.columns;
}

export function makeFillHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, progress, deps }, event: { input: unknown; columns?: unknown; column?: unknown }) =>
    fillTableColumns(conn, input, fillColumnsOf(event), { budgetMs: deps.workBudgetMs }, progress),
  );
}

export const handler = makeFillHandler(lambdaDeps);
