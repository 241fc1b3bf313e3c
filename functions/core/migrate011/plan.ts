// What a migration would do, per store and column, and what stands in its way. Reads the database and lists
// the stores (a store bigger than `listingPassObjects` in passes over key ranges); writes nothing.
import type { Connection } from 'mysql2/promise';
import { LEGACY_EXTERNAL_TABLE, LEGACY_HASH_LENGTH, legacyConfigKey, legacyObjectKey } from '../datajoint/v011.js';
import { keyRangeCondition, keysetPages } from '../db/keyset.js';
import { indexProbe, quoteId, select, selectRaw, tableRef } from '../db/sql.js';
import { CallBudget } from '../call-budget.js';
import { Findings, type SavedFindings } from '../findings.js';
import { MigrationRefusedError } from '../errors.js';
import { expectedStoreKeys, inKeyRange, keyRanges, type KeyRange } from '../stores/key-ranges.js';
import { listObjects, type ListedObjects } from '../stores/listed-objects.js';
import type { ObjectStore, OpenStore } from '../stores/object-store.js';
import type { Migrate011Input } from './input.js';
import { estimateRun, type RunEstimate } from './estimate.js';
import { checkColumnsValues, type Inspection, type LegacyColumn, type ValueScan } from './inspect.js';
import { tempColumnMethod, type TempColumnMethod } from './temp-column.js';

const EXAMPLES = 10;
/** Rough local/Lambda figures the estimate assumes; the benchmark measures the real ones. */

export interface ColumnPlan {
  table: string;
  column: string;
  legacyType: string;
  store: string;
  nullable: boolean;
  rows: number;
  pointers: number;
  /** How its table gets the temporary column the fill writes (temp-column.ts). */
  tempColumn: 'online rebuild' | 'instant';
}

export interface StorePlan {
  store: string;
  legacyConfigKey: string;
  location: string;
  columns: number;
  pointers: number;
  objects: number;
  bytes: number;
  missingObjects: number;
  sizeMismatches: number;
}

export interface Plan {
  schema: string;
  mode: Migrate011Input['mode'];
  defaultStore: string;
  keepLegacy: boolean;
  status: 'ready' | 'nothing-to-do' | 'refused';
  legacyTable: 'present' | 'absent';
  columns: ColumnPlan[];
  alreadyMigrated: { table: string; column: string; store: string }[];
  stores: StorePlan[];
  problems: string[];
  /** Data and indexes of the tables rebuilt online for their temporary columns: free storage they need meanwhile. */
  rebuildBytes: number;
  estimatedSeconds: number;
  /** Duration, state transitions, Lambda GB-seconds, S3 requests and their list price on AWS (estimate.ts). */
  estimate: RunEstimate;
  /** S3 objects with a plain-MD5 ETag are not read (a sample is); their legacy SHA-256 is not checked. */
  trustEtag: boolean;
  /** S3 objects' MD5s come from an S3 Batch Operations Compute checksum job (a sample is read); their legacy SHA-256 is not checked. */
  s3BatchChecksum: boolean;
}

/** Where a plan made in several calls stands: what the calls before found, and where the next goes on. */
export interface PlanCheckpoint {
  /** The legacy columns (`table.column`) the counts are of: a schema whose columns changed meanwhile is planned anew. */
  columns: string[];
  /** Each column's rows and pointers, as its value scan counted them (null: not scanned yet). */
  counts: ({ rows: number; pointers: number } | null)[];
  /** Where the value scans stopped (null: all done). */
  values: ValueScan | null;
  /** The inspection's problems, the value scans' and those of the stores compared so far. */
  problems: string[];
  /** Each store's objects (`~external`'s rows by suffix) as the first call counted them: its passes are cut for them. */
  storeObjects: Record<string, number>;
  /** The stores compared so far, the last one in progress. */
  stores: StorePlan[];
  /** The store (in order), its pass, and the last `~external` hash of that pass compared (null: none yet). */
  cursor: { store: number; pass: number; after: string | null };
  /** The store in progress: its objects missing and those of another size so far. */
  missing: SavedFindings;
  mismatched: SavedFindings;
}

/** One call's outcome: the plan, or (out of time) the checkpoint the next call goes on from. */
export type PlanStep = { plan: Plan; checkpoint: null } | { plan: null; checkpoint: PlanCheckpoint };

export interface PlanStepOptions {
  /** Stop after about this long (ms), once something was done, between pages of `~external`. Default: to the end. */
  budgetMs?: number;
  /** The last call's checkpoint, to go on from. */
  checkpoint?: PlanCheckpoint | null;
  /** `~external` rows per page (tests set it small to cross pages). Default 10,000. */
  page?: number;
}

