import { copyItemsOf, createParallelSchema, openPointerMap } from '../../core/migrate014/copy.js';
import { copyOptionsOf } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * Copy strategy, first write: declares the destination when asked (idempotent); the tables to copy, parents first;
 * what CopyTable calls do: the pointers of the tables with external columns, then the rows by foreign-key level (the
 * items of a level are copied at once; a big table's parts are items of their own).
 */
export function makePrepareCopy014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore }) => {
    const created = input.createDest
      ? (await createParallelSchema(conn, { source: input.schema, dest: input.dest, storeMap: input.storeMap, unsignedMarkers: input.unsignedMarkers })).created.length
      : 0;
    const options = copyOptionsOf(input, openStore);
    const { tables, pointers, levels } = await copyItemsOf(conn, options, input.copyPartRows);
    if (pointers.length) await openPointerMap(conn, options);
    return { tables, pointers, levels, created };
  }, 'take');
}

export const handler = makePrepareCopy014Handler(lambdaDeps);
