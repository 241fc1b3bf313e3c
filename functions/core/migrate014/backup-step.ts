// The Backup step of the 0.14 → 2.0 in-place state machine, one call at a time: a schema copy finishes in its first
// call; an RDS snapshot is started by the first call and polled by the following ones (the state machine waits
// between calls), until it is available.
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Connection } from 'mysql2/promise';
import { MigrationRefusedError } from '../errors.js';
import { ensureSchemaBackup } from './backup.js';
import { rdsSnapshotAvailable, snapshotIdentifier, startRdsSnapshot, type RdsSnapshotTarget } from './rds-snapshot.js';

export interface BackupState {
  kind: 'schema-copy' | 'rds-snapshot';
  /** The backup schema, or the snapshot identifier. */
  id: string;
  done: boolean;
  /** Calls that found the snapshot still being created. */
  polls: number;
  /** A complete backup an earlier run of the same day took (schema copy only). */
  reused: boolean;
}

export interface SchemaBackup {
  /** First call: `previous` null. Then called with the state it returned until `done`. */
  advance(conn: Connection, schema: string, previous: BackupState | null, now?: Date): Promise<BackupState>;
}

export const schemaCopyBackup: SchemaBackup = {
  async advance(conn, schema) {
    const copy = await ensureSchemaBackup(conn, schema);
    return { kind: 'schema-copy', id: copy.backup, done: true, polls: 0, reused: copy.reused };
  },
};

/** Polls allowed before giving up on a snapshot (with the state machine's 60 s wait: 3 hours). */
export const MAX_SNAPSHOT_POLLS = 180;

export function rdsSnapshotBackup(client: RDSClient, target: RdsSnapshotTarget): SchemaBackup {
  return {
    async advance(_conn, schema, previous, now = new Date()) {
      if (!previous) {
        const id = snapshotIdentifier(schema, now);
        await startRdsSnapshot(client, target, id);
        return { kind: 'rds-snapshot', id, done: false, polls: 0, reused: false };
      }
      if (await rdsSnapshotAvailable(client, target, previous.id)) return { ...previous, done: true };
      if (previous.polls + 1 >= MAX_SNAPSHOT_POLLS) {
        throw new MigrationRefusedError(`RDS snapshot ${previous.id} is still not available after ${MAX_SNAPSHOT_POLLS} checks; nothing was changed. Check it in the RDS console, then rerun`);
      }
      return { ...previous, polls: previous.polls + 1 };
    },
  };
}
