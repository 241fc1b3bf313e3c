// vitest globalSetup: one sandbox (throwaway MariaDB unless DJMIGRATE_TEST_MYSQL_URL is set, s3rver, a temp
// folder) for the whole run, handed to the tests through provide()/inject() (see context.ts).
import type { TestProject } from 'vitest/node';
import { startSandbox, type Sandbox } from '../../functions/local/sandbox/sandbox.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Why the sandbox could not start ('' when it did): tests that need it fail with this message. */
    sandboxError: string;
    mysqlUrl: string;
    s3Endpoint: string;
    s3AccessKeyId: string;
    s3SecretAccessKey: string;
    fileRoot: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let sandbox: Sandbox | null = null;
  try {
    sandbox = await startSandbox();
  } catch (error) {
    // Unit tests still run; every test that asks for the sandbox fails with this message.
    console.warn(`[djmigrate] sandbox not started: ${error instanceof Error ? error.message : String(error)}`);
    project.provide('sandboxError', error instanceof Error ? error.message : String(error));
  }
  if (sandbox) project.provide('sandboxError', '');
  project.provide('mysqlUrl', sandbox?.mysqlUrl ?? '');
  project.provide('s3Endpoint', sandbox?.s3.endpoint ?? '');
  project.provide('s3AccessKeyId', sandbox?.s3.credentials.accessKeyId ?? '');
  project.provide('s3SecretAccessKey', sandbox?.s3.credentials.secretAccessKey ?? '');
  project.provide('fileRoot', sandbox?.fileRoot ?? '');
  return async () => {
    await sandbox?.stop();
  };
}
