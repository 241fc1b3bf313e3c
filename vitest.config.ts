import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One throwaway MariaDB + s3rver for the whole run (test/harness/context.ts hands them to the tests).
    globalSetup: ['test/harness/global-setup.ts'],
    reporters: ['default', './test/harness/plain-reporter.ts'],
    pool: 'forks',
    // Two cores: two test files at a time; each test uses its own database, bucket and folder.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
