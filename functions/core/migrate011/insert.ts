// Creates each store's `~external_<store>` table with 0.12's exact DDL and adds a row for every hashed object, one
// multi-row INSERT per journal page. Rows already there (an earlier run, the official tool, 0.12 itself) are kept; a
// row that disagrees with what was hashed stops the migration.
import type { Connection } from 'mysql2/promise';
import { legacyRelativePath } from '../datajoint/v011.js';
import { externalTableDdl, externalTableName } from '../datajoint/v012.js';
import { execute, indexProbe, quoteId, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';
import { journalObjectPages, journalTables } from './journal.js';

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
  inserted: number;
  stores: { store: string; table: string; inserted: number }[];
}

export async function insertExternalRows(conn: Connection, input: Migrate011Input): Promise<InsertedRows> {
  const t = journalTables(input.schema);
  const stores = await select<{ store: string; unhashed: number }>(
    conn,
    `SELECT store, SUM(contents_hash IS NULL) AS unhashed FROM ${t.objects} GROUP BY store ORDER BY store`,
  );
  const result: InsertedRows = { inserted: 0, stores: [] };
  for (const { store, unhashed } of stores) {
    if (Number(unhashed) > 0) {
      throw new MigrationRefusedError(`${unhashed} object(s) of store "${store}" have not been hashed yet; rerun the migration to finish hashing them`);
    }
    const table = externalTableName(store);
    await ensureExternalTable(conn, input.schema, store);
    const inserted = await insertMissingRows(conn, input, store);
    await refuseConflicts(conn, input, store);
    result.inserted += inserted;
    result.stores.push({ store, table, inserted });
  }
  return result;
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

async function insertMissingRows(conn: Connection, input: Migrate011Input, store: string): Promise<number> {
  const t = journalTables(input.schema);
  const external = tableRef(input.schema, externalTableName(store));
  // keyset pages over the journal, each row looked at once: re-reading from the start for every batch was quadratic
  // (a million objects: ~500 million index probes)
  const pages = journalObjectPages<{ legacy_hash: Buffer; size: number; contents_hash: Buffer; new_hash: Buffer }>(
    conn,
    input.schema,
    'legacy_hash, size, contents_hash, new_hash',
    `store = ? AND NOT ${indexProbe(external, 'hash', `${t.objects}.new_hash`)}`,
    [store],
  );
  let inserted = 0;
  for await (const rows of pages) {
    const values = rows.map((row) =>
      input.mode === 'native'
        ? [row.new_hash, row.size, null, null]
        : [row.new_hash, row.size, legacyRelativePath(input.schema, row.legacy_hash.toString('latin1')), row.contents_hash],
    );
    // A concurrent writer may add the same row; the no-op update keeps theirs and the conflict check judges it.
    inserted += await execute(conn, `INSERT INTO ${external} (hash, size, filepath, contents_hash) VALUES ? ON DUPLICATE KEY UPDATE hash = hash`, [values]);
  }
  return inserted;
}

async function refuseConflicts(conn: Connection, input: Migrate011Input, store: string): Promise<void> {
  const t = journalTables(input.schema);
  const sameContents =
    input.mode === 'native'
      ? 'e.size = o.size'
      : `e.size = o.size AND e.contents_hash <=> o.contents_hash AND CAST(e.filepath AS BINARY) <=> CONCAT(CAST(? AS BINARY), o.legacy_hash)`;
  const conflicts = await select<{ legacy_hash: Buffer; filepath: string | null; size: number }>(
    conn,
    `SELECT o.legacy_hash, e.filepath, e.size FROM ${t.objects} o JOIN ${tableRef(input.schema, externalTableName(store))} e ON e.hash = o.new_hash
      WHERE o.store = ? AND NOT (${sameContents}) LIMIT ${EXAMPLES}`,
    input.mode === 'native' ? [store] : [store, `${input.schema}/`],
  );
  if (conflicts.length) {
    throw new MigrationRefusedError(
      `${externalTableName(store)} already has rows for these objects that disagree with the objects themselves (size, contents hash or path); inspect them before rerunning:`,
      conflicts.map((row) => `${row.legacy_hash.toString('latin1')}: row has size ${row.size}, filepath ${JSON.stringify(row.filepath)}`),
    );
  }
}
