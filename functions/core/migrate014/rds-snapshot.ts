// The AWS form of `backup`: an RDS snapshot of the instance (or Aurora cluster) holding the schema, taken before
// the first change and waited for until it is available. A snapshot covers the whole server, not one schema.
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  type RDSClient,
  waitUntilDBClusterSnapshotAvailable,
  waitUntilDBSnapshotAvailable,
} from '@aws-sdk/client-rds';
import { MigrationRefusedError, TransientError } from '../errors.js';

export interface RdsSnapshotTarget {
  /** The RDS instance identifier, or (Aurora) the cluster identifier with `cluster: true`. */
  identifier: string;
  cluster?: boolean;
}

export interface RdsSnapshot {
  snapshotId: string;
  status: 'available';
}

/** `djmigrate-<schema>-<yyyymmddhhmmss>`, within RDS's identifier rules (letters, digits, hyphens, ≤ 255). */
export function snapshotIdentifier(schema: string, now: Date): string {
  const slug = schema.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'schema';
  return `djmigrate-${slug}-${now.toISOString().replace(/\D/g, '').slice(0, 14)}`.slice(0, 255).replace(/-+$/, '');
}

export interface SnapshotWait {
  maxWaitSeconds?: number;
  /** First poll interval (the SDK waiter backs off from here). */
  minDelaySeconds?: number;
}

export async function createRdsSnapshot(client: RDSClient, target: RdsSnapshotTarget, snapshotId: string, wait: SnapshotWait = {}): Promise<RdsSnapshot> {
  const tags = [{ Key: 'created-by', Value: 'djmigrate' }];
  try {
    if (target.cluster) {
      await client.send(new CreateDBClusterSnapshotCommand({ DBClusterIdentifier: target.identifier, DBClusterSnapshotIdentifier: snapshotId, Tags: tags }));
    } else {
      await client.send(new CreateDBSnapshotCommand({ DBInstanceIdentifier: target.identifier, DBSnapshotIdentifier: snapshotId, Tags: tags }));
    }
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    const detail = (error as Error).message;
    if (/AlreadyExists/.test(name)) throw new MigrationRefusedError(`an RDS snapshot named ${snapshotId} already exists; pass another name or delete it`);
    if (/NotFound/.test(name)) throw new MigrationRefusedError(`RDS ${target.cluster ? 'cluster' : 'instance'} ${target.identifier} was not found; check the identifier and region`);
    if (/QuotaExceeded/.test(name)) throw new MigrationRefusedError(`the RDS snapshot quota is used up; delete old snapshots first (${detail})`);
    if (/InvalidDB(Instance|Cluster)State/.test(name)) throw new TransientError(`RDS ${target.identifier} cannot take a snapshot right now (${detail})`, { cause: error });
    throw error;
  }
  const waiter = { client, maxWaitTime: wait.maxWaitSeconds ?? 3600, minDelay: wait.minDelaySeconds ?? 30 };
  try {
    if (target.cluster) await waitUntilDBClusterSnapshotAvailable(waiter, { DBClusterSnapshotIdentifier: snapshotId });
    else await waitUntilDBSnapshotAvailable(waiter, { DBSnapshotIdentifier: snapshotId });
  } catch (error) {
    // The waiter fails when the snapshot ends in a failed state or takes longer than allowed: never migrate then.
    throw new MigrationRefusedError(`RDS snapshot ${snapshotId} did not become available (${(error as Error).message}); check it in the RDS console before migrating`);
  }
  return { snapshotId, status: 'available' };
}
