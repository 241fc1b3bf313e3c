// What a 0.11 → 0.12 run will take and cost on AWS, from the plan's counts: the model `plan` prints and README
// tabulates. Prices are the us-east-1 list prices (Step Functions Standard, Lambda arm64, S3 Standard requests);
// rates are deliberately round assumptions, not measurements (npm run bench measures this machine).
import { looksWithin } from '../polling.js';
import { expectedStoreKeys, keyRanges } from '../stores/key-ranges.js';
import { AWS_LIST_RANGES } from '../stores/open-store.js';
import { PRICES_USD } from '../aws-prices.js';
import { DEFAULT_LISTING_PASS_OBJECTS } from './input.js';


export const ASSUMED = {
  /** Streamed MD5 + SHA-256 per Lambda, and per-object request latency (S3 GET first byte). */
  hashBytesPerSecond: 100e6,
  objectLatencySeconds: 0.02,
  rewriteRowsPerSecond: 100_000,
  /** HashObjects' MaxConcurrency (the stack's hashConcurrency), and the work of a budgeted call (rewrite, Verify). */
  batchesAtOnce: 4,
  budgetedCallSeconds: 600,
  /** Validate, Inspect, Prepare, HashAndFill, InsertRows, Finish, Verify, Report and their Passes/Choices/Maps. */
  fixedTransitions: 22,
  /**
   * A table's fill looks again while its store hashes, after pauses growing from storePollSeconds to 5 minutes
   * (looksWithin): Task + Choice + Wait each time.
   */
  storePollSeconds: 10,
  /** FillTables' MaxConcurrency (the stack's fillConcurrency): tables that may wait for their stores at once. */
  fillsAtOnce: 2,
  /** Lambda memory: the hash function 1 GB, the others 0.5 GB; non-hash work beyond the rewrite. */
  hashMemoryGb: 1,
  otherMemoryGb: 0.5,
  otherSeconds: 30,
  /**
   * The per-object phases: objects per second as `npm run bench -- --many-objects 1000000` measured them on one core
   * of the development machine (~70 µs per object together); their functions' memory (from 1,769 MB a Lambda gets a
   * whole vCPU). Each works in budgeted calls from its checkpoint, one per `budgetedCallSeconds` of its work.
   */
  phaseObjectsPerSecond: { Inspect: 56_000, Prepare: 52_000, InsertRows: 100_000, Verify: 48_000 },
  phaseMemoryGb: { Inspect: 2, Prepare: 2, InsertRows: 0.5, Verify: 2 },
  /** Memory Inspect and Verify hold per listed object (listed-objects.ts, the bench's RSS), and besides the listing. */
  listingBytesPerObject: 100,
  listingBaseGb: 0.25,
  /**
   * A store listed in passes (listingPassObjects) has its database side read once per pass: Inspect's and Verify's
   * per-object time grows by this share for every pass after the first (bench --many-objects 1000000 in 4 passes:
   * Inspect 21 → 38 s, Verify 34 → 86 s).
   */
  listingPassRereadShare: { Inspect: 0.3, Verify: 0.5 },
  /** ETag sample per S3 store under trustEtag (etag.ts). */
  etagSample: 16,
  /** The Distributed Map (from distributedHashingFrom objects on): objects per Express child, children at once. */
  objectsPerChild: 100,
  childrenAtOnce: 40,
  expressMemoryGb: 0.0625,
  /** s3BatchChecksum: the job's start-up (preparing the manifest) and its pace; round guesses, never measured. */
  batchJobStartSeconds: 300,
  batchObjectsPerSecond: 1000,
  /** ChecksumJobState polls after pauses growing from a minute (checksumPollSeconds) to 5: Wait + Task + Choice each time. */
  batchPollSeconds: 60,
} as const;

