// Read-only analysis of a 0.11 schema: which columns reference `~external`, which store each uses, and
// whether every value is one the migration can carry over exactly. Nothing here writes.
import type { Connection } from 'mysql2/promise';
import { LEGACY_EXTERNAL_TABLE, LEGACY_HASH_LENGTH, legacyConfigKey, legacyObjectKey, legacyRelativePath, parseLegacyComment } from '../datajoint/v011.js';
import { blobColumnComment, EXTERNAL_TABLE_PREFIX, parseExternalComment, STORE_NAME_PATTERN, storeObjectKey } from '../datajoint/v012.js';
import type { CallBudget } from '../call-budget.js';
import { chunkRowsFor, decodeKey, encodeKey, keyChunk, primaryKeyOf } from '../db/keyset.js';
import { estimatedDistinctValues, quoteId, requireSchema, select, selectRaw, tableRef } from '../db/sql.js';
import { MigrationRefusedError } from '../errors.js';
import type { Migrate011Input } from './input.js';
import { journalExists } from './journal.js';

/** How many offending rows a refusal lists. */
const EXAMPLES = 10;
/** ValueCheckOptions.groupedUpToDistinct by default: a temporary table of up to 10,000 groups is cheap. */
const GROUPED_CHECK_MAX_DISTINCT = 10_000;
const MAX_COLUMN_COMMENT = 1024;

export interface LegacyColumn {
  table: string;
  column: string;
  constraint: string;
  nullable: boolean;
  ordinal: number;
  /** `external` or `external-<suffix>` as declared. */
  legacyType: string;
  suffix: string;
  /** The 0.12 store the column moves to. */
  store: string;
  userComment: string;
  primaryKey: string[];
  /** Rows and non-NULL pointers, counted while the values were checked (absent when they were not). */
  counts?: { rows: number; pointers: number };
}

export interface MigratedColumn {
  table: string;
  column: string;
  store: string;
}

export interface Inspection {
  schema: string;
  legacyTablePresent: boolean;
  journalPresent: boolean;
  legacyColumns: LegacyColumn[];
  /** Columns that already point to `~external_<store>` (this tool's earlier run, or the official tool). */
  migratedColumns: MigratedColumn[];
  /** Everything that makes migrating unsafe; empty when the schema is ready. */
  problems: string[];
}

export function storeOfSuffix(suffix: string, defaultStore: string): string {
  return suffix === '' ? defaultStore : suffix;
}

/**
 * `checkValues: false` skips the scans of every referencing column's values (the structure is still read): for
 * Prepare, right after Inspect scanned them (a pointer written since is refused by the check before its column's
 * swap), and for planMigration, which scans them beside the stores' listings.
 */
export async function inspectSchema(conn: Connection, input: Migrate011Input, { checkValues = true, ...checks }: { checkValues?: boolean } & ValueCheckOptions = {}): Promise<Inspection> {
  const schema = input.schema;
  await requireSchema(conn, schema);
  const legacyTablePresent = (await select(conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, LEGACY_EXTERNAL_TABLE])).length > 0;
  const journalPresent = await journalExists(conn, schema);
  const migratedColumns = await findMigratedColumns(conn, schema);
  if (!legacyTablePresent && !journalPresent && migratedColumns.length === 0) {
    throw new MigrationRefusedError(
      `schema ${schema} has no ${LEGACY_EXTERNAL_TABLE} table: it is not a DataJoint 0.11 schema with external storage, so there is nothing to migrate`,
    );
  }
  const problems: string[] = [];
  const legacyColumns = legacyTablePresent ? await findLegacyColumns(conn, input, problems) : [];
  checkStores(input, legacyColumns, problems);
  const inspection = { schema, legacyTablePresent, journalPresent, legacyColumns, migratedColumns, problems };
  if (checkValues) await checkColumnsValues(conn, inspection, checks);
  return inspection;
}

export interface ValueCheckOptions {
  /** Up to this many distinct values (the server's estimate), a column's values are checked per value, not per row. */
  groupedUpToDistinct?: number;
  /** Rows of a table checked per statement, in primary-key order (tests set it small). Default 1,000,000. */
  chunkRows?: number;
  /** Stop between two statements once spent (the scan's position is returned). Default: no limit. */
  budget?: CallBudget;
  /** Where an earlier call's scans stopped. */
  resume?: ValueScan | null;
}

