// Where the report handlers keep the full report JSON: an encrypted S3 bucket in AWS, nowhere locally.
import type { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describeError } from './logger.js';

/** Same name as the stack's variable (not imported: the bundle must not pull in aws-cdk-lib). */
export const REPORTS_BUCKET_ENV = 'DJMIGRATE_REPORTS_BUCKET';
/** Optional: a KMS key for the reports (SSE-KMS); without it, SSE-S3. */
export const REPORTS_KMS_KEY_ENV = 'DJMIGRATE_REPORTS_KMS_KEY';

export interface ReportStore {
  /**
   * Writes the report as JSON under `key`; returns where (`s3://bucket/key`), or null when reports are not kept or the
   * write failed (logged: the migration is done, a missing copy of its report does not undo it).
   */
  put(key: string, report: unknown): Promise<string | null>;
}

export const noReports: ReportStore = {
  async put() {
    return null;
  },
};

export function s3ReportStore(client: Pick<S3Client, 'send'>, bucket: string, logger: Pick<Logger, 'error'>, kmsKeyId?: string): ReportStore {
  return {
    async put(key, report) {
      try {
        await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: JSON.stringify(report, null, 2),
          ContentType: 'application/json',
          ...(kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId } : { ServerSideEncryption: 'AES256' as const }),
        }),
        );
      } catch (error) {
        logger.error('report not written', { bucket, key, error: describeError(error) });
        return null;
      }
      return `s3://${bucket}/${key}`;
    },
  };
}

/** The execution's name: the last `:` part of its ARN (`$$.Execution.Id`); `unknown` without one. */
export function executionName(run: string | undefined): string {
  const name = run?.split(':').pop();
  return name ? name : 'unknown';
}

/** `reports/<schema>/<execution name>.json` (the batch's: `reports/batch/<execution name>.json`). */
export function reportKey(schema: string, run: string | undefined): string {
  return `reports/${schema}/${executionName(run)}.json`;
}

/** `reports/<schema>/<execution name>-plan.json`: the whole plan of a 0.14 run (its state holds it cut to size). */
export function planKey(schema: string, run: string | undefined): string {
  return `reports/${schema}/${executionName(run)}-plan.json`;
}

/** `manifests/<schema>/<execution name>/<name>.jsonl`: a work manifest of one run (the Distributed Map reads it). */
export function manifestKey(schema: string, run: string | undefined, name: string): string {
  return `manifests/${schema}/${executionName(run)}/${name}.jsonl`;
}

/** Keeps the report and returns it with `reportLocation` when it was written. */
export async function keepReport<Report extends object>(reports: ReportStore, key: string, report: Report): Promise<Report & { reportLocation?: string }> {
  const reportLocation = await reports.put(key, report);
  return reportLocation ? { ...report, reportLocation } : report;
}
