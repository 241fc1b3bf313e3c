import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, ArnFormat, CfnOutput, Duration, Fn, RemovalPolicy, Stack, TimeZone, type StackProps } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cxapi from 'aws-cdk-lib/cx-api';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import {
  ALL_HANDLERS,
  BATCH_HANDLERS,
  handlerEntry,
  MIGRATE_011_HANDLERS,
  MIGRATE_014_HANDLERS,
  type BatchHandlerName,
  type HandlerName,
  type Migrate011HandlerName,
  type Migrate014HandlerName,
  UNLOCK_HANDLER,
  type UnlockHandlerName,
} from '../functions/handlers/names.js';
import { parseBatchInput } from '../functions/core/batch/discover.js';
import { batchDefinition } from './workflows/batch.js';
import { migrate011Definition } from './workflows/migrate-011.js';
import { positiveInteger } from './workflows/tasks.js';
import { migrate014Definition } from './workflows/migrate-014.js';
import { applyNagSuppressions } from './nag.js';
import { Notifications, operationsEnvironment, OperationsDashboard, ReportsBucket } from './operations.js';

/** The repository root (holds package.json, package-lock.json, cdk.json). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The `detail-type` of the custom event that starts one schema's migration: `detail` is exactly that migration's
 * execution input (`{from: "0.11" | "0.14", schema, execute, stores, …}`), routed by `detail.from`. Any source.
 */
export const MIGRATION_REQUESTED_DETAIL_TYPE = 'DataJoint Schema Migration Requested';

/** The stack id `lib/app.ts` uses (override with context `stackName`). */
export const DJMIGRATE_STACK_ID = 'Djmigrate';

/** Secret name used when neither the `dbSecretArn` prop nor context is given (synth still works; a warning says so). */
export const DEFAULT_DB_SECRET_NAME = 'djmigrate/db';

/** Environment variable through which the functions get the database secret's ARN (never its value). */
export const DB_SECRET_ARN_ENV = 'DJMIGRATE_DB_SECRET_ARN';
/** Environment variable: how long one budgeted invocation (Inspect, Prepare, fill, InsertRows, rewrite, Verify, 0.14 column, table copy) works before handing back (ms). */
export const WORK_BUDGET_ENV = 'DJMIGRATE_WORK_BUDGET_MS';
/** Environment variable: an RDS Proxy endpoint the functions connect through instead of the secret's host. */
export const DB_PROXY_ENDPOINT_ENV = 'DJMIGRATE_DB_PROXY_ENDPOINT';
/** Environment variables naming what the 0.14 backup snapshots (unset: a schema copy). */
export const RDS_INSTANCE_ENV = 'DJMIGRATE_RDS_INSTANCE';
export const RDS_CLUSTER_ENV = 'DJMIGRATE_RDS_CLUSTER';
/** Environment variables of the s3BatchChecksum functions: the role S3 Batch Operations assumes, the account of the jobs. */
export const BATCH_CHECKSUM_ROLE_ENV = 'DJMIGRATE_BATCH_CHECKSUM_ROLE_ARN';
export const ACCOUNT_ID_ENV = 'DJMIGRATE_ACCOUNT_ID';
/** Where in the manifests bucket each run's Compute checksum manifest and completion report go (lambda-deps.ts: same). */
export const CHECKSUM_PREFIX = 'manifests/checksums';
/** The functions that start, poll and read S3 Batch Operations Compute checksum jobs. */
const CHECKSUM_FUNCTIONS: readonly HandlerName[] = ['startChecksum', 'checksumState', 'recordChecksums'];
/** What a budgeted invocation leaves of its timeout for the last chunk and the column swap (or index build). */
const WORK_RESERVE = Duration.minutes(5);

/** Lambda settings per handler; everything not listed: 512 MB, 5 min. `budgeted` ones hand back before their timeout. */
const FUNCTION_SETTINGS: Partial<Record<HandlerName, { memorySize?: number; timeout?: Duration; budgeted?: boolean }>> = {
  hash: { memorySize: 1024, timeout: Duration.minutes(15) },
  // a Distributed Map child is an Express execution: 5 minutes for both steps, their retries included
  hashItems: { memorySize: 1024, timeout: Duration.minutes(4) },
  recordHashes: { timeout: Duration.minutes(1) },
  // Inspect and Verify hold a store's listing, or a pass of it (at most listingPassObjects, ~100 bytes of memory each,
  // listed-objects.ts; trustEtag lists in Prepare) and check ~50,000 objects a second on a whole vCPU, which Lambda
  // gives from 1,769 MB on; they work from a checkpoint for a budget per call, as many calls as a schema needs
  inspect: { memorySize: 2048, timeout: Duration.minutes(15), budgeted: true },
  prepare: { memorySize: 2048, timeout: Duration.minutes(15), budgeted: true },
  verify: { memorySize: 2048, timeout: Duration.minutes(15), budgeted: true },
  // the pending object list, and the completion report of millions of objects
  startChecksum: { memorySize: 1024, timeout: Duration.minutes(15) },
  recordChecksums: { memorySize: 1024, timeout: Duration.minutes(15), budgeted: true },
  // one INSERT … SELECT per journal batch, ~100,000 rows/s here: tens of millions of objects a call, as many calls as needed
  insert: { timeout: Duration.minutes(15), budgeted: true },
  // the fill's last call builds the column's index; dropping a column rebuilds the table before MySQL 8.0.29
  fill: { timeout: Duration.minutes(15), budgeted: true },
  discardFills: { timeout: Duration.minutes(15) },
  rewrite: { timeout: Duration.minutes(15), budgeted: true },
  plan014: { timeout: Duration.minutes(15), budgeted: true },
  prepareExternal014: { timeout: Duration.minutes(15), budgeted: true },
  migrateColumn014: { memorySize: 1024, timeout: Duration.minutes(15), budgeted: true },
  prepareCopy014: { timeout: Duration.minutes(15) },
  copyTable014: { memorySize: 1024, timeout: Duration.minutes(15), budgeted: true },
  compareTable014: { timeout: Duration.minutes(15), budgeted: true },
  verify014: { memorySize: 1024, timeout: Duration.minutes(15), budgeted: true },
};
const DEFAULT_MEMORY_MB = 512;
const DEFAULT_TIMEOUT = Duration.minutes(5);
/** Task TimeoutSeconds = Lambda timeout + this, so the Lambda's own timeout is what fires in AWS. */
const TASK_TIMEOUT_MARGIN = Duration.minutes(1);