/** Where the value scans stopped: the column (its index), the primary key of its last row scanned, the sums so far. */
export interface ValueScan {
  column: number;
  after: string | null;
  sums: ValueSums;
}

interface ValueSums {
  rows: number;
  pointers: number;
  malformed: number;
  unmatched: number;
}

/**
 * Scans the values of the columns not scanned yet: their counts, and what would stop the migration (into problems).
 * Null when all are scanned, else where it stopped for the budget.
 */
export async function checkColumnsValues(conn: Connection, inspection: Inspection, options: ValueCheckOptions = {}): Promise<ValueScan | null> {
  for (const [i, column] of inspection.legacyColumns.entries()) {
    if (column.counts) continue;
    const from = options.resume?.column === i ? options.resume : { column: i, after: null, sums: { rows: 0, pointers: 0, malformed: 0, unmatched: 0 } };
    const scanned = await checkColumnValues(conn, inspection.schema, column, inspection.problems, options, from);
    if ('stopped' in scanned) return scanned.stopped;
    column.counts = scanned;
  }
  return null;
}

async function findLegacyColumns(conn: Connection, input: Migrate011Input, problems: string[]): Promise<LegacyColumn[]> {
  const rows = await select<{
    table_name: string;
    column_name: string;
    constraint_name: string;
    is_nullable: string;
    ordinal_position: number;
    column_key: string;
    column_comment: string;
  }>(
    conn,
    `SELECT k.TABLE_NAME AS table_name, k.COLUMN_NAME AS column_name, k.CONSTRAINT_NAME AS constraint_name, c.IS_NULLABLE AS is_nullable, c.ORDINAL_POSITION AS ordinal_position,
            c.COLUMN_KEY AS column_key, c.COLUMN_COMMENT AS column_comment
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.COLUMNS c
         ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
      WHERE k.TABLE_SCHEMA = ? AND c.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME = ?
      ORDER BY k.TABLE_NAME, c.ORDINAL_POSITION`,
    [input.schema, input.schema, input.schema, LEGACY_EXTERNAL_TABLE],
  );
  const elsewhere = await select<{ table_schema: string; table_name: string; column_name: string }>(
    conn,
    `SELECT TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name, COLUMN_NAME AS column_name FROM information_schema.KEY_COLUMN_USAGE
      WHERE REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ? AND TABLE_SCHEMA <> ?`,
    [input.schema, LEGACY_EXTERNAL_TABLE, input.schema],
  );
  for (const row of elsewhere) {
    problems.push(`${row.table_schema}.${row.table_name}.${row.column_name} in another schema references ${input.schema}.${LEGACY_EXTERNAL_TABLE}; migrate or drop that reference first`);
  }
  const columns: LegacyColumn[] = [];
  for (const row of rows) {
    const where = `${row.table_name}.${row.column_name}`;
    const parsed = parseLegacyComment(row.column_comment);
    if (!parsed) {
      problems.push(`${where} references ${LEGACY_EXTERNAL_TABLE} but its comment ${JSON.stringify(row.column_comment)} has no :external[-store]: marker, so its store is unknown; fix the comment`);
      continue;
    }
    const newComment = blobColumnComment(storeOfSuffix(parsed.suffix, input.defaultStore), parsed.comment);
    if (newComment.length > MAX_COLUMN_COMMENT) {
      problems.push(`${where}: with the 0.12 marker its comment would be ${newComment.length} characters, over MySQL's ${MAX_COLUMN_COMMENT}; shorten the comment first`);
      continue;
    }
    if (row.column_key === 'PRI') {
      problems.push(`${where} is an external attribute in the primary key, which DataJoint never declares; this schema was altered by hand and cannot be migrated safely`);
      continue;
    }
    columns.push({
      table: row.table_name,
      column: row.column_name,
      constraint: row.constraint_name,
      nullable: row.is_nullable === 'YES',
      ordinal: Number(row.ordinal_position),
      legacyType: parsed.type,
      suffix: parsed.suffix,
      store: storeOfSuffix(parsed.suffix, input.defaultStore),
      userComment: parsed.comment,
      primaryKey: await primaryKeyOf(conn, input.schema, row.table_name),
    });
  }
  return columns;
}

