// Bad-input catalog: every bad input below, to either migration, run with execute: true through the synthesized
// state machine, ends FAILED with a message that names what is wrong and says what to do, and leaves every database
// named after the schema (DDL and rows, journal included; no new `_v2`/`_backup_` database) and every object in the
// stores byte-for-byte as it was.
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { loadDataJointConfig, storeLocations } from '../../functions/core/config/datajoint-config.js';
import { acquireSchemaLock, readSchemaLock, releaseSchemaLock } from '../../functions/core/lock/schema-lock.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { silentProgress } from '../../functions/core/progress.js';
import { s3ClientConfig } from '../../functions/core/stores/s3-store.js';
import type { HandlerName } from '../../functions/handlers/names.js';
import { migrate011Handlers, migrate014Handlers, type PhaseInvoker } from '../../functions/handlers/registry.js';
import { createLocalDeps } from '../../functions/local/local-deps.js';
import { migrateLocally, migrateLocally014, type LocalMigration014Options, type LocalMigrationOptions } from '../../functions/local/migrate.js';
import { runLocally, type LocalRunResult } from '../../functions/local/runner.js';
import { buildExampleLab, declareLegacyTable, insertLegacyRows, type LegacyStores } from '../../functions/local/sandbox/legacy-pipeline.js';
import { buildExampleLabV014, createV014Schema, declareV014Table, insertV014Rows, v014Blob } from '../../functions/local/sandbox/v014-pipeline.js';
import { databaseChecksum, objectChecksum } from '../harness/checksums.js';
import { fileStore, freshBucket, freshFolder, freshLegacyStores, freshSchema, s3Store, sandbox } from '../harness/context.js';
import { writeDataJointConfig, writeDataJointConfig014 } from '../harness/migration.js';

type Migration = '0.11' | '0.14';

interface FixtureObject {
  store: string;
  key: string;
  bytes: Buffer;
  kind?: string;
}

interface Ctx {
  migration: Migration;
  schema: string;
  conn: Connection;
  bucket: string;
  folder: string;
  stores: LegacyStores;
  configPath: string;
  objects: FixtureObject[];
}

interface BadInput {
  name: string;
  migration: Migration;
  /** 0.14 only: build a bare schema instead of example_lab_v014 (the copy cases). */
  bare?: boolean;
  setup?: (ctx: Ctx) => Promise<void>;
  run: (ctx: Ctx) => Promise<LocalRunResult>;
  /** What is wrong and what to do. */
  expectMessage: RegExp;
  /** The error name the run ends with (default MigrationRefused). */
  expectError?: string;
}

// ----- runs ------------------------------------------------------------------------------------------------

/** 0.11 → 0.12 as the CLI runs it, in execute mode, DJ_* variables ignored unless given. */
function run011(ctx: Ctx, overrides: Partial<LocalMigrationOptions> = {}): Promise<LocalRunResult> {
  return migrateLocally({
    configPath: ctx.configPath,
    schema: ctx.schema,
    defaultStore: 'external',
    mode: 'in-place',
    keepLegacy: false,
    execute: true,
    progress: silentProgress,
    env: {},
    ...overrides,
  });
}

/** 0.14 → 2.0 in execute mode; `input` adds to or overrides { schema }. */
function run014(ctx: Ctx, input: Record<string, unknown> = {}, overrides: Partial<LocalMigration014Options> = {}): Promise<LocalRunResult> {
  return migrateLocally014({ configPath: ctx.configPath, execute: true, progress: silentProgress, env: {}, input: { schema: ctx.schema, ...input }, ...overrides });
}

/** A raw execution input straight to the state machine with the real handlers (what StartExecution would get). */
async function raw(ctx: Ctx, input: ((stores: Record<string, unknown>) => unknown) | string | unknown[]): Promise<LocalRunResult> {
  const config = await loadDataJointConfig(ctx.configPath, 'external', {});
  const deps = createLocalDeps(config, silentProgress);
  const stores = storeLocations(config);
  const execution = typeof input === 'function' ? input(stores) : input;
  return ctx.migration === '0.11'
    ? runLocally({ workflow: 'migrate011', input: execution, handlers: migrate011Handlers(() => deps) })
    : runLocally({ workflow: 'migrate014', input: execution, handlers: migrate014Handlers(() => deps) });
}

