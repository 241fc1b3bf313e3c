// S3 Batch Operations "Compute checksum" backend: no local equivalent exists, so S3 Control and S3 are mocked.
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import {
  CreateJobCommand,
  DescribeJobCommand,
  IdempotencyException,
  NotFoundException,
  S3ControlClient,
  S3ControlServiceException,
  TooManyRequestsException,
} from '@aws-sdk/client-s3-control';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationRefusedError, TransientError } from '../../functions/core/errors.js';
import {
  checksumJobState,
  decodeMd5,
  manifestLine,
  parseCsv,
  readChecksumReport,
  s3BatchChecksumJobs,
  startChecksumJob,
  type ChecksumTaskFailure,
  type StartChecksumJobInput,
} from '../../functions/core/stores/s3-batch-checksum.js';

const controlMock = mockClient(S3ControlClient);
const s3Mock = mockClient(S3Client);
afterEach(() => {
  controlMock.reset();
  s3Mock.reset();
});

const control = () => new S3ControlClient({ region: 'us-east-1' });
const s3 = () => new S3Client({ region: 'us-east-1' });
const body = (text: string) => ({ transformToByteArray: async () => new Uint8Array(Buffer.from(text)), transformToString: async () => text }) as never;
const controlError = (name: string, status: number) => new S3ControlServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });
const s3Error = (name: string, status: number) => new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message: name });

const JOB = 'f8fb9d89-a3aa-461d-bddc-ea6a1b131955';
const input = (over: Partial<StartChecksumJobInput> = {}): StartChecksumJobInput => ({
  accountId: '123456789012',
  roleArn: 'arn:aws:iam::123456789012:role/djmigrate-batch',
  manifest: { bucket: 'lab-migrate', key: 'djmigrate/run-1/manifest.csv' },
  report: { bucket: 'lab-migrate', prefix: 'djmigrate/run-1/report/' },
  objects: [
    { bucket: 'lab-store', key: 'lab/db/plain' },
    { bucket: 'lab-store', key: 'lab/db/with space' },
    { bucket: 'lab-store', key: 'lab/db/a+b' },
    { bucket: 'lab-store', key: 'lab/db/café/ß' },
  ],
  clientToken: 'djmigrate-run-1-hash',
  ...over,
});

const md5 = (s: string) => createHash('md5').update(s).digest();

/** The report's result files merged, as the tests below look at them. */
async function readAll(...args: Parameters<typeof readChecksumReport>) {
  const checksums = new Map<string, Buffer>();
  const failures: ChecksumTaskFailure[] = [];
  for await (const file of readChecksumReport(...args)) {
    for (const [id, value] of file.checksums) checksums.set(id, value);
    failures.push(...file.failures);
  }
  return { checksums, failures };
}

