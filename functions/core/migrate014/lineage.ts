// Step `add_lineage_table` of the 0.14 → 2.0 in-place migration: creates 2.x's `~lineage` and fills it with
// what 2.x's own `schema.rebuild_lineage()` (lineage.py `rebuild_schema_lineage`, spec D.4, D.6.1) writes: one row
// per primary-key or foreign-key attribute of every user table (names starting with `_` excepted), naming the
// `schema.table.attribute` where the attribute was first defined — followed through foreign keys, transitively,
// within the schema and across schemas — or the attribute itself for a table's own primary-key attribute.
// Like 2.x, a referenced column inside the schema gets its own row too (resolved on the way).
//
// Foreign keys to `~external_*` tables are ignored: those binary(16) columns become 2.x JSON columns without any
// foreign key (the migrate_external_storage step drops them), so the result is the same before and after that
// step, and never names `~external_<store>.hash` as 2.x's rebuild would on an unconverted schema (spec D.6.1).
//
// Across schemas 2.x reads the parent schema's `~lineage` (and fails when it has no row); here the parent's row is
// used when there is one, and otherwise the origin is computed from the parent schema's keys the same way, so the
// upstream schema need not be migrated first.
//
// Writing is an upsert (INSERT … ON DUPLICATE KEY UPDATE, as 2.x does) followed by the removal of rows no user
// table has any more (2.x deletes everything first); a rerun changes nothing.
import type { Connection } from 'mysql2/promise';
import { LINEAGE_TABLE, lineageTableDdl } from '../datajoint/v2.js';
import { EXTERNAL_TABLE_PREFIX } from '../datajoint/v012.js';
import { execute, inTransaction, quoteId, requireSchema, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';

export interface LineageRow {
  table_name: string;
  attribute_name: string;
  lineage: string;
}

export interface LineagePlan {
  schema: string;
  /** True when `~lineage` exists already. */
  tableExists: boolean;
  /** Every row `~lineage` holds after rebuildLineage, sorted by table and attribute. */
  rows: LineageRow[];
  /** Rows to add or change (compared with the current `~lineage`). */
  changes: LineageRow[];
  /** Current rows that no user table explains any more; rebuildLineage deletes them. */
  stale: LineageRow[];
  /** Foreign keys to `~external_*` tables that were ignored, as `table.column -> ~external_store`. */
  ignoredExternalKeys: string[];
}

export interface LineageRebuilt {
  /** Rows in `~lineage` afterwards. */
  rows: number;
  created: boolean;
  /** Rows inserted or changed. */
  written: number;
  /** Stale rows deleted. */
  removed: number;
}

interface ForeignKey {
  schema: string;
  table: string;
  column: string;
}

/** The keys of one schema: primary-key columns per table, and each FK column's referenced column. */
interface SchemaKeys {
  tables: string[];
  primaryKeys: Map<string, string[]>;
  /** `table\0column` → the first referenced column (by constraint name), FKs to `~external_*` excluded. */
  foreignKeys: Map<string, ForeignKey>;
  ignoredExternalKeys: string[];
}

const key = (table: string, column: string) => `${table}\0${column}`;

async function readKeys(conn: Connection, schema: string): Promise<SchemaKeys> {
  const tables = (
    await select<{ table_name: string }>(conn, `SELECT TABLE_NAME AS table_name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, [
      schema,
    ])
  )
    .map((row) => String(row.table_name))
    .filter((name) => !name.startsWith('~'));
  const usage = await select<{
    table_name: string;
    column_name: string;
    constraint_name: string;
    referenced_table_schema: string | null;
    referenced_table_name: string | null;
    referenced_column_name: string | null;
  }>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, CONSTRAINT_NAME AS constraint_name,
            REFERENCED_TABLE_SCHEMA AS referenced_table_schema, REFERENCED_TABLE_NAME AS referenced_table_name,
            REFERENCED_COLUMN_NAME AS referenced_column_name
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL)
      ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
    [schema],
  );
  const primaryKeys = new Map<string, string[]>();
  const foreignKeys = new Map<string, ForeignKey>();
  const ignoredExternalKeys: string[] = [];
  for (const row of usage) {
    const table = String(row.table_name);
    const column = String(row.column_name);
    if (row.referenced_table_name === null || row.referenced_table_name === undefined) {
      if (row.constraint_name === 'PRIMARY') primaryKeys.set(table, [...(primaryKeys.get(table) ?? []), column]);
      continue;
    }
    const referenced = String(row.referenced_table_name);
    if (referenced.startsWith(EXTERNAL_TABLE_PREFIX)) {
      if (!table.startsWith('~')) ignoredExternalKeys.push(`${table}.${column} -> ${row.referenced_table_schema}.${referenced}`);
      continue;
    }
    if (!foreignKeys.has(key(table, column))) {
      foreignKeys.set(key(table, column), { schema: String(row.referenced_table_schema), table: referenced, column: String(row.referenced_column_name) });
    }
  }
  return { tables, primaryKeys, foreignKeys, ignoredExternalKeys };
}

async function lineageTableExists(conn: Connection, schema: string): Promise<boolean> {
  return (await select(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, LINEAGE_TABLE])).length > 0;
}

async function readLineage(conn: Connection, schema: string): Promise<LineageRow[]> {
  if (!(await lineageTableExists(conn, schema))) return [];
  const rows = await select<LineageRow>(
    conn,
    `SELECT table_name AS table_name, attribute_name AS attribute_name, lineage AS lineage FROM ${tableRef(schema, LINEAGE_TABLE)} ORDER BY table_name, attribute_name`,
  );
  return rows.map((row) => ({ table_name: String(row.table_name), attribute_name: String(row.attribute_name), lineage: String(row.lineage) }));
}

/** Resolves origins across schemas, reading each schema's keys (and existing `~lineage`) once. */
class Resolver {
  private readonly keys = new Map<string, Promise<SchemaKeys>>();
  private readonly stored = new Map<string, Promise<Map<string, string>>>();

  constructor(
    private readonly conn: Connection,
    private readonly home: string,
  ) {}

  schemaKeys(schema: string): Promise<SchemaKeys> {
    let found = this.keys.get(schema);
    if (!found) this.keys.set(schema, (found = readKeys(this.conn, schema)));
    return found;
  }

  private storedLineage(schema: string): Promise<Map<string, string>> {
    let found = this.stored.get(schema);
    if (!found) {
      found = readLineage(this.conn, schema).then((rows) => new Map(rows.map((row) => [key(row.table_name, row.attribute_name), row.lineage])));
      this.stored.set(schema, found);
    }
    return found;
  }

  /** `schema.table.column` where the attribute was first defined. */
  async origin(schema: string, table: string, column: string, path: string[] = []): Promise<string> {
    const here = `${schema}.${table}.${column}`;
    if (path.includes(here)) {
      throw new MigrationRefusedError(`foreign keys form a cycle (${[...path, here].join(' -> ')}), which DataJoint never declares; the lineage of these attributes is undefined`);
    }
    if (schema !== this.home) {
      // What 2.x reads: the parent schema's own ~lineage row, when it has one.
      const stored = (await this.storedLineage(schema)).get(key(table, column));
      if (stored) return stored;
    }
    const parent = (await this.schemaKeys(schema)).foreignKeys.get(key(table, column));
    if (parent) return this.origin(parent.schema, parent.table, parent.column, [...path, here]);
    return here;
  }
}

async function computeLineage(conn: Connection, schema: string): Promise<{ rows: LineageRow[]; ignoredExternalKeys: string[] }> {
  await requireSchema(conn, schema);
  const resolver = new Resolver(conn, schema);
  const keys = await resolver.schemaKeys(schema);
  const lineage = new Map<string, LineageRow>();
  const add = async (table: string, column: string): Promise<void> => {
    if (lineage.has(key(table, column))) return;
    const parent = keys.foreignKeys.get(key(table, column));
    // As 2.x's resolve_lineage caches them: a referenced column of this schema gets its own row.
    if (parent && parent.schema === schema && !parent.table.startsWith('~')) await add(parent.table, parent.column);
    lineage.set(key(table, column), { table_name: table, attribute_name: column, lineage: await resolver.origin(schema, table, column) });
  };
  for (const table of keys.tables) {
    const columns = new Set(keys.primaryKeys.get(table) ?? []);
    for (const fk of keys.foreignKeys.keys()) {
      const [fkTable, fkColumn] = fk.split('\0');
      if (fkTable === table) columns.add(fkColumn);
    }
    for (const column of columns) if (!column.startsWith('_')) await add(table, column);
  }
  const rows = [...lineage.values()].sort((a, b) => (a.table_name === b.table_name ? compare(a.attribute_name, b.attribute_name) : compare(a.table_name, b.table_name)));
  return { rows, ignoredExternalKeys: keys.ignoredExternalKeys };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Read-only: the rows `~lineage` will hold, and what differs from its current content. */
export async function planLineage(conn: Connection, schema: string): Promise<LineagePlan> {
  const { rows, ignoredExternalKeys } = await computeLineage(conn, schema);
  const tableExists = await lineageTableExists(conn, schema);
  const current = await readLineage(conn, schema);
  const currentByKey = new Map(current.map((row) => [key(row.table_name, row.attribute_name), row.lineage]));
  const wanted = new Set(rows.map((row) => key(row.table_name, row.attribute_name)));
  return {
    schema,
    tableExists,
    rows,
    changes: rows.filter((row) => currentByKey.get(key(row.table_name, row.attribute_name)) !== row.lineage),
    stale: current.filter((row) => !wanted.has(key(row.table_name, row.attribute_name))),
    ignoredExternalKeys,
  };
}

/** Rows per INSERT statement. */
const BATCH = 500;

/** Creates `~lineage` (2.x's DDL) if needed and makes its content exactly what 2.x's rebuild_lineage() computes. */
export async function rebuildLineage(conn: Connection, schema: string): Promise<LineageRebuilt> {
  const plan = await planLineage(conn, schema);
  if (!plan.tableExists) await execute(conn, lineageTableDdl(schema, quoteId));
  const target = tableRef(schema, LINEAGE_TABLE);
  await inTransaction(conn, async () => {
    for (let i = 0; i < plan.changes.length; i += BATCH) {
      const batch = plan.changes.slice(i, i + BATCH);
      await execute(
        conn,
        `INSERT INTO ${target} (table_name, attribute_name, lineage) VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}
         ON DUPLICATE KEY UPDATE lineage = VALUES(lineage)`,
        batch.flatMap((row) => [row.table_name, row.attribute_name, row.lineage]),
      );
    }
    for (const row of plan.stale) {
      await execute(conn, `DELETE FROM ${target} WHERE table_name = ? AND attribute_name = ? AND lineage = ?`, [row.table_name, row.attribute_name, row.lineage]);
    }
  });
  return { rows: plan.rows.length, created: !plan.tableExists, written: plan.changes.length, removed: plan.stale.length };
}
