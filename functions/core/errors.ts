// Error kinds the state machine tells apart by name: a refusal is final (nothing to retry, the user must act),
// a transient error is retried by the definition's Retry policy.

/** The error name of a refusal, as the state machine's Catch matches it. */
export const REFUSAL_ERROR = 'MigrationRefused';

/** Details a refusal's message shows; the rest are counted (a batch of a huge store may hold thousands). */
export const REFUSAL_DETAILS_SHOWN = 20;

/**
 * Bad input or a schema/store state that makes migrating unsafe. The message says what and what to do, with at
 * most REFUSAL_DETAILS_SHOWN of the details: Step Functions keeps only 32 KB of an error's cause.
 */
export class MigrationRefusedError extends Error {
  override readonly name = REFUSAL_ERROR;
  constructor(
    message: string,
    readonly details: string[] = [],
  ) {
    const shown = details.slice(0, REFUSAL_DETAILS_SHOWN);
    const more = details.length > shown.length ? `\n  (and ${details.length - shown.length} more)` : '';
    super(details.length ? `${message}\n  - ${shown.join('\n  - ')}${more}` : message);
  }
}

/** A failure worth retrying: lost connection, deadlock, lock wait, throttling, 5xx. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'ThrottlingException',
]);

/** Connection errors that mean the server is not reachable (yet): worth retrying, then worth a hint. */
export const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Re-throws what is worth retrying as TransientError so the state machine's Retry catches it by name. */
export function classifyError(error: unknown): unknown {
  if (error instanceof MigrationRefusedError || error instanceof TransientError) return error;
  const code = (error as { code?: string; name?: string; $metadata?: { httpStatusCode?: number } }) ?? {};
  const status = code.$metadata?.httpStatusCode ?? 0;
  if (TRANSIENT_CODES.has(code.code ?? '') || TRANSIENT_CODES.has(code.name ?? '') || status >= 500) {
    return new TransientError(`${(error as Error).message} (transient: retried before giving up)`, { cause: error });
  }
  return error;
}
