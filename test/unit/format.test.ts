// What `djmigrate plan` and the report print about where contents hashes come from, and what to leave alone meanwhile.
import { describe, expect, it } from 'vitest';
import { estimateRun } from '../../functions/core/migrate011/estimate.js';
import type { Plan } from '../../functions/core/migrate011/plan.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { formatPlan, formatReport } from '../../functions/local/format.js';

const stores = [{ objects: 1_000, bytes: 1e9, s3: true }];
const plan = (over: Partial<Plan> = {}): Plan => {
  const estimate = estimateRun({ stores, columnRows: [10_000], mode: 'in-place', trustEtag: false, s3BatchChecksum: over.s3BatchChecksum ?? false, hashConcurrency: 8, distributedHashingFrom: 1000 });
  return {
    schema: 'lab',
    mode: 'in-place',
    defaultStore: 'external',
    keepLegacy: false,
    status: 'ready',
    legacyTable: 'present',
    columns: [{ table: 'rec', column: 'trace', legacyType: 'external', store: 'external', nullable: false, rows: 10_000, pointers: 10_000, tempColumn: 'online rebuild' }],
    alreadyMigrated: [],
    stores: [{ store: 'external', legacyConfigKey: 'external', location: 's3://lab/dj', columns: 1, pointers: 10_000, objects: 1_000, bytes: 1e9, missingObjects: 0, sizeMismatches: 0 }],
    problems: [],
    rebuildBytes: 0,
    estimatedSeconds: estimate.seconds,
    estimate,
    trustEtag: false,
    s3BatchChecksum: false,
    ...over,
  };
};

describe('formatPlan', () => {
  it('says when the largest store is listed in passes, and warns when a pass would not fit in the functions\' memory', () => {
    // 20 million objects in one store: listed in two passes by default; in one, the listing passes the functions'
    // memory before their time
    const wideRun = { stores: [{ objects: 20_000_000, bytes: 2e13, s3: true }], columnRows: [20_000_000], mode: 'in-place' as const, trustEtag: false, s3BatchChecksum: false, hashConcurrency: 8, distributedHashingFrom: 1000 };
    const inPasses = formatPlan(plan({ estimate: estimateRun(wideRun) }));
    expect(inPasses).toMatch(/The largest store is listed in 2 passes of at most 10,000,000 objects \(listingPassObjects\)/);
    expect(inPasses).not.toMatch(/largest store's listing/);
    const whole = formatPlan(plan({ estimate: estimateRun({ ...wideRun, listingPassObjects: 20_000_000 }) }));
    expect(whole).toMatch(/On AWS Inspect and Verify would need about 2\.25 GB for a pass over the largest store's listing, more than their functions' 2 GB: lower listingPassObjects \(now 20,000,000\)/);
    expect(whole).not.toMatch(/listed in \d+ passes/);
    expect(formatPlan(plan())).not.toMatch(/largest store's listing|listed in \d+ passes/);
  });

  it('says when S3 Batch Operations gives the contents hashes, what that skips, and what the job costs', () => {
    const text = formatPlan(plan({ s3BatchChecksum: true }));
    expect(text).toMatch(/Contents hashes: S3 objects' MD5s from an S3 Batch Operations Compute checksum job .* not checked against their legacy SHA-256/);
    expect(text).toMatch(/S3 Batch Operations \$0\.25 without the checksum's own data charge/);
    expect(formatPlan(plan())).not.toMatch(/Batch Operations/);
  });

  it('asks for a quiet schema while a ready plan runs, not when there is nothing to do or it is refused', () => {
    expect(formatPlan(plan())).toMatch(/While it runs: no 0\.11 writers, and no 0\.12 external cleanup/);
    expect(formatPlan(plan({ status: 'refused', problems: ['x'] }))).not.toMatch(/While it runs/);
    expect(formatPlan(plan({ status: 'nothing-to-do' }))).not.toMatch(/While it runs/);
  });

  it("names how each column's temporary column is added, and the free storage the online rebuilds need", () => {
    const text = formatPlan(plan({ rebuildBytes: 3e9 }));
    expect(text).toMatch(/pointers\s+temporary column\n[\s\S]*rec\.trace .* online rebuild\n/);
    expect(text).toMatch(/Tables rebuilt online to add their temporary columns: 3\.0 GB .* free storage/);
    expect(formatPlan(plan())).not.toMatch(/Tables rebuilt online/);
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
