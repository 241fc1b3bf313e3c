// Each phase of the core on its own, against MariaDB + s3rver + a file store, without the state machine.
import { afterEach, expect, it } from 'vitest';
import { blobArray } from '../../functions/core/datajoint/blob.js';
import { LEGACY_EXTERNAL_TABLE } from '../../functions/core/datajoint/v011.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { finishMigration } from '../../functions/core/migrate011/finish.js';
import { hashBatch, hashItems, recordHashes, type ManifestItem } from '../../functions/core/migrate011/hash.js';
import { insertExternalRows, type InsertedRows } from '../../functions/core/migrate011/insert.js';
import { checkColumnsValues, inspectSchema, type ValueScan } from '../../functions/core/migrate011/inspect.js';
import { CallBudget } from '../../functions/core/call-budget.js';
import { journalColumns, journalTables } from '../../functions/core/migrate011/journal.js';
import { planMigration, planStep, referencedObjects } from '../../functions/core/migrate011/plan.js';
import { pendingHashBatches, prepareMigration, type PrepareStep } from '../../functions/core/migrate011/prepare.js';
import { rewriteColumn } from '../../functions/core/migrate011/rewrite.js';
import { verifyMigration, type VerifyStep } from '../../functions/core/migrate011/verify.js';
import { silentProgress, type ProgressEvent } from '../../functions/core/progress.js';
import { buildExampleLab, declareLegacyTable, insertLegacyRows, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { coreContext, legacyScenario, planInCalls, verifyToTheEnd, type Scenario } from '../harness/migration.js';
import { rename, writeFile } from 'node:fs/promises';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import type { KeyRange } from '../../functions/core/stores/key-ranges.js';

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

async function buildWithTextKeys(options: LegacyFixtureOptions) {
  const fixture = await buildExampleLab(options);
  await declareLegacyTable(options.conn, options.database, {
    name: 'take',
    primaryKey: [
      { name: 'subject', sqlType: 'varchar(16)' },
      { name: 'n', sqlType: 'bigint' },
    ],
    attributes: [{ name: 'clip', type: 'external-local' }],
  });
  const rows = Array.from({ length: 7 }, (_, i) => ({ subject: i % 2 ? "o'brien" : 'b`tick', n: 9007199254740993n + BigInt(i), clip: blobArray('float64', [2], [i, 0.5]) }));
  return { ...fixture, objects: [...fixture.objects, ...(await insertLegacyRows(options.conn, options.database, 'take', rows, options.stores))] };
}

it('checks a column\'s values per value or per row with the same counts and problems (bad suffix, letter case, NULLs)', async () => {
  scenario = await legacyScenario('phases_checks', buildExampleLab);
  const { conn, schema } = scenario;
  const { input } = await coreContext(scenario);
  const shared = scenario.fixture.objects.find((object) => object.store === 'external-shared')!;
  await execute(conn, `UPDATE ${tableRef(schema, 'frame')} SET img = ? WHERE frame = 1`, [shared.value]);
  await execute(conn, `UPDATE ${tableRef(schema, 'recording')} SET trace = LOWER(trace) WHERE session_id = 2`);
  await execute(conn, `UPDATE ${tableRef(schema, 'recording')} SET thumb = NULL WHERE session_id = 1 AND rec_id = 1`);
  await execute(conn, `ANALYZE TABLE ${tableRef(schema, 'frame')}, ${tableRef(schema, 'recording')}`);

  const perValue = await inspectSchema(conn, input, { groupedUpToDistinct: Number.MAX_SAFE_INTEGER });
  const perRow = await inspectSchema(conn, input, { groupedUpToDistinct: -1 });
  expect(perValue.problems).toHaveLength(2);
  expect(perValue.problems[0]).toMatch(/frame\.img \(type external-local\) has values that are not .*\n.*frame=1/);
  expect(perValue.problems[1]).toMatch(/recording\.trace has values without an exactly matching ~external row/);
  expect(perRow.problems).toEqual(perValue.problems);
  expect(perRow.legacyColumns.map((column) => column.counts)).toEqual(perValue.legacyColumns.map((column) => column.counts));
  // in primary-key chunks of 1 row (tables the server estimates at more than 2 chunks), either way, and in calls that
  // stop after every chunk: the same
  const estimates = new Map(
    (await select<{ name: string; estimate: number }>(conn, 'SELECT TABLE_NAME AS name, TABLE_ROWS AS estimate FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [schema])).map((row) => [row.name, Number(row.estimate)]),
  );
  const chunks = perValue.legacyColumns.reduce((sum, column) => sum + (estimates.get(column.table)! > 2 ? column.counts!.rows + 1 : 1), 0);
  expect(chunks).toBeGreaterThan(perValue.legacyColumns.length);
  for (const groupedUpToDistinct of [Number.MAX_SAFE_INTEGER, -1]) {
    const chunked = await inspectSchema(conn, input, { groupedUpToDistinct, chunkRows: 1 });
    expect(chunked.problems).toEqual(perValue.problems);
    expect(chunked.legacyColumns.map((column) => column.counts)).toEqual(perValue.legacyColumns.map((column) => column.counts));
    const inCalls = await inspectSchema(conn, input, { checkValues: false });
    let calls = 1;
    let resume: ValueScan | null = null;
    while ((resume = await checkColumnsValues(conn, inCalls, { groupedUpToDistinct, chunkRows: 1, budget: new CallBudget(0), resume }))) calls += 1;
    expect(inCalls.problems).toEqual(perValue.problems);
    expect(inCalls.legacyColumns.map((column) => column.counts)).toEqual(perValue.legacyColumns.map((column) => column.counts));
    // one chunk a call: a chunked column's rows one at a time (the last chunk ends past them)
    expect(calls).toBe(chunks);
  }
  for (const column of perValue.legacyColumns) {
    const [counted] = await select<{ rows: number; pointers: number }>(conn, `SELECT COUNT(*) AS \`rows\`, COUNT(${quoteId(column.column)}) AS pointers FROM ${tableRef(schema, column.table)}`);
    expect(column.counts, `${column.table}.${column.column}`).toEqual({ rows: Number(counted.rows), pointers: Number(counted.pointers) });
  }
});

/** A refusal's or a verification's problems with their examples in a set's order (passes find them in key-range order). */
const unordered = (problems: string[]) => problems.map((problem) => problem.split(/, |\n\s*/).sort());

/** The store opener, the key ranges each store was listed in, and the most listings read at once. */
/** The stores, whose digests fail from the `failAt`-th on; counts the digests made. */
function failingDigests(openStore: (name: string) => ObjectStore, failAt: number) {
  let digests = 0;
  const open = (name: string): ObjectStore => {
    const store = openStore(name);
    return Object.create(store, {
      digest: {
        value: async (key: string) => {
          digests += 1;
          if (digests >= failAt) throw new Error(`digest failed: ${key}`);
          return store.digest(key);
        },
      },
    }) as ObjectStore;
  };
  return { open, digests: () => digests };
}

function countingRanges(openStore: (name: string) => ObjectStore) {
  const ranges: { store: string; range: KeyRange }[] = [];
  let reading = 0;
  let mostAtOnce = 0;
  const open = (name: string): ObjectStore => {
    const store = openStore(name);
    return Object.assign(Object.create(store) as ObjectStore, {
      async *list(prefix: string, range?: KeyRange) {
        ranges.push({ store: name, range: range ?? {} });
        mostAtOnce = Math.max(mostAtOnce, ++reading);
        try {
          yield* store.list(prefix, range);
        } finally {
          reading -= 1;
        }
      },
    });
  };
  /** Each store listed: in passes (key ranges) or whole. */
  const listedIn = () => {
    const stores = new Map<string, 'passes' | 'whole'>();
    for (const { store, range } of ranges) stores.set(store, range.from !== undefined || range.before !== undefined ? 'passes' : 'whole');
    return Object.fromEntries(stores);
  };
  /** The stores in the order of their first listing. */
  const firstListed = () => [...new Set(ranges.map(({ store }) => store))];
  return { open, listedIn, mostAtOnce: () => mostAtOnce, firstListed };
}

it('compares big stores in passes over key ranges to the same plan and verification as in one listing', async () => {
  scenario = await legacyScenario('phases_passes', buildWithTextKeys);
  const { conn, schema } = scenario;
  const { input, openStore, manifests } = await coreContext(scenario);
  const inspection = () => inspectSchema(conn, input, { checkValues: false });
  // one object gone and one grown, in the file store
  const local = scenario.fixture.objects.filter((object) => object.store === 'external-local' && object.key.includes(schema));
  await rename(local[0]!.key, `${local[0]!.key}.away`);
  await writeFile(local[1]!.key, Buffer.concat([local[1]!.bytes, Buffer.from('x')]));
  const whole = await planMigration(conn, input, await inspection(), openStore);
  expect(whole.stores.find((store) => store.store === 'local')).toMatchObject({ missingObjects: 1, sizeMismatches: 1 });
  for (const perPass of [1, 4, 6]) {
    const counted = countingRanges(openStore);
    const inPasses = await planMigration(conn, { ...input, listingPassObjects: perPass }, await inspection(), counted.open);
    // the same but for the order of examples and the estimate, which counts the passes
    const comparable = (p: typeof whole) => ({ ...p, problems: unordered(p.problems), estimate: null, estimatedSeconds: null });
    expect(comparable(inPasses), `${perPass} per pass`).toEqual(comparable(whole));
    expect(inPasses.estimate.listing.passes).toBeGreaterThan(1);
    // a store of more objects than a pass holds is listed in passes, a smaller one whole
    expect(counted.listedIn(), `${perPass} per pass`).toEqual(Object.fromEntries(whole.stores.map((store) => [store.store, store.objects > perPass ? 'passes' : 'whole'])));
    // a pass's worth of objects listed at a time: in passes of one object, one listing
    if (perPass === 1) expect(counted.mostAtOnce()).toBe(1);
    // in calls that each stop after one page of 2 rows, going on from the checkpoint (within a pass, and in its listing)
    const inCalls = await planInCalls(conn, { ...input, listingPassObjects: perPass }, openStore, { budgetMs: 0, page: 2 });
    expect(comparable(inCalls.plan), `${perPass} per pass, in calls`).toEqual(comparable(inPasses));
    expect(inCalls.calls, `${perPass} per pass, in calls`).toBeGreaterThan(whole.stores.reduce((sum, store) => sum + store.objects, 0) / 2);
  }
  // in one listing per store, in calls: the same plan (problems in the same order)
  expect((await planInCalls(conn, input, openStore, { budgetMs: 0, page: 2 })).plan).toEqual(whole);
  // a checkpoint of other columns (the schema changed between two calls) is set aside: planned anew
  const stale = { columns: ['gone.column'], counts: [{ rows: 1, pointers: 1 }], values: null, problems: ['stale'], storeObjects: {}, stores: [], cursor: { store: 9, pass: 0, after: null }, missing: { count: 0, examples: [] }, mismatched: { count: 0, examples: [] } };
  expect((await planStep(conn, input, await inspection(), openStore, { checkpoint: stale })).plan).toEqual(whole);
  await rename(`${local[0]!.key}.away`, local[0]!.key);
  await writeFile(local[1]!.key, local[1]!.bytes);

  const io = { openStore, progress: silentProgress, manifests, manifestKey: 'phases_passes/hash.jsonl' };
  const prepared = await prepareMigration(conn, input, await inspectSchema(conn, input), io);
  for (const batch of await pendingHashBatches(conn, input)) await hashBatch(conn, input, batch, openStore, silentProgress);
  await insertExternalRows(conn, input);
  for (const column of prepared.columns) while (!(await rewriteColumn(conn, input, column, { budgetMs: 10_000 }, silentProgress)).done);
  await finishMigration(conn, input);
  await rename(local[2]!.key, `${local[2]!.key}.away`);
  await writeFile(local[3]!.key, Buffer.concat([local[3]!.bytes, Buffer.from('x')]));
  const verified = await verifyToTheEnd(conn, input, openStore);
  expect(verified.columns.reduce((sum, column) => sum + column.objectsMissing + column.objectsMismatched, 0)).toBe(2);
  for (const perPass of [1, 4, 6]) {
    const counted = countingRanges(openStore);
    const inPasses = await verifyToTheEnd(conn, { ...input, listingPassObjects: perPass }, counted.open);
    const byColumn = (verification: typeof verified) => verification.columns.map((column) => ({ ...column, problems: unordered(column.problems) }));
    expect(byColumn(inPasses), `${perPass} per pass`).toEqual(byColumn(verified));
    expect(inPasses.ok).toBe(false);
    expect(counted.listedIn(), `${perPass} per pass`).toEqual(Object.fromEntries(whole.stores.map((store) => [store.store, store.objects > perPass ? 'passes' : 'whole'])));
    if (perPass === 1) expect(counted.mostAtOnce()).toBe(1);
    // in calls that each stop after one object, going on in the pass (and its listing) where the last one stopped
    const inCalls = await verifyToTheEnd(conn, { ...input, listingPassObjects: perPass }, openStore, { budgetMs: 0 });
    expect(byColumn(inCalls), `${perPass} per pass, in calls`).toEqual(byColumn(verified));
    // stores of one pass are listed ahead of their turn (local: 9 objects, external: 3, shared: 2; journal order
    // local, external, shared) only as many as add up to a pass
    expect(counted.firstListed(), `${perPass} per pass`).toEqual({ 1: ['local', 'external', 'shared'], 4: ['external', 'local', 'shared'], 6: ['external', 'shared', 'local'] }[perPass]);
  }
});

it('runs inspect → plan → prepare → hash → insert → rewrite (one chunk per call) → finish → verify', async () => {
  scenario = await legacyScenario('phases', buildWithTextKeys);
  const { conn, schema } = scenario;
  const { input, openStore, manifests } = await coreContext(scenario);

  const inspection = await inspectSchema(conn, input);
  expect(inspection.problems).toEqual([]);
  expect(inspection.legacyColumns.map((c) => [c.table, c.column, c.store, c.nullable, c.primaryKey])).toEqual([
    ['frame', 'img', 'local', false, ['session_id', 'rec_id', 'frame']],
    ['recording', 'trace', 'external', false, ['session_id', 'rec_id']],
    ['recording', 'thumb', 'shared', true, ['session_id', 'rec_id']],
    ['take', 'clip', 'local', false, ['subject', 'n']],
  ]);

  const plan = await planMigration(conn, input, inspection, openStore);
  expect(plan.stores.find((s) => s.store === 'local')).toMatchObject({ columns: 2, pointers: 10, objects: 9, missingObjects: 0 });
  // ~external read in keyset pages of 2 rows: the same 9 objects as in one page, each once
  const localColumns = inspection.legacyColumns.filter((column) => column.store === 'local');
  const pages: { hash: string; size: number }[][] = [];
  for await (const page of referencedObjects(conn, schema, localColumns, 2)) pages.push(page);
  const whole: { hash: string; size: number }[] = [];
  for await (const page of referencedObjects(conn, schema, localColumns)) whole.push(...page);
  expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 2, 1]);
  expect(pages.flat()).toEqual(whole);
  expect(new Set(whole.map((object) => object.hash)).size).toBe(9);
  // small tables: each column's temporary column comes by an online rebuild, whose free storage the plan adds up
  expect(plan.columns.every((column) => column.tempColumn === 'online rebuild')).toBe(true);
  expect(plan.rebuildBytes).toBeGreaterThan(0);
  // the plan's counts come from Inspect's one pass over each table (joined to ~external)
  for (const column of plan.columns) {
    const [counted] = await select<{ rows: number; pointers: number }>(conn, `SELECT COUNT(*) AS \`rows\`, COUNT(${quoteId(column.column)}) AS pointers FROM ${tableRef(schema, column.table)}`);
    expect([column.table, column.column, column.rows, column.pointers]).toEqual([column.table, column.column, Number(counted.rows), Number(counted.pointers)]);
  }

  const io = { openStore, progress: silentProgress, manifests, manifestKey: 'phases/hash.jsonl' };
  // fewer objects than distributedHashingFrom (1000): no manifest, the standard pass hashes everything
  const prepared = await prepareMigration(conn, input, inspection, io);
  expect(prepared).toMatchObject({ objects: 14, manifest: null });
  expect(await prepareMigration(conn, input, await inspectSchema(conn, input), io)).toEqual(prepared);
  // journaled 2 ~external rows a statement, the journal is the same; a rerun after part of it was lost (a call that
  // timed out) journals the rest, each object once
  const objectsTable = journalTables(schema).objects;
  const journalRows = () => select<{ h: string; store: string; batch: number; size: number }>(conn, `SELECT HEX(legacy_hash) AS h, store, batch, size FROM ${objectsTable} ORDER BY legacy_hash`);
  const journaled = await journalRows();
  await execute(conn, `DELETE FROM ${objectsTable}`);
  await prepareMigration(conn, input, inspection, io, { journalChunk: 2 });
  expect(await journalRows()).toEqual(journaled);
  await execute(conn, `DELETE FROM ${objectsTable} WHERE HEX(legacy_hash) > ?`, [journaled[6].h]);
  await prepareMigration(conn, input, inspection, io, { journalChunk: 3 });
  expect((await journalRows()).map(({ h, store, size }) => ({ h, store, size }))).toEqual(journaled.map(({ h, store, size }) => ({ h, store, size })));
  // in calls that each journal one chunk of 2 ~external rows, going on from the checkpoint: the same journal, batches
  // numbered as in one call, and the same result
  await execute(conn, `DELETE FROM ${objectsTable}`);
  const prepares: PrepareStep[] = [];
  do prepares.push(await prepareMigration(conn, input, inspection, io, { journalChunk: 2, budgetMs: 0, run: 'prepare-in-calls' }));
  while (!prepares.at(-1)!.done);
  expect(await journalRows()).toEqual(journaled);
  expect(prepares.at(-1)).toEqual(prepared);
  // one chunk a call: per store and part, ~external's rows 2 at a time (the last chunk ends past them), then the
  // manifest's call; no part read again after a call stopped at its end
  const [{ n: legacyRows }] = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${tableRef(schema, LEGACY_EXTERNAL_TABLE)}`);
  expect(prepares.length).toBe(3 * 2 * (Math.floor(Number(legacyRows) / 2) + 1) + 1);
  expect(prepares.slice(0, -1).every((step) => !step.done && step.columns.length === 0 && step.manifest === null)).toBe(true);
  // batches of 3 objects across chunks of 2 ~external rows, in calls of one chunk: numbered as in one call
  await execute(conn, `DELETE FROM ${objectsTable}`);
  await prepareMigration(conn, input, inspection, io, { batchSize: 3 });
  const smallBatches = await journalRows();
  expect(Math.max(...smallBatches.map((row) => Number(row.batch)))).toBeGreaterThan(3);
  await execute(conn, `DELETE FROM ${objectsTable}`);
  const smallCalls: PrepareStep[] = [];
  do smallCalls.push(await prepareMigration(conn, input, inspection, io, { journalChunk: 2, batchSize: 3, budgetMs: 0, run: 'small-batches' }));
  while (!smallCalls.at(-1)!.done);
  expect(await journalRows()).toEqual(smallBatches);
  // a crash between a chunk's INSERT and its checkpoint leaves neither (one transaction); the retry journals as the
  // clean run did
  await execute(conn, `DELETE FROM ${objectsTable}`);
  const crashing = new Proxy(conn, {
    get(target, property) {
      if (property === 'query') {
        return async (sql: string | { sql: string }, values?: unknown[]) => {
          const text = typeof sql === 'string' ? sql : sql.sql;
          // the first checkpoint after a chunk that journaled objects
          if (text.startsWith('REPLACE INTO') && text.includes(journalTables(schema).checkpoints) && (await journalRows()).length > 0) {
            throw new Error('simulated crash before the checkpoint');
          }
          return target.query(sql as string, values);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const crash = async () => {
    for (let call = 0; call < 100; call++) await prepareMigration(crashing, input, inspection, io, { journalChunk: 2, budgetMs: 0, run: 'prepare-crash' });
  };
  await expect(crash()).rejects.toThrow('simulated crash');
  expect(await journalRows()).toEqual([]);
  do prepares.push(await prepareMigration(conn, input, inspection, io, { journalChunk: 2, budgetMs: 0, run: 'prepare-crash' }));
  while (!prepares.at(-1)!.done);
  expect(await journalRows()).toEqual(journaled);
  await execute(conn, `DELETE FROM ${objectsTable}`);
  await prepareMigration(conn, input, inspection, io);
  expect(await journalRows()).toEqual(journaled);

  // the Distributed Map's pass: the manifest lists every object to hash; a child hashes without the database
  const distributed = await prepareMigration(conn, { ...input, distributedHashingFrom: 10 }, inspection, io);
  expect(distributed.manifest).toEqual({ key: 'phases/hash.jsonl', objects: 14 });
  const items: ManifestItem[] = [];
  for await (const { record } of manifests.read('phases/hash.jsonl')) items.push(record as ManifestItem);
  expect(items).toHaveLength(14);
  // a child that runs out of time leaves its items; one that verifies 10 records them (one UPDATE)
  expect(await hashItems(input, items.slice(10), openStore, silentProgress, Date.now() - 1)).toEqual({ hashed: [], left: 4, refused: [] });
  const child = await hashItems(input, items.slice(0, 10), openStore, silentProgress, Date.now() + 60_000);
  expect(child).toMatchObject({ left: 0, refused: [] });
  expect(await recordHashes(conn, input, child.hashed)).toBe(10);
  // what the map left is the standard pass's: exactly the batches holding the 4 unhashed objects
  const pending = await pendingHashBatches(conn, input);
  expect(pending.length).toBeGreaterThan(0);

  let hashed = 0;
  for (const batch of pending) hashed += (await hashBatch(conn, input, batch, openStore, silentProgress)).objects;
  expect(hashed).toBe(4);
  expect(await pendingHashBatches(conn, input)).toEqual([]);
  expect((await hashBatch(conn, input, pending[0], openStore, silentProgress)).objects).toBe(0);
  // both passes recorded the same hashes a single standard pass would have: each object's MD5 and 0.12 uuid
  const recorded = await select<{ n: number }>(conn, `SELECT COUNT(*) AS n FROM ${journalTables(schema).objects} WHERE contents_hash IS NOT NULL AND new_hash IS NOT NULL AND contents_from = 'stream'`);
  expect(Number(recorded[0].n)).toBe(14);

  // in calls that each insert one journal batch (one per store here), the totals carried by the checkpoint
  const inserts: InsertedRows[] = [];
  do inserts.push(await insertExternalRows(conn, input, { run: 'insert-in-calls', budgetMs: 0 }));
  while (!inserts.at(-1)!.done);
  expect(inserts.map((step) => [step.done, step.stores.length])).toEqual([[false, 1], [false, 2], [true, 3]]);
  expect(inserts.at(-1)!.inserted).toBe(14);
  expect(inserts.at(-1)!.stores.map((store) => store.inserted).sort()).toEqual([2, 3, 9]);
  // the run's call repeated after its end (a lost result) reports the same, inserting nothing; another run finds all in
  expect(await insertExternalRows(conn, input, { run: 'insert-in-calls', budgetMs: 0 })).toEqual(inserts.at(-1));
  expect((await insertExternalRows(conn, input)).inserted).toBe(0);

  const take = (await journalColumns(conn, schema)).find((column) => column.table_name === 'take')!.column_id;
  let calls = 0;
  for (let done = false; !done; calls++) {
    done = (await rewriteColumn(conn, input, take, { budgetMs: 0, initialChunkRows: 2 }, silentProgress)).done;
  }
  expect(calls).toBe(4); // 2 + 2 + 2 + 1 rows, each chunk resumed from the key stored in the journal
  const [journal] = await select<{ rows_rewritten: number }>(conn, `SELECT rows_rewritten FROM ${journalTables(schema).columns} WHERE column_id = ?`, [take]);
  expect(Number(journal.rows_rewritten)).toBe(7);
  for (const column of prepared.columns) while (!(await rewriteColumn(conn, input, column, { budgetMs: 10_000 }, silentProgress)).done);

  expect(await finishMigration(conn, input)).toEqual({ legacyTable: 'dropped' });
  const verification = await verifyToTheEnd(conn, input, openStore);
  expect(verification.ok).toBe(true);
  expect(verification.columns.find((c) => c.table === 'take')).toMatchObject({ rows: 7, pointers: 7, objects: 7, objectsMissing: 0, ok: true });
  // read two distinct pointers a page, verification comes to the same result
  expect(await verifyToTheEnd(conn, input, openStore, { pointerPage: 2 })).toEqual(verification);
  // in calls that each stop after one object (no budget), going on from the checkpoint: the same verification, every
  // object checked once (as the progress it reports counts them)
  const verified: ProgressEvent[] = [];
  const steps: VerifyStep[] = [];
  do steps.push(await verifyMigration(conn, input, openStore, { run: 'in-calls', budgetMs: 0, pointerPage: 2, countChunkRows: 1, progress: { report: (event) => verified.push(event) } }));
  while (!steps.at(-1)!.done);
  expect(steps.at(-1)).toEqual(verification);
  const objects = verification.columns.reduce((sum, column) => sum + column.objects, 0);
  expect(steps.length).toBeGreaterThan(objects);
  expect(steps.slice(0, -1).every((step) => !step.done && step.passes === 1 && /^\w+\.\w+$/.test(step.column))).toBe(true);
  expect(verified.reduce((sum, event) => sum + (event.kind === 'objects-verified' ? event.objects : 0), 0)).toBe(objects);
  // rows and pointers as the tables count them, NULL pointers among the rows
  await execute(conn, `UPDATE ${tableRef(schema, 'recording')} SET thumb = NULL WHERE rec_id = 1`);
  const withNull = await verifyToTheEnd(conn, input, openStore);
  for (const column of withNull.columns) {
    const [counted] = await select<{ rows: number; pointers: number }>(conn, `SELECT COUNT(*) AS \`rows\`, COUNT(${quoteId(column.column)}) AS pointers FROM ${tableRef(schema, column.table)}`);
    expect({ rows: column.rows, pointers: column.pointers }, `${column.table}.${column.column}`).toEqual({ rows: Number(counted.rows), pointers: Number(counted.pointers) });
  }
  expect(withNull.columns.some((column) => column.pointers < column.rows)).toBe(true);

  // An object replaced by other bytes of the same size passes the size check; only re-reading it shows the damage.
  const clip = scenario.fixture.objects.find((o) => o.store === 'external-local' && o.key.includes(schema))!;
  const tampered = Buffer.from(clip.bytes);
  tampered[tampered.length - 1] ^= 0xff;
  await writeFile(clip.key, tampered);
  expect((await verifyToTheEnd(conn, input, openStore)).ok).toBe(true);
  const reread = await verifyToTheEnd(conn, { ...input, verifyContents: true }, openStore);
  expect(reread.ok).toBe(false);
  expect(reread.columns.flatMap((c) => c.problems).join('\n')).toMatch(/its bytes no longer hash to the row's contents hash/);
  // a call that fails on the way (the 5th re-read) leaves its checkpoint at its last whole page; the run's next call
  // goes on from there, to the same result
  const rereading = { ...input, verifyContents: true };
  const failing = failingDigests(openStore, 5);
  await expect(verifyMigration(conn, rereading, failing.open, { run: 'failed-on-the-way', pointerPage: 2 })).rejects.toThrow(/digest failed/);
  const resumed = failingDigests(openStore, Infinity);
  expect(await verifyMigration(conn, rereading, resumed.open, { run: 'failed-on-the-way', pointerPage: 2 })).toEqual(reread);
  // 4 re-read before the page that failed: frame.img's 2, then take.clip's first page
  expect(resumed.digests()).toBe(reread.columns.reduce((sum, column) => sum + column.objects, 0) - 4);
  await writeFile(clip.key, clip.bytes);

  // Verification notices damage done afterwards: a pointer without its ~external_local row (also where the last run
  // to verify, which checked everything before the damage, left its checkpoint: another run starts over).
  expect(await verifyMigration(conn, input, openStore, { run: 'before-the-damage' })).toEqual(withNull);
  await execute(conn, 'SET FOREIGN_KEY_CHECKS = 0');
  await execute(conn, `UPDATE ${tableRef(schema, 'take')} SET clip = UNHEX(REPEAT('00', 16)) WHERE n = 9007199254740993`);
  await execute(conn, 'SET FOREIGN_KEY_CHECKS = 1');
  const damaged = await verifyToTheEnd(conn, input, openStore);
  expect(damaged.ok).toBe(false);
  expect(await verifyMigration(conn, input, openStore, { run: 'after-the-damage' })).toEqual(damaged);
  expect(damaged.columns.find((c) => c.table === 'take')?.problems.join('\n')).toMatch(/1 pointer\(s\) of take\.clip have no ~external_local row/);
  expect(await verifyToTheEnd(conn, input, openStore, { pointerPage: 2 })).toEqual(damaged);
});
