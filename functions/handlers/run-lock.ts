// How each phase of a run treats the schema's lock (functions/core/lock): read-only phases only check that no other
// run holds it, the first writing phase of a path takes it (idempotent for the same execution: retries and polls may
// take it again), every later phase only renews it, the last phase and the failure path release it. Renewing never
// re-creates a lock: a phase still starting after its run failed and released the lock stops instead of locking the
// schema again for a run that is over.
import type { Connection } from 'mysql2/promise';
import { acquireSchemaLock, checkSchemaLock, heartbeatSchemaLock, releaseSchemaLock } from '../core/lock/schema-lock.js';

export type LockUse = 'check' | 'take' | 'hold' | 'release';

/** A phase may run up to 15 minutes between two heartbeats (a hash batch, a budgeted rewrite call). */
export const LOCK_STALE_AFTER_SECONDS = 30 * 60;

export interface RunIdentity {
  /** The execution id (`$$.Execution.Id`): the lock's holder. */
  run: string | undefined;
  schema: string;
  execute: boolean;
  takeOverLock: boolean;
  description: string;
}

/** Before the phase: check, take or renew the lock. */
export async function enterLock(conn: Connection, use: LockUse, identity: RunIdentity): Promise<void> {
  if (use === 'release' || !identity.execute) return;
  const { run, schema } = identity;
  if (!run) throw new Error('the workflow passed no execution id (`run`) to a phase that takes the schema lock');
  if (use === 'hold') {
    await heartbeatSchemaLock(conn, schema, run);
    return;
  }
  if (use === 'take') {
    await acquireSchemaLock(conn, schema, { holder: run, description: identity.description, staleAfterSeconds: LOCK_STALE_AFTER_SECONDS, takeOver: identity.takeOverLock });
    return;
  }
  // check: refuse before the first write, without writing anything
  await checkSchemaLock(conn, schema, { holder: run, staleAfterSeconds: LOCK_STALE_AFTER_SECONDS, takeOver: identity.takeOverLock });
}

/** After the phase: release when it was the last one. */
export async function leaveLock(conn: Connection, use: LockUse, identity: RunIdentity): Promise<void> {
  if (use === 'release' && identity.run) await releaseSchemaLock(conn, identity.schema, identity.run);
}
