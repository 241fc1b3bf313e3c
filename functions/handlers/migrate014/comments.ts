import { applyCommentUpdates } from '../../core/migrate014/update-comments.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** update_blob_comments; the result is counts only (the plan listed every change). */
export function makeComments014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input }) => {
    if (!input.steps.includes('update_blob_comments')) return { skipped: true, altered: 0, columns: 0 };
    const applied = await applyCommentUpdates(conn, input.schema, { unsignedMarkers: input.unsignedMarkers });
    return { skipped: false, altered: applied.altered, columns: applied.columns.length };
  }, 'take'); // the in-place run's first write without a backup (after one, taking it again is a no-op)
}

export const handler = makeComments014Handler(lambdaDeps);
