// Records the columns and the distinct objects to migrate in the journal, numbered into batches, and (many objects)
// writes the Distributed Map's manifest of those still to hash. Rerunnable: what is recorded already is kept, objects
// referenced since the last run are added in new batches. Works for a bounded time per call when asked, with a
// checkpoint in the journal after every chunk (checkpoint.ts).
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { LEGACY_EXTERNAL_TABLE } from '../datajoint/v011.js';
import { execute, inTransaction, select, selectRaw, tableRef } from '../db/sql.js';
import { CallBudget } from '../call-budget.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';
import type { Inspection, LegacyColumn } from './inspect.js';
import { pointsAtLegacyRow } from './plan.js';
import { hashFromListings } from './etag.js';
import type { ProgressSink } from '../progress.js';
import type { ManifestStore } from '../stores/manifest-store.js';
import type { OpenStore } from '../stores/object-store.js';
import type { ManifestItem } from './hash.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { journalColumns, journalObjects, journalTables, openJournal, type JournalColumn } from './journal.js';

/** Keeps the list of batches in state well under the Step Functions payload limit. */
const MAX_BATCHES = 900;
const MIN_BATCH_SIZE = 100;
const JOURNAL_CHUNK = 100_000;
/**
 * Objects this large stay out of the hash manifest: an Express child of the Distributed Map lives at most 5 minutes,
 * the standard pass's Lambda 15.
 */
export const LARGE_OBJECT_BYTES = 1024 ** 3;

export interface Prepared {
  /** Journal ids of the columns still to rewrite. */
  columns: number[];
  /** The same ids grouped by table (a table's columns fill one after another, different tables' side by side). */
  tableColumns: number[][];
  objects: number;
  /** The hash manifest for the Distributed Map, when at least `input.distributedHashingFrom` objects are to hash. */
  manifest: { key: string; objects: number } | null;
}

export interface PrepareIo {
  openStore: OpenStore;
  progress: ProgressSink;
  manifests: ManifestStore;
  /** Where this run's hash manifest goes (unique per execution). */
  manifestKey: string;
}

export function tempColumnName(columnId: number): string {
  return `_djmigrate_${columnId}`;
}

export interface PrepareOptions {
  /** `~external` rows (of all stores) looked at per statement (tests set it small to cross chunks). Default 100,000. */
  journalChunk?: number;
  /** Objects per journal batch (tests set it small for batches across chunks). Default: ~1/900 of them, at least 100. */
  batchSize?: number;
  /** Start no chunk or step after about this long (ms), once one was done. Default: to the end. */
  budgetMs?: number;
  /** The execution the calls belong to: another run's checkpoint is set aside. Default: one of its own. */
  run?: string;
}

/** False: the call ran out of time; call again (with the same run) to go on (the work fields are empty until then). */
export type PrepareStep = Prepared & { done: boolean };

/**
 * How far the calls got: the journaling order fixed by the first call (the stores, and each store's table whose objects
 * go first: the tables' row estimates may change meanwhile), the batch size, the last `~external` hash journaled of
 * the store's part (0: that table's objects, 1: the rest) with the batch numbering there, and the steps after.
 */
interface PrepareCheckpoint {
  order: { store: string; firstTable: string }[];
  batchSize: number;
  cursor: { store: number; part: number; after: string | null; next: number | null; journaled: number };
  etagDone: boolean;
}

