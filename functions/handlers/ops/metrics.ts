// CloudWatch metrics as embedded metric format lines (Powertools), namespace djmigrate, dimension Workflow.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ProgressEvent } from '../../core/progress.js';
import { SERVICE_NAME } from './logger.js';

export const METRICS_NAMESPACE = 'djmigrate';
export const WORKFLOW_DIMENSION = 'Workflow';
export type Workflow = 'migrate011' | 'migrate014' | 'batch';

export const METRIC_NAMES = {
  objectsHashed: 'ObjectsHashed',
  bytesHashed: 'BytesHashed',
  rowsRewritten: 'RowsRewritten',
  rowsCopied: 'RowsCopied',
  errors: 'Errors',
} as const;

/** Only the Workflow dimension (no `service`): the dashboard searches `{djmigrate,Workflow}`. */
export function createMetrics(): Metrics {
  const metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME,
  });
  metrics.clearDefaultDimensions();
  return metrics;
}

/** The metrics a progress event stands for (none for planned / column-swapped). */
export function recordProgress(metrics: Metrics, event: ProgressEvent): void {
  switch (event.kind) {
    case 'objects-hashed':
      metrics.addMetric(METRIC_NAMES.objectsHashed, MetricUnit.Count, event.objects);
      metrics.addMetric(METRIC_NAMES.bytesHashed, MetricUnit.Bytes, event.bytes);
      break;
    case 'rows-rewritten':
      metrics.addMetric(METRIC_NAMES.rowsRewritten, MetricUnit.Count, event.rows);
      break;
    case 'rows-copied':
      metrics.addMetric(METRIC_NAMES.rowsCopied, MetricUnit.Count, event.rows);
      break;
    default:
      break;
  }
}

/** Flushes this invocation's metrics (one EMF line), if there are any. */
export function publishMetrics(metrics: Metrics): void {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  else metrics.clearDimensions();
}
