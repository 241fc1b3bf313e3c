import { discardFills } from '../core/migrate011/rewrite.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeDiscardFillsHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }) => discardFills(conn, input));
}

export const handler = makeDiscardFillsHandler(lambdaDeps);
