// Writes the JSON Schemas of the execution inputs (schemas/*.input.schema.json) from the zod schemas the first state
// of each machine validates with, so the console's documentation and the validation never disagree.
// `npm run schemas` rewrites them; test/unit/input-schemas.test.ts fails when a committed file is stale.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BatchInputSchema } from '../functions/core/batch/discover.js';
import { Migrate011InputSchema } from '../functions/core/migrate011/input.js';
import { Migrate014InputSchema } from '../functions/core/migrate014/input.js';

/** Where the generated files live (repository root / schemas). */
export const SCHEMAS_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

/** `$id` prefix: a name, not a download address (the files live in this repository). */
const ID_BASE = 'urn:djmigrate:schemas:';

interface InputSchemaSpec {
  file: string;
  title: string;
  description: string;
  schema: z.ZodType;
  /** Field → description shown by editors and the README (the zod schemas document fields in comments only). */
  fields: Record<string, string>;
  /** Constraints the zod schema checks in code (superRefine), restated in JSON Schema. */
  extra?: Record<string, unknown>;
}

const STORES = 'Store name → where its objects are: {"protocol": "s3", "bucket", "location", "endpoint"?, "secure"?, "region"?} or {"protocol": "file", "location"}. No credentials (refused): the Lambda role reads the buckets.';
const EXECUTE = 'Plan only (changes nothing; the output is the plan) unless true.';
const TAKE_OVER = "Take over the schema's ~djmigrate lock from a run that stopped heartbeating 30 minutes ago or more (never from a live one).";