/** The plan of an inspected schema in one call; the columns whose values the inspection did not scan are scanned here. */
export async function planMigration(conn: Connection, input: Migrate011Input, inspection: Inspection, openStore: OpenStore): Promise<Plan> {
  const step = await planStep(conn, input, inspection, openStore);
  if (!step.plan) throw new Error('a plan without a budget stopped before its end');
  return step.plan;
}

/**
 * One call of planning: from the checkpoint (or the start), until the plan is made or the budget is spent; its value
 * scans are done in the first call, the stores' passes compared page by page of `~external` after.
 */
export async function planStep(conn: Connection, input: Migrate011Input, inspection: Inspection, openStore: OpenStore, options: PlanStepOptions = {}): Promise<PlanStep> {
  const budget = new CallBudget(options.budgetMs);
  const columnNames = inspection.legacyColumns.map((column) => `${column.table}.${column.column}`);
  const saved = options.checkpoint && JSON.stringify(options.checkpoint.columns) === JSON.stringify(columnNames) ? options.checkpoint : null;
  if (saved) {
    inspection.legacyColumns.forEach((column, i) => (column.counts = saved.counts[i] ?? undefined));
    inspection.problems.splice(0, inspection.problems.length, ...saved.problems);
  }
  const cursor = saved?.cursor ?? { store: 0, pass: 0, after: null };
  const storeNames = [...new Set(inspection.legacyColumns.map((column) => column.store))];
  // A store bigger than a listing may hold is compared in passes over key ranges (`~external` read once per pass),
  // cut for its objects as the first call counted them (one scan of `~external`), so every call cuts the same passes.
  const storeObjects = saved?.storeObjects ?? (await countStoreObjects(conn, inspection, storeNames));
  const objectsOf = (store: string) => storeObjects[store] ?? 0;
  const prefixOf = (spec: Migrate011Input['stores'][string]) => legacyObjectKey(spec.protocol, spec.location, input.schema, '');
  // a store missing from the input is not listed: one pass, its objects only counted
  const rangesOf = new Map(
    storeNames.map((store) => {
      const spec = input.stores[store];
      return [store, spec ? keyRanges(prefixOf(spec), expectedStoreKeys(objectsOf(store), input.mode === 'native'), input.listingPassObjects) : [{}]];
    }),
  );
  const list = (store: string, spec: Migrate011Input['stores'][string], range: KeyRange) => listStore(openStore(store), prefixOf(spec), range, store);
  // The stores with pointers are listed at once (a big bucket takes one request per 1,000 keys) while the database
  // scans the columns' values (a big table takes one long scan), then compared in order: as many next passes as
  // add up to one pass's objects, the others when their turn comes.
  const nextListings = new Map<string, Promise<ListedObjects>>();
  let prefetched = 0;
  for (const [i, store] of storeNames.entries()) {
    const spec = input.stores[store];
    if (i < cursor.store || !spec || !(await anyPointer(conn, input.schema, inspection.legacyColumns.filter((column) => column.store === store)))) continue;
    const objects = Math.min(objectsOf(store), input.listingPassObjects);
    if (nextListings.size && prefetched + objects > input.listingPassObjects) break;
    prefetched += objects;
    const listed = list(store, spec, rangesOf.get(store)![i === cursor.store ? cursor.pass : 0]!);
    listed.catch(() => undefined); // its refusal is raised where it is awaited
    nextListings.set(store, listed);
  }
  const problems = inspection.problems;
  const stores: StorePlan[] = saved?.stores ?? [];
  let missing = saved ? Findings.restore(saved.missing, EXAMPLES) : new Findings(EXAMPLES);
  let mismatched = saved ? Findings.restore(saved.mismatched, EXAMPLES) : new Findings(EXAMPLES);
  const checkpoint = (values: ValueScan | null = null): PlanStep => ({
    plan: null,
    checkpoint: { columns: columnNames, counts: inspection.legacyColumns.map((column) => column.counts ?? null), values, problems, storeObjects, stores, cursor, missing, mismatched },
  });
  if (!saved || saved.values) {
    const stopped = await checkColumnsValues(conn, inspection, { budget, resume: saved?.values });
    if (stopped) return checkpoint(stopped);
  }

  const columns: ColumnPlan[] = [];
  // one per table: a table's temporary columns come in one ALTER
  const methods = new Map<string, TempColumnMethod>();
  for (const table of new Set(inspection.legacyColumns.map((column) => column.table))) methods.set(table, await tempColumnMethod(conn, input.schema, table));
  for (const column of inspection.legacyColumns) {
    const method = methods.get(column.table)!;
    const counts = column.counts!;
    columns.push({
      table: column.table,
      column: column.column,
      legacyType: column.legacyType,
      store: column.store,
      nullable: column.nullable,
      rows: Number(counts.rows),
      pointers: Number(counts.pointers),
      tempColumn: method.rebuild ? 'online rebuild' : 'instant',
    });
  }
  for (; cursor.store < storeNames.length; cursor.store += 1, cursor.pass = 0) {
    const store = storeNames[cursor.store];
    const storeColumns = inspection.legacyColumns.filter((column) => column.store === store);
    const spec = input.stores[store];
    if (stores.length === cursor.store) {
      stores.push({
        store,
        legacyConfigKey: legacyConfigKey(storeColumns[0].suffix),
        location: spec ? describeLocation(spec) : '(not configured)',
        columns: storeColumns.length,
        pointers: columns.filter((column) => column.store === store).reduce((sum, column) => sum + column.pointers, 0),
        objects: 0,
        bytes: 0,
        missingObjects: 0,
        sizeMismatches: 0,
      });
    }
    const storePlan = stores[cursor.store];
    const ranges = rangesOf.get(store)!;
    for (; cursor.pass < ranges.length; cursor.pass += 1, cursor.after = null) {
      const range = ranges[cursor.pass];
      // out of the map: a listing is held no longer than its pass
      let listed = nextListings.get(store);
      nextListings.delete(store);
      for await (const page of referencedObjects(conn, input.schema, storeColumns, options.page ?? OBJECT_PAGE, spec && { prefix: prefixOf(spec), range }, cursor.after)) {
        if (budget.spent()) return checkpoint();
        budget.used();
        cursor.after = page[page.length - 1].hash;
        const objects = page.map((object) => ({ ...object, key: spec && legacyObjectKey(spec.protocol, spec.location, input.schema, object.hash) }));
        const inPass = objects.filter((object) => object.key === undefined || inKeyRange(object.key, range));
        storePlan.objects += inPass.length;
        storePlan.bytes += inPass.reduce((sum, object) => sum + object.size, 0);
        if (!spec || inPass.length === 0) continue;
        // listed only where objects are referenced: a store no pointer uses need not be reachable
        listed ??= list(store, spec, range);
        const existing = await listed;
        for (const { key, size: recorded } of inPass) {
          const size = existing.get(key!)?.size;
          if (size === undefined) missing.push(key!);
          else if (size !== recorded) mismatched.push(`${key}: ${size} bytes, ${LEGACY_EXTERNAL_TABLE} says ${recorded}`);
        }
      }
      // a listing started ahead for a pass none of whose objects are referenced ends before the next pass's starts
      // (one at a time); its error does not matter here
      await listed?.catch(() => undefined);
    }
    storePlan.missingObjects = missing.count;
    storePlan.sizeMismatches = mismatched.count;
    if (missing.count) {
      problems.push(`${missing.count} referenced object(s) are missing from store "${store}" (${storePlan.location}); restore them before migrating:\n      ${missing.examples.join('\n      ')}`);
    }
    if (mismatched.count) {
      problems.push(`${mismatched.count} object(s) in store "${store}" do not have the size ${LEGACY_EXTERNAL_TABLE} recorded (truncated or replaced):\n      ${mismatched.examples.join('\n      ')}`);
    }
    missing = new Findings(EXAMPLES);
    mismatched = new Findings(EXAMPLES);
  }
  const estimate = estimateRun({
    stores: stores.map((store) => ({ objects: store.objects, bytes: store.bytes, s3: input.stores[store.store]?.protocol === 's3' })),
    columnRows: columns.map((column) => column.rows),
    mode: input.mode,
    trustEtag: input.trustEtag,
    s3BatchChecksum: input.s3BatchChecksum,
    hashConcurrency: input.hashConcurrency,
    distributedHashingFrom: input.distributedHashingFrom,
    listingPassObjects: input.listingPassObjects,
  });
  const status = problems.length ? 'refused' : inspection.legacyColumns.length === 0 && !inspection.legacyTablePresent ? 'nothing-to-do' : 'ready';
  const plan: Plan = {
    schema: input.schema,
    mode: input.mode,
    defaultStore: input.defaultStore,
    keepLegacy: input.keepLegacy,
    status,
    legacyTable: inspection.legacyTablePresent ? 'present' : 'absent',
    columns,
    alreadyMigrated: inspection.migratedColumns,
    stores,
    problems,
    rebuildBytes: [...methods.values()].reduce((sum, method) => sum + (method.rebuild ? method.tableBytes : 0), 0),
    estimatedSeconds: estimate.seconds,
    estimate,
    trustEtag: input.trustEtag,
    s3BatchChecksum: input.s3BatchChecksum,
  };
  return { plan, checkpoint: null };
}