describe('starting a Compute checksum job', () => {
  it('writes a bucket,key CSV manifest with keys URL-encoded (space, +, unicode)', async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"60e460c9d1046e73f7dde5043ac3ae85"' });
    controlMock.on(CreateJobCommand).resolves({ JobId: JOB });
    await expect(startChecksumJob(control(), s3(), input())).resolves.toBe(JOB);
    const [put] = s3Mock.commandCalls(PutObjectCommand);
    expect(put.args[0].input).toMatchObject({ Bucket: 'lab-migrate', Key: 'djmigrate/run-1/manifest.csv' });
    expect(Buffer.from(put.args[0].input.Body as Uint8Array).toString()).toBe(
      'lab-store,lab%2Fdb%2Fplain\n' + 'lab-store,lab%2Fdb%2Fwith%20space\n' + 'lab-store,lab%2Fdb%2Fa%2Bb\n' + 'lab-store,lab%2Fdb%2Fcaf%C3%A9%2F%C3%9F\n',
    );
    expect(manifestLine({ bucket: 'b-1', key: "it's (x)*!" })).toBe('b-1,it%27s%20%28x%29%2A%21\n');
  });

  it('creates the job: MD5 FULL_OBJECT, manifest with ETag, AllTasks report, role, token, no confirmation', async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"60e460c9d1046e73f7dde5043ac3ae85"' });
    controlMock.on(CreateJobCommand).resolves({ JobId: JOB });
    await startChecksumJob(control(), s3(), input());
    const [call] = controlMock.commandCalls(CreateJobCommand);
    expect(call.args[0].input).toMatchObject({
      AccountId: '123456789012',
      ConfirmationRequired: false,
      Operation: { S3ComputeObjectChecksum: { ChecksumAlgorithm: 'MD5', ChecksumType: 'FULL_OBJECT' } },
      Manifest: {
        Spec: { Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key'] },
        Location: { ObjectArn: 'arn:aws:s3:::lab-migrate/djmigrate/run-1/manifest.csv', ETag: '60e460c9d1046e73f7dde5043ac3ae85' },
      },
      Report: { Enabled: true, Bucket: 'arn:aws:s3:::lab-migrate', Prefix: 'djmigrate/run-1/report', Format: 'Report_CSV_20180820', ReportScope: 'AllTasks' },
      RoleArn: 'arn:aws:iam::123456789012:role/djmigrate-batch',
      Priority: 10,
      ClientRequestToken: 'djmigrate-run-1-hash',
    });
  });

  it('falls back to HeadObject for the ETag and is idempotent through the same token', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    s3Mock.on(HeadObjectCommand).resolves({ ETag: '"abc"' });
    controlMock.on(CreateJobCommand).resolves({ JobId: JOB });
    expect(await startChecksumJob(control(), s3(), input())).toBe(JOB);
    expect(await startChecksumJob(control(), s3(), input())).toBe(JOB);
    const calls = controlMock.commandCalls(CreateJobCommand).map((c) => c.args[0].input);
    expect(calls[0].Manifest?.Location?.ETag).toBe('abc');
    expect(calls[0].ClientRequestToken).toBe(calls[1].ClientRequestToken);
  });

  it('refuses bad input before calling AWS', async () => {
    await expect(startChecksumJob(control(), s3(), input({ objects: [] }))).rejects.toBeInstanceOf(MigrationRefusedError);
    await expect(startChecksumJob(control(), s3(), input({ clientToken: 'x'.repeat(65) }))).rejects.toThrow(/1–64/);
    await expect(startChecksumJob(control(), s3(), input({ accountId: '42' }))).rejects.toThrow(/12-digit/);
    expect(s3Mock.calls()).toHaveLength(0);
  });

  it('names the missing permissions on AccessDenied', async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"e"' });
    controlMock.on(CreateJobCommand).rejects(controlError('AccessDenied', 403));
    const error = await startChecksumJob(control(), s3(), input()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationRefusedError);
    expect((error as Error).message).toMatch(/s3:CreateJob/);
    expect((error as Error).message).toMatch(/iam:PassRole on arn:aws:iam::123456789012:role\/djmigrate-batch/);
    expect((error as Error).message).toMatch(/report bucket s3:\/\/lab-migrate/);

    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));
    await expect(startChecksumJob(control(), s3(), input())).rejects.toThrow(/s3:PutObject.*lab-migrate\/djmigrate\/run-1\/manifest.csv/);
  });

  it('maps throttling and 5xx to TransientError, a reused token to a refusal', async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"e"' });
    controlMock.on(CreateJobCommand).rejects(new TooManyRequestsException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }));
    await expect(startChecksumJob(control(), s3(), input())).rejects.toBeInstanceOf(TransientError);
    controlMock.on(CreateJobCommand).rejects(controlError('InternalServiceException', 500));
    await expect(startChecksumJob(control(), s3(), input())).rejects.toBeInstanceOf(TransientError);
    s3Mock.on(PutObjectCommand).rejects(s3Error('SlowDown', 503));
    await expect(startChecksumJob(control(), s3(), input())).rejects.toBeInstanceOf(TransientError);
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"e"' });
    controlMock.on(CreateJobCommand).rejects(new IdempotencyException({ message: 'token reused', $metadata: {} }));
    await expect(startChecksumJob(control(), s3(), input())).rejects.toThrow(/already used/);
  });
});

