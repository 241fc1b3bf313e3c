// Step `update_blob_comments` of the 0.14 → 2.0 in-place migration, generalized to core types: adds the
// column-comment markers 2.x's own declare writes (spec D.1, D.6.2) — `:<blob>:` on in-table blobs, `:<attach>:`
// for 0.12+ `:attach:`, `:int32:`, `:float64:`, `:varchar(32):`, … — and nothing else. Each column is restated in
// full from information_schema (type, charset/collation, NULL, DEFAULT, ON UPDATE, AUTO_INCREMENT, INVISIBLE,
// MariaDB column CHECKs) because `MODIFY COLUMN` silently drops whatever it does not repeat (spec E.12), and the
// result is read back and compared. Not touched: attributes inherited through a foreign key (2.x writes no marker
// there), columns already carrying a marker (`:uuid:`, `:blob@store:` external columns, adapters …), unsigned
// integers unless asked (2.x ignores `:uint32:` and cannot re-declare it, spec D.6.3), generated and hidden
// (`_…`) columns, markers that would contain `:` (enum values), and every `~` table. A rerun finds nothing to do.
import type { Connection } from 'mysql2/promise';
import { coreTypeMarker, parseMarker } from '../datajoint/v2.js';
import { EXTERNAL_TABLE_PREFIX } from '../datajoint/v012.js';
import { DEFAULT_LOCK_WAIT_SECONDS, execute, quoteId, quoteValue, requireSchema, select, serverFlavor, tableRef, withLockWaitLimit, type ServerFlavor } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';

/** MySQL's and MariaDB's limit on a column comment, in characters. */
export const MAX_COLUMN_COMMENT = 1024;


export interface CommentOptions {
  /** Write the guide's `:uint8:` … `:uint64:` markers on unsigned integers (2.x ignores them; off by default). */
  unsignedMarkers?: boolean;
  /**
   * applyCommentUpdates only: session `lock_wait_timeout` (seconds) for the ALTERs, so that on a live schema an ALTER
   * waiting behind a long transaction gives up (ER_LOCK_WAIT_TIMEOUT, retried as transient) instead of queueing every
   * other query of that table behind its metadata lock. Default: the server's setting.
   */
  lockWaitSeconds?: number;
}

/** One column as information_schema describes it: everything `MODIFY COLUMN` must restate. */
export interface ColumnInfo {
  table: string;
  column: string;
  ordinal: number;
  dataType: string;
  columnType: string;
  nullable: boolean;
  /** COLUMN_DEFAULT verbatim (MariaDB: an SQL expression such as `'none'`, `NULL`, `current_timestamp()`; MySQL 8: the bare value). */
  default: string | null;
  extra: string;
  charset: string | null;
  collation: string | null;
  comment: string;
  generation: string | null;
  /** MariaDB column-level CHECK clauses (MODIFY drops them unless restated), e.g. `json_valid(\`j\`)`. */
  checks: string[];
  /** Part of a foreign key to a user table (not to `~external_*`). */
  inherited: boolean;
}

export interface CommentChange {
  table: string;
  column: string;
  columnType: string;
  /** The marker written, without colons: `int32`, `<blob>`, `<attach>`, `varchar(32)`, … */
  marker: string;
  oldComment: string;
  newComment: string;
  /** The `MODIFY COLUMN` clause (full column definition). */
  definition: string;
}

export type SkipReason = 'unsigned' | 'inherited' | 'generated' | 'hidden' | 'colon';

/** A column that would take a marker but is left alone on purpose. */
export interface SkippedColumn {
  table: string;
  column: string;
  columnType: string;
  /** The marker it would have taken. */
  marker: string;
  reason: SkipReason;
  note: string;
}

export interface CommentPlan {
  schema: string;
  changes: CommentChange[];
  skipped: SkippedColumn[];
  /** Anything that makes applying unsafe; applyCommentUpdates refuses while not empty. */
  problems: string[];
  /** One `ALTER TABLE … MODIFY COLUMN …, MODIFY COLUMN …` per table, in table order. */
  statements: string[];
}

