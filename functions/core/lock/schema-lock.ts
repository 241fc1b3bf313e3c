// One migration run per schema. The lock lives in the schema itself (one row in `~djmigrate`), so every runner
// that can reach the data sees it: a Lambda execution, the local runner, a retry, a second engineer's laptop.
// A holder proves it is alive by moving `heartbeat_at`; a lock whose heartbeat stopped is only *stale*, never
// free: taking it over needs an explicit flag, because a slow run and a dead run look the same from outside.
//
// Times come from the server clock only (NOW(6), compared in SQL), so clock skew between runners never matters.
// Every change is one conditional statement whose affected-row count says whether it won; no transaction, no
// gap locks, no deadlocks between two runners starting at the same moment. The table exists only while a run holds
// the schema: the last release drops it, so a finished (or refused) run leaves the schema as it found it. Creating
// it and dropping it are serialized by a server-side named lock (GET_LOCK), so a release never drops a row that a
// starting run has just written.
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { execute, quoteId, select, tableRef } from '../db/sql.js';
import { MigrationRefusedError, TransientError } from '../errors.js';

export const LOCK_TABLE = '~djmigrate';
export const DEFAULT_STALE_AFTER_SECONDS = 900;
/** How the user asks to take over a stale lock, in the CLI and in the state machine's input. */
export const TAKE_OVER_FLAG = '--take-over-lock';
export const TAKE_OVER_INPUT = 'takeOverLock: true';

const MAX_TEXT = 255;

export interface AcquireOptions {
  /** Execution id/ARN, or `local:<host>:<pid>:<uuid>`; the same holder may acquire again (retries, resumes). */
  holder: string;
  /** What the run does, shown to whoever is refused, e.g. "0.11 -> 0.12 in-place". */
  description: string;
  /** Seconds without a heartbeat after which the lock counts as stale (default 900). */
  staleAfterSeconds?: number;
  /** Take over a stale lock (never a live one). */
  takeOver?: boolean;
}

export interface AcquiredLock {
  holder: string;
  /** When this holder first acquired the lock (kept when the same holder acquires again). */
  acquiredAt: Date;
  /** The holder whose stale lock was taken over. */
  tookOverFrom?: string;
}

export interface SchemaLockInfo {
  holder: string;
  description: string;
  acquiredAt: Date;
  heartbeatAt: Date;
  /** Measured by the server's clock. */
  secondsSinceHeartbeat: number;
  /** No heartbeat for staleAfterSeconds (default 900). */
  stale: boolean;
}

interface LockRow {
  holder: string;
  description: string;
  acquired_at: string | number;
  heartbeat_at: string | number;
  /** Microseconds since the last heartbeat, by the server's clock. */
  age_us: string | number;
  stale: string | number;
}

const lockTable = (schema: string) => tableRef(schema, LOCK_TABLE);

/** Staleness as SQL, with the same expression for deciding and for the conditional take-over. */
const STALE_SQL = 'heartbeat_at < NOW(6) - INTERVAL ? MICROSECOND';
const staleMicros = (seconds: number) => Math.round(seconds * 1e6);

// The lock table missing, or the whole schema: both mean "no lock here".
const isMissing = (error: unknown) => ['ER_NO_SUCH_TABLE', 'ER_BAD_DB_ERROR'].includes((error as { code?: string }).code ?? '');

/**
 * Takes the schema's lock for `holder`, or refuses (MigrationRefusedError naming the current holder and what to do).
 * Creates `~djmigrate` when missing; refuses, creating nothing, when the schema does not exist.
 */
