// `djmigrate start | status | watch | report`: the same migrations as the local runner, run by the deployed state
// machine. Commands set process.exitCode rather than exit, so a caller (and the tests) can run several.
// The AWS SDK and the calls are loaded by the commands that run (not to slow down every other `djmigrate` command).
import type { S3Client } from '@aws-sdk/client-s3';
import type { HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { formatBytes } from '../local/format.js';
import { RemoteCommandError } from './errors.js';
import { AWS_RETRIES } from '../core/aws-retries.js';
import type { MapRunSummary } from './executions.js';
import { progressFromHistory, type RemoteProgress } from './progress-from-history.js';

export interface RemoteIo {
  /** Makes the Step Functions client; given the region of the ARN at hand. Default: {@link createSfnClient}. */
  sfn?: (region: string | undefined) => SFNClient | Promise<SFNClient>;
  /** Makes the S3 client the report is fetched with. Default: {@link createS3Client}. */
  s3?: (region: string | undefined) => S3Client | Promise<S3Client>;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Whether to draw a progress bar (on process.stdout). Default: process.stdout.isTTY. */
  tty?: boolean;
}

/** The region of an ARN (arn:aws:states:REGION:ACCOUNT:...), if it is one. */
export function regionOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:[^:]+:([^:]+):/.exec(arn)?.[1];
}

export async function createSfnClient(region: string | undefined): Promise<SFNClient> {
  const { SFNClient } = await import('@aws-sdk/client-sfn');
  return new SFNClient({ region, ...AWS_RETRIES });
}

export async function createS3Client(region: string | undefined): Promise<S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  // the report bucket may be in another region than the execution
  return new S3Client({ region, ...AWS_RETRIES, followRegionRedirects: true });
}

interface StartFlags {
  stateMachine?: string;
  input?: string;
  inputJson?: string;
  name?: string;
}

export function registerRemoteCommands(program: Command, io: RemoteIo = {}): Command {
  const out = io.out ?? ((line: string) => console.log(line));
  const err = io.err ?? ((line: string) => console.error(line));
  const sfnFor = async (arn: string) => {
    if (!regionOfArn(arn) && !io.sfn) throw new RemoteCommandError(`${arn} is not a Step Functions ARN (arn:aws:states:REGION:ACCOUNT:…); copy it from the console or from \`djmigrate start\``);
    return (io.sfn ?? createSfnClient)(regionOfArn(arn));
  };
  const s3For = async (arn: string) => (io.s3 ?? createS3Client)(regionOfArn(arn));
  // A RemoteCommandError is the user's to fix: print its message alone. Anything else is a bug and propagates.
  const guarded =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      try {
        process.exitCode = await action(...args);
      } catch (error) {
        if (!(error instanceof RemoteCommandError)) throw error;
        err(`error: ${error.message}`);
        process.exitCode = 1;
      }
    };

  program
    .command('start')
    .description('start a migration on the deployed state machine (same input as the local runner, as JSON)')
    .option('--state-machine <arn>', 'the state machine (default: $DJMIGRATE_STATE_MACHINE_ARN)')
    .option('--input <file>', 'a JSON file with the execution input')
    .option('--input-json <json>', 'the execution input itself')
    .option('--name <name>', 'the execution name (default: generated)')
    .action(
      guarded(async (flags: StartFlags) => {
        const stateMachineArn = flags.stateMachine ?? process.env.DJMIGRATE_STATE_MACHINE_ARN;
        if (!stateMachineArn) throw new RemoteCommandError('give --state-machine ARN or set DJMIGRATE_STATE_MACHINE_ARN');
        if ((flags.input === undefined) === (flags.inputJson === undefined)) throw new RemoteCommandError('give exactly one of --input FILE and --input-json JSON');
        const { parseExecutionInput, startExecution } = await import('./executions.js');
        const input = flags.input !== undefined ? parseExecutionInput(await readInputFile(flags.input), flags.input) : parseExecutionInput(flags.inputJson ?? '', '--input-json');
        const { executionArn } = await startExecution(await sfnFor(stateMachineArn), { stateMachineArn, input, name: flags.name });
        out(executionArn);
        out(`Follow it with: djmigrate watch ${executionArn}`);
        return 0;
      }),
    );

  program
    .command('status <execution-arn>')
    .description('one summary of a deployed migration; exit 1 if it failed, timed out or was aborted')
    .option('--json', 'print JSON instead of text')
    .action(
      guarded(async (executionArn: string, flags: { json?: boolean }) => {
        const { FAILED_STATUSES } = await import('./executions.js');
        const snapshot = await readSnapshot(await sfnFor(executionArn), executionArn, []);
        out(flags.json ? JSON.stringify(snapshotJson(snapshot), null, 2) : formatStatus(snapshot));
        return FAILED_STATUSES.has(snapshot.status) ? 1 : 0;
      }),
    );

  program
    .command('watch <execution-arn>')
    .description('follow a deployed migration until it ends; exit 0 if it succeeded')
    .option('--interval <seconds>', 'seconds between polls', parseInterval, 5)
    .action(
      guarded(async (executionArn: string, flags: { interval: number }) => {
        const sfn = await sfnFor(executionArn);
        const bar = (io.tty ?? process.stdout.isTTY) ? new ProgressLine() : undefined;
        let snapshot: Snapshot | undefined;
        try {
          for (;;) {
            snapshot = await readSnapshot(sfn, executionArn, snapshot?.events ?? []);
            if (bar) bar.update(snapshot);
            else out(formatLine(snapshot));
            if (snapshot.status !== 'RUNNING') break;
            await new Promise((resolve) => setTimeout(resolve, flags.interval * 1000));
          }
        } finally {
          bar?.stop();
        }
        out(`${executionArn}: ${snapshot.status}`);
        if (snapshot.status === 'SUCCEEDED') return 0;
        err(failureText(snapshot.error, snapshot.cause, snapshot.progress));
        return 1;
      }),
    );

  program
    .command('report <execution-arn>')
    .description("print (or write) a finished migration's report; exit 1 if it failed")
    .option('--output <file>', 'write the report here instead of printing it')
    .action(
      guarded(async (executionArn: string, flags: { output?: string }) => {
        const { fetchReport } = await import('./executions.js');
        const result = await fetchReport(await sfnFor(executionArn), await s3For(executionArn), executionArn);
        if (result.kind === 'not-ended') {
          err(`${executionArn} is ${result.status}: there is no report until it ends (djmigrate watch ${executionArn})`);
          return 1;
        }
        if (result.kind === 'failed') {
          err(`${executionArn} ${result.status}`);
          err(failureText(result.error, result.cause));
          return 1;
        }
        const text = prettyJson(result.text);
        if (flags.output === undefined) {
          out(text);
        } else {
          await writeFile(flags.output, `${text}\n`);
          out(`Report (from ${result.source}) written to ${flags.output}`);
        }
        return 0;
      }),
    );
  return program;
}

