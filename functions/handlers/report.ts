import type { Finished } from '../core/migrate011/finish.js';
import type { Plan } from '../core/migrate011/plan.js';
import { buildReport } from '../core/migrate011/report.js';
import type { Verification } from '../core/migrate011/verify.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

interface ReportEvent {
  input: unknown;
  inspected: { plan: Plan };
  finished: Finished;
  verified: Verification;
}

export function makeReportHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }, event: ReportEvent) => buildReport(conn, input, event.inspected.plan, event.finished, event.verified), 'release');
}

export const handler = makeReportHandler(lambdaDeps);
