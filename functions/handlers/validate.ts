import middy from '@middy/core';
import { z } from 'zod';
import { MigrationRefusedError } from '../core/errors.js';
import { Migrate011InputSchema, type Migrate011Input } from '../core/migrate011/input.js';

/** First state: the execution input, checked and completed with defaults, or a refusal naming each bad field. */
export function validateInput(raw: unknown): Migrate011Input {
  const parsed = Migrate011InputSchema.safeParse(raw);
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

export function makeValidateHandler() {
  return middy(async (event: unknown) => ({ input: validateInput(event) }));
}

export const handler = makeValidateHandler();
