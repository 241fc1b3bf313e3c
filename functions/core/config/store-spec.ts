import { z } from 'zod';

// A store as the migration sees it: where the objects are, never the credentials (those stay with the
// runner: the user's config file locally, the Lambda role in AWS), so execution input and state hold no secret.
export const S3StoreSpecSchema = z
  .object({
    protocol: z.literal('s3'),
    endpoint: z.string().optional(),
    bucket: z.string().min(1, 'bucket must not be empty'),
    location: z.string(),
    secure: z.boolean().optional(),
    region: z.string().optional(),
  })
  .strict();

export const FileStoreSpecSchema = z
  .object({
    protocol: z.literal('file'),
    location: z.string().min(1, 'location must not be empty'),
  })
  .strict();

export const StoreSpecSchema = z.discriminatedUnion('protocol', [S3StoreSpecSchema, FileStoreSpecSchema]);

export type S3StoreSpec = z.infer<typeof S3StoreSpecSchema>;
export type FileStoreSpec = z.infer<typeof FileStoreSpecSchema>;
export type StoreSpec = z.infer<typeof StoreSpecSchema>;
