import { copyTableData } from '../../core/migrate014/copy.js';
import { copyOptionsOf } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * copy_table_data for a bounded time; the state machine calls it again until `done`, with the `checkpoint` (the last
 * primary key copied up to) the call before returned, so a call does not read again what earlier ones copied.
 */
export function makeCopyTable014Handler(getDeps: DepsProvider) {
  return phase014Handler(
    getDeps,
    async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; table: string; checkpoint?: string | null }) => {
      const table = String(event.table);
      const after = typeof event.checkpoint === 'string' ? event.checkpoint : null;
      const copied = await copyTableData(conn, { ...copyOptionsOf(input, openStore), table, openWriter, after, deadline: Date.now() + deps.workBudgetMs });
      if (copied.rowsCopied) progress.report({ kind: 'rows-copied', table, rows: copied.rowsCopied });
      return { table, done: copied.done, rows: copied.rowsCopied, checkpoint: copied.last };
    },
  );
}

export const handler = makeCopyTable014Handler(lambdaDeps);