export interface EstimateInputs {
  /** Objects per store, and whether the store is S3. */
  stores: { objects: number; bytes: number; s3: boolean }[];
  /** Rows per column to rewrite. */
  columnRows: number[];
  mode: 'in-place' | 'native';
  trustEtag: boolean;
  /** S3 objects' contents hashes from an S3 Batch Operations Compute checksum job (the input's s3BatchChecksum). */
  s3BatchChecksum?: boolean;
  /** Objects in flight within one hash batch. */
  hashConcurrency: number;
  /** From this many objects to read on, the Distributed Map hashes them (the input's distributedHashingFrom). */
  distributedHashingFrom: number;
  /** At most this many of a store's objects listed at a time (the input's listingPassObjects; default 10,000,000). */
  listingPassObjects?: number;
}

export interface RunEstimate {
  seconds: number;
  /** Memory Inspect and Verify need for a pass over the largest store's listing, what their functions have, and the passes. */
  listing: { gb: number; functionGb: number; passes: number; passObjects: number };
  /** Express child executions of the Distributed Map (0 when the standard Map hashes). */
  children: number;
  stateTransitions: number;
  lambdaGbSeconds: number;
  lambdaRequests: number;
  s3Requests: { get: number; list: number; put: number };
  usd: { stepFunctions: number; lambda: number; s3: number; batchOperations: number; total: number };
}

/** Batches as Prepare numbers them (prepare.ts: at most 900, at least 100 objects each). */
function hashBatches(objects: number): number {
  if (objects === 0) return 0;
  const batchSize = Math.max(100, Math.ceil(objects / 900));
  return Math.ceil(objects / batchSize);
}

