import middy from '@middy/core';
import { z } from 'zod';
import { lambdaDeps } from './lambda-deps.js';
import { withDeps, workflowOfInput } from './ops/invocation.js';
import type { DepsProvider } from './phase-handler.js';
import { releaseEndedRun } from './unlock.js';

/**
 * EventBridge's "Step Functions Execution Status Change" for a migration that was aborted or timed out: the workflow's
 * own failure path (ReleaseLock) never ran, so its schema lock would block reruns until it went stale.
 */
const StatusChangeSchema = z.object({
  detail: z
    .object({
      executionArn: z.string().min(1),
      status: z.enum(['ABORTED', 'TIMED_OUT']),
      /** The execution input as a JSON string (absent when too large for the event). */
      input: z.string().nullish(),
      error: z.string().nullish(),
      cause: z.string().nullish(),
    })
    .passthrough(),
});

const InputSchema = z.object({ schema: z.string().min(1), from: z.string().optional() }).passthrough();

function inputOf(text: string | null | undefined): z.infer<typeof InputSchema> | null {
  if (!text) return null;
  try {
    const parsed = InputSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function makeUnlockAbandonedHandler(getDeps: DepsProvider) {
  return middy(async (event: unknown) => {
    const { detail } = StatusChangeSchema.parse(event);
    const input = inputOf(detail.input);
    // without the schema there is nothing to release here: the lock goes stale and takeOverLock frees it
    if (!input) return { released: false, reason: 'the event carries no execution input naming a schema' };
    return releaseEndedRun(getDeps(), {
      input,
      run: detail.executionArn,
      status: detail.status === 'ABORTED' ? 'aborted' : 'timed-out',
      failure: { Error: detail.error ?? `States.${detail.status === 'ABORTED' ? 'Aborted' : 'Timeout'}`, ...(detail.cause ? { Cause: detail.cause } : {}) },
    });
  }).use(withDeps(getDeps, (event) => workflowOfInput({ input: inputOf((event as { detail?: { input?: string } })?.detail?.input) })));
}

export const handler = makeUnlockAbandonedHandler(lambdaDeps);
