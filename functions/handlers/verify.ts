import { verifyMigration } from '../core/migrate011/verify.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeVerifyHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore }) => verifyMigration(conn, input, openStore));
}

export const handler = makeVerifyHandler(lambdaDeps);
