import { z } from 'zod';
import { STORE_NAME_PATTERN } from '../datajoint/v012.js';
import { StoreSpecSchema } from '../config/store-spec.js';

/** Objects of a store Inspect, Verify and trustEtag hold listed at a time by default (~1 GB of memory). */
export const DEFAULT_LISTING_PASS_OBJECTS = 10_000_000;

/** The execution input of a 0.11 → 0.12 migration: what the console, the CLI and schedules all send. */
export const Migrate011InputSchema = z
  .object({
    from: z.literal('0.11'),
    /** The DataJoint schema (MySQL database) to migrate. */
    schema: z.string().min(1).max(64),
    /** 0.12 store name for plain `external` columns. */
    defaultStore: z.string().regex(STORE_NAME_PATTERN, 'must be a store name 0.12 accepts ([a-z][a-z0-9_]*)').default('external'),
    /** in-place: keep objects where they are (filepath fallback); native: copy to the 0.12 uuid path. */
    mode: z.enum(['in-place', 'native']).default('in-place'),
    /** Rename `~external` to `~djmigrate_legacy_external` instead of dropping it. */
    keepLegacy: z.boolean().default(false),
    /** Plan only unless true. */
    execute: z.boolean().default(false),
    /** Take over the schema's lock from a run that stopped heartbeating (see the lock's refusal message). */
    takeOverLock: z.boolean().default(false),
    /** 0.12 store name → where its objects are (no credentials). */
    stores: z.record(z.string(), StoreSpecSchema),
    /** Verify re-reads every object and checks its MD5, not only its size and the hash recorded while hashing. */
    verifyContents: z.boolean().default(false),
    /** Objects hashed at once within one batch (and re-read at once by verifyContents). */
    hashConcurrency: z.number().int().min(1).max(64).default(8),
    /**
     * In place: take an S3 object's contents hash from its listed ETag when that is a plain MD5 (checked on a sample
     * of streamed objects) instead of reading it; the SHA-256 check against the legacy hash is then skipped.
     */
    trustEtag: z.boolean().default(false),
    /**
     * In place, on AWS: S3 Batch Operations' Compute checksum (MD5) gives the S3 objects' contents hashes instead of
     * reading them through Lambda (checked on a sample of streamed objects); the SHA-256 check against the legacy hash
     * is then skipped for them. For stores too large to stream; the job adds minutes of start-up.
     */
    s3BatchChecksum: z.boolean().default(false),
    /**
     * Hash through the Distributed Map (a manifest, Express children, many Lambdas at once) when at least this many
     * objects are to hash; fewer go through the standard Map of batches.
     */
    distributedHashingFrom: z.number().int().min(1).default(1000),
    /**
     * Inspect, Verify and trustEtag hold at most this many of a store's objects listed at a time (~100 bytes each):
     * a bigger store is listed and compared in passes over key ranges, its database rows read once per pass.
     */
    listingPassObjects: z.number().int().min(1).default(DEFAULT_LISTING_PASS_OBJECTS),
  })
  .strict()
  .refine((input) => !(input.trustEtag && input.mode === 'native'), {
    path: ['trustEtag'],
    message: 'trustEtag works with mode "in-place" only: native mode copies every object, so there is nothing to save',
  })
  .refine((input) => !(input.s3BatchChecksum && input.mode === 'native'), {
    path: ['s3BatchChecksum'],
    message: 's3BatchChecksum works with mode "in-place" only: native mode copies every object, so there is nothing to save',
  });

export type Migrate011Input = z.infer<typeof Migrate011InputSchema>;
