// The migration's own memory, kept in the schema next to the data it describes so that any runner (Lambda,
// local, a rerun after a crash) picks up where the last one stopped. DataJoint ignores `~` tables; the names
// never start with `~external_`, which DataJoint would take for a store.
import type { Connection } from 'mysql2/promise';
import { keysetPages } from '../db/keyset.js';
import { execute, quoteId, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';

export const RUN_TABLE = '~djmigrate_011_run';
export const COLUMN_TABLE = '~djmigrate_011_column';
export const OBJECT_TABLE = '~djmigrate_011_object';
export const CHECKPOINT_TABLE = '~djmigrate_011_checkpoint';

/** `filled`: the temporary column was filled beside the hashing; `discarded`: that fill was dropped after a refusal. */
export type ColumnState = 'pending' | 'filled' | 'swapped' | 'discarded';

export interface JournalColumn {
  column_id: number;
  table_name: string;
  column_name: string;
  constraint_name: string;
  store: string;
  user_comment: string;
  is_nullable: number;
  ordinal_position: number;
  temp_column: string;
  state: ColumnState;
  /** JSON array of the last primary-key values filled, or null to start from the beginning. */
  resume_after: string | null;
  rows_rewritten: number;
}

export interface RunSettings {
  mode: Migrate011Input['mode'];
  default_store: string;
}

export function journalTables(database: string) {
  return {
    run: tableRef(database, RUN_TABLE),
    columns: tableRef(database, COLUMN_TABLE),
    objects: tableRef(database, OBJECT_TABLE),
    checkpoints: tableRef(database, CHECKPOINT_TABLE),
  };
}

export async function journalExists(conn: Connection, database: string): Promise<boolean> {
  const rows = await select(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, RUN_TABLE]);
  return rows.length > 0;
}

/** Creates the journal when missing and records the run's settings; refuses to continue a run made with other settings. */
export async function openJournal(conn: Connection, input: Migrate011Input): Promise<void> {
  const t = journalTables(input.schema);
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.run} (
      id tinyint unsigned NOT NULL,
      mode varchar(16) NOT NULL,
      default_store varchar(64) NOT NULL,
      started_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
      finished_at timestamp NULL DEFAULT NULL,
      report longtext NULL,
      PRIMARY KEY (id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.11->0.12 run'`,
  );
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.columns} (
      column_id int unsigned NOT NULL,
      table_name varchar(64) NOT NULL,
      column_name varchar(64) NOT NULL,
      constraint_name varchar(64) NOT NULL,
      store varchar(64) NOT NULL,
      user_comment varchar(1024) NOT NULL,
      is_nullable tinyint NOT NULL,
      ordinal_position int unsigned NOT NULL,
      temp_column varchar(64) NOT NULL,
      state varchar(16) NOT NULL DEFAULT 'pending',
      resume_after text NULL,
      rows_rewritten bigint unsigned NOT NULL DEFAULT 0,
      PRIMARY KEY (column_id),
      UNIQUE KEY table_column (table_name, column_name)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.11->0.12 columns'`,
  );
  // legacy_hash is binary so that values differing only in case never meet under a case-insensitive collation.
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.objects} (
      legacy_hash varbinary(51) NOT NULL,
      store varchar(64) NOT NULL,
      batch int unsigned NOT NULL,
      size bigint unsigned NOT NULL,
      contents_hash binary(16) NULL DEFAULT NULL,
      new_hash binary(16) NULL DEFAULT NULL,
      contents_from varchar(8) NULL DEFAULT NULL COMMENT 'stream: read and hashed; etag: the listed ETag (trustEtag)',
      PRIMARY KEY (legacy_hash),
      KEY batch (batch),
      KEY new_hash (new_hash),
      KEY store_hashed (store, contents_hash)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.11->0.12 objects'`,
  );
  // how far the phases that work in calls got in the execution `run` (checkpoint.ts)
  await execute(
    conn,
    `CREATE TABLE IF NOT EXISTS ${t.checkpoints} (
      phase varchar(16) NOT NULL,
      run varchar(255) NOT NULL,
      progress longtext NOT NULL,
      updated_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
      PRIMARY KEY (phase)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='djmigrate 0.11->0.12 phases in progress'`,
  );
  const existing = await select<RunSettings & { finished_at: string | null }>(conn, `SELECT mode, default_store, finished_at FROM ${t.run} WHERE id = 1`);
  if (existing.length === 0) {
    await execute(conn, `INSERT INTO ${t.run} (id, mode, default_store) VALUES (1, ?, ?)`, [input.mode, input.defaultStore]);
    return;
  }
  const [run] = existing;
  if (run.mode !== input.mode || run.default_store !== input.defaultStore) {
    throw new MigrationRefusedError(
      `schema ${input.schema} has a djmigrate run started with --mode ${run.mode} --default-store ${run.default_store}; ` +
        `this run asks for --mode ${input.mode} --default-store ${input.defaultStore}. Rerun with the original options to finish it.`,
    );
  }
}

export async function journalColumns(conn: Connection, database: string): Promise<JournalColumn[]> {
  if (!(await journalExists(conn, database))) return [];
  return select<JournalColumn>(conn, `SELECT * FROM ${journalTables(database).columns} ORDER BY column_id`);
}

export async function journalColumn(conn: Connection, database: string, columnId: number): Promise<JournalColumn> {
  const rows = await select<JournalColumn>(conn, `SELECT * FROM ${journalTables(database).columns} WHERE column_id = ?`, [columnId]);
  if (rows.length === 0) throw new MigrationRefusedError(`column #${columnId} is not in the migration journal of ${database}; run the whole migration again`);
  return rows[0];
}

export async function updateColumn(conn: Connection, database: string, columnId: number, changes: Partial<Pick<JournalColumn, 'state' | 'resume_after' | 'rows_rewritten'>>): Promise<void> {
  const entries = Object.entries(changes);
  await execute(
    conn,
    `UPDATE ${journalTables(database).columns} SET ${entries.map(([name]) => `${quoteId(name)} = ?`).join(', ')} WHERE column_id = ?`,
    [...entries.map(([, value]) => value), columnId],
  );
}

/** Rows of a keyset page: memory stays flat however many objects the schema has. */
const OBJECT_PAGE = 10_000;

/** The journal's objects matching `where` (with its `values`), in legacy_hash order, read in keyset pages. */
export async function* journalObjects<Row extends { legacy_hash: Buffer }>(conn: Connection, database: string, columns: string, where: string, values: unknown[]): AsyncGenerator<Row> {
  for await (const page of journalObjectPages<Row>(conn, database, columns, where, values)) yield* page;
}

/** journalObjects page by page (each at most OBJECT_PAGE rows): for work done per page. */
export function journalObjectPages<Row extends { legacy_hash: Buffer }>(conn: Connection, database: string, columns: string, where: string, values: unknown[]): AsyncGenerator<Row[]> {
  return keysetPages(
    (after: Buffer | null) =>
      select<Row>(
        conn,
        `SELECT ${columns} FROM ${journalTables(database).objects} WHERE ${where}${after ? ' AND legacy_hash > ?' : ''} ORDER BY legacy_hash LIMIT ${OBJECT_PAGE}`,
        after ? [...values, after] : values,
      ),
    (row) => row.legacy_hash,
    OBJECT_PAGE,
  );
}
