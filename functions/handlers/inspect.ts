import { MigrationRefusedError } from '../core/errors.js';
import { inspectSchema } from '../core/migrate011/inspect.js';
import { planMigration } from '../core/migrate011/plan.js';
import { lambdaDeps } from './lambda-deps.js';
import { DETAIL_TYPES } from './ops/events.js';
import { planSummary } from './ops/summaries.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * Read-only: the plan. When the run is meant to execute, a plan with problems stops it here, before any write; when it
 * is not, the plan is the run's output and is announced (Plan Ready).
 */
export function makeInspectHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string }) => {
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
    if (!input.execute) await deps.events.publish(DETAIL_TYPES.planReady, planSummary(plan, event.run));
    return { plan };
  }, 'check');
}

export const handler = makeInspectHandler(lambdaDeps);
