// The end-of-run account: what was planned, what was hashed and rewritten, and the verification per column.
// Stored in the journal too, so `report` can be fetched again later.
import type { Connection } from 'mysql2/promise';
import { execute, select } from '../db/sql.js';
import type { Finished } from './finish.js';
import type { Migrate011Input } from './input.js';
import { journalColumns, journalExists, journalTables } from './journal.js';
import type { Plan } from './plan.js';
import type { Verification } from './verify.js';

export interface Report {
  schema: string;
  from: '0.11';
  to: '0.12';
  mode: Migrate011Input['mode'];
  defaultStore: string;
  status: 'migrated' | 'verify-failed';
  legacyTable: Finished['legacyTable'];
  /** Per store: objects, bytes, and how many contents hashes came from a listed ETag (trustEtag) rather than a read. */
  stores: { store: string; objects: number; bytes: number; fromEtag: number; fromS3Batch: number }[];
  /** With trustEtag, objects taken from their ETag were not checked against their legacy SHA-256. */
  trustEtag: boolean;
  /** With s3BatchChecksum, objects hashed by S3 Batch Operations were not checked against their legacy SHA-256 either. */
  s3BatchChecksum: boolean;
  columns: (Verification['columns'][number] & { rowsRewritten: number })[];
  plan: Pick<Plan, 'estimatedSeconds' | 'alreadyMigrated'>;
  startedAt: string | null;
  finishedAt: string;
}

export async function buildReport(conn: Connection, input: Migrate011Input, plan: Plan, finished: Finished, verified: Verification): Promise<Report> {
  const hasJournal = await journalExists(conn, input.schema);
  const t = journalTables(input.schema);
  const stores = hasJournal
    ? await select<{ store: string; objects: number; bytes: number; from_etag: number | null; from_batch: number | null }>(
        conn,
        `SELECT store, COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes, SUM(contents_from = 'etag') AS from_etag, SUM(contents_from = 's3-batch') AS from_batch
           FROM ${t.objects} GROUP BY store ORDER BY store`,
      )
    : [];
  const rewritten = new Map((await journalColumns(conn, input.schema)).map((column) => [`${column.table_name}.${column.column_name}`, Number(column.rows_rewritten)]));
  const [run] = hasJournal ? await select<{ started: number }>(conn, `SELECT UNIX_TIMESTAMP(started_at) AS started FROM ${t.run} WHERE id = 1`) : [];
  const report: Report = {
    schema: input.schema,
    from: '0.11',
    to: '0.12',
    mode: input.mode,
    defaultStore: input.defaultStore,
    status: verified.ok ? 'migrated' : 'verify-failed',
    legacyTable: finished.legacyTable,
    stores: stores.map((row) => ({ store: row.store, objects: Number(row.objects), bytes: Number(row.bytes), fromEtag: Number(row.from_etag ?? 0), fromS3Batch: Number(row.from_batch ?? 0) })),
    trustEtag: input.trustEtag,
    s3BatchChecksum: input.s3BatchChecksum,
    columns: verified.columns.map((column) => ({ ...column, rowsRewritten: rewritten.get(`${column.table}.${column.column}`) ?? 0 })),
    plan: { estimatedSeconds: plan.estimatedSeconds, alreadyMigrated: plan.alreadyMigrated },
    startedAt: run ? new Date(Number(run.started) * 1000).toISOString() : null,
    finishedAt: new Date().toISOString(),
  };
  if (hasJournal) await execute(conn, `UPDATE ${t.run} SET report = ?, finished_at = CURRENT_TIMESTAMP WHERE id = 1`, [JSON.stringify(report)]);
  return report;
}
