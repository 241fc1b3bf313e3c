// Where a phase that works in calls of a bounded time (Prepare and its trustEtag step, RecordChecksums, InsertRows,
// Verify) keeps how far the calls of one execution got: a row per phase in the journal, written as the work goes, so
// the next call (the state machine's loop, or a retry after a crash) goes on from there. Another execution's
// checkpoint is set aside: a new run starts the phase over.
import type { Connection } from 'mysql2/promise';
import { execute, select } from '../db/sql.js';
import { journalTables } from './journal.js';

export type CheckpointPhase = 'prepare' | 'etag' | 'checksums' | 'insert' | 'verify';

/** The checkpoint `run` left for `phase`, or null when there is none or it is another run's. */
export async function loadCheckpoint<Progress>(conn: Connection, schema: string, phase: CheckpointPhase, run: string): Promise<Progress | null> {
  const [row] = await select<{ run: string; progress: string }>(conn, `SELECT run, progress FROM ${journalTables(schema).checkpoints} WHERE phase = ?`, [phase]);
  return row && row.run === run ? (JSON.parse(row.progress) as Progress) : null;
}

export async function saveCheckpoint<Progress>(conn: Connection, schema: string, phase: CheckpointPhase, run: string, progress: Progress): Promise<void> {
  await execute(conn, `REPLACE INTO ${journalTables(schema).checkpoints} (phase, run, progress) VALUES (?, ?, ?)`, [phase, run, JSON.stringify(progress)]);
}
