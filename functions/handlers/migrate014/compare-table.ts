import { compareStep, type CompareCheckpoint } from '../../core/migrate014/compare.js';
import { comparisonWithin, type TableComparison } from '../../core/migrate014/report.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Discrepancies kept per table in state (the report names them by primary key); the rest are counted as a match: false. */
const DISCREPANCIES_KEPT = 5;

/**
 * compare_query_results of one copied table against its source, in calls of a bounded time (each goes on from the
 * checkpoint the one before returned, carried in the Map iteration's state; `comparison` null until done), its
 * discrepancies cut to its share of the state when `tables` are compared.
 */
export function makeCompareTable014Handler(getDeps: DepsProvider) {
  return phase014Handler(
    getDeps,
    async (
      { conn, input, deps },
      event: { input: unknown; table: string; tables?: number; checkpoint?: CompareCheckpoint | null },
    ): Promise<{ comparison: TableComparison | null; checkpoint: CompareCheckpoint | null }> => {
      const table = String(event.table);
      const options = { prodSchema: input.schema, testSchema: input.dest, table, tolerance: input.tolerance, maxDiscrepancies: DISCREPANCIES_KEPT };
      const { result, checkpoint } = await compareStep(conn, options, { budgetMs: deps.workBudgetMs, checkpoint: event.checkpoint });
      if (!result) return { comparison: null, checkpoint };
      const comparison = { table, match: result.match, rowCount: result.row_count, testRowCount: result.test_row_count, discrepancies: result.discrepancies };
      return { comparison: comparisonWithin(comparison, Number(event.tables) || 1), checkpoint: null };
    },
  );
}

export const handler = makeCompareTable014Handler(lambdaDeps);
