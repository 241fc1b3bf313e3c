import { migrateTableColumns } from '../../core/migrate014/external-storage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';
import { tableColumnsOf } from '../table-columns.js';
import { externalOptionsOf } from './external-options.js';

/** Works for a bounded time on one table's external columns, in turn; the state machine calls it again until `done`. */
export function makeMigrateColumn014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; columns?: unknown; column?: unknown }) => {
    const columns = tableColumnsOf(event, 'migrateColumn014');
    const step = await migrateTableColumns(conn, externalOptionsOf(input), columns, { openStore, openWriter, progress }, deps.workBudgetMs);
    return { column: step.column, done: step.done, rows: step.rows };
  });
}

export const handler = makeMigrateColumn014Handler(lambdaDeps);
