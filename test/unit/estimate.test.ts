import { looksWithin } from '../../functions/core/polling.js';
import { describe, expect, it } from 'vitest';
import { PRICES_USD } from '../../functions/core/aws-prices.js';
import { ASSUMED, estimateRun } from '../../functions/core/migrate011/estimate.js';
import { ASSUMED_014, estimateRun014 } from '../../functions/core/migrate014/estimate.js';

const base = { columnRows: [1_000_000], mode: 'in-place' as const, trustEtag: false, hashConcurrency: 8, distributedHashingFrom: 1_000_000 };

describe('estimateRun (the cost model plan prints)', () => {
  it('counts requests, transitions and GB-seconds from the plan, priced at list prices', () => {
    const estimate = estimateRun({ ...base, stores: [{ objects: 10_000, bytes: 10e9, s3: true }] });
    // 10,000 objects in batches of 100 (prepare.ts): 100 batches, 2 transitions each; for the one column: one fill
    // call for 1M rows, one building its index, one swapping (2 each), the fill's looks at its store while the 31.25 s
    // of hashing run (3 each, after pauses of 10, 15 and 23 s) and the two Maps' Succeed states
    expect(estimate.stateTransitions).toBe(ASSUMED.fixedTransitions + 2 * 100 + 2 * 3 + 3 * 3 + 2);
    // plan and verify list 10 pages each, the last 9,000 keys in 16 ranges (15 more requests)
    expect(estimate.s3Requests).toEqual({ get: 10_000, list: 2 * (10 + 15), put: 0 });
    // hashing: 10 GB at 100 MB/s plus 10,000 × 20 ms / 8 in flight, on 1 GB; rewrite 10 s + 30 s other, on 0.5 GB;
    // Inspect, Prepare, InsertRows and Verify 70 µs per object, on 2 GB but InsertRows on 0.5 GB
    const perObject = Object.values(ASSUMED.phaseObjectsPerSecond).reduce((sum, rate) => sum + 10_000 / rate, 0);
    const insertRows = 10_000 / ASSUMED.phaseObjectsPerSecond.InsertRows;
    expect(estimate.lambdaGbSeconds).toBe(Math.round(100 + 25 + 0.5 * (10 + 30) + 2 * (perObject - insertRows) + 0.5 * insertRows));
    const usd = estimate.stateTransitions * PRICES_USD.stateTransition;
    expect(estimate.usd.stepFunctions).toBeCloseTo(usd, 2);
    expect(estimate.usd.total).toBeCloseTo(estimate.usd.stepFunctions + estimate.usd.lambda + estimate.usd.s3, 2);
    expect(estimate.seconds).toBe(Math.ceil(125 / ASSUMED.batchesAtOnce + 10 + perObject + ASSUMED.otherSeconds));
    // a second column: its own calls, and a second table waiting for the store beside the first (fillsAtOnce = 2);
    // a third waits for one of them, no more looks
    const twoColumns = estimateRun({ ...base, columnRows: [500_000, 500_000], stores: [{ objects: 10_000, bytes: 10e9, s3: true }] });
    expect(twoColumns.stateTransitions - estimate.stateTransitions).toBe(2 * 3 + 3 * 3 + 2);
    const threeColumns = estimateRun({ ...base, columnRows: [400_000, 300_000, 300_000], stores: [{ objects: 10_000, bytes: 10e9, s3: true }] });
    expect(threeColumns.stateTransitions - twoColumns.stateTransitions).toBe(2 * 3 + 2);
  });

  it('with trustEtag reads only a sample of each S3 store (file stores in full), lists once more', () => {
    const stores = [
      { objects: 10_000, bytes: 10e9, s3: true },
      { objects: 500, bytes: 5e8, s3: false },
    ];
    const full = estimateRun({ ...base, stores });
    const trusting = estimateRun({ ...base, trustEtag: true, stores });
    expect(trusting.s3Requests.get).toBe(ASSUMED.etagSample + 500);
    expect(trusting.s3Requests.list).toBe(3 * (10 + 15 + 1));
    expect(trusting.seconds).toBeLessThan(full.seconds);
    expect(trusting.usd.total).toBeLessThan(full.usd.total);
  });

  it('with s3BatchChecksum reads a sample of each S3 store, pays the job and per-object fees, and waits for the job', () => {
    const stores = [
      { objects: 1_000_000, bytes: 1e12, s3: true },
      { objects: 500, bytes: 5e8, s3: false },
    ];
    const full = estimateRun({ ...base, stores });
    const batched = estimateRun({ ...base, s3BatchChecksum: true, stores });
    expect(batched.s3Requests.get).toBe(ASSUMED.etagSample + 500);
    expect(batched.s3Requests.put).toBe(1);
    expect(batched.usd.batchOperations).toBeCloseTo(PRICES_USD.batchJob + 1_000_000 * PRICES_USD.batchObject, 2);
    expect(full.usd.batchOperations).toBe(0);
    const jobSeconds = ASSUMED.batchJobStartSeconds + 1_000_000 / ASSUMED.batchObjectsPerSecond;
    expect(batched.seconds).toBeGreaterThanOrEqual(jobSeconds);
    expect(batched.stateTransitions - estimateRun({ ...base, trustEtag: true, stores }).stateTransitions).toBe(4 + 3 * looksWithin(jobSeconds, ASSUMED.batchPollSeconds));
    expect(batched.usd.lambda).toBeLessThan(full.usd.lambda);
  });

  it('native mode copies every object (one PUT-priced COPY each); nothing to do costs only the fixed part', () => {
    expect(estimateRun({ ...base, mode: 'native', stores: [{ objects: 300, bytes: 3e6, s3: true }] }).s3Requests.put).toBe(300);
    const empty = estimateRun({ ...base, columnRows: [], stores: [] });
    expect(empty.stateTransitions).toBe(ASSUMED.fixedTransitions);
    expect(empty.s3Requests).toEqual({ get: 0, list: 0, put: 0 });
  });

  it('from distributedHashingFrom objects on, Express children of 100 objects hash 40 at once', () => {
    const stores = [{ objects: 100_000, bytes: 100e9, s3: true }];
    const standard = estimateRun({ ...base, stores });
    const distributed = estimateRun({ ...base, distributedHashingFrom: 1000, stores });
    expect(standard.children).toBe(0);
    expect(distributed.children).toBe(1000);
    // one parent transition per child instead of two per batch; two Lambda calls per child (the column's calls and
    // looks as above: 1,250 s / 40 = 31.25 s of hashing)
    expect(distributed.stateTransitions).toBe(ASSUMED.fixedTransitions + 1000 + 2 * 3 + 3 * 3 + 2);
    expect(distributed.lambdaRequests).toBe(8 + 2 * 1000 + 3 + 3);
    // same bytes hashed (same GB-seconds), ten times the concurrency
    expect(distributed.lambdaGbSeconds).toBe(standard.lambdaGbSeconds);
    // hashing 100 GB at 100 MB/s + 100,000 × 20 ms / 8 = 1,250 s of Lambda: / 4 batches vs / 40 children, + 10 s rewrite
    // + 6.8 s of the single calls (100,000 × ~68 µs) + 30 s
    expect(standard.seconds).toBe(Math.ceil(1250 / 4 + 10 + 6.8 + 30));
    expect(distributed.seconds).toBe(Math.ceil(1250 / 40 + 10 + 6.8 + 30));
  });

  it('counts the calls of the per-object phases (Inspect, Prepare, InsertRows, Verify): one per 10 minutes of their work', () => {
    // trustEtag reads 16 objects (one hash batch), the one column takes a fill, an index and a swap call, one look at
    // its store: 8 + 1 + 3 + 1 requests, and for 70M objects in one listing Inspect 1,250 s (3 calls), Prepare 1,346 s
    // (3), InsertRows 700 s (2) and Verify 1,458 s (3): 7 more
    const at = (objects: number) => estimateRun({ ...base, trustEtag: true, listingPassObjects: 100_000_000, stores: [{ objects, bytes: objects * 1e6, s3: true }] });
    expect(at(1_000_000).lambdaRequests).toBe(13);
    expect(at(70_000_000).lambdaRequests).toBe(13 + 7);
    expect(at(70_000_000).stateTransitions - at(1_000_000).stateTransitions).toBe(2 * 7);
  });

  it('lists a store bigger than listingPassObjects in passes: memory for one pass, its database side read per pass', () => {
    const run = (objects: number, listingPassObjects?: number) =>
      estimateRun({ ...base, ...(listingPassObjects ? { listingPassObjects } : {}), stores: [{ objects, bytes: objects * 1e6, s3: true }] });
    expect(run(1_000_000).listing).toEqual({ gb: 0.35, functionGb: 2, passes: 1, passObjects: 10_000_000 });
    const inPasses = run(25_000_000);
    expect(inPasses.listing).toEqual({ gb: 1.25, functionGb: 2, passes: 3, passObjects: 10_000_000 });
    const whole = run(25_000_000, 25_000_000);
    expect(whole.listing).toEqual({ gb: 2.75, functionGb: 2, passes: 1, passObjects: 25_000_000 });
    expect(inPasses.seconds).toBeGreaterThan(whole.seconds);
    // in passes Verify takes 1,042 s and Inspect 714 s: a second call each (the call and its Choice); in one listing
    // 521 s and 446 s, one call each
    expect(inPasses.stateTransitions - whole.stateTransitions).toBe(2 * 2);
    expect(inPasses.lambdaRequests - whole.lambdaRequests).toBe(2);
    // the passes the phases will make: 30M objects over 64 characters cut at 21 characters (9.8M) a pass, so 4
    expect(run(30_000_000).listing.passes).toBe(4);
    expect(estimateRun({ ...base, mode: 'native', stores: [{ objects: 30_000_000, bytes: 3e13, s3: true }] }).listing.passes).toBeGreaterThan(4);
  });
});