export async function acquireSchemaLock(conn: Connection, schema: string, options: AcquireOptions): Promise<AcquiredLock> {
  const { holder, staleAfterSeconds = DEFAULT_STALE_AFTER_SECONDS, takeOver = false } = options;
  checkHolder(holder);
  if (!(Number.isFinite(staleAfterSeconds) && staleAfterSeconds > 0)) {
    throw new MigrationRefusedError(`staleAfterSeconds must be a positive number of seconds, got ${staleAfterSeconds}`);
  }
  // Longer descriptions are cut rather than refused: they are only shown to people.
  const description = [...options.description].slice(0, MAX_TEXT).join('');
  return withTableGuard(conn, schema, async () => {
    await createLockTable(conn, schema);
    return takeLock(conn, schema, { holder, description, staleAfterSeconds, takeOver });
  });
}

async function takeLock(
  conn: Connection,
  schema: string,
  { holder, description, staleAfterSeconds, takeOver }: { holder: string; description: string; staleAfterSeconds: number; takeOver: boolean },
): Promise<AcquiredLock> {
  const t = lockTable(schema);

  // Each pass either wins with one conditional statement, refuses, or saw the row change under it and looks again.
  for (let attempt = 0; attempt < 5; attempt++) {
    // Free: the primary key lets exactly one concurrent INSERT through; the others see the winner's row below.
    if ((await execute(conn, `INSERT IGNORE INTO ${t} (id, holder, description, acquired_at, heartbeat_at) VALUES (1, ?, ?, NOW(6), NOW(6))`, [holder, description])) === 1) {
      return { holder, acquiredAt: await acquiredAtOf(conn, schema, holder) };
    }
    const current = await readRow(conn, schema, staleAfterSeconds);
    if (!current) continue; // released in between: try the insert again
    if (current.holder === holder) {
      // Ours already (a retried Lambda, a resumed run): refresh it, keep acquired_at.
      if ((await execute(conn, `UPDATE ${t} SET description = ?, heartbeat_at = NOW(6) WHERE id = 1 AND holder = ?`, [description, holder])) === 1) {
        return { holder, acquiredAt: toDate(current.acquired_at) };
      }
      continue;
    }
    const info = toInfo(current);
    if (!info.stale) throw refusedLive(schema, info, staleAfterSeconds, takeOver);
    if (!takeOver) throw refusedStale(schema, info, staleAfterSeconds);
    // Only if it is still that holder and still silent: a heartbeat or another take-over in between makes this miss.
    const taken = await execute(
      conn,
      `UPDATE ${t} SET holder = ?, description = ?, acquired_at = NOW(6), heartbeat_at = NOW(6) WHERE id = 1 AND holder = ? AND ${STALE_SQL}`,
      [holder, description, current.holder, staleMicros(staleAfterSeconds)],
    );
    if (taken === 1) return { holder, acquiredAt: await acquiredAtOf(conn, schema, holder), tookOverFrom: current.holder };
  }
  throw new TransientError(`the lock on schema ${quoteId(schema)} kept changing hands while acquiring it; try again`);
}

/**
 * Proves `holder` is alive. Throws MigrationRefusedError when the lock is no longer ours (taken over or removed),
 * so the run stops instead of working next to its successor.
 */
