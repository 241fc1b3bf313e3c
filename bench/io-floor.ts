// The I/O floor: what reading every object once costs with no database work at all — list every store prefix,
// then GET + MD5 + SHA-256 each object with N in flight, through store.digest (djmigrate's own hashing). djmigrate
// has to do at least this (it hashes every object once), so its wall time divided by this is its overhead.
import pLimit from 'p-limit';
import type { ObjectStore } from '../functions/core/stores/object-store.js';

export interface FloorSource {
  name: string;
  store: ObjectStore;
  /** Key prefix to list: `<location>/<db>/` (s3 key prefix, or folder path for a file store). */
  prefix: string;
}

export interface FloorResult {
  objects: number;
  bytes: number;
  listSeconds: number;
  seconds: number;
  perStore: Record<string, { objects: number; bytes: number }>;
}

export async function ioFloor(sources: readonly FloorSource[], concurrency: number): Promise<FloorResult> {
  const started = performance.now();
  const listings = await Promise.all(
    sources.map(async (source) => {
      const keys: { key: string; size: number }[] = [];
      for await (const object of source.store.list(source.prefix)) keys.push(object);
      return { source, keys };
    }),
  );
  const listSeconds = (performance.now() - started) / 1000;
  const limit = pLimit(concurrency);
  const perStore: FloorResult['perStore'] = {};
  let objects = 0;
  let bytes = 0;
  await Promise.all(
    listings.flatMap(({ source, keys }) =>
      keys.map((object) =>
        limit(async () => {
          const digest = await source.store.digest(object.key);
          const tally = (perStore[source.name] ??= { objects: 0, bytes: 0 });
          tally.objects += 1;
          tally.bytes += digest.size;
          objects += 1;
          bytes += digest.size;
        }),
      ),
    ),
  );
  return { objects, bytes, listSeconds, seconds: (performance.now() - started) / 1000, perStore };
}
