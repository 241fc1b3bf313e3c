// The middlewares around every handler invocation. The handler factories add `withDeps`; what it runs comes from the
// deps (Lambda: database secret, log keys, metrics, error log; local runner: nothing), chosen on the first call so
// that building a handler never builds Lambda deps.
import type { MiddlewareObj, Request } from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { HandlerDeps } from '../deps.js';
import { describeError, runKeys } from './logger.js';
import { METRIC_NAMES, publishMetrics, WORKFLOW_DIMENSION, type Workflow } from './metrics.js';

type AnyRequest = Request<any, any, any, any, any>;
export type AnyMiddleware = MiddlewareObj<any, any, any, any, any>;

const ACTIVE = 'djmigrateMiddleware';

/** Runs the deps' middlewares (in `use` order before, reversed after and on error). */
export function withDeps(getDeps: () => HandlerDeps, workflow: Workflow | ((event: unknown) => Workflow), database = true): AnyMiddleware {
  const active = (request: AnyRequest): AnyMiddleware[] => (request.internal[ACTIVE] as AnyMiddleware[] | undefined) ?? [];
  return {
    async before(request: AnyRequest) {
      const deps = getDeps();
      const chosen = deps.middleware?.({ workflow: typeof workflow === 'function' ? workflow(request.event) : workflow, database }) ?? [];
      request.internal[ACTIVE] = chosen;
      for (const middleware of chosen) {
        const early = await middleware.before?.(request);
        if (early !== undefined) return early;
      }
      return undefined;
    },
    async after(request: AnyRequest) {
      for (const middleware of [...active(request)].reverse()) await middleware.after?.(request);
    },
    async onError(request: AnyRequest) {
      for (const middleware of [...active(request)].reverse()) await middleware.onError?.(request);
    },
  };
}

/** The workflow an unlock (shared failure path) belongs to, from its input. */
export function workflowOfInput(event: unknown): Workflow {
  const input = event && typeof event === 'object' ? (event as { input?: { from?: unknown } }).input : undefined;
  return input?.from === '0.14' ? 'migrate014' : 'migrate011';
}

export interface ObservabilityOptions {
  logger: Logger;
  metrics: Metrics;
  workflow: Workflow;
  /** Removes secret values (the database user, host, password) from a message. */
  redact: (text: string) => string;
}

/**
 * Lambda only: log keys (execution ARN, schema) for the invocation, the Workflow dimension, one EMF line at the end,
 * and on failure one error log (name and message, redacted) and the Errors metric.
 */
export function observability({ logger, metrics, workflow, redact }: ObservabilityOptions): AnyMiddleware {
  const keys = ['executionArn', 'schema'];
  return {
    before(request: AnyRequest) {
      const context = request.context as { awsRequestId?: string } | undefined;
      if (context?.awsRequestId) logger.addContext(request.context);
      logger.removeKeys(keys);
      logger.appendKeys(runKeys(request.event));
      metrics.addDimension(WORKFLOW_DIMENSION, workflow);
    },
    after() {
      publishMetrics(metrics);
      logger.removeKeys(keys);
    },
    onError(request: AnyRequest) {
      const error = request.error;
      // the error and its causes (a driver's message may quote the database user or host)
      let current: unknown = error;
      for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
        const clean = redact(current.message);
        if (clean !== current.message) current.message = clean;
        if (current.stack) current.stack = redact(current.stack);
        current = current.cause;
      }
      logger.error('invocation failed', { error: describeError(error) });
      metrics.addMetric(METRIC_NAMES.errors, MetricUnit.Count, 1);
      publishMetrics(metrics);
      logger.removeKeys(keys);
    },
  };
}
