// What `plan` and `run` of both migrations show on the terminal while a local run goes: progress bars on stderr,
// phase timings, and the one-line refusal/failure message.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { ProgressEvent, ProgressSink } from '../core/progress.js';
import { formatBytes } from './format.js';

/** Wall time of each phase (a state of the workflow), from the runner's state-entered and state-exited events. */
export class PhaseClock {
  private readonly open = new Map<string, number>();
  private readonly totals: Record<string, number> = {};
  private readonly entries: Record<string, number> = {};

  /** `phases`: the states whose time is measured, from entering to leaving them (phases may run side by side). */
  constructor(private readonly phases: ReadonlySet<string>) {}

  /** The runner's callbacks feeding this clock. */
  listeners(): { onStateEntered: (state: string) => void; onStateExited: (state: string) => void } {
    return { onStateEntered: (state) => this.enter(state), onStateExited: (state) => this.exit(state) };
  }

  enter(state: string): void {
    if (!this.phases.has(state)) return;
    this.entries[state] = (this.entries[state] ?? 0) + 1;
    if (!this.open.has(state)) this.open.set(state, performance.now());
  }

  exit(state: string): void {
    const at = this.open.get(state);
    if (at === undefined) return;
    this.open.delete(state);
    this.totals[state] = (this.totals[state] ?? 0) + (performance.now() - at) / 1000;
  }

  /** Seconds per phase; a state entered again (a polling loop) adds to its phase. */
  seconds(): Record<string, number> {
    return { ...this.totals };
  }

  /** Times each phase was entered (a budgeted phase once per call). */
  entered(): Record<string, number> {
    return { ...this.entries };
  }
}

export function fail(error: { name: string; message: string } | undefined): number {
  console.error(`djmigrate: ${error?.name === 'MigrationRefused' ? 'refused' : `failed (${error?.name ?? 'unknown error'})`}: ${error?.message ?? ''}`);
  console.error('Nothing is lost: rerun the same command after fixing the cause; finished steps are not repeated.');
  return 1;
}

/** Objects hashed, rows rewritten or converted, pointers built, rows copied, objects verified: drawn on stderr so stdout stays the plan/report. */
export class ProgressBars implements ProgressSink {
  private readonly multibar: MultiBar;

  /** `hashing`: the run hashes every object (0.11); 0.14 reads objects only where it must. `stream`: stderr. */
  constructor(private readonly options: { hashing: boolean; stream?: NodeJS.WritableStream } = { hashing: true }) {
    this.multibar = new MultiBar(
      { format: '  {phase} |{bar}| {value}/{total} {unit} {detail}', hideCursor: true, noTTYOutput: true, notTTYSchedule: 5000, stream: options.stream ?? process.stderr },
      Presets.shades_classic,
    );
  }
  private hashing?: SingleBar;
  private rewriting?: SingleBar;
  /** Bars without a total up front, by phase: they count what was done. */
  private readonly counting = new Map<string, { bar: SingleBar; done: number }>();
  private bytes = 0;
  private rewritten = 0;

  report(event: ProgressEvent): void {
    if (event.kind === 'planned') {
      if (this.options.hashing) this.hashing = this.multibar.create(event.objects, 0, { phase: 'hash   ', unit: 'objects', detail: '' });
      if (event.rows > 0) this.rewriting = this.multibar.create(event.rows, 0, { phase: 'rewrite', unit: 'rows', detail: '' });
    } else if (event.kind === 'objects-hashed') {
      this.bytes += event.bytes;
      this.hashing?.increment(event.objects, { detail: formatBytes(this.bytes) });
    } else if (event.kind === 'rows-rewritten') {
      this.rewritten += event.rows;
      // rows written since the plan counted them come on top
      if (this.rewriting && this.rewritten > this.rewriting.getTotal()) this.rewriting.setTotal(this.rewritten);
      this.rewriting?.update(this.rewritten, { detail: `${event.table}.${event.column}` });
    } else if (event.kind === 'pointers-built') {
      this.countUp('pointer', 'pointers', event.pointers, `${event.table}.${event.column}`);
    } else if (event.kind === 'rows-copied') {
      this.countUp('copy   ', 'rows', event.rows, event.table);
    } else if (event.kind === 'objects-checked') {
      this.countUp('check  ', 'objects', event.objects, `${event.table}.${event.column}`);
    } else if (event.kind === 'objects-verified') {
      // an object counts once per column pointing at it
      this.countUp('verify ', 'objects', event.objects, `${event.table}.${event.column}`);
    }
  }

  private countUp(phase: string, unit: string, amount: number, detail: string): void {
    const counter = this.counting.get(phase) ?? { bar: this.multibar.create(0, 0, { phase, unit, detail: '' }), done: 0 };
    this.counting.set(phase, counter);
    counter.done += amount;
    counter.bar.setTotal(counter.done);
    counter.bar.update(counter.done, { detail });
  }

  stop(): void {
    this.multibar.stop();
  }
}

