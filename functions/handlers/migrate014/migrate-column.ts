import { COLUMN_STAGES, migrateTableColumns, type TableColumnsCheckpoint } from '../../core/migrate014/external-storage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';
import { tableColumnsOf } from '../table-columns.js';
import { externalOptionsOf } from './external-options.js';

/**
 * Works for a bounded time on one table's external columns, in turn; the state machine calls it again until `done`,
 * with the `checkpoint` (a column's stage and where within it) the call before returned.
 */
export function makeMigrateColumn014Handler(getDeps: DepsProvider) {
  return phase014Handler(
    getDeps,
    async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; columns?: unknown; column?: unknown; checkpoint?: TableColumnsCheckpoint | null }) => {
      const columns = tableColumnsOf(event, 'migrateColumn014');
      const saved = event.checkpoint;
      const checkpoint =
        saved && COLUMN_STAGES.includes(saved.stage) && typeof saved.after === 'string' ? { column: Number(saved.column), stage: saved.stage, after: saved.after } : null;
      const step = await migrateTableColumns(conn, externalOptionsOf(input), columns, { openStore, openWriter, progress }, deps.workBudgetMs, checkpoint);
      return { column: step.column, done: step.done, rows: step.rows, checkpoint: step.checkpoint };
    },
  );
}

export const handler = makeMigrateColumn014Handler(lambdaDeps);
