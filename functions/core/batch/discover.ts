// Which schemas a batch run migrates: an explicit list or a SQL LIKE pattern over the server's databases, minus the
// system schemas, djmigrate's own copies (`_backup_`, `_replaced_`, `_v2`), the excluded ones and the schemas that
// are already migrated. Read-only; names travel on, never rows.
import type { Connection } from 'mysql2/promise';
import { z } from 'zod';
import { MigrationRefusedError } from '../errors.js';
import { select, tableRef } from '../db/sql.js';
import { LEGACY_EXTERNAL_TABLE } from '../datajoint/v011.js';
import { LINEAGE_TABLE } from '../datajoint/v2.js';
import { Migrate011InputSchema } from '../migrate011/input.js';
import { Migrate014InputSchema } from '../migrate014/input.js';

/** Databases never migrated, whatever the pattern says. */
export const SYSTEM_SCHEMAS: readonly string[] = ['information_schema', 'mysql', 'performance_schema', 'sys'];

/** The execution input of the batch state machine (what schedules send). */
export const BatchInputSchema = z
  .object({
    from: z.enum(['0.11', '0.14']),
    /** The schemas to migrate, in this order. Give this or `schemaPattern`. */
    schemas: z.array(z.string().min(1).max(64)).min(1).optional(),
    /** A SQL LIKE pattern over database names (`lab\_%`, `%_ephys`). Give this or `schemas`. */
    schemaPattern: z.string().min(1).max(64).optional(),
    /** Schemas never migrated by this batch (exact names). */
    exclude: z.array(z.string().min(1).max(64)).default([]),
    /** The per-schema execution input without `schema` (and `from`, which comes from here). */
    template: z.record(z.string(), z.unknown()),
    /** Schemas migrated at once (child executions running together). */
    maxConcurrency: z.number().int().min(1).max(40).default(2),
    /** No new schema starts after this time (ISO 8601 with offset). */
    windowEndsAt: z.iso.datetime({ offset: true }).optional(),
    /** No new schema starts later than this many minutes after the batch started. */
    windowMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if ((input.schemas === undefined) === (input.schemaPattern === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['schemas'], message: 'give exactly one of schemas (a list) and schemaPattern (a LIKE pattern)' });
    }
    if (input.windowEndsAt !== undefined && input.windowMinutes !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['windowMinutes'], message: 'give windowEndsAt or windowMinutes, not both' });
    }
    if ('schema' in input.template) ctx.addIssue({ code: 'custom', path: ['template', 'schema'], message: 'the template has no schema: each schema comes from schemas/schemaPattern' });
    if ('from' in input.template && input.template.from !== input.from) {
      ctx.addIssue({ code: 'custom', path: ['template', 'from'], message: `must be ${input.from} (the batch's from) or left out` });
    }
  });

export type BatchInput = z.infer<typeof BatchInputSchema>;

/** The batch input, checked (template included, as one schema's input), or a refusal naming each bad field. */
export function parseBatchInput(raw: unknown): BatchInput {
  const parsed = BatchInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MigrationRefusedError(
      'the batch execution input is not valid; fix these fields:',
      parsed.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(input)'}: ${issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message}`),
    );
  }
  const input = parsed.data;
  const schema = input.from === '0.11' ? Migrate011InputSchema : Migrate014InputSchema;
  const template = schema.safeParse({ ...input.template, from: input.from, schema: 'batch_template_check' });
  if (!template.success) {
    throw new MigrationRefusedError(
      'the batch template is not a valid per-schema input; fix these fields:',
      template.error.issues.map((issue) => `template.${issue.path.join('.')}: ${issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message}`),
    );
  }
  return input;
}

export interface Discovered {
  /** The schemas to migrate, in order. */
  schemas: string[];
  /** Schemas left out, each with why. */
  skipped: { schema: string; reason: string }[];
}

/** djmigrate's own copies and the system schemas: never migrated. */
export function ownOrSystemSchema(name: string): string | null {
  if (SYSTEM_SCHEMAS.includes(name.toLowerCase())) return 'system schema';
  if (name.includes('_backup_')) return "djmigrate's backup copy";
  if (name.includes('_replaced_')) return "djmigrate's replaced copy";
  if (name.endsWith('_v2')) return "a 2.0 copy (_v2) made by djmigrate";
  return null;
}

