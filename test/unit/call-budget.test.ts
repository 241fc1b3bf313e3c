import { describe, expect, it } from 'vitest';
import { CallBudget } from '../../functions/core/call-budget.js';

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