/** Functions that read the stores' objects (s3:GetObject + s3:ListBucket). */
const STORE_READERS: readonly HandlerName[] = ['inspect', 'prepare', 'recordChecksums', 'hashItems', 'hash', 'verify', 'plan014', 'prepareExternal014', 'migrateColumn014', 'prepareCopy014', 'copyTable014', 'verify014'];
/** Functions that write objects: native-mode copies (0.11), 2.x attachments and copy-files (0.14). Nothing deletes. */
const STORE_WRITERS: readonly HandlerName[] = ['hashItems', 'hash', 'migrateColumn014', 'copyTable014'];
/** Functions that write the full report JSON (and the 0.14 plan) to the reports bucket (`reports/*`, s3:PutObject only). */
export const REPORT_WRITERS: readonly HandlerName[] = ['report', 'report014', 'reportBatch', 'plan014'];
/**
 * Functions that put the djmigrate events (events:PutEvents on the stack's bus): plan ready (inspect, plan014),
 * succeeded (the report functions), failed (unlock, the failure path).
 */
export const EVENT_PUBLISHERS: readonly HandlerName[] = ['inspect', 'plan014', 'report', 'report014', 'reportBatch', 'unlock', 'unlockAbandoned'];

/** `import { createRequire }` banner: lets CommonJS dependencies `require()` inside the ESM bundle. */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __djmigrateCreateRequire } from 'module'; const require = __djmigrateCreateRequire(import.meta.url);";

export interface DjmigrateStackProps extends StackProps {
  /** VPC the functions run in (with `subnetIds`). No lookup: synth stays offline. Context: `vpcId`. */
  readonly vpcId?: string;
  /** Subnets (of `vpcId`) for the functions; they need a route to S3, Secrets Manager and the database. Context: `subnetIds` (list or comma-separated). */
  readonly subnetIds?: string[];
  /** Security groups for the functions; default: one new group, all outbound allowed. Context: `securityGroupIds`. */
  readonly securityGroupIds?: string[];
  /** Secrets Manager secret with host/port/username/password of the database. Context: `dbSecretArn`. Default: the secret named `djmigrate/db`. */
  readonly dbSecretArn?: string;
  /** Buckets of the DataJoint stores. Context: `storeBuckets` (list or comma-separated). */
  readonly storeBuckets?: string[];
  /** RDS instance the 0.14 in-place `backup` snapshots. Context: `dbInstanceIdentifier`. Unset (and no cluster): a schema copy. */
  readonly dbInstanceIdentifier?: string;
  /** Aurora cluster the 0.14 in-place `backup` snapshots (instead of an instance). Context: `dbClusterIdentifier`. */
  readonly dbClusterIdentifier?: string;
  /** Hash batches processed at once (MaxConcurrency of HashObjects). Context: `hashConcurrency`. Default 4. */
  readonly hashConcurrency?: number;
  /** Distributed Map children at once when hashing many objects (each hashes its batch). Context: `distributedConcurrency`. Default 40. */
  readonly distributedConcurrency?: number;
  /**
   * Seconds a 0.11 column fill first waits before looking again whether the objects it needs are hashed; each further
   * pause is half as long again, up to 5 minutes. Context: `storePollSeconds`. Default 10.
   */
  readonly storePollSeconds?: number;
  /** Tables worked on at once, each a database connection: 0.11's fills beside the hashing and its swaps after it (MaxConcurrency of FillTables and RewriteColumns), 0.14's column conversions (MigrateExternalColumns) and the copy strategy's tables building pointers (BuildPointers) and a foreign-key level's tables and parts copied (CopyLevel). Context: `fillConcurrency`. Default 2. */
  readonly fillConcurrency?: number;
  /**
   * Database connections the Distributed Map's children may hold at once: the reserved concurrency of the
   * RecordHashes function (throttled calls are retried). Context: `databaseConnectionBudget`. Default 10.
   */
  readonly databaseConnectionBudget?: number;
  /** An RDS Proxy endpoint every function connects through (same secret). Context: `dbProxyEndpoint`. Default: the secret's host. */
  readonly dbProxyEndpoint?: string;
  /** X-Ray tracing for the functions and the state machine. Context: `tracing`. Default false. */
  readonly tracing?: boolean;
  /** Folder holding `<handler>.ts` entry files. Default `<project>/functions/handlers`. */
  readonly handlersDir?: string;
  /**
   * An EventBridge Scheduler schedule starting the batch machine. Context: `scheduleExpression`, `scheduleTimeZone`,
   * `scheduleFlexibleWindowMinutes`, `scheduleInput` (JSON). Default: no schedule.
   */
  readonly schedule?: BatchScheduleProps;
  /**
   * Event bus of the "migration requested" rules, and the bus the functions put their plan-ready / succeeded / failed
   * events on. Context: `eventBusName`. Default: the account's default bus.
   */
  readonly eventBusName?: string;
  /**
   * Store prefixes (`bucket/prefix` items) that scope the functions' object access to `bucket/prefix/*` (and
   * s3:ListBucket to `s3:prefix` `prefix` / `prefix/*`) instead of `bucket/*`. A bucket also (or only) named in
   * `storeBuckets` without a prefix here stays whole. Context: `storePrefixes` (list or comma-separated).
   */
  readonly storePrefixes?: string[];
  /**
   * ARNs of the customer managed KMS keys the store objects are encrypted with (SSE-KMS): the readers get
   * kms:Decrypt on them, the writers also kms:GenerateDataKey (S3 encrypts what they write with the bucket's key).
   * Objects under the AWS managed key aws/s3 need none. Context: `storeKmsKeys` (list or comma-separated).
   */
  readonly storeKmsKeys?: string[];
  /** Address that gets the notifications (an SNS topic with an e-mail subscription). Context: `notificationEmail`. Default: no topic. */
  readonly notificationEmail?: string;
  /** Days the reports (and the reports bucket's access logs) are kept. Context: `reportsRetentionDays`. Default 365. */
  readonly reportsRetentionDays?: number;
}

