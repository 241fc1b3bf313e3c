// What a 0.14 → 2.0 run will take and cost on AWS, from the plan's counts: the model `plan --from 0.14` prints and
// README tabulates. Rates are those `npm run bench -- --v014 200000` measured on the development machine (2 cores,
// s3rver, MariaDB), rounded; AWS differs (S3 latency, RDS), so they are a guide, not a promise.
import { PRICES_USD } from '../aws-prices.js';
import type { CodecKind } from '../datajoint/v2.js';
import { KEPT_ATTACHMENT_BYTES, POINTER_OBJECTS_IN_FLIGHT } from './external-storage.js';
import { KEY_PAGES_FROM_ROWS } from './verify.js';

export const ASSUMED_014 = {
  /**
   * Plan and PrepareExternalStorage look at every object (LISTs of a page's spans, side by side, or a HEAD each):
   * 3,896–5,692 objects/s for 5,000 objects, 5,914–7,389 for 100,000, at s3rver's pace (2,000 before the spans).
   */
  objectChecksPerSecond: 4_000,
  /**
   * Verify checks each object as the plan does, reading the column's distinct pointers 500,000 at a time: each read
   * scans (and sorts) the whole table. From 40M rows it reads the table once in primary-key pages instead, and its
   * objects come in no key order: a HEAD each on S3.
   */
  verifyPageObjects: 500_000,
  verifyScanRowsPerSecond: 125_000,
  verifyKeyPagesFromRows: KEY_PAGES_FROM_ROWS,
  verifyKeyRowsPerSecond: 140_000,
  /**
   * The pointer map, built before a column is converted or a table copied: a pass over the column's store's
   * `~external_<store>` rows, a JSON pointer each (blobs and filepaths: no object read); 35,266/s for 100,000
   * (`bench --v014 400000 --v014-objects 100000`; 6,890/s for 400,000 before its batches' test became a probe).
   */
  pointersPerSecond: 35_000,
  /** MigrateExternalColumns: rows whose JSON pointer is filled in. */
  conversionRowsPerSecond: 30_000,
  /**
   * The copy strategy: rows copied (pointers converted; 163,190/s measured, 72,000–88,000 before a chunk the
   * destination has no row of skipped the anti-join on it), rows compared (78,284/s; 30,000–57,000 while every value
   * was awaited and made ready to show).
   */
  copyRowsPerSecond: 90_000,
  compareRowsPerSecond: 40_000,
  /** verifyObjects streams blob objects (Plan, PrepareExternalStorage, Verify) and attachments (Verify). */
  streamBytesPerSecond: 100e6,
  objectLatencySeconds: 0.02,
  objectsInFlight: 8,
  /**
   * A pointer build's objects at once (attachments written, blobs copied), and the attachments it reads only once
   * (checked, then written from memory): those of a column whose attachments average up to this size.
   */
  pointerObjectsInFlight: POINTER_OBJECTS_IN_FLIGHT,
  keptAttachmentBytes: KEPT_ATTACHMENT_BYTES,
  /** Verify's HEADs in flight (by primary key: one per object). */
  lookupsInFlight: 32,
  /** Keys a LIST answers (S3's 1,000 a page; the object checks list spans of 999 keys). */
  keysPerList: 1_000,
  budgetedCallSeconds: 600,
  /**
   * Tables converted (MigrateExternalColumns) or copied within a foreign-key level (CopyLevel) at once, the stack's
   * fillConcurrency; tables compared at once, its compareConcurrency.
   */
  tablesWrittenAtOnce: 2,
  tablesComparedAtOnce: 4,
  /** Lambda memory: Plan, PrepareExternalStorage, CompareTable 0.5 GB; the column, copy and verify functions 1 GB. */
  checkMemoryGb: 0.5,
  workMemoryGb: 1,
  /** Fixed states (README "Cost notes") and the rest of the work: the comments' ALTERs, lineage, the report. */
  fixedTransitionsInPlace: 18,
  fixedTransitionsCopy: 10,
  otherSeconds: 30,
} as const;

export interface Estimate014Inputs {
  strategy: 'in-place' | 'copy';
  /**
   * The external columns to convert (their table, kind, whether their store is on S3, the plan's counts; the copy's
   * plan checks no object: `objects` is its store's `~external_<store>` rows, which its pointer building walks, and
   * rows, pointers and bytes are 0).
   */
  columns: { table: string; kind: CodecKind; s3: boolean; rows: number; pointers: number; objects: number; bytes: number }[];
  /**
   * Copy: each table, its rows (the server's estimate), foreign-key level (a level's tables are copied at once; default
   * one table after another) and parts (copyPartsOf; default 1).
   */
  tables: { name: string; rows: number; level?: number; parts?: number }[];
  copyFiles: boolean;
  verifyObjects: boolean;
  /** An RDS snapshot first: two more states and a poll a minute while it is taken (its time is not modeled). */
  backup: boolean;
}

