// Scenario helpers for migration tests: a legacy pipeline in fresh stores, the user's DataJoint config file
// for it, local runs through the synthesized state machine, and snapshots to compare states.
import { createHash, randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { parseDataJointConfig, storeLocations } from '../../functions/core/config/datajoint-config.js';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { Migrate011InputSchema } from '../../functions/core/migrate011/input.js';
import { inspectSchema } from '../../functions/core/migrate011/inspect.js';
import { prepareMigration } from '../../functions/core/migrate011/prepare.js';
import { verifyMigration, type VerifyOptions, type VerifyStep } from '../../functions/core/migrate011/verify.js';
import { planStep, type Plan, type PlanCheckpoint, type PlanStepOptions } from '../../functions/core/migrate011/plan.js';
import type { OpenStore } from '../../functions/core/stores/object-store.js';
import type { Migrate011Input } from '../../functions/core/migrate011/input.js';
import { fileManifestStore } from '../../functions/core/stores/manifest-store.js';
import { silentProgress } from '../../functions/core/progress.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import { migrateLocally, type LocalMigrationOptions } from '../../functions/local/migrate.js';
import type { LegacyFixture, LegacyFixtureOptions, LegacyStore, LegacyStores } from '../../functions/local/sandbox/legacy-pipeline.js';
import { freshLegacyStores, freshSchema, sandbox, type FreshLegacyStores } from './context.js';

export interface Scenario extends FreshLegacyStores {
  schema: string;
  conn: Connection;
  configPath: string;
  fixture: LegacyFixture;
  run(overrides?: Partial<LocalMigrationOptions>): ReturnType<typeof migrateLocally>;
  cleanup(): Promise<void>;
}

/** Verify called again and again under one run (as the state machine's loop does) until it is done; the last call's result. */
export async function verifyToTheEnd(conn: Connection, input: Migrate011Input, openStore: OpenStore, options: VerifyOptions = {}): Promise<Extract<VerifyStep, { done: true }>> {
  const run = options.run ?? randomUUID();
  for (;;) {
    const step = await verifyMigration(conn, input, openStore, { ...options, run });
    if (step.done) return step;
  }
}

/**
 * The plan made in calls of `budgetMs` (each on a fresh inspection, as the Inspect handler makes it), the checkpoint
 * carried from call to call as JSON (as the execution's state carries it); the plan and how many calls it took.
 */
export async function planInCalls(conn: Connection, input: Migrate011Input, openStore: OpenStore, options: Omit<PlanStepOptions, 'checkpoint'>): Promise<{ plan: Plan; calls: number }> {
  let checkpoint: PlanCheckpoint | null = null;
  for (let calls = 1; ; calls++) {
    const step = await planStep(conn, input, await inspectSchema(conn, input, { checkValues: false }), openStore, { ...options, checkpoint });
    if (step.plan) return { plan: step.plan, calls };
    checkpoint = JSON.parse(JSON.stringify(step.checkpoint)) as PlanCheckpoint;
  }
}

/** `database.*` entries reaching the sandbox's server, as a user's config has them. */
function databaseEntries(): Record<string, unknown> {
  const url = new URL(sandbox().mysqlUrl);
  return {
    'database.host': url.hostname,
    'database.port': Number(url.port),
    'database.user': decodeURIComponent(url.username),
    'database.password': decodeURIComponent(url.password),
  };
}

/** A store as DataJoint's config writes it (credentials included, as users keep them there). */
function storeEntry(store: LegacyStore, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const spec = store.spec;
  return spec.protocol === 'file'
    ? { protocol: 'file', location: spec.location, ...extra }
    : { protocol: 's3', endpoint: spec.endpoint, bucket: spec.bucket, location: spec.location, access_key: store.credentials?.accessKeyId, secret_key: store.credentials?.secretAccessKey, ...extra };
}

async function writeConfig(folder: string, config: Record<string, unknown>): Promise<string> {
  const path = join(dirname(folder), `${basename(folder)}.dj_local_conf.json`);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** The user's 0.11 `dj_local_conf.json` (`external`, `external-<x>` keys), written beside (not in) the file store's folder. */
export async function writeDataJointConfig(folder: string, stores: LegacyStores, extra: Record<string, unknown> = {}): Promise<string> {
  const entries = Object.fromEntries(Object.entries(stores).map(([key, store]) => [key, storeEntry(store)]));
  return writeConfig(folder, { ...databaseEntries(), ...entries, ...extra });
}

/** The user's 0.14 `dj_local_conf.json` (a `stores` dict), written beside (not in) the file store's folder. */
export async function writeDataJointConfig014(folder: string, stores: LegacyStores, storeExtras: Record<string, Record<string, unknown>> = {}): Promise<string> {
  const entries = Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, storeEntry(store, storeExtras[name])]));
  return writeConfig(folder, { ...databaseEntries(), stores: entries });
}