export interface CommentApplied {
  /** Number of ALTER TABLE statements run (one per table with changes). */
  altered: number;
  columns: CommentChange[];
}

const SKIP_NOTES: Record<SkipReason, string> = {
  unsigned:
    'unsigned integer left unmarked: 2.x has no unsigned core type, ignores :uintN: markers and cannot re-declare what describe() then prints (spec D.6.3); use --unsigned-markers to write them anyway',
  inherited: 'inherited through a foreign key: 2.x writes no marker on inherited attributes (spec D.6.2)',
  generated: 'generated column: left unmarked (MODIFY COLUMN would have to restate its expression)',
  hidden: 'hidden attribute (name starts with _): left unmarked',
  colon: "the marker would contain ':', which 2.x's comment parser cannot read back; left unmarked (2.x uses the database type)",
};

const BLOB_TYPES = new Set(['tinyblob', 'blob', 'mediumblob', 'longblob']);

export function isBlobType(columnType: string): boolean {
  return BLOB_TYPES.has(columnType.toLowerCase().trim());
}

/** MariaDB stores JSON as longtext with the column CHECK `json_valid(\`col\`)`; MySQL 8 has a real `json` type. */
export function isJsonColumn(column: Pick<ColumnInfo, 'column' | 'dataType' | 'checks'>): boolean {
  if (column.dataType.toLowerCase() === 'json') return true;
  const check = `json_valid(${quoteId(column.column)})`;
  return column.dataType.toLowerCase() === 'longtext' && column.checks.some((clause) => clause.trim() === check);
}

function isGenerated(column: Pick<ColumnInfo, 'extra' | 'generation'>): boolean {
  return Boolean(column.generation) || /\b(virtual|stored|persistent)\s+generated\b/i.test(column.extra) || /^\s*(virtual|persistent|stored)\s*$/i.test(column.extra);
}

/**
 * The marker 2.x's declare would have written on this column, or null when it writes none / the column already
 * carries one. `skip` is set when a marker applies in principle but is left off on purpose.
 */
export function markerFor(
  column: Pick<ColumnInfo, 'column' | 'dataType' | 'columnType' | 'comment' | 'checks' | 'inherited' | 'extra' | 'generation'>,
  options: CommentOptions = {},
): { marker: string; newComment: string; skip?: SkipReason } | null {
  const existing = parseMarker(column.comment);
  let marker: string | null;
  let userComment = column.comment;
  let unsigned = false;
  if (existing) {
    // 0.12+ internal attachments: `:attach:` on a longblob is raw bytes to 2.x; it must read `:<attach>:`.
    if (existing.marker !== 'attach' || !isBlobType(column.columnType)) return null;
    marker = '<attach>';
    userComment = existing.comment;
  } else if (isBlobType(column.columnType)) {
    marker = '<blob>';
  } else if (isJsonColumn(column)) {
    marker = 'json';
  } else {
    marker = coreTypeMarker(column.columnType);
    if (marker === null) {
      marker = coreTypeMarker(column.columnType, { unsignedMarkers: true });
      unsigned = marker !== null;
    }
  }
  if (marker === null) return null;
  const result = { marker, newComment: `:${marker}:${userComment}` };
  if (marker.includes(':')) return { ...result, skip: 'colon' };
  if (isGenerated(column)) return { ...result, skip: 'generated' };
  if (column.column.startsWith('_')) return { ...result, skip: 'hidden' };
  if (column.inherited) return { ...result, skip: 'inherited' };
  if (unsigned && !options.unsignedMarkers) return { ...result, skip: 'unsigned' };
  return result;
}

/** Length as MySQL counts it (characters, not UTF-16 units). */
export function commentLength(comment: string): number {
  return [...comment].length;
}

const CURRENT_TIMESTAMP = /^current_timestamp(\(\d*\))?$/i;
const SQL_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;
const SQL_STRING = /^'(?:[^'\\]|''|\\.)*'$/s;
const CHARSET_NAME = /^\w+$/;

