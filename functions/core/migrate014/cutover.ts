// cutover / rollback: `my_pipeline` → `my_pipeline_old` and `my_pipeline_v2` → `my_pipeline` (and back).
//
// MySQL has no RENAME DATABASE, so every table (the `~` tables too) moves in ONE multi-table
// `RENAME TABLE a TO b, c TO d, …`: the server applies the whole list or nothing. The parked tables go first,
// so `my_pipeline`.`t` is free before `my_pipeline_v2`.`t` takes its name. InnoDB moves the foreign keys with
// their tables: a child's FK follows its parent to the new database (checked by the tests).
//
// Refused (nothing changed) when: the parking database already holds anything; the incoming database is
// missing or empty; any involved database has views, sequences, triggers, routines or events (RENAME TABLE
// cannot move them, a trigger even makes the rename fail); a table outside the moved set references a table
// that would be parked (it would silently follow it to `_old`); another session works in an involved database
// (PROCESSLIST: default database, or a running statement naming it) or holds a metadata lock on one of its
// tables (performance_schema.metadata_locks on MySQL, information_schema.METADATA_LOCK_INFO on MariaDB when
// the plugin is installed). As a last guard the RENAME runs with a short `lock_wait_timeout`, so a session that
// takes a lock after the checks makes it fail (atomically, changing nothing) instead of queueing every query.
import type { Connection } from 'mysql2/promise';
import { DEFAULT_LOCK_WAIT_SECONDS, execute, quoteId, quoteValue, schemaDefaults, select, tableRef, withLockWaitLimit } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';

export interface CutoverOptions {
  /** The production schema name(s), e.g. `my_pipeline`; several are moved in the same RENAME. */
  schema: string | string[];
  /** Suffix of the schemas declared by 2.x code. Default `_v2`. */
  suffix?: string;
  /** Suffix the current production schemas are parked under. Default `_old`. */
  oldSuffix?: string;
  /** Seconds the RENAME may wait for a metadata lock before failing (changing nothing). Default 10. */
  lockWaitSeconds?: number;
}

export interface MovedTable {
  fromSchema: string;
  toSchema: string;
  table: string;
}

export interface CutoverResult {
  /** Every table moved, in the order of the RENAME. */
  moved: MovedTable[];
  createdDatabases: string[];
  droppedDatabases: string[];
  /** Databases whose default charset/collation was set to that of the schema whose tables they now hold. */
  alteredDatabases: string[];
  /** How other sessions' metadata locks were looked for. */
  lockCheck: 'performance_schema' | 'metadata_lock_info' | 'processlist-only';
}

interface Swap {
  /** The production name. */
  schema: string;
  /** Where its current tables go. */
  parkAs: string;
  /** Whose tables take its place. */
  incoming: string;
}

/** `my_pipeline` → `my_pipeline_old`, `my_pipeline_v2` → `my_pipeline`. */
export function cutover(conn: Connection, options: CutoverOptions): Promise<CutoverResult> {
  const { suffix, oldSuffix } = suffixes(options);
  return swap(conn, schemaList(options).map((schema) => ({ schema, parkAs: schema + oldSuffix, incoming: schema + suffix })), options, 'cutover');
}

/** Reverses cutover: `my_pipeline` → `my_pipeline_v2`, `my_pipeline_old` → `my_pipeline`. */
export function rollback(conn: Connection, options: CutoverOptions): Promise<CutoverResult> {
  const { suffix, oldSuffix } = suffixes(options);
  return swap(conn, schemaList(options).map((schema) => ({ schema, parkAs: schema + suffix, incoming: schema + oldSuffix })), options, 'rollback');
}

function suffixes(options: CutoverOptions): { suffix: string; oldSuffix: string } {
  const suffix = options.suffix ?? '_v2';
  const oldSuffix = options.oldSuffix ?? '_old';
  if (!suffix || !oldSuffix || suffix === oldSuffix) throw new MigrationRefusedError(`suffix (${JSON.stringify(suffix)}) and oldSuffix (${JSON.stringify(oldSuffix)}) must be two different non-empty strings`);
  return { suffix, oldSuffix };
}

