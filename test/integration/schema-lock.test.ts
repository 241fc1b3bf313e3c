import type { Connection } from 'mysql2/promise';
import { afterEach, expect, it } from 'vitest';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { acquireSchemaLock, heartbeatSchemaLock, LOCK_TABLE, readSchemaLock, releaseSchemaLock } from '../../functions/core/lock/schema-lock.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import { makePendingBatchesHandler } from '../../functions/handlers/pending-batches.js';
import { makeUnlockAbandonedHandler } from '../../functions/handlers/unlock-abandoned.js';
import { freshSchema, freshSchemaName, openConnection, type FreshSchema } from '../harness/context.js';

let schema: FreshSchema | undefined;
const extra: Connection[] = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((c) => c.end()));
  await schema?.cleanup();
  schema = undefined;
});

async function createdSchema(prefix = 'lock'): Promise<FreshSchema> {
  schema = await freshSchema(prefix);
  await execute(schema.conn, `CREATE DATABASE ${quoteId(schema.name)}`);
  return schema;
}

const tablesOf = async (conn: Connection, name: string) =>
  (await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [name])).map((r) => r.name);

/** Makes the current holder look silent for `seconds`, by the server's clock. */
const silence = (s: FreshSchema, seconds: number) =>
  execute(s.conn, `UPDATE ${tableRef(s.name, LOCK_TABLE)} SET heartbeat_at = NOW(6) - INTERVAL ? SECOND WHERE id = 1`, [seconds]);

const A = { holder: 'arn:aws:states:eu-west-1:1:execution:djm:run-a', description: '0.11 -> 0.12 in-place' };
const B = { holder: 'local:laptop:4242:0b7e', description: '0.14 -> 2.0 copy' };

it('acquires, reports and releases the lock, leaving the table', async () => {
  const s = await createdSchema();
  const before = Date.now();
  const lock = await acquireSchemaLock(s.conn, s.name, A);
  expect(lock).toEqual({ holder: A.holder, acquiredAt: expect.any(Date) });
  expect(Math.abs(lock.acquiredAt.getTime() - before)).toBeLessThan(60_000);

  const info = await readSchemaLock(s.conn, s.name);
  expect(info).toMatchObject({ holder: A.holder, description: A.description, stale: false });
  expect(info!.secondsSinceHeartbeat).toBeLessThan(5);
  const [table] = await select<{ comment: string }>(s.conn, 'SELECT TABLE_COMMENT AS comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [s.name, LOCK_TABLE]);
  expect(table.comment).toMatch(/djmigrate/);

  await heartbeatSchemaLock(s.conn, s.name, A.holder);
  expect(await releaseSchemaLock(s.conn, s.name, B.holder)).toBe(false); // not ours: no-op
  expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(A.holder);
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(true);
  expect(await readSchemaLock(s.conn, s.name)).toBeNull();
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(false);
  // the last release drops the table: the schema is as it was before the run
  expect(await tablesOf(s.conn, s.name)).toEqual([]);

  // Free again: someone else can take it.
  expect((await acquireSchemaLock(s.conn, s.name, B)).holder).toBe(B.holder);
});

it('a release called again after its DELETE committed (the reply lost) still drops the emptied table; one that holds a row stays', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  await execute(s.conn, `DELETE FROM ${tableRef(s.name, LOCK_TABLE)} WHERE id = 1`);
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(false);
  expect(await tablesOf(s.conn, s.name)).toEqual([]);
  await acquireSchemaLock(s.conn, s.name, B);
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(false);
  expect(await tablesOf(s.conn, s.name)).toEqual([LOCK_TABLE]);
});

it('lets the same holder acquire again, keeping acquired_at', async () => {
  const s = await createdSchema();
  const first = await acquireSchemaLock(s.conn, s.name, A);
  await silence(s, 30);
  const again = await acquireSchemaLock(s.conn, s.name, { ...A, description: 'resumed' });
  expect(again).toEqual({ holder: A.holder, acquiredAt: first.acquiredAt });
  const info = await readSchemaLock(s.conn, s.name);
  expect(info).toMatchObject({ holder: A.holder, description: 'resumed' });
  expect(info!.secondsSinceHeartbeat).toBeLessThan(5); // the re-acquire heartbeated
});

