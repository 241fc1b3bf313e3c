// Builds DataJoint 0.14 pipelines the way 0.14.6 itself does (spec B/C, real-examples part 5): `~external_<store>`
// tables with 0.12's DDL, `binary(16)` columns marked `:blob@S:` / `:attach@S:` / `:filepath@S:` with a foreign key
// to `~external_<S>`, uuid object paths, raw attachment contents, filepath copies below the store location, and
// blob rows migrated in place from 0.11 (uuid of `<db>/<legacy hash>`, object left at its legacy location).
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { FixtureObjects } from './fixture-objects.js';
import { float64Array, packLegacyBlob, zerosArray } from '../../core/datajoint/blob.js';
import { legacyHash } from '../../core/datajoint/v011.js';
import { externalTableDdl, externalTableName, migratedBlobUuid, parseExternalComment, storeObjectKey, uuidFromBuffer, uuidRelativePath } from '../../core/datajoint/v012.js';
import { quoteId, select, tableRef } from '../../core/db/sql.js';
import { legacyLogTableDdl, type LegacyStore } from './legacy-pipeline.js';

/** A 0.14 store (keyed by its 0.14 store name, e.g. `main`, `local`) as the fixture writes to it. */
export type V014Store = LegacyStore;
export type V014Stores = Record<string, V014Store>;

export interface V014KeyAttribute {
  name: string;
  sqlType: string;
  comment?: string;
}

export interface V014Attribute {
  name: string;
  /** `blob@<store>`, `attach@<store>`, `filepath@<store>`, or an SQL type. */
  type: string;
  /** `=null`: `DEFAULT NULL` instead of `NOT NULL`. */
  nullable?: boolean;
  /** An SQL literal for `DEFAULT` (as DataJoint passes it: `'mouse'`, `0`, `1.5`). */
  default?: string;
  comment?: string;
}

export interface V014TableDefinition {
  name: string;
  primaryKey: V014KeyAttribute[];
  parents?: { table: string; columns: string[] }[];
  attributes: V014Attribute[];
  comment?: string;
}

/** Values for external attributes; the column's kind (from its comment) must match. */
export type V014ExternalValue =
  | { kind: 'blob'; bytes: Buffer }
  | { kind: 'attach'; filename: string; contents: Buffer }
  /** A managed file at `<location>/<relativePath>`; `nullContentsHash` as 0.14.8+ writes for large files. */
  | { kind: 'filepath'; relativePath: string; contents: Buffer; nullContentsHash?: boolean }
  /** A blob migrated from 0.11 by the official 0.12 tool: the object stays at `<location>/<db>/<legacyValue>`. */
  | { kind: 'migrated-blob'; legacyValue: string; bytes: Buffer };

export const v014Blob = (bytes: Uint8Array): V014ExternalValue => ({ kind: 'blob', bytes: Buffer.from(bytes) });
export const v014Attach = (filename: string, contents: Uint8Array | string): V014ExternalValue => ({ kind: 'attach', filename, contents: Buffer.from(contents) });
export const v014Filepath = (relativePath: string, contents: Uint8Array | string, options: { nullContentsHash?: boolean } = {}): V014ExternalValue => ({
  kind: 'filepath',
  relativePath,
  contents: Buffer.from(contents),
  ...options,
});
/** A 0.11 blob as the official 0.12 migration left it (legacy value = 0.11 hash + store suffix). */
export const v014MigratedBlob = (bytes: Uint8Array, suffix = ''): V014ExternalValue => ({
  kind: 'migrated-blob',
  legacyValue: legacyHash(bytes) + suffix,
  bytes: Buffer.from(bytes),
});

export type V014RowValue = V014ExternalValue | Uint8Array | string | number | bigint | boolean | null | undefined;
export type V014Row = Record<string, V014RowValue>;

/** One object written to a store, with its `~external_<store>` row. */
export interface V014Object {
  store: string;
  kind: 'blob' | 'attach' | 'filepath' | 'migrated-blob';
  /** The `~external_<store>.hash` (16 bytes). */
  hash: Buffer;
  /** Path relative to the store location. */
  relativePath: string;
  /** S3 key in the bucket, or the absolute path for a file store. */
  key: string;
  size: number;
  bytes: Buffer;
}

const commentSql = (comment: string): string => `"${comment.replace(/"/g, '\\"')}"`;

