import { prepareExternalStorage, type ExternalPlanCheckpoint } from '../../core/migrate014/external-storage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';
import { externalOptionsOf } from './external-options.js';

/**
 * migrate_external_storage, first part: checks again (in calls of a bounded time, from the checkpoint the one before
 * returned, carried in the execution's state; `columns` null until done), opens the journal; the ids of the columns
 * to convert, also grouped by table.
 */
export function makePrepareExternal014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; checkpoint?: ExternalPlanCheckpoint | null }) => {
    if (!input.steps.includes('migrate_external_storage')) return { columns: [], tableColumns: [], checkpoint: null };
    const { columns, tableColumns, checkpoint } = await prepareExternalStorage(conn, externalOptionsOf(input), openStore, { budgetMs: deps.workBudgetMs, checkpoint: event.checkpoint, progress });
    return { columns, tableColumns, checkpoint };
  });
}

export const handler = makePrepareExternal014Handler(lambdaDeps);
