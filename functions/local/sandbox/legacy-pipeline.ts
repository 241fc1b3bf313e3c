// Builds DataJoint 0.11 pipelines the way 0.11.1 itself does (spec A, real-examples part 1): the same DDL,
// the same `~external` bookkeeping, the same object locations and bytes. Used by tests and by the demo to make
// legacy schemas without Python.
import type { Connection } from 'mysql2/promise';
import { FixtureObjects } from './fixture-objects.js';
import mysql from 'mysql2/promise';
import type { StoreSpec } from '../../core/config/store-spec.js';
import type { S3Credentials } from '../../core/stores/s3-store.js';
import {
  arangeArray,
  blobStruct,
  float64Array,
  int32Array,
  int64Array,
  packLegacyBlob,
  uint8Array,
  zerosArray,
  type BlobValue,
} from '../../core/datajoint/blob.js';
import {
  LEGACY_EXTERNAL_TABLE,
  LEGACY_STORE_SUFFIX_MAX,
  legacyColumnComment,
  legacyExternalTableDdl,
  legacyHash,
  legacyObjectKey,
  legacyStoredValue,
  parseLegacyComment,
  suffixOfLegacyType,
} from '../../core/datajoint/v011.js';

/** A 0.11 store as the fixture writes to it; keyed by its 0.11 config key (`external`, `external-shared`, ...). */
export interface LegacyStore {
  spec: StoreSpec;
  credentials?: S3Credentials;
}
export type LegacyStores = Record<string, LegacyStore>;

export interface LegacyKeyAttribute {
  name: string;
  /** SQL type as DataJoint passes it through (`int`, `smallint`, `varchar(64)`, ...). */
  sqlType: string;
  comment?: string;
}

export interface LegacyParent {
  /** The parent table's name in the same database. */
  table: string;
  /** The parent's primary-key columns; they are copied into this table's primary key (before its own). */
  columns: string[];
}

export interface LegacyAttribute {
  name: string;
  /** `external`, `external-<store>`, or any SQL type (`longblob`, `varchar(64)`, `float`, ...). */
  type: string;
  /** `=null` in DataJoint: `DEFAULT NULL` instead of `NOT NULL`. */
  nullable?: boolean;
  comment?: string;
}

export interface LegacyTableDefinition {
  /** The SQL table name (DataJoint's snake_case of the class name, e.g. `recording`). */
  name: string;
  primaryKey: LegacyKeyAttribute[];
  parents?: LegacyParent[];
  attributes: LegacyAttribute[];
  /** The table comment (the `# ...` first line of a definition). */
  comment?: string;
}

/** A value for `insertLegacyRows`: external attributes take a BlobValue, already packed bytes, or null. */
export type LegacyRowValue = BlobValue | Uint8Array | string | number | bigint | boolean | null | undefined;
export type LegacyRow = Record<string, LegacyRowValue>;

/** One object as 0.11 wrote it. */
export interface LegacyObject {
  /** The 0.11 config key of its store. */
  store: string;
  /** The stored value: 43-char hash + store suffix (the `~external` primary key). */
  value: string;
  size: number;
  /** S3 key inside the bucket, or the absolute path for a file store. */
  key: string;
  bytes: Buffer;
}

const quoteId = (id: string): string => mysql.escapeId(id, true);
const tableName = (database: string, table: string): string => `${quoteId(database)}.${quoteId(table)}`;
/**
 * DataJoint writes comments in double quotes and escapes only the double quotes inside (`replace('"', '\\"')`);
 * a backslash goes through as is, so MySQL reads it as an escape, exactly as with 0.11.
 */
const commentSql = (comment: string): string => `"${comment.replace(/"/g, '\\"')}"`;

