import { insertExternalRows } from '../core/migrate011/insert.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeInsertHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }) => insertExternalRows(conn, input));
}

export const handler = makeInsertHandler(lambdaDeps);