/** `io`: trustEtag takes contents hashes from the S3 listings (see etag.ts); many objects get a hash manifest. */
export async function prepareMigration(conn: Connection, input: Migrate011Input, inspection: Inspection, io: PrepareIo, options: PrepareOptions = {}): Promise<PrepareStep> {
  if (inspection.problems.length) throw new MigrationRefusedError(`schema ${input.schema} cannot be migrated as it is:`, inspection.problems);
  const budget = new CallBudget(options.budgetMs);
  const run = options.run ?? randomUUID();
  await openJournal(conn, input);
  const t = journalTables(input.schema);
  await recordColumns(conn, input, inspection);
  const progress = (await loadCheckpoint<PrepareCheckpoint>(conn, input.schema, 'prepare', run)) ?? (await startingPoint(conn, input, inspection, options.batchSize));
  const save = () => saveCheckpoint<PrepareCheckpoint>(conn, input.schema, 'prepare', run, progress);
  // where the call stops, the checkpoint says so (it may have just finished a part or a store)
  const stop = async (): Promise<PrepareStep> => {
    await save();
    return { done: false, columns: [], tableColumns: [], objects: 0, manifest: null };
  };

  const legacy = tableRef(input.schema, LEGACY_EXTERNAL_TABLE);
  const chunk = Math.floor(options.journalChunk ?? JOURNAL_CHUNK);
  const { cursor, batchSize } = progress;
  for (; cursor.store < progress.order.length; cursor.store += 1, cursor.part = 0, cursor.next = null, cursor.journaled = 0) {
    const { store, firstTable } = progress.order[cursor.store];
    // One index probe per ~external row and column (the columns' foreign keys index them), instead of collecting
    // every pointer of every referencing row: a million-row table points at a few hundred objects.
    const pointsAt = (column: Pick<LegacyColumn, 'table' | 'column'>) => pointsAtLegacyRow(input.schema, column);
    const columns = inspection.legacyColumns.filter((column) => column.store === store);
    const first = columns.filter((column) => column.table === firstTable);
    if (columns.length === 0 || first.length === 0) {
      throw new MigrationRefusedError(`the external columns of schema ${input.schema} changed while it was being prepared; run the migration again`);
    }
    if (cursor.next === null) {
      const [{ next }] = await select<{ next: number }>(conn, `SELECT COALESCE(MAX(batch) + 1, 0) AS next FROM ${t.objects}`);
      cursor.next = Number(next);
    }
    const firstPart = `(${first.map(pointsAt).join(' OR ')})`;
    // The objects of the store's biggest table first (that table's fill can start once they are hashed, fillColumn),
    // then the rest; each in primary-key chunks, one statement a chunk: no transaction of millions of rows for the
    // binlog, and the next call (or a rerun after a timeout) goes on from the chunks already journaled.
    for (const parts = [firstPart, `NOT ${firstPart}`]; cursor.part < parts.length; cursor.part += 1, cursor.after = null) {
      const where = `(${columns.map(pointsAt).join(' OR ')}) AND ${parts[cursor.part]}`;
      for (;;) {
        if (budget.spent()) return stop();
        const { after } = cursor;
        const lower: string[] = after === null ? [] : [after];
        const [end]: { hash: string }[] = await selectRaw<{ hash: string }>(
          conn,
          // the chunk's last key, by the primary key alone (no probes): the INSERT below looks at its rows once
          `SELECT e.hash AS hash FROM ${legacy} e${after === null ? '' : ' WHERE e.hash > ?'} ORDER BY e.hash LIMIT 1 OFFSET ${chunk - 1}`,
          lower,
        );
        // the chunk and the checkpoint after it in one transaction: a crash between the two would number the next
        // chunks' batches from the count before this one (batches bigger than batchSize)
        await inTransaction(conn, async () => {
          cursor.journaled += await execute(
            conn,
            `INSERT INTO ${t.objects} (legacy_hash, store, batch, size)
             SELECT CAST(e.hash AS BINARY), ?, ? + FLOOR((? + ROW_NUMBER() OVER (ORDER BY e.hash) - 1) / ?), e.size
               FROM ${legacy} e
              WHERE ${where}${after === null ? '' : ' AND e.hash > ?'}${end ? ' AND e.hash <= ?' : ''}
                AND NOT EXISTS (SELECT 1 FROM ${t.objects} o WHERE o.legacy_hash = CAST(e.hash AS BINARY))`,
            [store, cursor.next, cursor.journaled, batchSize, ...lower, ...(end ? [end.hash] : [])],
          );
          cursor.after = end ? end.hash : null;
          await save();
        });
        budget.used();
        if (!end) break;
      }
    }
  }
  if (input.trustEtag && !progress.etagDone) {
    if (!(await hashFromListings(conn, input, io.openStore, io.progress, { run, budget })).done) return stop();
    progress.etagDone = true;
    await save();
  }
  if (budget.spent()) return stop();
  // with s3BatchChecksum the manifest lists what the Compute checksum job leaves: recordChecksums writes it
  return { ...(await preparedWork(conn, input, input.s3BatchChecksum ? null : io)), done: true };
}

