import { compareQueryResults } from '../../core/migrate014/compare.js';
import type { TableComparison } from '../../core/migrate014/report.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Discrepancies kept per table in state (the report names them by primary key); the rest are counted as a match: false. */
const DISCREPANCIES_KEPT = 5;

/** compare_query_results of one copied table against its source. */
export function makeCompareTable014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input }, event: { input: unknown; table: string }): Promise<TableComparison> => {
    const table = String(event.table);
    const result = await compareQueryResults(conn, { prodSchema: input.schema, testSchema: input.dest, table, tolerance: input.tolerance, maxDiscrepancies: DISCREPANCIES_KEPT });
    return { table, match: result.match, rowCount: result.row_count, testRowCount: result.test_row_count, discrepancies: result.discrepancies };
  });
}

export const handler = makeCompareTable014Handler(lambdaDeps);
