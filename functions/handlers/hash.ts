import { hashBatch } from '../core/migrate011/hash.js';
import { lambdaDeps } from './lambda-deps.js';
import { phaseHandler, type DepsProvider } from './phase-handler.js';

export function makeHashHandler(getDeps: DepsProvider) {
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress }, event: { input: unknown; batch: number }) =>
    hashBatch(conn, input, Number(event.batch), openStore, progress),
  );
}

export const handler = makeHashHandler(lambdaDeps);