/**
 * Every non-NULL value must carry its column's store suffix and match a `~external` row byte for byte. One pass over
 * the table counts rows, pointers and offenders; only when there are offenders are they looked up to be named.
 */
async function checkColumnValues(
  conn: Connection,
  schema: string,
  column: LegacyColumn,
  problems: string[],
  { groupedUpToDistinct = GROUPED_CHECK_MAX_DISTINCT, chunkRows, budget }: ValueCheckOptions,
  scan: ValueScan,
): Promise<{ rows: number; pointers: number } | { stopped: ValueScan }> {
  const t = tableRef(schema, column.table);
  const c = `t.${quoteId(column.column)}`;
  const pk = column.primaryKey.map((name) => `t.${quoteId(name)}`);
  const describe = (rows: Record<string, unknown>[]) =>
    rows.map((row) => `${column.primaryKey.map((name) => `${name}=${formatValue(row[name])}`).join(', ')}: ${JSON.stringify(row.value)}`);
  const pkSelect = pk.length ? `${pk.join(', ')}, ` : '';
  const malformedSql = (value: string) => `${value} IS NOT NULL AND (CHAR_LENGTH(${value}) <> ? OR CAST(SUBSTRING(${value}, ?) AS BINARY) <> CAST(? AS BINARY))`;
  const malformedValues = [LEGACY_HASH_LENGTH + column.suffix.length, LEGACY_HASH_LENGTH + 1, column.suffix];
  // The FK compares under the column's collation, usually case-insensitive; the object name is exact.
  const withLegacyRow = (value: string) => `LEFT JOIN ${tableRef(schema, LEGACY_EXTERNAL_TABLE)} e ON e.hash = ${value}`;
  const unmatchedSql = (value: string) => `${value} IS NOT NULL AND (e.hash IS NULL OR CAST(e.hash AS BINARY) <> CAST(${value} AS BINARY))`;

  // A column pointing at few objects is grouped by pointer bytes first, so the checks run once per pointer, not per
  // row (0.31 s instead of 0.52 s on a 1M-row column of 20 pointers); many pointers would make a huge temporary table.
  const distinct = await estimatedDistinctValues(conn, schema, column.table, column.column);
  const grouped = distinct !== null && distinct <= groupedUpToDistinct;
  // In primary-key chunks, one statement each: a call can stop between two (a table of billions of rows).
  const rowsPerChunk = await chunkRowsFor(conn, schema, column.table, column.primaryKey, chunkRows);
  const summary = { ...scan.sums };
  let after = scan.after === null ? null : decodeKey(scan.after);
  for (;;) {
    if (budget?.spent()) return { stopped: { column: scan.column, after: after && encodeKey(after), sums: summary } };
    const chunk = await keyChunk(conn, t, column.primaryKey, after, rowsPerChunk);
    const where = chunk.where ? ` WHERE ${chunk.where}` : '';
    const { from, value, n } = grouped
      ? { from: `(SELECT MIN(${c}) AS v, COUNT(*) AS n FROM ${t} t${where} GROUP BY CAST(${c} AS BINARY)) g ${withLegacyRow('g.v')}`, value: 'g.v', n: 'g.n' }
      : { from: `${t} t ${withLegacyRow(c)}${where}`, value: c, n: '1' };
    const [counted] = await select<{ rows: number | null; pointers: number | null; malformed: number | null; unmatched: number | null }>(
      conn,
      `SELECT SUM(${n}) AS \`rows\`, SUM(IF(${value} IS NULL, 0, ${n})) AS pointers, SUM(IF(${malformedSql(value)}, ${n}, 0)) AS malformed,
              SUM(IF(${unmatchedSql(value)}, ${n}, 0)) AS unmatched
         FROM ${from}`,
      [...malformedValues, ...chunk.values],
    );
    for (const sum of ['rows', 'pointers', 'malformed', 'unmatched'] as const) summary[sum] += Number(counted[sum] ?? 0);
    budget?.used();
    if (chunk.last === null) break;
    after = chunk.last;
  }
  if (Number(summary.malformed)) {
    const malformed = await selectRaw(conn, `SELECT ${pkSelect}${c} AS value FROM ${t} t WHERE ${malformedSql(c)} LIMIT ${EXAMPLES}`, malformedValues);
    const expected = column.suffix ? `a 43-character hash followed by the suffix "${column.suffix}"` : 'a 43-character hash with no suffix';
    problems.push(
      `${column.table}.${column.column} (type ${column.legacyType}) has values that are not ${expected}; fix or remove these rows:\n      ${describe(malformed).join('\n      ')}`,
    );
  }
  if (Number(summary.unmatched)) {
    const unmatched = await selectRaw(conn, `SELECT ${pkSelect}${c} AS value, e.hash AS legacy_row FROM ${t} t ${withLegacyRow(c)} WHERE ${unmatchedSql(c)} LIMIT ${EXAMPLES}`);
    problems.push(
      `${column.table}.${column.column} has values without an exactly matching ${LEGACY_EXTERNAL_TABLE} row (missing, or differing only in letter case, which a case-insensitive collation hides); the object they name is ambiguous, so fix these rows first:\n      ${unmatched
        .map((row) => `${describe([row])[0]}${row.legacy_row ? ` (${LEGACY_EXTERNAL_TABLE} has ${JSON.stringify(row.legacy_row)})` : ''}`)
        .join('\n      ')}`,
    );
  }
  return { rows: Number(summary.rows ?? 0), pointers: Number(summary.pointers ?? 0) };
}

