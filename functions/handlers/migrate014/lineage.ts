import { rebuildLineage } from '../../core/migrate014/lineage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** add_lineage_table, after the external columns lost their foreign keys. */
export function makeLineage014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input }) => {
    if (!input.steps.includes('add_lineage_table')) return { skipped: true };
    return { skipped: false, ...(await rebuildLineage(conn, input.schema)) };
  });
}

export const handler = makeLineage014Handler(lambdaDeps);
