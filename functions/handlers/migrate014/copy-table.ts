import { copyTableData, type CopyItem, type CopyTableCheckpoint } from '../../core/migrate014/copy.js';
import { copyOptionsOf } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * copy_table_data for a bounded time, on one item of the copy (a table's pointers, or its rows or a part of them); the
 * state machine calls it again until `done`, with the `checkpoint` (where the item's pointers or rows stopped) the call
 * before returned, so a call does not read again what earlier ones did.
 */
export function makeCopyTable014Handler(getDeps: DepsProvider) {
  return phase014Handler(
    getDeps,
    // the item is PrepareCopy's (copyItemsOf); a part's bounds go into SQL only as integers (partCondition)
    async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; item: CopyItem; checkpoint?: unknown }) => {
      const { table, only, part } = event.item;
      const copied = await copyTableData(conn, {
        ...copyOptionsOf(input, openStore),
        table,
        only,
        part,
        openWriter,
        progress,
        checkpoint: checkpointOf(event.checkpoint),
        deadline: Date.now() + deps.workBudgetMs,
      });
      if (copied.rowsCopied) progress.report({ kind: 'rows-copied', table, rows: copied.rowsCopied });
      return { table, done: copied.done, rows: copied.rowsCopied, checkpoint: copied.checkpoint };
    },
  );
}

/** The checkpoint as a call returned it; anything else starts the item over (what is done is skipped, not redone). */
function checkpointOf(saved: unknown): CopyTableCheckpoint | null {
  if (!saved || typeof saved !== 'object') return null;
  const { stage, column, after } = saved as Record<string, unknown>;
  if (typeof after !== 'string') return null;
  if (stage === 'rows') return { stage, after };
  if (stage === 'pointers' && typeof column === 'string') return { stage, column, after };
  return null;
}

export const handler = makeCopyTable014Handler(lambdaDeps);
