// Creates each store's `~external_<store>` table with 0.12's exact DDL and adds a row for every hashed object, one
// INSERT … SELECT per journal batch. Rows already there (an earlier run, the official tool, 0.12 itself) are kept; a
// row that disagrees with what was hashed stops the migration. Works for a bounded time per call when asked, with a
// checkpoint in the journal after every batch (checkpoint.ts).
import { randomUUID } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { legacyRelativePath } from '../datajoint/v011.js';
import { externalTableDdl, externalTableName } from '../datajoint/v012.js';
import { execute, indexProbe, quoteId, select, tableRef } from '../db/sql.js';
import { CallBudget } from '../call-budget.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { journalTables } from './journal.js';

const EXAMPLES = 10;

/** The columns 0.12's ExternalTable reads and writes; a table without them is not a 0.12 external table. */
const EXTERNAL_COLUMNS: Record<string, string> = {
  hash: 'binary(16)',
  size: 'bigint',
  attachment_name: 'varchar(255)',
  filepath: 'varchar(1000)',
  contents_hash: 'binary(16)',
  timestamp: 'timestamp',
};

export interface InsertedRows {
  /** False: the call ran out of time; call again (with the same run) to go on. */
  done: boolean;
  inserted: number;
  stores: { store: string; table: string; inserted: number }[];
}

export interface InsertOptions {
  /** Start no batch after about this long (ms), once one was inserted. Default: to the end. */
  budgetMs?: number;
  /** The execution the calls belong to: another run's checkpoint is set aside. Default: one of its own. */
  run?: string;
}

/** The rows inserted so far, and the last batch done: the store (in order) and its batch (null: none of it yet). */
interface InsertCheckpoint {
  result: InsertedRows;
  cursor: { store: number; batch: number | null };
}

export async function insertExternalRows(conn: Connection, input: Migrate011Input, options: InsertOptions = {}): Promise<InsertedRows> {
  const t = journalTables(input.schema);
  const budget = new CallBudget(options.budgetMs);
  const run = options.run ?? randomUUID();
  const stores = await select<{ store: string; unhashed: number }>(
    conn,
    `SELECT store, SUM(contents_hash IS NULL) AS unhashed FROM ${t.objects} GROUP BY store ORDER BY store`,
  );
  for (const { store, unhashed } of stores) {
    if (Number(unhashed) > 0) {
      throw new MigrationRefusedError(`${unhashed} object(s) of store "${store}" have not been hashed yet; rerun the migration to finish hashing them`);
    }
  }
  const { result, cursor } = (await loadCheckpoint<InsertCheckpoint>(conn, input.schema, 'insert', run)) ?? { result: { done: false, inserted: 0, stores: [] }, cursor: { store: 0, batch: null } };
  for (; cursor.store < stores.length; cursor.store += 1, cursor.batch = null) {
    if (budget.spent()) return result;
    const { store } = stores[cursor.store];
    await ensureExternalTable(conn, input.schema, store);
    if (result.stores.length === cursor.store) result.stores.push({ store, table: externalTableName(store), inserted: 0 });
    const counts = result.stores[cursor.store];
    for (const { batch, objects } of await batchesAfter(conn, input.schema, store, cursor.batch)) {
      if (budget.spent()) return result;
      const inserted = await insertMissingRows(conn, input, store, batch, objects);
      budget.used();
      counts.inserted += inserted;
      result.inserted += inserted;
      cursor.batch = batch;
      await saveCheckpoint<InsertCheckpoint>(conn, input.schema, 'insert', run, { result, cursor });
    }
  }
  return { ...result, done: true };
}

async function batchesAfter(conn: Connection, schema: string, store: string, after: number | null): Promise<{ batch: number; objects: number }[]> {
  const rows = await select<{ batch: number; objects: number }>(
    conn,
    `SELECT batch, COUNT(*) AS objects FROM ${journalTables(schema).objects} WHERE store = ?${after === null ? '' : ' AND batch > ?'} GROUP BY batch ORDER BY batch`,
    after === null ? [store] : [store, after],
  );
  return rows.map((row) => ({ batch: Number(row.batch), objects: Number(row.objects) }));
}

async function ensureExternalTable(conn: Connection, schema: string, store: string): Promise<void> {
  await execute(conn, externalTableDdl(schema, store, quoteId));
  const columns = await select<{ name: string; type: string }>(
    conn,
    'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [schema, externalTableName(store)],
  );
  const types = new Map(columns.map((column) => [column.name, column.type.toLowerCase()]));
  const wrong = Object.entries(EXTERNAL_COLUMNS).filter(([name, type]) => !types.get(name)?.startsWith(type));
  if (wrong.length) {
    throw new MigrationRefusedError(
      `${schema}.${externalTableName(store)} exists but is not a DataJoint 0.12 external table (expected ${wrong.map(([name, type]) => `${name} ${type}`).join(', ')}); rename or drop it first`,
    );
  }
}

/**
 * One INSERT … SELECT of a journal batch (at most 900 per store): the rows never travel through this process, and each
 * statement is atomic and small enough for a replica. Rows already there are skipped (one probe each); a batch that
 * had any is checked against them. A concurrent writer may add the same row: the no-op update keeps theirs, and the
 * check judges it.
 */
async function insertMissingRows(conn: Connection, input: Migrate011Input, store: string, batch: number, objects: number): Promise<number> {
  const t = journalTables(input.schema);
  const external = tableRef(input.schema, externalTableName(store));
  const native = input.mode === 'native';
  const added = await execute(
    conn,
    `INSERT INTO ${external} (hash, size, filepath, contents_hash)
     SELECT o.new_hash, o.size, ${native ? 'NULL' : 'CONCAT(CAST(? AS BINARY), o.legacy_hash)'}, ${native ? 'NULL' : 'o.contents_hash'}
       FROM ${t.objects} o
      WHERE o.store = ? AND o.batch = ? AND NOT (${indexProbe(external, 'hash', 'o.new_hash')})
     ON DUPLICATE KEY UPDATE hash = hash`,
    [...(native ? [] : [legacyRelativePath(input.schema, '')]), store, batch],
  );
  if (added < objects) await refuseConflicts(conn, input, store, batch);
  return added;
}

/** Refuses when rows of the batch's objects that were already in `~external_<store>` disagree with the objects. */
async function refuseConflicts(conn: Connection, input: Migrate011Input, store: string, batch: number): Promise<void> {
  const t = journalTables(input.schema);
  const sameContents =
    input.mode === 'native'
      ? 'e.size = o.size'
      : `e.size = o.size AND e.contents_hash <=> o.contents_hash AND CAST(e.filepath AS BINARY) <=> CONCAT(CAST(? AS BINARY), o.legacy_hash)`;
  const conflicts = await select<{ legacy_hash: Buffer; filepath: string | null; size: number }>(
    conn,
    `SELECT o.legacy_hash, e.filepath, e.size FROM ${t.objects} o JOIN ${tableRef(input.schema, externalTableName(store))} e ON e.hash = o.new_hash
      WHERE o.store = ? AND o.batch = ? AND NOT (${sameContents}) LIMIT ${EXAMPLES}`,
    input.mode === 'native' ? [store, batch] : [store, batch, legacyRelativePath(input.schema, '')],
  );
  if (conflicts.length) {
    throw new MigrationRefusedError(
      `${externalTableName(store)} already has rows for these objects that disagree with the objects themselves (size, contents hash or path); inspect them before rerunning:`,
      conflicts.map((row) => `${row.legacy_hash.toString('latin1')}: row has size ${row.size}, filepath ${JSON.stringify(row.filepath)}`),
    );
  }
}
