// `npm run bench`: builds a DataJoint 0.11 pipeline on throwaway servers (MariaDB, s3rver, a temp folder), then
// measures, on identical copies of it:
//   1. the I/O floor: list + GET + MD5+SHA-256 of every object once, N in flight, no database work;
//   2. djmigrate's local runner (the synthesized state machine with the real handlers, in-place mode);
//   3. the seed notebook's procedure as written (bench/baseline-seed.ts) as the baseline;
// plus MD5+SHA-256 of the same number of bytes in memory as the hashing reference.
// `npm run bench -- --big-object 2GB` instead measures peak RSS while djmigrate's streaming path hashes one object;
// `--many-objects N` Inspect and the whole migration on N objects (bench/many-objects.ts); `--v014 ROWS` the 0.14 → 2.0
// migration's rates (bench/v014.ts).
// Targets are reported, not asserted: end to end ≤ 1.3x I/O floor; file-store hashing ≥ 0.8x in memory; peak RSS
// < 256 MB hashing a 2 GB object; column rewrite ≥ 100,000 rows/s on the 1M-row table.
import { Command, InvalidArgumentError } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import { journalColumns } from '../functions/core/migrate011/journal.js';
import type { Report } from '../functions/core/migrate011/report.js';
import { externalTableName } from '../functions/core/datajoint/v012.js';
import { quoteId, select, tableRef } from '../functions/core/db/sql.js';
import type { ProgressEvent } from '../functions/core/progress.js';
import { FileObjectWriter, S3ObjectWriter } from '../functions/core/stores/object-writer.js';
import { openObjectStore } from '../functions/core/stores/open-store.js';
import { s3ClientConfig } from '../functions/core/stores/s3-store.js';
import type { HandlerName } from '../functions/handlers/names.js';
import type { PhaseInvoker } from '../functions/handlers/registry.js';
import { PhaseClock } from '../functions/local/cli-output.js';
import { hashingSeconds, MIGRATE_011_PHASES } from '../functions/local/cli-011.js';
import { migrateLocally } from '../functions/local/migrate.js';
import type { LegacyStores } from '../functions/local/sandbox/legacy-pipeline.js';
import { connect, startSandbox } from '../functions/local/sandbox/sandbox.js';
import { startS3rver } from '../functions/local/sandbox/s3rver.js';
import { S3Client } from '@aws-sdk/client-s3';
import { migrateLikeSeed, type SeedResult } from './baseline-seed.js';
import { buildBenchFixture, copySchema, writeLegacyConfig } from './fixture.js';
import { ioFloor, type FloorSource } from './io-floor.js';
import { manyObjects } from './many-objects.js';
import { v014Rates } from './v014.js';
import { formatBytes, formatInt, inMemoryHashRate, mb, measure, parseSize, RssSampler, table, type Measured } from './measure.js';

interface Flags {
  objects: number;
  rows: number;
  bigTableRows: number;
  minSize: number;
  maxSize: number;
  concurrency: number;
  bigObject?: number;
  manyObjects?: number;
  v014?: number;
  v014Objects: number;
  skipBaseline?: boolean;
  trustEtag?: boolean;
  hashConcurrency: number;
  distributedFrom?: number;
  listingPassObjects?: number;
  workBudget?: number;
  quick?: boolean;
}

