import { MigrationRefusedError } from '../core/errors.js';
import { inspectSchema } from '../core/migrate011/inspect.js';
import { planMigration } from '../core/migrate011/plan.js';
import { lambdaDeps } from './lambda-deps.js';
import { DETAIL_TYPES } from './ops/events.js';
import { planCounts, planSummary } from './ops/summaries.js';
import { checksumJobsOf } from './deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * Read-only: the plan. When the run is meant to execute, a plan with problems stops it here, before any write; when it
 * is not, the plan is the run's output and is announced (Plan Ready).
 */
export function makeInspectHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string }) => {
    // before anything is written (Prepare opens the journal): where S3 Batch Operations cannot be reached, say so now
    if (input.execute && input.s3BatchChecksum) checksumJobsOf(deps);
    // the plan scans the columns' values beside the stores' listings
    const plan = await planMigration(conn, input, await inspectSchema(conn, input, { checkValues: false }), openStore);
    progress.report({ kind: 'planned', ...planCounts(plan) });
    if (input.execute && plan.status === 'refused') {
      throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is; nothing was changed:`, plan.problems);
    }
    if (!input.execute) await deps.events.publish(DETAIL_TYPES.planReady, planSummary(plan, event.run));
    return { plan };
  }, 'check');
}

export const handler = makeInspectHandler(lambdaDeps);