/** A valid execute-mode input for the context's migration, with `changes` applied (undefined deletes a field). */
function input(ctx: Ctx, stores: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const base: Record<string, unknown> =
    ctx.migration === '0.11'
      ? { from: '0.11', schema: ctx.schema, defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, stores }
      : { from: '0.14', schema: ctx.schema, execute: true, stores };
  const result = { ...base, ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete result[key];
  return result;
}

// ----- fixture changes -------------------------------------------------------------------------------------

function s3(): S3Client {
  const context = sandbox();
  return new S3Client(s3ClientConfig({ endpoint: context.s3.endpoint, bucket: 'unused' }, context.s3.credentials));
}

async function removeObject(ctx: Ctx, object: FixtureObject): Promise<void> {
  if (object.key.startsWith('/')) return rm(object.key);
  const client = s3();
  try {
    await client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: object.key }));
  } finally {
    client.destroy();
  }
}

async function replaceObject(ctx: Ctx, object: FixtureObject, bytes: Buffer): Promise<void> {
  if (object.key.startsWith('/')) return writeFile(object.key, bytes);
  const client = s3();
  try {
    await client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key: object.key, Body: bytes }));
  } finally {
    client.destroy();
  }
}

function objectOf(ctx: Ctx, store: string, kind?: string): FixtureObject {
  const found = ctx.objects.find((object) => object.store === store && (kind === undefined || object.kind === kind));
  if (!found) throw new Error(`no fixture object in store ${store}${kind ? ` of kind ${kind}` : ''}`);
  return found;
}

async function columnType(ctx: Ctx, table: string, column: string): Promise<string> {
  const [row] = await select<{ type: string }>(ctx.conn, 'SELECT COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?', [
    ctx.schema,
    table,
    column,
  ]);
  return row.type;
}

/** Writes the context's config again without some stores, returning its path. */
async function configWithout(ctx: Ctx, ...names: string[]): Promise<string> {
  const kept = Object.fromEntries(Object.entries(ctx.stores).filter(([name]) => !names.includes(name)));
  return ctx.migration === '0.11' ? writeDataJointConfig(ctx.folder, kept) : writeDataJointConfig014(ctx.folder, kept);
}

/** The context's config with other `database.*` entries. */
async function configWithDatabase(ctx: Ctx, entries: Record<string, unknown>): Promise<string> {
  const config = { ...JSON.parse(await readFile(ctx.configPath, 'utf8')), ...entries };
  const path = `${ctx.configPath}.db.json`;
  await writeFile(path, JSON.stringify(config));
  return path;
}

class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

const crashOn = (name: HandlerName) => (handlers: Partial<Record<HandlerName, PhaseInvoker>>) => ({
  ...handlers,
  [name]: async () => {
    throw new SimulatedCrash(`simulated crash before ${name}`);
  },
});

/** The crashed run has ended: its lock (if its failure path left one) goes, as stopping that execution would; the journal stays. */
async function releaseLockOfEndedRun(ctx: Ctx): Promise<void> {
  const lock = await readSchemaLock(ctx.conn, ctx.schema);
  if (lock) expect(await releaseSchemaLock(ctx.conn, ctx.schema, lock.holder)).toBe(true);
}

const HOSTILE_TABLE = 'we`ird\'tab"';
const HOSTILE_COLUMN = 'p`i"c\'';
const escapeRe = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A bare 0.14 schema for the copy strategy: animal(animal_id, species) with two rows, no external storage. */
async function bareV014(ctx: Ctx): Promise<void> {
  await createV014Schema(ctx.conn, ctx.schema);
  await declareV014Table(ctx.conn, ctx.schema, {
    name: 'animal',
    primaryKey: [{ name: 'animal_id', sqlType: 'int', comment: 'animal number' }],
    attributes: [{ name: 'species', type: 'varchar(32)', default: "'mouse'", comment: 'species name' }],
  });
  await insertV014Rows(ctx.conn, ctx.schema, 'animal', [{ animal_id: 1, species: 'rat' }, { animal_id: 2 }], {});
}

// ----- the catalog -----------------------------------------------------------------------------------------

