// RDS has no local equivalent: the snapshot backup is tested against aws-sdk-client-mock.
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import type { Connection } from 'mysql2/promise';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { MAX_SNAPSHOT_POLLS, rdsSnapshotBackup } from '../../functions/core/migrate014/backup-step.js';
import { snapshotIdentifier } from '../../functions/core/migrate014/rds-snapshot.js';

const rds = mockClient(RDSClient);
afterEach(() => rds.reset());
const noConnection = {} as Connection;
const client = () => new RDSClient({ region: 'us-east-1' });
const now = new Date('2026-11-21T12:34:56Z');

describe('RDS snapshot backup', () => {
  it('names snapshots by schema and time within RDS rules', () => {
    expect(snapshotIdentifier('My_Pipeline', now)).toBe('djmigrate-my-pipeline-20261121123456');
  });

  it('starts an instance snapshot, then reports it done once available', async () => {
    rds.on(CreateDBSnapshotCommand).resolves({});
    rds
      .on(DescribeDBSnapshotsCommand)
      .resolvesOnce({ DBSnapshots: [{ Status: 'creating' }] })
      .resolves({ DBSnapshots: [{ Status: 'available' }] });
    const backup = rdsSnapshotBackup(client(), { identifier: 'lab-db' });
    const started = await backup.advance(noConnection, 'lab', null, now);
    expect(started).toEqual({ kind: 'rds-snapshot', id: 'djmigrate-lab-20261121123456', done: false, polls: 0, reused: false });
    expect(rds.commandCalls(CreateDBSnapshotCommand)[0].args[0].input).toMatchObject({ DBInstanceIdentifier: 'lab-db', DBSnapshotIdentifier: started.id });
    const polled = await backup.advance(noConnection, 'lab', started, now);
    expect(polled).toMatchObject({ done: false, polls: 1 });
    expect(await backup.advance(noConnection, 'lab', polled, now)).toMatchObject({ done: true, id: started.id });
    expect(rds.commandCalls(CreateDBSnapshotCommand).length).toBe(1);
  });

  it('uses cluster snapshots for Aurora', async () => {
    rds.on(CreateDBClusterSnapshotCommand).resolves({});
    rds.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [{ Status: 'available' }] });
    const backup = rdsSnapshotBackup(client(), { identifier: 'lab-cluster', cluster: true });
    const started = await backup.advance(noConnection, 'lab', null, now);
    expect(rds.commandCalls(CreateDBClusterSnapshotCommand)[0].args[0].input).toMatchObject({ DBClusterIdentifier: 'lab-cluster' });
    expect((await backup.advance(noConnection, 'lab', started, now)).done).toBe(true);
  });

  it('refuses clearly when the snapshot exists or the instance is unknown', async () => {
    rds.on(CreateDBSnapshotCommand).rejects(new DBSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));
    const exists = rdsSnapshotBackup(client(), { identifier: 'lab-db' }).advance(noConnection, 'lab', null, now);
    await expect(exists).rejects.toBeInstanceOf(MigrationRefusedError);
    await expect(exists).rejects.toThrow(/already exists/);
    rds.reset();
    rds.on(CreateDBSnapshotCommand).rejects(new DBInstanceNotFoundFault({ message: 'no', $metadata: {} }));
    await expect(rdsSnapshotBackup(client(), { identifier: 'nope' }).advance(noConnection, 'lab', null, now)).rejects.toThrow(/instance nope was not found/);
  });

  it('refuses when the snapshot fails, or never becomes available', async () => {
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'failed' }] });
    const backup = rdsSnapshotBackup(client(), { identifier: 'lab-db' });
    const state = { kind: 'rds-snapshot' as const, id: 'broken', done: false, polls: 0, reused: false };
    await expect(backup.advance(noConnection, 'lab', state, now)).rejects.toThrow(/broken is failed/);
    rds.reset();
    rds.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [{ Status: 'creating' }] });
    await expect(backup.advance(noConnection, 'lab', { ...state, polls: MAX_SNAPSHOT_POLLS - 1 }, now)).rejects.toBeInstanceOf(MigrationRefusedError);
  });
});
