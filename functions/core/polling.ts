// How long a polling loop of the workflow (a fill waiting for its objects to be hashed, an S3 Batch Operations job
// being watched) waits before it looks again: half as long again each time, from the loop's minimum up to
// MAX_POLL_SECONDS. A wait of many hours then takes a few hundred looks, not thousands: a Standard execution fails at
// 25,000 history events, about 9 a look (a fill waiting 14 hours with 10-second looks would take ~90,000).

/** The longest pause between two looks: well within the schema lock's 900 s, which the looks' calls keep beating. */
export const MAX_POLL_SECONDS = 300;
const GROWTH = 1.5;

/** The pause before the next look, given the one before it (0 or absent: none yet) and the loop's minimum. */
export function nextPollSeconds(previous: unknown, minimum: unknown): number {
  const floor = typeof minimum === 'number' && Number.isFinite(minimum) && minimum >= 1 ? Math.min(Math.ceil(minimum), MAX_POLL_SECONDS) : 10;
  const before = typeof previous === 'number' && Number.isFinite(previous) ? previous : 0;
  return Math.min(MAX_POLL_SECONDS, Math.max(floor, Math.ceil(before * GROWTH)));
}

/** What a look's call is given by its loop: the minimum pause and the pause before this look (0 or absent: none). */
export interface PollEvent {
  pollSeconds?: unknown;
  waitedSeconds?: unknown;
}

/** A look's result field `waitSeconds`: the pause before the next look while `waiting`, else 0. */
export function pauseAfter(waiting: boolean, event: PollEvent): number {
  return waiting ? nextPollSeconds(event.waitedSeconds, event.pollSeconds) : 0;
}

/** Looks a loop makes while it waits `seconds` (what the cost model counts). */
export function looksWithin(seconds: number, minimum: number): number {
  let looks = 0;
  let waited = 0;
  for (let pause = nextPollSeconds(0, minimum); waited < seconds; pause = nextPollSeconds(pause, minimum)) {
    // past the growth, the rest in steps of the longest pause
    if (pause === MAX_POLL_SECONDS) return looks + Math.ceil((seconds - waited) / MAX_POLL_SECONDS);
    waited += pause;
    looks++;
  }
  return looks;
}
