import { z } from 'zod';
import { StoreSpecSchema } from '../config/store-spec.js';
import type { InPlaceOptions } from './in-place.js';
import { IN_PLACE_STEPS } from './steps.js';

/** A store name as DataJoint accepts it (also the `~external_<store>` suffix). */
const StoreName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a DataJoint store name ([a-z][a-z0-9_]*)');

/**
 * The execution input of a 0.14 → 2.0 migration: what the console, the CLI and schedules all send.
 * `strategy: in-place` converts the schema itself (steps of migrate_schema_in_place); `strategy: copy` copies every
 * table into a `_v2` schema declared by 2.x code (or generated with `createDest`) and compares the two.
 */
export const Migrate014InputSchema = z
  .object({
    from: z.literal('0.14'),
    to: z.literal('2.0').default('2.0'),
    /** The DataJoint schema (MySQL database) to migrate; the copy strategy's source. */
    schema: z.string().min(1).max(64),
    strategy: z.enum(['in-place', 'copy']).default('in-place'),
    /** in-place: which of migrate_schema_in_place's steps to run (always in their safe order). */
    steps: z.array(z.enum(IN_PLACE_STEPS)).min(1).default([...IN_PLACE_STEPS]),
    /** in-place: take a backup before the first change (an RDS snapshot in AWS when configured, else a schema copy). */
    backup: z.boolean().default(false),
    /** Also copy blob objects to the 2.x `_hash/<schema>/…` layout. */
    copyFiles: z.boolean().default(false),
    /** 0.14 store name → 2.x store name. */
    storeMap: z.record(StoreName, StoreName).default({}),
    /** Re-hash blob objects by streaming them before converting (in-place), and verify re-reads every object. */
    verifyObjects: z.boolean().default(false),
    /** Write `:uint32:`-style markers on unsigned columns (2.x ignores them; see the plan). */
    unsignedMarkers: z.boolean().default(false),
    /** copy: the destination schema. Default `<schema>_v2`. */
    dest: z.string().min(1).max(64).optional(),
    /** copy: generate the destination's DDL from the 0.14 schema first (create_parallel_schema). */
    createDest: z.boolean().default(false),
    /**
     * copy: a table the server estimates at twice this many rows or more is copied in parts of about this many,
     * side by side (ranges of an integer first primary-key column; `fillConcurrency` items at once).
     */
    copyPartRows: z.number().int().min(1).default(20_000_000),
    /** copy: the numeric tolerance of compare_query_results. */
    tolerance: z.number().nonnegative().default(1e-6),
    /** Plan only unless true. */
    execute: z.boolean().default(false),
    /** Take over the schema's lock from a run that stopped heartbeating (see the lock's refusal message). */
    takeOverLock: z.boolean().default(false),
    /** 0.14 store name → where its objects are (no credentials). */
    stores: z.record(z.string(), StoreSpecSchema),
  })
  .strict()
  .transform((input) => ({ ...input, dest: input.dest ?? `${input.schema}_v2` }));

export type Migrate014Input = z.infer<typeof Migrate014InputSchema>;

/** The options of migrate_schema_in_place an execution input asks for. */
export function inPlaceOptionsOf(input: Migrate014Input): InPlaceOptions {
  return {
    schema: input.schema,
    steps: input.steps,
    backup: input.backup,
    stores: input.stores,
    storeMap: input.storeMap,
    copyFiles: input.copyFiles,
    verifyObjects: input.verifyObjects,
    unsignedMarkers: input.unsignedMarkers,
  };
}