/** The `DEFAULT …` clause (empty when the column has none), from COLUMN_DEFAULT as each server reports it. */
export function defaultClause(column: Pick<ColumnInfo, 'default' | 'nullable' | 'extra' | 'dataType'>, flavor: ServerFlavor): string {
  const value = column.default;
  if (flavor === 'mariadb') {
    // MariaDB ≥ 10.2.7 reports an SQL expression: `'none'`, `0`, `NULL` (default NULL), `current_timestamp()`,
    // `(1 + 2)`; SQL NULL means no default at all.
    if (value === null) return '';
    if (value === 'NULL' || SQL_STRING.test(value) || SQL_NUMBER.test(value) || CURRENT_TIMESTAMP.test(value)) return `DEFAULT ${value}`;
    return `DEFAULT (${value})`;
  }
  // MySQL 8 reports the bare value; expressions (CURRENT_TIMESTAMP, (expr)) are flagged DEFAULT_GENERATED in EXTRA.
  if (value === null) return column.nullable ? 'DEFAULT NULL' : '';
  if (/\bDEFAULT_GENERATED\b/i.test(column.extra)) return CURRENT_TIMESTAMP.test(value) ? `DEFAULT ${value}` : `DEFAULT (${value})`;
  const type = column.dataType.toLowerCase();
  if (type === 'bit' && /^b'[01]*'$/i.test(value)) return `DEFAULT ${value}`;
  if ((type === 'binary' || type === 'varbinary') && /^0x[0-9a-f]*$/i.test(value)) return `DEFAULT ${value}`;
  return `DEFAULT ${quoteValue(value)}`;
}

/** The parts of EXTRA a column definition must restate; `unknown` lists what this tool cannot restate. */
export function extraClauses(extra: string): { clauses: string[]; unknown: string } {
  const clauses: string[] = [];
  let rest = ` ${extra} `;
  const onUpdate = /\bon update (current_timestamp(?:\(\d*\))?)/i.exec(rest);
  if (onUpdate) {
    clauses.push(`ON UPDATE ${onUpdate[1]}`);
    rest = rest.replace(onUpdate[0], ' ');
  }
  if (/\bauto_increment\b/i.test(rest)) {
    clauses.push('AUTO_INCREMENT');
    rest = rest.replace(/\bauto_increment\b/i, ' ');
  }
  if (/\binvisible\b/i.test(rest)) {
    clauses.push('INVISIBLE');
    rest = rest.replace(/\binvisible\b/i, ' ');
  }
  rest = rest.replace(/\bDEFAULT_GENERATED\b/i, ' ');
  return { clauses, unknown: rest.trim() };
}

/** The full `MODIFY COLUMN` definition of `column` with a new comment; nothing but the comment differs. */
export function columnDefinition(column: ColumnInfo, comment: string, flavor: ServerFlavor): string {
  const parts = [quoteId(column.column), column.columnType];
  if (column.charset && column.dataType.toLowerCase() !== 'json') {
    if (!CHARSET_NAME.test(column.charset) || (column.collation && !CHARSET_NAME.test(column.collation))) {
      throw new MigrationRefusedError(`${column.table}.${column.column}: unexpected character set ${column.charset} / collation ${column.collation}; add its marker by hand`);
    }
    parts.push(`CHARACTER SET ${column.charset}`);
    if (column.collation) parts.push(`COLLATE ${column.collation}`);
  }
  parts.push(column.nullable ? 'NULL' : 'NOT NULL');
  const defaults = defaultClause(column, flavor);
  if (defaults) parts.push(defaults);
  parts.push(...extraClauses(column.extra).clauses);
  parts.push(`COMMENT ${quoteValue(comment)}`);
  for (const check of column.checks) parts.push(`CHECK (${check})`);
  return parts.join(' ');
}

const text = (value: unknown): string | null => (value === null || value === undefined ? null : Buffer.isBuffer(value) ? value.toString('utf8') : String(value));