/** When and with which input the batch machine runs. */
export interface BatchScheduleProps {
  /** `cron(...)` or `rate(...)` (EventBridge Scheduler syntax), e.g. `cron(0 2 ? * SAT *)`. */
  readonly expression: string;
  /** IANA time zone of a cron expression, e.g. `Europe/Berlin`. Default UTC. */
  readonly timeZone?: string;
  /** Let the scheduler start up to this many minutes late (spreads load). Default: off (exact time). */
  readonly flexibleWindowMinutes?: number;
  /** The batch execution input (checked at synth): `{from, schemas | schemaPattern, template, maxConcurrency?, windowMinutes?…}`. */
  readonly input: Record<string, unknown>;
}

/** The state machines of the stack. */
export type WorkflowName = 'migrate011' | 'migrate014' | 'batch';

export class DjmigrateStack extends Stack {
  /** One function per handler of both workflows. */
  readonly functions: Record<HandlerName, NodejsFunction>;
  /** CloudFormation logical id of each function → its handler name (the local runner maps Task states through this). */
  readonly handlerOfLogicalId: Record<string, HandlerName>;
  readonly migrate011: sfn.StateMachine;
  readonly migrate014: sfn.StateMachine;
  /** Many schemas, each as a child execution of migrate011/migrate014. */
  readonly batch: sfn.StateMachine;
  /** The schedule starting the batch machine (when configured). */
  readonly batchSchedule?: scheduler.Schedule;
  /** The rules starting migrate011 / migrate014 on a "migration requested" event. */
  readonly migrationRequestRules: Record<'migrate011' | 'migrate014', events.Rule>;
  /** Aborted or timed-out migrations (which never reach ReleaseLock) → unlockAbandoned frees their schema lock. */
  readonly abandonedLockRule: events.Rule;
  /** CloudFormation logical id of each state machine. */
  readonly stateMachineLogicalIds: Record<WorkflowName, string>;
  /** The encrypted bucket the report functions write the full report JSON to (`reports/…`). */
  readonly reportsBucket: s3.Bucket;
  /** The bucket of the Distributed Map's manifests (`manifests/…`, written by Prepare) and result files; expires after 30 days. */
  readonly manifestsBucket: s3.Bucket;
  /** The role S3 Batch Operations assumes for s3BatchChecksum's Compute checksum jobs. */
  readonly batchChecksumRole: iam.Role;
  /** The notification topic and its rules (when `notificationEmail` is given). */
  readonly notifications?: Notifications;
  /** The CloudWatch dashboard `djmigrate-<stackName>`. */
  readonly dashboard: cloudwatch.Dashboard;
  /** Whether X-Ray tracing is on (functions and state machines). */
  readonly tracing: boolean;
  /** The store buckets and prefixes the functions may read (and the writers write); empty: no store access. */
  readonly storeScopes: readonly StoreScope[];
  /** The store object ARNs (`bucket/*` or `bucket/prefix/*`) of the readers' and writers' statements. */
  readonly storeObjectArns: readonly string[];
  /** The `djmigrate-*` snapshot ARN pattern backup014 may create (when an RDS instance or cluster is configured). */
  readonly rdsSnapshotArn?: string;

