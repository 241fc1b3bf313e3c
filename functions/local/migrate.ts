// One local migration run: the user's DataJoint config → execution input (locations only) + local deps → the
// synthesized state machine executed in this process with the real handlers.
import { loadDataJointConfig, storeLocations, type DataJointConfig } from '../core/config/datajoint-config.js';
import { MigrationRefusedError } from '../core/errors.js';
import type { ProgressSink } from '../core/progress.js';
import { migrate011Handlers, migrate014Handlers, type PhaseInvoker } from '../handlers/registry.js';
import type { HandlerDeps } from '../handlers/deps.js';
import type { HandlerName } from '../handlers/names.js';
import type { WorkflowName } from '../../lib/djmigrate-stack.js';
import { createLocalDeps } from './local-deps.js';
import { runLocally, type LocalRunResult } from './runner.js';

interface LocalRunOptions {
  configPath: string;
  execute: boolean;
  /** Take over the schema lock of a run that stopped heartbeating (the input's takeOverLock). */
  takeOverLock?: boolean;
  progress: ProgressSink;
  env?: NodeJS.ProcessEnv;
  workBudgetMs?: number;
  /** Called with each state's name as the run enters it (progress, phase timing). */
  onStateEntered?: (stateName: string) => void;
  /** Called with each state's name as the run leaves it. */
  onStateExited?: (stateName: string) => void;
  /** Lets tests wrap the deps (e.g. a store that fails on its n-th read). */
  wrapDeps?: (deps: HandlerDeps) => HandlerDeps;
  /** Lets tests wrap handlers (e.g. to inject a crash after a given phase). */
  wrapHandlers?: (handlers: Partial<Record<HandlerName, PhaseInvoker>>) => Partial<Record<HandlerName, PhaseInvoker>>;
}

export interface LocalMigrationOptions extends LocalRunOptions {
  schema: string;
  defaultStore: string;
  mode: 'in-place' | 'native';
  keepLegacy: boolean;
  /** Verify re-reads every object (see the input's verifyContents). */
  verifyContents?: boolean;
  /** Contents hashes from S3 ETags where they are plain MD5s (see the input's trustEtag). */
  trustEtag?: boolean;
  /** S3 Batch Operations checksums (the input's s3BatchChecksum): refused unless `wrapDeps` brings `checksumJobs`. */
  s3BatchChecksum?: boolean;
  /** Objects hashed at once within one batch (the input's hashConcurrency; default 8). */
  hashConcurrency?: number;
  /** Hash through the Distributed Map from this many objects on (the input's distributedHashingFrom; default 1000). */
  distributedHashingFrom?: number;
  /** At most this many of a store's objects listed at a time (the input's listingPassObjects; default 10,000,000). */
  listingPassObjects?: number;
}

/** 0.11 → 0.12. Like the runner, never throws for a refusal: a bad config file fails the run before it starts. */
export function migrateLocally(options: LocalMigrationOptions): Promise<LocalRunResult> {
  return runWithConfig('migrate011', options, options.defaultStore, (config) => ({
    from: '0.11',
    schema: options.schema,
    defaultStore: options.defaultStore,
    mode: options.mode,
    keepLegacy: options.keepLegacy,
    execute: options.execute,
    verifyContents: options.verifyContents ?? false,
    trustEtag: options.trustEtag ?? false,
    s3BatchChecksum: options.s3BatchChecksum ?? false,
    ...(options.hashConcurrency !== undefined ? { hashConcurrency: options.hashConcurrency } : {}),
    ...(options.distributedHashingFrom !== undefined ? { distributedHashingFrom: options.distributedHashingFrom } : {}),
    ...(options.listingPassObjects !== undefined ? { listingPassObjects: options.listingPassObjects } : {}),
    takeOverLock: options.takeOverLock ?? false,
    stores: storeLocations(config),
  }));
}

export interface LocalMigration014Options extends LocalRunOptions {
  /** The execution input's fields besides `from`, `execute` and `stores` (which come from here and the config). */
  input: Record<string, unknown> & { schema: string };
}

/** 0.14 → 2.0, either strategy. Never throws for a refusal. */
export function migrateLocally014(options: LocalMigration014Options): Promise<LocalRunResult> {
  return runWithConfig('migrate014', options, 'external', (config) => ({
    from: '0.14',
    ...options.input,
    execute: options.execute,
    takeOverLock: options.takeOverLock ?? false,
    stores: storeLocations(config),
  }));
}

async function runWithConfig(
  workflow: WorkflowName,
  options: LocalRunOptions,
  defaultStore: string,
  inputOf: (config: DataJointConfig) => Record<string, unknown>,
): Promise<LocalRunResult> {
  let config;
  try {
    config = await loadDataJointConfig(options.configPath, defaultStore, options.env);
  } catch (error) {
    if (error instanceof MigrationRefusedError) return { status: 'FAILED', error: { name: error.name, message: error.message } };
    throw error;
  }
  const localDeps = createLocalDeps(config, options.progress, options.workBudgetMs);
  const deps = options.wrapDeps ? options.wrapDeps(localDeps) : localDeps;
  const handlers = workflow === 'migrate011' ? migrate011Handlers(() => deps) : migrate014Handlers(() => deps);
  return runLocally({
    workflow,
    input: inputOf(config),
    handlers: options.wrapHandlers ? options.wrapHandlers(handlers) : handlers,
    onStateEntered: options.onStateEntered,
    onStateExited: options.onStateExited,
    manifests: deps.manifests,
  });
}
