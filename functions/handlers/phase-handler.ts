import middy from '@middy/core';
import type { Connection } from 'mysql2/promise';
import type { z } from 'zod';
import type { StoreSpec } from '../core/config/store-spec.js';
import { classifyError, MigrationRefusedError } from '../core/errors.js';
import { Migrate011InputSchema, type Migrate011Input } from '../core/migrate011/input.js';
import { Migrate014InputSchema, type Migrate014Input } from '../core/migrate014/input.js';
import type { ProgressSink } from '../core/progress.js';
import type { ObjectStore, OpenStore } from '../core/stores/object-store.js';
import type { ObjectWriter } from '../core/stores/object-writer.js';
import type { HandlerDeps } from './deps.js';

/** Lambda creates its deps on first use (cold start), the local runner hands in ready ones. */
export type DepsProvider = () => HandlerDeps;

export interface PhaseContext<Input> {
  conn: Connection;
  input: Input;
  openStore: OpenStore;
  openWriter: (name: string) => ObjectWriter;
  progress: ProgressSink;
  deps: HandlerDeps;
}

type StoreInput = { stores: Record<string, StoreSpec> };

/**
 * The glue every phase handler of one migration shares: re-check the (already validated) input, open one database
 * connection, run the phase, and turn transient failures into the error name the state machine retries.
 */
function phaseHandlerFor<Input extends StoreInput>(inputSchema: z.ZodType<Input, unknown>) {
  return function phaseHandler<Event extends { input: unknown }, Result>(
    getDeps: DepsProvider,
    run: (context: PhaseContext<Input>, event: Event) => Promise<Result>,
  ) {
    return middy(async (event: Event): Promise<Result> => {
      const deps = getDeps();
      const input = inputSchema.parse(event.input);
      let conn: Connection | undefined;
      try {
        conn = await deps.openDatabase();
        const openWriter = (name: string) => deps.openWriter(name, storeSpec(input, name));
        return await run({ conn, input, openStore: storeOpener(deps, input), openWriter, progress: deps.progress, deps }, event);
      } catch (error) {
        throw classifyError(error);
      } finally {
        await conn?.end().catch(() => undefined);
      }
    });
  };
}

export const phaseHandler = phaseHandlerFor<Migrate011Input>(Migrate011InputSchema);
export const phase014Handler = phaseHandlerFor<Migrate014Input>(Migrate014InputSchema);

function storeSpec(input: StoreInput, name: string): StoreSpec {
  const spec = input.stores[name];
  if (!spec) throw new MigrationRefusedError(`store "${name}" is not in the execution input's stores; add it`);
  return spec;
}

function storeOpener(deps: HandlerDeps, input: StoreInput): OpenStore {
  const opened = new Map<string, ObjectStore>();
  return (name) => {
    if (!opened.has(name)) opened.set(name, deps.openStore(name, storeSpec(input, name)));
    return opened.get(name)!;
  };
}