  constructor(scope: Construct, id: string, props: DjmigrateStackProps = {}) {
    super(scope, id, props);
    // the Distributed Map's result files (ResultWriterV2 renders only under this flag; set here so that every app,
    // the local definitions' included, synthesizes the same definition)
    this.node.setContext(cxapi.STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);

    const vpcId = props.vpcId ?? contextString(this, 'vpcId');
    const subnetIds = props.subnetIds ?? contextList(this, 'subnetIds') ?? [];
    const securityGroupIds = props.securityGroupIds ?? contextList(this, 'securityGroupIds') ?? [];
    const dbSecretArn = props.dbSecretArn ?? contextString(this, 'dbSecretArn');
    const storeBuckets = props.storeBuckets ?? contextList(this, 'storeBuckets') ?? [];
    const storePrefixes = props.storePrefixes ?? contextList(this, 'storePrefixes') ?? [];
    const storeKmsKeys = kmsKeyArns(props.storeKmsKeys ?? contextList(this, 'storeKmsKeys') ?? []);
    const eventBusName = props.eventBusName ?? contextString(this, 'eventBusName');
    const notificationEmail = props.notificationEmail ?? contextString(this, 'notificationEmail');
    const reportsRetentionDays = props.reportsRetentionDays ?? contextNumber(this, 'reportsRetentionDays');
    const hashConcurrency = props.hashConcurrency ?? contextNumber(this, 'hashConcurrency') ?? 4;
    const distributedConcurrency = props.distributedConcurrency ?? contextNumber(this, 'distributedConcurrency') ?? 40;
    const storePollSeconds = props.storePollSeconds ?? contextNumber(this, 'storePollSeconds') ?? 10;
    const fillConcurrency = props.fillConcurrency ?? contextNumber(this, 'fillConcurrency') ?? 2;
    const databaseConnectionBudget = positiveInteger('databaseConnectionBudget', props.databaseConnectionBudget ?? contextNumber(this, 'databaseConnectionBudget') ?? 10);
    const dbProxyEndpoint = props.dbProxyEndpoint ?? contextString(this, 'dbProxyEndpoint');
    const tracing = props.tracing ?? contextBoolean(this, 'tracing') ?? false;
    const dbInstanceIdentifier = props.dbInstanceIdentifier ?? contextString(this, 'dbInstanceIdentifier');
    const dbClusterIdentifier = props.dbClusterIdentifier ?? contextString(this, 'dbClusterIdentifier');
    if (dbInstanceIdentifier && dbClusterIdentifier) throw new Error('give dbInstanceIdentifier or dbClusterIdentifier, not both');
    const handlersDir = props.handlersDir ?? path.join(PROJECT_ROOT, 'functions', 'handlers');

    const network = this.network(vpcId, subnetIds, securityGroupIds);

    const dbSecret = dbSecretArn
      ? secretsmanager.Secret.fromSecretAttributes(
          this,
          'DbSecret',
          // a complete ARN ends in the 6-character suffix Secrets Manager appends to the name
          /:secret:.+-[A-Za-z0-9]{6}$/.test(dbSecretArn) ? { secretCompleteArn: dbSecretArn } : { secretPartialArn: dbSecretArn },
        )
      : secretsmanager.Secret.fromSecretNameV2(this, 'DbSecret', DEFAULT_DB_SECRET_NAME);
    if (!dbSecretArn) {
      Annotations.of(this).addWarningV2(
        'djmigrate:dbSecretArn',
        `No dbSecretArn given (prop or -c dbSecretArn=...): the functions read the secret named '${DEFAULT_DB_SECRET_NAME}' in the stack's account and region.`,
      );
    }

    const functions = {} as Record<HandlerName, NodejsFunction>;
    const handlerOfLogicalId: Record<string, HandlerName> = {};
    for (const name of ALL_HANDLERS) {
      const settings = FUNCTION_SETTINGS[name] ?? {};
      const id = `${pascal(name)}Function`;
      const timeout = settings.timeout ?? DEFAULT_TIMEOUT;
      const fn = new NodejsFunction(this, id, {
        description: `djmigrate ${name.endsWith('Batch') ? 'batch' : name.endsWith('014') ? '0.14 -> 2.0' : '0.11 -> 0.12'}: ${name}`,
        entry: path.join(handlersDir, handlerEntry(name)),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: settings.memorySize ?? DEFAULT_MEMORY_MB,
        timeout,
        depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
        projectRoot: PROJECT_ROOT,
        bundling: {
          format: OutputFormat.ESM,
          target: 'node22',
          mainFields: ['module', 'main'],
          banner: ESM_REQUIRE_BANNER,
          // bundle the AWS SDK too: the S3 checksum settings the stores rely on need a known SDK version
          externalModules: [],
          minify: true,
          sourceMap: true,
          sourcesContent: false,
          forceDockerBundling: false,
        },
        environment: {
          [DB_SECRET_ARN_ENV]: dbSecret.secretArn,
          NODE_OPTIONS: '--enable-source-maps',
          ...(settings.budgeted ? { [WORK_BUDGET_ENV]: String(timeout.minus(WORK_RESERVE).toMilliseconds()) } : {}),
          ...(dbProxyEndpoint ? { [DB_PROXY_ENDPOINT_ENV]: dbProxyEndpoint } : {}),
          ...(name === 'backup014' && dbInstanceIdentifier ? { [RDS_INSTANCE_ENV]: dbInstanceIdentifier } : {}),
          ...(name === 'backup014' && dbClusterIdentifier ? { [RDS_CLUSTER_ENV]: dbClusterIdentifier } : {}),
        },
        logGroup: new logs.LogGroup(this, `${id}Logs`, {
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        tracing: tracing ? lambda.Tracing.ACTIVE : undefined,
        ...(name === 'recordHashes' ? { reservedConcurrentExecutions: databaseConnectionBudget } : {}),
        ...network,
      });
      dbSecret.grantRead(fn);
      functions[name] = fn;
      handlerOfLogicalId[this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)] = name;
    }
    this.functions = functions;
    this.handlerOfLogicalId = handlerOfLogicalId;

    this.tracing = tracing;
    this.storeScopes = storeScopes(storeBuckets, storePrefixes);
    this.storeObjectArns = this.grantStoreAccess(this.storeScopes, storeKmsKeys);
    [this.reportsBucket, this.manifestsBucket] = this.addReportsBucket(reportsRetentionDays);
    this.batchChecksumRole = this.addBatchChecksum(storeKmsKeys);
    this.addEventPublishing(eventBusName);

    if (dbInstanceIdentifier || dbClusterIdentifier) {
      const rdsArn = (type: string, name: string) => this.formatArn({ service: 'rds', resource: type, resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
      const source = dbClusterIdentifier ? rdsArn('cluster', dbClusterIdentifier) : rdsArn('db', dbInstanceIdentifier!);
      const snapshots = rdsArn(dbClusterIdentifier ? 'cluster-snapshot' : 'snapshot', 'djmigrate-*');
      this.rdsSnapshotArn = snapshots;
      functions.backup014.addToRolePolicy(
        new iam.PolicyStatement({
          actions: dbClusterIdentifier ? ['rds:CreateDBClusterSnapshot'] : ['rds:CreateDBSnapshot'],
          resources: [source, snapshots],
        }),
      );
      functions.backup014.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [snapshots] }));
      functions.backup014.addToRolePolicy(
        new iam.PolicyStatement({ actions: dbClusterIdentifier ? ['rds:DescribeDBClusterSnapshots'] : ['rds:DescribeDBSnapshots'], resources: [source, snapshots] }),
      );
    }

    const taskTimeouts = Object.fromEntries(
      ALL_HANDLERS.map((name) => [name, (FUNCTION_SETTINGS[name]?.timeout ?? DEFAULT_TIMEOUT).plus(TASK_TIMEOUT_MARGIN)]),
    ) as Record<HandlerName, Duration>;
    const pick = <Name extends HandlerName>(names: readonly Name[]) => Object.fromEntries(names.map((name) => [name, functions[name]])) as Record<Name, NodejsFunction>;
    this.migrate011 = this.stateMachine('Migrate011', 'migrate-011', 'djmigrate: DataJoint 0.11 external storage to the 0.12 format', tracing,
      migrate011Definition(this, pick<Migrate011HandlerName | UnlockHandlerName>([...MIGRATE_011_HANDLERS, UNLOCK_HANDLER]), {
        hashConcurrency,
        distributedConcurrency,
        storePollSeconds,
        fillConcurrency,
        manifestBucket: this.manifestsBucket,
        taskTimeouts,
      }));
    this.migrate014 = this.stateMachine('Migrate014', 'migrate-014', 'djmigrate: DataJoint 0.14 external storage, comments and lineage to 2.0', tracing,
      migrate014Definition(this, pick<Migrate014HandlerName | UnlockHandlerName>([...MIGRATE_014_HANDLERS, UNLOCK_HANDLER]), { taskTimeouts, tableConcurrency: fillConcurrency }));
    this.batch = this.stateMachine('Batch', 'batch', 'djmigrate: many schemas, each as a child execution of the 0.11 or 0.14 machine', tracing,
      batchDefinition(this, pick<BatchHandlerName>(BATCH_HANDLERS), { migrate011: this.migrate011, migrate014: this.migrate014 }, { taskTimeouts }));
    this.stateMachineLogicalIds = {
      migrate011: this.getLogicalId(this.migrate011.node.defaultChild as sfn.CfnStateMachine),
      migrate014: this.getLogicalId(this.migrate014.node.defaultChild as sfn.CfnStateMachine),
      batch: this.getLogicalId(this.batch.node.defaultChild as sfn.CfnStateMachine),
    };

    this.batchSchedule = this.addBatchSchedule(props.schedule ?? this.scheduleFromContext());
    this.migrationRequestRules = this.addMigrationRequestRules(eventBusName);
    this.abandonedLockRule = this.addAbandonedLockRule();
    this.notifications = this.addNotifications(notificationEmail, eventBusName);
    this.dashboard = this.addDashboard();
    // every cdk-nag (AwsSolutions) acknowledgement, each with its reason: lib/nag.ts
    applyNagSuppressions(this);
  }

