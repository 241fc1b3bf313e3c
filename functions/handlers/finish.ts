import { finishMigration } from '../core/migrate011/finish.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeFinishHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input }) => finishMigration(conn, input));
}

export const handler = makeFinishHandler(lambdaDeps);
