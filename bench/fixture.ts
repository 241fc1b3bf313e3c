// The benchmark's legacy (DataJoint 0.11) pipeline: N objects of log-uniform sizes in two s3 stores and one file
// store, written exactly where 0.11 writes them (`<location>/<db>/<sha256-b64url><suffix>`) and recorded in
// `~external`; three referencing columns over two tables (~`rows` rows in all); and a big table whose column points
// at a small pool of shared objects. Built once; `copySchema` then makes an identical copy for each contender.
//
// The objects are shared by all contenders: djmigrate in-place only reads them (hash.ts copies only in native mode),
// the seed's procedure only reads them (spec B.6: "it does not move, copy, rewrite or re-serialize any file"), and
// the I/O floor only reads them. The database, which every contender rewrites, is restored from a pristine copy
// under the same name before each run (the object keys contain the database name, so the name must not change).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import { LEGACY_EXTERNAL_TABLE, legacyHash, legacyObjectKey, legacyStoredValue, suffixOfLegacyType } from '../functions/core/datajoint/v011.js';
import { execute, quoteId, select, tableRef, withoutForeignKeyChecks } from '../functions/core/db/sql.js';
import { FixtureObjects } from '../functions/local/sandbox/fixture-objects.js';
import { createLegacySchema, declareLegacyTable, type LegacyStores } from '../functions/local/sandbox/legacy-pipeline.js';
import { prng } from './measure.js';

