// The baseline of `npm run bench`: the seed notebook's 0.11 → 0.12 procedure ("Migration of External Storage from
// DataJoint 0.11.* to 0.12.*", cells In[16]–In[26] of the upgrade part) rendered in TypeScript as written — serial,
// one column at a time, every object read whole per column that references it, one INSERT and one UPDATE per hash,
// the tables rebuilt with one ALTER per column. It is deliberately not improved: it is what djmigrate is measured
// against. Spec: ../shared/spec/datajoint-formats.md B.6. Differences from the notebook are only those a
// TypeScript rendering needs, each marked "rendering:".
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Connection } from 'mysql2/promise';
import type { StoreSpec } from '../functions/core/config/store-spec.js';
import { externalTableDdl, externalTableName, storeObjectKey, uuidFromBuffer } from '../functions/core/datajoint/v012.js';
import { quoteId, select, tableRef } from '../functions/core/db/sql.js';
import { openObjectStore } from '../functions/core/stores/open-store.js';
import type { ObjectStore } from '../functions/core/stores/object-store.js';
import type { S3Credentials } from '../functions/core/stores/s3-store.js';

/** `dj.config['stores']` of the notebook's In[5]: 0.12 store name → spec (same roots as the 0.11 stores). */
export type SeedStores = Record<string, { spec: StoreSpec; credentials?: S3Credentials }>;

export interface SeedColumnTimes {
  table: string;
  column: string;
  store: string;
  /** Distinct values in the column (NULL included, as the notebook's set has None). */
  distinctValues: number;
  objectsRead: number;
  bytesRead: number;
  rowsUpdated: number;
  /** Seconds spent reading + hashing objects, in INSERTs into ~external_<store>, in the per-hash UPDATEs, and in the rest. */
  readSeconds: number;
  insertSeconds: number;
  updateSeconds: number;
  alterSeconds: number;
  seconds: number;
}

export interface SeedResult {
  columns: SeedColumnTimes[];
  seconds: number;
}

interface Ref {
  referencing_table: string;
  column_name: string;
  constraint_name: string;
}

// In[16]: LEGACY_HASH_SIZE = 43; legacy_external = FreeTable(`db`.`~external`)
const LEGACY_HASH_SIZE = 43;
// dj.declare.UUID_DATA_TYPE
const UUID_DATA_TYPE = 'binary(16)';
// In[19]: temp_suffix = 'tempsub'
const TEMP_SUFFIX = 'tempsub';

const now = () => performance.now() / 1000;