async function readInputFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new RemoteCommandError(`cannot read --input ${path}: ${(error as Error).message}`);
  }
}

function parseInterval(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new InvalidArgumentError('a number of seconds, 0 or more');
  return seconds;
}

interface Snapshot {
  executionArn: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  error?: string;
  cause?: string;
  events: HistoryEvent[];
  progress: RemoteProgress;
  mapRuns: MapRunSummary[];
}

/** Describes the execution and reads the history past `known` (the events a previous poll read). */
async function readSnapshot(sfn: SFNClient, executionArn: string, known: HistoryEvent[]): Promise<Snapshot> {
  const { describe, mapRuns, readHistory } = await import('./executions.js');
  const execution = await describe(sfn, executionArn);
  const events = [...known, ...(await readHistory(sfn, executionArn, known.at(-1)?.id))];
  const runs = await mapRuns(sfn, events);
  // the Distributed Map's children are Express executions, absent from this history: their objects are the Map
  // Runs' items of succeeded children (an item a child left for the standard Map may be counted again there)
  const fromHistory = progressFromHistory(events);
  const progress = { ...fromHistory, objectsHashed: fromHistory.objectsHashed + runs.reduce((sum, run) => sum + (run.itemCounts?.succeeded ?? 0), 0) };
  return {
    executionArn,
    status: execution.status ?? progress.status ?? 'RUNNING',
    startDate: execution.startDate,
    stopDate: execution.stopDate,
    error: execution.error ?? progress.lastError?.error,
    cause: execution.cause ?? progress.lastError?.cause,
    events,
    progress,
    mapRuns: runs,
  };
}

function snapshotJson({ events: _events, ...rest }: Snapshot): Omit<Snapshot, 'events'> {
  return rest;
}

const number = (value: number) => value.toLocaleString('en-US');
const ofTotal = (value: number, total: number | undefined) => (total === undefined ? number(value) : `${number(value)} / ${number(total)}`);