export async function legacyScenario(
  prefix: string,
  build: (options: LegacyFixtureOptions) => Promise<LegacyFixture>,
  locations: Parameters<typeof freshLegacyStores>[1] = {},
): Promise<Scenario> {
  const [schema, stores] = await Promise.all([freshSchema(prefix), freshLegacyStores(prefix.replace(/_/g, '-'), locations)]);
  const fixture = await build({ conn: schema.conn, database: schema.name, stores: stores.stores });
  const configPath = await writeDataJointConfig(stores.folder, stores.stores);
  return {
    ...stores,
    schema: schema.name,
    conn: schema.conn,
    configPath,
    fixture,
    run: (overrides = {}) =>
      migrateLocally({ configPath, schema: schema.name, defaultStore: 'external', mode: 'in-place', keepLegacy: false, execute: true, progress: silentProgress, ...overrides }),
    cleanup: schema.cleanup,
  };
}

export interface ForeignKey {
  table_name: string;
  column_name: string;
  referenced: string;
  on_update: string;
  on_delete: string;
}

/** The foreign keys of one table, with their rules (constants on both sides of the information_schema join). */
export async function foreignKeysOf(conn: Connection, schema: string, table: string): Promise<ForeignKey[]> {
  return select<ForeignKey>(
    conn,
    `SELECT k.TABLE_NAME AS table_name, k.COLUMN_NAME AS column_name, k.REFERENCED_TABLE_NAME AS referenced, r.UPDATE_RULE AS on_update, r.DELETE_RULE AS on_delete
       FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND r.CONSTRAINT_SCHEMA = ? AND r.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.COLUMN_NAME`,
    [schema, table, schema, table],
  );
}

/** What the core phases need to run on a scenario without the state machine: its 0.11 input, stores and a manifest folder. */
export async function coreContext(scenario: Scenario) {
  const config = parseDataJointConfig(JSON.parse(await readFile(scenario.configPath, 'utf8')), 'external', {});
  const input = Migrate011InputSchema.parse({ from: '0.11', schema: scenario.schema, stores: storeLocations(config), execute: true });
  const openStore = (name: string) => openObjectStore(input.stores[name], config.stores[name].credentials);
  const manifests = fileManifestStore(join(dirname(scenario.configPath), `${scenario.schema}-manifests`));
  return { input, openStore, manifests };
}

/** Inspects and prepares the scenario's schema as the workflow does: its columns and objects journaled, none hashed. */
export async function prepareScenario(scenario: Scenario) {
  const context = await coreContext(scenario);
  const { conn } = scenario;
  const prepared = await prepareMigration(conn, context.input, await inspectSchema(conn, context.input), {
    openStore: context.openStore,
    progress: silentProgress,
    manifests: context.manifests,
    manifestKey: `${scenario.schema}/hash.jsonl`,
  });
  return { ...context, prepared };
}

/** Every user-visible fact of a schema: tables, column definitions in order, foreign keys, and all rows. */
export async function schemaSnapshot(conn: Connection, schema: string, options: { includeJournal?: boolean } = {}): Promise<Record<string, unknown>> {
  const tables = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [schema]))
    .map((row) => row.name)
    .filter((name) => options.includeJournal || !name.startsWith('~djmigrate_'));
  const snapshot: Record<string, unknown> = {};
  for (const table of tables) {
    const columns = await select<{ name: string; type: string; nullable: string; comment: string; ordinal: number; default_value: string | null }>(
      conn,
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_COMMENT AS comment, ORDINAL_POSITION AS ordinal, COLUMN_DEFAULT AS default_value
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [schema, table],
    );
    const foreignKeys = await foreignKeysOf(conn, schema, table);
    // Timestamps record when a row was written, not what it says.
    const content = columns.filter((column) => column.name !== 'timestamp' && column.name !== 'started_at' && column.name !== 'finished_at').map((column) => `HEX(${'`' + column.name.replace(/`/g, '``') + '`'})`);
    const rows = await select(conn, `SELECT ${content.join(', ')} FROM ${tableRef(schema, table)} ORDER BY ${content.join(', ')}`);
    snapshot[table] = { columns, foreignKeys, rows: rows.map((row) => Object.values(row)) };
  }
  return snapshot;
}

/** Every object in the scenario's bucket and folder: key → size and md5. */
export async function storeSnapshot(scenario: FreshLegacyStores): Promise<Record<string, string>> {
  const listing: Record<string, string> = {};
  const sources = [
    { store: openObjectStore(scenario.stores.external.spec, scenario.stores.external.credentials), prefix: '' },
    { store: openObjectStore(scenario.stores['external-local'].spec), prefix: `${scenario.folder}/` },
  ];
  for (const { store, prefix } of sources) {
    for await (const object of store.list(prefix)) {
      const bytes = object.key.startsWith('/') ? await readFile(object.key) : await streamToBuffer(await store.read(object.key));
      listing[object.key] = `${object.size}:${createHash('md5').update(bytes).digest('hex')}`;
    }
  }
  return listing;
}

async function streamToBuffer(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}
