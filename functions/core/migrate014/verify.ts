// DataJoint 0.14 → 2.0 in place, step `verify`: read-only, run after the steps it checks. It re-plans each step
// (a finished step has nothing left to do) and, for `migrate_external_storage`, reads every distinct 2.x pointer of
// every `:<blob@S>:` / `:<attach@S>:` / `:<filepath@S>:` column (keyset paging on the value, so memory stays flat),
// checks its JSON shape (spec D.2, D.3) and that its object exists in the store with exactly `size` bytes and, with
// verifyContents, that the base32 MD5 of its bytes is `hash`. Never writes to the database or the stores.
import type { Connection } from 'mysql2/promise';
import pLimit from 'p-limit';
import type { StoreSpec } from '../config/store-spec.js';
import { parseExternalComment, storeObjectKey } from '../datajoint/v012.js';
import { hashOfDigest, type CodecKind } from '../datajoint/v2.js';
import { quoteId, select, serverFlavor, tableRef } from '../db/sql.js';
import { ObjectMissingError, type ObjectStore, type OpenStore } from '../stores/object-store.js';
import { planExternalStorage } from './external-storage.js';
import { IN_PLACE_STEPS, type InPlaceStep } from './steps.js';
import { planLineage } from './lineage.js';
import { isJsonColumn, planCommentUpdates, readColumns } from './update-comments.js';

export interface InPlaceVerifyOptions {
  schema: string;
  /** The steps that ran (each is checked as finished). */
  steps: readonly InPlaceStep[];
  /** 0.14 store name → where its objects are. */
  stores: Record<string, StoreSpec>;
  /** 0.14 store name → 2.x store name, as given to the migration (default: unchanged). */
  storeMap?: Record<string, string>;
  /** Stream blob and attach objects and compare the base32 MD5 of their bytes with the pointer's `hash`. */
  verifyContents?: boolean;
  /** As given to update_blob_comments. */
  unsignedMarkers?: boolean;
  /** Objects checked at once (default 8). */
  concurrency?: number;
}

export interface VerifiedExternalColumn {
  table: string;
  column: string;
  kind: CodecKind;
  /** The 2.x store name in the marker. */
  store: string;
  /** Non-NULL values. */
  rows: number;
  /** Distinct pointers. */
  objects: number;
  /** Sum of the distinct pointers' sizes. */
  bytes: number;
  /** True when the objects' bytes were hashed (verifyContents, blob and attach columns). */
  checkedContents: boolean;
}

export interface InPlaceVerification {
  ok: boolean;
  problems: string[];
  comments?: { pending: number };
  external?: {
    /** `table.column` still 0.14 external columns. */
    remaining: string[];
    columns: VerifiedExternalColumn[];
  };
  lineage?: { missing: number; stale: number };
}

/** Examples kept per column and kind of problem. */
const EXAMPLES = 10;
/** Distinct values read per query. */
const PAGE = 1000;
const CODEC_MARKER = /^:<(blob|attach|filepath)@([^>]*)>:/;
const TEMP_COLUMN = /^_djmigrate_v[12]_\d+$/;
const HASH = /^[a-z2-7]{26}$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00|Z)?$/;

/** Problems grouped by kind, at most EXAMPLES lines each plus a count of the rest. */
class Problems {
  private readonly groups = new Map<string, { lines: string[]; more: number; label: string }>();

  add(group: string, label: string, line: string): void {
    let entry = this.groups.get(group);
    if (!entry) this.groups.set(group, (entry = { lines: [], more: 0, label }));
    if (entry.lines.length < EXAMPLES) entry.lines.push(line);
    else entry.more++;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const { lines, more, label } of this.groups.values()) {
      out.push(...lines);
      if (more > 0) out.push(`… and ${more} more: ${label}`);
    }
    return out;
  }
}

/** Read-only: checks that each requested in-place step has finished and left a consistent 2.x schema. */
export async function verifyInPlace(conn: Connection, options: InPlaceVerifyOptions, openStore: OpenStore): Promise<InPlaceVerification> {
  const { schema } = options;
  const steps = IN_PLACE_STEPS.filter((step) => options.steps.includes(step));
  const problems = new Problems();
  const result: InPlaceVerification = { ok: false, problems: [] };

  if (steps.includes('update_blob_comments')) {
    const plan = await planCommentUpdates(conn, schema, { unsignedMarkers: options.unsignedMarkers });
    result.comments = { pending: plan.changes.length };
    for (const change of plan.changes) {
      problems.add(
        'comments',
        'columns still lacking their 2.x comment marker',
        `${change.table}.${change.column}: comment ${JSON.stringify(change.oldComment)} still lacks the 2.x marker :${change.marker}: (update_blob_comments has not finished)`,
      );
    }
    for (const problem of plan.problems) problems.add('comments-plan', 'update_blob_comments problems', `update_blob_comments: ${problem}`);
  }

  if (steps.includes('migrate_external_storage')) {
    result.external = await verifyExternal(conn, options, openStore, problems);
  }

  if (steps.includes('add_lineage_table')) {
    const plan = await planLineage(conn, schema);
    result.lineage = { missing: plan.changes.length, stale: plan.stale.length };
    if (!plan.tableExists) problems.add('lineage-table', '', `${schema}.~lineage does not exist (add_lineage_table has not run)`);
    for (const row of plan.changes) {
      problems.add('lineage-missing', '~lineage rows missing or wrong', `~lineage lacks ${row.table_name}.${row.attribute_name} -> ${row.lineage} (missing or different)`);
    }
    for (const row of plan.stale) {
      problems.add('lineage-stale', 'stale ~lineage rows', `~lineage has stale row ${row.table_name}.${row.attribute_name} -> ${row.lineage}, which no table explains`);
    }
  }

  result.problems = problems.lines();
  result.ok = result.problems.length === 0;
  return result;
}

