// The Plan state of the 0.14 → 2.0 state machine: read-only, for either strategy. In place it is
// migrate_schema_in_place's plan; for the copy strategy it checks every table can be copied into the destination
// (or, with createDest, what create_parallel_schema would declare) before the first row moves.
import type { Connection } from 'mysql2/promise';
import { externalTableName } from '../datajoint/v012.js';
import { estimatedTableRows } from '../db/keyset.js';
import { schemaDefaults } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { OpenStore } from '../stores/object-store.js';
import { copyPartsOf, foreignKeyLevelsOf, planParallelSchema, planSchemaCopy } from './copy.js';
import { estimateRun014, type Estimate014 } from './estimate.js';
import { findColumns, type ExternalPlanCall, type ExternalPlanCheckpoint } from './external-storage.js';
import { planSchemaInPlace, type InPlacePlan } from './in-place.js';
import { inPlaceOptionsOf, type Migrate014Input } from './input.js';

export interface CopyPlan {
  source: string;
  dest: string;
  /** Tables to copy, parents first. */
  tables: string[];
  /** Tables copied in parts (copyPartRows): how many, by ranges of which column. */
  parts: { table: string; column: string; parts: number }[];
  /** With createDest: what create_parallel_schema declares (counts; `existing` tables are left as they are). */
  declare?: { tables: number; existing: string[]; droppedExternalKeys: string[]; droppedIndexes: string[] };
}

export interface Plan014 {
  schema: string;
  strategy: Migrate014Input['strategy'];
  status: 'ready' | 'refused';
  problems: string[];
  inPlace?: InPlacePlan;
  copy?: CopyPlan;
  /** Duration, state transitions, Lambda GB-seconds, S3 requests and their list price on AWS (estimate.ts). */
  estimate?: Estimate014;
  /**
   * Set when the plan was cut to fit a size (see {@link planWithin}): each cut list (by its path, e.g.
   * `inPlace.comments.changes`) and how many of its entries were left out.
   */
  omitted?: Record<string, number>;
  /** Where the whole plan was kept, when it was (the reports bucket, a local file). */
  planLocation?: string;
}

export type Plan014Step = { plan: Plan014; checkpoint: null } | { plan: null; checkpoint: ExternalPlanCheckpoint };

/**
 * The plan, in calls when given a budget: in place, the external storage's objects are checked from the last call's
 * checkpoint (see planExternalStorageStep); the copy strategy's plan is one call.
 */
export async function planMigration014(conn: Connection, input: Migrate014Input, openStore: OpenStore, call: ExternalPlanCall = {}): Promise<Plan014Step> {
  if (input.strategy === 'in-place') {
    const step = await planSchemaInPlace(conn, inPlaceOptionsOf(input), openStore, call);
    if (!step.plan) return step;
    const inPlace = step.plan;
    const columns = (inPlace.external?.columns ?? []).map((c) => ({ ...c, s3: input.stores[c.store]?.protocol === 's3' }));
    const estimate = estimateRun014({ ...estimateOptions(input), strategy: 'in-place', columns, tables: [] });
    return { plan: { schema: input.schema, strategy: input.strategy, status: inPlace.status, problems: inPlace.problems, inPlace, estimate }, checkpoint: null };
  }
  const rows = await estimatedTableRows(conn, input.schema);
  const plan = await planCopy(conn, input, openStore, rows);
  const tables = plan.copy?.tables ?? [];
  // a refused plan (a foreign-key cycle, say) is estimated one table after another
  const levelOf = plan.status === 'ready' ? new Map((await foreignKeyLevelsOf(conn, input.schema)).flatMap((level, i) => level.map((table) => [table, i] as const))) : null;
  // each external column's pointers walk its store's `~external_<store>` rows
  const externals = (await findColumns(conn, input.schema)).found.filter((c) => tables.includes(c.table));
  const partsOf = new Map(plan.copy!.parts.map((p) => [p.table, p.parts]));
  plan.estimate = estimateRun014({
    ...estimateOptions(input),
    strategy: 'copy',
    columns: externals.map((c) => ({ table: c.table, kind: c.kind, s3: input.stores[c.store]?.protocol === 's3', rows: 0, pointers: 0, objects: rows.get(externalTableName(c.store)) ?? 0, bytes: 0 })),
    tables: tables.map((name) => ({ name, rows: rows.get(name) ?? 0, level: levelOf?.get(name), parts: partsOf.get(name) ?? 1 })),
  });
  return { plan, checkpoint: null };
}

