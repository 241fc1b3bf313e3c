// Retires the legacy `~external` table once nothing references it: dropped, or with keepLegacy renamed to a
// name DataJoint ignores (never `~external_*`, which it would take for a store) so it can serve a rollback.
import type { Connection } from 'mysql2/promise';
import { LEGACY_EXTERNAL_TABLE } from '../datajoint/v011.js';
import { execute, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';
import { journalColumns } from './journal.js';

const KEPT_LEGACY_TABLE = '~djmigrate_legacy_external';

export interface Finished {
  legacyTable: 'dropped' | 'renamed' | 'absent';
}

export async function finishMigration(conn: Connection, input: Migrate011Input): Promise<Finished> {
  const exists = async (table: string) =>
    (await select(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [input.schema, table])).length > 0;
  if (!(await exists(LEGACY_EXTERNAL_TABLE))) return { legacyTable: 'absent' };
  const references = await select<{ table_schema: string; table_name: string; column_name: string }>(
    conn,
    `SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name, COLUMN_NAME AS column_name FROM information_schema.KEY_COLUMN_USAGE
      WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?`,
    [input.schema, LEGACY_EXTERNAL_TABLE],
  );
  const pending = (await journalColumns(conn, input.schema)).filter((column) => column.state !== 'swapped');
  if (references.length || pending.length) {
    throw new MigrationRefusedError(
      `${LEGACY_EXTERNAL_TABLE} is still in use, so it was kept; rerun the migration to convert these columns:`,
      [
        ...references.map((ref) => `${ref.table_schema}.${ref.table_name}.${ref.column_name} references it`),
        ...pending.map((column) => `${column.table_name}.${column.column_name} is not rewritten yet`),
      ],
    );
  }
  const legacy = tableRef(input.schema, LEGACY_EXTERNAL_TABLE);
  if (!input.keepLegacy) {
    await execute(conn, `DROP TABLE ${legacy}`);
    return { legacyTable: 'dropped' };
  }
  if (await exists(KEPT_LEGACY_TABLE)) {
    throw new MigrationRefusedError(`${input.schema}.${KEPT_LEGACY_TABLE} already exists (an earlier migration kept it); rename or drop it, then rerun with --keep-legacy`);
  }
  await execute(conn, `RENAME TABLE ${legacy} TO ${tableRef(input.schema, KEPT_LEGACY_TABLE)}`);
  return { legacyTable: 'renamed' };
}
