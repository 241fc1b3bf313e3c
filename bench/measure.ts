// Small measuring helpers for `npm run bench`: a peak-RSS sampler, a stopwatch with CPU accounting, size parsing and
// formatting.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** Samples process.memoryUsage().rss every `intervalMs` and keeps the peak (this process only, not its children). */
export class RssSampler {
  private timer: NodeJS.Timeout | null = null;
  private peakBytes = 0;

  constructor(private readonly intervalMs = 50) {}

  start(): this {
    this.peakBytes = process.memoryUsage().rss;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.peakBytes) this.peakBytes = rss;
  }

  /** Stops sampling and returns the peak in bytes. */
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.peakBytes;
  }
}

export interface Measured<T> {
  value: T;
  seconds: number;
  peakRss: number;
  /** CPU seconds (user + system) of this process and its child processes while `work` ran; null without /proc. */
  cpuSeconds: number | null;
  /** The same by process: `this process` and each child by its command name. */
  cpuByProcess: Record<string, number> | null;
}

/** Runs `work`, timing it, sampling the peak RSS and counting the CPU time spent meanwhile. */
export async function measure<T>(work: () => Promise<T>): Promise<Measured<T>> {
  // A collection first (when exposed) so one phase's garbage is not charged to the next.
  (globalThis as { gc?: () => void }).gc?.();
  const sampler = new RssSampler().start();
  const cpuBefore = cpuSecondsByProcess();
  const started = process.hrtime.bigint();
  try {
    const value = await work();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuAfter = cpuSecondsByProcess();
    const cpuByProcess =
      cpuBefore === null || cpuAfter === null ? null : Object.fromEntries(Object.entries(cpuAfter).map(([name, used]) => [name, used - (cpuBefore[name] ?? 0)]));
    const cpuSeconds = cpuByProcess === null ? null : Object.values(cpuByProcess).reduce((sum, used) => sum + used, 0);
    return { value, seconds, peakRss: sampler.stop(), cpuSeconds, cpuByProcess };
  } finally {
    sampler.stop();
  }
}

let clockTicks: number | undefined;

/**
 * CPU seconds used so far by this process (worker threads included) and by each of its live child processes (the
 * throwaway MariaDB and s3rver), by command name, from /proc/<pid>/stat; null where there is no /proc (not Linux).
 */
export function cpuSecondsByProcess(): Record<string, number> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return null;
  }
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const own = process.cpuUsage();
  const used: Record<string, number> = { 'this process': (own.user + own.system) / 1e6 };
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (command) state ppid …": utime and stime are the 14th and 15th fields of the whole line
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== process.pid) continue;
    used[command] = (used[command] ?? 0) + (Number(fields[11]) + Number(fields[12])) / clockTicks;
  }
  return used;
}

const UNITS: Record<string, number> = { '': 1, B: 1, KB: 1024, K: 1024, MB: 1024 ** 2, M: 1024 ** 2, GB: 1024 ** 3, G: 1024 ** 3, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3 };

/** `1KB`, `5MB`, `2GB`, `512MiB`, `1048576` → bytes (binary units). */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? UNITS[match[2].toUpperCase()] : undefined;
  if (!match || unit === undefined) throw new Error(`not a size: ${text} (use e.g. 1KB, 5MB, 2GB)`);
  return Math.round(Number(match[1]) * unit);
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

export const mb = (bytes: number): number => bytes / 1024 ** 2;
export const formatInt = (value: number): string => Math.round(value).toLocaleString('en-US');

/**
 * MD5 + SHA-256 of `totalBytes` in memory: a 64 MB buffer hashed repeatedly (the last pass partial), the same two
 * digests djmigrate computes per object. Returns bytes/s.
 */
export function inMemoryHashRate(totalBytes: number): { seconds: number; bytesPerSecond: number } {
  const block = Buffer.alloc(Math.min(64 * 1024 ** 2, Math.max(1, totalBytes)), 0x5a);
  for (let i = 0; i < block.length; i += 4096) block[i] = i & 0xff;
  const started = process.hrtime.bigint();
  const md5 = createHash('md5');
  const sha = createHash('sha256');
  for (let done = 0; done < totalBytes; done += block.length) {
    const part = totalBytes - done >= block.length ? block : block.subarray(0, totalBytes - done);
    md5.update(part);
    sha.update(part);
  }
  md5.digest();
  sha.digest();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, bytesPerSecond: totalBytes / seconds };
}

/** Deterministic PRNG (mulberry32), so a given size and seed always build the same pipeline. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plain text table: first row is the header; columns after the first right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
