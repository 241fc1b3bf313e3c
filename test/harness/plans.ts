// A 0.11 plan as `plan` makes it, for tests of what is printed or announced from one.
import { estimateRun } from '../../functions/core/migrate011/estimate.js';
import type { Plan } from '../../functions/core/migrate011/plan.js';

/** A ready plan of one S3 store of 1,000 objects (1 GB) and one 10,000-row column; `over` replaces fields. */
export function examplePlan(over: Partial<Plan> = {}): Plan {
  const stores = [{ objects: 1_000, bytes: 1e9, s3: true }];
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
}