it('refuses a second holder, naming the first and what to do', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  const refusal = acquireSchemaLock(s.conn, s.name, B);
  await expect(refusal).rejects.toThrow(MigrationRefusedError);
  await expect(refusal).rejects.toThrow(A.holder);
  await expect(refusal).rejects.toThrow(/0\.11 -> 0\.12 in-place[\s\S]*last heartbeat \d+ s ago[\s\S]*wait for that run to finish, or stop that execution[\s\S]*--take-over-lock/);
  expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(A.holder);
});

it('refuses a stale lock without the take-over flag, and takes it with the flag', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  await silence(s, 120);
  expect((await readSchemaLock(s.conn, s.name, 60))?.stale).toBe(true);
  expect((await readSchemaLock(s.conn, s.name))?.stale).toBe(false); // default 900 s

  await expect(acquireSchemaLock(s.conn, s.name, { ...B, staleAfterSeconds: 60 })).rejects.toThrow(/looks stale[\s\S]*--take-over-lock[\s\S]*takeOverLock: true/);
  expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(A.holder);

  const taken = await acquireSchemaLock(s.conn, s.name, { ...B, staleAfterSeconds: 60, takeOver: true });
  expect(taken).toEqual({ holder: B.holder, acquiredAt: expect.any(Date), tookOverFrom: A.holder });
  expect(await readSchemaLock(s.conn, s.name)).toMatchObject({ holder: B.holder, description: B.description, stale: false });
});

it('goes stale by the server clock after staleAfterSeconds', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  await expect(acquireSchemaLock(s.conn, s.name, { ...B, staleAfterSeconds: 1, takeOver: true })).rejects.toThrow(/never taken over/);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  expect((await acquireSchemaLock(s.conn, s.name, { ...B, staleAfterSeconds: 1, takeOver: true })).tookOverFrom).toBe(A.holder);
});

it('never takes over a live lock', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  await silence(s, 30);
  await expect(acquireSchemaLock(s.conn, s.name, { ...B, staleAfterSeconds: 60, takeOver: true })).rejects.toThrow(
    new RegExp(`locked by another djmigrate run: ${A.holder.replace(/[.:]/g, '\\$&')}[\\s\\S]*only takes a stale lock`),
  );
  expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(A.holder);
});

it('stops the old holder at its next heartbeat once the lock was taken over', async () => {
  const s = await createdSchema();
  await acquireSchemaLock(s.conn, s.name, A);
  await silence(s, 1000);
  await acquireSchemaLock(s.conn, s.name, { ...B, takeOver: true });
  await expect(heartbeatSchemaLock(s.conn, s.name, A.holder)).rejects.toThrow(MigrationRefusedError);
  await expect(heartbeatSchemaLock(s.conn, s.name, A.holder)).rejects.toThrow(`was taken over by ${B.holder}`);
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(false);
  expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(B.holder);
  await heartbeatSchemaLock(s.conn, s.name, B.holder);

  await releaseSchemaLock(s.conn, s.name, B.holder);
  await expect(heartbeatSchemaLock(s.conn, s.name, B.holder)).rejects.toThrow(/is gone/);
});

it('lets exactly one of two concurrent runs win', async () => {
  const s = await createdSchema();
  const [one, two] = await Promise.all([openConnection(), openConnection()]);
  extra.push(one, two);
  for (let round = 0; round < 5; round++) {
    // Round 0 also races the CREATE TABLE.
    const holders = [`${A.holder}-${round}`, `${B.holder}-${round}`];
    const results = await Promise.allSettled([
      acquireSchemaLock(one, s.name, { holder: holders[0], description: 'one' }),
      acquireSchemaLock(two, s.name, { holder: holders[1], description: 'two' }),
    ]);
    const won = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.holder] : []));
    const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(MigrationRefusedError);
    expect(lost[0].message).toContain(won[0]);
    expect((await readSchemaLock(s.conn, s.name))?.holder).toBe(won[0]);
    expect(await releaseSchemaLock(s.conn, s.name, won[0])).toBe(true);
  }
});

it('works with a schema name holding a backtick and a quote', async () => {
  const name = `${freshSchemaName('lk')}\`q'"`;
  const conn = await openConnection();
  extra.push(conn);
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  try {
    await acquireSchemaLock(conn, name, A);
    await expect(acquireSchemaLock(conn, name, B)).rejects.toThrow(A.holder);
    await heartbeatSchemaLock(conn, name, A.holder);
    expect((await readSchemaLock(conn, name))?.holder).toBe(A.holder);
    expect(await releaseSchemaLock(conn, name, A.holder)).toBe(true);
    expect(await tablesOf(conn, name)).toEqual([]);
  } finally {
    await execute(conn, `DROP DATABASE IF EXISTS ${quoteId(name)}`);
  }
});

