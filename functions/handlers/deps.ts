import type { Connection } from 'mysql2/promise';
import type { StoreSpec } from '../core/config/store-spec.js';
import type { ObjectStore } from '../core/stores/object-store.js';
import type { ProgressSink } from '../core/progress.js';

/** What a handler needs from its runtime: Lambda builds these from env + Secrets Manager, the local runner from the user's config. */
export interface HandlerDeps {
  openDatabase(): Promise<Connection>;
  openStore(name: string, spec: StoreSpec): ObjectStore;
  progress: ProgressSink;
  /** How long one rewrite invocation may work before handing back (Lambda: well inside its timeout). */
  rewriteBudgetMs: number;
}