export function estimateRun(inputs: EstimateInputs): RunEstimate {
  const objects = inputs.stores.reduce((sum, store) => sum + store.objects, 0);
  // objects read in full: all, or under trustEtag / s3BatchChecksum the file stores' and a sample of each S3 store's
  const sampled = inputs.trustEtag || inputs.s3BatchChecksum;
  const read = inputs.stores.map((store) => (sampled && store.s3 ? Math.min(store.objects, ASSUMED.etagSample) : store.objects));
  const batchObjects = inputs.s3BatchChecksum ? inputs.stores.reduce((sum, store) => sum + (store.s3 ? store.objects : 0), 0) : 0;
  const batchSeconds = batchObjects ? ASSUMED.batchJobStartSeconds + batchObjects / ASSUMED.batchObjectsPerSecond : 0;
  const polls = batchObjects ? looksWithin(batchSeconds, ASSUMED.batchPollSeconds) : 0;
  const readObjects = read.reduce((sum, n) => sum + n, 0);
  const readBytes = inputs.stores.reduce((sum, store, i) => sum + (store.objects ? (store.bytes * read[i]) / store.objects : 0), 0);
  const rows = inputs.columnRows.reduce((sum, n) => sum + n, 0);
  // the Distributed Map's children hash everything (the standard Map then has nothing left); each child is an Express
  // execution (HashItems + RecordHashes) and costs the parent one transition
  const children = readObjects >= inputs.distributedHashingFrom ? Math.ceil(readObjects / ASSUMED.objectsPerChild) : 0;
  const batches = children ? 0 : hashBatches(readObjects);
  const rewriteCalls = inputs.columnRows.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / (ASSUMED.rewriteRowsPerSecond * ASSUMED.budgetedCallSeconds))), 0);

  const hashLambdaSeconds = readBytes / ASSUMED.hashBytesPerSecond + (readObjects * ASSUMED.objectLatencySeconds) / inputs.hashConcurrency;
  const hashSeconds = hashLambdaSeconds / (children ? ASSUMED.childrenAtOnce : ASSUMED.batchesAtOnce);
  const rewriteSeconds = rows / ASSUMED.rewriteRowsPerSecond;
  // an upper bound: the fills overlap the hashing of later stores (HashAndFill) by an amount the stores' sizes decide
  const largestStore = Math.max(0, ...inputs.stores.map((store) => store.objects));
  const passObjects = inputs.listingPassObjects ?? DEFAULT_LISTING_PASS_OBJECTS;
  const passes = keyRanges('', expectedStoreKeys(largestStore, inputs.mode === 'native'), passObjects).length;
  const rereadShare = ASSUMED.listingPassRereadShare as Record<string, number>;
  const phases = (Object.entries(ASSUMED.phaseObjectsPerSecond) as [keyof typeof ASSUMED.phaseMemoryGb, number][]).map(([phase, rate]) => ({
    phase,
    seconds: (objects / rate) * (1 + (rereadShare[phase] ?? 0) * (passes - 1)),
  }));
  const phaseSeconds = phases.reduce((sum, call) => sum + call.seconds, 0);
  const phaseGbSeconds = phases.reduce((sum, call) => sum + call.seconds * ASSUMED.phaseMemoryGb[call.phase], 0);
  // the phases' calls past their first (each with its Choice)
  const moreBudgetedCalls = phases.reduce((sum, call) => sum + Math.max(0, Math.ceil(call.seconds / ASSUMED.budgetedCallSeconds) - 1), 0);
  const seconds = Math.ceil(batchSeconds + hashSeconds + rewriteSeconds + phaseSeconds + ASSUMED.otherSeconds);
  // at most, fills wait the whole hashing (which starts after a checksum job); per column also the call that builds
  // its index and the swapping call
  const storeLooks = Math.min(inputs.columnRows.length, ASSUMED.fillsAtOnce) * looksWithin(hashSeconds, ASSUMED.storePollSeconds);
  const columnCalls = rewriteCalls + 2 * inputs.columnRows.length;

  const stateTransitions =
    ASSUMED.fixedTransitions + 2 * batches + children + 2 * columnCalls + 3 * storeLooks + 2 * inputs.columnRows.length + 2 * moreBudgetedCalls + (batchObjects ? 4 + 3 * polls : 0);
  const lambdaGbSeconds =
    ASSUMED.hashMemoryGb * hashLambdaSeconds + ASSUMED.otherMemoryGb * (rewriteSeconds + ASSUMED.otherSeconds) + phaseGbSeconds;
  const lambdaRequests = 8 + batches + 2 * children + columnCalls + storeLooks + moreBudgetedCalls + (batchObjects ? 2 + polls : 0);
  const express = children * PRICES_USD.expressRequest + (children ? hashLambdaSeconds * ASSUMED.expressMemoryGb * PRICES_USD.expressGbSecond : 0);
  // past its first page a listing goes in AWS_LIST_RANGES key ranges, each ending with a page of its own
  const listCalls = inputs.stores.reduce((sum, store) => sum + Math.ceil(store.objects / 1000) + (store.objects > 1000 ? AWS_LIST_RANGES - 1 : 0), 0);
  const s3Requests = {
    get: readObjects,
    // plan and verify list every store; trustEtag lists once more in Prepare (twice when in passes)
    list: listCalls * (inputs.trustEtag ? (passes > 1 ? 4 : 3) : 2),
    // native mode's copies; the Compute checksum job's CSV manifest
    put: (inputs.mode === 'native' ? objects : 0) + (batchObjects ? 1 : 0),
  };
  const stepFunctions = stateTransitions * PRICES_USD.stateTransition + express;
  const lambda = lambdaGbSeconds * PRICES_USD.lambdaGbSecond + lambdaRequests * PRICES_USD.lambdaRequest;
  const s3 = s3Requests.get * PRICES_USD.s3Get + s3Requests.list * PRICES_USD.s3List + s3Requests.put * PRICES_USD.s3Put;
  const batchOperations = batchObjects ? PRICES_USD.batchJob + batchObjects * PRICES_USD.batchObject : 0;
  const round = (usd: number) => Math.round(usd * 100) / 100;
  return {
    seconds,
    listing: {
      gb: round(ASSUMED.listingBaseGb + (Math.min(largestStore, passObjects) * ASSUMED.listingBytesPerObject) / 1e9),
      functionGb: Math.min(ASSUMED.phaseMemoryGb.Inspect, ASSUMED.phaseMemoryGb.Verify),
      passes,
      passObjects,
    },
    children,
    stateTransitions,
    lambdaGbSeconds: Math.round(lambdaGbSeconds),
    lambdaRequests,
    s3Requests,
    usd: { stepFunctions: round(stepFunctions), lambda: round(lambda), s3: round(s3), batchOperations: round(batchOperations), total: round(stepFunctions + lambda + s3 + batchOperations) },
  };
}
