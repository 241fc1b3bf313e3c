import { describe, expect, it } from 'vitest';
import { CallBudget, forEachWithin } from '../../functions/core/call-budget.js';

describe('CallBudget (a call of a phase that works in calls)', () => {
  it('is not spent before something was done, even at its deadline: every call makes progress', () => {
    const budget = new CallBudget(0);
    expect(budget.spent()).toBe(false);
    budget.used();
    expect(budget.spent()).toBe(true);
  });

  it('is not spent before its deadline, nor ever without a budget', async () => {
    const long = new CallBudget(60_000);
    long.used();
    expect(long.spent()).toBe(false);
    const unlimited = new CallBudget();
    unlimited.used();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(unlimited.spent()).toBe(false);
  });
});

describe('forEachWithin (object checks in a call)', () => {
  const items = Array.from({ length: 20 }, (_, i) => i);

  it('with a zero budget starts one item at a time per slot: one slot, one item', async () => {
    const done: number[] = [];
    expect(await forEachWithin(items, new CallBudget(0), 1, async (i) => void done.push(i))).toBe(1);
    expect(done).toEqual([0]);
  });

  it('without a budget does every item, at most `concurrency` at once, and what it started is a prefix', async () => {
    let running = 0;
    let most = 0;
    const done = new Set<number>();
    const started = await forEachWithin(items, new CallBudget(), 4, async (i) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, (i * 7) % 5));
      done.add(i);
      running -= 1;
    });
    expect(started).toBe(20);
    expect(done.size).toBe(20);
    expect(most).toBe(4);
  });

  it('stops starting once the budget is spent and waits for what it started: those are the first items', async () => {
    const done = new Set<number>();
    const started = await forEachWithin(items, new CallBudget(15), 3, async (i) => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      done.add(i);
    });
    expect(started).toBeGreaterThanOrEqual(3);
    expect(started).toBeLessThan(20);
    expect([...done].sort((a, b) => a - b)).toEqual(items.slice(0, started));
  });
});
