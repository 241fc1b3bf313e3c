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