/** `CREATE DATABASE` + `~external` (and `~log`, which 0.11 also creates), as `dj.schema(...)` and the first external table do. */
export async function createLegacySchema(conn: Connection, database: string, options: { withLog?: boolean } = {}): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(database)}`);
  if (options.withLog ?? true) await conn.query(legacyLogTableDdl(database));
  await conn.query(legacyExternalTableDdl(database, quoteId));
}

/** The `~log` table 0.11.1 declares for every schema (real-examples 1.3). */
export function legacyLogTableDdl(database: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${tableName(database, '~log')} (\n` +
    '`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,\n' +
    '`version` varchar(12) NOT NULL COMMENT "datajoint version",\n' +
    '`user` varchar(255) NOT NULL COMMENT "user@host",\n' +
    '`host` varchar(255) NOT NULL DEFAULT "" COMMENT "system hostname",\n' +
    '`event` varchar(255) NOT NULL DEFAULT "" COMMENT "custom message",\n' +
    'PRIMARY KEY (`timestamp`)\n' +
    `) ENGINE=InnoDB, COMMENT ${commentSql(`event logging table for \`${database}\``)}`
  );
}

/**
 * The CREATE TABLE 0.11's declare() generates. Parent key columns are copied with their SQL type and comment
 * from information_schema (DataJoint copies them from the parent's heading).
 */
export async function legacyTableDdl(conn: Connection, database: string, def: LegacyTableDefinition): Promise<string> {
  const columns: string[] = [];
  const primaryKey: string[] = [];
  const foreignKeys: string[] = [];
  for (const parent of def.parents ?? []) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      'SELECT column_name AS name, column_type AS type, column_comment AS comment FROM information_schema.columns WHERE table_schema = ? AND table_name = ?',
      [database, parent.table],
    );
    for (const column of parent.columns) {
      const found = rows.find((row) => row.name === column);
      if (!found) throw new Error(`parent ${database}.${parent.table} has no column ${column}`);
      columns.push(attributeSql(column, found.type, false, found.comment));
      primaryKey.push(column);
    }
    const list = parent.columns.map(quoteId).join(',');
    foreignKeys.push(`FOREIGN KEY (${list}) REFERENCES ${tableName(database, parent.table)} (${list}) ON UPDATE CASCADE ON DELETE RESTRICT`);
  }
  for (const attr of def.primaryKey) {
    columns.push(attributeSql(attr.name, attr.sqlType, false, attr.comment ?? ''));
    primaryKey.push(attr.name);
  }
  for (const attr of def.attributes) {
    const suffix = suffixOfLegacyType(attr.type);
    if (suffix === null) {
      columns.push(attributeSql(attr.name, attr.type, attr.nullable ?? false, attr.comment ?? ''));
      continue;
    }
    if (suffix.length > LEGACY_STORE_SUFFIX_MAX) throw new Error(`store name ${suffix} is longer than ${LEGACY_STORE_SUFFIX_MAX} characters`);
    columns.push(attributeSql(attr.name, 'char(51)', attr.nullable ?? false, legacyColumnComment(attr.type, attr.comment ?? '')));
    foreignKeys.push(`FOREIGN KEY (${quoteId(attr.name)}) REFERENCES ${tableName(database, LEGACY_EXTERNAL_TABLE)} (\`hash\`) ON UPDATE RESTRICT ON DELETE RESTRICT`);
  }
  return (
    `CREATE TABLE IF NOT EXISTS ${tableName(database, def.name)} (\n` +
    [...columns, `PRIMARY KEY (${primaryKey.map(quoteId).join(',')})`, ...foreignKeys].join(',\n') +
    `\n) ENGINE=InnoDB, COMMENT ${commentSql(def.comment ?? '')}`
  );
}

function attributeSql(name: string, type: string, nullable: boolean, comment: string): string {
  return `${quoteId(name)} ${type} ${nullable ? 'DEFAULT NULL' : 'NOT NULL'}${comment ? ` COMMENT ${commentSql(comment)}` : ''}`;
}

export async function declareLegacyTable(conn: Connection, database: string, def: LegacyTableDefinition): Promise<void> {
  await conn.query(await legacyTableDdl(conn, database, def));
}

/**
 * Inserts rows like 0.11's `insert`: every external value is packed (0.11 `pack`, compressed when shorter),
 * written to `<location>/<database>/<hash><suffix>` in its store, recorded in `~external` (hash, size; a
 * duplicate only refreshes the timestamp), then the row is inserted with the stored value. Which columns are
 * external, and in which store, is read from the column comments, as 0.11's heading does. A plain blob column
 * given a BlobValue gets the packed bytes. Returns the objects written, one per (store, value).
 */
