// A table's columns worked on one after another, in calls of a bounded time: tables go side by side (a Map over
// them), a table's own columns never at once (two ALTERs or fills of one table would wait on each other's locks).

/**
 * `step` on each column until it reports done, each with what is left of the budget (a later column gets a step at
 * least). The progress returned is the current column's.
 */
export async function columnsInTurn<Progress extends { done: boolean }>(
  columnIds: readonly number[],
  budgetMs: number,
  step: (columnId: number, budgetMs: number) => Promise<Progress>,
): Promise<Progress> {
  const started = Date.now();
  let last: Progress | null = null;
  for (const columnId of columnIds) {
    last = await step(columnId, budgetMs - (Date.now() - started));
    if (!last.done) return last;
  }
  if (!last) throw new Error('a table needs at least one column id');
  return last;
}