/** The notebook's procedure on `database`; `defaultStore` names the unnamed `external` store (In[5]). */
export async function migrateLikeSeed(conn: Connection, database: string, stores: SeedStores, defaultStore = 'external'): Promise<SeedResult> {
  const started = now();
  const legacyExternal = tableRef(database, '~external');
  const query = <T extends object>(sql: string, values: unknown[] = []) => select<T>(conn, sql, values);
  // `schema.external[store]`: one ExternalTable (and one s3 client) per store, created on first use.
  const extStores = new Map<string, ObjectStore>();

  // In[18]: get referencing tables
  // rendering: bound parameters instead of str.format, and lower-case aliases (MySQL 8 returns upper-case names).
  const refsQuery = () =>
    query<Ref>(
      `SELECT concat('\`', table_schema, '\`.\`', table_name, '\`') AS referencing_table, column_name AS column_name, constraint_name AS constraint_name
         FROM information_schema.key_column_usage
        WHERE referenced_table_name = ? AND referenced_table_schema = ?`,
      ['~external', database],
    );
  const refs = await refsQuery();

  const columns: SeedColumnTimes[] = [];
  // In[19]: for ref in refs:
  for (const ref of refs) {
    const columnStarted = now();
    const times = { readSeconds: 0, insertSeconds: 0, updateSeconds: 0 };
    // get comment
    const [column] = await query<{ Comment: string }>(`SHOW FULL COLUMNS FROM ${ref.referencing_table} WHERE Field = ?`, [ref.column_name]);
    // re.match(r':external(-(?P<store>.+))?:(?P<comment>.*)', column['Comment'])
    const match = /^:external(-(?<store>.+))?:(?<comment>.*)/.exec(column.Comment);
    if (!match) throw new Error(`${ref.referencing_table}.${ref.column_name}: comment ${column.Comment} is not :external…:`);
    const store = match.groups!.store as string | undefined;
    const comment = match.groups!.comment;

    // get all the hashes from the reference: {x[0] for x in query('SELECT `col` FROM table')}
    const hashes = new Set(
      (await query<{ v: string | null }>(`SELECT ${quoteId(ref.column_name)} AS v FROM ${ref.referencing_table}`)).map((row) => row.v),
    );

    // sanity check make sure that store suffixes match
    // rendering: NULLs are skipped. In the notebook the set holds None for a NULL and len(None) / None[43:] raises
    // TypeError, so the procedure as written stops on any nullable column that has a NULL (the bench has some).
    for (const value of hashes) {
      if (value === null) continue;
      if (store === undefined) assert(value.length === LEGACY_HASH_SIZE, `value ${value} is not ${LEGACY_HASH_SIZE} characters`);
      else assert(value.slice(LEGACY_HASH_SIZE) === store, `value ${value} does not end in ${store}`);
    }

    // create new-style external table: ext = schema.external[store or default_store]
    const storeName = store ?? defaultStore;
    const spec = stores[storeName];
    if (!spec) throw new Error(`dj.config['stores'] has no ${storeName}`);
    const extTable = tableRef(database, externalTableName(storeName));
    if (!extStores.has(storeName)) {
      await conn.query(externalTableDdl(database, storeName, quoteId));
      extStores.set(storeName, openObjectStore(spec.spec, spec.credentials));
    }
    const ext = extStores.get(storeName)!;

    // add the new-style reference field
    const tempColumn = `${ref.column_name}_${TEMP_SUFFIX}`;
    try {
      await conn.query(
        `ALTER TABLE ${ref.referencing_table}
         ADD COLUMN ${quoteId(tempColumn)} ${UUID_DATA_TYPE} DEFAULT NULL
         COMMENT ${conn.escape(`:blob@${storeName}:${comment}`)}`,
      );
    } catch {
      console.log('Column already added');
    }

    // Copy references into the new external table
    // contents_hash_function: file → uuid_from_file(location/relative_path); s3 → uuid_from_buffer(ext.s3.get(relative_path))
    const contentsHash = spec.spec.protocol === 'file' ? uuidFromFile : uuidFromS3Get;

    // for _hash, size in zip(*legacy_external.fetch('hash', 'size')):  (fetched again for every column)
    const legacy = await query<{ hash: string; size: number }>(`SELECT hash, size FROM ${legacyExternal}`);
    let objectsRead = 0;
    let bytesRead = 0;
    let rowsUpdated = 0;
    for (const { hash: _hash, size } of legacy) {
      if (!hashes.has(_hash)) continue;
      // relative_path = os.path.join(schema.database, _hash); uuid = dj.hash.uuid_from_buffer(init_string=relative_path)
      const relativePath = `${database}/${_hash}`;
      const uuid = uuidFromBuffer(undefined, relativePath);
      // contents_hash=contents_hash_function[protocol](ext, relative_path): the object at
      // _make_external_filepath(relative_path), read whole (s3) or as a file (file)
      const readStarted = now();
      const key = storeObjectKey(spec.spec.protocol, spec.spec.location, relativePath);
      const digest = await contentsHash(ext, key);
      times.readSeconds += now() - readStarted;
      objectsRead += 1;
      bytesRead += digest.bytes;
      // ext.insert1(dict(filepath=..., size=..., contents_hash=..., hash=uuid), skip_duplicates=True)
      // (0.12's skip_duplicates: ON DUPLICATE KEY UPDATE `hash`=`hash`)
      const insertStarted = now();
      await conn.query(`INSERT INTO ${extTable} (\`hash\`, \`size\`, \`filepath\`, \`contents_hash\`) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE \`hash\`=\`hash\``, [
        uuid,
        size,
        relativePath,
        digest.md5,
      ]);
      const updateStarted = now();
      times.insertSeconds += updateStarted - insertStarted;
      // query('UPDATE {referencing_table} SET `{col}_tempsub`=%s WHERE `{col}` = "{_hash}"', uuid.bytes)
      const [result] = await conn.query(`UPDATE ${ref.referencing_table} SET ${quoteId(tempColumn)}=? WHERE ${quoteId(ref.column_name)} = "${_hash}"`, [uuid]);
      rowsUpdated += (result as { affectedRows: number }).affectedRows;
      times.updateSeconds += now() - updateStarted;
    }

    // check that all have been copied
    const alterStarted = now();
    const check = await query(
      `SELECT * FROM ${ref.referencing_table} WHERE ${quoteId(ref.column_name)} IS NOT NULL AND ${quoteId(tempColumn)} IS NULL`,
    );
    assert(check.length === 0, 'Some hashes havent been migrated');

    // drop old foreign key, rename, and create new foreign key
    await conn.query(
      `ALTER TABLE ${ref.referencing_table}
        DROP FOREIGN KEY ${quoteId(ref.constraint_name)},
        DROP COLUMN ${quoteId(ref.column_name)},
        CHANGE COLUMN ${quoteId(tempColumn)} ${quoteId(ref.column_name)} ${UUID_DATA_TYPE} DEFAULT NULL
             COMMENT ${conn.escape(`:blob@${storeName}:${comment}`)},
        ADD FOREIGN KEY (${quoteId(ref.column_name)}) REFERENCES ${extTable} (\`hash\`)`,
    );
    const finished = now();
    columns.push({
      table: ref.referencing_table,
      column: ref.column_name,
      store: storeName,
      distinctValues: hashes.size,
      objectsRead,
      bytesRead,
      rowsUpdated,
      ...times,
      alterSeconds: finished - alterStarted,
      seconds: finished - columnStarted,
    });
  }

  // In[23]: Drop the old external table but make sure it's no longer referenced
  assert((await refsQuery()).length === 0, 'Some references still exist');
  // In[26]: legacy_external.drop_quick()
  await conn.query(`DROP TABLE ${legacyExternal}`);
  return { columns, seconds: now() - started };
}

interface ContentsDigest {
  md5: Buffer;
  bytes: number;
}

/** `dj.hash.uuid_from_buffer(ext.s3.get(relative_path))`: the whole object downloaded into memory, then MD5. */
async function uuidFromS3Get(ext: ObjectStore, key: string): Promise<ContentsDigest> {
  const chunks: Buffer[] = [];
  for await (const chunk of await ext.read(key)) chunks.push(chunk as Buffer);
  const buffer = Buffer.concat(chunks);
  return { md5: uuidFromBuffer(buffer), bytes: buffer.length };
}

/** `dj.hash.uuid_from_file(path)` = uuid_from_stream(open(path, 'rb')): MD5 over 16 KiB reads (spec B.3). */
async function uuidFromFile(_ext: ObjectStore, path: string): Promise<ContentsDigest> {
  const md5 = createHash('md5');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 14 })) {
    md5.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { md5: md5.digest(), bytes };
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`AssertionError: ${message}`);
}
