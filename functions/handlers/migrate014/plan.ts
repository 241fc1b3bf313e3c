import { MigrationRefusedError } from '../../core/errors.js';
import { planMigration014 } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Read-only: the plan. When the run is meant to execute, a plan with problems stops it here, before any write. */
export function makePlan014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, progress }) => {
    const plan = await planMigration014(conn, input, openStore);
    const columns = plan.inPlace?.external?.columns ?? [];
    progress.report({
      kind: 'planned',
      objects: columns.reduce((sum, column) => sum + column.objects, 0),
      bytes: columns.reduce((sum, column) => sum + column.bytes, 0),
      rows: columns.reduce((sum, column) => sum + column.pointers, 0),
      columns: columns.length,
    });
    if (input.execute && plan.status === 'refused') {
      throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is; nothing was changed:`, plan.problems);
    }
    return { plan };
  }, 'check');
}

export const handler = makePlan014Handler(lambdaDeps);