  // ── Store access (least privilege) ─────────────────────────────────────────────────────────────────────────────

  /**
   * Readers get s3:ListBucket + s3:GetObject, writers also s3:PutObject (+ AbortMultipartUpload), each on the store
   * buckets' objects, or only below the configured prefixes. Nothing gets s3:DeleteObject.
   */
  private grantStoreAccess(storeScopes: readonly StoreScope[], kmsKeys: readonly string[]): string[] {
    const scopes = storeScopes.map(({ bucketName, prefixes }, i) => ({ bucket: s3.Bucket.fromBucketName(this, `StoreBucket${i}`, bucketName), prefixes }));
    if (scopes.length === 0) return [];
    const objects = scopes.flatMap((scope) => (scope.prefixes.length ? scope.prefixes.map((prefix) => scope.bucket.arnForObjects(`${prefix}/*`)) : [scope.bucket.arnForObjects('*')]));
    const whole = scopes.filter((scope) => scope.prefixes.length === 0);
    const listStatements = [
      ...(whole.length ? [new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: whole.map((scope) => scope.bucket.bucketArn) })] : []),
      ...scopes
        .filter((scope) => scope.prefixes.length > 0)
        .map(
          (scope) =>
            new iam.PolicyStatement({
              actions: ['s3:ListBucket'],
              resources: [scope.bucket.bucketArn],
              conditions: { StringLike: { 's3:prefix': scope.prefixes.flatMap((prefix) => [prefix, `${prefix}/*`]) } },
            }),
        ),
    ];
    // trustEtag: Prepare reads the buckets' default encryption (KMS-encrypted objects have no MD5 ETag)
    this.functions.prepare.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetEncryptionConfiguration'], resources: scopes.map((scope) => scope.bucket.bucketArn) }));
    for (const name of STORE_READERS) {
      for (const statement of listStatements) this.functions[name].addToRolePolicy(statement);
      this.functions[name].addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
    }
    for (const name of STORE_WRITERS) {
      // native mode copies objects to their 0.12 path (multipart for large ones); nothing ever deletes
      this.functions[name].addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: objects }));
    }
    if (kmsKeys.length) {
      for (const name of STORE_READERS) this.functions[name].addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [...kmsKeys] }));
      for (const name of STORE_WRITERS) this.functions[name].addToRolePolicy(new iam.PolicyStatement({ actions: ['kms:GenerateDataKey'], resources: [...kmsKeys] }));
    }
    return objects;
  }

  // ── s3BatchChecksum ───────────────────────────────────────────────────────────────────────────────────────────

  /**
   * The role S3 Batch Operations assumes: reads the store objects (to checksum them) and the run's CSV manifest, writes
   * the completion report, both under `manifests/checksums/` of the manifests bucket. The functions may start jobs
   * with that role only, and look at jobs of this account.
   */
  private addBatchChecksum(kmsKeys: readonly string[]): iam.Role {
    const files = this.manifestsBucket.arnForObjects(`${CHECKSUM_PREFIX}/*`);
    const role = new iam.Role(this, 'BatchChecksumRole', {
      assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
      description: 'djmigrate s3BatchChecksum: S3 Batch Operations Compute checksum jobs over the store objects',
    });
    if (this.storeObjectArns.length) role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [...this.storeObjectArns] }));
    if (kmsKeys.length) role.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [...kmsKeys] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'], resources: [files] }));
    for (const name of CHECKSUM_FUNCTIONS) {
      this.functions[name].addEnvironment(BATCH_CHECKSUM_ROLE_ENV, role.roleArn);
      this.functions[name].addEnvironment(ACCOUNT_ID_ENV, this.account);
    }
    const start = this.functions.startChecksum;
    start.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:CreateJob'], resources: ['*'] }));
    start.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'batchoperations.s3.amazonaws.com' } } }),
    );
    // the CSV manifest is a multipart upload once it outgrows one part
    start.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [files] }));
    this.functions.checksumState.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:DescribeJob'], resources: [this.formatArn({ service: 's3', resource: 'job', resourceName: '*' })] }));
    this.functions.recordChecksums.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [files] }));
    return role;
  }

  // ── Reports, events, notifications, dashboard ──────────────────────────────────────────────────────────────────

  /** The encrypted reports bucket; only the report functions may write (and only `reports/*`). */
  private addReportsBucket(retentionDays: number | undefined): [s3.Bucket, s3.Bucket] {
    const reports = new ReportsBucket(this, 'Reports', { retentionDays });
    for (const name of REPORT_WRITERS) reports.grantWriteReports(this.functions[name]);
    reports.grantWriteManifests(this.functions.prepare);
    // with s3BatchChecksum, RecordChecksums writes the hash manifest Prepare left for it
    reports.grantWriteManifests(this.functions.recordChecksums);
    new CfnOutput(this, 'ReportsBucketName', { value: reports.bucket.bucketName });
    return [reports.bucket, reports.manifestsBucket];
  }

  /** Every function learns the reports bucket and the bus; only the event publishers may put events (on that bus only). */
  private addEventPublishing(eventBusName: string | undefined): void {
    const bus = events.EventBus.fromEventBusName(this, 'NotificationEventBus', eventBusName ?? 'default');
    for (const name of EVENT_PUBLISHERS) bus.grantPutEventsTo(this.functions[name]);
    const environment = operationsEnvironment(this.reportsBucket.bucketName, this.manifestsBucket.bucketName, eventBusName ?? 'default');
    for (const fn of Object.values(this.functions)) {
      for (const [key, value] of Object.entries(environment)) fn.addEnvironment(key, value);
    }
  }

  /** The SNS topic (e-mail) and the two rules feeding it, when an address is configured. */
  private addNotifications(email: string | undefined, eventBusName: string | undefined): Notifications | undefined {
    if (!email) return undefined;
    const notifications = new Notifications(this, 'Notifications', {
      email,
      eventBus: eventBusName ? events.EventBus.fromEventBusName(this, 'NotificationRuleBus', eventBusName) : undefined,
      stateMachines: [this.migrate011, this.migrate014, this.batch],
    });
    new CfnOutput(this, 'NotificationTopicArn', { value: notifications.topic.topicArn });
    return notifications;
  }

  private addDashboard(): cloudwatch.Dashboard {
    const { dashboard } = new OperationsDashboard(this, 'Operations', {
      stateMachines: { migrate011: this.migrate011, migrate014: this.migrate014, batch: this.batch },
      functions: this.functions,
    });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboardName });
    return dashboard;
  }

  // ── Scheduled batch runs ───────────────────────────────────────────────────────────────────────────────────────

  private scheduleFromContext(): BatchScheduleProps | undefined {
    const expression = contextString(this, 'scheduleExpression');
    const rawInput: unknown = this.node.tryGetContext('scheduleInput');
    if (!expression) {
      if (rawInput !== undefined) throw new Error('context scheduleInput needs scheduleExpression');
      return undefined;
    }
    if (rawInput === undefined || rawInput === null || rawInput === '') throw new Error('context scheduleExpression needs scheduleInput (the batch input, JSON)');
    const input: unknown = typeof rawInput === 'string' ? JSON.parse(rawInput) : rawInput;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('context scheduleInput must be a JSON object (the batch input)');
    return {
      expression,
      timeZone: contextString(this, 'scheduleTimeZone'),
      flexibleWindowMinutes: contextNumber(this, 'scheduleFlexibleWindowMinutes'),
      input: input as Record<string, unknown>,
    };
  }

  /** An EventBridge Scheduler schedule starting the batch machine; its role may only start that machine. */
  private addBatchSchedule(schedule: BatchScheduleProps | undefined): scheduler.Schedule | undefined {
    if (!schedule) return undefined;
    if (!/^(cron|rate)\(.+\)$/.test(schedule.expression.trim())) {
      throw new Error(`schedule expression must be cron(...) or rate(...), got ${JSON.stringify(schedule.expression)}`);
    }
    const flexible = schedule.flexibleWindowMinutes;
    if (flexible !== undefined && (!Number.isInteger(flexible) || flexible < 1 || flexible > 1440)) {
      throw new Error(`schedule flexibleWindowMinutes must be an integer from 1 to 1440, got ${flexible}`);
    }
    // a bad scheduled input fails the synth, not a run at 2 am
    parseBatchInput(schedule.input);
    const created = new scheduler.Schedule(this, 'BatchSchedule', {
      description: 'djmigrate: starts the batch state machine',
      schedule: scheduler.ScheduleExpression.expression(schedule.expression.trim(), schedule.timeZone ? TimeZone.of(schedule.timeZone) : undefined),
      timeWindow: flexible ? scheduler.TimeWindow.flexible(Duration.minutes(flexible)) : scheduler.TimeWindow.off(),
      target: new schedulerTargets.StepFunctionsStartExecution(this.batch, {
        input: scheduler.ScheduleTargetInput.fromObject(schedule.input),
        retryAttempts: 0,
      }),
    });
    new CfnOutput(this, 'BatchScheduleName', { value: created.scheduleName });
    return created;
  }

  // ── Event-driven per-schema runs ───────────────────────────────────────────────────────────────────────────────

  /** One rule per machine: a "migration requested" event (any source) whose detail.from names it; detail is the input. */
  private addMigrationRequestRules(eventBusName: string | undefined): Record<'migrate011' | 'migrate014', events.Rule> {
    const eventBus = eventBusName ? events.EventBus.fromEventBusName(this, 'MigrationRequestBus', eventBusName) : undefined;
    const rule = (id: string, from: string, machine: sfn.StateMachine) =>
      new events.Rule(this, id, {
        description: `djmigrate: starts the ${from} migration of the schema a "${MIGRATION_REQUESTED_DETAIL_TYPE}" event names`,
        eventBus,
        eventPattern: { detailType: [MIGRATION_REQUESTED_DETAIL_TYPE], detail: { from: [from] } },
        targets: [new eventsTargets.SfnStateMachine(machine, { input: events.RuleTargetInput.fromEventPath('$.detail') })],
      });
    return {
      migrate011: rule('MigrationRequested011Rule', '0.11', this.migrate011),
      migrate014: rule('MigrationRequested014Rule', '0.14', this.migrate014),
    };
  }

  private addAbandonedLockRule(): events.Rule {
    return new events.Rule(this, 'AbandonedLockRule', {
      description: 'djmigrate: frees the schema lock of a migration execution that was aborted or timed out (its ReleaseLock never ran)',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [this.migrate011.stateMachineArn, this.migrate014.stateMachineArn] },
      },
      targets: [new eventsTargets.LambdaFunction(this.functions.unlockAbandoned, { retryAttempts: 8, maxEventAge: Duration.hours(2) })],
    });
  }

  private stateMachine(id: string, logName: string, comment: string, tracing: boolean, definition: sfn.IChainable): sfn.StateMachine {
    const machine = new sfn.StateMachine(this, `${id}StateMachine`, {
      comment,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      logs: {
        destination: new logs.LogGroup(this, `${id}StateMachineLogs`, {
          logGroupName: `/aws/vendedlogs/states/${this.stackName}-${logName}`,
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        // state holds ids, counts and store locations only: no secret, no rows
        includeExecutionData: true,
      },
      tracingEnabled: tracing,
    });
    new CfnOutput(this, `${id}StateMachineArn`, { value: machine.stateMachineArn });
    return machine;
  }

  private network(
    vpcId: string | undefined,
    subnetIds: string[],
    securityGroupIds: string[],
  ): Pick<lambda.FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
    if (!vpcId) {
      if (subnetIds.length || securityGroupIds.length) {
        throw new Error('subnetIds/securityGroupIds need vpcId (prop or -c vpcId=vpc-...)');
      }
      return {};
    }
    if (!subnetIds.length) throw new Error('vpcId needs subnetIds (prop or -c subnetIds=subnet-a,subnet-b)');
    // attributes only, never Vpc.fromLookup: synth must work offline
    // (the AZs are unused: subnets are given by id; one string token avoids the list-token warning)
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId, availabilityZones: [Fn.select(0, Fn.getAzs())] });
    const securityGroups = securityGroupIds.length
      ? securityGroupIds.map((id, i) => ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, id, { mutable: false }))
      : [new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', { vpc, allowAllOutbound: true, description: 'djmigrate functions' })];
    const subnets = subnetIds.map((id, i) => {
      const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${i}`, id);
      Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'djmigrate never reads route tables');
      return subnet;
    });
    return { vpc, vpcSubnets: { subnets }, securityGroups };
  }
}

/** A store bucket and the prefixes its objects are scoped to (none: the whole bucket). */
export interface StoreScope {
  readonly bucketName: string;
  readonly prefixes: string[];
}

/**
 * `storeBuckets` (whole buckets) and `storePrefixes` (`bucket/prefix`) → one scope per bucket, in order of first
 * mention; a bucket with any prefix is scoped to its prefixes, even when `storeBuckets` names it too.
 */
export function storeScopes(storeBuckets: readonly string[], storePrefixes: readonly string[]): StoreScope[] {
  const scopes = new Map<string, string[]>();
  const bucketOf = (name: string, what: string) => {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) throw new Error(`${what}: ${JSON.stringify(name)} is not an S3 bucket name`);
    if (!scopes.has(name)) scopes.set(name, []);
    return scopes.get(name)!;
  };
  for (const name of storeBuckets) bucketOf(name, 'storeBuckets');
  for (const item of storePrefixes) {
    const slash = item.indexOf('/');
    const prefix = slash < 0 ? '' : item.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (!prefix || /[*?]/.test(prefix)) throw new Error(`storePrefixes: ${JSON.stringify(item)} must be bucket/prefix (no wildcards)`);
    const prefixes = bucketOf(slash < 0 ? item : item.slice(0, slash), 'storePrefixes');
    if (!prefixes.includes(prefix)) prefixes.push(prefix);
  }
  return [...scopes].map(([bucketName, prefixes]) => ({ bucketName, prefixes }));
}

/** The `context` of cdk.json, so an in-process App synthesizes with the same feature flags as `npx cdk synth`. */
export function projectCdkContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return { ...(cdkJson.context ?? {}) };
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function contextString(scope: Construct, key: string): string | undefined {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`context ${key} must be a string`);
  return value;
}

/** A list from context: a JSON array (cdk.json) or a comma-separated string (`-c key=a,b`). */
/** `storeKmsKeys`: each a KMS key ARN (an alias names no key an IAM policy can grant). */
function kmsKeyArns(items: readonly string[]): string[] {
  for (const item of items) {
    if (!/^arn:aws[-a-z]*:kms:[a-z0-9-]+:\d{12}:key\/[-0-9a-zA-Z]+$/.test(item)) {
      throw new Error(`storeKmsKeys: ${JSON.stringify(item)} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>); give the ARN of the key that encrypts the store objects, not an alias`);
    }
  }
  return [...items];
}

function contextList(scope: Construct, key: string): string[] | undefined {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  let list: unknown = value;
  if (typeof value === 'string') list = value.trim().startsWith('[') ? JSON.parse(value) : value.split(',');
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    throw new Error(`context ${key} must be a list of strings or a comma-separated string`);
  }
  return list.map((item) => item.trim()).filter(Boolean);
}

function contextNumber(scope: Construct, key: string): number | undefined {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`context ${key} must be a positive integer`);
  return number;
}

function contextBoolean(scope: Construct, key: string): boolean | undefined {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`context ${key} must be true or false`);
}