const INVALID = /the execution input is not valid; fix these fields:/;
const OTHER_RUN = 'arn:aws:states:eu-west-1:123456789012:execution:djmigrate-migrate:someone-else';
const LOCKED = new RegExp(`schema \\S+ is (?:locked|being migrated) by another (?:djmigrate )?run: ${escapeRe(OTHER_RUN)} \\([^)]*\\)[\\s\\S]*wait for (?:it|that run) to (?:end|finish),? or stop that execution`, 'i');

const CASES: BadInput[] = [
  // raw execution inputs (what StartExecution would get)
  { name: 'input is not an object', migration: '0.11', run: (ctx) => raw(ctx, 'migrate lab please'), expectMessage: /the execution input is not valid; fix these fields:\n {2}- \(input\): .*object/ },
  { name: 'input is an array', migration: '0.14', run: (ctx) => raw(ctx, ['0.14', ctx.schema]), expectMessage: /the execution input is not valid; fix these fields:\n {2}- \(input\): .*object/ },
  { name: '0.11: missing from', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { from: undefined })), expectMessage: new RegExp(`${INVALID.source}\\n {2}- from: .*"0\\.11"`) },
  { name: '0.11 workflow given from 0.14', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { from: '0.14' })), expectMessage: /fix these fields:\n {2}- from: .*"0\.11"/ },
  { name: '0.11: missing schema', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { schema: undefined })), expectMessage: /fix these fields:\n {2}- schema: .*string/ },
  { name: '0.11: schema name over 64 characters', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { schema: 's'.repeat(65) })), expectMessage: /fix these fields:\n {2}- schema: .*64/ },
  { name: '0.11: unknown field', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { tables: ['frame'] })), expectMessage: /fix these fields:\n {2}- \(input\): unknown field\(s\) tables$/ },
  {
    name: '0.11: credentials in the input',
    migration: '0.11',
    run: (ctx) => raw(ctx, (s) => input(ctx, s, { secret_key: 'hunter2' })),
    expectMessage: /unknown field\(s\) secret_key \(credentials never go into the execution input: the Lambda role and the database secret provide them\)/,
  },
  { name: '0.11: bad mode', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { mode: 'copy' })), expectMessage: /fix these fields:\n {2}- mode: .*"in-place".*"native"/ },
  { name: '0.11: bad defaultStore name', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { defaultStore: 'Ext-1' })), expectMessage: /- defaultStore: must be a store name 0\.12 accepts \(\[a-z\]\[a-z0-9_\]\*\)/ },
  {
    name: '0.11: store with an unknown protocol',
    migration: '0.11',
    run: (ctx) => raw(ctx, (s) => input(ctx, s, { stores: { ...s, external: { protocol: 'gcs', bucket: ctx.bucket, location: 'lab' } } })),
    expectMessage: /- stores\.external\.protocol: Invalid discriminator value\. Expected 's3' \| 'file'/,
  },
  {
    name: '0.11: s3 store without bucket',
    migration: '0.11',
    run: (ctx) => raw(ctx, (s) => input(ctx, s, { stores: { ...s, external: { protocol: 's3', endpoint: sandbox().s3.endpoint, location: 'lab' } } })),
    expectMessage: /- stores\.external\.bucket: .*string/,
  },
  { name: '0.11: hashConcurrency 0', migration: '0.11', run: (ctx) => raw(ctx, (s) => input(ctx, s, { hashConcurrency: 0 })), expectMessage: /- hashConcurrency: .*>=\s?1/ },
  // raw execution inputs, 0.14
  { name: '0.14 workflow given from 0.11', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { from: '0.11' })), expectMessage: /fix these fields:\n {2}- from: .*"0\.14"/ },
  { name: '0.14: to 3.0', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { to: '3.0' })), expectMessage: /- to: .*"2\.0"/ },
  { name: '0.14: bad strategy', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { strategy: 'rewrite' })), expectMessage: /- strategy: .*"in-place".*"copy"/ },
  { name: '0.14: unknown step', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { steps: ['update_blob_comments', 'drop_everything'] })), expectMessage: /- steps\.1: .*"update_blob_comments"/ },
  { name: '0.14: empty steps', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { steps: [] })), expectMessage: /- steps: .*1/ },
  { name: '0.14: bad storeMap name', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { storeMap: { main: 'Main-Store' } })), expectMessage: /- storeMap\.main: must be a DataJoint store name \(\[a-z\]\[a-z0-9_\]\*\)/ },
  {
    name: '0.14: credentials in a store spec',
    migration: '0.14',
    run: (ctx) => raw(ctx, (s) => input(ctx, s, { stores: { ...s, main: { ...(s.main as object), access_key: 'AKIA', secret_key: 'hunter2' } } })),
    expectMessage: /- stores\.main: unknown field\(s\) access_key, secret_key \(credentials never go into the execution input/,
  },
  { name: '0.14: negative tolerance', migration: '0.14', run: (ctx) => raw(ctx, (s) => input(ctx, s, { strategy: 'copy', tolerance: -1 })), expectMessage: /- tolerance: .*0/ },

  // the schema and the server, 0.11
  { name: '0.11: unknown schema', migration: '0.11', run: (ctx) => run011(ctx, { schema: `${ctx.schema}_nope` }), expectMessage: /schema \S+_nope does not exist on this server: check the schema name and the database host in the config/ },
  {
    name: '0.11: schema without ~external',
    migration: '0.11',
    setup: async (ctx) => {
      await execute(ctx.conn, `DROP TABLE ${tableRef(ctx.schema, 'frame')}, ${tableRef(ctx.schema, 'recording')}, ${tableRef(ctx.schema, 'session')}`);
      await execute(ctx.conn, `DROP TABLE ${tableRef(ctx.schema, '~external')}`);
    },
    run: (ctx) => run011(ctx),
    expectMessage: /has no ~external table: it is not a DataJoint 0\.11 schema with external storage, so there is nothing to migrate/,
  },
  {
    name: '0.11: store config missing',
    migration: '0.11',
    run: async (ctx) => run011(ctx, { configPath: await configWithout(ctx, 'external-local') }),
    expectMessage: /store "local" \(0\.11 config key "external-local", used by frame\.img\) is missing from the config; add "external-local"/,
  },
  {
    name: '0.11: database host that does not resolve',
    migration: '0.11',
    run: async (ctx) => run011(ctx, { configPath: await configWithDatabase(ctx, { 'database.host': 'no-such-host.invalid' }) }),
    expectMessage: /cannot log in to MySQL at no-such-host\.invalid:\d+ as \S+ \((ENOTFOUND|EAI_AGAIN)\); check database\.host, database\.user and database\.password/,
  },
  {
    name: '0.11: database port where nothing listens',
    migration: '0.11',
    run: async (ctx) => run011(ctx, { configPath: await configWithDatabase(ctx, { 'database.host': '127.0.0.1', 'database.port': 9 }) }),
    // transient (a restarting server), so retried first; the last attempt's message says what to check
    expectError: 'TransientError',
    expectMessage: /cannot reach MySQL at 127\.0\.0\.1:9 \(ECONNREFUSED\); check database\.host and database\.port \(or DJ_HOST\) and that the server is running/,
  },
  {
    name: '0.11: wrong database password',
    migration: '0.11',
    run: (ctx) => run011(ctx, { env: { DJ_PASS: 'definitely-wrong' } }),
    expectMessage: /cannot log in to MySQL at .* \(ER_ACCESS_DENIED_ERROR\); check database\.host, database\.user and database\.password/,
  },
  {
    name: '0.11: a referenced object is missing',
    migration: '0.11',
    setup: (ctx) => removeObject(ctx, objectOf(ctx, 'external-local')),
    run: (ctx) => run011(ctx),
    expectMessage: /1 referenced object\(s\) are missing from store "local" .*; restore them before migrating/,
  },
  {
    name: '0.11: an object of the wrong size',
    migration: '0.11',
    setup: async (ctx) => {
      const object = objectOf(ctx, 'external');
      await replaceObject(ctx, object, Buffer.concat([object.bytes, Buffer.from('x')]));
    },
    run: (ctx) => run011(ctx),
    expectMessage: /1 object\(s\) in store "external" do not have the size ~external recorded \(truncated or replaced\)/,
  },
  {
    name: '0.11: unreachable store',
    migration: '0.11',
    run: async (ctx) => {
      const unreachable = { ...ctx.stores, external: { ...ctx.stores.external, spec: { ...ctx.stores.external.spec, endpoint: '127.0.0.1:9' } } } as LegacyStores;
      return run011(ctx, { configPath: await writeDataJointConfig(ctx.folder, unreachable) });
    },
    expectMessage: /store "external" \(s3:\/\/.*\) cannot be listed: .*; check its endpoint, bucket, location and credentials/,
  },
  {
    name: '0.11: hostile table and column names, value not matching ~external',
    migration: '0.11',
    setup: async (ctx) => {
      await declareLegacyTable(ctx.conn, ctx.schema, { name: HOSTILE_TABLE, primaryKey: [{ name: 'id', sqlType: 'int' }], attributes: [{ name: HOSTILE_COLUMN, type: 'external-local' }] });
      const [object] = await insertLegacyRows(ctx.conn, ctx.schema, HOSTILE_TABLE, [{ id: 1, [HOSTILE_COLUMN]: Buffer.from('hostile bytes') }], ctx.stores);
      await execute(ctx.conn, `UPDATE ${tableRef(ctx.schema, HOSTILE_TABLE)} SET ${quoteId(HOSTILE_COLUMN)} = LOWER(${quoteId(HOSTILE_COLUMN)})`);
      await removeObject(ctx, object);
    },
    run: (ctx) => run011(ctx),
    expectMessage: new RegExp(`${escapeRe(`${HOSTILE_TABLE}.${HOSTILE_COLUMN}`)} has values without an exactly matching ~external row[\\s\\S]*differing only in letter case[\\s\\S]*id=1`),
  },
  {
    name: '0.11: value matching ~external only under the case-insensitive collation',
    migration: '0.11',
    setup: async (ctx) => {
      const [{ collation }] = await select<{ collation: string }>(
        ctx.conn,
        "SELECT COLLATION_NAME AS collation FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = '~external' AND COLUMN_NAME = 'hash'",
        [ctx.schema],
      );
      expect(collation).toMatch(/_ci$/);
      await execute(ctx.conn, `UPDATE ${tableRef(ctx.schema, 'recording')} SET trace = LOWER(trace) WHERE session_id = 2`);
    },
    run: (ctx) => run011(ctx),
    expectMessage: /recording\.trace has values without an exactly matching ~external row \(missing, or differing only in letter case[\s\S]*session_id=2, rec_id=1/,
  },
  {
    name: '0.11: value with the wrong store suffix',
    migration: '0.11',
    setup: async (ctx) => {
      const [{ value }] = await select<{ value: string }>(ctx.conn, `SELECT hash AS value FROM ${tableRef(ctx.schema, '~external')} WHERE hash LIKE '%shared'`);
      expect(value.endsWith('shared')).toBe(true);
      await execute(ctx.conn, `UPDATE ${tableRef(ctx.schema, 'frame')} SET img = ? WHERE frame = 1`, [value]);
    },
    run: (ctx) => run011(ctx),
    expectMessage: /frame\.img \(type external-local\) has values that are not a 43-character hash followed by the suffix "local"; fix or remove these rows/,
  },
  {
    name: '0.11: comment marker with extra colons',
    migration: '0.11',
    setup: async (ctx) => {
      const type = await columnType(ctx, 'frame', 'img');
      await execute(ctx.conn, `ALTER TABLE ${tableRef(ctx.schema, 'frame')} MODIFY img ${type} NOT NULL COMMENT '::external-local::frame: image'`);
    },
    run: (ctx) => run011(ctx),
    expectMessage: /frame\.img references ~external but its comment "::external-local::frame: image" has no :external\[-store\]: marker, so its store is unknown; fix the comment/,
  },
  {
    name: '0.11: comment over 1024 characters with the 0.12 marker',
    migration: '0.11',
    setup: async (ctx) => {
      await declareLegacyTable(ctx.conn, ctx.schema, {
        name: 'long_note',
        primaryKey: [{ name: 'id', sqlType: 'int' }],
        attributes: [{ name: 'pic', type: 'external', nullable: true, comment: 'c'.repeat(1014) }],
      });
    },
    run: (ctx) => run011(ctx),
    expectMessage: /long_note\.pic: with the 0\.12 marker its comment would be 1029 characters, over MySQL's 1024; shorten the comment first/,
  },
  {
    name: '0.11: schema locked by another run',
    migration: '0.11',
    setup: async (ctx) => {
      await acquireSchemaLock(ctx.conn, ctx.schema, { holder: OTHER_RUN, description: '0.11 -> 0.12 in-place' });
    },
    run: (ctx) => run011(ctx),
    expectMessage: LOCKED,
  },

  {
    name: '0.11: schema mid-migration by a run with other options',
    migration: '0.11',
    setup: async (ctx) => {
      const crashed = await run011(ctx, { mode: 'native', wrapHandlers: crashOn('hash') });
      expect(crashed.error?.name).toBe('SimulatedCrash');
      await releaseLockOfEndedRun(ctx);
    },
    run: (ctx) => run011(ctx, { mode: 'in-place' }),
    expectMessage: /has a djmigrate run started with --mode native --default-store external; this run asks for --mode in-place --default-store external\. Rerun with the original options to finish it/,
  },

  // the schema and the server, 0.14
  {
    name: '0.14: unknown schema',
    migration: '0.14',
    run: (ctx) => run014(ctx, { schema: `${ctx.schema}_nope` }),
    expectMessage: /schema \S+_nope does not exist on this server: check the schema name and the database host in the config/,
  },
  {
    name: '0.14: store config missing',
    migration: '0.14',
    run: async (ctx) => run014(ctx, {}, { configPath: await configWithout(ctx, 'local') }),
    expectMessage: /sample\.scan uses store "local", which is not in the config; add it \(the 0\.14 store spec\) and rerun/,
  },
  {
    name: '0.14: wrong database user',
    migration: '0.14',
    run: (ctx) => run014(ctx, {}, { env: { DJ_USER: 'nobody_here' } }),
    expectMessage: /cannot log in to MySQL at .* as nobody_here \(ER_ACCESS_DENIED_ERROR\); check database\.host, database\.user and database\.password/,
  },
  {
    name: '0.14: a blob object is missing',
    migration: '0.14',
    setup: (ctx) => removeObject(ctx, objectOf(ctx, 'main', 'blob')),
    run: (ctx) => run014(ctx),
    expectMessage: /sample\.waveform(_opt)? \(~external_main [0-9a-f]{32}\): object \S+ is missing from store "main" .*; restore it and rerun/,
  },
  {
    name: '0.14: a managed file is missing',
    migration: '0.14',
    setup: (ctx) => removeObject(ctx, objectOf(ctx, 'local', 'filepath')),
    run: (ctx) => run014(ctx),
    expectMessage: /sample\.scan \(~external_local [0-9a-f]{32}\): object \S+ is missing from store "local" .*; restore it and rerun/,
  },
  {
    name: '0.14: an attachment of the wrong size',
    migration: '0.14',
    setup: async (ctx) => {
      const object = objectOf(ctx, 'main', 'attach');
      await replaceObject(ctx, object, Buffer.concat([object.bytes, Buffer.from('!')]));
    },
    run: (ctx) => run014(ctx),
    expectMessage: /sample\.report \(~external_main [0-9a-f]{32}\): object \S+ has \d+ bytes but ~external_main records \d+; restore the original and rerun/,
  },
  {
    name: '0.14: a blob corrupt at the same size (verifyObjects)',
    migration: '0.14',
    setup: async (ctx) => {
      const object = objectOf(ctx, 'main', 'blob');
      const corrupt = Buffer.from(object.bytes);
      corrupt[corrupt.length - 1] ^= 0xff;
      await replaceObject(ctx, object, corrupt);
    },
    run: (ctx) => run014(ctx, { verifyObjects: true }),
    expectMessage: /object \S+ does not hash to its recorded md5 [0-9a-f]{32}; it is corrupt or was replaced/,
  },
  {
    name: '0.14: hostile table and column names with a missing object',
    migration: '0.14',
    setup: async (ctx) => {
      await declareV014Table(ctx.conn, ctx.schema, { name: HOSTILE_TABLE, primaryKey: [{ name: 'id', sqlType: 'int' }], attributes: [{ name: HOSTILE_COLUMN, type: 'blob@main', comment: 'hostile' }] });
      const [object] = await insertV014Rows(ctx.conn, ctx.schema, HOSTILE_TABLE, [{ id: 1, [HOSTILE_COLUMN]: v014Blob(Buffer.from('hostile bytes')) }], ctx.stores);
      await removeObject(ctx, object);
    },
    run: (ctx) => run014(ctx),
    expectMessage: new RegExp(`${escapeRe(`${HOSTILE_TABLE}.${HOSTILE_COLUMN}`)} \\(~external_main [0-9a-f]{32}\\): object \\S+ is missing from store "main"`),
  },
  {
    name: '0.14: external column comment over 1024 characters with the 2.x marker',
    migration: '0.14',
    setup: async (ctx) => {
      await declareV014Table(ctx.conn, ctx.schema, { name: 'long_note', primaryKey: [{ name: 'id', sqlType: 'int' }], attributes: [{ name: 'pic', type: 'blob@main', nullable: true, comment: 'c'.repeat(1012) }] });
    },
    run: (ctx) => run014(ctx),
    expectMessage: /long_note\.pic: the 2\.x comment would be \d+ characters, over MySQL's 1024; shorten the column comment and rerun/,
  },
  {
    name: '0.14: plain column comment over 1024 characters with its type marker',
    migration: '0.14',
    setup: async (ctx) => {
      await execute(ctx.conn, `CREATE TABLE ${tableRef(ctx.schema, 'long_plain')} (id int NOT NULL, gain float NOT NULL COMMENT '${'g'.repeat(1020)}', PRIMARY KEY (id)) ENGINE=InnoDB`);
    },
    run: (ctx) => run014(ctx),
    expectMessage: /long_plain\.gain: with the marker :float32: its comment would be \d+ characters, over the 1024 MySQL allows; shorten the comment, then rerun/,
  },
  {
    name: '0.14: external column whose marker has extra colons',
    migration: '0.14',
    setup: async (ctx) => {
      await execute(ctx.conn, `ALTER TABLE ${tableRef(ctx.schema, 'sample')} MODIFY waveform_opt binary(16) DEFAULT NULL COMMENT '::blob@main::optional: external blob'`);
    },
    run: (ctx) => run014(ctx),
    expectMessage: /sample\.waveform_opt references ~external_main but its comment "::blob@main::optional: external blob" is not a 0\.14 marker .*; fix the comment first/,
  },
  {
    name: '0.14: blob@ column that is not binary(16)',
    migration: '0.14',
    setup: async (ctx) => {
      await execute(ctx.conn, `CREATE TABLE ${tableRef(ctx.schema, 'odd')} (id int NOT NULL, pic varbinary(16) DEFAULT NULL COMMENT ':blob@main:hand made', PRIMARY KEY (id)) ENGINE=InnoDB`);
    },
    run: (ctx) => run014(ctx),
    expectMessage: /odd\.pic is marked :blob@main: but is varbinary\(16\), not binary\(16\); fix the column by hand/,
  },
  {
    name: '0.14: external column in an index',
    migration: '0.14',
    setup: async (ctx) => {
      await execute(ctx.conn, `CREATE INDEX wave_label ON ${tableRef(ctx.schema, 'sample')} (waveform, label)`);
    },
    run: (ctx) => run014(ctx),
    expectMessage: /sample\.waveform is part of index wave_label; a JSON column cannot be indexed, drop the index and rerun/,
  },
  {
    name: '0.14: schema locked by another run',
    migration: '0.14',
    setup: async (ctx) => {
      await acquireSchemaLock(ctx.conn, ctx.schema, { holder: OTHER_RUN, description: '0.14 -> 2.0 in-place' });
    },
    run: (ctx) => run014(ctx),
    expectMessage: LOCKED,
  },
  {
    name: '0.14: schema mid-migration by a run with other settings',
    migration: '0.14',
    setup: async (ctx) => {
      const crashed = await run014(ctx, { copyFiles: true }, { wrapHandlers: crashOn('migrateColumn014') });
      expect(crashed.error?.name).toBe('SimulatedCrash');
      await releaseLockOfEndedRun(ctx);
    },
    run: (ctx) => run014(ctx, { copyFiles: false }),
    expectMessage: /has an unfinished migrate_external_storage run started with .*; this run asks for .*\. Rerun with the original --copy-files\/--store-map to finish it/,
  },
  {
    name: '0.14 copy: destination schema missing',
    migration: '0.14',
    bare: true,
    run: (ctx) => run014(ctx, { strategy: 'copy' }),
    expectMessage: /schema \S+_v2 does not exist on this server; check the name and the database host in the config/,
  },
  {
    name: '0.14 copy: destination table with a NOT NULL column lacking a default',
    migration: '0.14',
    bare: true,
    setup: async (ctx) => {
      const dest = `${ctx.schema}_v2`;
      await execute(ctx.conn, `CREATE DATABASE ${quoteId(dest)}`);
      await execute(
        ctx.conn,
        `CREATE TABLE ${tableRef(dest, 'animal')} (animal_id int NOT NULL COMMENT 'animal number', species varchar(32) NOT NULL DEFAULT 'mouse' COMMENT 'species name', weight float NOT NULL COMMENT 'grams', PRIMARY KEY (animal_id)) ENGINE=InnoDB`,
      );
    },
    run: (ctx) => run014(ctx, { strategy: 'copy' }),
    expectMessage: /\S+_v2\.animal\.weight is not in \S+\.animal and has no default and is NOT NULL; give it a default or add it to the source/,
  },
];

// ----- the test ----------------------------------------------------------------------------------------------

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function buildContext(testCase: BadInput): Promise<Ctx> {
  const prefix = testCase.migration === '0.11' ? 'bad011' : 'bad014';
  const schema = await freshSchema(prefix);
  cleanups.push(async () => {
    for (const { name } of await select<{ name: string }>(schema.conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${schema.name.replace(/_/g, '\\_')}%`])) {
      if (name !== schema.name) await schema.conn.query(`DROP DATABASE IF EXISTS ${quoteId(name)}`);
    }
    await schema.cleanup();
  });
  if (testCase.migration === '0.11') {
    const stores = await freshLegacyStores(prefix);
    const fixture = await buildExampleLab({ conn: schema.conn, database: schema.name, stores: stores.stores });
    const configPath = await writeDataJointConfig(stores.folder, stores.stores);
    return { migration: '0.11', schema: schema.name, conn: schema.conn, bucket: stores.bucket, folder: stores.folder, stores: stores.stores, configPath, objects: fixture.objects };
  }
  const [bucket, folder] = await Promise.all([freshBucket(prefix), freshFolder(prefix)]);
  const stores: LegacyStores = { main: { spec: s3Store(bucket, 'example014'), credentials: sandbox().s3.credentials }, local: { spec: fileStore(folder) } };
  const configPath = await writeDataJointConfig014(folder, stores, { local: { stage: folder } });
  const ctx: Ctx = { migration: '0.14', schema: schema.name, conn: schema.conn, bucket, folder, stores, configPath, objects: [] };
  if (testCase.bare) await bareV014(ctx);
  else ctx.objects = (await buildExampleLabV014({ conn: schema.conn, database: schema.name, stores })).objects;
  return ctx;
}

describe('bad-input catalog: refused with a clear message, database and stores byte-for-byte unchanged', () => {
  it('has at least 30 distinct cases across both migrations', () => {
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(CASES.some((c) => c.migration === '0.11') && CASES.some((c) => c.migration === '0.14')).toBe(true);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const ctx = await buildContext(testCase);
    await testCase.setup?.(ctx);
    const databaseBefore = await databaseChecksum(ctx.conn, ctx.schema);
    const objectsBefore = await objectChecksum([ctx.bucket], [ctx.folder]);
    expect(Object.keys(databaseBefore).length).toBeGreaterThan(0);
    if (!testCase.bare) expect(Object.keys(objectsBefore).length).toBeGreaterThan(0);

    const result = await testCase.run(ctx);

    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe(testCase.expectError ?? 'MigrationRefused');
    expect(result.error?.message).toMatch(testCase.expectMessage);
    expect(await databaseChecksum(ctx.conn, ctx.schema)).toEqual(databaseBefore);
    expect(await objectChecksum([ctx.bucket], [ctx.folder])).toEqual(objectsBefore);
  });
});
