// The small event details of each outcome (EventBridge entries stay far below 256 KB: counts, never whole plans).
import type { Plan } from '../../core/migrate011/plan.js';
import type { Report } from '../../core/migrate011/report.js';
import type { Plan014 } from '../../core/migrate014/plan.js';
import type { Report014 } from '../../core/migrate014/report.js';
import type { BatchReport } from '../batch/report.js';

type Detail = Record<string, unknown>;
const sum = <T>(items: readonly T[] | undefined, value: (item: T) => number): number => (items ?? []).reduce((total, item) => total + value(item), 0);
/** What every detail starts with: whose outcome it is, and where to look. */
const head = (schema: string | null, from: string, status: string, run: string | undefined, reportLocation?: string): Detail => ({
  schema,
  from,
  status,
  ...(run ? { executionArn: run } : {}),
  ...(reportLocation ? { reportLocation } : {}),
});

/**
 * What a 0.11 plan will work through: the `planned` progress event and the Plan Ready detail both carry it. Its rows
 * are every row of the columns' tables: the rewrite writes each (a NULL pointer too, from the temporary column's zeros).
 */
export function planCounts(plan: Plan): { objects: number; bytes: number; rows: number; columns: number } {
  return {
    objects: sum(plan.stores, (store) => store.objects),
    bytes: sum(plan.stores, (store) => store.bytes),
    rows: sum(plan.columns, (column) => column.rows),
    columns: plan.columns.length,
  };
}

/** The same for a 0.14 plan: its external columns in place, whose fill writes the rows with a pointer only. */
export function plan014Counts(plan: Plan014): { objects: number; bytes: number; rows: number; columns: number } {
  const columns = plan.inPlace?.external?.columns ?? [];
  return {
    objects: sum(columns, (column) => column.objects),
    bytes: sum(columns, (column) => column.bytes),
    rows: sum(columns, (column) => column.pointers),
    columns: columns.length,
  };
}

export function planSummary(plan: Plan, run: string | undefined): Detail {
  return {
    ...head(plan.schema, '0.11', plan.status, run),
    mode: plan.mode,
    ...planCounts(plan),
    problems: plan.problems.length,
  };
}

export function plan014Summary(plan: Plan014, run: string | undefined): Detail {
  return {
    ...head(plan.schema, '0.14', plan.status, run),
    strategy: plan.strategy,
    ...plan014Counts(plan),
    ...(plan.copy ? { tables: plan.copy.tables.length } : {}),
    problems: plan.problems.length,
  };
}

export function reportSummary(report: Report, run: string | undefined, reportLocation: string | undefined): Detail {
  return {
    ...head(report.schema, report.from, report.status, run, reportLocation),
    to: report.to,
    mode: report.mode,
    objects: sum(report.stores, (store) => store.objects),
    bytes: sum(report.stores, (store) => store.bytes),
    rowsRewritten: sum(report.columns, (column) => column.rowsRewritten),
    columns: report.columns.length,
  };
}

export function report014Summary(report: Report014, run: string | undefined, reportLocation: string | undefined): Detail {
  return {
    ...head(report.schema, report.from, report.status, run, reportLocation),
    to: report.to,
    strategy: report.strategy,
    ...(report.columns ? { columns: report.columns.length, rowsFilled: sum(report.columns, (column) => column.rowsFilled) } : {}),
    ...(report.tables ? { tables: report.tables.length, tablesMismatched: report.tables.filter((table) => !table.match).length } : {}),
    ...(report.dest ? { dest: report.dest } : {}),
    problems: report.problems.length,
  };
}

export function batchSummary(report: BatchReport, run: string | undefined, reportLocation: string | undefined): Detail {
  return {
    ...head(null, report.from, report.status, run, reportLocation),
    succeeded: report.succeeded,
    failed: report.failed,
    notStarted: report.notStarted,
    skipped: report.skipped,
  };
}