/** Whether any of the columns holds a pointer (counted already, or one probe of its index). */
async function anyPointer(conn: Connection, schema: string, columns: LegacyColumn[]): Promise<boolean> {
  for (const column of columns) {
    const c = quoteId(column.column);
    if (column.counts ? column.counts.pointers > 0 : (await select(conn, `SELECT 1 FROM ${tableRef(schema, column.table)} WHERE ${c} IS NOT NULL LIMIT 1`)).length > 0) return true;
  }
  return false;
}

/** SQL that is true when the column points at the `~external` row `e` (one probe of the column's index). */
export function pointsAtLegacyRow(schema: string, column: Pick<LegacyColumn, 'table' | 'column'>): string {
  return indexProbe(tableRef(schema, column.table), quoteId(column.column), 'e.hash');
}

/** Rows of a keyset page of `~external`. */
const OBJECT_PAGE = 10_000;

/**
 * The distinct `~external` rows a store's columns point to, in keyset pages (memory stays flat); `within`: only those
 * whose object key (`prefix` + the row's hash) is in the key range of a listing pass; `after`: past that hash only.
 */
export async function* referencedObjects(
  conn: Connection,
  schema: string,
  columns: LegacyColumn[],
  page = OBJECT_PAGE,
  within?: { prefix: string; range: KeyRange },
  after: string | null = null,
): AsyncGenerator<{ hash: string; size: number }[]> {
  if (columns.length === 0) return;
  // One probe of each column's index per `~external` row: an IN over a UNION of the columns would first collect and
  // deduplicate every pointer (2.3 s for a million-row column pointing at 20 objects, against 0.02 s). Pages follow
  // the primary key (its collation's order), so each page starts where the last ended. The pass's range is tested
  // first, on the hash's UTF-8 bytes (S3's key order whatever the table's character set): rows of other passes cost
  // no probes.
  const referenced = columns.map((column) => pointsAtLegacyRow(schema, column)).join(' OR ');
  const inPass = within && keyRangeCondition('CAST(CONVERT(e.hash USING utf8mb4) AS BINARY)', within.prefix, within.range);
  const pages = keysetPages(
    (after: string | null) =>
      selectRaw<{ hash: string; size: string }>(
        conn,
        `SELECT e.hash AS hash, e.size AS size FROM ${tableRef(schema, LEGACY_EXTERNAL_TABLE)} e
          WHERE ${inPass ? `${inPass.sql} AND ` : ''}(${referenced})${after === null ? '' : ' AND e.hash > ?'} ORDER BY e.hash LIMIT ${Math.floor(page)}`,
        [...(inPass?.values ?? []), ...(after === null ? [] : [after])],
      ),
    (row) => row.hash,
    page,
    after,
  );
  for await (const rows of pages) yield rows.map((row) => ({ hash: row.hash, size: Number(row.size) }));
}

