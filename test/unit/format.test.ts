// What `djmigrate plan` and the report print about where contents hashes come from, and what to leave alone meanwhile.
import { describe, expect, it } from 'vitest';
import { estimateRun } from '../../functions/core/migrate011/estimate.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { formatPlan, formatReport } from '../../functions/local/format.js';
import { examplePlan } from '../harness/plans.js';

describe('formatPlan', () => {
  it('says when the largest store is listed in passes, and warns when a pass would not fit in the functions\' memory', () => {
    // 20 million objects in one store: listed in two passes by default; in one, the listing passes the functions'
    // memory before their time
    const wideRun = { stores: [{ objects: 20_000_000, bytes: 2e13, s3: true }], columnRows: [20_000_000], mode: 'in-place' as const, trustEtag: false, s3BatchChecksum: false, hashConcurrency: 8, distributedHashingFrom: 1000 };
    const inPasses = formatPlan(examplePlan({ estimate: estimateRun(wideRun) }));
    expect(inPasses).toMatch(/The largest store is listed in 2 passes of at most 10,000,000 objects \(listingPassObjects\)/);
    expect(inPasses).not.toMatch(/largest store's listing/);
    const whole = formatPlan(examplePlan({ estimate: estimateRun({ ...wideRun, listingPassObjects: 20_000_000 }) }));
    expect(whole).toMatch(/On AWS Inspect and Verify would need about 2\.25 GB for a pass over the largest store's listing, more than their functions' 2 GB: lower listingPassObjects \(now 20,000,000\)/);
    expect(whole).not.toMatch(/listed in \d+ passes/);
    expect(formatPlan(examplePlan())).not.toMatch(/largest store's listing|listed in \d+ passes/);
  });

  it('says when S3 Batch Operations gives the contents hashes, what that skips, and what the job costs', () => {
    const text = formatPlan(examplePlan({ s3BatchChecksum: true }));
    expect(text).toMatch(/Contents hashes: S3 objects' MD5s from an S3 Batch Operations Compute checksum job .* not checked against their legacy SHA-256/);
    expect(text).toMatch(/S3 Batch Operations \$0\.25 without the checksum's own data charge/);
    expect(formatPlan(examplePlan())).not.toMatch(/Batch Operations/);
  });

  it('asks for a quiet schema while a ready plan runs, not when there is nothing to do or it is refused', () => {
    expect(formatPlan(examplePlan())).toMatch(/While it runs: no 0\.11 writers, and no 0\.12 external cleanup/);
    expect(formatPlan(examplePlan({ status: 'refused', problems: ['x'] }))).not.toMatch(/While it runs/);
    expect(formatPlan(examplePlan({ status: 'nothing-to-do' }))).not.toMatch(/While it runs/);
  });

  it("names how each column's temporary column is added, and the free storage the online rebuilds need", () => {
    const text = formatPlan(examplePlan({ rebuildBytes: 3e9 }));
    expect(text).toMatch(/pointers\s+temporary column\n[\s\S]*rec\.trace .* online rebuild\n/);
    expect(text).toMatch(/Tables rebuilt online to add their temporary columns: 3\.0 GB .* free storage/);
    expect(formatPlan(examplePlan())).not.toMatch(/Tables rebuilt online/);
  });
});

describe('formatReport', () => {
  it('counts the hashes taken from S3 Batch Operations per store when the run used it', () => {
    const report = {
      schema: 'lab',
      status: 'migrated',
      mode: 'in-place',
      legacyTable: 'dropped',
      stores: [{ store: 'external', objects: 1_000, bytes: 1e9, fromEtag: 0, fromS3Batch: 998 }],
      columns: [],
      s3BatchChecksum: true,
    } as unknown as Report;
    expect(formatReport(report)).toMatch(/hash from S3 Batch[\s\S]*998/);
    expect(formatReport({ ...report, s3BatchChecksum: false })).not.toMatch(/S3 Batch/);
  });
});
