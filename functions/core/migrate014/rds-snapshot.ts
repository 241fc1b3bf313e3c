// The AWS form of `backup`: an RDS snapshot of the instance (or Aurora cluster) holding the schema, taken before
// the first change. Started once, then polled by the state machine (a Wait loop, since a snapshot can take longer
// than a Lambda may run) until available. A snapshot covers the whole server, not one schema.
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { MigrationRefusedError, TransientError } from '../errors.js';

export interface RdsSnapshotTarget {
  /** The RDS instance identifier, or (Aurora) the cluster identifier with `cluster: true`. */
  identifier: string;
  cluster?: boolean;
}

/** `djmigrate-<schema>-<yyyymmddhhmmss>`, within RDS's identifier rules (letters, digits, hyphens, ≤ 255). */
export function snapshotIdentifier(schema: string, now: Date): string {
  const slug = schema.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'schema';
  return `djmigrate-${slug}-${now.toISOString().replace(/\D/g, '').slice(0, 14)}`.slice(0, 255).replace(/-+$/, '');
}

export async function startRdsSnapshot(client: RDSClient, target: RdsSnapshotTarget, snapshotId: string): Promise<void> {
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
}

/** true once available; false while being created; a refusal when it failed (never migrate without the backup). */
export async function rdsSnapshotAvailable(client: RDSClient, target: RdsSnapshotTarget, snapshotId: string): Promise<boolean> {
  const status = target.cluster
    ? (await client.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshotId }))).DBClusterSnapshots?.[0]?.Status
    : (await client.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }))).DBSnapshots?.[0]?.Status;
  if (status === 'available') return true;
  if (status === 'creating' || status === 'backing-up' || status === undefined) return false;
  throw new MigrationRefusedError(`RDS snapshot ${snapshotId} is ${status}, not available; check it in the RDS console before migrating`);
}