function estimateOptions(input: Migrate014Input) {
  return { copyFiles: input.copyFiles, verifyObjects: input.verifyObjects, backup: input.backup };
}

async function planCopy(conn: Connection, input: Migrate014Input, openStore: OpenStore, rows: ReadonlyMap<string, number>): Promise<Plan014> {
  const copy: CopyPlan = { source: input.schema, dest: input.dest, tables: [], parts: [] };
  const problems: string[] = [];
  const destExists = (await schemaDefaults(conn, input.dest)) !== null;
  if (input.createDest) {
    const declared = await planParallelSchema(conn, { source: input.schema, dest: input.dest, storeMap: input.storeMap, unsignedMarkers: input.unsignedMarkers });
    problems.push(...declared.problems);
    copy.tables = declared.tables;
    copy.declare = { tables: declared.tables.length, existing: declared.existing, droppedExternalKeys: declared.droppedExternalKeys, droppedIndexes: declared.droppedIndexes };
  }
  // Without createDest the destination must be there, declared by 2.x; with it, existing tables must match too.
  if (!input.createDest || (destExists && copy.declare?.existing.length)) {
    try {
      const checked = await planSchemaCopy(conn, copyOptionsOf(input, openStore, input.createDest ? copy.declare?.existing : undefined));
      if (!input.createDest) copy.tables = checked.tables;
    } catch (error) {
      if (!(error instanceof MigrationRefusedError)) throw error;
      problems.push(error.message);
    }
  }
  for (const table of copy.tables) {
    const parts = await copyPartsOf(conn, input.schema, table, input.copyPartRows, rows.get(table) ?? 0);
    if (parts.length) copy.parts.push({ table, column: parts[0].column, parts: parts.length });
  }
  return { schema: input.schema, strategy: input.strategy, status: problems.length ? 'refused' : 'ready', problems, copy };
}

/** copy_table_data's options for this input (every table, or `tables`). */
export function copyOptionsOf(input: Migrate014Input, openStore: OpenStore, tables?: string[]) {
  return { source: input.schema, dest: input.dest, stores: input.stores, storeMap: input.storeMap, openStore, ...(tables ? { tables } : {}) };
}

/** Entries a cut list keeps at most, tried in turn until the plan fits. */
const KEPT_ENTRIES = [50, 20, 5];

/**
 * The plan as it fits in `maxBytes` of JSON: unchanged when it does; otherwise every list longer than a few entries
 * (every column's marker, every `~lineage` row, the ALTER statements, the problems, …) keeps its first entries, and
 * `omitted` counts the rest by the list's path. A schema of a few hundred tables has a plan of megabytes (a marker and
 * a lineage row per attribute), more than an execution's state holds (256 KiB).
 */
export function planWithin(plan: Plan014, maxBytes: number): Plan014 {
  if (jsonBytes(plan) <= maxBytes) return plan;
  let cut = plan;
  for (const kept of KEPT_ENTRIES) {
    const omitted: Record<string, number> = {};
    const lists = cutLists(plan, kept, '', omitted) as Plan014;
    // nothing to cut: long texts, not long lists (the run then meets the state's limit as it would have)
    if (!Object.keys(omitted).length) break;
    cut = { ...lists, omitted };
    if (jsonBytes(cut) <= maxBytes) break;
  }
  return cut;
}

/** Entries of the list at `path` in the whole plan: those kept plus those left out. */
export function entriesOf(plan: Plan014, path: string, kept: readonly unknown[] | undefined): number {
  return (kept?.length ?? 0) + (plan.omitted?.[path] ?? 0);
}

function cutLists(value: unknown, kept: number, path: string, omitted: Record<string, number>): unknown {
  if (Array.isArray(value)) {
    if (value.length > kept) omitted[path] = value.length - kept;
    return value.slice(0, kept);
  }
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, cutLists(inner, kept, path ? `${path}.${key}` : key, omitted)]));
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