/** `CREATE DATABASE` + `~log`, as `dj.schema(...)` in 0.14 does; `~external_<store>` tables come with the first use. */
export async function createV014Schema(conn: Connection, database: string, options: { withLog?: boolean } = {}): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(database)}`);
  if (options.withLog ?? true) await conn.query(legacyLogTableDdl(database));
}

export async function declareV014ExternalTable(conn: Connection, database: string, store: string): Promise<void> {
  await conn.query(externalTableDdl(database, store, quoteId));
}

/** The CREATE TABLE 0.14's declare() generates (external tables of the stores used are created first). */
export async function v014TableDdl(conn: Connection, database: string, def: V014TableDefinition): Promise<string> {
  const columns: string[] = [];
  const primaryKey: string[] = [];
  const foreignKeys: string[] = [];
  for (const parent of def.parents ?? []) {
    const rows = await select<{ name: string; type: string; comment: string }>(
      conn,
      'SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [database, parent.table],
    );
    for (const column of parent.columns) {
      const found = rows.find((row) => row.name === column);
      if (!found) throw new Error(`parent ${database}.${parent.table} has no column ${column}`);
      columns.push(attributeSql(column, found.type, false, undefined, found.comment));
      primaryKey.push(column);
    }
    const list = parent.columns.map(quoteId).join(',');
    foreignKeys.push(`FOREIGN KEY (${list}) REFERENCES ${tableRef(database, parent.table)} (${list}) ON UPDATE CASCADE ON DELETE RESTRICT`);
  }
  for (const attr of def.primaryKey) {
    columns.push(attributeSql(attr.name, attr.sqlType, false, undefined, attr.comment ?? ''));
    primaryKey.push(attr.name);
  }
  for (const attr of def.attributes) {
    const external = /^(blob|attach|filepath)@([a-z][-\w]*)$/i.exec(attr.type);
    if (!external) {
      columns.push(attributeSql(attr.name, attr.type, attr.nullable ?? false, attr.default, attr.comment ?? ''));
      continue;
    }
    columns.push(attributeSql(attr.name, 'binary(16)', attr.nullable ?? false, undefined, `:${attr.type}:${attr.comment ?? ''}`));
    foreignKeys.push(`FOREIGN KEY (${quoteId(attr.name)}) REFERENCES ${tableRef(database, externalTableName(external[2]))} (\`hash\`) ON UPDATE RESTRICT ON DELETE RESTRICT`);
  }
  return (
    `CREATE TABLE IF NOT EXISTS ${tableRef(database, def.name)} (\n` +
    [...columns, `PRIMARY KEY (${primaryKey.map(quoteId).join(',')})`, ...foreignKeys].join(',\n') +
    `\n) ENGINE=InnoDB, COMMENT ${commentSql(def.comment ?? '')}`
  );
}

function attributeSql(name: string, type: string, nullable: boolean, defaultValue: string | undefined, comment: string): string {
  const nullity = nullable ? 'DEFAULT NULL' : defaultValue !== undefined ? `NOT NULL DEFAULT ${defaultValue}` : 'NOT NULL';
  return `${quoteId(name)} ${type} ${nullity}${comment ? ` COMMENT ${commentSql(comment)}` : ''}`;
}

export async function declareV014Table(conn: Connection, database: string, def: V014TableDefinition): Promise<void> {
  for (const attr of def.attributes) {
    const external = /^(blob|attach|filepath)@([a-z][-\w]*)$/i.exec(attr.type);
    if (external) await declareV014ExternalTable(conn, database, external[2]);
  }
  await conn.query(await v014TableDdl(conn, database, def));
}

/**
 * Inserts rows like 0.14's `insert`: each external value is uploaded where 0.14 puts it and tracked in
 * `~external_<store>` (an existing row is kept, like `skip_duplicates`), then the row is inserted with the
 * 16-byte uuid. Which columns are external, and of which kind and store, is read from the column comments.
 */
export async function insertV014Rows(conn: Connection, database: string, table: string, rows: readonly V014Row[], stores: V014Stores): Promise<V014Object[]> {
  const columnRows = await select<{ name: string; comment: string }>(
    conn,
    'SELECT COLUMN_NAME AS name, COLUMN_COMMENT AS comment FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [database, table],
  );
  if (columnRows.length === 0) throw new Error(`table ${database}.${table} does not exist`);
  const externals = new Map(columnRows.flatMap((column) => {
    const parsed = parseExternalComment(column.comment);
    return parsed ? [[column.name, parsed] as const] : [];
  }));
  const writer = new FixtureWriter(stores);
  const written = new Map<string, V014Object>();
  for (const row of rows) {
    const names: string[] = [];
    const values: unknown[] = [];
    for (const [name, value] of Object.entries(row)) {
      if (value === undefined) continue;
      names.push(name);
      const external = externals.get(name);
      if (!external || value === null) {
        if (isExternalValue(value)) throw new Error(`${table}.${name} is not an external attribute`);
        values.push(value);
        continue;
      }
      if (!isExternalValue(value)) throw new Error(`${table}.${name} is ${external.kind}@${external.store}: give a V014ExternalValue or null`);
      const expected = value.kind === 'migrated-blob' ? 'blob' : value.kind;
      if (expected !== external.kind) throw new Error(`${table}.${name} is ${external.kind}@${external.store}, not ${value.kind}`);
      const object = await writer.put(conn, database, external.store, value);
      written.set(`${object.store}\0${object.hash.toString('hex')}`, object);
      values.push(object.hash);
    }
    await conn.query(`INSERT INTO ${tableRef(database, table)} (${names.map(quoteId).join(',')}) VALUES (${names.map(() => '?').join(',')})`, values);
  }
  return [...written.values()];
}

