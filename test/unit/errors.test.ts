// A refusal's message: what was wrong, with a bounded number of details (Step Functions keeps 32 KB of a cause).
import { expect, it } from 'vitest';
import { MigrationRefusedError, REFUSAL_DETAILS_SHOWN } from '../../functions/core/errors.js';

it('shows every detail of a short refusal, the first ones and a count of the rest of a long one', () => {
  expect(new MigrationRefusedError('schema lab cannot be migrated:', ['a is missing', 'b is too big']).message).toBe('schema lab cannot be migrated:\n  - a is missing\n  - b is too big');
  const details = Array.from({ length: 5000 }, (_, i) => `object ${i} does not match its legacy hash`);
  const refusal = new MigrationRefusedError('5000 object(s) of batch 3 failed verification; nothing was rewritten:', details);
  const lines = refusal.message.split('\n');
  expect(lines).toHaveLength(1 + REFUSAL_DETAILS_SHOWN + 1);
  expect(lines[1]).toBe('  - object 0 does not match its legacy hash');
  expect(lines.at(-1)).toBe(`  (and ${5000 - REFUSAL_DETAILS_SHOWN} more)`);
  expect(refusal.details).toHaveLength(5000);
});