interface CodecColumn {
  table: string;
  column: string;
  kind: CodecKind;
  store: string;
  json: boolean;
}

async function verifyExternal(
  conn: Connection,
  options: InPlaceVerifyOptions,
  openStore: OpenStore,
  problems: Problems,
): Promise<NonNullable<InPlaceVerification['external']>> {
  const { schema } = options;
  const plan = await planExternalStorage(conn, { schema, stores: options.stores, storeMap: options.storeMap, concurrency: options.concurrency }, openStore);
  const columns = await readColumns(conn, schema, await serverFlavor(conn));
  const remaining = new Set(plan.columns.map((c) => `${c.table}.${c.column}`));
  const codecColumns: CodecColumn[] = [];
  for (const column of columns) {
    const where = `${column.table}.${column.column}`;
    if (TEMP_COLUMN.test(column.column)) {
      problems.add('temp-column', 'leftover migration columns', `${where} is a leftover column of an unfinished migrate_external_storage run; rerun the step`);
      continue;
    }
    const marker = CODEC_MARKER.exec(column.comment);
    if (marker) {
      codecColumns.push({ table: column.table, column: column.column, kind: marker[1] as CodecKind, store: marker[2], json: isJsonColumn(column) });
      continue;
    }
    if (parseExternalComment(column.comment)) remaining.add(where);
  }
  for (const where of remaining) {
    problems.add('remaining', '0.14 external columns left', `${where} is still a 0.14 external column (migrate_external_storage has not converted it)`);
  }
  for (const problem of plan.problems) problems.add('external-plan', 'migrate_external_storage problems', `migrate_external_storage: ${problem}`);

  const limit = pLimit(Math.max(1, options.concurrency ?? 8));
  const verified: VerifiedExternalColumn[] = [];
  for (const column of codecColumns) verified.push(await verifyCodecColumn(conn, options, column, openStore, limit, problems));
  return { remaining: [...remaining], columns: verified };
}

/** The 0.14 store whose objects a 2.x store name points at (storeMap reversed; unmapped names are unchanged). */
function sourceStoreOf(options: InPlaceVerifyOptions, target: string): string {
  const mapped = Object.entries(options.storeMap ?? {})
    .filter(([, to]) => to === target)
    .map(([from]) => from);
  return mapped.find((from) => options.stores[from]) ?? mapped[0] ?? target;
}

async function verifyCodecColumn(
  conn: Connection,
  options: InPlaceVerifyOptions,
  column: CodecColumn,
  openStore: OpenStore,
  limit: ReturnType<typeof pLimit>,
  problems: Problems,
): Promise<VerifiedExternalColumn> {
  const { schema } = options;
  const where = `${column.table}.${column.column}`;
  const group = (kind: string) => `${where}\0${kind}`;
  const table = tableRef(schema, column.table);
  const value = `CAST(${quoteId(column.column)} AS CHAR CHARACTER SET utf8mb4) COLLATE utf8mb4_bin`;
  const [{ count }] = await select<{ count: number }>(conn, `SELECT COUNT(${quoteId(column.column)}) AS count FROM ${table}`);
  const verified: VerifiedExternalColumn = {
    table: column.table,
    column: column.column,
    kind: column.kind,
    store: column.store,
    rows: Number(count),
    objects: 0,
    bytes: 0,
    checkedContents: false,
  };
  if (!column.json) {
    problems.add(group('type'), '', `${where} is marked :<${column.kind}@${column.store}>: but is not a JSON column; migrate_external_storage did not finish it`);
  }
  const source = sourceStoreOf(options, column.store);
  const spec = options.stores[source];
  if (!spec) {
    problems.add(
      group('store'),
      '',
      `${where} points to store "${column.store}"${source !== column.store ? ` (0.14 store "${source}")` : ''}, which has no spec in the stores; add "${source}" (the 0.14 store spec) and rerun the verification`,
    );
  }
  const store = spec ? openStore(source) : null;
  const contents = Boolean(options.verifyContents) && column.kind !== 'filepath' && store !== null;
  verified.checkedContents = contents;

  let after: string | null = null;
  for (;;) {
    const rows: { v: unknown }[] = await select<{ v: unknown }>(
      conn,
      `SELECT DISTINCT ${value} AS v FROM ${table} WHERE ${quoteId(column.column)} IS NOT NULL${after === null ? '' : ` AND ${value} > ?`} ORDER BY v LIMIT ${PAGE}`,
      after === null ? [] : [after],
    );
    if (rows.length === 0) break;
    const texts = rows.map((row) => (Buffer.isBuffer(row.v) ? row.v.toString('utf8') : String(row.v)));
    after = texts[texts.length - 1];
    const checks: Promise<void>[] = [];
    for (const text of texts) {
      verified.objects++;
      const pointer = parsePointer(options, column, text);
      if ('error' in pointer) {
        problems.add(group('shape'), `${where} pointers with a wrong shape`, `${where}: pointer ${abbreviate(text)} ${pointer.error}`);
        continue;
      }
      verified.bytes += pointer.size;
      if (!spec || !store) continue;
      checks.push(limit(() => checkObject(column, spec, store, source, pointer, contents, text, problems)));
    }
    await Promise.all(checks);
    if (rows.length < PAGE) break;
  }
  return verified;
}