function formatValue(value: unknown): string {
  return Buffer.isBuffer(value) ? `0x${value.toString('hex')}` : String(value);
}

function checkStores(input: Migrate011Input, columns: LegacyColumn[], problems: string[]): void {
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column.store)) continue;
    seen.add(column.store);
    const users = columns.filter((c) => c.store === column.store).map((c) => `${c.table}.${c.column}`);
    if (!STORE_NAME_PATTERN.test(column.store)) {
      problems.push(`store suffix "${column.suffix}" (used by ${users.join(', ')}) is not a store name DataJoint 0.12 can read ([a-z][a-z0-9_]*); it cannot be migrated as is`);
      continue;
    }
    const spec = input.stores[column.store];
    if (!spec) {
      problems.push(
        `store "${column.store}" (0.11 config key "${legacyConfigKey(column.suffix)}", used by ${users.join(', ')}) is missing from the config; add "${legacyConfigKey(column.suffix)}" or stores.${column.store} pointing at the same bucket/folder`,
      );
      continue;
    }
    if (input.mode === 'in-place') {
      // In place, 0.12 finds the object through `filepath` at its own normalised path; it must be where 0.11 put it.
      const sample = `${'A'.repeat(LEGACY_HASH_LENGTH)}${column.suffix}`;
      const written = legacyObjectKey(spec.protocol, spec.location, input.schema, sample);
      const read = storeObjectKey(spec.protocol, spec.location, legacyRelativePath(input.schema, sample));
      if (written !== read) {
        problems.push(
          `store "${column.store}" location ${JSON.stringify(spec.location)}: 0.11 wrote objects at "${written}" but 0.12 reads "${read}", so in-place pointers would not resolve; use --mode native to copy the objects to 0.12 paths`,
        );
      }
    }
  }
}

async function findMigratedColumns(conn: Connection, schema: string): Promise<MigratedColumn[]> {
  const rows = await select<{ table_name: string; column_name: string; column_comment: string; referenced: string }>(
    conn,
    `SELECT k.TABLE_NAME AS table_name, k.COLUMN_NAME AS column_name, c.COLUMN_COMMENT AS column_comment, k.REFERENCED_TABLE_NAME AS referenced
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.COLUMNS c
         ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
      WHERE k.TABLE_SCHEMA = ? AND c.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME LIKE ?
      ORDER BY k.TABLE_NAME, c.ORDINAL_POSITION`,
    [schema, schema, schema, `${EXTERNAL_TABLE_PREFIX.replace(/_/g, '\\_')}%`],
  );
  return rows.flatMap((row) => {
    const parsed = parseExternalComment(row.column_comment);
    return parsed?.kind === 'blob' ? [{ table: row.table_name, column: row.column_name, store: parsed.store }] : [];
  });
}
