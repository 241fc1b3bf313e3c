// Human-readable plan and report for the terminal; the JSON forms are the machine-readable ones.
import type { RunEstimate } from '../core/migrate011/estimate.js';
import type { Plan } from '../core/migrate011/plan.js';
import { ASSUMED_014, type Estimate014 } from '../core/migrate014/estimate.js';
import type { Report } from '../core/migrate011/report.js';
import { entriesOf, type Plan014 } from '../core/migrate014/plan.js';
import type { Report014 } from '../core/migrate014/report.js';

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

/** The plan's last line: what the run would take and cost on AWS (either migration's estimate). */
function estimateLine(e: Pick<RunEstimate | Estimate014, 'seconds' | 'stateTransitions' | 'lambdaGbSeconds' | 'usd'> & { s3Requests: { get: number; head?: number; list: number; put: number } }, how = '', more = ''): string {
  const s3 = `S3 ${e.s3Requests.get} GET${e.s3Requests.head !== undefined ? ` / ${e.s3Requests.head} HEAD` : ''} / ${e.s3Requests.list} LIST / ${e.s3Requests.put} PUT`;
  return (
    `Estimated on AWS: about ${e.seconds} s; ${how}${e.stateTransitions} state transitions, ${e.lambdaGbSeconds} Lambda GB-s, ${s3} ≈ $${e.usd.total.toFixed(2)} ` +
    `(Step Functions $${e.usd.stepFunctions.toFixed(2)}, Lambda $${e.usd.lambda.toFixed(2)}, S3 $${e.usd.s3.toFixed(2)}${more}; us-east-1 list prices, README "Cost")`
  );
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
      ['table.column', 'type', '→ store', 'nullable', 'rows', 'pointers', 'temporary column'],
      plan.columns.map((c) => [`${c.table}.${c.column}`, c.legacyType, c.store, c.nullable ? 'yes' : 'no', c.rows, c.pointers, c.tempColumn]),
    ));
    if (plan.rebuildBytes) {
      lines.push(`Tables rebuilt online to add their temporary columns: ${formatBytes(plan.rebuildBytes)} of data and indexes; the server needs that much free storage while it runs.`);
    }
  }
  if (plan.alreadyMigrated.length) lines.push('', `Already 0.12: ${plan.alreadyMigrated.map((c) => `${c.table}.${c.column} (blob@${c.store})`).join(', ')}`);
  if (plan.problems.length) lines.push('', 'Problems (nothing will be changed until they are fixed):', ...plan.problems.map((p) => `  - ${p}`));
  if (plan.trustEtag) {
    lines.push('', 'Contents hashes: from the S3 listing where an ETag is a plain MD5 (16 objects per store are read to check it); those objects are not checked against their legacy SHA-256. File stores and other objects are read as usual.');
  }
  if (plan.s3BatchChecksum) {
    lines.push('', 'Contents hashes: S3 objects\' MD5s from an S3 Batch Operations Compute checksum job (16 objects are read to check them); those objects are not checked against their legacy SHA-256. File stores and objects the job fails on are read as usual.');
  }
  if (plan.status === 'ready') {
    lines.push('', 'While it runs: no 0.11 writers, and no 0.12 external cleanup (schema.external[store].delete()) on this schema until it has finished.');
  }
  const e = plan.estimate;
  lines.push(
    '',
    estimateLine(
      e,
      e.children ? `hashed by ${e.children} Distributed Map children; ` : '',
      e.usd.batchOperations ? `, S3 Batch Operations $${e.usd.batchOperations.toFixed(2)} without the checksum's own data charge` : '',
    ),
  );
  if (e.listing.passes > 1) {
    lines.push(`The largest store is listed in ${e.listing.passes} passes of at most ${e.listing.passObjects.toLocaleString('en-US')} objects (listingPassObjects), its database rows read once per pass.`);
  }
  if (e.listing.gb > e.listing.functionGb) {
    lines.push(
      `On AWS Inspect and Verify would need about ${e.listing.gb} GB for a pass over the largest store's listing, more than their functions' ${e.listing.functionGb} GB: lower listingPassObjects (now ${e.listing.passObjects.toLocaleString('en-US')}) to list it in more passes, or run this schema locally (README "Where one call is the limit").`,
    );
  }
  return lines.join('\n');
}

export function formatReport(report: Report): string {
  const lines = [
    `Schema ${report.schema}: ${report.status === 'migrated' ? 'migrated to DataJoint 0.12 and verified' : 'VERIFICATION FAILED'} (mode ${report.mode}); ~external ${report.legacyTable}`,
    '',
    table(
      ['store', 'objects', 'bytes', 'hash from ETag', ...(report.s3BatchChecksum ? ['hash from S3 Batch'] : [])],
      report.stores.map((s) => [s.store, s.objects, formatBytes(s.bytes), s.fromEtag, ...(report.s3BatchChecksum ? [s.fromS3Batch] : [])]),
    ),
    '',
    table(
      ['table.column', 'store', 'rows', 'pointers', 'rewritten', 'objects', 'missing', 'mismatched', 'verified'],
      report.columns.map((c) => [`${c.table}.${c.column}`, c.store, c.rows, c.pointers, c.rowsRewritten, c.objects, c.objectsMissing, c.objectsMismatched, c.ok ? 'ok' : 'FAILED']),
    ),
  ];
  for (const column of report.columns) for (const problem of column.problems) lines.push(`  - ${problem}`);
  return lines.join('\n');
}