describe('job state', () => {
  const progress = { TotalNumberOfTasks: 4, NumberOfTasksSucceeded: 3, NumberOfTasksFailed: 1 };

  it.each(['New', 'Preparing', 'Ready', 'Active', 'Pausing', 'Paused', 'Suspended', 'Completing', 'Failing', 'Cancelling'] as const)(
    '%s is not done yet',
    async (Status) => {
      controlMock.on(DescribeJobCommand).resolves({ Job: { JobId: JOB, Status, ProgressSummary: progress } });
      await expect(checksumJobState(control(), '123456789012', JOB)).resolves.toEqual({ done: false, status: Status, total: 4, succeeded: 3, failedTasks: 1 });
    },
  );

  it('Complete is done, with its task counts', async () => {
    controlMock.on(DescribeJobCommand).resolves({ Job: { JobId: JOB, Status: 'Complete', ProgressSummary: progress } });
    await expect(checksumJobState(control(), '123456789012', JOB)).resolves.toEqual({ done: true, status: 'Complete', total: 4, succeeded: 3, failedTasks: 1 });
    const [call] = controlMock.commandCalls(DescribeJobCommand);
    expect(call.args[0].input).toEqual({ AccountId: '123456789012', JobId: JOB });
  });

  it.each(['Failed', 'Cancelled'] as const)('%s is done with a message naming the job, the reason and where to look', async (Status) => {
    controlMock.on(DescribeJobCommand).resolves({
      Job: {
        JobId: JOB,
        Status,
        ProgressSummary: progress,
        FailureReasons: [{ FailureCode: 'AccessDenied', FailureReason: 'Reading the manifest is forbidden' }],
        Report: { Enabled: true, Bucket: 'arn:aws:s3:::lab-migrate', Prefix: 'report' },
      },
    });
    const state = await checksumJobState(control(), '123456789012', JOB);
    expect(state.done).toBe(true);
    expect(state.failed).toContain(JOB);
    expect(state.failed).toMatch(Status === 'Failed' ? /failed/ : /cancelled/);
    expect(state.failed).toMatch(/AccessDenied: Reading the manifest is forbidden/);
    expect(state.failed).toMatch(/S3 console → Batch Operations/);
    expect(state.failed).toMatch(/arn:aws:s3:::lab-migrate\/report/);
  });

  it('an unknown job is refused; throttling is transient; AccessDenied names s3:DescribeJob', async () => {
    controlMock.on(DescribeJobCommand).rejects(new NotFoundException({ message: 'no job', $metadata: { httpStatusCode: 404 } }));
    await expect(checksumJobState(control(), '123456789012', JOB)).rejects.toThrow(new RegExp(`${JOB} does not exist`));
    controlMock.on(DescribeJobCommand).rejects(new TooManyRequestsException({ message: 'slow', $metadata: {} }));
    await expect(checksumJobState(control(), '123456789012', JOB)).rejects.toBeInstanceOf(TransientError);
    controlMock.on(DescribeJobCommand).rejects(controlError('AccessDenied', 403));
    await expect(checksumJobState(control(), '123456789012', JOB)).rejects.toThrow(/s3:DescribeJob/);
  });
});

