import { MigrationRefusedError } from '../core/errors.js';
import { inspectSchema } from '../core/migrate011/inspect.js';
import { planMigration } from '../core/migrate011/plan.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/** Read-only: the plan. When the run is meant to execute, a plan with problems stops it here, before any write. */
export function makeInspectHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress }) => {
    const plan = await planMigration(conn, input, await inspectSchema(conn, input), openStore);
    progress.report({
      kind: 'planned',
      objects: plan.stores.reduce((sum, store) => sum + store.objects, 0),
      bytes: plan.stores.reduce((sum, store) => sum + store.bytes, 0),
      rows: plan.columns.reduce((sum, column) => sum + column.pointers, 0),
      columns: plan.columns.length,
    });
    if (input.execute && plan.status === 'refused') {
      throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is; nothing was changed:`, plan.problems);
    }
    return { plan };
  }, 'check');
}

export const handler = makeInspectHandler(lambdaDeps);
