// RDS has no local equivalent: the snapshot backup is tested against aws-sdk-client-mock.
import { CreateDBSnapshotCommand, DBSnapshotAlreadyExistsFault, DescribeDBSnapshotsCommand, RDSClient, DescribeDBClusterSnapshotsCommand, CreateDBClusterSnapshotCommand, DBInstanceNotFoundFault } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { createRdsSnapshot, snapshotIdentifier } from '../../functions/core/migrate014/rds-snapshot.js';

const rds = mockClient(RDSClient);
afterEach(() => rds.reset());

describe('RDS snapshot backup', () => {
  it('names snapshots by schema and time within RDS rules', () => {
    expect(snapshotIdentifier('My_Pipeline', new Date('2026-11-21T12:34:56Z'))).toBe('djmigrate-my-pipeline-20261121123456');
  });

  it('creates an instance snapshot and waits until it is available', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolves({ DBSnapshots: [{ Status: 'available' }] });
    const snapshot = await createRdsSnapshot(new RDSClient({ region: 'us-east-1' }), { identifier: 'lab-db' }, 'djmigrate-x-1', { minDelaySeconds: 1, maxWaitSeconds: 60 });
    expect(snapshot).toEqual({ snapshotId: 'djmigrate-x-1', status: 'available' });
    expect(rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input).toMatchObject({ DBInstanceIdentifier: 'lab-db', DBSnapshotIdentifier: 'djmigrate-x-1' });
    expect(rds.commandCalls(DescribeDBSnapshotsCommand).length).toBe(2);
  });

  it('uses cluster snapshots for Aurora', async () => {
    rds.on(CreateDBClusterSnapshotCommand).resolves({});
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'available' }] });
    await createRdsSnapshot(new RDSClient({ region: 'us-east-1' }), { identifier: 'lab-cluster', cluster: true }, 'djmigrate-y-1', { minDelaySeconds: 1 });
    expect(rds.commandCalls(CreateDBClusterSnapshotCommand)[0].args[0].input).toMatchObject({ DBClusterIdentifier: 'lab-cluster' });
  });

  it('refuses clearly when the snapshot exists or the instance is unknown', async () => {
    rds.on(CreateDBSnapshotCommand).rejects(new DBSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    const exists = createRdsSnapshot(new RDSClient({ region: 'us-east-1' }), { identifier: 'lab-db' }, 'dup');
    await expect(exists).rejects.toBeInstanceOf(MigrationRefusedError);
    await expect(exists).rejects.toThrow(/already exists/);
    rds.reset();
    rds.on(CreateDBSnapshotCommand).rejects(new DBInstanceNotFoundFault({ message: 'no', $metadata: {} }));
    await expect(createRdsSnapshot(new RDSClient({ region: 'us-east-1' }), { identifier: 'nope' }, 'x')).rejects.toThrow(/instance nope was not found/);
  });

  it('refuses when the snapshot fails instead of becoming available', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'failed' }] });
    await expect(createRdsSnapshot(new RDSClient({ region: 'us-east-1' }), { identifier: 'lab-db' }, 'broken', { minDelaySeconds: 1, maxWaitSeconds: 5 })).rejects.toBeInstanceOf(MigrationRefusedError);
  });
});