describe('estimateRun014 (the 0.14 → 2.0 cost model plan prints)', () => {
  const blobs = { table: 'trace', kind: 'blob' as const, s3: true, rows: 1_000_000, pointers: 900_000, objects: 100_000, bytes: 100e9 };
  const inPlace = { strategy: 'in-place' as const, tables: [], copyFiles: false, verifyObjects: false, backup: false };
  const a = ASSUMED_014;

  it('in place: object checks by listing, the conversion in calls, S3 priced by request', () => {
    const estimate = estimateRun014({ ...inPlace, columns: [blobs] });
    // Plan and PrepareExternalStorage: 100,000 objects at 4,000/s = 25 s each; Verify the same, plus a scan of the 1M
    // rows (a page of pointers); the conversion its 100,000 pointers at 35,000/s, then 1M rows at 30,000/s: all one
    // call each
    const plan = 100_000 / a.objectChecksPerSecond;
    const verify = plan + 1_000_000 / a.verifyScanRowsPerSecond;
    const conversion = 100_000 / a.pointersPerSecond + 1_000_000 / a.conversionRowsPerSecond;
    expect(estimate.seconds).toBe(Math.ceil(2 * plan + verify + conversion + a.otherSeconds));
    expect(estimate.stateTransitions).toBe(a.fixedTransitionsInPlace + 2 * 1 + 2 * 1);
    expect(estimate.lambdaGbSeconds).toBe(Math.round(0.5 * (2 * plan + a.otherSeconds) + 1 * (verify + conversion)));
    // a LIST per 1,000 keys in each of the three; nothing read without verifyObjects
    expect(estimate.s3Requests).toEqual({ get: 0, head: 0, list: 3 * 100, put: 0 });
    expect(estimate.usd.s3).toBeCloseTo(300 * PRICES_USD.s3List, 2);
    // each part rounded to cents on its own
    expect(estimate.usd.total).toBeCloseTo(estimate.usd.stepFunctions + estimate.usd.lambda + estimate.usd.s3, 1);
    // a file store: no S3 requests at all
    expect(estimateRun014({ ...inPlace, columns: [{ ...blobs, s3: false }] }).s3Requests).toEqual({ get: 0, head: 0, list: 0, put: 0 });
  });

  it('Verify reads a table of 40M rows or more once, in primary-key pages, with a HEAD per object on S3', () => {
    const big = { ...blobs, rows: a.verifyKeyPagesFromRows, objects: 4_000_000 };
    const justUnder = { ...big, rows: a.verifyKeyPagesFromRows - 1 };
    const byKey = estimateRun014({ ...inPlace, columns: [big] });
    const byPointer = estimateRun014({ ...inPlace, columns: [justUnder] });
    const plan = 4_000_000 / a.objectChecksPerSecond;
    // by pointer: 8 pages of 500,000, each scanning the whole table
    const sortedScans = plan + 8 * ((a.verifyKeyPagesFromRows - 1) / a.verifyScanRowsPerSecond);
    const keyPages = a.verifyKeyPagesFromRows / a.verifyKeyRowsPerSecond + (4_000_000 * a.objectLatencySeconds) / a.lookupsInFlight;
    const conversion = (rows: number) => 4_000_000 / a.pointersPerSecond + rows / a.conversionRowsPerSecond;
    expect(byPointer.seconds).toBe(Math.ceil(2 * plan + sortedScans + conversion(big.rows - 1) + a.otherSeconds));
    expect(byKey.seconds).toBe(Math.ceil(2 * plan + keyPages + conversion(big.rows) + a.otherSeconds));
    // Verify: a HEAD per object besides its LISTs, which show few of them
    expect(byPointer.s3Requests).toMatchObject({ head: 0, list: 3 * 4_000 });
    expect(byKey.s3Requests).toMatchObject({ head: 4_000_000, list: 3 * 4_000 });
    // a file store: a stat each, as fast as the plan's checks
    const onFiles = estimateRun014({ ...inPlace, columns: [{ ...big, s3: false }] });
    expect(onFiles.seconds).toBe(Math.ceil(3 * plan + a.verifyKeyPagesFromRows / a.verifyKeyRowsPerSecond + conversion(big.rows) + a.otherSeconds));
    expect(onFiles.s3Requests).toEqual({ get: 0, head: 0, list: 0, put: 0 });
  });

  it('verifyObjects reads each blob three times and each attachment once more; attachments and copied blobs are written', () => {
    // 1 MB each: read once (checked, then written from memory)
    const attachments = { ...blobs, table: 'report', kind: 'attach' as const, objects: 1_000, bytes: 1e9 };
    const plain = estimateRun014({ ...inPlace, columns: [blobs, attachments] });
    expect(plain.s3Requests).toMatchObject({ get: 1_000, head: 1_000, put: 1_000 });
    // 10 MB each, past keptAttachmentBytes: read twice, never held whole
    const big = { ...attachments, bytes: 1e10 };
    expect(estimateRun014({ ...inPlace, columns: [blobs, big] }).s3Requests).toMatchObject({ get: 2 * 1_000, head: 1_000, put: 1_000 });
    // the two tables' columns converted side by side: the extra reading shared
    expect(estimateRun014({ ...inPlace, columns: [blobs, big] }).seconds).toBe(plain.seconds + (2 * 1e10 - 1e9) / a.streamBytesPerSecond / a.tablesWrittenAtOnce);
    const verified = estimateRun014({ ...inPlace, verifyObjects: true, copyFiles: true, columns: [blobs, attachments] });
    expect(verified.s3Requests).toEqual({ get: 3 * 100_000 + 1_000 + 1_000, head: 1_000 + 100_000, put: 1_000 + 100_000, list: plain.s3Requests.list });
    // 100 GB streamed three times at 100 MB/s is far past a call: Plan, PrepareExternalStorage and Verify each take more
    expect(verified.seconds).toBeGreaterThan(3 * 1_000);
    expect(verified.stateTransitions).toBeGreaterThan(plain.stateTransitions + 2 * 3);
  });

  const tablesOf = (rows: number[], levels?: number[]) => rows.map((n, i) => ({ name: `t${i}`, rows: n, level: levels?.[i] }));

  it('copy: each table copied (calls of 10 minutes), then compared four at once', () => {
    const copy = estimateRun014({ ...inPlace, strategy: 'copy', columns: [], tables: tablesOf([40_000_000, 1_000, 1_000]) });
    // the 40M-row table: 444 s of copying (one call), 1,000 s of comparing (2 calls: one more, with its Choice); a
    // CopyLevel per table (no levels given: one table after another)
    expect(copy.stateTransitions).toBe(a.fixedTransitionsCopy + 3 + 2 * 3 + 2 * 3 + 4 * 3 + 2 * 1);
    const rows = 40_002_000;
    expect(copy.seconds).toBe(Math.ceil(rows / a.copyRowsPerSecond + rows / a.compareRowsPerSecond / 3 + a.otherSeconds));
    expect(copy.s3Requests).toEqual({ get: 0, head: 0, list: 0, put: 0 });
  });

  it("copy: BuildPointers builds each table's pointers first, a pass over each external column's store; attachments are read and written", () => {
    const tables = tablesOf([1_000_000, 1_000]);
    const plain = estimateRun014({ ...inPlace, strategy: 'copy', columns: [], tables });
    // t0's blob column over a store of 30M objects (no object read: 857 s of pointers) and its attachments (small: read once, written)
    const blob = { ...blobs, table: 't0', rows: 0, pointers: 0, objects: 30_000_000, bytes: 0 };
    const attach = { ...blob, kind: 'attach' as const, objects: 1_000 };
    const withPointers = estimateRun014({ ...inPlace, strategy: 'copy', columns: [blob, attach], tables });
    const pointers = 30_001_000 / a.pointersPerSecond + (1_000 * a.objectLatencySeconds) / a.pointerObjectsInFlight;
    expect(withPointers.seconds).toBe(Math.ceil(1_001_000 / a.copyRowsPerSecond + pointers + 1_001_000 / a.compareRowsPerSecond / 2 + a.otherSeconds));
    // BuildPointers before the rows: t0's StartPointers, PointersBuilt and two calls of 860 s' work
    expect(withPointers.stateTransitions).toBe(plain.stateTransitions + 2 + 2 * 2);
    expect(withPointers.lambdaRequests).toBe(plain.lambdaRequests + 2);
    expect(withPointers.s3Requests).toEqual({ get: 1_000, head: 1_000, list: 0, put: 1_000 });
    // a file store: no requests
    expect(estimateRun014({ ...inPlace, strategy: 'copy', columns: [{ ...blob, s3: false }, { ...attach, s3: false }], tables }).s3Requests).toEqual({ get: 0, head: 0, list: 0, put: 0 });
  });

  it("copy in parts: a big table's parts are items of its level, copied two at once", () => {
    const whole = estimateRun014({ ...inPlace, strategy: 'copy', columns: [], tables: [{ name: 'big', rows: 200e6, level: 0 }] });
    const inParts = estimateRun014({ ...inPlace, strategy: 'copy', columns: [], tables: [{ name: 'big', rows: 200e6, level: 0, parts: 4 }] });
    const compared = 200e6 / a.compareRowsPerSecond;
    expect(whole.seconds).toBe(Math.ceil(200e6 / a.copyRowsPerSecond + compared + a.otherSeconds));
    // four parts of 50M rows, two at once: 100M rows' time
    expect(inParts.seconds).toBe(Math.ceil(100e6 / a.copyRowsPerSecond + compared + a.otherSeconds));
    // as many calls (whole: 2,222 s in 4; each part 556 s in 1), and 3 more items, each with its StartCopy and TableDone
    expect(inParts.lambdaRequests).toBe(whole.lambdaRequests);
    expect(inParts.stateTransitions).toBe(whole.stateTransitions + 2 * 3);
    expect(inParts.lambdaGbSeconds).toBe(whole.lambdaGbSeconds);
  });

  it('copy by foreign-key level: a level takes its biggest table, or its rows shared among the tables copied at once', () => {
    const copy = (tableRows: number[], tableLevels?: number[]) => estimateRun014({ ...inPlace, strategy: 'copy', columns: [], tables: tablesOf(tableRows, tableLevels) });
    const compared = (rows: number, tables: number) => rows / a.compareRowsPerSecond / Math.min(a.tablesComparedAtOnce, tables);
    // two levels: the parent alone, then three siblings of 10M rows copied two at once (15M rows' time)
    const siblings = copy([1_000, 10e6, 10e6, 10e6], [0, 1, 1, 1]);
    expect(siblings.seconds).toBe(Math.ceil((1_000 + 15e6) / a.copyRowsPerSecond + compared(30_001_000, 4) + a.otherSeconds));
    expect(siblings.stateTransitions).toBe(copy([1_000, 10e6, 10e6, 10e6]).stateTransitions - 2);
    // a level of one big table and small ones: the big table's time
    expect(copy([20e6, 1_000], [0, 0]).seconds).toBe(Math.ceil(20e6 / a.copyRowsPerSecond + compared(20_001_000, 2) + a.otherSeconds));
    // Lambda time is every table's, whatever runs at once
    expect(siblings.lambdaGbSeconds).toBe(copy([1_000, 10e6, 10e6, 10e6]).lambdaGbSeconds);
  });
});
