import { MigrationRefusedError } from '../core/errors.js';
import { inspectSchema } from '../core/migrate011/inspect.js';
import { planStep, type PlanCheckpoint } from '../core/migrate011/plan.js';
import { lambdaDeps } from './lambda-deps.js';
import { DETAIL_TYPES } from './ops/events.js';
import { planCounts, planSummary } from './ops/summaries.js';
import { checksumJobsOf } from './deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

/**
 * Read-only: the plan, in calls of a bounded time (each goes on from the checkpoint the one before returned, carried
 * in the execution's state; `plan` null until done). When the run is meant to execute, a plan with problems stops it
 * here, before any write; when it is not, the plan is the run's output and is announced (Plan Ready).
 */
export function makeInspectHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string; checkpoint?: PlanCheckpoint | null }) => {
    // before anything is written (Prepare opens the journal): where S3 Batch Operations cannot be reached, say so now
    if (input.execute && input.s3BatchChecksum) checksumJobsOf(deps);
    // the plan scans the columns' values beside the stores' listings
    const step = await planStep(conn, input, await inspectSchema(conn, input, { checkValues: false }), openStore, { budgetMs: deps.workBudgetMs, checkpoint: event.checkpoint });
    const { plan } = step;
    if (!plan) return step;
    progress.report({ kind: 'planned', ...planCounts(plan) });
    if (input.execute && plan.status === 'refused') {
      throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is; nothing was changed:`, plan.problems);
    }
    if (!input.execute) await deps.events.publish(DETAIL_TYPES.planReady, planSummary(plan, event.run));
    return step;
  }, 'check');
}

export const handler = makeInspectHandler(lambdaDeps);