describe('completion report', () => {
  const REPORT = { bucket: 'lab-migrate', prefix: 'djmigrate/run-1/report/' };
  const base = `djmigrate/run-1/report/job-${JOB}`;
  const b64 = (s: string) => md5(s).toString('base64');
  const hex = (s: string) => md5(s).toString('hex');

  // Succeeded rows in two encodings and placements; a failed row whose message is quoted and holds a comma and quotes.
  const okCsv = [
    `lab-store,lab%2Fdb%2Fplain,,succeeded,200,,${b64('plain')}`,
    `lab-store,lab%2Fdb%2Fwith%20space,,succeeded,200,,"{""checksumAlgorithm"":""MD5"",""checksumType"":""FULL_OBJECT"",""checksum"":""${b64('space')}""}"`,
    `lab-store,lab%2Fdb%2Fa%2Bb,,succeeded,200,,${hex('plus')}`,
    `lab-store,lab%2Fdb%2Fcaf%C3%A9%2F%C3%9F,,succeeded,200,,,${b64('unicode')}`,
  ].join('\r\n') + '\r\n';
  const failedCsv = 'lab-store,lab%2Fdb%2Fgone,,failed,404,NoSuchKey,"The specified key does not exist, ""lab/db/gone"""\n';

  const mockReport = (ok: string, failed = failedCsv, tamper = false) => {
    const manifest = {
      Format: 'Report_CSV_20180820',
      ReportCreationDate: '2026-11-22T01:00:00.000Z',
      Results: [
        { TaskExecutionStatus: 'succeeded', Bucket: 'lab-migrate', MD5Checksum: hex(tamper ? 'other' : ok), Key: `${base}/results/ok.csv` },
        { TaskExecutionStatus: 'failed', Bucket: 'lab-migrate', MD5Checksum: hex(failed), Key: `${base}/results/failed.csv` },
      ],
      ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
    };
    s3Mock.on(GetObjectCommand, { Bucket: 'lab-migrate', Key: `${base}/manifest.json` }).resolves({ Body: body(JSON.stringify(manifest)) });
    s3Mock.on(GetObjectCommand, { Bucket: 'lab-migrate', Key: `${base}/results/ok.csv` }).resolves({ Body: body(ok) });
    s3Mock.on(GetObjectCommand, { Bucket: 'lab-migrate', Key: `${base}/results/failed.csv` }).resolves({ Body: body(failed) });
  };

  it('reads manifest.json and its result files: base64, JSON, hex and extra-column checksums, and failed tasks', async () => {
    mockReport(okCsv);
    const { checksums, failures } = await readAll(s3(), REPORT, JOB);
    expect([...checksums.keys()]).toEqual(['lab-store/lab/db/plain', 'lab-store/lab/db/with space', 'lab-store/lab/db/a+b', 'lab-store/lab/db/café/ß']);
    expect(checksums.get('lab-store/lab/db/plain')).toEqual(md5('plain'));
    expect(checksums.get('lab-store/lab/db/with space')).toEqual(md5('space'));
    expect(checksums.get('lab-store/lab/db/a+b')).toEqual(md5('plus'));
    expect(checksums.get('lab-store/lab/db/café/ß')).toEqual(md5('unicode'));
    for (const v of checksums.values()) expect(v).toHaveLength(16);
    expect(failures).toEqual([{ bucket: 'lab-store', key: 'lab/db/gone', code: 'NoSuchKey', message: 'The specified key does not exist, "lab/db/gone"', httpStatus: 404 }]);
  });

  it('from a later call, skips the result files an earlier one recorded without reading them', async () => {
    mockReport(okCsv);
    const { checksums, failures } = await readAll(s3(), REPORT, JOB, 1);
    expect(checksums.size).toBe(0);
    expect(failures).toHaveLength(1);
    const read = s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key);
    expect(read).toEqual([`${base}/manifest.json`, `${base}/results/failed.csv`]);
  });

  it('reads the JSON result a Compute checksum row carries in its seventh column (hex and base64 of the MD5, its algorithm and type, the ETag)', async () => {
    // the field names aws-samples/sample-s3-batch-checksum-validation reads from real reports
    const json = JSON.stringify({ checksum_base64: b64('obj'), checksum_hex: hex('obj'), checksumAlgorithm: 'MD5', checksumType: 'FULL_OBJECT', ETag: `"${hex('other')}-2"` });
    mockReport(`lab-store,lab%2Fdb%2Fobj,,succeeded,200,,"${json.replaceAll('"', '""')}"\n`);
    const { checksums } = await readAll(s3(), REPORT, JOB);
    // the multipart ETag is not taken for the MD5
    expect(checksums).toEqual(new Map([['lab-store/lab/db/obj', md5('obj')]]));
  });

  it('tells ErrorCode from HTTPStatusCode whichever order they come in', async () => {
    mockReport(okCsv, 'lab-store,x,,failed,AccessDenied,403,"denied, really"\nlab-store,y,,failed,200,PermanentFailure,"boom"\n');
    const { failures } = await readAll(s3(), REPORT, JOB);
    expect(failures.map((f) => [f.code, f.httpStatus])).toEqual([
      ['AccessDenied', 403],
      ['PermanentFailure', 200],
    ]);
  });

  it('refuses a malformed, short or composite checksum, and a non-MD5 algorithm', async () => {
    for (const bad of ['not-a-checksum', Buffer.alloc(15).toString('base64'), `${b64('x')}-3`, 'zz'.repeat(16)]) {
      mockReport(`lab-store,k,,succeeded,200,,${bad}\n`);
      await expect(readAll(s3(), REPORT, JOB)).rejects.toThrow(/No valid 16-byte MD5 for lab-store\/k/);
    }
    mockReport(`lab-store,k,,succeeded,200,,"{""checksumAlgorithm"":""CRC32"",""checksum"":""AAAAAA==""}"\n`);
    await expect(readAll(s3(), REPORT, JOB)).rejects.toThrow(/CRC32/);
    mockReport(`lab-store,k,,succeeded,200,,"{""checksumType"":""COMPOSITE"",""checksum"":""${b64('x')}""}"\n`);
    await expect(readAll(s3(), REPORT, JOB)).rejects.toThrow(/FULL_OBJECT/);
  });

  it('a result file that does not match its manifest MD5 is transient; a missing report is refused', async () => {
    mockReport(okCsv, failedCsv, true);
    await expect(readAll(s3(), REPORT, JOB)).rejects.toBeInstanceOf(TransientError);
    s3Mock.reset();
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no such key', $metadata: {} }));
    await expect(readAll(s3(), REPORT, JOB)).rejects.toThrow(new RegExp(`job-${JOB}/manifest.json does not exist`));
    s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));
    await expect(readAll(s3(), REPORT, JOB)).rejects.toThrow(/s3:GetObject/);
  });
});

