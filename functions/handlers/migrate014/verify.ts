import { inPlaceOptionsOf } from '../../core/migrate014/input.js';
import { verifyInPlace, type InPlaceVerifyCheckpoint } from '../../core/migrate014/verify.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * Read-only: every step that ran is finished, every 2.x pointer's object is where it says (by bytes with
 * verifyObjects), in calls of a bounded time (each goes on from the checkpoint the one before returned, carried in the
 * execution's state; `verified` null until done).
 */
export function makeVerify014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; checkpoint?: InPlaceVerifyCheckpoint | null }) =>
    verifyInPlace(conn, { ...inPlaceOptionsOf(input), verifyContents: input.verifyObjects }, openStore, { budgetMs: deps.workBudgetMs, checkpoint: event.checkpoint, progress }),
  );
}

export const handler = makeVerify014Handler(lambdaDeps);
