import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { MIGRATE_011_HANDLERS, type Migrate011HandlerName } from '../functions/handlers/names.js';
import { migrate011Definition } from './workflows/migrate-011.js';

/** The repository root (holds package.json, package-lock.json, cdk.json). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The stack id `lib/app.ts` uses (override with context `stackName`). */
export const DJMIGRATE_STACK_ID = 'Djmigrate';

/** Secret name used when neither the `dbSecretArn` prop nor context is given (synth still works; a warning says so). */
export const DEFAULT_DB_SECRET_NAME = 'djmigrate/db';

/** Environment variable through which the functions get the database secret's ARN (never its value). */
export const DB_SECRET_ARN_ENV = 'DJMIGRATE_DB_SECRET_ARN';
/** Environment variable: how long one rewrite invocation works before handing back (ms). */
export const REWRITE_BUDGET_ENV = 'DJMIGRATE_REWRITE_BUDGET_MS';
/** What a rewrite invocation leaves of its timeout for the last chunk and the column swap. */
const REWRITE_RESERVE = Duration.minutes(5);

/** Lambda settings per handler; everything not listed: 512 MB, 5 min. */
const FUNCTION_SETTINGS: Partial<Record<Migrate011HandlerName, { memorySize?: number; timeout?: Duration }>> = {
  hash: { memorySize: 1024, timeout: Duration.minutes(15) },
  rewrite: { timeout: Duration.minutes(15) },
};
const DEFAULT_MEMORY_MB = 512;
const DEFAULT_TIMEOUT = Duration.minutes(5);
/** Task TimeoutSeconds = Lambda timeout + this, so the Lambda's own timeout is what fires in AWS. */
const TASK_TIMEOUT_MARGIN = Duration.minutes(1);

/** Functions that read the stores' objects (s3:GetObject + s3:ListBucket); `hash` also writes (native mode copies). */
const STORE_READERS: readonly Migrate011HandlerName[] = ['inspect', 'hash', 'verify'];
const STORE_WRITERS: readonly Migrate011HandlerName[] = ['hash'];

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
  /** Hash batches processed at once (MaxConcurrency of HashObjects). Context: `hashConcurrency`. Default 4. */
  readonly hashConcurrency?: number;
  /** X-Ray tracing for the functions and the state machine. Context: `tracing`. Default false. */
  readonly tracing?: boolean;
  /** Folder holding `<handler>.ts` entry files. Default `<project>/functions/handlers`. */
  readonly handlersDir?: string;
}

export class DjmigrateStack extends Stack {
  /** One function per handler of the 0.11 → 0.12 workflow. */
  readonly functions: Record<Migrate011HandlerName, NodejsFunction>;
  /** CloudFormation logical id of each function → its handler name (the local runner maps Task states through this). */
  readonly handlerOfLogicalId: Record<string, Migrate011HandlerName>;
  readonly migrate011: sfn.StateMachine;
  /** CloudFormation logical id of the 0.11 → 0.12 state machine. */
  readonly migrate011LogicalId: string;

  constructor(scope: Construct, id: string, props: DjmigrateStackProps = {}) {
    super(scope, id, props);

    const vpcId = props.vpcId ?? contextString(this, 'vpcId');
    const subnetIds = props.subnetIds ?? contextList(this, 'subnetIds') ?? [];
    const securityGroupIds = props.securityGroupIds ?? contextList(this, 'securityGroupIds') ?? [];
    const dbSecretArn = props.dbSecretArn ?? contextString(this, 'dbSecretArn');
    const storeBuckets = props.storeBuckets ?? contextList(this, 'storeBuckets') ?? [];
    const hashConcurrency = props.hashConcurrency ?? contextNumber(this, 'hashConcurrency') ?? 4;
    const tracing = props.tracing ?? contextBoolean(this, 'tracing') ?? false;
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

    const functions = {} as Record<Migrate011HandlerName, NodejsFunction>;
    const handlerOfLogicalId: Record<string, Migrate011HandlerName> = {};
    for (const name of MIGRATE_011_HANDLERS) {
      const settings = FUNCTION_SETTINGS[name] ?? {};
      const id = `${pascal(name)}Function`;
      const timeout = settings.timeout ?? DEFAULT_TIMEOUT;
      const fn = new NodejsFunction(this, id, {
        description: `djmigrate 0.11 -> 0.12: ${name}`,
        entry: path.join(handlersDir, `${name}.ts`),
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
          ...(name === 'rewrite' ? { [REWRITE_BUDGET_ENV]: String(timeout.minus(REWRITE_RESERVE).toMilliseconds()) } : {}),
        },
        logGroup: new logs.LogGroup(this, `${id}Logs`, {
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        tracing: tracing ? lambda.Tracing.ACTIVE : undefined,
        ...network,
      });
      dbSecret.grantRead(fn);
      functions[name] = fn;
      handlerOfLogicalId[this.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)] = name;
    }
    this.functions = functions;
    this.handlerOfLogicalId = handlerOfLogicalId;

    if (storeBuckets.length > 0) {
      const buckets = storeBuckets.map((bucketName, i) => s3.Bucket.fromBucketName(this, `StoreBucket${i}`, bucketName));
      const objects = buckets.map((bucket) => bucket.arnForObjects('*'));
      for (const name of STORE_READERS) {
        functions[name].addToRolePolicy(
          new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: buckets.map((bucket) => bucket.bucketArn) }),
        );
        functions[name].addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
      }
      for (const name of STORE_WRITERS) {
        // native mode copies objects to their 0.12 path (multipart for large ones); nothing ever deletes
        functions[name].addToRolePolicy(
          new iam.PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: objects }),
        );
      }
    }

    const taskTimeouts = Object.fromEntries(
      MIGRATE_011_HANDLERS.map((name) => [name, (FUNCTION_SETTINGS[name]?.timeout ?? DEFAULT_TIMEOUT).plus(TASK_TIMEOUT_MARGIN)]),
    ) as Record<Migrate011HandlerName, Duration>;
    this.migrate011 = new sfn.StateMachine(this, 'Migrate011StateMachine', {
      comment: 'djmigrate: DataJoint 0.11 external storage to the 0.12 format',
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(migrate011Definition(this, functions, { hashConcurrency, taskTimeouts })),
      logs: {
        destination: new logs.LogGroup(this, 'Migrate011StateMachineLogs', {
          logGroupName: `/aws/vendedlogs/states/${this.stackName}-migrate-011`,
          retention: logs.RetentionDays.THREE_MONTHS,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
        level: sfn.LogLevel.ALL,
        // state holds ids, counts and store locations only: no secret, no rows
        includeExecutionData: true,
      },
      tracingEnabled: tracing,
    });
    this.migrate011LogicalId = this.getLogicalId(this.migrate011.node.defaultChild as sfn.CfnStateMachine);

    new CfnOutput(this, 'Migrate011StateMachineArn', { value: this.migrate011.stateMachineArn });
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