describe('helpers', () => {
  it('decodes base64 and hex MD5s and nothing else', () => {
    const digest = md5('abc');
    expect(decodeMd5(digest.toString('base64'))).toEqual(digest);
    expect(decodeMd5(digest.toString('hex').toUpperCase())).toEqual(digest);
    expect(decodeMd5(createHash('sha1').update('abc').digest('base64'))).toBeNull();
    expect(decodeMd5('')).toBeNull();
  });

  it('parses RFC 4180 CSV with quoted commas, doubled quotes, CRLF and embedded newlines', () => {
    expect(parseCsv('a,"b,c","d ""e""",\r\n"multi\nline",x\n\n')).toEqual([
      ['a', 'b,c', 'd "e"', ''],
      ['multi\nline', 'x'],
    ]);
  });
});

describe('the jobs of a run (s3BatchChecksumJobs)', () => {
  it('keeps each run\'s manifest and report under <prefix>/<run>/ and uses the run as the idempotency token', async () => {
    s3Mock.on(PutObjectCommand).resolves({ ETag: '"60e460c9d1046e73f7dde5043ac3ae85"' });
    controlMock.on(CreateJobCommand).resolves({ JobId: JOB });
    const jobs = s3BatchChecksumJobs(() => ({ control: control(), s3: s3() }), { accountId: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/batch', bucket: 'djm-manifests', prefix: 'manifests/checksums' });
    expect(await jobs.start((async function* () { yield { bucket: 'lab-store', key: 'lab/db/a' }; })(), 'djmigrate-run1')).toBe(JOB);
    const put = s3Mock.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({ Bucket: 'djm-manifests', Key: 'manifests/checksums/djmigrate-run1/manifest.csv' });
    expect(Buffer.from(put.Body as Uint8Array).toString()).toBe('lab-store,lab%2Fdb%2Fa\n');
    expect(controlMock.commandCalls(CreateJobCommand)[0].args[0].input).toMatchObject({
      ClientRequestToken: 'djmigrate-run1',
      RoleArn: 'arn:aws:iam::123456789012:role/batch',
      Report: { Bucket: 'arn:aws:s3:::djm-manifests', Prefix: 'manifests/checksums/djmigrate-run1/report' },
    });
    s3Mock.on(GetObjectCommand, { Key: `manifests/checksums/djmigrate-run1/report/job-${JOB}/manifest.json` }).resolves({ Body: body(JSON.stringify({ Format: 'Report_CSV_20180820', Results: [] })) });
    const files = [];
    for await (const file of jobs.report(JOB, 'djmigrate-run1')) files.push(file);
    expect(files).toEqual([]);
  });
});
