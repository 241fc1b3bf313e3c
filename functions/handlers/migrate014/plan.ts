import { MigrationRefusedError } from '../../core/errors.js';
import type { ExternalPlanCheckpoint } from '../../core/migrate014/external-storage.js';
import { planMigration014, planWithin } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { DETAIL_TYPES } from '../ops/events.js';
import { planKey } from '../ops/reports.js';
import { plan014Counts, plan014Summary } from '../ops/summaries.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * The most of an execution's state (256 KiB) the plan may take: it stays there for the Report, beside the input and
 * the columns PrepareExternalStorage hands the MigrateExternalColumns Map.
 */
export const PLAN_IN_STATE_BYTES = 64 * 1024;

/**
 * Read-only: the plan, in calls of a bounded time (each goes on from the checkpoint the one before returned, carried
 * in the execution's state; `plan` null until done). When the run is meant to execute, a plan with problems stops it
 * here, before any write; when it is not, the plan is the run's output and is announced (Plan Ready). The whole plan
 * is kept in the reports bucket (`planLocation`); the state gets it cut to PLAN_IN_STATE_BYTES (see planWithin).
 */
export function makePlan014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string; checkpoint?: ExternalPlanCheckpoint | null }) => {
    const step = await planMigration014(conn, input, openStore, { budgetMs: deps.workBudgetMs, checkpoint: event.checkpoint, progress });
    const { plan } = step;
    if (!plan) return step;
    progress.report({ kind: 'planned', ...plan014Counts(plan) });
    if (input.execute && plan.status === 'refused') {
      throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is; nothing was changed:`, plan.problems);
    }
    const planLocation = await deps.reports.put(planKey(input.schema, event.run), plan);
    if (!input.execute) await deps.events.publish(DETAIL_TYPES.planReady, plan014Summary(plan, event.run));
    return { plan: planWithin(planLocation ? { ...plan, planLocation } : plan, PLAN_IN_STATE_BYTES), checkpoint: null };
  }, 'check');
}

export const handler = makePlan014Handler(lambdaDeps);
