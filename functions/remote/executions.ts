// Talking to a deployed migration: start an execution, read its state and history, fetch its report. Every
// function takes its clients, so the CLI decides how they retry and the tests can mock them. SDK errors leave here
// as RemoteCommandError with a message that says what to do.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
  type MapRunItemCounts,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { RemoteCommandError } from './errors.js';

export { RemoteCommandError };

export type ExecutionStatus = NonNullable<DescribeExecutionCommandOutput['status']>;

/** Statuses of an execution that has ended without succeeding. */
export const FAILED_STATUSES: ReadonlySet<string> = new Set<ExecutionStatus>(['FAILED', 'TIMED_OUT', 'ABORTED']);

const HISTORY_PAGE = 1000;

/** Parses execution input as the local runner takes it; only its being a JSON object is checked here (Validate checks the rest). */
export function parseExecutionInput(text: string, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RemoteCommandError(`${source} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    throw new RemoteCommandError(`${source} must be a JSON object (like {"from":"0.11","schema":...}), not ${kind}`);
  }
  return parsed as Record<string, unknown>;
}

export async function startExecution(
  sfn: SFNClient,
  request: { stateMachineArn: string; input: Record<string, unknown>; name?: string },
): Promise<{ executionArn: string; startDate?: Date }> {
  const { executionArn, startDate } = await call('states:StartExecution', request.stateMachineArn, () =>
    sfn.send(new StartExecutionCommand({ stateMachineArn: request.stateMachineArn, input: JSON.stringify(request.input), name: request.name })),
  );
  if (!executionArn) throw new RemoteCommandError(`StartExecution on ${request.stateMachineArn} answered without an execution ARN`);
  return { executionArn, startDate };
}

export async function describe(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  return call('states:DescribeExecution', executionArn, () => sfn.send(new DescribeExecutionCommand({ executionArn })));
}

/**
 * The execution's history, oldest first. With `afterId` (the last event already read), only the events after it:
 * read newest first and stopped there, so polling a long execution costs one page per poll, not the whole history.
 */
export async function readHistory(sfn: SFNClient, executionArn: string, afterId?: number): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  const reverseOrder = afterId !== undefined;
  let nextToken: string | undefined;
  do {
    const page = await call('states:GetExecutionHistory', executionArn, () =>
      sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: HISTORY_PAGE, nextToken, reverseOrder })),
    );
    for (const event of page.events ?? []) {
      if (reverseOrder && (event.id ?? 0) <= afterId) return events.reverse();
      events.push(event);
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return reverseOrder ? events.reverse() : events;
}

export interface MapRunSummary {
  mapRunArn: string;
  status?: string;
  itemCounts?: MapRunItemCounts;
}

/** DescribeMapRun for every Distributed Map run the history started. */
export async function mapRuns(sfn: SFNClient, events: readonly HistoryEvent[]): Promise<MapRunSummary[]> {
  const arns = events.flatMap((event) => (event.type === 'MapRunStarted' && event.mapRunStartedEventDetails?.mapRunArn ? [event.mapRunStartedEventDetails.mapRunArn] : []));
  const runs: MapRunSummary[] = [];
  for (const mapRunArn of arns) {
    const run = await call('states:DescribeMapRun', mapRunArn, () => sfn.send(new DescribeMapRunCommand({ mapRunArn })));
    runs.push({ mapRunArn, status: run.status, itemCounts: run.itemCounts });
  }
  return runs;
}

export type ReportResult =
  | { kind: 'report'; text: string; source: string }
  | { kind: 'failed'; status: ExecutionStatus; error?: string; cause?: string }
  | { kind: 'not-ended'; status: ExecutionStatus };

/**
 * The execution's report: its output, or the S3 object the output's `reportLocation` names (outputs too big for
 * Step Functions' 256 KiB limit go there); for a 0.14 plan cut to fit the state (`omitted`), the whole plan its
 * `planLocation` names.
 */
export async function fetchReport(sfn: SFNClient, s3: S3Client, executionArn: string): Promise<ReportResult> {
  const execution = await describe(sfn, executionArn);
  const status = execution.status ?? 'RUNNING';
  if (FAILED_STATUSES.has(status)) return { kind: 'failed', status, error: execution.error, cause: execution.cause };
  if (status !== 'SUCCEEDED') return { kind: 'not-ended', status };
  const output = execution.output ?? '';
  const location = reportLocationOf(output);
  if (!location) return { kind: 'report', text: output, source: 'execution output' };
  const url = `s3://${location.bucket}/${location.key}`;
  const object = await call('s3:GetObject', url, () => s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key })));
  if (!object.Body) throw new RemoteCommandError(`the report ${url} is empty`);
  return { kind: 'report', text: await object.Body.transformToString('utf-8'), source: url };
}

function reportLocationOf(output: string): { bucket: string; key: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    return undefined;
  }
  const named = parsed as { reportLocation?: unknown; plan?: { omitted?: unknown; planLocation?: unknown } } | null;
  const [field, location] = named?.plan?.omitted ? ['planLocation', named.plan.planLocation] : ['reportLocation', named?.reportLocation];
  if (typeof location !== 'string') return undefined;
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new RemoteCommandError(`the execution output's ${field} is not an s3://bucket/key URL: ${location}`);
  return { bucket: match[1], key: match[2] };
}

/** Runs one AWS call; its failure becomes a RemoteCommandError naming `resource` and, where it helps, `permission`. */
async function call<T>(permission: string, resource: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw new RemoteCommandError(explain(error, permission, resource), { cause: error });
  }
}

function explain(error: unknown, permission: string, resource: string): string {
  const { name = 'Error', message = String(error), $metadata } = error as { name?: string; message?: string; $metadata?: { attempts?: number } };
  switch (name) {
    case 'ExecutionDoesNotExist':
    case 'InvalidArn':
      return `no execution ${resource}; check the ARN and region`;
    case 'StateMachineDoesNotExist':
      return `no state machine ${resource}; check the ARN and region (is the stack deployed there?)`;
    case 'MapRunDoesNotExist':
    case 'ResourceNotFound':
      return `no map run ${resource}; check the ARN and region`;
    case 'AccessDeniedException':
    case 'AccessDenied':
      return `access denied: your AWS identity lacks ${permission} on ${resource}`;
    case 'NoSuchKey':
    case 'NoSuchBucket':
      return `the report ${resource} is not there (${name}); it may have been deleted or moved`;
    case 'ThrottlingException':
    case 'TooManyRequestsException':
    case 'SlowDown':
      return `AWS throttled ${permission} on ${resource}${$metadata?.attempts ? ` on all ${$metadata.attempts} attempts` : ''}; retry later`;
    case 'CredentialsProviderError':
      return `no AWS credentials found for ${permission}: set AWS_PROFILE or the AWS_* variables (${message})`;
    default:
      return `${permission} on ${resource} failed: ${name}: ${message}`;
  }
}
