import middy from '@middy/core';
import type { Connection } from 'mysql2/promise';
import { classifyError, MigrationRefusedError } from '../core/errors.js';
import { Migrate011InputSchema, type Migrate011Input } from '../core/migrate011/input.js';
import type { OpenStore } from '../core/stores/object-store.js';
import type { ProgressSink } from '../core/progress.js';
import type { ObjectStore } from '../core/stores/object-store.js';
import type { HandlerDeps } from './deps.js';

/** Lambda creates its deps on first use (cold start), the local runner hands in ready ones. */
export type DepsProvider = () => HandlerDeps;

export interface PhaseContext {
  conn: Connection;
  input: Migrate011Input;
  openStore: OpenStore;
  progress: ProgressSink;
  deps: HandlerDeps;
}

/**
 * The glue every phase handler shares: re-check the (already validated) input, open one database connection,
 * run the phase, and turn transient failures into the error name the state machine retries.
 */
export function phaseHandler<Event extends { input: unknown }, Result>(getDeps: DepsProvider, run: (context: PhaseContext, event: Event) => Promise<Result>) {
  return middy(async (event: Event): Promise<Result> => {
    const deps = getDeps();
    const input = Migrate011InputSchema.parse(event.input);
    let conn: Connection | undefined;
    try {
      conn = await deps.openDatabase();
      return await run({ conn, input, openStore: storeOpener(deps, input), progress: deps.progress, deps }, event);
    } catch (error) {
      throw classifyError(error);
    } finally {
      await conn?.end().catch(() => undefined);
    }
  });
}

function storeOpener(deps: HandlerDeps, input: Migrate011Input): OpenStore {
  const opened = new Map<string, ObjectStore>();
  return (name) => {
    const spec = input.stores[name];
    if (!spec) throw new MigrationRefusedError(`store "${name}" is not in the execution input's stores; add it`);
    if (!opened.has(name)) opened.set(name, deps.openStore(name, spec));
    return opened.get(name)!;
  };
}
