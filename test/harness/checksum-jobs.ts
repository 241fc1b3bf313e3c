// A stand-in for S3 Batch Operations' Compute checksum (no local equivalent exists): it answers as the service would,
// from the objects' bytes at rest, with a job that is not done at the first look.
import { expect } from 'vitest';
import type { ChecksumJobs } from '../../functions/core/migrate011/batch-checksum.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import type { S3Location } from '../../functions/core/stores/s3-batch-checksum.js';
import type { HandlerDeps } from '../../functions/handlers/deps.js';
import type { LegacyStores } from '../../functions/local/sandbox/legacy-pipeline.js';

export interface ChecksumStandIn {
  jobs: ChecksumJobs;
  /** The object list of every job started. */
  started: S3Location[][];
  looks: number;
}

/** `md5Of` gives an object's MD5 as the job would report it, or null for a failed task. */
export function checksumStandIn(md5Of: (object: S3Location) => Promise<Buffer | null>): ChecksumStandIn {
  const stand: ChecksumStandIn = {
    started: [],
    looks: 0,
    jobs: {
      async start(objects) {
        const listed: S3Location[] = [];
        for await (const object of objects) listed.push(object);
        stand.started.push(listed);
        return `job-${stand.started.length}`;
      },
      async state(job) {
        expect(job).toBe(`job-${stand.started.length}`);
        stand.looks += 1;
        const done = stand.looks % 2 === 0;
        return { done, status: done ? 'Complete' : 'Active', total: 1, succeeded: done ? 1 : 0, failedTasks: 0 };
      },
      // two result files, as S3 splits a report
      async *report(job, run, skip = 0) {
        expect(run).toMatch(/^djmigrate-[0-9a-f]{40}$/);
        const objects = stand.started[Number(job.slice('job-'.length)) - 1] ?? [];
        const half = Math.ceil(objects.length / 2);
        for (const part of [objects.slice(0, half), objects.slice(half)].slice(skip)) {
          const checksums = new Map<string, Buffer>();
          const failures = [];
          for (const object of part) {
            const md5 = await md5Of(object);
            if (md5) checksums.set(`${object.bucket}/${object.key}`, md5);
            else failures.push({ ...object, code: 'InternalError', message: 'simulated failed task' });
          }
          yield { checksums, failures };
        }
      },
    },
  };
  return stand;
}

/** The MD5 of the object's bytes, read from whichever of the stores holds its bucket. */
export function md5FromStores(stores: LegacyStores): (object: S3Location) => Promise<Buffer> {
  return async ({ bucket, key }) => {
    const store = Object.values(stores).find((candidate) => candidate.spec.protocol === 's3' && candidate.spec.bucket === bucket);
    if (!store) throw new Error(`no store holds bucket ${bucket}`);
    return (await openObjectStore(store.spec, store.credentials).digest(key)).md5;
  };
}

export const withChecksumJobs = (jobs: ChecksumJobs) => (deps: HandlerDeps): HandlerDeps => ({ ...deps, checksumJobs: jobs });