function isExternalValue(value: unknown): value is V014ExternalValue {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && 'kind' in value;
}

class FixtureWriter {
  private readonly objects: FixtureObjects;

  constructor(private readonly stores: V014Stores) {
    this.objects = new FixtureObjects(stores);
  }

  async put(conn: Connection, database: string, storeName: string, value: V014ExternalValue): Promise<V014Object> {
    const store = this.stores[storeName];
    if (!store) throw new Error(`no store "${storeName}" configured (have: ${Object.keys(this.stores).join(', ') || 'none'})`);
    let hash: Buffer;
    let relativePath: string;
    let bytes: Buffer;
    let row: { attachment_name: string | null; filepath: string | null; contents_hash: Buffer | null };
    switch (value.kind) {
      case 'blob':
        bytes = value.bytes;
        hash = uuidFromBuffer(bytes);
        relativePath = uuidRelativePath(database, hash);
        row = { attachment_name: null, filepath: null, contents_hash: null };
        break;
      case 'attach':
        bytes = value.contents;
        hash = uuidFromBuffer(bytes, `${value.filename}\0`);
        relativePath = uuidRelativePath(database, hash, `.${value.filename}`);
        row = { attachment_name: value.filename, filepath: null, contents_hash: null };
        break;
      case 'filepath':
        bytes = value.contents;
        hash = uuidFromBuffer(undefined, value.relativePath);
        relativePath = value.relativePath;
        row = { attachment_name: null, filepath: value.relativePath, contents_hash: value.nullContentsHash ? null : md5(bytes) };
        break;
      case 'migrated-blob':
        bytes = value.bytes;
        relativePath = `${database}/${value.legacyValue}`;
        hash = migratedBlobUuid(relativePath);
        row = { attachment_name: null, filepath: relativePath, contents_hash: md5(bytes) };
        break;
    }
    const key = storeObjectKey(store.spec.protocol, store.spec.location, relativePath);
    await this.objects.put(storeName, key, bytes);
    await declareV014ExternalTable(conn, database, storeName);
    await conn.query(
      `INSERT INTO ${tableRef(database, externalTableName(storeName))} (hash, size, attachment_name, filepath, contents_hash) VALUES (?, ?, ?, ?, ?)
        ON DUPLICATE KEY UPDATE hash = hash`,
      [hash, bytes.length, row.attachment_name, row.filepath, row.contents_hash],
    );
    return { store: storeName, kind: value.kind, hash, relativePath, key, size: bytes.length, bytes };
  }
}

function md5(bytes: Uint8Array): Buffer {
  return createHash('md5').update(bytes).digest();
}

// ----- ready-made fixture: real-examples 5.1 ----------------------------------------------------------------

/** `np.array([[1.0, 2.0, 3.0]])` packed by 0.12/0.14 (61 bytes, uncompressed `mYm`; real-examples 3.2 and 5.4). */
export const V014_W = Buffer.from(
  '6d596d00410200000000000000010000000000000003000000000000000600000000000000000000000000f03f00000000000000400000000000000840',
  'hex',
);
/** `np.zeros((100, 100))` packed by 0.14.6 (130 bytes, `ZL123\0`; md5 c2620c16…): the same bytes 0.11.1 writes. */
export const V014_ZEROS100 = packLegacyBlob(zerosArray([100, 100]));
/** `raw` longblob values of real-examples 5.4: `np.arange(3, dtype=np.int16)` (mYm) and `dict(a=1)` (dj0). */
export const V014_RAW_INT16 = Buffer.from('6d596d0041010000000000000003000000000000000a00000000000000000001000200', 'hex');
export const V014_RAW_DICT = Buffer.from('646a30000401000000000000000a000000000000000501000000000000006104000000000000000a010001', 'hex');
/** The migrated-from-0.11 row's object: 0.11.1's 48-byte pack of `[[1., 2., 3.]]` (real-examples 4.1, md5 595936a3…). */
export const V014_LEGACY_W = packLegacyBlob(float64Array([1, 3], [1.0, 2.0, 3.0]));

