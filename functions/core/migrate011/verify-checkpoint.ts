// Verify's checkpoint: how far the verification of one execution got, kept in the journal after every page of
// pointers so that the next call (the state machine's loop, or a retry after a crash) goes on from there.
import type { Connection } from 'mysql2/promise';
import { execute, select } from '../db/sql.js';
import { journalTables } from './journal.js';

/** Where the next check starts: the store (in the journal's order), its pass, the column among its checked ones. */
export interface VerifyCursor {
  store: number;
  pass: number;
  column: number;
  /** The last pointer (hex) of that column checked in that pass; null: from its first. */
  after: string | null;
}

/** A column's verification so far, as JSON. */
export interface SavedColumnCheck {
  column_id: number;
  exists: boolean;
  rows: number;
  pointers: number;
  danglingPointers: number;
  objects: number;
  missing: { count: number; examples: string[] };
  mismatched: { count: number; examples: string[] };
  problems: string[];
}

export interface VerifyCheckpoint {
  cursor: VerifyCursor;
  checks: SavedColumnCheck[];
}

/** The checkpoint `run` left, or null when there is none or it is another run's (a new verification starts over). */
export async function loadVerifyCheckpoint(conn: Connection, schema: string, run: string): Promise<VerifyCheckpoint | null> {
  const [row] = await select<{ run: string; progress: string }>(conn, `SELECT run, progress FROM ${journalTables(schema).verify} WHERE id = 1`);
  return row && row.run === run ? (JSON.parse(row.progress) as VerifyCheckpoint) : null;
}

export async function saveVerifyCheckpoint(conn: Connection, schema: string, run: string, checkpoint: VerifyCheckpoint): Promise<void> {
  await execute(conn, `REPLACE INTO ${journalTables(schema).verify} (id, run, progress) VALUES (1, ?, ?)`, [run, JSON.stringify(checkpoint)]);
}
