// `migrate_schema_in_place(schema, backup, steps)`: the guide's in-place 0.14 → 2.0 migration, any subset of its
// three steps, always in the safe order (external pointers before lineage, which must not see `~external_*` keys),
// planned first and refused as a whole before anything changes.
import type { Connection } from 'mysql2/promise';
import type { StoreSpec } from '../config/store-spec.js';
import { MigrationRefusedError } from '../errors.js';
import { silentProgress, type ProgressSink } from '../progress.js';
import type { OpenStore } from '../stores/object-store.js';
import { backupSchema, type SchemaCopy } from './backup.js';
import { migrateExternalStorage, planExternalStorageStep, type ExternalPlanCall, type ExternalPlanCheckpoint, type ExternalStoragePlan, type ExternalStorageResult, type OpenWriter } from './external-storage.js';
import { planLineage, rebuildLineage, type LineagePlan, type LineageRebuilt } from './lineage.js';
import { applyCommentUpdates, planCommentUpdates, type CommentApplied, type CommentPlan } from './update-comments.js';

import { IN_PLACE_STEPS, type InPlaceStep } from './steps.js';

export interface InPlaceOptions {
  schema: string;
  steps: readonly InPlaceStep[];
  /** Copy the schema to `<schema>_backup_<date>` before the first change (in AWS: an RDS snapshot instead). */
  backup: boolean;
  stores: Record<string, StoreSpec>;
  storeMap?: Record<string, string>;
  copyFiles?: boolean;
  verifyObjects?: boolean;
  unsignedMarkers?: boolean;
}

export interface InPlacePlan {
  schema: string;
  steps: InPlaceStep[];
  status: 'ready' | 'refused';
  comments?: CommentPlan;
  external?: ExternalStoragePlan;
  lineage?: LineagePlan;
  problems: string[];
}

export interface InPlaceResult {
  schema: string;
  backup?: SchemaCopy;
  comments?: CommentApplied;
  external?: ExternalStorageResult;
  lineage?: LineageRebuilt;
}

export function parseSteps(list: string): InPlaceStep[] {
  const steps = list.split(',').map((step) => step.trim()).filter(Boolean);
  const unknown = steps.filter((step) => !(IN_PLACE_STEPS as readonly string[]).includes(step));
  if (unknown.length || steps.length === 0) {
    throw new MigrationRefusedError(`unknown step(s) ${unknown.join(', ') || '(none given)'}; choose from ${IN_PLACE_STEPS.join(', ')}`);
  }
  return IN_PLACE_STEPS.filter((step) => steps.includes(step));
}

export type InPlacePlanStep = { plan: InPlacePlan; checkpoint: null } | { plan: null; checkpoint: ExternalPlanCheckpoint };

/**
 * Read-only: what each requested step would do, and every problem that stops the whole migration. The external
 * storage's object checks work in calls (see planExternalStorageStep); the other steps are planned in the last call.
 */
export async function planSchemaInPlace(conn: Connection, options: InPlaceOptions, openStore: OpenStore, call: ExternalPlanCall = {}): Promise<InPlacePlanStep> {
  const steps = IN_PLACE_STEPS.filter((step) => options.steps.includes(step));
  const plan: InPlacePlan = { schema: options.schema, steps, status: 'ready', problems: [] };
  if (steps.includes('migrate_external_storage')) {
    const external = await planExternalStorageStep(conn, externalOptions(options), openStore, call);
    if (!external.plan) return external;
    plan.external = external.plan;
  }
  if (steps.includes('update_blob_comments')) plan.comments = await planCommentUpdates(conn, options.schema, { unsignedMarkers: options.unsignedMarkers });
  if (steps.includes('add_lineage_table')) plan.lineage = await planLineage(conn, options.schema);
  plan.problems = [...(plan.comments?.problems ?? []), ...(plan.external?.problems ?? [])];
  if (plan.problems.length) plan.status = 'refused';
  return { plan, checkpoint: null };
}

export async function migrateSchemaInPlace(
  conn: Connection,
  options: InPlaceOptions,
  io: { openStore: OpenStore; openWriter: OpenWriter; progress?: ProgressSink },
): Promise<InPlaceResult> {
  const plan = (await planSchemaInPlace(conn, options, io.openStore)).plan!;
  if (plan.status === 'refused') throw new MigrationRefusedError(`schema ${options.schema} cannot be migrated in place as it is; nothing was changed:`, plan.problems);
  const result: InPlaceResult = { schema: options.schema };
  if (options.backup) result.backup = await backupSchema(conn, options.schema);
  if (plan.comments) result.comments = await applyCommentUpdates(conn, options.schema, { unsignedMarkers: options.unsignedMarkers });
  if (plan.external) result.external = await migrateExternalStorage(conn, externalOptions(options), io.openStore, io.openWriter, io.progress ?? silentProgress);
  if (plan.lineage) result.lineage = await rebuildLineage(conn, options.schema);
  return result;
}

function externalOptions(options: InPlaceOptions) {
  return { schema: options.schema, stores: options.stores, storeMap: options.storeMap, copyFiles: options.copyFiles, verifyObjects: options.verifyObjects };
}
