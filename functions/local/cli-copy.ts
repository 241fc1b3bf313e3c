// The copy-strategy commands of `djmigrate` (0.14 → 2.0, issue 3 item 5): `create-parallel-schema` generates the
// `_v2` schema from the 0.14 one, `copy-table-data` copies one table (or, without --table, every table in
// foreign-key order) with the 0.14 external pointers converted to 2.x JSON. Both call the core directly on this
// machine; they print a JSON result and return the exit code (1 = refused, with the reason on stderr).
import { storeLocations } from '../core/config/datajoint-config.js';
import { MigrationRefusedError } from '../core/errors.js';
import { copySchemaData, copyTableData, createParallelSchema, planParallelSchema } from '../core/migrate014/copy.js';
import { silentProgress } from '../core/progress.js';
import { parseStoreMap, withDatabase } from './cli-014.js';
import { createLocalDeps } from './local-deps.js';

export interface CopyFlags {
  config: string;
  source: string;
  dest: string;
  table?: string;
  /** `old=new` store renames (the destination's codec markers use the new names). */
  storeMap?: string[];
  chunkRows?: string;
}

export interface ParallelSchemaFlags {
  config: string;
  source: string;
  dest: string;
  storeMap?: string[];
  unsignedMarkers?: boolean;
  /** Print the statements without running them. */
  dryRun?: boolean;
}

function parseChunkRows(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rows = Number(value);
  if (!Number.isInteger(rows) || rows < 1) throw new MigrationRefusedError(`--chunk-rows ${value}: give a whole number ≥ 1`);
  return rows;
}

export function copyTableDataCommand(flags: CopyFlags): Promise<number> {
  return withDatabase(flags.config, async (conn, config) => {
    const deps = createLocalDeps(config, silentProgress);
    const stores = storeLocations(config);
    const options = {
      source: flags.source,
      dest: flags.dest,
      stores,
      storeMap: parseStoreMap(flags.storeMap),
      chunkRows: parseChunkRows(flags.chunkRows),
      openStore: (name: string) => {
        const spec = stores[name];
        if (!spec) throw new MigrationRefusedError(`store "${name}" is not in the config; add it (the 0.14 store spec) and rerun`);
        return deps.openStore(name, spec);
      },
      openWriter: (name: string) => deps.openWriter(name, stores[name]),
    };
    const result = flags.table ? await copyTableData(conn, { ...options, table: flags.table }) : await copySchemaData(conn, options);
    console.log(JSON.stringify(result, null, 2));
    return 0;
  });
}

export function createParallelSchemaCommand(flags: ParallelSchemaFlags): Promise<number> {
  return withDatabase(flags.config, async (conn) => {
    const options = { source: flags.source, dest: flags.dest, storeMap: parseStoreMap(flags.storeMap), unsignedMarkers: flags.unsignedMarkers };
    if (flags.dryRun) {
      const plan = await planParallelSchema(conn, options);
      console.log(JSON.stringify(plan, null, 2));
      return plan.problems.length ? 1 : 0;
    }
    const result = await createParallelSchema(conn, options);
    console.log(JSON.stringify(result, null, 2));
    return 0;
  });
}
