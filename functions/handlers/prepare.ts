import { inspectSchema } from '../core/migrate011/inspect.js';
import { prepareMigration } from '../core/migrate011/prepare.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makePrepareHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress }) => prepareMigration(conn, input, await inspectSchema(conn, input), { openStore, progress }));
}

export const handler = makePrepareHandler(lambdaDeps);