export function formatPlan014(plan: Plan014): string {
  const lines = [`Plan for schema ${plan.schema} (0.14 → 2.0, strategy ${plan.strategy})`, `Status: ${plan.status}`];
  const entries = (path: string, kept: readonly unknown[] | undefined) => entriesOf(plan, path, kept);
  /** "… and N more" under a list the plan was cut at. */
  const more = (path: string) => (plan.omitted?.[path] ? [`  … and ${plan.omitted[path]} more`] : []);
  const moreInline = (path: string) => (plan.omitted?.[path] ? `, … and ${plan.omitted[path]} more` : '');
  const inPlace = plan.inPlace;
  if (inPlace) {
    lines.push(`Steps: ${inPlace.steps.join(', ')}`);
    if (inPlace.comments) {
      lines.push('', `update_blob_comments: ${entries('inPlace.comments.changes', inPlace.comments.changes)} column(s) get a core-type marker, ${entries('inPlace.comments.skipped', inPlace.comments.skipped)} left unmarked`);
      if (inPlace.comments.changes.length) {
        lines.push(table(['table.column', 'type', 'marker'], inPlace.comments.changes.map((c) => [`${c.table}.${c.column}`, c.columnType, `:${c.marker}:`])));
        lines.push(...more('inPlace.comments.changes'));
      }
      for (const skipped of inPlace.comments.skipped) lines.push(`  - ${skipped.table}.${skipped.column}: ${skipped.note}`);
      lines.push(...more('inPlace.comments.skipped'));
    }
    if (inPlace.external) {
      lines.push('', `migrate_external_storage: ${entries('inPlace.external.columns', inPlace.external.columns)} column(s) to convert to 2.x JSON pointers`);
      if (inPlace.external.columns.length) {
        lines.push(table(
          ['table.column', 'kind', 'store → 2.x', 'rows', 'pointers', 'objects', 'bytes'],
          inPlace.external.columns.map((c) => [`${c.table}.${c.column}`, c.kind, `${c.store} → ${c.targetStore}`, c.rows, c.pointers, c.objects, formatBytes(c.bytes)]),
        ));
        lines.push(...more('inPlace.external.columns'));
        const byKey = inPlace.external.columns.filter((c) => c.rows >= ASSUMED_014.verifyKeyPagesFromRows);
        if (byKey.length) {
          const names = byKey.map((c) => `${c.table}.${c.column}`).join(', ');
          lines.push(`Verify reads ${names} (${ASSUMED_014.verifyKeyPagesFromRows.toLocaleString('en-US')} rows or more) in primary-key pages: a HEAD for nearly each of its S3 objects.`);
        }
      }
      if (inPlace.external.migrated.length) lines.push(`Already 2.x: ${inPlace.external.migrated.map((c) => `${c.table}.${c.column}`).join(', ')}${moreInline('inPlace.external.migrated')}`);
    }
    if (inPlace.lineage) {
      lines.push('', `add_lineage_table: ~lineage ${inPlace.lineage.tableExists ? 'exists' : 'will be created'}; ${entries('inPlace.lineage.changes', inPlace.lineage.changes)} row(s) to write, ${entries('inPlace.lineage.stale', inPlace.lineage.stale)} stale`);
    }
  }
  if (plan.copy) {
    const tables = plan.copy.tables.join(', ') || '(none)';
    lines.push('', `Copy ${plan.copy.source} → ${plan.copy.dest}, tables in this order: ${tables}${moreInline('copy.tables')}`);
    for (const { table, column, parts } of plan.copy.parts) lines.push(`${table} is copied in ${parts} parts side by side (ranges of ${column})`);
    if (plan.copy.declare) lines.push(`The destination is declared first (${plan.copy.declare.tables} tables; existing kept: ${plan.copy.declare.existing.join(', ') || 'none'}${moreInline('copy.declare.existing')})`);
  }
  if (plan.problems.length) lines.push('', 'Problems (nothing will be changed until they are fixed):', ...plan.problems.map((p) => `  - ${p}`), ...more('problems'));
  if (plan.estimate) lines.push('', estimateLine(plan.estimate));
  if (plan.omitted) {
    const where = plan.planLocation ? `the whole plan is in ${plan.planLocation}` : 'give --plan-file to write the whole plan';
    lines.push('', `This plan is long: each of its lists shows its first entries only; ${where}.`);
  }
  return lines.join('\n');
}

export function formatReport014(report: Report014): string {
  const headline: Record<Report014['status'], string> = {
    migrated: 'migrated to DataJoint 2.0 in place and verified',
    'verify-failed': 'VERIFICATION FAILED',
    copied: `copied into ${report.dest} and compared: every table matches`,
    'compare-failed': `copied into ${report.dest}, but the comparison FOUND DIFFERENCES`,
  };
  const lines = [`Schema ${report.schema}: ${headline[report.status]}`];
  if (report.backup) lines.push(`Backup: ${report.backup.kind} ${report.backup.id}${report.backup.reused ? ' (taken by an earlier run today)' : ''}`);
  if (report.columns?.length) {
    lines.push('', table(['table.column', 'kind', 'store', 'rows converted'], report.columns.map((c) => [`${c.table}.${c.column}`, c.kind, c.store, c.rowsFilled])));
  }
  if (report.tables?.length) {
    lines.push('', table(['table', 'rows', 'rows in copy', 'match'], report.tables.map((t) => [t.table, t.rowCount, t.testRowCount, t.match ? 'yes' : 'NO'])));
  }
  for (const problem of report.problems) lines.push(`  - ${problem}`);
  return lines.join('\n');
}
