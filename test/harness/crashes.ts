// Crashes injected into a migration: after a handler's call returned (its result lost), and at a write statement or a
// store write, before it or after it (committed, the reply lost: a Lambda killed or timed out at that moment). At a
// statement the connection goes with the crash, so an open transaction rolls back, as it does when a process dies.
import type { Connection } from 'mysql2/promise';
import { TransientError } from '../../functions/core/errors.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import type { HandlerName } from '../../functions/handlers/names.js';
import type { PhaseInvoker } from '../../functions/handlers/registry.js';
import type { LocalRunResult } from '../../functions/local/runner.js';

const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE|ALTER|CREATE|DROP|RENAME|COMMIT|START|TRUNCATE)\b/i;

export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/**
 * Where a crash comes: before the write, or after it (committed, the reply lost); `after, retried`: after it as a lost
 * connection, which the state machine's Retry answers by calling the handler again with the same input, in the run.
 */
export type CrashMode = 'before' | 'after' | 'after, retried';

/** The crashes that fail the run, which the test then reruns. */
const FAILING: readonly CrashMode[] = ['before', 'after'];

/** DJMIGRATE_CRASH_EVERY_STATEMENT=1: the full sweep, a crash at every write statement (minutes per workflow). */
export const EVERY_STATEMENT = process.env.DJMIGRATE_CRASH_EVERY_STATEMENT === '1';

export type Handlers = Partial<Record<HandlerName, PhaseInvoker>>;

/** Handlers whose `name` throws `error()` once its call numbered so that `when` holds (from 1) has returned. */
export function failingAfter(name: HandlerName, when: (call: number) => boolean, error: (call: number) => Error) {
  let calls = 0;
  return (handlers: Handlers): Handlers => ({
    ...handlers,
    [name]: async (event: unknown) => {
      const result = await handlers[name]!(event);
      calls += 1;
      if (when(calls)) throw error(calls);
      return result;
    },
  });
}

/**
 * Handlers whose `name` loses the result of its first call (a Lambda timed out as it returned): the Task's Retry calls
 * it again with the same input, within the run. `lost` tells whether that call was made.
 */
export function losingFirstResult(name: HandlerName): { wrapHandlers: (handlers: Handlers) => Handlers; lost(): boolean } {
  let lost = false;
  const wrapHandlers = failingAfter(name, (call) => call === 1, () => {
    lost = true;
    return new TransientError(`simulated: the result of the first ${name} call was lost`);
  });
  return { wrapHandlers, lost: () => lost };
}

/** The n-th (from 1) write statement of a shape; `last`: the last one of its shape in the run the point was taken from. */
export interface CrashPoint {
  shape: string;
  occurrence: number;
  last: boolean;
}

/**
 * What a write statement does, apart from the names of this run's tables and columns and its values: the statements
 * one migration makes again for each table, column or batch share it. The migration's own tables keep their names.
 */
export function shapeOf(sql: string): string {
  return sql
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/`[^`]*`/g, (name) => (name.startsWith('`~djmigrate') ? name : '`?`'))
    .replace(/'[^']*'/g, "'?'")
    .slice(0, 72);
}

/**
 * The first and the last statement of each shape, in the order a run made them; with `every`, each statement (the
 * full sweep: DJMIGRATE_CRASH_EVERY_STATEMENT=1, minutes per workflow).
 */
export function crashPointsOf(statements: readonly string[], { every = EVERY_STATEMENT } = {}): CrashPoint[] {
  const counts = new Map<string, number>();
  for (const sql of statements) counts.set(shapeOf(sql), (counts.get(shapeOf(sql)) ?? 0) + 1);
  return [...counts].flatMap(([shape, count]) =>
    Array.from({ length: count }, (_, i) => ({ shape, occurrence: i + 1, last: i + 1 === count })).filter((point) => every || point.occurrence === 1 || point.last),
  );
}

/** Deps whose connections hand each write statement to `onWrite` first; it may crash the connection before or after it. */
function watchingWrites(onWrite: (sql: string) => CrashMode | null) {
  return (deps: HandlerDeps): HandlerDeps => ({
    ...deps,
    async openDatabase() {
      const conn = await deps.openDatabase();
      const query = conn.query.bind(conn) as (...args: unknown[]) => Promise<unknown>;
      return new Proxy(conn, {
        get(target, property, receiver) {
          if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
          return async (...args: unknown[]) => {
            const sql = typeof args[0] === 'string' ? args[0] : String((args[0] as { sql?: unknown }).sql ?? '');
            const crash = WRITE.test(sql) ? onWrite(sql) : null;
            if (crash === 'before') crashConnection(target, crash, sql);
            const result = await query(...args);
            if (crash) crashConnection(target, crash, sql);
            return result;
          };
        },
      });
    },
  });
}

function crashConnection(conn: Connection, mode: CrashMode, sql: string): never {
  conn.destroy();
  const message = `simulated crash ${mode} ${sql.replace(/\s+/g, ' ').slice(0, 120)}`;
  throw mode === 'after, retried' ? Object.assign(new Error(message), { code: 'PROTOCOL_CONNECTION_LOST' }) : new SimulatedCrash(message);
}

/** Deps that record every write statement of the run into `statements`. */
export function recordingWrites(statements: string[]) {
  return watchingWrites((sql) => {
    statements.push(sql);
    return null;
  });
}

