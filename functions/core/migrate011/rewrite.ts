// Rewrites one referencing column: a temporary binary(16) column (16 zero bytes until filled) filled set-based in
// primary-key chunks (each sized to take about half a second), a check that every pointer was carried over, then one
// in-place ALTER that swaps it in with the original name, position, NULL-ability, comment marker and a foreign key to
// `~external_<store>`, and a check that every pointer has its row. The fill can run early, beside the hashing of other
// stores (fillColumn); the swap waits until every object is hashed and verified (rewriteColumn). Each call works for a
// bounded time and can be repeated until it reports done.
import type { Connection } from 'mysql2/promise';
import { blobColumnComment, externalTableName, UUID_SQL_TYPE } from '../datajoint/v012.js';
import { columnsInTurn } from '../columns-in-turn.js';
import { decodeKey, encodeKey, keyChunk, primaryKeyOf } from '../db/keyset.js';
import { addColumn, DEFAULT_LOCK_WAIT_SECONDS, estimatedDistinctValues, execute, executeChanged, quoteId, quoteValue, select, selectRaw, serverFlavor, tableRef, withLockWaitLimit, withoutForeignKeyChecks } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { ProgressSink } from '../progress.js';
import type { Migrate011Input } from './input.js';
import { journalColumn, journalColumns, journalTables, updateColumn, type JournalColumn } from './journal.js';
import { tempColumnMethod } from './temp-column.js';

const EXAMPLES = 10;
/** Up to this many distinct pointers, a column's fill waits only for the objects it points at (readyToFill). */
const FEW_DISTINCT_POINTERS = 10_000;
/**
 * Up to this many distinct pointers, the fill maps them with a CASE over their bytes instead of a journal lookup per
 * row (~35% less UPDATE time on a 1M-row table); a CASE tests its branches in turn, so only for a handful.
 */
const CASE_MAX_POINTERS = 32;
const TEMP_COLUMN = /^_djmigrate_\d+$/;
/**
 * A temporary column's value until its row is filled: 16 zero bytes, the default of the column, so rows a 0.11 client
 * inserts meanwhile show up unfilled too. No new hash is all zeros (that would be an MD5 preimage).
 */
const UNFILLED = Buffer.alloc(16);

export interface RewriteOptions {
  /** Stop starting new chunks after this long; the caller invokes again. */
  budgetMs: number;
  /** Aim for chunks that hold row locks about this long. */
  targetChunkMs?: number;
  initialChunkRows?: number;
  /** Up to this many distinct pointers (the server's estimate), the check before the swap groups rows by pointer first. */
  groupedCheckUpToDistinct?: number;
}

export interface RewriteProgress {
  column: number;
  done: boolean;
  rows: number;
}

export interface FillProgress extends RewriteProgress {
  /** Objects the column needs are still to hash: call again after a while. */
  waiting: boolean;
}

interface LiveColumn {
  name: string;
  ordinal: number;
  type: string;
}

/**
 * Beside the hashing: fills the column's temporary column once the objects it needs are hashed and verified
 * (readyToFill), then builds its index. DataJoint's own columns stay as they are until rewriteColumn swaps, after all
 * stores are hashed; when hashing is refused, discardFills drops what this filled.
 */
