import { createParallelSchema, planSchemaCopy } from '../../core/migrate014/copy.js';
import { copyOptionsOf } from '../../core/migrate014/plan.js';
import { lambdaDeps } from '../lambda-deps.js';
import { phase014Handler, type DepsProvider } from '../phase-handler.js';

/**
 * Copy strategy, first write: declares the destination when asked (idempotent); the tables to copy, parents first,
 * and in foreign-key levels (the tables of a level are copied at once).
 */
export function makePrepareCopy014Handler(getDeps: DepsProvider) {
  return phase014Handler(getDeps, async ({ conn, input, openStore }) => {
    const created = input.createDest
      ? (await createParallelSchema(conn, { source: input.schema, dest: input.dest, storeMap: input.storeMap, unsignedMarkers: input.unsignedMarkers })).created.length
      : 0;
    const { tables, levels } = await planSchemaCopy(conn, copyOptionsOf(input, openStore));
    return { tables, levels, created };
  }, 'take');
}

export const handler = makePrepareCopy014Handler(lambdaDeps);