function formatStatus(snapshot: Snapshot): string {
  const { progress: p } = snapshot;
  const lines = [
    ['Execution', snapshot.executionArn],
    ['Status', `${snapshot.status}${snapshot.startDate ? ` (started ${snapshot.startDate.toISOString()}${snapshot.stopDate ? `, stopped ${snapshot.stopDate.toISOString()}` : ''})` : ''}`],
    ['State', p.currentState ?? '-'],
    ['Objects', `${ofTotal(p.objectsHashed, p.totals.objects)} hashed, ${formatBytes(p.bytesHashed)}${p.totals.bytes === undefined ? '' : ` of ${formatBytes(p.totals.bytes)}`}`],
    ['Rows', `${ofTotal(p.rowsRewritten, p.totals.rows)} rewritten`],
    ['Columns', `${ofTotal(p.columnsDone, p.totals.columns)} done`],
  ];
  if (p.rowsCopied > 0 || p.tablesDone > 0) lines.push(['Copied', `${number(p.rowsCopied)} rows, ${number(p.tablesDone)} tables done`]);
  for (const run of snapshot.mapRuns) lines.push(['Map run', formatMapRun(run)]);
  lines.push(['Failures', number(p.failures)]);
  if (snapshot.error || snapshot.cause) lines.push(['Last error', `${snapshot.error ?? ''}${snapshot.cause ? `: ${snapshot.cause}` : ''}`]);
  return lines.map(([label, value]) => `${label.padEnd(11)}${value}`).join('\n');
}

function formatMapRun({ mapRunArn, status, itemCounts: c }: MapRunSummary): string {
  const counts = c ? `: ${number(c.succeeded ?? 0)} succeeded, ${number(c.failed ?? 0)} failed of ${number(c.total ?? 0)} items` : '';
  return `${mapRunArn} ${status ?? ''}${counts}`;
}

/** One line per poll when the output is not a terminal. */
function formatLine({ status, progress: p, mapRuns: runs }: Snapshot): string {
  const items = runs.map((run) => `map ${run.itemCounts?.succeeded ?? 0}/${run.itemCounts?.total ?? 0}`);
  return [
    status,
    p.currentState ?? '-',
    `objects ${ofTotal(p.objectsHashed, p.totals.objects)} (${formatBytes(p.bytesHashed)})`,
    `rows ${ofTotal(p.rowsRewritten, p.totals.rows)}`,
    `columns ${ofTotal(p.columnsDone, p.totals.columns)}`,
    ...(p.rowsCopied > 0 || p.tablesDone > 0 ? [`copied ${number(p.rowsCopied)} rows, ${number(p.tablesDone)} tables`] : []),
    ...items,
    `failures ${p.failures}`,
  ].join(' | ');
}

/** What the bar fills with: objects while hashing, then rows (rewritten or copied), else columns. */
function barMeasure(p: RemoteProgress): { value: number; total: number; unit: string } {
  const rows = p.rowsRewritten + p.rowsCopied;
  if (p.totals.objects && rows === 0 && p.objectsHashed < p.totals.objects) return { value: p.objectsHashed, total: p.totals.objects, unit: 'objects' };
  if (p.totals.rows) return { value: Math.min(rows, p.totals.rows), total: p.totals.rows, unit: 'rows' };
  return { value: p.columnsDone, total: p.totals.columns ?? 0, unit: 'columns' };
}

class ProgressLine {
  private readonly bar = new SingleBar(
    {
      format: '{bar} {value}/{total} {unit} | {state} | {bytes} hashed | columns {columns} | failures {failures}',
      hideCursor: true,
      // the TTY check is on stdout, so draw there (cli-progress defaults to stderr)
      stream: process.stdout,
    },
    Presets.shades_classic,
  );
  private started = false;

  update({ progress: p }: Snapshot): void {
    const { value, total, unit } = barMeasure(p);
    const payload = { unit, state: p.currentState ?? '-', bytes: formatBytes(p.bytesHashed), columns: ofTotal(p.columnsDone, p.totals.columns), failures: p.failures };
    if (!this.started) {
      this.bar.start(total, value, payload);
      this.started = true;
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, payload);
    }
  }

  stop(): void {
    if (this.started) this.bar.stop();
  }
}

function failureText(error: string | undefined, cause: string | undefined, progress?: RemoteProgress): string {
  const failures = progress && progress.failures > 0 ? ` (${progress.failures} failure events in the history)` : '';
  return `error: ${error ?? 'unknown'}${failures}\ncause: ${cause ?? 'none given'}`;
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