export async function fillColumn(conn: Connection, input: Migrate011Input, columnId: number, options: RewriteOptions, progress: ProgressSink): Promise<FillProgress> {
  const started = Date.now();
  const column = await journalColumn(conn, input.schema, columnId);
  const finished = (rows: number) => ({ column: columnId, done: true, rows, waiting: false });
  const working = (rows: number) => ({ column: columnId, done: false, rows, waiting: false });
  // swapped already, or discarded while this call was on its way
  if (column.state !== 'pending' && column.state !== 'filled') return finished(0);
  const live = await liveColumns(conn, input.schema, column.table_name);
  // a swap whose journal update was lost (its index renamed already, maybe): rewriteColumn records it
  if (await swappedBeforeJournal(conn, input, column, live)) return finished(0);
  // The index the swapped column needs, built here (in a call of its own) rather than in the swap's ALTER, which
  // then only renames it: the build runs beside the hashing, the swap stays a metadata change.
  if (column.state === 'filled') {
    await buildOwnIndex(conn, input, column);
    return finished(0);
  }
  // The temporary columns need no hashes: added (a table rebuild, maybe seconds) while the objects still hash.
  // A discard that came in while the ALTER waited for its lock found no column to drop.
  if ((await ensureTempColumns(conn, input, column, live)) && (await journalColumn(conn, input.schema, columnId)).state === 'discarded') {
    await dropTempColumn(conn, input, column);
    return finished(0);
  }
  if (!(await readyToFill(conn, input, column))) return { column: columnId, done: false, rows: 0, waiting: true };
  const fill = await fillChunks(conn, input, column, options, progress, started, true);
  if (!fill.filled) return working(fill.rows);
  // only from pending: a discard that came in meanwhile wins, and its column goes
  if ((await execute(conn, `UPDATE ${journalTables(input.schema).columns} SET state = 'filled' WHERE column_id = ? AND state = 'pending'`, [columnId])) === 0) {
    await dropTempColumn(conn, input, column);
    return finished(fill.rows);
  }
  // the next call builds the index
  return working(fill.rows);
}

/**
 * A table's columns in turn (fillColumn on each until it is done), so one table never has two fills at once: they
 * would wait on each other's row locks. A column done already is a quick look (journal, indexes). The progress
 * reported is the current column's.
 */
export function fillTableColumns(conn: Connection, input: Migrate011Input, columnIds: readonly number[], options: RewriteOptions, progress: ProgressSink): Promise<FillProgress> {
  return columnsInTurn(columnIds, options.budgetMs, (columnId, budgetMs) => fillColumn(conn, input, columnId, { ...options, budgetMs }, progress));
}

/**
 * A table's columns rewritten in turn (rewriteColumn on each until it is done): the tables go side by side, a table's
 * swaps one after the other (two ALTERs of one table would wait on each other's metadata lock). A column swapped
 * already is a quick look at the journal.
 */
export function rewriteTableColumns(conn: Connection, input: Migrate011Input, columnIds: readonly number[], options: RewriteOptions, progress: ProgressSink): Promise<RewriteProgress> {
  return columnsInTurn(columnIds, options.budgetMs, (columnId, budgetMs) => rewriteColumn(conn, input, columnId, { ...options, budgetMs }, progress));
}

export async function rewriteColumn(conn: Connection, input: Migrate011Input, columnId: number, options: RewriteOptions, progress: ProgressSink): Promise<RewriteProgress> {
  const started = Date.now();
  const column = await journalColumn(conn, input.schema, columnId);
  if (column.state === 'swapped') return { column: columnId, done: true, rows: 0 };
  const live = await liveColumns(conn, input.schema, column.table_name);
  if (await swappedBeforeJournal(conn, input, column, live)) {
    // The swap committed but the journal update (or the index's renaming) did not: a crash in between.
    await nameOwnIndex(conn, input, column);
    await updateColumn(conn, input.schema, columnId, { state: 'swapped' });
    await refuseDangling(conn, input, column);
    return { column: columnId, done: true, rows: 0 };
  }
  await requireInsertedRows(conn, input, column);
  const primaryKey = await primaryKeyOf(conn, input.schema, column.table_name);
  let rows = 0;
  if (column.state !== 'filled') {
    await ensureTempColumns(conn, input, column, live);
    const fill = await fillChunks(conn, input, column, options, progress, started, false);
    if (!fill.filled) return { column: columnId, done: false, rows: fill.rows };
    rows = fill.rows;
  }
  let check = await checkPointers(conn, input, column, options);
  if (check.unfilled > 0 && column.state === 'filled') {
    // Filled beside the hashing: rows written since then are filled now, in a pass from the start, and checked again.
    await updateColumn(conn, input.schema, columnId, { state: 'pending', resume_after: null });
    const fill = await fillChunks(conn, input, { ...column, resume_after: null }, options, progress, started, false);
    if (!fill.filled) return { column: columnId, done: false, rows: fill.rows };
    rows = fill.rows;
    check = await checkPointers(conn, input, column, options);
  }
  await refuseUnfilled(conn, input, column, primaryKey, check);
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () => swapColumn(conn, input, column));
  await nameOwnIndex(conn, input, column);
  await updateColumn(conn, input.schema, columnId, { state: 'swapped' });
  await refuseDangling(conn, input, column);
  progress.report({ kind: 'column-swapped', table: column.table_name, column: column.column_name });
  return { column: columnId, done: true, rows };
}