/** Every column of the schema's user tables (not `~…`), in table and column order. */
export async function readColumns(conn: Connection, schema: string, flavor: ServerFlavor, table?: string): Promise<ColumnInfo[]> {
  const tables = new Set(
    (
      await select<{ table_name: unknown }>(
        conn,
        `SELECT TABLE_NAME AS table_name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'${table === undefined ? '' : ' AND TABLE_NAME = ?'}`,
        table === undefined ? [schema] : [schema, table],
      )
    )
      .map((row) => text(row.table_name)!)
      .filter((name) => !name.startsWith('~')),
  );
  const rows = await select<Record<string, unknown>>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, ORDINAL_POSITION AS ordinal_position, DATA_TYPE AS data_type,
            COLUMN_TYPE AS column_type, IS_NULLABLE AS is_nullable, COLUMN_DEFAULT AS column_default, EXTRA AS extra,
            CHARACTER_SET_NAME AS character_set_name, COLLATION_NAME AS collation_name, COLUMN_COMMENT AS column_comment,
            GENERATION_EXPRESSION AS generation_expression
       FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = ?${table === undefined ? '' : ' AND TABLE_NAME = ?'}
      ORDER BY TABLE_NAME, ORDINAL_POSITION`,
    table === undefined ? [schema] : [schema, table],
  );
  const inherited = new Set<string>();
  const foreignKeys = await select<Record<string, unknown>>(
    conn,
    `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, REFERENCED_TABLE_NAME AS referenced_table_name
       FROM information_schema.KEY_COLUMN_USAGE
      WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL${table === undefined ? '' : ' AND TABLE_NAME = ?'}`,
    table === undefined ? [schema] : [schema, table],
  );
  for (const fk of foreignKeys) {
    if (text(fk.referenced_table_name)!.startsWith(EXTERNAL_TABLE_PREFIX)) continue;
    inherited.add(JSON.stringify([text(fk.table_name), text(fk.column_name)]));
  }
  const checks = new Map<string, string[]>();
  if (flavor === 'mariadb') {
    // Column-level CHECKs are part of a MariaDB column definition (named after the column); MySQL 8's are table-level.
    const rowsOfChecks = await select<Record<string, unknown>>(
      conn,
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause
         FROM information_schema.CHECK_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = ? AND LEVEL = 'Column'${table === undefined ? '' : ' AND TABLE_NAME = ?'}
        ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
      table === undefined ? [schema] : [schema, table],
    );
    for (const row of rowsOfChecks) {
      const key = JSON.stringify([text(row.table_name), text(row.constraint_name)]);
      checks.set(key, [...(checks.get(key) ?? []), text(row.check_clause)!]);
    }
  }
  return rows
    .filter((row) => tables.has(text(row.table_name)!))
    .map((row) => {
      const key = JSON.stringify([text(row.table_name), text(row.column_name)]);
      return {
        table: text(row.table_name)!,
        column: text(row.column_name)!,
        ordinal: Number(row.ordinal_position),
        dataType: text(row.data_type)!,
        columnType: text(row.column_type)!,
        nullable: text(row.is_nullable) === 'YES',
        default: text(row.column_default),
        extra: text(row.extra) ?? '',
        charset: text(row.character_set_name),
        collation: text(row.collation_name),
        comment: text(row.column_comment) ?? '',
        generation: text(row.generation_expression) || null,
        checks: checks.get(key) ?? [],
        inherited: inherited.has(key),
      };
    });
}

/** Pure planning over columns already read (exported for unit tests). */
export function planFromColumns(schema: string, columns: ColumnInfo[], flavor: ServerFlavor, options: CommentOptions = {}): CommentPlan {
  const changes: CommentChange[] = [];
  const skipped: SkippedColumn[] = [];
  const problems: string[] = [];
  for (const column of columns) {
    const planned = markerFor(column, options);
    if (!planned) continue;
    const where = `${column.table}.${column.column}`;
    if (planned.skip) {
      skipped.push({ table: column.table, column: column.column, columnType: column.columnType, marker: planned.marker, reason: planned.skip, note: SKIP_NOTES[planned.skip] });
      continue;
    }
    const length = commentLength(planned.newComment);
    if (length > MAX_COLUMN_COMMENT) {
      problems.push(`${where}: with the marker :${planned.marker}: its comment would be ${length} characters, over the ${MAX_COLUMN_COMMENT} MySQL allows; shorten the comment, then rerun`);
      continue;
    }
    const { unknown } = extraClauses(column.extra);
    if (unknown) {
      problems.push(`${where}: EXTRA ${JSON.stringify(column.extra)} has attributes this tool cannot restate (${unknown}); add the comment marker :${planned.marker}: by hand or drop the attribute, then rerun`);
      continue;
    }
    changes.push({
      table: column.table,
      column: column.column,
      columnType: column.columnType,
      marker: planned.marker,
      oldComment: column.comment,
      newComment: planned.newComment,
      definition: columnDefinition(column, planned.newComment, flavor),
    });
  }
  const statements: string[] = [];
  for (const [table, tableChanges] of groupByTable(changes)) {
    statements.push(`ALTER TABLE ${tableRef(schema, table)} ${tableChanges.map((change) => `MODIFY COLUMN ${change.definition}`).join(', ')}`);
  }
  return { schema, changes, skipped, problems, statements };
}

function groupByTable(changes: CommentChange[]): Map<string, CommentChange[]> {
  const byTable = new Map<string, CommentChange[]>();
  for (const change of changes) byTable.set(change.table, [...(byTable.get(change.table) ?? []), change]);
  return byTable;
}

/** Read-only: which columns get which marker, which are left alone on purpose, and what blocks applying. */
export async function planCommentUpdates(conn: Connection, schema: string, options: CommentOptions = {}): Promise<CommentPlan> {
  await requireSchema(conn, schema);
  const flavor = await serverFlavor(conn);
  return planFromColumns(schema, await readColumns(conn, schema, flavor), flavor, options);
}

/** Fields MODIFY COLUMN must leave exactly as they were. */
function signature(column: ColumnInfo): string {
  const { comment: _comment, ...rest } = column;
  void _comment;
  return JSON.stringify(rest);
}

/**
 * Writes the markers: refuses before any change when the plan has problems, then one ALTER per table, each read
 * back to confirm that only the comments changed.
 */
export async function applyCommentUpdates(conn: Connection, schema: string, options: CommentOptions = {}): Promise<CommentApplied> {
  await requireSchema(conn, schema);
  const flavor = await serverFlavor(conn);
  const before = await readColumns(conn, schema, flavor);
  const plan = planFromColumns(schema, before, flavor, options);
  if (plan.problems.length) {
    throw new MigrationRefusedError(`update_blob_comments changed nothing in ${schema}: fix these columns first, then rerun`, plan.problems);
  }
  let altered = 0;
  await withLockWaitLimit(conn, options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS, async () => {
    for (const [table, changes] of groupByTable(plan.changes)) {
      await execute(conn, `ALTER TABLE ${tableRef(schema, table)} ${changes.map((change) => `MODIFY COLUMN ${change.definition}`).join(', ')}`);
      altered++;
      await checkAltered(conn, schema, flavor, table, before, changes);
    }
  });
  return { altered, columns: plan.changes };
}

/** Reads the table back: only the planned comments may differ from `before`. */
async function checkAltered(conn: Connection, schema: string, flavor: ServerFlavor, table: string, before: ColumnInfo[], changes: CommentChange[]): Promise<void> {
  const after = await readColumns(conn, schema, flavor, table);
  const expected = before.filter((column) => column.table === table);
  const newComments = new Map(changes.map((change) => [change.column, change.newComment]));
  const drift: string[] = [];
  if (after.length !== expected.length) drift.push(`${table} had ${expected.length} columns and now has ${after.length}`);
  for (const [i, column] of expected.entries()) {
    const now = after[i];
    if (!now || signature(now) !== signature(column)) {
      drift.push(`${table}.${column.column}: was ${signature(column)}, now ${now ? signature(now) : 'missing'}`);
    } else if (now.comment !== (newComments.get(column.column) ?? column.comment)) {
      drift.push(`${table}.${column.column}: comment is ${JSON.stringify(now.comment)}`);
    }
  }
  if (drift.length) {
    throw new Error(`update_blob_comments: after altering ${schema}.${table} more than the comments differ (a concurrent change, or a server that rewrote the definition); check these columns:\n  - ${drift.join('\n  - ')}`);
  }
}