function schemaList(options: CutoverOptions): string[] {
  const list = Array.isArray(options.schema) ? options.schema : [options.schema];
  if (!list.length || list.some((s) => typeof s !== 'string' || s === '')) throw new MigrationRefusedError('schema must name the production schema(s), e.g. my_pipeline');
  if (new Set(list).size !== list.length) throw new MigrationRefusedError(`schema lists a name twice: ${list.join(', ')}`);
  return list;
}

interface SchemaInfo {
  exists: boolean;
  charset: string;
  collation: string;
  tables: string[];
  /** Things RENAME TABLE cannot move: views, sequences, triggers, routines, events. */
  unmovable: string[];
}

async function describeSchema(conn: Connection, schema: string): Promise<SchemaInfo> {
  const info = await schemaDefaults(conn, schema);
  if (!info) return { exists: false, charset: '', collation: '', tables: [], unmovable: [] };
  const tables = await select<{ name: string; type: string }>(
    conn,
    'SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME',
    [schema],
  );
  const unmovable = tables.filter((t) => t.type !== 'BASE TABLE' && t.type !== 'SYSTEM VERSIONED').map((t) => `${t.type.toLowerCase()} ${tableRef(schema, t.name)}`);
  for (const [kind, sql] of [
    ['trigger', 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?'],
    ['routine', 'SELECT CONCAT(LOWER(ROUTINE_TYPE), \' \', ROUTINE_NAME) AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?'],
    ['event', 'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?'],
  ] as const) {
    for (const row of await select<{ name: string }>(conn, sql, [schema])) unmovable.push(`${kind} ${quoteId(schema)}.${row.name}`);
  }
  return {
    exists: true,
    charset: info.charset,
    collation: info.collation,
    tables: tables.filter((t) => t.type === 'BASE TABLE' || t.type === 'SYSTEM VERSIONED').map((t) => t.name),
    unmovable,
  };
}

async function swap(conn: Connection, swaps: Swap[], options: CutoverOptions, operation: 'cutover' | 'rollback'): Promise<CutoverResult> {
  const involved = swaps.flatMap((s) => [s.schema, s.parkAs, s.incoming]);
  const tooLong = involved.filter((name) => name.length > 64);
  if (tooLong.length) throw new MigrationRefusedError(`${operation}: database names are limited to 64 characters; these are longer:`, tooLong);
  if (new Set(involved).size !== involved.length) throw new MigrationRefusedError(`${operation}: the schemas and their suffixed names overlap (${involved.join(', ')}); pick distinct names`);

  const problems: string[] = [];
  const infos = new Map<string, SchemaInfo>();
  for (const name of involved) infos.set(name, await describeSchema(conn, name));
  for (const s of swaps) {
    const current = infos.get(s.schema)!;
    const park = infos.get(s.parkAs)!;
    const incoming = infos.get(s.incoming)!;
    if (!current.exists) problems.push(`${quoteId(s.schema)} does not exist; nothing to ${operation} (check the schema name)`);
    else if (!current.tables.length) problems.push(`${quoteId(s.schema)} has no tables; nothing to park as ${quoteId(s.parkAs)}`);
    if (park.exists && (park.tables.length || park.unmovable.length)) {
      problems.push(`${quoteId(s.parkAs)} already exists and holds ${park.tables.length + park.unmovable.length} object(s); drop or rename it first (e.g. the previous ${operation === 'cutover' ? 'cutover\'s _old copy' : 'schema'})`);
    }
    if (!incoming.exists) problems.push(`${quoteId(s.incoming)} does not exist; nothing to move into ${quoteId(s.schema)}`);
    else if (!incoming.tables.length) problems.push(`${quoteId(s.incoming)} has no tables; refusing to replace ${quoteId(s.schema)} by an empty schema`);
    for (const name of [s.schema, s.incoming]) {
      const unmovable = infos.get(name)!.unmovable;
      if (unmovable.length) problems.push(`RENAME TABLE cannot move these; drop them (and re-create them after the ${operation}): ${unmovable.join(', ')}`);
    }
  }
  if (problems.length) throw new MigrationRefusedError(`${operation} refused; nothing was changed:`, problems);

  // A table that is not parked itself but references a table about to be parked would follow it to the parked
  // name: a schema outside the operation, or an incoming table pointing at the data it replaces.
  const parked = new Set(swaps.map((s) => s.schema));
  const incoming = new Set(swaps.map((s) => s.incoming));
  for (const s of swaps) {
    const refs = await select<{ child_schema: string; child: string; parent: string }>(
      conn,
      'SELECT CONSTRAINT_SCHEMA AS child_schema, TABLE_NAME AS child, REFERENCED_TABLE_NAME AS parent FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = ?',
      [s.schema],
    );
    for (const ref of refs) {
      if (parked.has(ref.child_schema)) continue;
      const where = `${tableRef(ref.child_schema, ref.child)} references ${tableRef(s.schema, ref.parent)}; after the ${operation} it would point at ${tableRef(s.parkAs, ref.parent)}.`;
      if (incoming.has(ref.child_schema)) problems.push(`${where} Re-declare that table to reference its own schema's copy`);
      else problems.push(`${where} Include ${quoteId(ref.child_schema)} in the same ${operation} (schema: [...]) or drop that foreign key`);
    }
  }
  if (problems.length) throw new MigrationRefusedError(`${operation} refused; nothing was changed:`, problems);

  const lockCheck = await checkOtherSessions(conn, involved, operation);

  const result: CutoverResult = { moved: [], createdDatabases: [], droppedDatabases: [], alteredDatabases: [], lockCheck };
  for (const s of swaps) {
    for (const table of infos.get(s.schema)!.tables) result.moved.push({ fromSchema: s.schema, toSchema: s.parkAs, table });
  }
  for (const s of swaps) {
    for (const table of infos.get(s.incoming)!.tables) result.moved.push({ fromSchema: s.incoming, toSchema: s.schema, table });
  }

  for (const s of swaps) {
    const current = infos.get(s.schema)!;
    const park = infos.get(s.parkAs)!;
    if (park.exists) {
      // An empty leftover (e.g. created by hand): give it the source's defaults, as a new one would have.
      if (park.charset !== current.charset || park.collation !== current.collation) {
        await execute(conn, `ALTER DATABASE ${quoteId(s.parkAs)} CHARACTER SET ${quoteValue(current.charset)} COLLATE ${quoteValue(current.collation)}`);
        result.alteredDatabases.push(s.parkAs);
      }
      continue;
    }
    await execute(conn, `CREATE DATABASE ${quoteId(s.parkAs)} CHARACTER SET ${quoteValue(current.charset)} COLLATE ${quoteValue(current.collation)}`);
    result.createdDatabases.push(s.parkAs);
  }

  const sql = `RENAME TABLE ${result.moved.map((m) => `${tableRef(m.fromSchema, m.table)} TO ${tableRef(m.toSchema, m.table)}`).join(', ')}`;
  try {
    await withLockWaitLimit(conn, Math.max(1, Math.floor(options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS)), () => execute(conn, sql));
  } catch (error) {
    // RENAME TABLE is atomic: nothing moved. Remove the databases we created for it.
    for (const name of result.createdDatabases) await dropIfEmpty(conn, name);
    const code = (error as { code?: string }).code;
    if (code === 'ER_LOCK_WAIT_TIMEOUT') {
      throw new MigrationRefusedError(`${operation} refused; nothing was changed: another session holds a lock on a table of ${involved.map(quoteId).join(', ')}; end it (or wait) and retry`);
    }
    throw error;
  }

  for (const s of swaps) {
    const current = infos.get(s.schema)!;
    const incoming = infos.get(s.incoming)!;
    if (current.charset !== incoming.charset || current.collation !== incoming.collation) {
      await execute(conn, `ALTER DATABASE ${quoteId(s.schema)} CHARACTER SET ${quoteValue(incoming.charset)} COLLATE ${quoteValue(incoming.collation)}`);
      result.alteredDatabases.push(s.schema);
    }
    if (await dropIfEmpty(conn, s.incoming)) result.droppedDatabases.push(s.incoming);
  }
  return result;
}

async function dropIfEmpty(conn: Connection, schema: string): Promise<boolean> {
  const info = await describeSchema(conn, schema);
  if (!info.exists || info.tables.length || info.unmovable.length) return false;
  await execute(conn, `DROP DATABASE ${quoteId(schema)}`);
  return true;
}

async function checkOtherSessions(conn: Connection, schemas: string[], operation: string): Promise<CutoverResult['lockCheck']> {
  const busy: string[] = [];
  const sessions = await select<{ id: number; user: string; host: string; db: string | null; command: string; time: number; info: string | null }>(
    conn,
    'SELECT ID AS id, USER AS user, HOST AS host, DB AS db, COMMAND AS command, TIME AS time, INFO AS info FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()',
  );
  const lowered = schemas.map((s) => s.toLowerCase());
  for (const s of sessions) {
    const inDb = s.db !== null && schemas.includes(s.db);
    const text = (s.info ?? '').toLowerCase();
    const naming = s.command !== 'Sleep' && lowered.some((name) => text.includes(name));
    if (inDb || naming) busy.push(`session ${s.id} (${s.user}@${s.host}, ${s.command} for ${s.time}s${s.db ? `, database ${s.db}` : ''}${s.info ? `: ${s.info.slice(0, 120)}` : ''})`);
  }

  let lockCheck: CutoverResult['lockCheck'] = 'processlist-only';
  const placeholders = schemas.map(() => '?').join(', ');
  try {
    const locks = await select<{ id: number | null; db: string; name: string; type: string }>(
      conn,
      `SELECT t.PROCESSLIST_ID AS id, m.OBJECT_SCHEMA AS db, m.OBJECT_NAME AS name, m.LOCK_TYPE AS type
         FROM performance_schema.metadata_locks m JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID
        WHERE m.OBJECT_SCHEMA IN (${placeholders}) AND (t.PROCESSLIST_ID IS NULL OR t.PROCESSLIST_ID <> CONNECTION_ID())`,
      schemas,
    );
    const [{ enabled }] = await select<{ enabled: number }>(conn, "SELECT COUNT(*) AS enabled FROM performance_schema.setup_instruments WHERE NAME = 'wait/lock/metadata/sql/mdl' AND ENABLED = 'YES'");
    if (Number(enabled) > 0) lockCheck = 'performance_schema';
    for (const lock of locks) busy.push(`session ${lock.id ?? '(background)'} holds a ${lock.type} metadata lock on ${tableRef(lock.db, lock.name)}`);
  } catch {
    // performance_schema not readable here; try MariaDB's plugin table.
  }
  if (lockCheck === 'processlist-only') {
    try {
      const locks = await select<{ id: number; db: string; name: string; type: string }>(
        conn,
        `SELECT THREAD_ID AS id, TABLE_SCHEMA AS db, TABLE_NAME AS name, LOCK_MODE AS type FROM information_schema.METADATA_LOCK_INFO WHERE TABLE_SCHEMA IN (${placeholders}) AND THREAD_ID <> CONNECTION_ID()`,
        schemas,
      );
      lockCheck = 'metadata_lock_info';
      for (const lock of locks) busy.push(`session ${lock.id} holds a ${lock.type} metadata lock on ${tableRef(lock.db, lock.name)}`);
    } catch {
      // Plugin not installed: the short lock_wait_timeout on the RENAME is the guard.
    }
  }
  if (busy.length) throw new MigrationRefusedError(`${operation} refused; nothing was changed: other sessions are using ${schemas.map(quoteId).join(', ')}; end them (or wait) and retry:`, [...new Set(busy)]);
  return lockCheck;
}
