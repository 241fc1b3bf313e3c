import type { DepsProvider } from './phase-handler.js';
import type { Migrate011HandlerName } from './names.js';
import { makeFinishHandler } from './finish.js';
import { makeHashHandler } from './hash.js';
import { makeInsertHandler } from './insert.js';
import { makeInspectHandler } from './inspect.js';
import { makePrepareHandler } from './prepare.js';
import { makeReportHandler } from './report.js';
import { makeRewriteHandler } from './rewrite.js';
import { makeValidateHandler } from './validate.js';
import { makeVerifyHandler } from './verify.js';

export type PhaseInvoker = (event: unknown) => Promise<unknown>;

/** The same handlers Lambda runs, bound to the given deps, for running the workflow in this process. */
export function migrate011Handlers(getDeps: DepsProvider): Record<Migrate011HandlerName, PhaseInvoker> {
  const handlers = {
    validate: makeValidateHandler(),
    inspect: makeInspectHandler(getDeps),
    prepare: makePrepareHandler(getDeps),
    hash: makeHashHandler(getDeps),
    insert: makeInsertHandler(getDeps),
    rewrite: makeRewriteHandler(getDeps),
    finish: makeFinishHandler(getDeps),
    verify: makeVerifyHandler(getDeps),
    report: makeReportHandler(getDeps),
  };
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]) => [name, (event: unknown) => (handler as (e: never, c: never) => Promise<unknown>)(event as never, {} as never)]),
  ) as Record<Migrate011HandlerName, PhaseInvoker>;
}
