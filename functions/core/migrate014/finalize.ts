// `finalize`: once no column points to them any more, the 0.14 `~external_<store>` tables are renamed out of
// DataJoint's sight (never to a `~external_*` name, which DataJoint would take for a store); kept for rollback.
import type { Connection } from 'mysql2/promise';
import { EXTERNAL_TABLE_PREFIX } from '../datajoint/v012.js';
import { execute, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';

export const KEPT_EXTERNAL_PREFIX = '~djmigrate_v014_external_';

export interface Finalized {
  renamed: { from: string; to: string }[];
}

export async function finalizeExternalTables(conn: Connection, schema: string): Promise<Finalized> {
  const tables = (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ?', [
    schema,
    `${EXTERNAL_TABLE_PREFIX.replace(/_/g, '\\_')}%`,
  ])).map((row) => row.name);
  if (tables.length === 0) return { renamed: [] };
  const references = await select<{ table_name: string; column_name: string; referenced: string }>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, REFERENCED_TABLE_NAME AS referenced FROM information_schema.KEY_COLUMN_USAGE
      WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME LIKE ?`,
    [schema, `${EXTERNAL_TABLE_PREFIX.replace(/_/g, '\\_')}%`],
  );
  if (references.length) {
    throw new MigrationRefusedError(
      'columns still point to the 0.14 external tables; run the migrate_external_storage step first:',
      references.map((ref) => `${ref.table_name}.${ref.column_name} → ${ref.referenced}`),
    );
  }
  const renamed = tables.map((name) => ({ from: name, to: KEPT_EXTERNAL_PREFIX + name.slice(EXTERNAL_TABLE_PREFIX.length) }));
  const taken = await select<{ name: string }>(conn, `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)`, [
    schema,
    renamed.map((r) => r.to),
  ]);
  if (taken.length) throw new MigrationRefusedError(`${taken.map((t) => t.name).join(', ')} already exist(s) in ${schema}; rename or drop them, then rerun finalize`);
  await execute(conn, `RENAME TABLE ${renamed.map((r) => `${tableRef(schema, r.from)} TO ${tableRef(schema, r.to)}`).join(', ')}`);
  return { renamed };
}
