/** The Lambda functions of the 0.11 → 0.12 workflow, one per phase; the stack, the definition and the local runner share these names. */
export const MIGRATE_011_HANDLERS = ['validate', 'inspect', 'prepare', 'hash', 'insert', 'rewrite', 'finish', 'verify', 'report'] as const;
export type Migrate011HandlerName = (typeof MIGRATE_011_HANDLERS)[number];
