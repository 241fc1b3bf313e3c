import { prepareExternalStorage } from '../../core/migrate014/external-storage.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';
import { externalOptionsOf } from './external-options.js';

/** migrate_external_storage, first part: checks again, opens the journal; the ids of the columns to convert. */
export function makePrepareExternal014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore }) => {
    if (!input.steps.includes('migrate_external_storage')) return { columns: [] };
    const { columns } = await prepareExternalStorage(conn, externalOptionsOf(input), openStore);
    return { columns };
  });
}

export const handler = makePrepareExternal014Handler(lambdaDeps);
