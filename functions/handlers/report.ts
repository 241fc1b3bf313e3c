import type { Finished } from '../core/migrate011/finish.js';
import type { Plan } from '../core/migrate011/plan.js';
import { buildReport } from '../core/migrate011/report.js';
import type { Verification } from '../core/migrate011/verify.js';
import { lambdaDeps } from './lambda-deps.js';
import { DETAIL_TYPES } from './ops/events.js';
import { keepReport, reportKey } from './ops/reports.js';
import { reportSummary } from './ops/summaries.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

interface ReportEvent {
  input: unknown;
  run?: string;
  inspected: { plan: Plan };
  finished: Finished;
  verified: Verification;
}

/** Last state: the report (the execution output), kept in the reports bucket (`reportLocation`) and announced. */
export function makeReportHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, deps }, event: ReportEvent) => {
    const report = await buildReport(conn, input, event.inspected.plan, event.finished, event.verified);
    const kept = await keepReport(deps.reports, reportKey(input.schema, event.run), report);
    await deps.events.publish(DETAIL_TYPES.succeeded, reportSummary(report, event.run, kept.reportLocation));
    return kept;
  }, 'release');
}

export const handler = makeReportHandler(lambdaDeps);
