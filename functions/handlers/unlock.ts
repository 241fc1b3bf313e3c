import middy from '@middy/core';
import { z } from 'zod';
import { classifyError, TransientError } from '../core/errors.js';
import { releaseSchemaLock } from '../core/lock/schema-lock.js';
import type { HandlerDeps } from './deps.js';
import { lambdaDeps } from './lambda-deps.js';
import { TASK_RETRIES } from './names.js';
import { DETAIL_TYPES, failureSummary } from './ops/events.js';
import { withDeps, workflowOfInput } from './ops/invocation.js';
import type { DepsProvider } from './phase-handler.js';

/**
 * Only what releasing needs: the input may be the very thing that failed validation elsewhere. `failure` is the
 * error the workflow caught ({Error, Cause}), when it passes it.
 */
const UnlockEventSchema = z.object({
  input: z.object({ schema: z.string().min(1) }).passthrough(),
  run: z.string().min(1),
  failure: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough().optional(),
  /** $$.State.RetryCount of the ReleaseLock Task. */
  retry: z.number().int().min(0).optional(),
});

export interface EndedRun {
  input: { schema: string; from?: unknown };
  /** The execution ARN: the lock's holder. */
  run: string;
  status: 'failed' | 'aborted' | 'timed-out';
  failure?: { Error?: string; Cause?: string };
  /** False while a transient failure to release will be retried: the failure is announced by the last attempt only. */
  lastAttempt?: boolean;
}

/** Frees the schema if this run still holds its lock, and announces how the run ended (whether or not releasing worked). */
export async function releaseEndedRun(deps: HandlerDeps, { input, run, status, failure, lastAttempt = true }: EndedRun): Promise<{ released: boolean }> {
  let released: boolean | undefined;
  let retried = false;
  try {
    const conn = await deps.openDatabase().catch((error: unknown) => {
      throw classifyError(error);
    });
    try {
      released = await releaseSchemaLock(conn, input.schema, run);
      return { released };
    } catch (error) {
      throw classifyError(error);
    } finally {
      await conn.end().catch(() => undefined);
    }
  } catch (error) {
    retried = error instanceof TransientError && !lastAttempt;
    throw error;
  } finally {
    if (!retried) await announce();
  }

  async function announce() {
    const from = typeof input.from === 'string' ? input.from : undefined;
    await deps.events.publish(DETAIL_TYPES.failed, {
      schema: input.schema,
      ...(from ? { from } : {}),
      status,
      executionArn: run,
      ...failureSummary(failure),
      ...(released === undefined ? {} : { lockReleased: released }),
    });
  }
}

/** The failure path of both migrations: frees the schema for a rerun and announces the failure, then the execution fails with the original error. */
export function makeUnlockHandler(getDeps: DepsProvider) {
  return middy(async (event: unknown) => {
    const { input, run, failure, retry } = UnlockEventSchema.parse(event);
    return releaseEndedRun(getDeps(), { input, run, status: 'failed', failure, lastAttempt: retry === undefined || retry >= TASK_RETRIES });
  }).use(withDeps(getDeps, workflowOfInput));
}

export const handler = makeUnlockHandler(lambdaDeps);
