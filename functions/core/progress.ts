/** Where phases report what they did; the CLI draws a bar from it, Lambda logs and emits metrics. */
export interface ProgressSink {
  report(event: ProgressEvent): void;
}

export type ProgressEvent =
  | { kind: 'objects-hashed'; objects: number; bytes: number }
  | { kind: 'rows-rewritten'; table: string; column: string; rows: number }
  | { kind: 'column-swapped'; table: string; column: string }
  | { kind: 'rows-copied'; table: string; rows: number }
  /** 0.14: 2.x pointers computed into the pointer map (before a column is converted or a table copied). */
  | { kind: 'pointers-built'; table: string; column: string; pointers: number }
  | { kind: 'objects-verified'; table: string; column: string; objects: number }
  /** 0.14: objects looked at before a migration (Plan, PrepareExternalStorage). */
  | { kind: 'objects-checked'; table: string; column: string; objects: number }
  | { kind: 'planned'; objects: number; bytes: number; rows: number; columns: number };

export const silentProgress: ProgressSink = { report() {} };
