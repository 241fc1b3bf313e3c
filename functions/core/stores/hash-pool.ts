// MD5 + SHA-256 of files on a few worker threads. One Node thread computing both digests is the bottleneck of a
// file store (the disk or page cache is faster), so files are hashed in parallel, one per core, each by a worker that
// reads the file itself: no bytes cross threads and memory stays at one chunk per worker whatever the file's size.
// A free worker takes its share of the waiting files in one message: for small files the messages, not the hashing,
// were the cost (100,000 files of a few bytes: a fifth of the main thread's time went to postMessage).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { StreamDigest } from './hash-stream.js';

// Inline CommonJS, run with `eval: true`: the CLI and the Lambda functions are esbuild bundles, where a separate
// worker file would not exist on disk.
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const { parentPort } = require('node:worker_threads');
const chunk = Buffer.allocUnsafe(1 << 20);
function digest(id, path) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    let size = 0;
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; size += n) {
      md5.update(chunk.subarray(0, n));
      sha256.update(chunk.subarray(0, n));
    }
    return { id, md5: md5.digest('hex'), sha256: sha256.digest('hex'), size };
  } catch (error) {
    return { id, error: { message: String((error && error.message) || error), code: error && error.code } };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
parentPort.on('message', (tasks) => parentPort.postMessage(tasks.map(({ id, path }) => digest(id, path))));
`;
/** At most this many files go to a worker in one message (bounds how unevenly the last files spread). */
const MAX_FILES_PER_MESSAGE = 32;

interface Task {
  id: number;
  path: string;
  resolve: (digest: StreamDigest) => void;
  reject: (error: Error) => void;
}

type Reply = { id: number; md5: string; sha256: string; size: number } | { id: number; error: { message: string; code?: string } };

interface Slot {
  worker: Worker;
  /** The files the worker hashes now (empty: free). */
  tasks: Task[];
}

/** An Error carrying the errno code of the failed read (ENOENT, EISDIR, ...), like fs errors do. */
export class HashReadError extends Error {
  override readonly name = 'HashReadError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class HashPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;

  constructor(readonly size: number = availableParallelism()) {}

  /** MD5, SHA-256 and size of the file at `path`; rejects with HashReadError (with `code`) when it cannot be read. */
  digest(path: string): Promise<StreamDigest> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, path, resolve, reject });
      this.pump();
    });
  }

  /** Terminates every worker, failing the tasks they run (as a crash would); queued and later tasks start new ones. */
  async terminate(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private pump(): void {
    while (this.queue.length) {
      // Workers are started lazily, only when every existing one is busy.
      let slot = this.slots.find((candidate) => candidate.tasks.length === 0);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return; // all busy: the tasks wait in the queue until a worker answers
      // its share of what waits, so the other workers get theirs
      slot.tasks = this.queue.splice(0, Math.min(MAX_FILES_PER_MESSAGE, Math.ceil(this.queue.length / this.size)));
      // A busy worker keeps the process alive until it answers; an idle one must not (see spawn).
      slot.worker.ref();
      slot.worker.postMessage(slot.tasks.map(({ id, path }) => ({ id, path })));
    }
  }

  private spawn(): Slot {
    // execArgv []: the parent's loader flags (tsx, vitest) are useless to this plain script and slow its start.
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    const slot: Slot = { worker, tasks: [] };
    worker.unref();
    worker.on('message', (replies: Reply[]) => {
      const tasks = slot.tasks;
      slot.tasks = [];
      worker.unref();
      for (const [i, task] of tasks.entries()) {
        const reply = replies[i];
        if (reply?.id !== task.id) task.reject(new Error(`hash worker answered out of turn (task ${task.id})`));
        else if ('error' in reply) task.reject(new HashReadError(reply.error.message, reply.error.code));
        else task.resolve({ md5: Buffer.from(reply.md5, 'hex'), sha256: Buffer.from(reply.sha256, 'hex'), size: reply.size });
      }
      this.pump();
    });
    // A crashed worker (uncaught error, out of memory) fails only the tasks it was running and is replaced by the
    // next pump; 'error' always precedes 'exit', and an exit without one (terminate) fails the tasks too.
    const retire = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      const tasks = slot.tasks;
      slot.tasks = [];
      for (const task of tasks) task.reject(error);
      this.pump();
    };
    worker.on('error', (error) => retire(error instanceof Error ? error : new Error(String(error))));
    worker.on('exit', (code) => retire(new Error(`hash worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}

let shared: HashPool | undefined;

/** The process-wide pool, one worker per available core, created on first use. */
export function sharedHashPool(): HashPool {
  return (shared ??= new HashPool());
}