export interface Estimate014 {
  seconds: number;
  stateTransitions: number;
  lambdaGbSeconds: number;
  lambdaRequests: number;
  s3Requests: { get: number; head: number; list: number; put: number };
  usd: { stepFunctions: number; lambda: number; s3: number; total: number };
}

type Column = Estimate014Inputs['columns'][number];

/** Calls of a phase that works `seconds` in budgeted calls. */
const callsFor = (seconds: number) => Math.max(1, Math.ceil(seconds / ASSUMED_014.budgetedCallSeconds));

export function estimateRun014(inputs: Estimate014Inputs): Estimate014 {
  const a = ASSUMED_014;
  const sum = <T>(items: readonly T[], of: (item: T) => number) => items.reduce((total, item) => total + of(item), 0);
  // seconds of the 0.5 GB functions (object checks, comparisons) and of the 1 GB ones (conversion, copy, verify)
  let checkSeconds = 0;
  let workSeconds = 0;
  let transitions: number;
  let lambdaRequests: number;
  let seconds: number;
  const s3Requests = { get: 0, head: 0, list: 0, put: 0 };

  const ofKind = (...kinds: CodecKind[]) => inputs.columns.filter((c) => kinds.includes(c.kind));
  const streamSeconds = (c: Column, reads: number, inFlight: number) => (reads * c.bytes) / a.streamBytesPerSecond + (c.objects * a.objectLatencySeconds) / inFlight;
  const streaming = (of: readonly Column[], reads = 1) => sum(of, (c) => streamSeconds(c, reads, a.objectsInFlight));
  // an attachment column's reads of each object: once where they average up to keptAttachmentBytes, else twice
  const attachReads = (c: Column) => (c.bytes <= c.objects * a.keptAttachmentBytes ? 1 : 2);
  // the pointer map: a pass over each column's store rows; attachments read (once or twice) and written at their 2.x
  // path, blobs copied with copyFiles
  const copied = inputs.copyFiles ? ofKind('blob') : [];
  const pointerSeconds = (of: readonly Column[]) =>
    sum(of, (c) => c.objects) / a.pointersPerSecond +
    sum(of, (c) => (c.kind === 'attach' ? streamSeconds(c, attachReads(c), a.pointerObjectsInFlight) : copied.includes(c) ? streamSeconds(c, 0, a.pointerObjectsInFlight) : 0));
  const onS3 = (of: readonly Column[]) => sum(of.filter((c) => c.s3), (c) => c.objects);
  // S3 (file stores cost nothing): HEAD + GET (two for big ones) + PUT per attachment written, HEAD + COPY per blob copied
  s3Requests.get = sum(ofKind('attach'), (c) => attachReads(c) * onS3([c]));
  s3Requests.head = onS3(ofKind('attach')) + onS3(copied);
  s3Requests.put = onS3(ofKind('attach')) + onS3(copied);

  if (inputs.strategy === 'in-place') {
    const columns = inputs.columns;
    // Plan and PrepareExternalStorage each look at every object (and hash the blobs with verifyObjects); so does
    // Verify, scanning the table once per page of pointers (and hashing blobs and attachments with verifyObjects)
    const planSeconds = sum(columns, (c) => c.objects) / a.objectChecksPerSecond + (inputs.verifyObjects ? streaming(ofKind('blob')) : 0);
    const byKey = (c: Column) => c.rows >= a.verifyKeyPagesFromRows;
    const verifyColumnSeconds = (c: Column) =>
      byKey(c)
        ? c.rows / a.verifyKeyRowsPerSecond + (c.s3 ? (c.objects * a.objectLatencySeconds) / a.lookupsInFlight : c.objects / a.objectChecksPerSecond)
        : c.objects / a.objectChecksPerSecond + Math.max(1, Math.ceil(c.objects / a.verifyPageObjects)) * (c.rows / a.verifyScanRowsPerSecond);
    const verifySeconds = sum(columns, verifyColumnSeconds) + (inputs.verifyObjects ? streaming(ofKind('blob', 'attach')) : 0);
    const columnSeconds = (c: Column) => c.rows / a.conversionRowsPerSecond + pointerSeconds([c]);
    const conversionSeconds = sum(columns, columnSeconds);
    checkSeconds = 2 * planSeconds;
    workSeconds = verifySeconds + conversionSeconds;
    const tables = new Set(columns.map((c) => c.table)).size;
    const columnCalls = sum(columns, (c) => callsFor(columnSeconds(c)));
    const moreCalls = 2 * (callsFor(planSeconds) - 1) + (callsFor(verifySeconds) - 1);
    // per table StartMigrateColumns and ColumnConverted; 2 per call (task and Choice)
    transitions = a.fixedTransitionsInPlace + (inputs.backup ? 2 : 0) + 2 * columnCalls + 2 * tables + 2 * moreCalls;
    lambdaRequests = 8 + (inputs.backup ? 1 : 0) + columnCalls + moreCalls;
    seconds = checkSeconds + verifySeconds + conversionSeconds / Math.min(a.tablesWrittenAtOnce, Math.max(1, tables)) + a.otherSeconds;
    // a LIST per 1,000 objects checked; GETs of the streams; Verify by primary key: a HEAD per object, after a LIST
    // per 1,000 keys looked up that showed few of them
    const verifiedByKey = columns.filter(byKey);
    s3Requests.list = 2 * Math.ceil(onS3(columns) / a.keysPerList) + Math.ceil(onS3(columns.filter((c) => !byKey(c))) / a.keysPerList) + Math.ceil(onS3(verifiedByKey) / a.keysPerList);
    s3Requests.get += inputs.verifyObjects ? 3 * onS3(ofKind('blob')) + onS3(ofKind('attach')) : 0;
    s3Requests.head += onS3(verifiedByKey);
  } else {
    const tables = inputs.tables;
    const rows = sum(tables, (t) => t.rows);
    const shared = (items: number[]) => (items.length ? Math.max(Math.max(...items), sum(items, (n) => n) / a.tablesWrittenAtOnce) : 0);
    // BuildPointers first: the tables with external columns, a pass over each column's store rows
    const pointerTables = tables.filter((t) => inputs.columns.some((c) => c.table === t.name)).map((t) => pointerSeconds(inputs.columns.filter((c) => c.table === t.name)));
    // then the levels: a level takes its biggest item's time (a table, or a part of a big one), or its time shared
    // among the items copied at once
    const levels = new Map<number, number[]>();
    tables.forEach((t, i) => {
      const level = t.level ?? i;
      const parts = Math.max(1, t.parts ?? 1);
      levels.set(level, [...(levels.get(level) ?? []), ...Array.from({ length: parts }, () => t.rows / parts / a.copyRowsPerSecond)]);
    });
    const items = [...levels.values()].flat();
    const compareSeconds = rows / a.compareRowsPerSecond;
    workSeconds = sum(pointerTables, (n) => n) + rows / a.copyRowsPerSecond;
    checkSeconds = compareSeconds;
    const pointerCalls = sum(pointerTables, callsFor);
    const itemCalls = sum(items, callsFor);
    const compareCalls = sum(tables, (t) => callsFor(t.rows / a.compareRowsPerSecond));
    // per pointer table StartPointers and PointersBuilt; per level its CopyLevel; per item StartCopy and TableDone; per
    // table 4 states compared; 2 per call (task and Choice)
    transitions =
      a.fixedTransitionsCopy + 2 * pointerTables.length + 2 * pointerCalls + levels.size + 2 * items.length + 2 * itemCalls + 4 * tables.length + 2 * (compareCalls - tables.length);
    lambdaRequests = 4 + pointerCalls + itemCalls + compareCalls;
    seconds = shared(pointerTables) + sum([...levels.values()], shared) + compareSeconds / Math.min(a.tablesComparedAtOnce, Math.max(1, tables.length)) + a.otherSeconds;
  }

  const lambdaGbSeconds = a.checkMemoryGb * (checkSeconds + a.otherSeconds) + a.workMemoryGb * workSeconds;
  const stepFunctions = transitions * PRICES_USD.stateTransition;
  const lambda = lambdaGbSeconds * PRICES_USD.lambdaGbSecond + lambdaRequests * PRICES_USD.lambdaRequest;
  const s3 = (s3Requests.get + s3Requests.head) * PRICES_USD.s3Get + s3Requests.list * PRICES_USD.s3List + s3Requests.put * PRICES_USD.s3Put;
  const round = (usd: number) => Math.round(usd * 100) / 100;
  return {
    seconds: Math.ceil(seconds),
    stateTransitions: transitions,
    lambdaGbSeconds: Math.round(lambdaGbSeconds),
    lambdaRequests,
    s3Requests,
    usd: { stepFunctions: round(stepFunctions), lambda: round(lambda), s3: round(s3), total: round(stepFunctions + lambda + s3) },
  };
}
