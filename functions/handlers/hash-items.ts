import { hashItems, type ManifestItem } from '../core/migrate011/hash.js';
import { lambdaDeps } from './lambda-deps.js';
import { storePhaseHandler, type DepsProvider } from './phase-handler.js';

/** Leaves the rest of an Express child's 5 minutes for RecordHashes and the retries of a slow call. */
export const EXPRESS_HASH_BUDGET_MS = 3 * 60_000;

/** A Distributed Map child's first step: hashes its batch of manifest items; no database. */
export function makeHashItemsHandler(getDeps: DepsProvider) {
  return storePhaseHandler(getDeps, async ({ input, openStore, progress, deps }, event: { input: unknown; items: ManifestItem[] }) =>
    hashItems(input, event.items, openStore, progress, Date.now() + Math.min(EXPRESS_HASH_BUDGET_MS, deps.workBudgetMs)),
  );
}

export const handler = makeHashItemsHandler(lambdaDeps);
