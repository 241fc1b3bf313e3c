import middy from '@middy/core';
import { discoverSchemas, parseBatchInput } from '../../core/batch/discover.js';
import { classifyError } from '../../core/errors.js';
import { lambdaDeps } from '../lambda-deps.js';
import { withDeps } from '../ops/invocation.js';
import type { DepsProvider } from '../phase-handler.js';

/** What the batch machine keeps of Discover: names only; each schema's input is template + { schema }, merged per item. */
export interface DiscoverBatchResult {
  from: '0.11' | '0.14';
  /** The per-schema input without `schema` (with `from`). */
  template: Record<string, unknown>;
  schemas: { schema: string }[];
  skipped: { schema: string; reason: string }[];
  maxConcurrency: number;
  /** No new schema starts after this time (ISO, UTC); null: no window. */
  windowEndsAt: string | null;
}

/** First state of the batch: checks the batch input (refusal names the bad field) and lists the schemas to migrate. */
export function makeDiscoverBatchHandler(getDeps: DepsProvider, now: () => Date = () => new Date()) {
  return middy(async (event: unknown): Promise<DiscoverBatchResult> => {
    const input = parseBatchInput(event);
    const windowEndsAt =
      input.windowEndsAt !== undefined
        ? new Date(input.windowEndsAt).toISOString()
        : input.windowMinutes !== undefined
          ? new Date(now().getTime() + input.windowMinutes * 60_000).toISOString()
          : null;
    const conn = await getDeps().openDatabase().catch((error: unknown) => {
      throw classifyError(error);
    });
    try {
      const found = await discoverSchemas(conn, input);
      return {
        from: input.from,
        template: { ...input.template, from: input.from },
        schemas: found.schemas.map((schema) => ({ schema })),
        skipped: found.skipped,
        maxConcurrency: input.maxConcurrency,
        windowEndsAt,
      };
    } catch (error) {
      throw classifyError(error);
    } finally {
      await conn.end().catch(() => undefined);
    }
  }).use(withDeps(getDeps, 'batch'));
}

export const handler = makeDiscoverBatchHandler(lambdaDeps);
