import middy from '@middy/core';
import { lambdaDeps } from '../lambda-deps.js';
import { DETAIL_TYPES } from '../ops/events.js';
import { withDeps } from '../ops/invocation.js';
import { executionName, keepReport } from '../ops/reports.js';
import { batchSummary } from '../ops/summaries.js';
import type { DepsProvider } from '../phase-handler.js';
import type { BatchFailure } from './failure.js';

/** One schema's iteration result in the batch machine (see lib/workflows/batch.ts). */
export type BatchItemResult =
  | { schema: string; status: 'SUCCEEDED'; executionArn?: string; outcome?: string }
  | BatchFailure
  | { schema: string; status: 'NOT_STARTED'; reason?: string };

export interface BatchReportEvent {
  /** The batch execution (`$$.Execution.Id`), when the workflow passes it. */
  run?: string;
  discovered: { from: string; skipped: { schema: string; reason: string }[]; windowEndsAt: string | null };
  results: BatchItemResult[];
}

export interface BatchSchemaOutcome {
  schema: string;
  status: 'SUCCEEDED' | 'FAILED' | 'NOT_STARTED' | 'SKIPPED';
  /** SUCCEEDED: the child's report status (`migrated`, …) or `planned`. */
  outcome?: string;
  executionArn?: string;
  /** FAILED: the child's error name (`MigrationRefused`, …) and message. */
  error?: string;
  cause?: string;
  /** NOT_STARTED / SKIPPED: why. */
  reason?: string;
}

export interface BatchReport {
  status: 'succeeded' | 'failed' | 'partial';
  from: string;
  succeeded: number;
  failed: number;
  notStarted: number;
  skipped: number;
  windowEndsAt: string | null;
  schemas: BatchSchemaOutcome[];
}

/** A child whose report says verification or comparison failed did not migrate its schema: counted as failed. */
const FAILED_OUTCOME = /-failed$/;

export function buildBatchReport(event: BatchReportEvent): BatchReport {
  const schemas: BatchSchemaOutcome[] = event.results.map((result) => {
    if (result.status === 'SUCCEEDED') {
      const outcome = result.outcome ?? 'succeeded';
      if (FAILED_OUTCOME.test(outcome)) {
        return { schema: result.schema, status: 'FAILED', outcome, executionArn: result.executionArn, error: 'VerificationFailed', cause: `the child execution ended with status ${outcome}` };
      }
      return { schema: result.schema, status: 'SUCCEEDED', outcome, ...(result.executionArn ? { executionArn: result.executionArn } : {}) };
    }
    if (result.status === 'FAILED') return result;
    return { schema: result.schema, status: 'NOT_STARTED', reason: result.reason ?? 'the maintenance window had ended' };
  });
  for (const skipped of event.discovered.skipped) schemas.push({ schema: skipped.schema, status: 'SKIPPED', reason: skipped.reason });
  const count = (status: BatchSchemaOutcome['status']) => schemas.filter((schema) => schema.status === status).length;
  const succeeded = count('SUCCEEDED');
  const failed = count('FAILED');
  const notStarted = count('NOT_STARTED');
  return {
    status: failed === 0 && notStarted === 0 ? 'succeeded' : succeeded === 0 ? 'failed' : 'partial',
    from: event.discovered.from,
    succeeded,
    failed,
    notStarted,
    skipped: count('SKIPPED'),
    windowEndsAt: event.discovered.windowEndsAt,
    schemas,
  };
}

/**
 * Last state of the batch: each schema's outcome and the counts (the execution output). Needs no database. With deps
 * (Lambda), the report is also kept in the reports bucket (`reportLocation`) and announced; without (local), it is
 * only returned.
 */
export function makeReportBatchHandler(getDeps?: DepsProvider) {
  const handler = middy(async (event: BatchReportEvent): Promise<BatchReport & { reportLocation?: string }> => {
    const report = buildBatchReport(event);
    if (!getDeps) return report;
    const deps = getDeps();
    // until the workflow passes `run`, a time-stamped name
    const name = event.run ? executionName(event.run) : `batch-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const kept = await keepReport(deps.reports, `reports/batch/${name}.json`, report);
    await deps.events.publish(DETAIL_TYPES.succeeded, batchSummary(report, event.run, kept.reportLocation));
    return kept;
  });
  if (getDeps) handler.use(withDeps(getDeps, 'batch', false));
  return handler;
}

export const handler = makeReportBatchHandler(lambdaDeps);
