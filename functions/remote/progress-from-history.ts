// Progress of a deployed migration, read from its Step Functions execution history. The state names of the
// workflows (lib/workflows) are the API here: each handler's Lambda result is in its TaskSucceeded event.
import type { HistoryEvent } from '@aws-sdk/client-sfn';

export interface RemoteProgress {
  /** Derived from the execution's closing event, if the history has one; DescribeExecution is authoritative. */
  status?: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  objectsHashed: number;
  bytesHashed: number;
  rowsRewritten: number;
  columnsDone: number;
  rowsCopied: number;
  tablesDone: number;
  /** From the Inspect (0.11) or Plan (0.14) result, when the execution got that far. */
  totals: { objects?: number; bytes?: number; rows?: number; columns?: number };
  failures: number;
  lastError?: { error: string; cause: string };
  /** The state entered last (with Maps running iterations at once, one of those running). */
  currentState?: string;
}

const CLOSING_STATUS = {
  ExecutionStarted: 'RUNNING',
  ExecutionSucceeded: 'SUCCEEDED',
  ExecutionFailed: 'FAILED',
  ExecutionTimedOut: 'TIMED_OUT',
  ExecutionAborted: 'ABORTED',
} as const satisfies Partial<Record<string, RemoteProgress['status']>>;

/** Events that count as failures, with where their error and cause are (MapIterationFailed carries none). */
const FAILURE_DETAILS: Partial<Record<string, (event: HistoryEvent) => { error?: string; cause?: string } | undefined>> = {
  TaskFailed: (event) => event.taskFailedEventDetails,
  TaskTimedOut: (event) => event.taskTimedOutEventDetails,
  LambdaFunctionFailed: (event) => event.lambdaFunctionFailedEventDetails,
  LambdaFunctionTimedOut: (event) => event.lambdaFunctionTimedOutEventDetails,
  ExecutionFailed: (event) => event.executionFailedEventDetails,
  ExecutionTimedOut: (event) => event.executionTimedOutEventDetails,
  MapIterationFailed: () => undefined,
  MapRunFailed: (event) => event.mapRunFailedEventDetails,
};

// How far back a TaskSucceeded may be from its TaskStateEntered (Scheduled, Started, and retries in between).
const MAX_WALK_BACK = 100;

export function progressFromHistory(events: readonly HistoryEvent[]): RemoteProgress {
  const progress: RemoteProgress = {
    objectsHashed: 0,
    bytesHashed: 0,
    rowsRewritten: 0,
    columnsDone: 0,
    rowsCopied: 0,
    tablesDone: 0,
    totals: {},
    failures: 0,
  };
  const byId = new Map(events.map((event) => [event.id, event]));
  for (const event of events) {
    const type = event.type ?? '';
    if (Object.hasOwn(CLOSING_STATUS, type)) progress.status = CLOSING_STATUS[type as keyof typeof CLOSING_STATUS];
    if (type.endsWith('StateEntered') && event.stateEnteredEventDetails?.name) progress.currentState = event.stateEnteredEventDetails.name;
    const failure = Object.hasOwn(FAILURE_DETAILS, type) ? FAILURE_DETAILS[type] : undefined;
    if (failure) {
      progress.failures += 1;
      const details = failure(event);
      if (details?.error || details?.cause) progress.lastError = { error: details.error ?? '', cause: details.cause ?? '' };
    }
    if (type === 'TaskSucceeded') {
      const state = taskStateOf(event, byId);
      const payload = state && lambdaPayload(event.taskSucceededEventDetails?.output);
      if (state && payload) addResult(progress, state, payload);
    }
  }
  return progress;
}

/** The name of the Task state a TaskSucceeded belongs to: its chain of previous events leads to the TaskStateEntered. */
function taskStateOf(event: HistoryEvent, byId: ReadonlyMap<number | undefined, HistoryEvent>): string | undefined {
  let current: HistoryEvent | undefined = event;
  for (let step = 0; current && step < MAX_WALK_BACK; step += 1) {
    if (current.type === 'TaskStateEntered') return current.stateEnteredEventDetails?.name;
    current = current.previousEventId === undefined ? undefined : byId.get(current.previousEventId);
  }
  return undefined;
}

type Payload = Record<string, unknown>;

/** The handler's result inside the Lambda Invoke response; tolerates a task that returns the result itself. */
function lambdaPayload(output: string | undefined): Payload | undefined {
  if (!output) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(output);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  return isObject(parsed.Payload) ? parsed.Payload : parsed;
}

function addResult(progress: RemoteProgress, state: string, payload: Payload): void {
  switch (state) {
    case 'HashBatch':
      progress.objectsHashed += numberOr0(payload.objects);
      progress.bytesHashed += numberOr0(payload.bytes);
      break;
    case 'RewriteColumn':
    case 'MigrateColumn':
      progress.rowsRewritten += numberOr0(payload.rows);
      if (payload.done === true) progress.columnsDone += 1;
      break;
    case 'CopyTable':
      progress.rowsCopied += numberOr0(payload.rows);
      if (payload.done === true) progress.tablesDone += 1;
      break;
    case 'Inspect':
    case 'Plan':
      progress.totals = totalsOf(isObject(payload.plan) ? payload.plan : payload);
      break;
  }
}

/** Totals from a plan: objects and bytes per store, rows to rewrite (pointers) per column. Absent fields stay absent. */
function totalsOf(plan: Payload): RemoteProgress['totals'] {
  const totals: RemoteProgress['totals'] = {};
  const stores = Array.isArray(plan.stores) ? plan.stores.filter(isObject) : undefined;
  if (stores?.some((store) => typeof store.objects === 'number')) totals.objects = sum(stores.map((store) => store.objects));
  if (stores?.some((store) => typeof store.bytes === 'number')) totals.bytes = sum(stores.map((store) => store.bytes));
  const columns = Array.isArray(plan.columns) ? plan.columns.filter(isObject) : undefined;
  if (columns) {
    totals.columns = columns.length;
    if (columns.some((column) => typeof column.pointers === 'number')) totals.rows = sum(columns.map((column) => column.pointers));
  }
  return totals;
}

function isObject(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function sum(values: unknown[]): number {
  return values.reduce<number>((total, value) => total + numberOr0(value), 0);
}
