import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProgressBars } from '../../functions/local/cli-output.js';

function drawn(events: Parameters<ProgressBars['report']>[0][]): string {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const bars = new ProgressBars({ hashing: true, stream });
  for (const event of events) bars.report(event);
  bars.stop();
  return text;
}

describe('progress bars', () => {
  it('counts rewritten rows against the planned rows and raises the total for rows written since the plan', () => {
    const text = drawn([
      { kind: 'planned', objects: 2, bytes: 10, rows: 5, columns: 1 },
      { kind: 'objects-hashed', objects: 2, bytes: 10 },
      { kind: 'rows-rewritten', table: 'trial', column: 'snippet', rows: 4 },
      { kind: 'rows-rewritten', table: 'trial', column: 'snippet', rows: 3 },
    ]);
    const last = text.trimEnd().split('\n').filter((line) => line.includes('rewrite')).at(-1);
    expect(last).toMatch(/\| 7\/7 rows trial\.snippet$/);
    expect(text).toMatch(/hash +\|.*\| 2\/2 objects 10 B/);
  });

  it('counts pointers built with no total up front', () => {
    const text = drawn([
      { kind: 'pointers-built', table: 't', column: 'c', pointers: 500 },
      { kind: 'pointers-built', table: 't', column: 'c', pointers: 200 },
    ]);
    expect(text).toMatch(/pointer \|.*\| 700\/700 pointers t\.c/);
  });
});
