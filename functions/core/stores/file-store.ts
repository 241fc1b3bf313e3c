import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, opendir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { sharedHashPool } from './hash-pool.js';
import type { StreamDigest } from './hash-stream.js';
import { inKeyRange, type KeyRange } from './key-ranges.js';
import { ObjectMissingError, type ObjectInfo, type ObjectStore } from './object-store.js';

/** A DataJoint `file` store: keys are absolute paths below the store's location. */
export class FileObjectStore implements ObjectStore {
  readonly description: string;

  constructor(readonly location: string) {
    this.description = `file:${location}`;
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const info = await stat(key);
      return info.isFile() ? { key, size: info.size } : null;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async read(key: string): Promise<Readable> {
    const stream = createReadStream(key, { highWaterMark: 1 << 20 });
    // Surface a missing file as a rejection here rather than as a stream error later.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) => reject(isNotFound(error) ? new ObjectMissingError(this.description, key) : error));
    });
    return stream;
  }

  async digest(key: string): Promise<StreamDigest> {
    // On the worker pool: hashing on this thread would cap a file store at one core's MD5+SHA-256 rate.
    try {
      return await sharedHashPool().digest(key);
    } catch (error) {
      if (isNotFound(error)) throw new ObjectMissingError(this.description, key);
      throw error;
    }
  }

  async copy(sourceKey: string, targetKey: string): Promise<void> {
    await mkdir(dirname(targetKey), { recursive: true });
    // Copy to a temporary name first so a crash never leaves a truncated object at the target.
    const temporary = temporaryPath(targetKey);
    try {
      await copyFile(sourceKey, temporary);
    } catch (error) {
      if (isNotFound(error)) throw new ObjectMissingError(this.description, sourceKey);
      throw error;
    }
    await rename(temporary, targetKey);
  }

  async *list(prefix: string, range: KeyRange = {}): AsyncIterable<ObjectInfo> {
    const folder = prefix.endsWith('/') ? prefix.slice(0, -1) : dirname(prefix);
    yield* this.walk(folder, (path) => path.startsWith(prefix) && inKeyRange(path, range));
  }

  private async *walk(folder: string, wanted: (path: string) => boolean): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await opendir(folder);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    // sizes come from one stat per file, STAT_AT_ONCE at a time: one after another, a million files on a network
    // file system would take as many round trips
    let files: string[] = [];
    for await (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) yield* this.walk(path, wanted);
      else if (entry.isFile() && wanted(path)) files.push(path);
      if (files.length === STAT_AT_ONCE) {
        yield* await sizesOf(files);
        files = [];
      }
    }
    yield* await sizesOf(files);
  }
}

const STAT_AT_ONCE = 64;

function sizesOf(paths: string[]): Promise<ObjectInfo[]> {
  return Promise.all(paths.map(async (path) => ({ key: path, size: (await stat(path)).size })));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * Where a file is written before it is renamed to `path` (a crash never leaves a truncated object there): a name of
 * its own, so two writers of one path (tables converted side by side, the same object) never share it.
 */
export function temporaryPath(path: string): string {
  return `${path}.djmigrate-${randomUUID()}`;
}
