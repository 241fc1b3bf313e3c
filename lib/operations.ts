// Operations resources of the stack: the encrypted reports bucket (+ its access-log bucket), the optional e-mail
// notifications (EventBridge rules → an SNS topic) and the CloudWatch dashboard. The functions emit the custom events
// and the EMF metrics themselves (functions/handlers keep their own copies of these names, so that aws-cdk-lib is
// never bundled into a Lambda); the names here are the contract the tests and the README refer to.
import { Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as snsSubscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { positiveInteger } from './workflows/tasks.js';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** `source` of the events the functions put (on the default bus or the stack's `eventBusName`). */
export const EVENT_SOURCE = 'djmigrate';
/** `detail-type` put by inspect (0.11) / plan014 (0.14) when a plan is ready. */
export const PLAN_READY_DETAIL_TYPE = 'DataJoint Migration Plan Ready';
/** `detail-type` put by report / report014 / reportBatch when a migration succeeded. */
export const SUCCEEDED_DETAIL_TYPE = 'DataJoint Migration Succeeded';
/** `detail-type` put by unlock (the failure path) when a migration failed. */
export const FAILED_DETAIL_TYPE = 'DataJoint Migration Failed';
export const NOTIFICATION_DETAIL_TYPES = [PLAN_READY_DETAIL_TYPE, SUCCEEDED_DETAIL_TYPE, FAILED_DETAIL_TYPE] as const;

/** Environment variable (all functions): the reports bucket's name; the report functions write `reports/…` there. */
export const REPORTS_BUCKET_ENV = 'DJMIGRATE_REPORTS_BUCKET';
/** Environment variable (all functions): the bucket of the Distributed Map's manifests (Prepare writes `manifests/…`). */
export const MANIFESTS_BUCKET_ENV = 'DJMIGRATE_MANIFESTS_BUCKET';
/** Days a manifest (and a Distributed Map result file) is kept: long enough to look into a run, then gone. */
export const MANIFEST_RETENTION_DAYS = 30;
/** Environment variable (all functions): the bus the events go to (`default` or the `eventBusName`). */
export const EVENT_BUS_ENV = 'DJMIGRATE_EVENT_BUS';
/** Key prefix of the reports (the only part of the bucket the report functions may write). */
export const REPORTS_PREFIX = 'reports/';
/** The Distributed Map's manifests (and, below `manifests/results/`, its result files). */
export const MANIFESTS_PREFIX = 'manifests/';

/** EMF namespace and metric names the functions emit, each dimensioned by {@link METRIC_DIMENSION}. */
export const METRICS_NAMESPACE = 'djmigrate';
export const POWERTOOLS_SERVICE_NAME = 'djmigrate';
export const METRIC_NAMES = ['ObjectsHashed', 'BytesHashed', 'RowsRewritten', 'RowsCopied', 'Errors'] as const;
export const METRIC_DIMENSION = 'Workflow';

/** The Powertools / operations environment every function gets. */
export function operationsEnvironment(reportsBucketName: string, manifestsBucketName: string, eventBusName: string): Record<string, string> {
  return {
    [REPORTS_BUCKET_ENV]: reportsBucketName,
    [MANIFESTS_BUCKET_ENV]: manifestsBucketName,
    [EVENT_BUS_ENV]: eventBusName,
    POWERTOOLS_SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
}

export interface ReportsBucketProps {
  /** Days a report (and an access log) is kept; older noncurrent versions go after 30 days. Default 365. */
  readonly retentionDays?: number;
}

/**
 * The bucket the full report JSON of each execution goes to: no public access, SSE-S3, TLS only, versioned, kept on
 * stack deletion, its server access logs in a second bucket (same settings, no logging of its own). Beside it, with
 * the same settings but unversioned and expiring after 30 days, the bucket of the Distributed Map's manifests and
 * result files: the state machine may read and write all of that one, and nothing else there.
 */
export class ReportsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly manifestsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ReportsBucketProps = {}) {
    super(scope, id);
    const retentionDays = props.retentionDays ?? 365;
    positiveInteger('reportsRetentionDays', retentionDays);
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [{ id: 'expire', expiration: Duration.days(retentionDays), abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire',
          expiration: Duration.days(retentionDays),
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    this.manifestsBucket = new s3.Bucket(this, 'Manifests', {
      ...common,
      lifecycleRules: [{ id: 'expire', expiration: Duration.days(MANIFEST_RETENTION_DAYS), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    this.logAccessTo(this.bucket, 'reports-bucket/');
    this.logAccessTo(this.manifestsBucket, 'manifests-bucket/');
  }

  /** Server access logging through a bucket policy (not the LogDeliveryWrite ACL, which BUCKET_OWNER_ENFORCED forbids). */
  private logAccessTo(bucket: s3.Bucket, prefix: string): void {
    (bucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = { destinationBucketName: this.accessLogsBucket.bucketName, logFilePrefix: prefix };
    this.accessLogsBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogsBucket.arnForObjects(`${prefix}*`)],
        conditions: { ArnLike: { 'aws:SourceArn': bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
  }

  /** s3:PutObject (+ abort of its multipart upload) on `manifests/*` only: Prepare's hash manifest. */
  grantWriteManifests(fn: lambda.IFunction): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [this.manifestsBucket.arnForObjects(`${MANIFESTS_PREFIX}*`)] }));
  }

  /** s3:PutObject on `reports/*` only (no read, no delete). */
  grantWriteReports(fn: lambda.IFunction): void {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${REPORTS_PREFIX}*`)] }));
  }
}

export interface NotificationsProps {
  /** Address subscribed to the topic (it must confirm the subscription). */
  readonly email: string;
  /** The bus the functions put their events on (undefined: the default bus). */
  readonly eventBus?: events.IEventBus;
  /** The state machines whose native FAILED / TIMED_OUT / ABORTED status changes are notified. */
  readonly stateMachines: readonly sfn.IStateMachine[];
}

/**
 * An SNS topic with an e-mail subscription and two rules publishing to it: the functions' own events (plan ready,
 * succeeded, failed: with the summary) and the native Step Functions status changes FAILED / TIMED_OUT / ABORTED (those
 * catch failures that never reached the unlock path, e.g. a timeout).
 */
export class Notifications extends Construct {
  readonly topic: sns.Topic;
  readonly migrationEventsRule: events.Rule;
  readonly executionFailedRule: events.Rule;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email)) throw new Error(`notificationEmail is not an e-mail address: ${JSON.stringify(props.email)}`);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'djmigrate',
      // the AWS managed key: EventBridge publishes through a role of this account (authorizeUsingRole), whose use of
      // alias/aws/sns via SNS that key's policy allows (a service principal could not use it)
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    this.topic.addSubscription(new snsSubscriptions.EmailSubscription(props.email));

    const field = (p: string) => events.EventField.fromPath(p);
    this.migrationEventsRule = new events.Rule(this, 'MigrationEventsRule', {
      description: 'djmigrate: plan ready / succeeded / failed events of the functions, to the notification topic',
      eventBus: props.eventBus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [...NOTIFICATION_DETAIL_TYPES] },
      targets: [
        new eventsTargets.SnsTopic(this.topic, {
          authorizeUsingRole: true,
          message: events.RuleTargetInput.fromText(
            // the detail is the summary (small by design: counts, status, the report's location)
            `${field('$.detail-type')}: schema ${field('$.detail.schema')} (from ${field('$.detail.from')}) is ${field('$.detail.status')} ` +
              `(execution ${field('$.detail.executionArn')}). Summary: ${field('$.detail')}`,
          ),
        }),
      ],
    });
    this.executionFailedRule = new events.Rule(this, 'ExecutionFailedRule', {
      description: 'djmigrate: a state machine execution FAILED, TIMED_OUT or was ABORTED, to the notification topic',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: props.stateMachines.map((machine) => machine.stateMachineArn) },
      },
      targets: [
        new eventsTargets.SnsTopic(this.topic, {
          authorizeUsingRole: true,
          message: events.RuleTargetInput.fromText(
            `djmigrate execution ${field('$.detail.name')} ended ${field('$.detail.status')} ` +
              `(execution ${field('$.detail.executionArn')}, state machine ${field('$.detail.stateMachineArn')}). ` +
              `Error: ${field('$.detail.error')}. Cause: ${field('$.detail.cause')}`,
          ),
        }),
      ],
    });
  }
}

export interface OperationsDashboardProps {
  readonly stateMachines: Record<string, sfn.IStateMachine>;
  readonly functions: Record<string, lambda.IFunction>;
}

/** `djmigrate-<stackName>`: executions per state machine, the functions' errors / duration / throttles, the EMF metrics. */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `djmigrate-${Stack.of(this).stackName}`,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# djmigrate (${Stack.of(this).stackName})\nExecutions of the state machines, the functions, and the migration metrics (namespace \`${METRICS_NAMESPACE}\`).`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      ...Object.entries(props.stateMachines).map(
        ([name, machine]) =>
          new cloudwatch.GraphWidget({
            title: `${name}: executions`,
            width: 8,
            left: [
              machine.metricStarted({ period, statistic: 'Sum', label: 'Started' }),
              machine.metricSucceeded({ period, statistic: 'Sum', label: 'Succeeded' }),
              machine.metricFailed({ period, statistic: 'Sum', label: 'Failed' }),
              machine.metricTimedOut({ period, statistic: 'Sum', label: 'TimedOut' }),
            ],
          }),
      ),
    );
    const perFunction = (title: string, metric: (fn: lambda.IFunction, name: string) => cloudwatch.IMetric) =>
      new cloudwatch.GraphWidget({
        title,
        width: 8,
        legendPosition: cloudwatch.LegendPosition.RIGHT,
        left: Object.entries(props.functions).map(([name, fn]) => metric(fn, name)),
      });
    this.dashboard.addWidgets(
      perFunction('Lambda errors', (fn, name) => fn.metricErrors({ period, statistic: 'Sum', label: name })),
      perFunction('Lambda duration (p99)', (fn, name) => fn.metricDuration({ period, statistic: 'p99', label: name })),
      perFunction('Lambda throttles', (fn, name) => fn.metricThrottles({ period, statistic: 'Sum', label: name })),
    );
    // one line per Workflow value the functions emit (SEARCH: no need to know the values here)
    this.dashboard.addWidgets(
      ...METRIC_NAMES.map(
        (metricName) =>
          new cloudwatch.GraphWidget({
            title: `${metricName} (${METRICS_NAMESPACE})`,
            width: metricName === 'Errors' ? 24 : 6,
            left: [
              new cloudwatch.MathExpression({
                expression: `SEARCH('{${METRICS_NAMESPACE},${METRIC_DIMENSION}} MetricName="${metricName}"', 'Sum', ${period.toSeconds()})`,
                usingMetrics: {},
                label: '',
                period,
              }),
            ],
          }),
      ),
    );
  }
}
