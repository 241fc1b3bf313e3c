import middy from '@middy/core';
import { z } from 'zod';
import { classifyError } from '../core/errors.js';
import { releaseSchemaLock } from '../core/lock/schema-lock.js';
import { lambdaDeps } from './lambda-deps.js';
import type { DepsProvider } from './phase-handler.js';

/** Only what releasing needs: the input may be the very thing that failed validation elsewhere. */
const UnlockEventSchema = z.object({ input: z.object({ schema: z.string().min(1) }).passthrough(), run: z.string().min(1) });

/** The failure path of both migrations: frees the schema for a rerun, then the execution fails with the original error. */
export function makeUnlockHandler(getDeps: DepsProvider) {
  return middy(async (event: unknown) => {
    const { input, run } = UnlockEventSchema.parse(event);
    const conn = await getDeps().openDatabase();
    try {
      return { released: await releaseSchemaLock(conn, input.schema, run) };
    } catch (error) {
      throw classifyError(error);
    } finally {
      await conn.end().catch(() => undefined);
    }
  });
}

export const handler = makeUnlockHandler(lambdaDeps);
