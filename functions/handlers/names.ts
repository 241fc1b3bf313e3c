/** The Lambda functions of the 0.11 → 0.12 workflow, one per phase; the stack, the definition and the local runner share these names. */
export const MIGRATE_011_HANDLERS = ['validate', 'inspect', 'prepare', 'hash', 'insert', 'rewrite', 'finish', 'verify', 'report'] as const;
export type Migrate011HandlerName = (typeof MIGRATE_011_HANDLERS)[number];

/** The Lambda functions of the 0.14 → 2.0 workflow (both strategies). */
export const MIGRATE_014_HANDLERS = [
  'validate014',
  'plan014',
  'backup014',
  'comments014',
  'prepareExternal014',
  'migrateColumn014',
  'lineage014',
  'prepareCopy014',
  'copyTable014',
  'compareTable014',
  'verify014',
  'report014',
] as const;
export type Migrate014HandlerName = (typeof MIGRATE_014_HANDLERS)[number];

export type HandlerName = Migrate011HandlerName | Migrate014HandlerName;
export const ALL_HANDLERS: readonly HandlerName[] = [...MIGRATE_011_HANDLERS, ...MIGRATE_014_HANDLERS];

/** Each handler's entry file, relative to the handlers folder (0.14's live in `migrate014/`). */
export function handlerEntry(name: HandlerName): string {
  if (!name.endsWith('014')) return `${name}.ts`;
  const base = name.slice(0, -'014'.length).replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  return `migrate014/${base}.ts`;
}
