// What `djmigrate plan` and the report print about where contents hashes come from, and what to leave alone meanwhile;
// a long 0.14 plan cut to fit an execution's state.
import { describe, expect, it } from 'vitest';
import { estimateRun } from '../../functions/core/migrate011/estimate.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { entriesOf, planWithin, type Plan014 } from '../../functions/core/migrate014/plan.js';
import { comparisonWithin } from '../../functions/core/migrate014/report.js';
import { formatPlan, formatPlan014, formatReport } from '../../functions/local/format.js';
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

describe('planWithin and formatPlan014', () => {
  const change = (i: number) => ({ table: `t${i}`, column: 'score', columnType: 'float', marker: 'float32', oldComment: 'a score', newComment: ':float32:a score', definition: '`score` float NOT NULL COMMENT ":float32:a score"' });
  const plan: Plan014 = {
    schema: 'lab',
    strategy: 'in-place',
    status: 'ready',
    problems: [],
    inPlace: {
      schema: 'lab',
      steps: ['update_blob_comments', 'add_lineage_table'],
      status: 'ready',
      problems: [],
      comments: { schema: 'lab', changes: Array.from({ length: 300 }, (_, i) => change(i)), skipped: [], problems: [], statements: Array.from({ length: 300 }, (_, i) => `ALTER TABLE t${i} …`) },
      lineage: { schema: 'lab', tableExists: false, rows: [], changes: [{ table_name: 't0', attribute_name: 'id', lineage: 'lab.t0.id' }], stale: [], ignoredExternalKeys: [] },
    },
  };

  it('leaves a plan that fits as it is', () => {
    expect(planWithin(plan, 1e6)).toBe(plan);
  });

  it('cuts every long list to its first entries until the plan fits, and counts the rest by path', () => {
    const cut = planWithin(plan, 20_000);
    expect(Buffer.byteLength(JSON.stringify(cut))).toBeLessThanOrEqual(20_000);
    expect(cut.inPlace!.comments!.changes).toEqual(plan.inPlace!.comments!.changes.slice(0, 50));
    expect(cut.omitted).toEqual({ 'inPlace.comments.changes': 250, 'inPlace.comments.statements': 250 });
    expect(cut.inPlace!.steps).toEqual(plan.inPlace!.steps);
    expect(entriesOf(cut, 'inPlace.comments.changes', cut.inPlace!.comments!.changes)).toBe(300);
    // tighter: fewer entries kept
    const tighter = planWithin(plan, 2_500);
    expect(tighter.inPlace!.comments!.changes).toHaveLength(5);
    expect(tighter.omitted!['inPlace.comments.changes']).toBe(295);
  });

  it('shows the whole counts, "… and N more" under a cut list, and where the whole plan is', () => {
    const text = formatPlan014({ ...planWithin(plan, 20_000), planLocation: 's3://reports/reports/lab/run-plan.json' });
    expect(text).toContain('update_blob_comments: 300 column(s) get a core-type marker, 0 left unmarked');
    expect(text).toContain('  … and 250 more');
    expect(text).toContain('the whole plan is in s3://reports/reports/lab/run-plan.json');
    expect(formatPlan014(planWithin(plan, 20_000))).toContain('give --plan-file to write the whole plan');
    expect(formatPlan014(plan)).not.toContain('more');
  });
});

describe('formatPlan014: Verify by primary key', () => {
  const column = (table: string, rows: number) => ({
    table,
    column: 'trace',
    kind: 'blob' as const,
    store: 'main',
    targetStore: 'main',
    nullable: false,
    comment: 'a trace',
    constraint: null,
    rows,
    pointers: rows,
    objects: 1_000,
    bytes: 1e6,
  });
  const planOf = (...columns: ReturnType<typeof column>[]): Plan014 => ({
    schema: 'lab',
    strategy: 'in-place',
    status: 'ready',
    problems: [],
    inPlace: { schema: 'lab', steps: ['migrate_external_storage'], status: 'ready', problems: [], external: { schema: 'lab', status: 'ready', columns, migrated: [], problems: [] } },
  });

  it('names the columns whose tables Verify reads in primary-key pages (40M rows or more), and only those', () => {
    const text = formatPlan014(planOf(column('small', 39_999_999), column('big', 40_000_000)));
    expect(text).toContain('Verify reads big.trace (40,000,000 rows or more) in primary-key pages: a HEAD for nearly each of its S3 objects.');
    expect(text).not.toContain('small.trace (');
    expect(formatPlan014(planOf(column('small', 39_999_999)))).not.toContain('primary-key pages');
  });
});

describe('formatPlan014: the copy strategy', () => {
  it('names the tables copied in parts, and how', () => {
    const plan: Plan014 = {
      schema: 'lab',
      strategy: 'copy',
      status: 'ready',
      problems: [],
      copy: { source: 'lab', dest: 'lab_v2', tables: ['session', 'trace'], parts: [{ table: 'trace', column: 'trace_id', parts: 4 }] },
    };
    const text = formatPlan014(plan);
    expect(text).toContain('Copy lab → lab_v2, tables in this order: session, trace');
    expect(text).toContain('trace is copied in 4 parts side by side (ranges of trace_id)');
    expect(formatPlan014({ ...plan, copy: { ...plan.copy!, parts: [] } })).not.toContain('parts');
  });
});

describe('comparisonWithin (a compared table in its share of the state)', () => {
  const discrepancy = (i: number) => ({ key: { id: i }, column: 'label', kind: 'value', prod: 'a'.repeat(100), test: 'b'.repeat(100) });
  const comparison = { table: 'sample', match: false, rowCount: 5, testRowCount: 5, discrepancies: [0, 1, 2, 3, 4].map(discrepancy) };
  const size = Buffer.byteLength(JSON.stringify(discrepancy(0))) + 1;

  it('keeps every discrepancy of a few tables, the first that fit of many, none of very many; the rest counted', () => {
    expect(comparisonWithin(comparison, 1)).toEqual(comparison);
    // 96 KiB over 150 tables: 655 bytes each, 160 of them for the comparison's own fields
    const many = comparisonWithin(comparison, 150);
    expect(many.discrepancies).toEqual(comparison.discrepancies.slice(0, Math.floor((Math.floor((96 * 1024) / 150) - 160) / size)));
    expect(many.discrepancies.length).toBe(1);
    expect(many.discrepanciesLeftOut).toBe(4);
    expect(comparisonWithin(comparison, 1000)).toEqual({ ...comparison, discrepancies: [], discrepanciesLeftOut: 5 });
    // the whole array of 150 such tables stays within the share
    expect(Buffer.byteLength(JSON.stringify(Array.from({ length: 150 }, () => many)))).toBeLessThanOrEqual(96 * 1024);
  });
});