it('reads "no lock" on a schema without the table, creating nothing', async () => {
  const s = await createdSchema();
  expect(await readSchemaLock(s.conn, s.name)).toBeNull();
  expect(await releaseSchemaLock(s.conn, s.name, A.holder)).toBe(false);
  expect(await tablesOf(s.conn, s.name)).toEqual([]);
});

it('refuses a schema that does not exist, creating nothing', async () => {
  schema = await freshSchema('lock_missing');
  const s = schema;
  await expect(acquireSchemaLock(s.conn, s.name, A)).rejects.toThrow(new RegExp(`schema \`${s.name}\` does not exist`));
  expect(await readSchemaLock(s.conn, s.name)).toBeNull();
  expect(await select(s.conn, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [s.name])).toEqual([]);
});

it('refuses holder ids the column could not store exactly', async () => {
  const s = await createdSchema();
  await expect(acquireSchemaLock(s.conn, s.name, { holder: '', description: 'x' })).rejects.toThrow(/holder id/);
  await expect(acquireSchemaLock(s.conn, s.name, { holder: 'run ', description: 'x' })).rejects.toThrow(/holder id/);
  await expect(acquireSchemaLock(s.conn, s.name, { holder: 'x'.repeat(256), description: 'x' })).rejects.toThrow(/holder id/);
  // Ids differing only in case are different holders (binary collation).
  await acquireSchemaLock(s.conn, s.name, { holder: 'run-a', description: 'x' });
  await expect(acquireSchemaLock(s.conn, s.name, { holder: 'RUN-A', description: 'x' })).rejects.toThrow(/locked by another djmigrate run: run-a/);
});

it('an aborted execution (no ReleaseLock ran) has its lock freed by unlockAbandoned; a lock another run holds stays', async () => {
  const s = await createdSchema('abandoned');
  const published: unknown[] = [];
  const deps = { openDatabase: () => openConnection(), events: { publish: async (_type: string, detail: unknown) => void published.push(detail) } } as unknown as HandlerDeps;
  const aborted = (executionArn: string) => ({
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { executionArn, status: 'ABORTED', input: JSON.stringify({ from: '0.11', schema: s.name, stores: {} }) },
  });
  await acquireSchemaLock(s.conn, s.name, A);
  const handler = makeUnlockAbandonedHandler(() => deps);
  // another execution's end does not free A's lock
  await expect(handler(aborted('arn:aws:states:eu-west-1:1:execution:djm:other') as never, {} as never)).resolves.toEqual({ released: false });
  expect(await readSchemaLock(s.conn, s.name)).toMatchObject({ holder: A.holder });
  await expect(handler(aborted(A.holder) as never, {} as never)).resolves.toEqual({ released: true });
  expect(await readSchemaLock(s.conn, s.name)).toBeNull();
  // a rerun can take the schema at once, without takeOverLock
  await expect(acquireSchemaLock(s.conn, s.name, B)).resolves.toMatchObject({ holder: B.holder });
  expect(published).toEqual([
    expect.objectContaining({ schema: s.name, status: 'aborted', lockReleased: false }),
    expect.objectContaining({ schema: s.name, status: 'aborted', lockReleased: true }),
  ]);
});

it('a phase started after its run released the lock stops, and does not lock the schema again', async () => {
  const s = await createdSchema('late_phase');
  const deps = { openDatabase: () => openConnection() } as unknown as HandlerDeps;
  const pendingBatches = makePendingBatchesHandler(() => deps);
  const event = { input: { from: '0.11', schema: s.name, stores: {}, execute: true }, run: A.holder };
  await acquireSchemaLock(s.conn, s.name, A);
  await releaseSchemaLock(s.conn, s.name, A.holder); // the run failed: ReleaseLock ran
  // a hash batch of the same run, invoked before the failure, only now connecting
  await expect(pendingBatches(event as never, {} as never)).rejects.toThrow(/lock on schema .* held by .*run-a is gone/);
  expect(await readSchemaLock(s.conn, s.name)).toBeNull();
  expect(await tablesOf(s.conn, s.name)).toEqual([]);
  // a rerun takes the schema at once
  await expect(acquireSchemaLock(s.conn, s.name, B)).resolves.toMatchObject({ holder: B.holder });
});
