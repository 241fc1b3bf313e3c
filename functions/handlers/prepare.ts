import { inspectSchema } from '../core/migrate011/inspect.js';
import { prepareMigration } from '../core/migrate011/prepare.js';
import { lambdaDeps } from './lambda-deps.js';
import { manifestKey } from './ops/reports.js';
import { budgetedCall, phaseHandler, type DepsProvider } from './phase-handler.js';

export function makePrepareHandler(getDeps: DepsProvider) {
  // Inspect, the state before, scanned every value; Prepare reads the structure again under the lock. It works for a
  // bounded time and reports `done: false` until the journal (and the manifest) are complete; each call goes on.
  return phaseHandler(getDeps, async ({ conn, input, openStore, progress, deps }, event: { input: unknown; run?: string }) =>
    prepareMigration(
      conn,
      input,
      await inspectSchema(conn, input, { checkValues: false }),
      { openStore, progress, manifests: deps.manifests, manifestKey: manifestKey(input.schema, event.run, 'hash') },
      budgetedCall(event, deps),
    ),
    'take', // the run's first write
  );
}

export const handler = makePrepareHandler(lambdaDeps);
