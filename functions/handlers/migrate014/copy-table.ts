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
    async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; item: unknown; checkpoint?: unknown }) => {
      const item = itemOf(event.item);
      const { table } = item;
      const copied = await copyTableData(conn, {
        ...copyOptionsOf(input, openStore),
        ...item,
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

/** The item as PrepareCopy made it (copyItemsOf). */
function itemOf(item: unknown): CopyItem {
  const { table, only, part } = (item ?? {}) as Record<string, unknown>;
  if (typeof table !== 'string' || (only !== 'pointers' && only !== 'rows')) throw new Error(`copyTable014 needs an item { table, only, part } from PrepareCopy, got ${JSON.stringify(item)}`);
  const bound = (value: unknown) => (value === null || (typeof value === 'string' && /^-?\d+$/.test(value)) ? value : undefined);
  const range = part as Record<string, unknown> | null;
  if (range === null || range === undefined) return { table, only, part: null };
  const from = bound(range.from);
  const until = bound(range.until);
  if (typeof range.column !== 'string' || from === undefined || until === undefined) throw new Error(`copyTable014: the part of ${table} is not one PrepareCopy makes: ${JSON.stringify(part)}`);
  return { table, only, part: { column: range.column, from, until } };
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