/**
 * After a refusal while hashing: the early fills go (their temporary columns dropped, the journal marks them
 * `discarded`; Prepare makes them pending again on the rerun), so DataJoint's tables are as they were while the user
 * fixes what was refused. A fill still running sees the mark before its next chunk and drops its own column.
 */
export async function discardFills(conn: Connection, input: Pick<Migrate011Input, 'schema'>): Promise<{ dropped: number }> {
  await execute(
    conn,
    `UPDATE ${journalTables(input.schema).columns} SET state = 'discarded', resume_after = NULL, rows_rewritten = 0 WHERE state <> 'swapped'`,
  );
  let dropped = 0;
  for (const column of (await journalColumns(conn, input.schema)).filter((c) => c.state === 'discarded')) {
    if (await dropTempColumn(conn, input, column)) dropped += 1;
  }
  return { dropped };
}

async function dropTempColumn(conn: Connection, input: Pick<Migrate011Input, 'schema'>, column: JournalColumn): Promise<boolean> {
  const live = await liveColumns(conn, input.schema, column.table_name);
  if (!live.some((c) => c.name === column.temp_column)) return false;
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () =>
    execute(conn, `ALTER TABLE ${tableRef(input.schema, column.table_name)} DROP COLUMN ${quoteId(column.temp_column)}`),
  );
  return true;
}

/**
 * Fills the temporary column (ensureTempColumns added it) from the journal, chunk after chunk from `resume_after`,
 * until the table's end or the budget. `watchDiscard`: look for a discard before each chunk (the fill runs beside hashing).
 */
async function fillChunks(
  conn: Connection,
  input: Migrate011Input,
  column: JournalColumn,
  options: RewriteOptions,
  progress: ProgressSink,
  started: number,
  watchDiscard: boolean,
): Promise<{ rows: number; filled: boolean }> {
  const table = tableRef(input.schema, column.table_name);
  const legacy = quoteId(column.column_name);
  const temp = quoteId(column.temp_column);
  const primaryKey = await primaryKeyOf(conn, input.schema, column.table_name);
  const newValue = await newValueSql(conn, input, column);
  let after = column.resume_after === null ? null : decodeKey(column.resume_after);
  let chunkRows = options.initialChunkRows ?? 1000;
  const target = options.targetChunkMs ?? 500;
  let rows = 0;
  let filled = false;
  // At least one chunk per call, so every call makes progress whatever the budget. A chunk that waits for row
  // locks longer than the limit fails as transient and is retried: it never queues the table's other writers.
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, async () => {
    do {
      if (watchDiscard && (await journalColumn(conn, input.schema, column.column_id)).state === 'discarded') {
        await dropTempColumn(conn, input, column);
        return;
      }
      const chunkStarted = Date.now();
      const chunk = await keyChunk(conn, table, primaryKey, after, primaryKey.length ? chunkRows : null);
      const range = chunk.where ? ` AND ${chunk.where}` : '';
      // A NULL pointer gets NULL; a pointer the journal does not know (yet) keeps its row unfilled, for the pass before
      // the swap to find (and uncounted: the CASE sets it to what it was).
      const changed = await executeChanged(
        conn,
        newValue
          ? `UPDATE ${table} t SET t.${temp} = IF(t.${legacy} IS NULL, NULL, ${newValue.sql})
              WHERE t.${temp} = ?${range}`
          : `UPDATE ${table} t LEFT JOIN ${journalTables(input.schema).objects} j ON j.legacy_hash = CAST(t.${legacy} AS BINARY)
                SET t.${temp} = j.new_hash
              WHERE t.${temp} = ? AND (t.${legacy} IS NULL OR j.new_hash IS NOT NULL)${range}`,
        [...(newValue?.values ?? []), UNFILLED, ...chunk.values],
      );
      rows += changed;
      filled = chunk.last === null;
      after = chunk.last;
      await updateColumn(conn, input.schema, column.column_id, { resume_after: after && encodeKey(after), rows_rewritten: Number(column.rows_rewritten) + rows });
      progress.report({ kind: 'rows-rewritten', table: column.table_name, column: column.column_name, rows: changed });
      const elapsed = Math.max(1, Date.now() - chunkStarted);
      chunkRows = Math.min(100_000, Math.max(100, Math.round((chunkRows * target) / elapsed)));
    } while (!filled && Date.now() - started < options.budgetMs);
  });
  return { rows, filled };
}

