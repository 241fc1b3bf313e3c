import middy from '@middy/core';

/** What a failed schema leaves in the batch's state: the error and the start of its message (the child has the rest). */
export interface BatchFailure {
  schema: string;
  status: 'FAILED';
  error?: string;
  cause?: string;
  executionArn?: string;
}

/** Characters of a failed schema's message the batch keeps: every schema's outcome shares the state's 256 KiB. */
export const BATCH_CAUSE_CHARACTERS = 300;

/**
 * A failed child's Cause is the DescribeExecution of the child (JSON with its own Error, Cause and ExecutionArn);
 * anything else is kept as it is. Returns the child's error name, its message cut to `maxCause` characters, and its ARN.
 */
function childFailure(error: string | undefined, cause: string | undefined, maxCause: number): { error?: string; cause?: string; executionArn?: string } {
  let name = error;
  let message = cause;
  let executionArn: string | undefined;
  if (cause) {
    try {
      const parsed = JSON.parse(cause) as { Error?: unknown; Cause?: unknown; ExecutionArn?: unknown };
      if (parsed && typeof parsed === 'object' && (typeof parsed.Error === 'string' || typeof parsed.Cause === 'string')) {
        if (typeof parsed.Error === 'string') name = parsed.Error;
        message = typeof parsed.Cause === 'string' ? parsed.Cause : undefined;
        if (typeof parsed.ExecutionArn === 'string') executionArn = parsed.ExecutionArn;
      }
    } catch {
      // not JSON: the cause as it is
    }
  }
  if (message && message.length > maxCause) message = `${message.slice(0, maxCause)}…`;
  return { ...(name ? { error: name } : {}), ...(message ? { cause: message } : {}), ...(executionArn ? { executionArn } : {}) };
}

/**
 * A schema's child execution failed (or could not start): its error, the start of its message and its execution ARN,
 * from the Catch's { Error, Cause } (a child's Cause is its DescribeExecution, whose Input alone may be kilobytes).
 */
export function batchFailure(event: { schema: string; failure?: { Error?: string; Cause?: string } }): BatchFailure {
  return { schema: event.schema, status: 'FAILED', ...childFailure(event.failure?.Error, event.failure?.Cause, BATCH_CAUSE_CHARACTERS) };
}

export function makeFailureBatchHandler() {
  return middy(async (event: Parameters<typeof batchFailure>[0]): Promise<BatchFailure> => batchFailure(event));
}

export const handler = makeFailureBatchHandler();