/** Each store's `~external` rows (those of its columns' suffixes). */
async function countStoreObjects(conn: Connection, inspection: Inspection, storeNames: string[]): Promise<Record<string, number>> {
  const rowsBySuffix = inspection.legacyTablePresent ? await legacyRowsBySuffix(conn, inspection.schema) : new Map<string, number>();
  return Object.fromEntries(
    storeNames.map((store) => {
      const suffixes = new Set(inspection.legacyColumns.filter((column) => column.store === store).map((column) => column.suffix));
      return [store, [...suffixes].reduce((sum, suffix) => sum + (rowsBySuffix.get(suffix) ?? 0), 0)];
    }),
  );
}

/** `~external`'s rows by what follows the 43-character hash (the store suffix), in one scan. */
async function legacyRowsBySuffix(conn: Connection, schema: string): Promise<Map<string, number>> {
  const suffix = `CAST(SUBSTRING(hash, ${LEGACY_HASH_LENGTH + 1}) AS BINARY)`;
  const rows = await select<{ suffix: Buffer; n: number }>(conn, `SELECT ${suffix} AS suffix, COUNT(*) AS n FROM ${tableRef(schema, LEGACY_EXTERNAL_TABLE)} GROUP BY ${suffix}`);
  return new Map(rows.map((row) => [row.suffix.toString('utf8'), Number(row.n)]));
}

async function listStore(store: ObjectStore, prefix: string, range: KeyRange, name: string): Promise<ListedObjects> {
  try {
    return await listObjects(store, prefix, range);
  } catch (error) {
    throw new MigrationRefusedError(`store "${name}" (${store.description}) cannot be listed: ${(error as Error).message}; check its endpoint, bucket, location and credentials`);
  }
}

function describeLocation(spec: Migrate011Input['stores'][string]): string {
  return spec.protocol === 's3' ? `s3://${spec.bucket}/${spec.location}${spec.endpoint ? ` at ${spec.endpoint}` : ''}` : `file:${spec.location}`;
}

