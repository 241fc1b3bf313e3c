import { migrateExternalColumn } from '../../core/migrate014/external-storage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';
import { externalOptionsOf } from './external-options.js';

/** Works for a bounded time on one external column; the state machine calls it again until `done`. */
export function makeMigrateColumn014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, openWriter, progress, deps }, event: { input: unknown; column: number }) => {
    const step = await migrateExternalColumn(conn, externalOptionsOf(input), Number(event.column), { openStore, openWriter, progress }, Date.now() + deps.workBudgetMs);
    return { column: step.column, done: step.done, rows: step.rows };
  });
}

export const handler = makeMigrateColumn014Handler(lambdaDeps);