const integer = (value: string) => {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
};
const size = (value: string) => {
  try {
    return parseSize(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

const DATABASE = 'djbench_lab';
const PRISTINE = 'djbench_lab_pristine';
const BUCKET = 'djm-bench';
const log = (line: string) => console.log(line);
const s = (seconds: number) => `${seconds.toFixed(2)} s`;
const rss = (bytes: number) => `${Math.round(mb(bytes))} MB`;
const x = (ratio: number) => `${ratio.toFixed(2)}x`;
const cpu = (measured: { cpuSeconds: number | null }) => (measured.cpuSeconds === null ? '' : measured.cpuSeconds.toFixed(1));

async function main(): Promise<void> {
  const program = new Command('bench')
    .description('djmigrate benchmark: I/O floor vs djmigrate local runner vs the seed notebook procedure (0.11 → 0.12)')
    .option('--objects <n>', 'legacy objects (s3 + file stores)', integer, 3000)
    .option('--rows <n>', 'referencing rows over recording.trace/thumb and frame.img', integer, 30_000)
    .option('--big-table-rows <n>', 'rows of the big table pointing at a small pool of objects', integer, 1_000_000)
    .option('--min-size <size>', 'smallest object (log-uniform sizes)', size, 1024)
    .option('--max-size <size>', 'largest object', size, 5 * 1024 ** 2)
    .option('--concurrency <n>', 'objects in flight for the I/O floor', integer, 32)
    .option('--big-object <size>', 'only measure peak RSS while hashing one object of this size (file store and s3rver)', size)
    .option('--many-objects <n>', 'only: Inspect + plan, then the whole migration, on a file store of this many (empty) objects', integer)
    .option('--v014 <rows>', 'only: the 0.14 → 2.0 rates (object checks, conversion, copy, compare) on a blob@ column of this many rows', integer)
    .option('--v014-objects <n>', 'with --v014: objects the rows point at', integer, 5000)
    .option('--skip-baseline', 'do not run the seed procedure')
    .option('--hash-concurrency <n>', "djmigrate's objects in flight per hash batch (the input's hashConcurrency)", integer, 8)
    .option('--distributed-from <n>', "hash through the Distributed Map from this many objects on (the input's distributedHashingFrom; default 1000)", integer)
    .option('--listing-pass-objects <n>', "with --many-objects: list and compare the store in passes of this many objects (the input's listingPassObjects)", integer)
    .option('--work-budget <seconds>', 'with --many-objects: how long each budgeted call works (the stack: 600; Inspect, InsertRows, Verify, fills and rewrites then take several calls)', integer)
    .option('--trust-etag', "run djmigrate with trustEtag (S3 contents hashes from plain-MD5 ETags, a sample read to check)")
    .option('--quick', 'smoke run: 200 objects, 2,000 rows, 20,000 big-table rows');
  program.parse(process.argv);
  const flags = program.opts<Flags>();
  if (flags.quick) {
    const given = (name: string) => program.getOptionValueSource(name) === 'cli';
    if (!given('objects')) flags.objects = 200;
    if (!given('rows')) flags.rows = 2000;
    if (!given('bigTableRows')) flags.bigTableRows = 20_000;
  }
  if (flags.bigObject !== undefined) return bigObject(flags.bigObject);
  if (flags.v014 !== undefined) return v014Rates(flags.v014, flags.v014Objects, log);
  if (flags.manyObjects !== undefined) return manyObjects(flags.manyObjects, log, {
      distributedHashingFrom: flags.distributedFrom,
      listingPassObjects: flags.listingPassObjects,
      workBudgetMs: flags.workBudget === undefined ? undefined : flags.workBudget * 1000,
    });
  return endToEnd(flags);
}

async function endToEnd(flags: Flags): Promise<void> {
  log(`bench: ${formatInt(flags.objects)} objects of ${formatBytes(flags.minSize)}–${formatBytes(flags.maxSize)}, ${formatInt(flags.rows)} referencing rows, ${formatInt(flags.bigTableRows)}-row big table`);
  const sandbox = await startSandbox();
  let conn: Connection | undefined;
  try {
    await sandbox.createBucket(BUCKET);
    conn = await connect(sandbox.mysqlUrl);
    const folder = join(sandbox.fileRoot, 'bench-local');
    await mkdir(folder, { recursive: true });
    const credentials = sandbox.s3.credentials;
    const stores: LegacyStores = {
      external: { spec: sandbox.s3Store(BUCKET, 'store'), credentials },
      'external-shared': { spec: sandbox.s3Store(BUCKET, 'maps'), credentials },
      'external-local': { spec: { protocol: 'file', location: folder } },
    };
    for (const db of [DATABASE, PRISTINE]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`);

    // ---- the fixture, built once
    const built = await measure(() => buildBenchFixture(conn!, DATABASE, stores, { ...flags, log }));
    const fixture = built.value;
    const perStore = Object.entries(
      fixture.objects.reduce<Record<string, { n: number; bytes: number }>>((acc, o) => {
        const t = (acc[o.store] ??= { n: 0, bytes: 0 });
        t.n += 1;
        t.bytes += o.size;
        return acc;
      }, {}),
    );
    log(`fixture built in ${s(built.seconds)}: ${formatInt(fixture.objects.length)} objects, ${formatBytes(fixture.totalBytes)} in total (${perStore.map(([store, t]) => `${store} ${t.n} / ${formatBytes(t.bytes)}`).join(', ')})`);
    log(`  rows: ${Object.entries(fixture.tableRows).map(([t, n]) => `${t} ${formatInt(n)}`).join(', ')}; pointers: ${Object.entries(fixture.pointers).map(([c, n]) => `${c} ${formatInt(n)}`).join(', ')}`);
    await copySchema(conn, DATABASE, PRISTINE);

    // ---- hashing reference: MD5 + SHA-256 of the same number of bytes in memory
    const memory = inMemoryHashRate(fixture.totalBytes);
    log(`in-memory MD5+SHA-256: ${mb(memory.bytesPerSecond).toFixed(0)} MB/s (${s(memory.seconds)})`);

    // ---- I/O floor: every prefix listed, every object read and hashed once, N in flight
    const sources: FloorSource[] = Object.entries(stores).map(([name, { spec, credentials: c }]) => ({
      name,
      store: openObjectStore(spec, c),
      prefix: spec.protocol === 'file' ? `${spec.location}/${DATABASE}/` : `${spec.location}/${DATABASE}/`,
    }));
    // Twice: the first read also warms s3rver, the SDK clients and the page cache, which every later contender
    // then enjoys too; the floor is the warm (second) pass.
    const floorCold = await measure(() => ioFloor(sources, flags.concurrency));
    log(`I/O floor, first pass (cold s3rver/SDK): ${s(floorCold.seconds)}`);
    const floorN = await measure(() => ioFloor(sources, flags.concurrency));
    log(`I/O floor, ${flags.concurrency} in flight: ${s(floorN.seconds)}`);
    // s3rver is one Node process on two cores: fewer requests in flight can be faster. The floor is the best pass.
    const floor8 = flags.concurrency === 8 ? floorN : await measure(() => ioFloor(sources, 8));
    if (floor8 !== floorN) log(`I/O floor, 8 in flight: ${s(floor8.seconds)}`);
    const floor = floor8.seconds < floorN.seconds ? floor8 : floorN;
    const floorConcurrency = floor === floorN ? flags.concurrency : 8;
    if (floor.value.objects !== fixture.objects.length) throw new Error(`the floor read ${floor.value.objects} objects, the fixture has ${fixture.objects.length}`);
    log(`I/O floor: ${s(floor.seconds)} (listing ${s(floor.value.listSeconds)}), ${formatInt(floor.value.objects / floor.seconds)} objects/s, ${mb(floor.value.bytes / floor.seconds).toFixed(0)} MB/s`);
    // file-store hashing alone (djmigrate's FileObjectStore.digest, on its worker pool), to compare with in-memory hashing
    const fileOnly = await measure(() => ioFloor(sources.filter((source) => source.name === 'external-local'), flags.concurrency));
    const fileRate = fileOnly.value.bytes / fileOnly.seconds;
    log(`file-store hashing: ${mb(fileRate).toFixed(0)} MB/s = ${x(fileRate / memory.bytesPerSecond)} in-memory`);

    // ---- djmigrate, in place, through the local runner
    const configPath = join(sandbox.fileRoot, 'bench.dj_local_conf.json');
    await writeLegacyConfig(configPath, sandbox.mysqlUrl, stores);
    const clock = new PhaseClock(MIGRATE_011_PHASES);
    const columnTimes = new ColumnTimes();
    const djmStarted = performance.now();
    let firstState = 0;
    const djm = await measure(() =>
      migrateLocally({
        configPath,
        schema: DATABASE,
        defaultStore: 'external',
        mode: 'in-place',
        keepLegacy: false,
        execute: true,
        trustEtag: flags.trustEtag ?? false,
        hashConcurrency: flags.hashConcurrency,
        ...(flags.distributedFrom !== undefined ? { distributedHashingFrom: flags.distributedFrom } : {}),
        progress: { report: (event) => columnTimes.report(event) },
        wrapHandlers: (handlers) => columnTimes.wrap(handlers),
        onStateEntered: (state) => {
          firstState ||= performance.now();
          clock.enter(state);
        },
        onStateExited: (state) => clock.exit(state),
      }),
    );
    if (djm.value.status !== 'SUCCEEDED') throw new Error(`djmigrate failed: ${djm.value.error?.name}: ${djm.value.error?.message}`);
    const report = djm.value.output as Report;
    if (report.status !== 'migrated') throw new Error(`djmigrate reported ${report.status}`);
    await columnTimes.name(conn, DATABASE);
    const phases = clock.seconds();
    const hashSeconds = hashingSeconds(phases);
    const rowsRewritten = report.columns.reduce((sum, column) => sum + column.rowsRewritten, 0);
    const hashedBytes = report.stores.reduce((sum, store) => sum + store.bytes, 0);
    // the columns' own time (fill and swap calls), without the waits for stores still hashing
    const rewriteSeconds = columnTimes.totalSeconds();
    const rewriteRate = rewriteSeconds ? rowsRewritten / rewriteSeconds : 0;
    const bigColumn = columnTimes.of('event', 'snippet');
    const startup = (firstState - djmStarted) / 1000;
    log(`djmigrate: ${s(djm.seconds)} — startup (config, definition, handlers) ${startup.toFixed(2)}, ${Object.entries(phases).map(([p, sec]) => `${p} ${sec.toFixed(2)}`).join(', ')}`);
    log(`  columns: ${columnTimes.summary()}`);
    const djmResult = await resultDigest(conn, DATABASE);

    // ---- the seed procedure, on a fresh copy of the same schema (same name: the object keys contain it)
    let seed: Measured<SeedResult> | undefined;
    let agree: string | undefined;
    if (!flags.skipBaseline) {
      await copySchema(conn, PRISTINE, DATABASE);
      const seedConn = await connect(sandbox.mysqlUrl);
      try {
        const seedStores = { external: stores.external, shared: stores['external-shared'], local: stores['external-local'] };
        seed = await measure(() => migrateLikeSeed(seedConn, DATABASE, seedStores, 'external'));
      } finally {
        await seedConn.end();
      }
      for (const column of seed.value.columns) {
        log(
          `  seed ${column.table}.${column.column}: ${s(column.seconds)} (reads ${s(column.readSeconds)} for ${column.objectsRead} objects / ${formatBytes(column.bytesRead)}, inserts ${s(column.insertSeconds)}, ` +
            `${column.distinctValues} UPDATEs ${s(column.updateSeconds)} for ${formatInt(column.rowsUpdated)} rows, check+ALTER ${s(column.alterSeconds)})`,
        );
      }
      const seedResult = await resultDigest(conn, DATABASE);
      const differences = Object.keys({ ...djmResult, ...seedResult }).filter((key) => djmResult[key] !== seedResult[key]);
      agree = differences.length === 0 ? 'same ~external_<store> rows and pointers' : `DIFFER in ${differences.join(', ')}`;
      log(`results of djmigrate and the seed procedure: ${agree}`);
    }

    // ---- figures
    const objects = fixture.objects.length;
    const total = fixture.totalBytes;
    const seedRows = seed ? seed.value.columns.reduce((sum, c) => sum + c.rowsUpdated, 0) : 0;
    const seedBig = seed?.value.columns.find((c) => c.table.endsWith('`event`') && c.column === 'snippet');
    const rows: string[][] = [
      ['', 'wall s', 'CPU s', 'objects/s', 'MB/s', 'vs floor', 'vs seed', 'rows/s', 'peak RSS'],
      ['in-memory MD5+SHA-256', memory.seconds.toFixed(2), '', '', mb(memory.bytesPerSecond).toFixed(0), '', '', '', ''],
      [`I/O floor (${floorConcurrency} in flight)`, floor.seconds.toFixed(2), cpu(floor), formatInt(objects / floor.seconds), mb(total / floor.seconds).toFixed(0), x(1), '', '', rss(floor.peakRss)],
      ['file-store hashing', fileOnly.seconds.toFixed(2), cpu(fileOnly), formatInt(fileOnly.value.objects / fileOnly.seconds), mb(fileRate).toFixed(0), '', '', '', rss(fileOnly.peakRss)],
      ['djmigrate (end to end)', djm.seconds.toFixed(2), cpu(djm), formatInt(objects / djm.seconds), mb(total / djm.seconds).toFixed(0), x(djm.seconds / floor.seconds), seed ? x(seed.seconds / djm.seconds) : '', '', rss(djm.peakRss)],
      ['  startup (to first state)', startup.toFixed(2), '', '', '', '', '', '', ''],
      ['  hashing and fills side by side', (phases.HashAndFill ?? 0).toFixed(2), '', '', '', '', '', '', ''],
      ['    hashing (HashManifest+HashObjects)', hashSeconds.toFixed(2), '', formatInt(objects / (hashSeconds || 1)), mb(hashedBytes / (hashSeconds || 1)).toFixed(0), '', '', '', ''],
      ['    column rewrites (their own time)', rewriteSeconds.toFixed(2), '', '', '', '', '', formatInt(rewriteRate), ''],
      ['  event.snippet column', bigColumn ? bigColumn.seconds.toFixed(2) : '', '', '', '', '', '', bigColumn ? formatInt(bigColumn.rows / bigColumn.seconds) : '', ''],
    ];
    if (seed) {
      const seedRead = seed.value.columns.reduce((sum, c) => sum + c.bytesRead, 0);
      rows.push(
        ['seed procedure (baseline)', seed.seconds.toFixed(2), cpu(seed), formatInt(objects / seed.seconds), mb(total / seed.seconds).toFixed(0), x(seed.seconds / floor.seconds), x(1), formatInt(seedRows / seed.seconds), rss(seed.peakRss)],
        ['  object reads (serial)', seed.value.columns.reduce((sum, c) => sum + c.readSeconds, 0).toFixed(2), '', '', mb(seedRead / (seed.value.columns.reduce((sum, c) => sum + c.readSeconds, 0) || 1)).toFixed(0), '', '', '', ''],
        ['  event.snippet column', seedBig ? seedBig.seconds.toFixed(2) : '', '', '', '', '', '', seedBig ? formatInt(seedBig.rowsUpdated / seedBig.seconds) : '', ''],
      );
    }
    log('');
    log(table(rows));
    if (djm.cpuSeconds !== null && floor.cpuSeconds !== null) {
      // no schedule on this machine's cores can finish the CPU work faster than spread over all of them
      const cores = availableParallelism();
      const bound = Math.max(floor.seconds, djm.cpuSeconds / cores);
      log(
        `CPU is this process's and its children's (MariaDB, s3rver). On ${cores} cores djmigrate's ${djm.cpuSeconds.toFixed(1)} CPU-seconds take at least ` +
          `${bound.toFixed(1)} s = ${x(bound / floor.seconds)} the I/O floor (which used ${floor.cpuSeconds.toFixed(1)} CPU-seconds in ${floor.seconds.toFixed(1)} s)`,
      );
      const byProcess = (measured: Measured<unknown>) =>
        Object.entries(measured.cpuByProcess ?? {})
          .filter(([, used]) => used >= 0.05)
          // s3rver is the bench's only Node child
          .map(([name, used]) => `${name === 'node' ? 's3rver' : name} ${used.toFixed(1)}`)
          .join(', ');
      log(`CPU-seconds by process: djmigrate ${byProcess(djm)}; I/O floor ${byProcess(floor)}${seed ? `; seed procedure ${byProcess(seed)}` : ''}`);
    }
    log('');
    log('targets (reported, not asserted):');
    log(`  end to end ≤ 1.3x I/O floor: ${x(djm.seconds / floor.seconds)} ${djm.seconds / floor.seconds <= 1.3 ? 'met' : 'NOT met'}`);
    log(`  file-store hashing ≥ 0.8x in-memory MD5+SHA-256: ${x(fileRate / memory.bytesPerSecond)} ${fileRate / memory.bytesPerSecond >= 0.8 ? 'met' : 'NOT met'}`);
    if (bigColumn) {
      const rate = bigColumn.rows / bigColumn.seconds;
      log(
        `  rewrite ≥ 100,000 rows/s on the ${formatInt(flags.bigTableRows)}-row table: ${formatInt(rate)} rows/s ${rate >= 100_000 ? 'met' : 'NOT met'} ` +
          '(its fill runs beside the hashing, on the same cores as the S3 server and the hashing here)',
      );
    }
    log('  peak RSS < 256 MB hashing a 2 GB object: run `npm run bench -- --big-object 2GB`');
    log('peak RSS is this process only (MariaDB and s3rver are child processes), sampled every 50 ms; it rarely shrinks, so a phase can inherit the previous one\'s');
    log('');
    const seedPart = !seed
      ? ''
      : seed.seconds >= djm.seconds
        ? `, ${(seed.seconds / djm.seconds).toFixed(1)}x faster than the seed procedure (${seed.seconds.toFixed(1)} s)`
        : `, ${(djm.seconds / seed.seconds).toFixed(2)}x SLOWER than the seed procedure (${seed.seconds.toFixed(1)} s)`;
    const bigRate = bigColumn ? bigColumn.rows / bigColumn.seconds : rewriteRate;
    log(
      `bench: djmigrate ${djm.seconds.toFixed(1)} s = ${x(djm.seconds / floor.seconds)} I/O floor (${floor.seconds.toFixed(1)} s)${seedPart}; ` +
        `rewrite ${formatInt(bigRate)} rows/s; peak RSS ${rss(djm.peakRss)}`,
    );
  } finally {
    if (conn) {
      if (sandbox.externalMysql) for (const db of [DATABASE, PRISTINE]) await conn.query(`DROP DATABASE IF EXISTS ${quoteId(db)}`).catch(() => {});
      await conn.end().catch(() => {});
    }
    await sandbox.stop();
  }
}

/**
 * Per-column time of djmigrate's fill and rewrite calls (tables side by side, a table's columns in turn: a call counts
 * for the column it ended on); waits for a store left out. Columns are named from the journal after the run.
 */
class ColumnTimes {
  private readonly spent = { fill: new Map<number, number>(), rewrite: new Map<number, number>() };
  private readonly rows = new Map<string, number>();
  private names = new Map<number, string>();

  wrap(handlers: Partial<Record<HandlerName, PhaseInvoker>>): Partial<Record<HandlerName, PhaseInvoker>> {
    const timed = (phase: 'fill' | 'rewrite', invoke: PhaseInvoker): PhaseInvoker => async (event) => {
      const started = performance.now();
      const result = (await invoke(event)) as { column: number; waiting?: boolean };
      const column = Number(result.column);
      if (!result.waiting) this.spent[phase].set(column, (this.spent[phase].get(column) ?? 0) + (performance.now() - started) / 1000);
      return result;
    };
    return { ...handlers, fill: timed('fill', handlers.fill!), rewrite: timed('rewrite', handlers.rewrite!) };
  }

  report(event: ProgressEvent): void {
    if (event.kind === 'rows-rewritten') this.rows.set(`${event.table}.${event.column}`, (this.rows.get(`${event.table}.${event.column}`) ?? 0) + event.rows);
  }

  /** The journal's column ids and names (`table.column`), after the run. */
  async name(conn: Connection, database: string): Promise<void> {
    this.names = new Map((await journalColumns(conn, database)).map((column) => [Number(column.column_id), `${column.table_name}.${column.column_name}`]));
  }

  /** Per rewritten column (`table.column`): rows filled, and seconds of its fill and rewrite calls. */
  private get columns(): Map<string, { rows: number; seconds: number; fillSeconds: number }> {
    return new Map(
      [...this.names].map(([id, key]) => {
        const fillSeconds = this.spent.fill.get(id) ?? 0;
        return [key, { rows: this.rows.get(key) ?? 0, fillSeconds, seconds: fillSeconds + (this.spent.rewrite.get(id) ?? 0) }];
      }),
    );
  }

  totalSeconds(): number {
    return [...this.columns.values()].reduce((sum, column) => sum + column.seconds, 0);
  }

  of(table: string, column: string): { rows: number; seconds: number } | undefined {
    return this.columns.get(`${table}.${column}`);
  }

  summary(): string {
    return [...this.columns]
      .map(([key, c]) =>
        c.seconds
          ? `${key} ${formatInt(c.rows)} rows in ${s(c.seconds)} (${formatInt(c.rows / c.seconds)} rows/s; fill ${s(c.fillSeconds)} beside the hashing, then ${s(c.seconds - c.fillSeconds)} to swap)`
          : `${key} ${formatInt(c.rows)} rows (timed with its table's next column: one call did both)`,
      )
      .join('; ');
  }
}

/**
 * What a migration left behind, as order-independent checksums: each `~external_<store>` table's rows (hash, size,
 * filepath, contents_hash) and each migrated column's (key, pointer) pairs. Equal digests = equal results.
 */
async function resultDigest(conn: Connection, database: string): Promise<Record<string, string>> {
  const digest: Record<string, string> = {};
  for (const store of ['external', 'shared', 'local']) {
    const [row] = await select<{ n: number; sum: string | number | null }>(
      conn,
      `SELECT COUNT(*) AS n, SUM(CRC32(CONCAT_WS(',', HEX(hash), size, filepath, HEX(contents_hash)))) AS sum FROM ${tableRef(database, externalTableName(store))}`,
    );
    digest[externalTableName(store)] = `${row.n}:${row.sum}`;
  }
  for (const [tableName, key, column] of [
    ['recording', 'rec_id', 'trace'],
    ['recording', 'rec_id', 'thumb'],
    ['frame', 'frame_id', 'img'],
    ['event', 'event_id', 'snippet'],
  ]) {
    const [row] = await select<{ n: number; sum: string | number | null }>(
      conn,
      `SELECT COUNT(${quoteId(column)}) AS n, SUM(CRC32(CONCAT_WS(',', ${quoteId(key)}, HEX(${quoteId(column)})))) AS sum FROM ${tableRef(database, tableName)}`,
    );
    digest[`${tableName}.${column}`] = `${row.n}:${row.sum}`;
  }
  return digest;
}

/** Peak RSS while djmigrate's hashing path (store.digest) hashes one object of `bytes`. */
async function bigObject(bytes: number): Promise<void> {
  log(`bench --big-object: one object of ${formatBytes(bytes)} in a file store and in s3rver, hashed by store.digest`);
  const s3 = await startS3rver();
  const folder = await mkdtemp(join(tmpdir(), 'djm-bench-big-'));
  try {
    await s3.createBucket(BUCKET);
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const s3Spec = { protocol: 's3' as const, endpoint: s3.endpoint, bucket: BUCKET, location: 'store' };
    const fileSpec = { protocol: 'file' as const, location: folder };
    const key = 'store/djbench_big/object';
    const filePath = join(folder, 'djbench_big', 'object');
    const writeStarted = performance.now();
    await new FileObjectWriter(folder).put(filePath, generated(bytes), bytes);
    await new S3ObjectWriter(new S3Client(s3ClientConfig(s3Spec, credentials)), BUCKET).put(key, generated(bytes), bytes);
    log(`written in ${s((performance.now() - writeStarted) / 1000)}`);
    (globalThis as { gc?: () => void }).gc?.();
    const results: string[][] = [['store', 'wall s', 'MB/s', 'RSS before', 'peak RSS', 'growth']];
    let worst = 0;
    for (const [name, spec, objectKey] of [
      ['file', fileSpec, filePath],
      ['s3rver', s3Spec, key],
    ] as const) {
      (globalThis as { gc?: () => void }).gc?.();
      const before = process.memoryUsage().rss;
      const sampler = new RssSampler(50).start();
      const started = performance.now();
      const digest = await openObjectStore(spec, credentials).digest(objectKey);
      const seconds = (performance.now() - started) / 1000;
      const peak = sampler.stop();
      if (digest.size !== bytes) throw new Error(`read ${digest.size} bytes of ${bytes}`);
      worst = Math.max(worst, peak);
      results.push([name, seconds.toFixed(2), mb(bytes / seconds).toFixed(0), rss(before), rss(peak), rss(peak - before)]);
    }
    log('');
    log(table(results));
    log('');
    log(`bench --big-object: peak RSS ${rss(worst)} hashing ${formatBytes(bytes)} (target < 256 MB: ${worst < 256 * 1024 ** 2 ? 'met' : 'NOT met'})`);
  } finally {
    await s3.stop();
    await rm(folder, { recursive: true, force: true });
  }
}

/** `bytes` of pseudo-random data as a stream of 1 MB chunks (never held whole). */
function generated(bytes: number): Readable {
  const block = randomBytes(1 << 20);
  let left = bytes;
  let n = 0;
  return new Readable({
    read() {
      if (left === 0) return this.push(null);
      const length = Math.min(left, block.length);
      const chunk = Buffer.from(block.subarray(0, length));
      chunk.writeUInt32BE(n++ >>> 0, 0);
      left -= length;
      this.push(chunk);
    },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
