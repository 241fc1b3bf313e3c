import { buildReport014, type Report014Event } from '../../core/migrate014/report.js';
import { lambdaDeps } from '../lambda-deps.js';
import { DETAIL_TYPES } from '../ops/events.js';
import { keepReport, reportKey } from '../ops/reports.js';
import { report014Summary } from '../ops/summaries.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/** Last state: the report (the execution output), kept in the reports bucket (`reportLocation`) and announced. */
export function makeReport014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, deps }, event: Report014Event & { input: unknown; run?: string }) => {
    const report = await buildReport014(conn, input, event);
    const kept = await keepReport(deps.reports, reportKey(input.schema, event.run), report);
    await deps.events.publish(DETAIL_TYPES.succeeded, report014Summary(report, event.run, kept.reportLocation));
    return kept;
  }, 'release');
}

export const handler = makeReport014Handler(lambdaDeps);
