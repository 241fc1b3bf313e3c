// Core modules replaced for handler-level unit tests (vi.mock factories import these): the handlers' glue runs for
// real, the database work is skipped and answers with small, realistic results.
import { vi } from 'vitest';

export const schemaLockFake = () => ({
  releaseSchemaLock: vi.fn(async () => true),
  acquireSchemaLock: vi.fn(async () => ({})),
  heartbeatSchemaLock: vi.fn(async () => undefined),
  checkSchemaLock: vi.fn(async () => undefined),
});

export const inspect011Fake = () => ({ inspectSchema: vi.fn(async () => ({})) });

export const plan011Fake = async () => {
  const { examplePlan } = await import('./plans.js');
  const column = { table: 'scan', column: 'image', legacyType: 'external', store: 'external', nullable: true, rows: 6, pointers: 5, tempColumn: 'instant' as const };
  const plan = examplePlan({ columns: [column], stores: [{ ...examplePlan().stores[0]!, pointers: 5, objects: 5, bytes: 500 }], estimatedSeconds: 1 });
  return { planStep: vi.fn(async () => ({ checkpoint: null, plan })) };
};

export const report011Fake = () => ({
  buildReport: vi.fn(async () => ({
    schema: 'lab',
    from: '0.11',
    to: '0.12',
    mode: 'in-place',
    defaultStore: 'external',
    status: 'migrated',
    legacyTable: 'dropped',
    stores: [{ store: 'external', objects: 5, bytes: 500 }],
    columns: [{ table: 'scan', column: 'image', rowsRewritten: 5 }],
    plan: { estimatedSeconds: 1, alreadyMigrated: [] },
    startedAt: null,
    finishedAt: '2026-01-01T00:00:00.000Z',
  })),
});