/** Deps that crash once, at the point's statement, before or after it; `reached` tells whether the run made it. */
export function crashingAt(point: CrashPoint, mode: CrashMode): Omit<Crash, 'where'> {
  const seen = new Map<string, number>();
  return crashingOnce(watchingWrites, mode, (sql) => {
    const shape = shapeOf(sql);
    const occurrence = (seen.get(shape) ?? 0) + 1;
    seen.set(shape, occurrence);
    return shape === point.shape && occurrence === point.occurrence;
  });
}

/** A crash at the first write `isPoint` picks (it sees every write, in order), through `watching`'s deps. */
function crashingOnce(watching: (onWrite: (what: string) => CrashMode | null) => Crash['wrapDeps'], mode: CrashMode, isPoint: (what: string) => boolean): Omit<Crash, 'where'> {
  let reached = false;
  const wrapDeps = watching((what) => {
    if (!isPoint(what) || reached) return null;
    reached = true;
    return mode;
  });
  return { wrapDeps, reached: () => reached };
}

/** The store writes of a run (copies and puts), in the order made, for crashingAtStoreWrite. */
export function recordingStoreWrites(writes: string[]) {
  return watchingStoreWrites((what) => {
    writes.push(what);
    return null;
  });
}

/** Deps that crash once, at the n-th (from 1) store write of the run, before or after it. */
export function crashingAtStoreWrite(n: number, mode: CrashMode): Omit<Crash, 'where'> {
  let writes = 0;
  return crashingOnce(watchingStoreWrites, mode, () => ++writes === n);
}

/** Deps whose stores and writers hand each copy and put to `onWrite` first; it may crash the call before or after it. */
function watchingStoreWrites(onWrite: (what: string) => CrashMode | null) {
  const around = async (what: string, write: () => Promise<void>) => {
    const crash = onWrite(what);
    if (crash === 'before') throw new SimulatedCrash(`simulated crash before ${what}`);
    await write();
    if (crash) throw new SimulatedCrash(`simulated crash after ${what}`);
  };
  // every other member answered by the store itself, bound to it
  const overriding = <T extends object>(target: T, name: string, replacement: unknown): T =>
    new Proxy(target, {
      get: (object, property) => {
        if (property === name) return replacement;
        const value = Reflect.get(object, property, object) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
      },
    });
  return (deps: HandlerDeps): HandlerDeps => ({
    ...deps,
    openStore(name, spec) {
      const store = deps.openStore(name, spec);
      return overriding(store, 'copy', (source: string, target: string, size: number) => around(`copy ${source} -> ${target}`, () => store.copy(source, target, size)));
    },
    openWriter(name, spec) {
      const writer = deps.openWriter(name, spec);
      return overriding(writer, 'put', (key: string, body: Parameters<typeof writer.put>[1], size: number) => around(`put ${key}`, () => writer.put(key, body, size)));
    },
  });
}

export interface Crash {
  /** What and where, for the failure message. */
  where: string;
  wrapDeps: (deps: HandlerDeps) => HandlerDeps;
  reached(): boolean;
}

export interface CrashScenario {
  rebuild(): Promise<void>;
  run(wrapDeps?: (deps: HandlerDeps) => HandlerDeps): Promise<LocalRunResult>;
  /** Null when the rerun's result and the state it left are the clean run's; else what differs. */
  differs(result: LocalRunResult): Promise<string | null>;
}

/**
 * Each crash on a freshly built pipeline, then (unless the state machine's Retry absorbed it) a rerun: where the rerun
 * failed or ended elsewhere than the clean run, and which crashes the run never came to.
 */
export async function crashEach(scenario: CrashScenario, crashes: readonly Crash[]): Promise<{ diverged: string[]; unreached: string[] }> {
  const diverged: string[] = [];
  const unreached: string[] = [];
  for (const crash of crashes) {
    await scenario.rebuild();
    const crashed = await scenario.run(crash.wrapDeps);
    if (!crash.reached()) unreached.push(crash.where);
    const final = crashed.error ? await scenario.run() : crashed;
    const difference = final.error ? `the rerun failed: ${final.error.name}: ${final.error.message.slice(0, 200)}` : await scenario.differs(final);
    if (difference) diverged.push(`${crash.where}: ${difference}`);
  }
  return { diverged, unreached };
}

/**
 * A crash before and after each point's statement, and at each first statement of a kind one the Retry absorbs, each
 * run through crashEach: what diverged; the crashes the run never came to, but for those at a kind's last statement;
 * and the share of all it never came to. How often a phase polls (and so heartbeats) depends on timing, so a run may
 * make fewer of such a statement than the run the points came from.
 */
export async function crashAtStatements(scenario: CrashScenario, points: readonly CrashPoint[]): Promise<{ diverged: string[]; missedEarly: string[]; missedShare: number }> {
  const crashes = points.flatMap((point) =>
    (point.occurrence === 1 ? [...FAILING, 'after, retried' as const] : FAILING).map((mode) => ({ point, where: `${mode} #${point.occurrence} ${point.shape}`, ...crashingAt(point, mode) })),
  );
  const { diverged, unreached } = await crashEach(scenario, crashes);
  const missed = crashes.filter((crash) => unreached.includes(crash.where));
  return { diverged, missedEarly: missed.filter((crash) => !crash.point.last).map((crash) => crash.where), missedShare: missed.length / crashes.length };
}

/** A crash before and after each store write a clean run made (recordingStoreWrites). */
export function storeWriteCrashes(writes: readonly string[]): Crash[] {
  return writes.flatMap((what, i) => FAILING.map((mode) => ({ where: `${mode} store write ${i + 1} (${what})`, ...crashingAtStoreWrite(i + 1, mode) })));
}