interface ParsedPointer {
  path: string;
  size: number;
  hash: string | null;
  isDir: boolean;
}

function parsePointer(options: InPlaceVerifyOptions, column: CodecColumn, text: string): ParsedPointer | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { error: 'is not valid JSON' };
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { error: 'is not a JSON object' };
  const p = json as Record<string, unknown>;
  const wrong: string[] = [];
  const expected = column.kind === 'filepath' ? ['path', 'store', 'size', 'is_dir', 'timestamp'] : ['hash', 'path', 'schema', 'store', 'size'];
  const missing = expected.filter((key) => !(key in p));
  if (missing.length) wrong.push(`lacks ${missing.join(', ')}`);
  if ('path' in p && (typeof p.path !== 'string' || p.path === '')) wrong.push('has no usable path');
  if ('size' in p && (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0)) wrong.push(`has size ${JSON.stringify(p.size)}, not a byte count`);
  if ('store' in p && p.store !== column.store) wrong.push(`has store ${JSON.stringify(p.store)}, not "${column.store}" as the column marker says`);
  if (column.kind === 'filepath') {
    if ('is_dir' in p && typeof p.is_dir !== 'boolean') wrong.push('has a non-boolean is_dir');
    if ('timestamp' in p && (typeof p.timestamp !== 'string' || !TIMESTAMP.test(p.timestamp))) wrong.push(`has timestamp ${JSON.stringify(p.timestamp)}, not ISO-8601`);
  } else {
    if ('hash' in p && (typeof p.hash !== 'string' || !HASH.test(p.hash))) wrong.push(`has hash ${JSON.stringify(p.hash)}, not 26 lowercase base32 characters`);
    if ('schema' in p && p.schema !== options.schema) wrong.push(`has schema ${JSON.stringify(p.schema)}, not "${options.schema}"`);
  }
  if (wrong.length) return { error: wrong.join('; ') };
  return { path: p.path as string, size: p.size as number, hash: column.kind === 'filepath' ? null : (p.hash as string), isDir: p.is_dir === true };
}

async function checkObject(
  column: CodecColumn,
  spec: StoreSpec,
  store: ObjectStore,
  storeName: string,
  pointer: ParsedPointer,
  contents: boolean,
  text: string,
  problems: Problems,
): Promise<void> {
  const where = `${column.table}.${column.column}`;
  const key = storeObjectKey(spec.protocol, spec.location, pointer.path);
  const at = `${key} in store "${storeName}" (${store.description})`;
  if (pointer.isDir) {
    for await (const found of store.list(`${key}/`)) {
      void found;
      return;
    }
    problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: pointer ${abbreviate(text)} names folder ${at}, which is empty or missing`);
    return;
  }
  const info = await store.stat(key);
  if (!info) {
    problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: object ${at} of pointer ${abbreviate(text)} is missing`);
    return;
  }
  if (info.size !== pointer.size) {
    problems.add(`${where}\0size`, `${where} objects of the wrong size`, `${where}: object ${at} has ${info.size} bytes, the pointer says size ${pointer.size} (${abbreviate(text)})`);
    return;
  }
  if (!contents || pointer.hash === null) return;
  let digest;
  try {
    digest = await store.digest(key);
  } catch (error) {
    if (error instanceof ObjectMissingError) {
      problems.add(`${where}\0missing`, `${where} objects missing`, `${where}: object ${at} of pointer ${abbreviate(text)} is missing`);
      return;
    }
    throw error;
  }
  const hash = hashOfDigest(digest.md5);
  if (hash !== pointer.hash || digest.size !== pointer.size) {
    problems.add(
      `${where}\0hash`,
      `${where} objects whose bytes do not match their hash`,
      `${where}: object ${at} hashes to ${hash} (${digest.size} bytes), the pointer says hash ${pointer.hash}; it was overwritten or is corrupt`,
    );
  }
}

function abbreviate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