export async function insertLegacyRows(
  conn: Connection,
  database: string,
  table: string,
  rows: readonly LegacyRow[],
  stores: LegacyStores,
): Promise<LegacyObject[]> {
  const [columnRows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT column_name AS name, column_comment AS comment FROM information_schema.columns WHERE table_schema = ? AND table_name = ?',
    [database, table],
  );
  if (columnRows.length === 0) throw new Error(`table ${database}.${table} does not exist`);
  const externalStore = new Map<string, string>();
  for (const column of columnRows) {
    const parsed = parseLegacyComment(column.comment as string);
    if (parsed) externalStore.set(column.name as string, parsed.type);
  }
  const writer = new ObjectWriter(stores);
  const written = new Map<string, LegacyObject>();
  for (const row of rows) {
    const names: string[] = [];
    const values: unknown[] = [];
    for (const [name, value] of Object.entries(row)) {
      if (value === undefined) continue;
      const storeKey = externalStore.get(name);
      names.push(name);
      if (storeKey === undefined) {
        values.push(isBlobValue(value) ? packLegacyBlob(value) : value);
        continue;
      }
      if (value === null) {
        values.push(null);
        continue;
      }
      const bytes = isBlobValue(value) ? packLegacyBlob(value) : value instanceof Uint8Array ? Buffer.from(value) : null;
      if (!bytes) throw new Error(`${table}.${name} is external: give a BlobValue, packed bytes or null`);
      const object = await writer.put(storeKey, database, bytes);
      await conn.query(
        `INSERT INTO ${tableName(database, LEGACY_EXTERNAL_TABLE)} (hash, size) VALUES (?, ?) ON DUPLICATE KEY UPDATE timestamp=CURRENT_TIMESTAMP`,
        [object.value, object.size],
      );
      written.set(`${object.store}\0${object.value}`, object);
      values.push(object.value);
    }
    await conn.query(
      `INSERT INTO ${tableName(database, table)} (${names.map(quoteId).join(',')}) VALUES (${names.map(() => '?').join(',')})`,
      values,
    );
  }
  return [...written.values()];

  function isBlobValue(value: unknown): value is BlobValue {
    return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'kind' in value;
  }
}

/** Writes objects where 0.11 would (`ExternalTable.put`: s3 `put_object`, file `safe_write`). */
class ObjectWriter {
  private readonly objects: FixtureObjects;

  constructor(private readonly stores: LegacyStores) {
    this.objects = new FixtureObjects(stores);
  }

  async put(storeKey: string, database: string, bytes: Buffer): Promise<LegacyObject> {
    const store = this.stores[storeKey];
    if (!store) throw new Error(`no store configured for ${storeKey} (have: ${Object.keys(this.stores).join(', ') || 'none'})`);
    const value = legacyStoredValue(legacyHash(bytes), suffixOfLegacyType(storeKey) ?? '');
    const key = legacyObjectKey(store.spec.protocol, store.spec.location, database, value);
    await this.objects.put(storeKey, key, bytes);
    return { store: storeKey, value, size: bytes.length, key, bytes };
  }
}

// ----- ready-made fixtures ---------------------------------------------------------------------------------

export interface LegacyFixtureOptions {
  conn: Connection;
  database: string;
  /** Needs `external` and `external-shared` (s3 in the originals) and `external-local` (file). */
  stores: LegacyStores;
}

export interface LegacyFixture {
  database: string;
  /** The user tables, parents first. */
  tables: string[];
  /** Every object written, one per (store, stored value). */
  objects: LegacyObject[];
}

/** `np.array([[0, 1], [2, 3]], dtype=np.uint8)` of real-examples 1.1. */
export const EXAMPLE_LAB_THUMB = uint8Array([2, 2], [0, 1, 2, 3]);

/** The table definitions of real-examples 1.1 (`example_lab`). */
export const EXAMPLE_LAB_TABLES: readonly LegacyTableDefinition[] = [
  {
    name: 'session',
    primaryKey: [{ name: 'session_id', sqlType: 'int' }],
    attributes: [{ name: 'notes', type: 'varchar(64)' }],
  },
  {
    name: 'recording',
    parents: [{ table: 'session', columns: ['session_id'] }],
    primaryKey: [{ name: 'rec_id', sqlType: 'smallint' }],
    attributes: [
      { name: 'trace', type: 'external', comment: 'raw: volts, sampled at 1 kHz' },
      { name: 'thumb', type: 'external-shared', nullable: true },
      { name: 'params', type: 'longblob' },
    ],
  },
  {
    name: 'frame',
    parents: [{ table: 'recording', columns: ['session_id', 'rec_id'] }],
    primaryKey: [{ name: 'frame', sqlType: 'int' }],
    attributes: [{ name: 'img', type: 'external-local' }],
  },
];

/**
 * real-examples part 1: the `example_lab` pipeline with the same values, so its hashes, sizes and object keys
 * are those of 1.4–1.6 (the `[[1., 2., 3.]]` bytes are in two stores). `nullThumb` leaves Recording(2,1).thumb
 * NULL like `example_lab_nullthumb` (2.2); its int16 object is then not written at all.
 */