/** The first call's checkpoint: the order of journaling and the batch size, nothing journaled yet. */
async function startingPoint(conn: Connection, input: Migrate011Input, inspection: Inspection, batchSize?: number): Promise<PrepareCheckpoint> {
  const legacyRows = inspection.legacyTablePresent
    ? Number((await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(input.schema, LEGACY_EXTERNAL_TABLE)}`))[0].n)
    : 0;
  const order = await rewriteOrder(conn, input.schema, inspection.legacyColumns.map(({ table, store }) => ({ table, store })));
  const rows = (table: string) => order.tableRows.get(table) ?? 0;
  return {
    order: order.stores.map((store) => {
      const tables = inspection.legacyColumns.filter((column) => column.store === store).map((column) => column.table);
      return { store, firstTable: tables.reduce((big, table) => (rows(table) > rows(big) ? table : big)) };
    }),
    batchSize: batchSize ?? Math.max(MIN_BATCH_SIZE, Math.ceil(legacyRows / MAX_BATCHES)),
    cursor: { store: 0, part: 0, after: null, next: null, journaled: 0 },
    etagDone: false,
  };
}

/** The columns still to rewrite, the object count and (`io` given, many objects) the hash manifest. */
export async function preparedWork(conn: Connection, input: Migrate011Input, io: Pick<PrepareIo, 'manifests' | 'manifestKey'> | null): Promise<Prepared> {
  const [{ objects }] = await select<{ objects: number }>(conn, `SELECT COUNT(*) AS objects FROM ${journalTables(input.schema).objects}`);
  const pending = (await journalColumns(conn, input.schema)).filter((column) => column.state !== 'swapped');
  const order = await rewriteOrder(conn, input.schema, pending.map((column) => ({ table: column.table_name, store: column.store })));
  const rows = (column: JournalColumn) => order.tableRows.get(column.table_name) ?? 0;
  const sorted = pending.sort((a, b) => order.stores.indexOf(a.store) - order.stores.indexOf(b.store) || rows(b) - rows(a));
  const byTable = new Map<string, number[]>();
  for (const column of sorted) byTable.set(column.table_name, [...(byTable.get(column.table_name) ?? []), column.column_id]);
  return {
    columns: sorted.map((column) => column.column_id),
    tableColumns: [...byTable.values()],
    objects: Number(objects),
    manifest: io ? await writeHashManifest(conn, input, io) : null,
  };
}

/**
 * The order in which stores are hashed and columns filled. A column's fill starts once the objects it needs are
 * hashed (fillColumn), beside the hashing of the rest, so the stores of the biggest tables (rows as information_schema
 * estimates them) go first: their long fills overlap the most hashing.
 */
async function rewriteOrder(conn: Connection, schema: string, columns: { table: string; store: string }[]): Promise<{ stores: string[]; tableRows: Map<string, number> }> {
  const estimates = await select<{ name: string; estimate: number | null }>(
    conn,
    `SELECT TABLE_NAME AS name, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'`,
    [schema],
  );
  const tableRows = new Map(estimates.map(({ name, estimate }) => [name, Number(estimate ?? 0)]));
  const storeRows = new Map<string, number>();
  for (const { table, store } of columns) storeRows.set(store, (storeRows.get(store) ?? 0) + (tableRows.get(table) ?? 0));
  const stores = [...storeRows.keys()].sort((a, b) => storeRows.get(b)! - storeRows.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
  return { stores, tableRows };
}

/** Journal batches that still have objects to hash: the standard pass's work (after the Distributed Map's, if any). */
export async function pendingHashBatches(conn: Connection, input: Migrate011Input): Promise<number[]> {
  const rows = await select<{ batch: number }>(conn, `SELECT DISTINCT batch FROM ${journalTables(input.schema).objects} WHERE contents_hash IS NULL ORDER BY batch`);
  return rows.map((row) => Number(row.batch));
}

async function writeHashManifest(conn: Connection, input: Migrate011Input, io: Pick<PrepareIo, 'manifests' | 'manifestKey'>): Promise<Prepared['manifest']> {
  const t = journalTables(input.schema);
  const [{ pending }] = await select<{ pending: number }>(conn, `SELECT COUNT(*) AS pending FROM ${t.objects} WHERE contents_hash IS NULL AND size < ?`, [LARGE_OBJECT_BYTES]);
  if (Number(pending) < input.distributedHashingFrom) return null;
  let objects = 0;
  async function* items(): AsyncIterable<ManifestItem> {
    // in batch order: Prepare numbered the batches in the order the stores and objects are best hashed in
    const batches = await select<{ batch: number }>(conn, `SELECT DISTINCT batch FROM ${t.objects} WHERE contents_hash IS NULL AND size < ? ORDER BY batch`, [LARGE_OBJECT_BYTES]);
    for (const { batch } of batches) {
      const where = 'batch = ? AND contents_hash IS NULL AND size < ?';
      for await (const row of journalObjects<{ legacy_hash: Buffer; store: string; size: number }>(conn, input.schema, 'legacy_hash, store, size', where, [batch, LARGE_OBJECT_BYTES])) {
        objects += 1;
        yield { h: row.legacy_hash.toString('latin1'), s: row.store, n: Number(row.size) };
      }
    }
  }
  await io.manifests.write(io.manifestKey, items());
  return { key: io.manifestKey, objects };
}

async function recordColumns(conn: Connection, input: Migrate011Input, inspection: Inspection): Promise<void> {
  const t = journalTables(input.schema);
  // fills dropped when an earlier run's hashing was refused are done again
  await execute(conn, `UPDATE ${t.columns} SET state = 'pending' WHERE state = 'discarded'`);
  const known = new Set((await journalColumns(conn, input.schema)).map((column) => `${column.table_name}\u0000${column.column_name}`));
  const [{ next }] = await select<{ next: number }>(conn, `SELECT COALESCE(MAX(column_id) + 1, 1) AS next FROM ${t.columns}`);
  let columnId = Number(next);
  for (const column of inspection.legacyColumns) {
    if (known.has(`${column.table}\u0000${column.column}`)) continue;
    const temp = tempColumnName(columnId);
    const clash = await select(conn, 'SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?', [
      input.schema,
      column.table,
      temp,
    ]);
    if (clash.length) {
      throw new MigrationRefusedError(`${column.table} already has a column named ${temp}, which djmigrate needs as a temporary column; rename it first`);
    }
    await execute(
      conn,
      `INSERT INTO ${t.columns} (column_id, table_name, column_name, constraint_name, store, user_comment, is_nullable, ordinal_position, temp_column)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [columnId, column.table, column.column, column.constraint, column.store, column.userComment, column.nullable ? 1 : 0, column.ordinal, temp],
    );
    columnId += 1;
  }
}
