// Human-readable plan and report for the terminal; the JSON forms are the machine-readable ones.
import type { Plan } from '../core/migrate011/plan.js';
import type { Report } from '../core/migrate011/report.js';

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => `  ${row.map((cell, i) => cell.padEnd(widths[i])).join('  ')}`.trimEnd()).join('\n');
}

export function formatPlan(plan: Plan): string {
  const lines = [
    `Plan for schema ${plan.schema} (0.11 → 0.12, mode ${plan.mode}, plain "external" → store "${plan.defaultStore}")`,
    `Status: ${plan.status}; ~external is ${plan.legacyTable}${plan.keepLegacy ? ' (will be kept as ~djmigrate_legacy_external)' : ''}`,
  ];
  if (plan.stores.length) {
    lines.push('', 'Stores:', table(
      ['store', '0.11 key', 'location', 'columns', 'pointers', 'objects', 'bytes', 'missing', 'wrong size'],
      plan.stores.map((s) => [s.store, s.legacyConfigKey, s.location, s.columns, s.pointers, s.objects, formatBytes(s.bytes), s.missingObjects, s.sizeMismatches]),
    ));
    lines.push('', 'Columns:', table(
      ['table.column', 'type', '→ store', 'nullable', 'rows', 'pointers'],
      plan.columns.map((c) => [`${c.table}.${c.column}`, c.legacyType, c.store, c.nullable ? 'yes' : 'no', c.rows, c.pointers]),
    ));
  }
  if (plan.alreadyMigrated.length) lines.push('', `Already 0.12: ${plan.alreadyMigrated.map((c) => `${c.table}.${c.column} (blob@${c.store})`).join(', ')}`);
  if (plan.problems.length) lines.push('', 'Problems (nothing will be changed until they are fixed):', ...plan.problems.map((p) => `  - ${p}`));
  lines.push('', `Estimated time: about ${plan.estimatedSeconds} s`);
  return lines.join('\n');
}

export function formatReport(report: Report): string {
  const lines = [
    `Schema ${report.schema}: ${report.status === 'migrated' ? 'migrated to DataJoint 0.12 and verified' : 'VERIFICATION FAILED'} (mode ${report.mode}); ~external ${report.legacyTable}`,
    '',
    table(['store', 'objects', 'bytes'], report.stores.map((s) => [s.store, s.objects, formatBytes(s.bytes)])),
    '',
    table(
      ['table.column', 'store', 'rows', 'pointers', 'rewritten', 'objects', 'missing', 'mismatched', 'verified'],
      report.columns.map((c) => [`${c.table}.${c.column}`, c.store, c.rows, c.pointers, c.rowsRewritten, c.objects, c.objectsMissing, c.objectsMismatched, c.ok ? 'ok' : 'FAILED']),
    ),
  ];
  for (const column of report.columns) for (const problem of column.problems) lines.push(`  - ${problem}`);
  return lines.join('\n');
}