export async function buildExampleLab(options: LegacyFixtureOptions & { nullThumb?: boolean }): Promise<LegacyFixture> {
  const { conn, database, stores } = options;
  await createLegacySchema(conn, database);
  for (const def of EXAMPLE_LAB_TABLES) await declareLegacyTable(conn, database, def);
  const objects: LegacyObject[] = [];
  await insertLegacyRows(conn, database, 'session', [
    { session_id: 1, notes: 'first' },
    { session_id: 2, notes: 'second' },
  ], stores);
  objects.push(
    ...(await insertLegacyRows(
      conn,
      database,
      'recording',
      [
        {
          session_id: 1,
          rec_id: 1,
          trace: float64Array([4], [0.0, 0.5, 1.0, 0.5]),
          thumb: EXAMPLE_LAB_THUMB,
          params: blobStruct({ fs: float64Array([], [1000.0]), gain: int32Array([1], [2]) }),
        },
        { session_id: 1, rec_id: 2, trace: float64Array([1, 3], [1.0, 2.0, 3.0]), thumb: EXAMPLE_LAB_THUMB, params: float64Array([2], [1.5, 2.5]) },
        {
          session_id: 2,
          rec_id: 1,
          trace: zerosArray([20, 20]),
          thumb: options.nullThumb ? undefined : arangeArray([4], 'int16'),
          params: float64Array([], [7.0]),
        },
      ],
      stores,
    )),
  );
  objects.push(
    ...(await insertLegacyRows(
      conn,
      database,
      'frame',
      [
        { session_id: 1, rec_id: 1, frame: 0, img: arangeArray([2, 3], 'float32') },
        { session_id: 1, rec_id: 1, frame: 1, img: float64Array([1, 3], [1.0, 2.0, 3.0]) },
        { session_id: 2, rec_id: 1, frame: 0, img: arangeArray([2, 3], 'float32') },
      ],
      stores,
    )),
  );
  return { database, tables: EXAMPLE_LAB_TABLES.map((def) => def.name), objects: dedupe(objects) };
}

/** The table definitions of the seed notebook (`djtest_blobs`: classes A and B). */
export const SEED_TABLES: readonly LegacyTableDefinition[] = [
  {
    name: 'a',
    primaryKey: [{ name: 'id', sqlType: 'int' }],
    attributes: [
      { name: 'blob_external', type: 'external', comment: 'uses S3' },
      { name: 'blob_share', type: 'external-shared', comment: 'uses S3' },
    ],
  },
  {
    name: 'b',
    primaryKey: [{ name: 'id', sqlType: 'int' }],
    attributes: [
      { name: 'blob_local', type: 'external-local', comment: 'uses files' },
      { name: 'blob_share', type: 'external-shared', comment: 'uses S3' },
    ],
  },
];

/**
 * The seed notebook's 0.11 schema: tables `a` and `b`, rows 0 and 1. Row 0 holds (2,3,4) and (3,) float64
 * arrays (fixed pseudo-random values instead of randn, different in A and B); row 1 holds
 * `np.array([1,2,3])` and `np.array([1,2])` (int64) in both tables, so `b` and `a` share the
 * `external-shared` object of row 1, and the `[1,2,3]` bytes sit in two stores.
 */
export async function buildSeedPipeline(options: LegacyFixtureOptions): Promise<LegacyFixture> {
  const { conn, database, stores } = options;
  await createLegacySchema(conn, database);
  for (const def of SEED_TABLES) await declareLegacyTable(conn, database, def);
  const objects: LegacyObject[] = [];
  objects.push(
    ...(await insertLegacyRows(
      conn,
      database,
      'a',
      [
        { id: 0, blob_external: float64Array([2, 3, 4], pseudoRandn(24, 1)), blob_share: float64Array([3], pseudoRandn(3, 2)) },
        { id: 1, blob_external: int64Array([3], [1, 2, 3]), blob_share: int64Array([2], [1, 2]) },
      ],
      stores,
    )),
  );
  objects.push(
    ...(await insertLegacyRows(
      conn,
      database,
      'b',
      [
        { id: 0, blob_local: float64Array([2, 3, 4], pseudoRandn(24, 3)), blob_share: float64Array([3], pseudoRandn(3, 4)) },
        { id: 1, blob_local: int64Array([3], [1, 2, 3]), blob_share: int64Array([2], [1, 2]) },
      ],
      stores,
    )),
  );
  return { database, tables: SEED_TABLES.map((def) => def.name), objects: dedupe(objects) };
}

/** Fixed values that look like randn output (range about ±2, 4 decimals), the same on every run. */
export function pseudoRandn(count: number, seed: number): number[] {
  let state = (seed * 2654435761) >>> 0 || 1;
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values.push(Math.round(((state / 2 ** 32) * 4 - 2) * 10_000) / 10_000);
  }
  return values;
}

function dedupe(objects: LegacyObject[]): LegacyObject[] {
  const seen = new Map<string, LegacyObject>();
  for (const object of objects) seen.set(`${object.store}\0${object.value}`, object);
  return [...seen.values()];
}
