/**
 * The time one call of a phase that works in calls may spend. It stops only once it has done something, so every call
 * makes progress whatever its budget.
 */
export class CallBudget {
  private readonly deadline: number;
  private worked = false;

  /** `budgetMs` undefined: no limit (the call goes to the end). */
  constructor(budgetMs?: number) {
    this.deadline = Date.now() + (budgetMs ?? Infinity);
  }

  /** Something was done. */
  used(): void {
    this.worked = true;
  }

  /** Time to stop: at or past the deadline (a zero budget: after every unit of work), once something was done. */
  spent(): boolean {
    return this.worked && Date.now() >= this.deadline;
  }
}

/**
 * Runs `work` on the items in order, at most `concurrency` at once, starting no new one once the budget is spent, and
 * waits for every one started. Returns how many were started: always a prefix of the items, so a checkpoint can say
 * "up to here" however the work interleaved.
 */
export async function forEachWithin<T>(items: readonly T[], budget: CallBudget, concurrency: number, work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !budget.spent()) {
      await work(items[next++]);
      budget.used();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return next;
}
