// AWS list prices (us-east-1, Step Functions Standard, Lambda arm64, S3 Standard requests) the `plan` estimates of
// both migrations use; check the current pricing pages.
export const PRICES_USD = {
  stateTransition: 0.000025,
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.0000002,
  /** GET and HEAD. */
  s3Get: 0.0000004,
  s3List: 0.000005,
  /** PUT and COPY. */
  s3Put: 0.000005,
  /** Step Functions Express: per execution, and per GB-second of duration (billed in 64 MB steps). */
  expressRequest: 0.000001,
  expressGbSecond: 0.00001667,
  /** S3 Batch Operations: per job and per object (the Compute checksum's own data charge, if any, is not modeled). */
  batchJob: 0.25,
  batchObject: 0.000001,
} as const;
