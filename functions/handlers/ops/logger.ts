// The one structured logger of a Lambda instance (Powertools): JSON lines carrying the execution ARN and the schema.
import { Logger } from '@aws-lambda-powertools/logger';

export const SERVICE_NAME = 'djmigrate';

export function createLogger(): Logger {
  return new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME });
}

/** The keys every log line of one invocation carries: the run (`$$.Execution.Id`) and the schema, when the event has them. */
export function runKeys(event: unknown): { executionArn?: string; schema?: string } {
  if (!event || typeof event !== 'object') return {};
  const { run, input } = event as { run?: unknown; input?: unknown };
  const schema = input && typeof input === 'object' ? (input as { schema?: unknown }).schema : undefined;
  return {
    ...(typeof run === 'string' && run ? { executionArn: run } : {}),
    ...(typeof schema === 'string' && schema ? { schema } : {}),
  };
}

/** Name and message only: no stack, no cause (a driver's cause may quote the database user or host). */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}
