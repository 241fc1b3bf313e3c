import { z } from 'zod';

const ColumnIdSchema = z.coerce.number().int().positive();
/**
 * One table's columns (journal ids, Prepare's `tableColumns[i]`), worked on in turn; or `column`, one id, as
 * executions started before the fills and rewrites took a table's columns pass it (a deploy while such an execution
 * runs must not fail it).
 */
const TableColumnsEventSchema = z.union([
  z.object({ columns: z.array(ColumnIdSchema).nonempty() }),
  z.object({ column: ColumnIdSchema }).transform(({ column }) => ({ columns: [column] })),
]);

/** The column ids a fill, rewrite or 0.14 column event names. */
export function tableColumnsOf(event: unknown, phase: 'fill' | 'rewrite' | 'migrateColumn014'): number[] {
  const parsed = TableColumnsEventSchema.safeParse(event);
  if (!parsed.success) throw new Error(`a ${phase} event names its table's columns as "columns" (journal ids, e.g. [3, 4]); got ${JSON.stringify(event)}`);
  return parsed.data.columns;
}
