// The 0.14 → 2.0 commands of `djmigrate`. `plan` and `run --from 0.14` execute the 0.14 state machine locally (the
// same definition as AWS); the single operations (compare, cutover, finalize, convert-config) call the core directly.
import { readFile, writeFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import { loadDataJointConfig, type DataJointConfig } from '../core/config/datajoint-config.js';
import { MigrationRefusedError } from '../core/errors.js';
import { compareQueryResults } from '../core/migrate014/compare.js';
import { convertConfig } from '../core/migrate014/convert-config.js';
import { cutover, rollback } from '../core/migrate014/cutover.js';
import { finalizeExternalTables } from '../core/migrate014/finalize.js';
import type { Plan014 } from '../core/migrate014/plan.js';
import type { Report014 } from '../core/migrate014/report.js';
import { silentProgress } from '../core/progress.js';
import { fail, PhaseClock, ProgressBars } from './cli-output.js';
import { formatPlan014, formatReport014 } from './format.js';
import { migrateLocally014, type LocalMigration014Options } from './migrate.js';
import { createLocalDeps } from './local-deps.js';
import type { ReportStore } from '../handlers/ops/reports.js';

export interface InPlaceFlags {
  config: string;
  schema: string;
  to?: string;
  strategy?: string;
  steps?: string;
  backup?: boolean;
  copyFiles?: boolean;
  storeMap?: string[];
  unsignedMarkers?: boolean;
  verifyObjects?: boolean;
  report?: string;
  /** copy strategy: the destination schema (default <schema>_v2), declared first with createDest. */
  dest?: string;
  createDest?: boolean;
  tolerance?: string;
  copyPartRows?: number;
}

/** Runs `work` with a connection from the user's config; a refusal becomes a message and exit code 1. */
export async function withDatabase(configPath: string, work: (conn: Connection, config: DataJointConfig) => Promise<number>): Promise<number> {
  try {
    const config = await loadDataJointConfig(configPath, 'external');
    const conn = await createLocalDeps(config, silentProgress).openDatabase();
    try {
      return await work(conn, config);
    } finally {
      await conn.end();
    }
  } catch (error) {
    if (!(error instanceof MigrationRefusedError)) throw error;
    console.error(`djmigrate: refused: ${error.message}`);
    return 1;
  }
}

/** `--store-map old=new` pairs. */
export function parseStoreMap(pairs: string[] | undefined): Record<string, string> {
  const storeMap: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const [from, to, ...rest] = pair.split('=');
    if (!from || !to || rest.length) throw new MigrationRefusedError(`--store-map ${pair}: write it as old=new`);
    storeMap[from] = to;
  }
  return storeMap;
}

/** The execution input's fields the flags give (validated by the workflow's first state, which names any bad one). */
function inputOf(flags: InPlaceFlags): LocalMigration014Options['input'] {
  return {
    schema: flags.schema,
    ...(flags.to !== undefined ? { to: flags.to } : {}),
    ...(flags.strategy !== undefined ? { strategy: flags.strategy } : {}),
    ...(flags.steps !== undefined ? { steps: flags.steps.split(',').map((step) => step.trim()).filter(Boolean) } : {}),
    ...(flags.dest !== undefined ? { dest: flags.dest } : {}),
    ...(flags.tolerance !== undefined ? { tolerance: Number(flags.tolerance) } : {}),
    ...(flags.copyPartRows !== undefined ? { copyPartRows: flags.copyPartRows } : {}),
    backup: flags.backup ?? false,
    copyFiles: flags.copyFiles ?? false,
    createDest: flags.createDest ?? false,
    storeMap: parseStoreMap(flags.storeMap),
    verifyObjects: flags.verifyObjects ?? false,
    unsignedMarkers: flags.unsignedMarkers ?? false,
  };
}

/** Runs the 0.14 → 2.0 state machine locally; a bad flag or config is a refusal, like a bad execution input. */
async function run014Workflow(flags: InPlaceFlags & { takeOverLock?: boolean }, execute: boolean, extra: Partial<LocalMigration014Options> = {}) {
  let input: LocalMigration014Options['input'];
  try {
    input = inputOf(flags);
  } catch (error) {
    if (!(error instanceof MigrationRefusedError)) throw error;
    return { status: 'FAILED' as const, error: { name: error.name, message: error.message } };
  }
  return migrateLocally014({ configPath: flags.config, execute, takeOverLock: flags.takeOverLock, progress: silentProgress, input, ...extra });
}

