// The JSON Schemas of the execution inputs (schemas/*.input.schema.json) against the zod schemas the first state
// validates with: the committed files are what scripts/write-input-schemas.ts generates now, every example in the
// README is valid for both, and a few bad inputs are refused by both.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { inputSchemaFiles, SCHEMAS_DIR } from '../../scripts/write-input-schemas.js';
import { parseBatchInput } from '../../functions/core/batch/discover.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { Migrate011InputSchema } from '../../functions/core/migrate011/input.js';
import { Migrate014InputSchema } from '../../functions/core/migrate014/input.js';
import { validateInput } from '../../functions/handlers/validate.js';
import { MIGRATION_REQUESTED_DETAIL_TYPE, PROJECT_ROOT } from '../../lib/djmigrate-stack.js';

type Kind = '0.11' | '0.14' | 'batch';

const FILES: Record<Kind, string> = {
  '0.11': 'migrate-011.input.schema.json',
  '0.14': 'migrate-014.input.schema.json',
  batch: 'batch.input.schema.json',
};

// date-time is also checked by the pattern zod writes next to it (no ajv-formats needed); strictRequired would
// refuse the batch schema's valid `not: {required: [...]}` (properties defined one level up)
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, formats: { 'date-time': true } });
const jsonSchema = Object.fromEntries(
  (Object.entries(FILES) as [Kind, string][]).map(([kind, file]) => [kind, ajv.compile(JSON.parse(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')))]),
) as Record<Kind, ValidateFunction>;

/** The first state's check (Validate for one schema, Discover for a batch): the parsed input, or the refusal. */
function zodCheck(kind: Kind, input: unknown): { ok: true } | { ok: false; message: string } {
  try {
    if (kind === '0.11') validateInput(input, Migrate011InputSchema);
    else if (kind === '0.14') validateInput(input, Migrate014InputSchema);
    else parseBatchInput(input);
    return { ok: true };
  } catch (error) {
    if (!(error instanceof MigrationRefusedError)) throw error;
    return { ok: false, message: error.message };
  }
}

function jsonSchemaErrors(kind: Kind, input: unknown): string[] {
  const validate = jsonSchema[kind];
  return validate(input) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(input)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** Which machine an input is for: a batch names schemas by list or pattern, a single run by `from`. */
function kindOf(input: Record<string, unknown>): Kind {
  if ('schemas' in input || 'schemaPattern' in input) return 'batch';
  if (input.from === '0.11' || input.from === '0.14') return input.from;
  throw new Error(`cannot tell which machine ${JSON.stringify(input)} is for (from: ${String(input.from)})`);
}

interface Example {
  line: number;
  kind: Kind;
  input: Record<string, unknown>;
}

/** Every execution input in README.md's ```json blocks: objects with `from`, and the Detail of put-events entries. */
function readmeExamples(): Example[] {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const examples: Example[] = [];
  for (const match of readme.matchAll(/^```json\n([\s\S]*?)^```$/gm)) {
    const line = readme.slice(0, match.index).split('\n').length;
    let parsed: unknown;
    try {
      parsed = JSON.parse(match[1]);
    } catch (error) {
      throw new Error(`README.md line ${line}: a json block that is not JSON: ${(error as Error).message}`);
    }
    const candidates: unknown[] = [];
    if (Array.isArray(parsed)) {
      // `aws events put-events --entries file://…`: the Detail is the execution input, as a JSON string
      for (const entry of parsed as Record<string, unknown>[]) {
        if (entry?.DetailType === MIGRATION_REQUESTED_DETAIL_TYPE) candidates.push(JSON.parse(String(entry.Detail)));
      }
    } else {
      candidates.push(parsed);
    }
    for (const input of candidates) {
      if (typeof input === 'object' && input !== null && 'from' in input) {
        examples.push({ line, kind: kindOf(input as Record<string, unknown>), input: input as Record<string, unknown> });
      }
    }
  }
  return examples;
}

describe('input JSON Schemas', () => {
  it.each(Object.values(FILES))('schemas/%s is what scripts/write-input-schemas.ts generates (run `npm run schemas`)', (file) => {
    const generated = inputSchemaFiles();
    expect(Object.keys(generated).sort()).toEqual(Object.values(FILES).sort());
    expect(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')).toBe(generated[file]);
  });

  it('every field of each schema is described, and the defaults are optional', () => {
    for (const file of Object.values(FILES)) {
      const schema = JSON.parse(readFileSync(path.join(SCHEMAS_DIR, file), 'utf8')) as { properties: Record<string, { description?: string }>; required: string[] };
      for (const [field, property] of Object.entries(schema.properties)) expect(property.description, `${file}: ${field}`).toBeTruthy();
      expect(schema.required, file).not.toContain('execute');
    }
  });

  const examples = readmeExamples();

  it('README.md has the console examples: 0.11 plan and execute, 0.14 in place and copy, batches by list and by pattern, an event', () => {
    const of = (kind: Kind) => examples.filter((e) => e.kind === kind).map((e) => e.input);
    expect(of('0.11').some((input) => input.execute !== true)).toBe(true);
    expect(of('0.11').some((input) => input.execute === true)).toBe(true);
    expect(of('0.14').some((input) => (input.strategy ?? 'in-place') === 'in-place')).toBe(true);
    expect(of('0.14').some((input) => input.strategy === 'copy')).toBe(true);
    expect(of('batch').some((input) => 'schemas' in input)).toBe(true);
    expect(of('batch').some((input) => 'schemaPattern' in input)).toBe(true);
  });

  it.each(examples.map((e) => [`line ${e.line} (${e.kind})`, e] as const))('README.md example at %s is valid for its JSON Schema and its first state', (_, example) => {
    expect(jsonSchemaErrors(example.kind, example.input)).toEqual([]);
    expect(zodCheck(example.kind, example.input)).toEqual({ ok: true });
  });

  const store = { main: { protocol: 's3', bucket: 'my-lab-bucket', location: 'dj' } };
  const bad: [string, Kind, unknown, string][] = [
    ['0.11 without schema', '0.11', { from: '0.11', stores: store }, 'schema'],
    ['0.11 with an unknown field', '0.11', { from: '0.11', schema: 'lab', stores: store, excute: true }, 'excute'],
    ['0.11 with a to field (0.11 inputs are strict)', '0.11', { from: '0.11', to: '0.12', schema: 'lab', stores: store }, 'to'],
    ['0.11 with execute as a string', '0.11', { from: '0.11', schema: 'lab', stores: store, execute: 'true' }, 'execute'],
    ['0.11 with an unknown mode', '0.11', { from: '0.11', schema: 'lab', stores: store, mode: 'copy' }, 'mode'],
    ['0.11 with credentials in a store', '0.11', { from: '0.11', schema: 'lab', stores: { main: { ...store.main, secret_key: 'x' } } }, 'secret_key'],
    ['0.11 with a store without bucket', '0.11', { from: '0.11', schema: 'lab', stores: { main: { protocol: 's3', location: 'dj' } } }, 'bucket'],
    ['0.14 without stores', '0.14', { from: '0.14', schema: 'lab' }, 'stores'],
    ['0.14 with an unknown strategy', '0.14', { from: '0.14', schema: 'lab', stores: store, strategy: 'parallel' }, 'strategy'],
    ['0.14 with an unknown step', '0.14', { from: '0.14', schema: 'lab', stores: store, steps: ['add_lineage'] }, 'steps'],
    ['0.14 to 3.0', '0.14', { from: '0.14', to: '3.0', schema: 'lab', stores: store }, 'to'],
    ['0.14 with a negative tolerance', '0.14', { from: '0.14', schema: 'lab', stores: store, tolerance: -1 }, 'tolerance'],
    ['batch with both schemas and schemaPattern', 'batch', { from: '0.11', schemas: ['a'], schemaPattern: 'a%', template: {} }, 'schemas'],
    ['batch with neither schemas nor schemaPattern', 'batch', { from: '0.11', template: {} }, 'schemas'],
    ['batch with both window fields', 'batch', { from: '0.14', schemas: ['a'], template: {}, windowMinutes: 60, windowEndsAt: '2026-01-01T06:00:00+01:00' }, 'window'],
    ['batch with a schema in the template', 'batch', { from: '0.14', schemas: ['a'], template: { schema: 'b' } }, 'template.schema'],
    ['batch with a window end without offset', 'batch', { from: '0.14', schemas: ['a'], template: {}, windowEndsAt: '2026-01-01 06:00' }, 'windowEndsAt'],
    ['batch with maxConcurrency 0', 'batch', { from: '0.14', schemas: ['a'], template: {}, maxConcurrency: 0 }, 'maxConcurrency'],
  ];

  it.each(bad)('%s: refused by the JSON Schema and by the first state, which names the field', (_, kind, input, field) => {
    expect(jsonSchemaErrors(kind, input)).not.toEqual([]);
    const checked = zodCheck(kind, input);
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.message).toContain(field);
  });
});