/**
 * For a column pointing at a handful of objects, each hashed: its new value as a CASE over the pointer's bytes (unknown
 * bytes stay UNFILLED). Null when the fill should look each pointer up in the journal instead.
 */
async function newValueSql(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<{ sql: string; values: Buffer[] } | null> {
  const legacy = quoteId(column.column_name);
  // read off the column's index one value at a time (a loose index scan), stopping past the handful
  const pointers = await select<{ pointer: Buffer }>(
    conn,
    `SELECT DISTINCT CAST(${legacy} AS BINARY) AS pointer FROM (SELECT DISTINCT ${legacy} FROM ${tableRef(input.schema, column.table_name)} WHERE ${legacy} IS NOT NULL LIMIT ${CASE_MAX_POINTERS + 1}) d`,
  );
  if (pointers.length > CASE_MAX_POINTERS) return null;
  if (pointers.length === 0) return { sql: '?', values: [UNFILLED] };
  const pairs = await select<{ pointer: Buffer; new_hash: Buffer | null }>(
    conn,
    `SELECT legacy_hash AS pointer, new_hash FROM ${journalTables(input.schema).objects} WHERE legacy_hash IN (?)`,
    [pointers.map((p) => p.pointer)],
  );
  if (pairs.length < pointers.length || pairs.some((pair) => pair.new_hash === null)) return null;
  return {
    sql: `CASE CAST(t.${legacy} AS BINARY) ${pairs.map(() => 'WHEN ? THEN ?').join(' ')} ELSE ? END`,
    values: [...pairs.flatMap((pair) => [pair.pointer, pair.new_hash!]), UNFILLED],
  };
}

/**
 * Adds the column's temporary column, when missing, together with those of the table's other columns still pending,
 * in one ALTER: a table with several external columns is rebuilt once, not once per column. True when it added them.
 */
async function ensureTempColumns(conn: Connection, input: Migrate011Input, column: JournalColumn, live: LiveColumn[]): Promise<boolean> {
  if (!live.some((c) => c.name === column.column_name)) {
    throw new MigrationRefusedError(`${column.table_name}.${column.column_name} no longer exists; it was changed outside the migration, inspect the table before rerunning`);
  }
  if (live.some((c) => c.name === column.temp_column)) return false;
  const siblings = (await journalColumns(conn, input.schema)).filter(
    (other) =>
      other.table_name === column.table_name &&
      other.column_id !== column.column_id &&
      other.state === 'pending' &&
      live.some((c) => c.name === other.column_name) &&
      !live.some((c) => c.name === other.temp_column),
  );
  // NULL-ability as the swapped column will have it: the swap then only renames (no NOT NULL check over the table)
  const definitions = [column, ...siblings].map(
    (c) => `${quoteId(c.temp_column)} ${UUID_SQL_TYPE} ${c.is_nullable ? 'NULL' : 'NOT NULL'} DEFAULT ${quoteValue(UNFILLED)} AFTER ${quoteId(c.column_name)}`,
  );
  const { rebuild } = await tempColumnMethod(conn, input.schema, column.table_name);
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () => addColumn(conn, tableRef(input.schema, column.table_name), definitions, { rebuild }));
  return true;
}