/** Lists the schemas a batch migrates; read-only. */
export async function discoverSchemas(conn: Connection, input: Pick<BatchInput, 'from' | 'schemas' | 'schemaPattern' | 'exclude'>): Promise<Discovered> {
  const existing = (await select<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME')).map((row) => row.name);
  const skipped: Discovered['skipped'] = [];
  let candidates: string[];
  if (input.schemas) {
    const known = new Set(existing);
    candidates = [];
    for (const schema of new Set(input.schemas)) {
      if (known.has(schema)) candidates.push(schema);
      else skipped.push({ schema, reason: 'no such schema' });
    }
  } else {
    // LIKE is evaluated by the server (its collation and escapes), the pattern sent as a value
    candidates = (
      await select<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? ORDER BY SCHEMA_NAME', [input.schemaPattern])
    ).map((row) => row.name);
  }
  const excluded = new Set(input.exclude ?? []);
  const schemas: string[] = [];
  for (const schema of candidates) {
    const reason = excluded.has(schema)
      ? 'excluded'
      : (ownOrSystemSchema(schema) ?? (input.from === '0.11' ? await migrated011(conn, schema) : await migrated014(conn, schema)));
    if (reason) skipped.push({ schema, reason });
    else schemas.push(schema);
  }
  if (schemas.length > MAX_BATCH_SCHEMAS || skipped.length > MAX_BATCH_SKIPPED) {
    throw new MigrationRefusedError(
      `this batch would ${schemas.length > MAX_BATCH_SCHEMAS ? `migrate ${schemas.length} schemas, more than the ${MAX_BATCH_SCHEMAS}` : `skip ${skipped.length} schemas, more than the ${MAX_BATCH_SKIPPED}`} ` +
        "one batch keeps the outcome of (every schema's outcome travels in its execution's state, 256 KiB); split it: narrower schemaPattern values, a schemas list per batch, or exclude; nothing was started",
    );
  }
  return { schemas, skipped };
}

/** Schemas one batch migrates, and skips, at most: each one's outcome (≤ ~700 bytes) stays in the batch's state. */
export const MAX_BATCH_SCHEMAS = 250;
export const MAX_BATCH_SKIPPED = 500;

async function tablesOf(conn: Connection, schema: string, names: string[]): Promise<Set<string>> {
  const rows = await select<{ name: string }>(
    conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (${names.map(() => '?').join(', ')})`,
    [schema, ...names],
  );
  return new Set(rows.map((row) => row.name));
}

/** Why a schema needs no 0.11 → 0.12 migration, or null when it does. */
async function migrated011(conn: Connection, schema: string): Promise<string | null> {
  if (!(await tablesOf(conn, schema, [LEGACY_EXTERNAL_TABLE])).has(LEGACY_EXTERNAL_TABLE)) return 'already migrated (no ~external table)';
  const [{ rows }] = await select<{ rows: number }>(conn, `SELECT EXISTS (SELECT 1 FROM ${tableRef(schema, LEGACY_EXTERNAL_TABLE)}) AS \`rows\``);
  if (Number(rows) > 0) return null;
  const [{ columns }] = await select<{ columns: number }>(
    conn,
    "SELECT COUNT(*) AS columns FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND COLUMN_COMMENT LIKE ':external%'",
    [schema],
  );
  return Number(columns) > 0 ? null : 'already migrated (~external is empty and no column is external)';
}

/** Why a schema needs no 0.14 → 2.0 migration, or null when it does. */
async function migrated014(conn: Connection, schema: string): Promise<string | null> {
  const [{ columns }] = await select<{ columns: number }>(
    conn,
    `SELECT COUNT(*) AS columns FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND LOWER(COLUMN_TYPE) = 'binary(16)'
        AND (COLUMN_COMMENT LIKE ':blob@%:%' OR COLUMN_COMMENT LIKE ':attach@%:%' OR COLUMN_COMMENT LIKE ':filepath@%:%')`,
    [schema],
  );
  if (Number(columns) > 0) return null;
  if (!(await tablesOf(conn, schema, [LINEAGE_TABLE])).has(LINEAGE_TABLE)) return null;
  return 'already migrated (no 0.14 external column left, ~lineage present)';
}
