// The Report state of the 0.14 → 2.0 state machine: what was done and how it was checked, as one JSON document
// (the execution output, the CLI's report file).
import type { Connection } from 'mysql2/promise';
import { select, tableRef } from '../db/sql.js';
import type { BackupState } from './backup-step.js';
import { COLUMN_TABLE_014, hasJournal } from './external-storage.js';
import type { Migrate014Input } from './input.js';
import type { Plan014 } from './plan.js';
import type { InPlaceVerification } from './verify.js';

/** One table's comparison as the CompareTable state keeps it (the first discrepancies only). */
export interface TableComparison {
  table: string;
  match: boolean;
  rowCount: number;
  testRowCount: number;
  discrepancies: unknown[];
  /** Discrepancies found but left out to fit the execution's state (see comparisonWithin). */
  discrepanciesLeftOut?: number;
}

/**
 * Bytes every table's comparison together may take in the execution's state (256 KiB, beside the input, the plan
 * and the report's problem lines): a table gets an equal share, COMPARISON_BYTES of it for its own fields.
 */
const COMPARED_BYTES = 96 * 1024;
const COMPARISON_BYTES = 160;

/** The comparison with the first discrepancies that fit its share of the state when `tables` are compared; the rest counted. */
export function comparisonWithin(comparison: TableComparison, tables: number): TableComparison {
  let room = Math.floor(COMPARED_BYTES / Math.max(1, tables)) - COMPARISON_BYTES;
  const kept: unknown[] = [];
  for (const discrepancy of comparison.discrepancies) {
    room -= Buffer.byteLength(JSON.stringify(discrepancy)) + 1;
    if (room < 0) break;
    kept.push(discrepancy);
  }
  const leftOut = comparison.discrepancies.length - kept.length;
  return leftOut ? { ...comparison, discrepancies: kept, discrepanciesLeftOut: leftOut } : comparison;
}

export interface Report014 {
  schema: string;
  from: '0.14';
  to: '2.0';
  strategy: Migrate014Input['strategy'];
  status: 'migrated' | 'verify-failed' | 'copied' | 'compare-failed';
  steps?: Migrate014Input['steps'];
  backup: BackupState | null;
  /** in-place: rows converted per external column (from the journal). */
  columns?: { table: string; column: string; kind: string; store: string; rowsFilled: number }[];
  verification?: InPlaceVerification;
  /** copy: the destination and each table's comparison with the source. */
  dest?: string;
  tables?: TableComparison[];
  problems: string[];
  plan: Pick<Plan014, 'status' | 'problems'>;
  finishedAt: string;
}

/** What the Report state is given: the plan, and what the steps that ran left in `$.outcome`. */
export interface Report014Event {
  plan: Plan014;
  outcome: {
    backup: BackupState | null;
    verified: { Payload: InPlaceVerification | null } | null;
    compared: TableComparison[] | null;
  };
}

export async function buildReport014(conn: Connection, input: Migrate014Input, event: Report014Event): Promise<Report014> {
  const base = {
    schema: input.schema,
    from: '0.14' as const,
    to: '2.0' as const,
    strategy: input.strategy,
    backup: event.outcome.backup,
    plan: { status: event.plan.status, problems: event.plan.problems },
    finishedAt: new Date().toISOString(),
  };
  if (input.strategy === 'copy') {
    const tables = event.outcome.compared ?? [];
    const problems = tables
      .filter((t) => !t.match)
      .map((t) => {
        const shown = `${t.discrepancies.length} ${t.discrepancies.length === 1 ? 'discrepancy' : 'discrepancies'} shown${t.discrepanciesLeftOut ? `, ${t.discrepanciesLeftOut} more found` : ''}`;
        return `${input.dest}.${t.table} differs from ${input.schema}.${t.table} (${shown}; \`djmigrate compare --config … --prod ${input.schema} --test ${input.dest} --table ${t.table}\` lists them)`;
      });
    return { ...base, status: problems.length ? 'compare-failed' : 'copied', dest: input.dest, tables, problems };
  }
  const verification = event.outcome.verified?.Payload ?? undefined;
  const problems = verification?.problems ?? ['the run was not verified'];
  return { ...base, status: problems.length ? 'verify-failed' : 'migrated', steps: input.steps, columns: await convertedColumns(conn, input.schema), verification, problems };
}

async function convertedColumns(conn: Connection, schema: string): Promise<NonNullable<Report014['columns']>> {
  if (!(await hasJournal(conn, schema))) return [];
  const rows = await select<{ table_name: string; column_name: string; kind: string; store: string; rows_filled: number }>(
    conn,
    `SELECT table_name, column_name, kind, store, rows_filled FROM ${tableRef(schema, COLUMN_TABLE_014)} ORDER BY column_id`,
  );
  return rows.map((row) => ({ table: row.table_name, column: row.column_name, kind: row.kind, store: row.store, rowsFilled: Number(row.rows_filled) }));
}