export async function plan014(flags: InPlaceFlags & { json?: boolean; planFile?: string }): Promise<number> {
  const { planFile } = flags;
  // the Plan state keeps the whole plan where the deps keep reports: here, the file asked for
  const reports: ReportStore | undefined = planFile
    ? {
        async put(_key, plan) {
          await writeFile(planFile, `${JSON.stringify(plan, null, 2)}\n`);
          return planFile;
        },
      }
    : undefined;
  const result = await run014Workflow(flags, false, reports ? { wrapDeps: (deps) => ({ ...deps, reports }) } : {});
  if (result.status === 'FAILED') return fail(result.error);
  const { plan } = result.output as { plan: Plan014 };
  console.log(flags.json ? JSON.stringify(plan, null, 2) : formatPlan014(plan));
  return plan.status === 'refused' ? 1 : 0;
}

export const MIGRATE_014_PHASES = new Set([
  'Validate',
  'Plan',
  'Backup',
  'UpdateBlobComments',
  'PrepareExternalStorage',
  'MigrateExternalColumns',
  'AddLineageTable',
  'Verify',
  'PrepareCopy',
  'BuildPointers',
  'CopyTables',
  'CompareTables',
  'Report',
]);

export async function run014(flags: InPlaceFlags & { json?: boolean; takeOverLock?: boolean }): Promise<number> {
  const bars = flags.json ? null : new ProgressBars({ hashing: false });
  const clock = new PhaseClock(MIGRATE_014_PHASES);
  const result = await run014Workflow(flags, true, { progress: bars ?? silentProgress, ...clock.listeners() }).finally(() => bars?.stop());
  if (result.status === 'FAILED') return fail(result.error);
  const report = { ...(result.output as Report014), timings: { phaseSeconds: clock.seconds() } };
  const path = flags.report ?? `djmigrate-report-${flags.schema}-014-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.json`;
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  console.log(flags.json ? JSON.stringify(report, null, 2) : `${formatReport014(report)}\nReport written to ${path}`);
  return report.status === 'migrated' || report.status === 'copied' ? 0 : 1;
}

export async function convertConfigCommand(file: string, flags: { output?: string }): Promise<number> {
  try {
    const { config, notes } = convertConfig(JSON.parse(await readFile(file, 'utf8')));
    const text = `${JSON.stringify(config, null, 2)}\n`;
    if (flags.output) await writeFile(flags.output, text);
    else process.stdout.write(text);
    for (const note of notes) console.error(`note: ${note}`);
    return 0;
  } catch (error) {
    if (!(error instanceof MigrationRefusedError || error instanceof SyntaxError)) throw error;
    console.error(`djmigrate: refused: ${error.message}`);
    return 1;
  }
}

export function compareCommand(flags: { config: string; prod: string; test: string; table: string; tolerance?: string }): Promise<number> {
  return withDatabase(flags.config, async (conn) => {
    const result = await compareQueryResults(conn, { prodSchema: flags.prod, testSchema: flags.test, table: flags.table, tolerance: flags.tolerance ? Number(flags.tolerance) : undefined });
    console.log(JSON.stringify(result, null, 2));
    return result.match ? 0 : 1;
  });
}

export function cutoverCommand(direction: 'cutover' | 'rollback', flags: { config: string; schema: string; suffix?: string }): Promise<number> {
  return withDatabase(flags.config, async (conn) => {
    const result = await (direction === 'cutover' ? cutover : rollback)(conn, { schema: flags.schema, suffix: flags.suffix });
    console.log(JSON.stringify(result, null, 2));
    return 0;
  });
}

export function finalizeCommand(flags: { config: string; schema: string }): Promise<number> {
  return withDatabase(flags.config, async (conn) => {
    const { renamed } = await finalizeExternalTables(conn, flags.schema);
    console.log(renamed.length ? renamed.map((r) => `${r.from} → ${r.to}`).join('\n') : 'nothing to finalize');
    return 0;
  });
}