export interface BenchFixtureOptions {
  objects: number;
  /** Referencing rows over recording (trace, thumb) and frame (img). */
  rows: number;
  /** Rows of the `event` table whose `snippet` points at a small pool of shared objects. */
  bigTableRows: number;
  minSize: number;
  maxSize: number;
  /** Pool of shared objects the big table points at. */
  poolSize?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface BenchObject {
  store: string;
  value: string;
  size: number;
  key: string;
}

export interface BenchFixture {
  database: string;
  objects: BenchObject[];
  totalBytes: number;
  /** Rows per user table. */
  tableRows: Record<string, number>;
  /** Referencing (non-NULL pointer) values per column, `table.column`. */
  pointers: Record<string, number>;
}

/** The three 0.11 stores of the seed notebook (`external`, `external-shared` on s3, `external-local` on files). */
export const STORE_SHARE: readonly string[] = ['external', 'external', 'external-shared', 'external-local', 'external-local'];

export async function buildBenchFixture(conn: Connection, database: string, stores: LegacyStores, options: BenchFixtureOptions): Promise<BenchFixture> {
  const log = options.log ?? (() => {});
  const random = prng(options.seed ?? 20191107);
  await createLegacySchema(conn, database);
  await declareLegacyTable(conn, database, {
    name: 'recording',
    primaryKey: [{ name: 'rec_id', sqlType: 'int' }],
    attributes: [
      { name: 'trace', type: 'external', comment: 'raw trace: volts' },
      { name: 'thumb', type: 'external-shared', nullable: true, comment: 'thumbnail' },
    ],
  });
  await declareLegacyTable(conn, database, {
    name: 'frame',
    primaryKey: [{ name: 'frame_id', sqlType: 'int' }],
    attributes: [{ name: 'img', type: 'external-local', comment: 'frame image' }],
  });
  await declareLegacyTable(conn, database, {
    name: 'event',
    primaryKey: [{ name: 'event_id', sqlType: 'int' }],
    attributes: [
      { name: 'snippet', type: 'external-shared', nullable: true, comment: 'clip from a small pool' },
      { name: 'score', type: 'float' },
    ],
  });

  // Objects: log-uniform sizes; unique bytes = a per-object random header + a slice of a shared random pool (the
  // hashing cost is the same as for fully random bytes, the generation much cheaper).
  const pool = randomBytes(options.maxSize + (1 << 20));
  const writer = new FixtureObjects(stores);
  const limit = pLimit(8);
  const objects: BenchObject[] = [];
  const logMin = Math.log(options.minSize);
  const logMax = Math.log(Math.max(options.minSize, options.maxSize));
  let totalBytes = 0;
  let written = 0;
  const puts: Promise<void>[] = [];
  for (let i = 0; i < options.objects; i++) {
    const store = STORE_SHARE[i % STORE_SHARE.length];
    const size = Math.max(32, Math.round(Math.exp(logMin + random() * (logMax - logMin))));
    const offset = Math.floor(random() * (pool.length - size));
    totalBytes += size;
    puts.push(
      limit(async () => {
        const header = randomBytes(16);
        header.writeUInt32BE(i, 0);
        const bytes = Buffer.concat([header, pool.subarray(offset, offset + size - header.length)]);
        const spec = stores[store].spec;
        const value = legacyStoredValue(legacyHash(bytes), suffixOfLegacyType(store) ?? '');
        const key = legacyObjectKey(spec.protocol, spec.location, database, value);
        await writer.put(store, key, bytes);
        objects[i] = { store, value, size, key };
        if (++written % 500 === 0) log(`  ${written}/${options.objects} objects written`);
      }),
    );
  }
  await Promise.all(puts);
  for (let i = 0; i < objects.length; i += 1000) {
    await execute(conn, `INSERT INTO ${tableRef(database, LEGACY_EXTERNAL_TABLE)} (hash, size) VALUES ?`, [objects.slice(i, i + 1000).map((o) => [o.value, o.size])]);
  }

  const byStore = (store: string) => objects.filter((o) => o.store === store).map((o) => o.value);
  const external = byStore('external');
  const shared = byStore('external-shared');
  const local = byStore('external-local');
  // Every object is referenced at least once when there are enough rows; the rest point at random objects.
  const pick = (values: string[], i: number) => (values.length === 0 ? null : i < values.length ? values[i] : values[Math.floor(random() * values.length)]);
  const recordingRows = Math.ceil(options.rows / 2);
  const frameRows = Math.floor(options.rows / 2);
  const recording = Array.from({ length: recordingRows }, (_, i) => [i, pick(external, i), i % 10 === 9 ? null : pick(shared, i)]);
  const frame = Array.from({ length: frameRows }, (_, i) => [i, pick(local, i)]);
  const poolValues = shared.slice(0, options.poolSize ?? 20);
  const chunked = async (table: string, columns: string[], rows: unknown[][]) => {
    for (let i = 0; i < rows.length; i += 10_000) {
      await execute(conn, `INSERT INTO ${tableRef(database, table)} (${columns.map(quoteId).join(', ')}) VALUES ?`, [rows.slice(i, i + 10_000)]);
    }
  };
  await chunked('recording', ['rec_id', 'trace', 'thumb'], recording);
  await chunked('frame', ['frame_id', 'img'], frame);
  for (let first = 0; first < options.bigTableRows; first += 10_000) {
    const rows = Array.from({ length: Math.min(10_000, options.bigTableRows - first) }, (_, j) => {
      const id = first + j;
      return [id, id % 10 === 0 || poolValues.length === 0 ? null : poolValues[id % poolValues.length], (id % 997) / 997];
    });
    await chunked('event', ['event_id', 'snippet', 'score'], rows);
    if ((first + 10_000) % 200_000 === 0) log(`  ${first + 10_000}/${options.bigTableRows} event rows`);
  }
  const count = async (table: string, column: string) =>
    Number((await select<{ n: number }>(conn, `SELECT COUNT(${quoteId(column)}) AS n FROM ${tableRef(database, table)}`))[0].n);
  return {
    database,
    objects,
    totalBytes,
    tableRows: { recording: recordingRows, frame: frameRows, event: options.bigTableRows },
    pointers: {
      'recording.trace': await count('recording', 'trace'),
      'recording.thumb': await count('recording', 'thumb'),
      'frame.img': await count('frame', 'img'),
      'event.snippet': await count('event', 'snippet'),
    },
  };
}

/**
 * An identical copy of a schema: CREATE DATABASE, each table's own SHOW CREATE TABLE (so foreign keys come along,
 * which CREATE TABLE … LIKE would drop) run in the target database, then INSERT … SELECT. Foreign-key checks are
 * off for the copy's session only, so the order of the tables does not matter.
 */
export async function copySchema(conn: Connection, from: string, to: string): Promise<void> {
  await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(to)}`);
  await execute(conn, `CREATE DATABASE ${quoteId(to)}`);
  const tables = await select<{ name: string }>(
    conn,
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
    [from],
  );
  await withoutForeignKeyChecks(conn, async () => {
    await execute(conn, `USE ${quoteId(to)}`);
    for (const { name } of tables) {
      const [created] = await select<{ 'Create Table': string }>(conn, `SHOW CREATE TABLE ${tableRef(from, name)}`);
      await execute(conn, created['Create Table']);
      await execute(conn, `INSERT INTO ${tableRef(to, name)} SELECT * FROM ${tableRef(from, name)}`);
    }
  });
}

/** The `database.*` entries and each store's entry of a DataJoint config for the bench (credentials included, as users keep them). */
export function configEntries(mysqlUrl: string, stores: LegacyStores): { database: Record<string, unknown>; stores: Record<string, unknown> } {
  const url = new URL(mysqlUrl);
  return {
    database: {
      'database.host': url.hostname,
      'database.port': Number(url.port || 3306),
      'database.user': decodeURIComponent(url.username),
      'database.password': decodeURIComponent(url.password),
    },
    stores: Object.fromEntries(
      Object.entries(stores).map(([key, { spec, credentials }]) => [
        key,
        spec.protocol === 'file'
          ? { protocol: 'file', location: spec.location }
          : { protocol: 's3', endpoint: spec.endpoint, bucket: spec.bucket, location: spec.location, access_key: credentials?.accessKeyId, secret_key: credentials?.secretAccessKey },
      ]),
    ),
  };
}

/** The user's 0.11 `dj_local_conf.json` for the bench stores (each store a top-level `external…` key). */
export async function writeLegacyConfig(path: string, mysqlUrl: string, stores: LegacyStores): Promise<void> {
  const entries = configEntries(mysqlUrl, stores);
  await writeFile(path, JSON.stringify({ ...entries.database, ...entries.stores }, null, 2));
}