async function liveColumns(conn: Connection, schema: string, table: string): Promise<LiveColumn[]> {
  const rows = await select<{ name: string; ordinal: number; type: string }>(
    conn,
    `SELECT COLUMN_NAME AS name, ORDINAL_POSITION AS ordinal, COLUMN_TYPE AS type FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  return rows.map((row) => ({ ...row, ordinal: Number(row.ordinal) }));
}

/** The original column is already the 0.12 one (its temporary column gone, its foreign key to `~external_<store>`). */
async function swappedBeforeJournal(conn: Connection, input: Migrate011Input, column: JournalColumn, live: LiveColumn[]): Promise<boolean> {
  return live.some((c) => c.name === column.column_name) && !live.some((c) => c.name === column.temp_column) && (await isSwapped(conn, input.schema, column));
}

async function isSwapped(conn: Connection, schema: string, column: JournalColumn): Promise<boolean> {
  const rows = await select(
    conn,
    `SELECT 1 FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?`,
    [schema, column.table_name, column.column_name, schema, externalTableName(column.store)],
  );
  return rows.length > 0;
}

/**
 * Whether the column's fill can start: every object of its store is hashed and verified, or, for a column pointing
 * at few distinct objects (its index's cardinality, as the server estimates it), every object it points at. A fill
 * that starts early misses nothing: rows pointing elsewhere later are filled before the swap (rewriteColumn).
 */
async function readyToFill(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<boolean> {
  const objects = journalTables(input.schema).objects;
  const [{ pending }] = await select<{ pending: number }>(conn, `SELECT EXISTS (SELECT 1 FROM ${objects} WHERE store = ? AND contents_hash IS NULL) AS pending`, [column.store]);
  if (!Number(pending)) return true;
  const distinct = await estimatedDistinctValues(conn, input.schema, column.table_name, column.column_name);
  if (distinct === null || distinct > FEW_DISTINCT_POINTERS) return false;
  // DISTINCT over the column's index reads one entry per distinct value (a loose index scan)
  const [{ unhashed }] = await select<{ unhashed: number }>(
    conn,
    `SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT ${quoteId(column.column_name)} AS pointer FROM ${tableRef(input.schema, column.table_name)}) d
        JOIN ${objects} o ON o.legacy_hash = CAST(d.pointer AS BINARY) WHERE o.contents_hash IS NULL) AS unhashed`,
  );
  return !Number(unhashed);
}

async function requireInsertedRows(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<void> {
  const t = journalTables(input.schema);
  const [{ missing }] = await select<{ missing: number }>(
    conn,
    `SELECT COUNT(*) AS missing FROM ${t.objects} o
      WHERE o.store = ? AND (o.new_hash IS NULL OR NOT EXISTS (SELECT 1 FROM ${tableRef(input.schema, externalTableName(column.store))} e WHERE e.hash = o.new_hash))`,
    [column.store],
  );
  if (Number(missing) > 0) {
    throw new MigrationRefusedError(`${missing} object(s) of store "${column.store}" are not yet hashed and recorded in ${externalTableName(column.store)}; rerun the migration from the start`);
  }
}

interface PointerCheck {
  /** Rows whose temporary column still holds UNFILLED. */
  unfilled: number;
  /** Rows whose new value is not the one their pointer maps to now (a pointer changed or set to NULL after its fill). */
  stale: number;
}

/**
 * Counts both in one pass over the table. A column pointing at few objects is grouped into its distinct (pointer, new
 * value) pairs first, so the journal is looked up per pair instead of per row (~3x faster on a 1M-row table); the
 * pointer is compared as bytes, as the journal keys it, so values differing only in letter case stay apart.
 */
async function checkPointers(conn: Connection, input: Migrate011Input, column: JournalColumn, { groupedCheckUpToDistinct = FEW_DISTINCT_POINTERS }: RewriteOptions): Promise<PointerCheck> {
  const table = tableRef(input.schema, column.table_name);
  const legacy = quoteId(column.column_name);
  const temp = quoteId(column.temp_column);
  const distinct = await estimatedDistinctValues(conn, input.schema, column.table_name, column.column_name);
  const pairs =
    distinct !== null && distinct <= groupedCheckUpToDistinct
      ? `SELECT CAST(${legacy} AS BINARY) AS pointer, ${temp} AS value, COUNT(*) AS n FROM ${table} GROUP BY pointer, value`
      : `SELECT CAST(${legacy} AS BINARY) AS pointer, ${temp} AS value, 1 AS n FROM ${table}`;
  const [counts] = await select<{ unfilled: number | null; stale: number | null }>(
    conn,
    `SELECT SUM(IF(p.value = ?, p.n, 0)) AS unfilled, SUM(IF(p.value <=> j.new_hash, 0, p.n)) AS stale
       FROM (${pairs}) p LEFT JOIN ${journalTables(input.schema).objects} j ON j.legacy_hash = p.pointer`,
    [UNFILLED],
  );
  return { unfilled: Number(counts.unfilled ?? 0), stale: Number(counts.stale ?? 0) };
}

/** Before the swap: every pointer has its new value, and each new value is still the one its pointer maps to. */
async function refuseUnfilled(conn: Connection, input: Migrate011Input, column: JournalColumn, primaryKey: string[], { unfilled, stale }: PointerCheck): Promise<void> {
  const table = tableRef(input.schema, column.table_name);
  const legacy = quoteId(column.column_name);
  const temp = quoteId(column.temp_column);
  if (unfilled > 0) {
    const left = await selectRaw(
      conn,
      `SELECT ${[...primaryKey.map(quoteId), `${legacy} AS legacy_value`].join(', ')} FROM ${table} WHERE ${temp} = ? LIMIT ${EXAMPLES}`,
      [UNFILLED],
    );
    // Start over on the rerun: these rows may sit anywhere in the key order.
    await updateColumn(conn, input.schema, column.column_id, { state: 'pending', resume_after: null });
    throw new MigrationRefusedError(
      `${column.table_name}.${column.column_name} has pointers that are not in the migration journal (written by a 0.11 client while the migration ran?); the column was not swapped. Stop 0.11 writers and rerun:`,
      left.map((row) => `${primaryKey.map((name) => `${name}=${String(row[name])}`).join(', ')}: ${String(row.legacy_value)}`),
    );
  }
  if (!stale) return;
  // the rerun fills the column again from the start
  await dropTempColumn(conn, input, column);
  await updateColumn(conn, input.schema, column.column_id, { state: 'pending', resume_after: null, rows_rewritten: 0 });
  throw new MigrationRefusedError(
    `${stale} pointer(s) of ${column.table_name}.${column.column_name} changed after their new value was written (a 0.11 client wrote while the migration ran?); the column was not swapped. Stop 0.11 writers and rerun.`,
  );
}

/**
 * One ALTER with foreign-key checks off, so the server builds it in place (online, no table copy: on MariaDB the
 * dropped column and the renamed one are instant, only the new index is built) instead of copying the table to
 * validate the new foreign key. The validation follows the ALTER (refuseDangling). What 0.12 reads and what the
 * official tool left stays the same: the next free `<table>_ibfk_<n>` name, the index named as the column.
 */
async function swapColumn(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<void> {
  const table = tableRef(input.schema, column.table_name);
  const live = await liveColumns(conn, input.schema, column.table_name);
  const position = live.findIndex((c) => c.name === column.column_name);
  const previous = live.slice(0, position).reverse().find((c) => !TEMP_COLUMN.test(c.name));
  const indexes = await indexesOf(conn, input.schema, column.table_name);
  const recreated = indexesToRecreate(indexes, column);
  const ownIndex = needsOwnIndex(indexes, column);
  const prebuilt = indexes.some((index) => index.name === column.temp_column);
  // MariaDB records NO ACTION for a RESTRICT spelled out in an in-place ADD FOREIGN KEY, and RESTRICT (its default)
  // when it is left out; MySQL's default is NO ACTION, so there it is spelled out as 0.12 declares it.
  const rules = (await serverFlavor(conn)) === 'mysql' ? ' ON UPDATE RESTRICT ON DELETE RESTRICT' : '';
  const comment = blobColumnComment(column.store, column.user_comment);
  const clauses = [
    `DROP FOREIGN KEY ${quoteId(column.constraint_name)}`,
    ...recreated.map((index) => `DROP INDEX ${quoteId(index.name)}`),
    `DROP COLUMN ${quoteId(column.column_name)}`,
    `CHANGE COLUMN ${quoteId(column.temp_column)} ${quoteId(column.column_name)} ${UUID_SQL_TYPE} ${column.is_nullable ? 'NULL DEFAULT NULL' : 'NOT NULL'} ` +
      `COMMENT ${quoteValue(comment)} ${previous ? `AFTER ${quoteId(previous.name)}` : 'FIRST'}`,
    ...recreated.map((index) => `ADD ${index.unique ? 'UNIQUE ' : ''}INDEX ${quoteId(index.name)} (${index.columns.map(quoteId).join(', ')})`),
    // a prebuilt index follows its column's rename; nameOwnIndex names it after the ALTER
    ...(ownIndex && !prebuilt ? [`ADD INDEX ${quoteId(column.column_name)} (${quoteId(column.column_name)})`] : []),
    ...(!ownIndex && prebuilt ? [`DROP INDEX ${quoteId(column.temp_column)}`] : []),
    // named explicitly: unnamed, the in-place ALTER numbers the key as if the one it drops were gone and collides with it
    `ADD CONSTRAINT ${quoteId(await nextForeignKeyName(conn, input.schema, column.table_name))} FOREIGN KEY (${quoteId(column.column_name)}) ` +
      `REFERENCES ${tableRef(input.schema, externalTableName(column.store))} (\`hash\`)${rules}`,
  ];
  await withoutForeignKeyChecks(conn, () => execute(conn, `ALTER TABLE ${table}\n  ${clauses.join(',\n  ')}`));
}

