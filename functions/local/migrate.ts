// One local migration run: the user's DataJoint config → execution input (locations only) + local deps → the
// synthesized state machine executed in this process with the real handlers.
import { loadDataJointConfig, storeLocations } from '../core/config/datajoint-config.js';
import { MigrationRefusedError } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import { migrate011Handlers, type PhaseInvoker } from '../handlers/registry.js';
import type { HandlerDeps } from '../handlers/deps.js';
import type { Migrate011HandlerName } from '../handlers/names.js';
import { createLocalDeps } from './local-deps.js';
import { runMigrate011Locally, type LocalRunResult } from './runner.js';

export interface LocalMigrationOptions {
  configPath: string;
  schema: string;
  defaultStore: string;
  mode: 'in-place' | 'native';
  keepLegacy: boolean;
  execute: boolean;
  /** Verify re-reads every object (see the input's verifyContents). */
  verifyContents?: boolean;
  progress: ProgressSink;
  env?: NodeJS.ProcessEnv;
  rewriteBudgetMs?: number;
  /** Called with each state's name as the run enters it (progress, phase timing). */
  onStateEntered?: (stateName: string) => void;
  /** Lets tests wrap the deps (e.g. a store that fails on its n-th read). */
  wrapDeps?: (deps: HandlerDeps) => HandlerDeps;
  /** Lets tests wrap handlers (e.g. to inject a crash after a given phase). */
  wrapHandlers?: (handlers: Record<Migrate011HandlerName, PhaseInvoker>) => Record<Migrate011HandlerName, PhaseInvoker>;
}

/** Like the runner, never throws for a refusal: a bad config file fails the run before it starts. */
export async function migrateLocally(options: LocalMigrationOptions): Promise<LocalRunResult> {
  let config;
  try {
    config = await loadDataJointConfig(options.configPath, options.defaultStore, options.env);
  } catch (error) {
    if (error instanceof MigrationRefusedError) return { status: 'FAILED', error: { name: error.name, message: error.message } };
    throw error;
  }
  const input = {
    from: '0.11',
    schema: options.schema,
    defaultStore: options.defaultStore,
    mode: options.mode,
    keepLegacy: options.keepLegacy,
    execute: options.execute,
    verifyContents: options.verifyContents ?? false,
    stores: storeLocations(config),
  };
  const localDeps = createLocalDeps(config, options.progress, options.rewriteBudgetMs);
  const deps = options.wrapDeps ? options.wrapDeps(localDeps) : localDeps;
  const handlers = migrate011Handlers(() => deps);
  return runMigrate011Locally({ input, handlers: options.wrapHandlers ? options.wrapHandlers(handlers) : handlers, onStateEntered: options.onStateEntered });
}
