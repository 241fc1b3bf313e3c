// The 0.14 → 2.0 commands of `djmigrate`. They call the core directly on this machine; the state-machine form of
// these flows is not built yet (see README "Status").
import { readFile, writeFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import { loadDataJointConfig, storeLocations, type DataJointConfig } from '../core/config/datajoint-config.js';
import { MigrationRefusedError } from '../core/errors.js';
import { compareQueryResults } from '../core/migrate014/compare.js';
import { convertConfig } from '../core/migrate014/convert-config.js';
import { cutover, rollback } from '../core/migrate014/cutover.js';
import { finalizeExternalTables } from '../core/migrate014/finalize.js';
import { migrateSchemaInPlace, parseSteps, planSchemaInPlace, IN_PLACE_STEPS, type InPlaceOptions } from '../core/migrate014/in-place.js';
import { silentProgress } from '../core/progress.js';
import { openObjectWriter } from '../core/stores/object-writer.js';
import { createLocalDeps } from './local-deps.js';

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

function inPlaceOptions(flags: InPlaceFlags, config: DataJointConfig): InPlaceOptions {
  if (flags.to !== undefined && flags.to !== '2.0') throw new MigrationRefusedError(`--to ${flags.to}: from 0.14 djmigrate migrates to 2.0`);
  if ((flags.strategy ?? 'in-place') !== 'in-place') throw new MigrationRefusedError(`--strategy ${flags.strategy}: only in-place is available so far; the copy strategy uses copy-table-data and compare`);
  return {
    schema: flags.schema,
    steps: parseSteps(flags.steps ?? IN_PLACE_STEPS.join(',')),
    backup: flags.backup ?? false,
    stores: storeLocations(config),
    storeMap: parseStoreMap(flags.storeMap),
    copyFiles: flags.copyFiles,
    verifyObjects: flags.verifyObjects,
    unsignedMarkers: flags.unsignedMarkers,
  };
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

export function plan014(flags: InPlaceFlags): Promise<number> {
  return withDatabase(flags.config, async (conn, config) => {
    const deps = createLocalDeps(config, silentProgress);
    const options = inPlaceOptions(flags, config);
    const plan = await planSchemaInPlace(conn, options, (name) => deps.openStore(name, options.stores[name]));
    console.log(JSON.stringify(plan, null, 2));
    return plan.status === 'refused' ? 1 : 0;
  });
}

export function run014(flags: InPlaceFlags): Promise<number> {
  return withDatabase(flags.config, async (conn, config) => {
    const deps = createLocalDeps(config, silentProgress);
    const options = inPlaceOptions(flags, config);
    const result = await migrateSchemaInPlace(conn, options, {
      openStore: (name) => deps.openStore(name, options.stores[name]),
      openWriter: (name) => openObjectWriter(options.stores[name], config.stores[name]?.credentials),
    });
    const path = flags.report ?? `djmigrate-report-${flags.schema}-014-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}.json`;
    await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`Schema ${flags.schema}: ${options.steps.join(', ')} done${result.backup ? `; backup in ${result.backup.backup}` : ''}. Report written to ${path}`);
    return 0;
  });
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
