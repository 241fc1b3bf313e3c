/** The Lambda functions of the 0.11 → 0.12 workflow, one per phase; the stack, the definition and the local runner share these names. */
export const MIGRATE_011_HANDLERS = [
  'validate',
  'inspect',
  'prepare',
  'startChecksum',
  'checksumState',
  'recordChecksums',
  'hashItems',
  'recordHashes',
  'pendingBatches',
  'hash',
  'fill',
  'discardFills',
  'insert',
  'rewrite',
  'finish',
  'verify',
  'report',
] as const;
export type Migrate011HandlerName = (typeof MIGRATE_011_HANDLERS)[number];

/** The Lambda functions of the 0.14 → 2.0 workflow (both strategies). */
export const MIGRATE_014_HANDLERS = [
  'validate014',
  'plan014',
  'backup014',
  'comments014',
  'prepareExternal014',
  'migrateColumn014',
  'lineage014',
  'prepareCopy014',
  'copyTable014',
  'compareTable014',
  'verify014',
  'report014',
] as const;
export type Migrate014HandlerName = (typeof MIGRATE_014_HANDLERS)[number];

/** The Lambda functions of the batch workflow (the per-schema migrations run as child executions). */
export const BATCH_HANDLERS = ['discoverBatch', 'failureBatch', 'reportBatch'] as const;
export type BatchHandlerName = (typeof BATCH_HANDLERS)[number];

/** The failure path both migrations share: it releases the schema lock before the execution fails. */
export const UNLOCK_HANDLER = 'unlock';
export type UnlockHandlerName = typeof UNLOCK_HANDLER;

/** Frees the lock of an execution that was aborted or timed out (an EventBridge rule on its status change calls it). */
export const UNLOCK_ABANDONED_HANDLER = 'unlockAbandoned';
export type UnlockAbandonedHandlerName = typeof UNLOCK_ABANDONED_HANDLER;

export type HandlerName = Migrate011HandlerName | Migrate014HandlerName | BatchHandlerName | UnlockHandlerName | UnlockAbandonedHandlerName;
export const ALL_HANDLERS: readonly HandlerName[] = [...MIGRATE_011_HANDLERS, ...MIGRATE_014_HANDLERS, ...BATCH_HANDLERS, UNLOCK_HANDLER, UNLOCK_ABANDONED_HANDLER];

/**
 * Each handler's entry file, relative to the handlers folder, in kebab case (`hashItems` → `hash-items.ts`); 0.14's
 * live in `migrate014/`, the batch's in `batch/`.
 */
export function handlerEntry(name: HandlerName): string {
  const kebab = (base: string) => base.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  if (name.endsWith('Batch')) return `batch/${name.slice(0, -'Batch'.length)}.ts`;
  if (name.endsWith('014')) return `migrate014/${kebab(name.slice(0, -'014'.length))}.ts`;
  return `${kebab(name)}.ts`;
}

/** Retries of every handler's Task after its first attempt (the workflows' Retry policy, lib/workflows/tasks.ts). */
export const TASK_RETRIES = 6;
