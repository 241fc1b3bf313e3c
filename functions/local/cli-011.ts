// The 0.11 → 0.12 `plan` and `run` of `djmigrate`: the synthesized state machine run locally, with progress bars,
// the human summary, the JSON report and phase timings; and `discard-fills`, which calls the core directly.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { requireSchema } from '../core/db/sql.js';
import { MigrationRefusedError } from '../core/errors.js';
import { acquireSchemaLock, releaseSchemaLock } from '../core/lock/schema-lock.js';
import { COLUMN_TABLE, journalExists } from '../core/migrate011/journal.js';
import type { Plan } from '../core/migrate011/plan.js';
import type { Report } from '../core/migrate011/report.js';
import { discardFills } from '../core/migrate011/rewrite.js';
import { silentProgress, type ProgressSink } from '../core/progress.js';
import { LOCK_STALE_AFTER_SECONDS } from '../handlers/run-lock.js';
import { fail, PhaseClock, ProgressBars } from './cli-output.js';
import { formatBytes, formatPlan, formatReport } from './format.js';
import { migrateLocally, type LocalMigrationOptions } from './migrate.js';
import { withDatabase } from './cli-014.js';

export interface CommonFlags {
  from: string;
  config: string;
  schema: string;
  defaultStore: string;
  mode: 'in-place' | 'native';
  json?: boolean;
  trustEtag?: boolean;
  distributedFrom?: number;
  listingPassObjects?: number;
}

export interface RunFlags extends CommonFlags {
  keepLegacy?: boolean;
  takeOverLock?: boolean;
  verifyContents?: boolean;
  report?: string;
}

function migrationOptions(flags: CommonFlags, execute: boolean, progress: ProgressSink, keepLegacy = false): LocalMigrationOptions {
  return {
    configPath: flags.config,
    schema: flags.schema,
    defaultStore: flags.defaultStore,
    mode: flags.mode,
    keepLegacy,
    execute,
    progress,
    trustEtag: flags.trustEtag,
    ...(flags.distributedFrom !== undefined ? { distributedHashingFrom: flags.distributedFrom } : {}),
    ...(flags.listingPassObjects !== undefined ? { listingPassObjects: flags.listingPassObjects } : {}),
  };
}

export async function plan011(flags: CommonFlags): Promise<number> {
  const result = await migrateLocally(migrationOptions(flags, false, silentProgress));
  if (result.status === 'FAILED') return fail(result.error);
  const { plan } = result.output as { plan: Plan };
  console.log(flags.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
  return plan.status === 'refused' ? 1 : 0;
}

export async function run011(flags: RunFlags): Promise<number> {
  const bars = flags.json ? null : new ProgressBars();
  const clock = new PhaseClock(MIGRATE_011_PHASES);
  const result = await migrateLocally({
    ...migrationOptions(flags, true, bars ?? silentProgress, flags.keepLegacy ?? false),
    verifyContents: flags.verifyContents,
    takeOverLock: flags.takeOverLock,
    ...clock.listeners(),
  }).finally(() => bars?.stop());
  if (result.status === 'FAILED') return fail(result.error);
  const report = { ...(result.output as Report), timings: timingsOf(result.output as Report, clock.seconds()) };
  const path = flags.report ?? `djmigrate-report-${flags.schema}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.json`;
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(flags.json ? JSON.stringify(report, null, 2) : `${formatReport(report)}\n\n${formatTimings(report.timings)}\nReport written to ${path}`);
  return report.status === 'migrated' ? 0 : 1;
}

/** The 0.11 workflow's phases as the local run times them (HashAndFill spans the hashing and fill phases inside it). */
export const MIGRATE_011_PHASES = new Set([
  'Validate', 'Inspect', 'Prepare', 'HashAndFill', 'HashManifest', 'HashManifestChildren', 'PendingBatches', 'HashObjects', 'FillTables', 'InsertRows', 'RewriteColumns', 'Finish', 'Verify', 'Report',
]);

/** Locally the Distributed Map runs as HashManifest (its manifest reader) and HashManifestChildren, then the standard pass. */
export function hashingSeconds(phaseSeconds: Record<string, number>): number {
  return ['HashManifest', 'HashManifestChildren', 'PendingBatches', 'HashObjects'].reduce((sum, phase) => sum + (phaseSeconds[phase] ?? 0), 0);
}

export interface Timings {
  phaseSeconds: Record<string, number>;
  hashedBytesPerSecond: number;
  rewrittenRowsPerSecond: number;
}

function timingsOf(report: Report, phaseSeconds: Record<string, number>): Timings {
  const bytes = report.stores.reduce((sum, store) => sum + store.bytes, 0);
  const rows = report.columns.reduce((sum, column) => sum + column.rowsRewritten, 0);
  const rewriteSeconds = (phaseSeconds.FillTables ?? 0) + (phaseSeconds.RewriteColumns ?? 0);
  return {
    phaseSeconds,
    hashedBytesPerSecond: hashingSeconds(phaseSeconds) ? bytes / hashingSeconds(phaseSeconds) : 0,
    // a lower bound: FillTables also spans the waits for stores still hashing
    rewrittenRowsPerSecond: rewriteSeconds ? rows / rewriteSeconds : 0,
  };
}

function formatTimings(timings: Timings): string {
  const phases = Object.entries(timings.phaseSeconds).map(([state, seconds]) => `${state} ${seconds.toFixed(2)} s`);
  return `Time: ${phases.join(', ')}\nHashing ${formatBytes(timings.hashedBytesPerSecond)}/s, column rewrite ${Math.round(timings.rewrittenRowsPerSecond)} rows/s (fills with their waits for hashing, and the ALTERs)`;
}

/**
 * `djmigrate discard-fills`: after a 0.11 run that will not be resumed soon (aborted, failed), the columns not yet
 * swapped lose their temporary `_djmigrate_<n>` columns, under the schema's lock; the journal keeps every hash, and
 * a rerun fills them again. Swapped columns stay swapped.
 */
export function discardFillsCommand(flags: { config: string; schema: string; takeOverLock?: boolean }): Promise<number> {
  return withDatabase(flags.config, async (conn) => {
    await requireSchema(conn, flags.schema);
    if (!(await journalExists(conn, flags.schema))) {
      throw new MigrationRefusedError(`schema ${flags.schema} has no ${COLUMN_TABLE} journal: no 0.11 → 0.12 run of djmigrate filled anything there, so there is nothing to discard`);
    }
    const holder = `local:${hostname()}:${process.pid}:${randomUUID()}`;
    await acquireSchemaLock(conn, flags.schema, {
      holder,
      description: `djmigrate discard-fills on ${flags.schema}`,
      staleAfterSeconds: LOCK_STALE_AFTER_SECONDS,
      takeOver: flags.takeOverLock ?? false,
    });
    try {
      const { dropped } = await discardFills(conn, { schema: flags.schema });
      console.log(dropped ? `dropped the temporary columns of ${dropped} column(s); a rerun fills them again from the journal` : 'no temporary column to drop');
    } finally {
      await releaseSchemaLock(conn, flags.schema, holder);
    }
    return 0;
  });
}
