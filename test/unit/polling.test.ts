import { describe, expect, it } from 'vitest';
import { looksWithin, MAX_POLL_SECONDS, nextPollSeconds } from '../../functions/core/polling.js';

describe('polling pauses', () => {
  it('grow by half from the minimum to 5 minutes, whatever the event carries', () => {
    expect(nextPollSeconds(0, 10)).toBe(10);
    expect(nextPollSeconds(undefined, 10)).toBe(10);
    expect(nextPollSeconds(10, 10)).toBe(15);
    expect(nextPollSeconds(15, 10)).toBe(23);
    expect(nextPollSeconds(250, 10)).toBe(MAX_POLL_SECONDS);
    expect(nextPollSeconds(MAX_POLL_SECONDS, 10)).toBe(MAX_POLL_SECONDS);
    // a minimum past the cap is the cap (the schema lock goes stale after 900 s without a heartbeat)
    expect(nextPollSeconds(0, 3600)).toBe(MAX_POLL_SECONDS);
    expect(nextPollSeconds('x', null)).toBe(10);
    expect(nextPollSeconds(-5, 60)).toBe(60);
  });

  it("keep a long wait's looks to a few hundred (a Standard execution fails at 25,000 history events, ~9 a look)", () => {
    let looks = 0;
    for (let waited = 0, pause = 0; waited < 14 * 3600; looks++) {
      pause = nextPollSeconds(pause, 10);
      waited += pause;
    }
    expect(looksWithin(14 * 3600, 10)).toBe(looks);
    expect(looks).toBeLessThan(200);
    // two tables waiting 14 hours at 10-second pauses would have taken 10,080 looks, ~90,000 events
    expect(looksWithin(37 * 3600, 60)).toBeLessThan(500);
    expect(looksWithin(0, 10)).toBe(0);
    expect(looksWithin(25, 10)).toBe(2);
  });
});
