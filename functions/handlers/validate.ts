import middy from '@middy/core';
import type { z } from 'zod';
import { MigrationRefusedError } from '../core/errors.js';
import { Migrate011InputSchema } from '../core/migrate011/input.js';

/** First state: the execution input, checked and completed with defaults, or a refusal naming each bad field. */
export function validateInput<Output = z.infer<typeof Migrate011InputSchema>>(
  raw: unknown,
  schema: z.ZodType<Output, unknown> = Migrate011InputSchema as unknown as z.ZodType<Output, unknown>,
): Output {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new MigrationRefusedError(
    'the execution input is not valid; fix these fields:',
    parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${describeIssue(issue)}`),
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const secret = issue.keys.some((key) => /key|secret|password|token/i.test(key));
    return `unknown field(s) ${issue.keys.join(', ')}${secret ? ' (credentials never go into the execution input: the Lambda role and the database secret provide them)' : ''}`;
  }
  return issue.message;
}

export function makeValidateHandler(schema: z.ZodType<unknown, unknown> = Migrate011InputSchema) {
  return middy(async (event: unknown) => ({ input: validateInput(event, schema) }));
}

export const handler = makeValidateHandler();