export async function heartbeatSchemaLock(conn: Connection, schema: string, holder: string): Promise<void> {
  let updated = 0;
  try {
    updated = await execute(conn, `UPDATE ${lockTable(schema)} SET heartbeat_at = NOW(6) WHERE id = 1 AND holder = ?`, [holder]);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  if (updated === 1) return;
  // 0 rows: normally not ours any more; re-read rather than trust the count (a connection without FOUND_ROWS
  // reports 0 for an update that changed nothing).
  const current = await readSchemaLock(conn, schema);
  if (current?.holder === holder) return;
  const stop = 'This run stops here so that two runs never work on the schema at once';
  if (!current) throw new MigrationRefusedError(`the lock on schema ${quoteId(schema)} held by ${holder} is gone (released or deleted). ${stop}; start it again to continue.`);
  throw new MigrationRefusedError(
    `the lock on schema ${quoteId(schema)} was taken over by ${current.holder} (${current.description}) after ${holder} stopped heartbeating. ${stop}.`,
  );
}

/** Deletes the lock row if `holder` owns it, and then the empty table; a no-op otherwise. Returns whether a row was deleted. */
export async function releaseSchemaLock(conn: Connection, schema: string, holder: string): Promise<boolean> {
  try {
    return await withTableGuard(conn, schema, async () => {
      const released = (await execute(conn, `DELETE FROM ${lockTable(schema)} WHERE id = 1 AND holder = ?`, [holder])) === 1;
      // Dropped when empty (its one row, id 1, is gone): also after a release whose DELETE committed but whose reply
      // was lost (a retried call), which deletes nothing now.
      const empty = released || !Number((await select<{ held: number }>(conn, `SELECT EXISTS (SELECT 1 FROM ${lockTable(schema)}) AS held`))[0].held);
      if (empty) await execute(conn, `DROP TABLE IF EXISTS ${lockTable(schema)}`);
      return released;
    });
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Read-only: refuses (as acquireSchemaLock would) when another run holds the lock, so a run can stop before its
 * first write. A stale lock passes with `takeOver`, which the first write then needs too.
 */
export async function checkSchemaLock(
  conn: Connection,
  schema: string,
  { holder, staleAfterSeconds = DEFAULT_STALE_AFTER_SECONDS, takeOver = false }: Omit<AcquireOptions, 'description'>,
): Promise<void> {
  const info = await readSchemaLock(conn, schema, staleAfterSeconds);
  if (!info || info.holder === holder) return;
  if (!info.stale) throw refusedLive(schema, info, staleAfterSeconds, takeOver);
  if (!takeOver) throw refusedStale(schema, info, staleAfterSeconds);
}

/** How long a runner waits for another one that is creating or dropping the lock table (milliseconds, not minutes). */
const TABLE_GUARD_TIMEOUT_SECONDS = 10;

/** Runs `work` holding the server-side named lock of this schema's lock table (see the file comment). */
async function withTableGuard<T>(conn: Connection, schema: string, work: () => Promise<T>): Promise<T> {
  // named locks are at most 64 characters: name the schema by a digest
  const name = `djmigrate:${createHash('sha1').update(schema).digest('hex')}`;
  const [row] = await select<{ got: number | string | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got', [name, TABLE_GUARD_TIMEOUT_SECONDS]);
  if (Number(row?.got) !== 1) throw new TransientError(`another djmigrate run kept the lock table of schema ${quoteId(schema)} busy for ${TABLE_GUARD_TIMEOUT_SECONDS} s; will retry`);
  try {
    return await work();
  } finally {
    await select(conn, 'SELECT RELEASE_LOCK(?)', [name]).catch(() => undefined);
  }
}

/** The current holder, or null when nobody holds the lock. Read-only: never creates the table. */
export async function readSchemaLock(conn: Connection, schema: string, staleAfterSeconds = DEFAULT_STALE_AFTER_SECONDS): Promise<SchemaLockInfo | null> {
  const row = await readRow(conn, schema, staleAfterSeconds).catch((error: unknown) => {
    if (isMissing(error)) return null;
    throw error;
  });
  return row ? toInfo(row) : null;
}

async function createLockTable(conn: Connection, schema: string): Promise<void> {
  // holder is compared byte for byte (utf8mb4_bin), so two ids differing only in case are two holders.
  // timestamp(6) is stored in UTC: sessions with different time zones still compare correctly.
  try {
    await execute(
      conn,
      `CREATE TABLE IF NOT EXISTS ${lockTable(schema)} (
        id tinyint unsigned NOT NULL COMMENT 'always 1: one lock per schema',
        holder varchar(${MAX_TEXT}) NOT NULL COMMENT 'execution id/ARN or local:<host>:<pid>:<uuid>',
        description varchar(${MAX_TEXT}) NOT NULL,
        acquired_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        heartbeat_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        PRIMARY KEY (id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        COMMENT='djmigrate: a row here means a migration run holds this schema; delete it only if that run is dead'`,
    );
  } catch (error) {
    if ((error as { code?: string }).code === 'ER_BAD_DB_ERROR') {
      throw new MigrationRefusedError(`schema ${quoteId(schema)} does not exist on this server; check the schema name (and the connection's server) and try again`);
    }
    throw error;
  }
}

async function readRow(conn: Connection, schema: string, staleAfterSeconds: number): Promise<LockRow | null> {
  // UNIX_TIMESTAMP gives seconds since the epoch whatever the session's time zone.
  const rows = await select<LockRow>(
    conn,
    `SELECT holder, description, UNIX_TIMESTAMP(acquired_at) AS acquired_at, UNIX_TIMESTAMP(heartbeat_at) AS heartbeat_at,
       TIMESTAMPDIFF(MICROSECOND, heartbeat_at, NOW(6)) AS age_us, (${STALE_SQL}) AS stale
     FROM ${lockTable(schema)} WHERE id = 1`,
    [staleMicros(staleAfterSeconds)],
  );
  return rows[0] ?? null;
}

async function acquiredAtOf(conn: Connection, schema: string, holder: string): Promise<Date> {
  const rows = await select<{ acquired_at: string }>(conn, `SELECT UNIX_TIMESTAMP(acquired_at) AS acquired_at FROM ${lockTable(schema)} WHERE id = 1 AND holder = ?`, [holder]);
  return rows.length ? toDate(rows[0].acquired_at) : new Date();
}

const toDate = (epochSeconds: string | number) => new Date(Math.round(Number(epochSeconds) * 1000));

function toInfo(row: LockRow): SchemaLockInfo {
  return {
    holder: row.holder,
    description: row.description,
    acquiredAt: toDate(row.acquired_at),
    heartbeatAt: toDate(row.heartbeat_at),
    secondsSinceHeartbeat: Math.max(0, Number(row.age_us) / 1e6),
    stale: Number(row.stale) === 1,
  };
}

function checkHolder(holder: string): void {
  // Over-long ids would be cut by the column and then never match again; padding is ignored by comparisons.
  if (!holder || holder.length > MAX_TEXT || holder.trim() !== holder) {
    throw new MigrationRefusedError(`the lock holder id must be 1–${MAX_TEXT} characters without leading or trailing spaces, got ${JSON.stringify(holder)}`);
  }
}

const heldBy = (schema: string, info: SchemaLockInfo) =>
  `schema ${quoteId(schema)} is locked by another djmigrate run: ${info.holder} (${info.description || 'no description'}), ` +
  `acquired ${info.acquiredAt.toISOString()}, last heartbeat ${Math.round(info.secondsSinceHeartbeat)} s ago`;

function refusedLive(schema: string, info: SchemaLockInfo, staleAfterSeconds: number, takeOver: boolean): MigrationRefusedError {
  return new MigrationRefusedError(`${heldBy(schema, info)}.`, [
    ...(takeOver ? [`the take-over flag only takes a stale lock, and this one is alive; a live lock is never taken over`] : []),
    'wait for that run to finish, or stop that execution',
    `if it is dead, rerun with ${TAKE_OVER_FLAG} (CLI) or ${TAKE_OVER_INPUT} (input) once it has been silent for ${staleAfterSeconds} s`,
  ]);
}

function refusedStale(schema: string, info: SchemaLockInfo, staleAfterSeconds: number): MigrationRefusedError {
  return new MigrationRefusedError(`${heldBy(schema, info)}; it looks stale (no heartbeat for more than ${staleAfterSeconds} s).`, [
    'make sure that run is really dead (a slow run that stopped heartbeating would work next to yours)',
    `then rerun with ${TAKE_OVER_FLAG} (CLI) or ${TAKE_OVER_INPUT} (input) to take the lock over`,
  ]);
}