/** The name the server gives a table's next unnamed foreign key: one past the highest `<table>_ibfk_<n>` in the schema. */
async function nextForeignKeyName(conn: Connection, schema: string, table: string): Promise<string> {
  const names = await select<{ name: string }>(
    conn,
    `SELECT CONSTRAINT_NAME AS name FROM information_schema.TABLE_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND CONSTRAINT_TYPE = 'FOREIGN KEY'`,
    [schema],
  );
  const prefix = `${table}_ibfk_`.toLowerCase();
  const highest = Math.max(0, ...names.map(({ name }) => name.toLowerCase()).filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))).map((name) => Number(name.slice(prefix.length))));
  return `${table}_ibfk_${highest + 1}`;
}

/**
 * The swapped-in foreign key was not validated when it was added: a `~external_<store>` row deleted before the swap
 * (a 0.12 external cleanup run on the schema mid-migration: the rows had no referencing column yet) shows here.
 */
async function refuseDangling(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<void> {
  const c = quoteId(column.column_name);
  // per distinct pointer: the foreign key's index is read once per value (binary(16): no two values compare equal)
  const [{ dangling }] = await select<{ dangling: number }>(
    conn,
    `SELECT COUNT(*) AS dangling FROM (SELECT DISTINCT ${c} AS pointer FROM ${tableRef(input.schema, column.table_name)} WHERE ${c} IS NOT NULL) d
      WHERE NOT EXISTS (SELECT 1 FROM ${tableRef(input.schema, externalTableName(column.store))} e WHERE e.hash = d.pointer)`,
  );
  if (Number(dangling) === 0) return;
  throw new MigrationRefusedError(
    `${column.table_name}.${column.column_name} points at ${dangling} object(s) that have no ${externalTableName(column.store)} row after the swap: rows were deleted while the schema migrated (a 0.12 external cleanup?). ` +
      'Keep the schema quiet and rerun the migration: it inserts the missing rows again from its journal and verifies every object.',
  );
}

interface TableIndex {
  name: string;
  unique: boolean;
  columns: string[];
}

async function indexesOf(conn: Connection, schema: string, table: string): Promise<TableIndex[]> {
  const rows = await select<{ name: string; non_unique: number; column_name: string }>(
    conn,
    `SELECT INDEX_NAME AS name, NON_UNIQUE AS non_unique, COLUMN_NAME AS column_name FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const byName = new Map<string, TableIndex>();
  for (const row of rows) {
    const index = byName.get(row.name) ?? { name: row.name, unique: Number(row.non_unique) === 0, columns: [] };
    index.columns.push(row.column_name);
    byName.set(row.name, index);
  }
  return [...byName.values()];
}

/** Indexes that include the column besides the plain one serving its old foreign key (DROP COLUMN drops that one). */
function indexesToRecreate(indexes: TableIndex[], column: JournalColumn): TableIndex[] {
  return indexes.filter(
    (index) =>
      index.columns.includes(column.column_name) && index.name !== 'PRIMARY' && !(index.columns.length === 1 && !index.unique) && !index.columns.includes(column.temp_column),
  );
}

/**
 * Whether the swapped column needs an index of its own for its foreign key: none of the recreated indexes starts with
 * it, and its name is free (an unrelated index already named as the column keeps that name).
 */
function needsOwnIndex(indexes: TableIndex[], column: JournalColumn): boolean {
  const servedByRecreated = indexesToRecreate(indexes, column).some((index) => index.columns[0] === column.column_name);
  const keptNames = new Set(indexes.filter((index) => !index.columns.includes(column.column_name)).map((index) => index.name.toLowerCase()));
  return !servedByRecreated && !keptNames.has(column.column_name.toLowerCase());
}

/** The filled temporary column's index (named as the temporary column), when the swapped column will need one. */
async function buildOwnIndex(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<void> {
  const indexes = await indexesOf(conn, input.schema, column.table_name);
  if (!needsOwnIndex(indexes, column) || indexes.some((index) => index.name === column.temp_column)) return;
  const temp = quoteId(column.temp_column);
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () => execute(conn, `ALTER TABLE ${tableRef(input.schema, column.table_name)} ADD INDEX ${temp} (${temp})`));
}

/** After the swap: the prebuilt index gets the column's name, as 0.12 and the official tool name it (a metadata change). */
async function nameOwnIndex(conn: Connection, input: Migrate011Input, column: JournalColumn): Promise<void> {
  const indexes = await indexesOf(conn, input.schema, column.table_name);
  if (!indexes.some((index) => index.name === column.temp_column)) return;
  await withLockWaitLimit(conn, DEFAULT_LOCK_WAIT_SECONDS, () =>
    execute(conn, `ALTER TABLE ${tableRef(input.schema, column.table_name)} RENAME INDEX ${quoteId(column.temp_column)} TO ${quoteId(column.column_name)}`),
  );
}
