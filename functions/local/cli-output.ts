// What `plan` and `run` of both migrations show on the terminal while a local run goes: progress bars on stderr,
// phase timings, and the one-line refusal/failure message.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { ProgressEvent, ProgressSink } from '../core/progress.js';
import { formatBytes } from './format.js';

/** Wall time of each top-level state of the workflow, from the runner's state-entered events. */
export class PhaseClock {
  private readonly entered: [string, number][] = [];

  /** `topLevel`: the states outside any Map (their names end a phase); 'end' closes the last one. */
  constructor(private readonly topLevel: ReadonlySet<string>) {}

  enter(state: string): void {
    if (this.topLevel.has(state) || state === 'end') this.entered.push([state, performance.now()]);
  }

  /** Seconds per phase; a state entered again (a polling loop) adds to its phase. */
  seconds(): Record<string, number> {
    const seconds: Record<string, number> = {};
    this.entered.slice(0, -1).forEach(([state, at], i) => {
      seconds[state] = (seconds[state] ?? 0) + (this.entered[i + 1][1] - at) / 1000;
    });
    return seconds;
  }
}

export function fail(error: { name: string; message: string } | undefined): number {
  console.error(`djmigrate: ${error?.name === 'MigrationRefused' ? 'refused' : `failed (${error?.name ?? 'unknown error'})`}: ${error?.message ?? ''}`);
  console.error('Nothing is lost: rerun the same command after fixing the cause; finished steps are not repeated.');
  return 1;
}

/** Objects hashed, rows rewritten or converted, rows copied: drawn on stderr so stdout stays the plan/report. */
export class ProgressBars implements ProgressSink {
  /** `hashing`: the run hashes every object (0.11); 0.14 reads objects only where it must. */
  constructor(private readonly options: { hashing: boolean } = { hashing: true }) {}

  private readonly multibar = new MultiBar(
    { format: '  {phase} |{bar}| {value}/{total} {unit} {detail}', hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000, stream: process.stderr },
    Presets.shades_classic,
  );
  private hashing?: SingleBar;
  private rewriting?: SingleBar;
  private copying?: SingleBar;
  private copied = 0;
  private bytes = 0;

  report(event: ProgressEvent): void {
    if (event.kind === 'planned') {
      if (this.options.hashing) this.hashing = this.multibar.create(event.objects, 0, { phase: 'hash   ', unit: 'objects', detail: '' });
      if (event.rows > 0) this.rewriting = this.multibar.create(event.rows, 0, { phase: 'rewrite', unit: 'rows', detail: '' });
    } else if (event.kind === 'objects-hashed') {
      this.bytes += event.bytes;
      this.hashing?.increment(event.objects, { detail: formatBytes(this.bytes) });
    } else if (event.kind === 'rows-rewritten') {
      this.rewriting?.increment(event.rows, { detail: `${event.table}.${event.column}` });
    } else if (event.kind === 'rows-copied') {
      // the copy's total is not known up front: the bar counts what was copied
      this.copied += event.rows;
      this.copying ??= this.multibar.create(0, 0, { phase: 'copy   ', unit: 'rows', detail: '' });
      this.copying.setTotal(this.copied);
      this.copying.update(this.copied, { detail: event.table });
    }
  }

  stop(): void {
    this.multibar.stop();
  }
}