export const EXAMPLE_LAB_V014_TABLES: readonly V014TableDefinition[] = [
  {
    name: 'animal',
    primaryKey: [{ name: 'animal_id', sqlType: 'int', comment: 'animal number' }],
    attributes: [{ name: 'species', type: 'varchar(32)', default: "'mouse'", comment: 'species name' }],
  },
  {
    name: 'sample',
    parents: [{ table: 'animal', columns: ['animal_id'] }],
    primaryKey: [{ name: 'sample_id', sqlType: 'int unsigned', comment: 'sample number' }],
    attributes: [
      { name: 'label', type: 'varchar(32)', default: "'none'", comment: 'free text' },
      { name: 'n_spikes', type: 'int unsigned', default: '0', comment: 'spike count' },
      { name: 'gain', type: 'float', default: '1.5', comment: 'amplifier gain' },
      { name: 'offset', type: 'double', default: '0.25', comment: 'baseline offset' },
      { name: 'raw', type: 'longblob', comment: 'in-table blob' },
      { name: 'waveform', type: 'blob@main', comment: 'external blob' },
      { name: 'waveform_opt', type: 'blob@main', nullable: true, comment: 'optional external blob' },
      { name: 'report', type: 'attach@main', comment: 'attachment' },
      { name: 'scan', type: 'filepath@local', comment: 'managed file' },
    ],
  },
];

export interface V014FixtureOptions {
  conn: Connection;
  database: string;
  /** `main` (s3 in the original, location `example014`) and `local` (file). */
  stores: V014Stores;
  /** Adds Sample(2, 9) whose waveform is a blob migrated from 0.11 (default true). */
  migratedRow?: boolean;
}

export interface V014Fixture {
  database: string;
  tables: string[];
  /** Every object written, one per (store, hash). */
  objects: V014Object[];
}

/** The sample key of the extra row whose waveform was migrated from 0.11. */
export const MIGRATED_SAMPLE = { animal_id: 2, sample_id: 9 } as const;

/**
 * real-examples 5.1: `example_lab_v014` with the same values, so the `~external_*` rows, uuids and object keys are
 * those of 5.4/5.5, plus (unless `migratedRow: false`) Sample(2, 9) whose `waveform` is the 0.11 object of
 * `[[1., 2., 3.]]` as the official 0.12 migration left it (hash = md5(`<db>/<legacy hash>`)).
 */
export async function buildExampleLabV014(options: V014FixtureOptions): Promise<V014Fixture> {
  const { conn, database, stores } = options;
  await createV014Schema(conn, database);
  for (const def of EXAMPLE_LAB_V014_TABLES) await declareV014Table(conn, database, def);
  await insertV014Rows(conn, database, 'animal', [{ animal_id: 1, species: 'rat' }, { animal_id: 2 }], stores);
  const report = v014Attach('report.v1.txt', 'hello report\n');
  const objects: V014Object[] = [];
  objects.push(
    ...(await insertV014Rows(
      conn,
      database,
      'sample',
      [
        {
          animal_id: 1,
          sample_id: 1,
          label: 'first',
          n_spikes: 42,
          gain: 2.0,
          offset: -1.0,
          raw: V014_RAW_INT16,
          waveform: v014Blob(V014_W),
          waveform_opt: v014Blob(V014_ZEROS100),
          report,
          scan: v014Filepath('sub/scan_001.dat', 'scan-one\n'),
        },
        { animal_id: 2, sample_id: 7, raw: V014_RAW_DICT, waveform: v014Blob(V014_W), report, scan: v014Filepath('scan_002.v2.dat', 'scan-two-data\n') },
      ],
      stores,
    )),
  );
  if (options.migratedRow ?? true) {
    objects.push(
      ...(await insertV014Rows(
        conn,
        database,
        'sample',
        [{ ...MIGRATED_SAMPLE, raw: V014_RAW_INT16, waveform: v014MigratedBlob(V014_LEGACY_W), report, scan: v014Filepath('scan_002.v2.dat', 'scan-two-data\n') }],
        stores,
      )),
    );
  }
  const unique = new Map(objects.map((object) => [`${object.store}\0${object.hash.toString('hex')}`, object]));
  return { database, tables: EXAMPLE_LAB_V014_TABLES.map((def) => def.name), objects: [...unique.values()] };
}
