// EventBridge notifications of a migration's outcome: small summaries (never whole plans or reports), best effort.
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Logger } from '@aws-lambda-powertools/logger';
import { describeError } from './logger.js';

export const EVENT_BUS_ENV = 'DJMIGRATE_EVENT_BUS';
export const EVENT_SOURCE = 'djmigrate';
export const DETAIL_TYPES = {
  planReady: 'DataJoint Migration Plan Ready',
  succeeded: 'DataJoint Migration Succeeded',
  failed: 'DataJoint Migration Failed',
} as const;
export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** EventBridge's limit is 256 KB per entry; a summary never comes close, this is the guard. */
const MAX_DETAIL_CHARS = 200_000;

export interface EventPublisher {
  /** Never throws: a notification that cannot be sent is logged, the migration goes on. */
  publish(detailType: DetailType, detail: Record<string, unknown>): Promise<void>;
}

export const noEvents: EventPublisher = {
  async publish() {},
};

export function eventBridgePublisher(client: Pick<EventBridgeClient, 'send'>, busName: string, logger: Pick<Logger, 'warn'>): EventPublisher {
  return {
    async publish(detailType, detail) {
      let text = JSON.stringify(detail);
      if (text.length > MAX_DETAIL_CHARS) {
        const { schema, from, status, executionArn, reportLocation } = detail;
        text = JSON.stringify({ schema, from, status, executionArn, reportLocation, truncated: true });
      }
      try {
        const response = await client.send(
          new PutEventsCommand({ Entries: [{ EventBusName: busName, Source: EVENT_SOURCE, DetailType: detailType, Detail: text }] }),
        );
        if (response.FailedEntryCount) {
          const entry = response.Entries?.find((item) => item.ErrorCode);
          logger.warn('event not published', { detailType, errorCode: entry?.ErrorCode, errorMessage: entry?.ErrorMessage });
        }
      } catch (error) {
        logger.warn('event not published', { detailType, error: describeError(error) });
      }
    },
  };
}

const MAX_CAUSE = 1000;

/** `failure` as Step Functions catches it ({Error, Cause}), shortened for an event. */
export function failureSummary(failure: { Error?: string; Cause?: string } | undefined): { error?: string; cause?: string } {
  if (!failure) return {};
  let cause = failure.Cause;
  if (cause) {
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      if (parsed && typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
    } catch {
      // not a Lambda error payload: as it is
    }
    if (cause.length > MAX_CAUSE) cause = `${cause.slice(0, MAX_CAUSE)}…`;
  }
  return { ...(failure.Error ? { error: failure.Error } : {}), ...(cause ? { cause } : {}) };
}