const SPECS: readonly InputSchemaSpec[] = [
  {
    file: 'migrate-011.input.schema.json',
    title: 'djmigrate 0.11 → 0.12 execution input',
    description:
      'Input of the Migrate011 state machine (console "Start execution", `djmigrate start`, the "DataJoint Schema Migration Requested" event detail). ' +
      'Plan only unless "execute": true. Stores name locations only, never credentials.',
    schema: Migrate011InputSchema,
    fields: {
      from: 'The migration: "0.11" (to the 0.12 format).',
      schema: 'The DataJoint schema (MySQL database) to migrate.',
      defaultStore: '0.12 store for plain `external` columns (`external-<x>` columns go to store <x>).',
      mode: '"in-place": objects stay where they are (0.12 reads them through filepath); "native": copy each to the 0.12 uuid path.',
      keepLegacy: 'Rename ~external to ~djmigrate_legacy_external instead of dropping it.',
      execute: EXECUTE,
      takeOverLock: TAKE_OVER,
      stores: STORES,
      verifyContents: 'Verify re-reads every object and checks its MD5 (not only its size and the hash taken while hashing).',
      hashConcurrency: 'Objects in flight within one hash batch (and in verify).',
      distributedHashingFrom:
        'From this many objects to hash on, a Distributed Map hashes them first (Express children of 100 objects, no database connection while hashing); fewer go through the standard Map of batches only.',
      listingPassObjects:
        'Inspect, Verify and trustEtag hold at most this many of a store\'s objects listed at a time (about 100 bytes each in memory); a bigger store is listed and compared in passes over key ranges, reading its database rows once per pass.',
      trustEtag: 'In place only: take the contents hash of an S3 object from its listed ETag when that is a plain MD5 (checked on a sample read in full) instead of reading it; those objects are not checked against their legacy SHA-256.',
      s3BatchChecksum: 'In place, on the deployed stack only: an S3 Batch Operations Compute checksum (MD5) job gives the S3 objects\' contents hashes instead of reading them through Lambda (checked on a sample read in full); those objects are not checked against their legacy SHA-256. For stores too large to stream; the job adds minutes of start-up.',
    },
  },
  {
    file: 'migrate-014.input.schema.json',
    title: 'djmigrate 0.14 → 2.0 execution input',
    description:
      'Input of the Migrate014 state machine (console "Start execution", `djmigrate start`, the "DataJoint Schema Migration Requested" event detail). ' +
      'Plan only unless "execute": true. Stores name locations only, never credentials.',
    schema: Migrate014InputSchema,
    fields: {
      from: 'The migration: "0.14" (to 2.0).',
      to: 'The target: "2.0".',
      schema: 'The DataJoint schema (MySQL database) to migrate; the copy strategy\'s source.',
      strategy: '"in-place": convert the schema itself; "copy": copy every table into a parallel schema (dest) and compare.',
      steps: 'in-place: which steps to run (always in this order): update_blob_comments, migrate_external_storage, add_lineage_table.',
      backup: 'in-place: back up first (an RDS snapshot when the stack names the database, else the schema copy <schema>_backup_<yyyymmdd>).',
      copyFiles: 'Also copy blob objects into the 2.x _hash/<schema>/… layout.',
      storeMap: '0.14 store name → 2.x store name.',
      verifyObjects: 'Re-hash blob objects before converting; Verify checks every object\'s bytes.',
      unsignedMarkers: 'Write :uintN: markers on unsigned columns anyway (2.x ignores them).',
      dest: 'copy: the destination schema (default <schema>_v2).',
      createDest: 'copy: declare the destination from the 0.14 schema first.',
      copyPartRows: 'copy: a table the server estimates at twice this many rows or more is copied in parts of about this many, side by side (ranges of an integer first primary-key column).',
      tolerance: 'copy: numeric tolerance of the comparison.',
      execute: EXECUTE,
      takeOverLock: TAKE_OVER,
      stores: STORES,
    },
  },
  {
    file: 'batch.input.schema.json',
    title: 'djmigrate batch execution input',
    description:
      'Input of the Batch state machine (the schedule, or "Start execution"): many schemas, each run as a child execution of the 0.11 or 0.14 machine ' +
      'with input = template + {from, schema}. Give exactly one of "schemas" and "schemaPattern", and at most one of "windowEndsAt" and "windowMinutes". ' +
      'The template must be a valid per-schema input (schemas/migrate-011 or migrate-014.input.schema.json) without "schema": the Discover state checks it.',
    schema: BatchInputSchema,
    fields: {
      from: 'Which migration every schema gets: "0.11" or "0.14".',
      schemas: 'The schemas to migrate, in this order (give this or schemaPattern).',
      schemaPattern: 'A SQL LIKE pattern over database names, e.g. "lab\\_%" (give this or schemas).',
      exclude: 'Schemas this batch never migrates (exact names).',
      template: 'The per-schema execution input without schema (and without from, or with the batch\'s from).',
      maxConcurrency: 'Schemas migrated at once (child executions running together).',
      windowEndsAt: 'No new schema starts after this time (ISO 8601 with offset).',
      windowMinutes: 'No new schema starts later than this many minutes after the batch started.',
    },
    extra: {
      oneOf: [{ required: ['schemas'] }, { required: ['schemaPattern'] }],
      not: { required: ['windowEndsAt', 'windowMinutes'] },
    },
  },
];

/** The three JSON Schemas: file name → pretty-printed text (with a trailing newline), as committed. */
export function inputSchemaFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const spec of SPECS) {
    // io 'input': fields with a default are optional (what a person may send), transforms are ignored
    const generated = z.toJSONSchema(spec.schema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
    const { $schema, ...rest } = generated;
    const properties = rest.properties as Record<string, Record<string, unknown>>;
    for (const [field, description] of Object.entries(spec.fields)) {
      if (!properties[field]) throw new Error(`${spec.file}: a description for ${field}, which the zod schema does not have`);
      properties[field] = { description, ...properties[field] };
    }
    if (spec.file === 'batch.input.schema.json') {
      // the template never names a schema; its from, when given, is the batch's (checked by Discover)
      properties.template = { ...properties.template, not: { required: ['schema'] } };
    }
    const document = { $schema, $id: `${ID_BASE}${spec.file}`, title: spec.title, description: spec.description, ...rest, ...spec.extra };
    files[spec.file] = `${JSON.stringify(document, null, 2)}\n`;
  }
  return files;
}

/** Writes every schema file into `dir`; returns the paths written. */
export function writeInputSchemas(dir: string = SCHEMAS_DIR): string[] {
  return Object.entries(inputSchemaFiles()).map(([file, text]) => {
    const target = path.join(dir, file);
    writeFileSync(target, text);
    return target;
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const written of writeInputSchemas()) console.log(`wrote ${path.relative(process.cwd(), written)}`);
}
