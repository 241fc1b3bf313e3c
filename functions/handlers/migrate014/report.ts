import { buildReport014, type Report014Event } from '../../core/migrate014/report.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

export function makeReport014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input }, event: Report014Event & { input: unknown }) => buildReport014(conn, input, event), 'release');
}

export const handler = makeReport014Handler(lambdaDeps);
