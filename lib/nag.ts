// Every cdk-nag (AwsSolutions pack) finding this stack acknowledges, each with the reason it is acceptable.
//
// cdk-nag 3 is a CDK policy-validation plugin: suppressions are CDK's own `Validations.of(construct).acknowledge()`
// (recorded as construct metadata that the pack reads for the construct and its ancestors), so this file needs only
// aws-cdk-lib and runs in every synthesis (the CLI's local runner too), while cdk-nag itself stays a devDependency
// (test/unit/nag.test.ts runs the pack). Wildcard findings are acknowledged one exact resource at a time
// (`AwsSolutions-IAM5[Resource::…]`), never a whole rule, so any new wildcard fails the nag test until it is justified here.
import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { CHECKSUM_PREFIX, REPORT_WRITERS, type DjmigrateStack } from './djmigrate-stack.js';
import {
  BATCH_HANDLERS,
  MIGRATE_011_HANDLERS,
  MIGRATE_014_HANDLERS,
  UNLOCK_HANDLER,
  type HandlerName,
} from '../functions/handlers/names.js';

/** Reasons, one per kind of acknowledged finding (kept here so that the report and the README can quote them). */
export const NAG_REASONS = {
  lambdaBasicExecutionRole:
    'AWSLambdaBasicExecutionRole is the documented minimum for a function to write its own CloudWatch logs (CreateLogStream/PutLogEvents); the log groups are created by the stack.',
  lambdaVpcAccessRole:
    'AWSLambdaVPCAccessExecutionRole is the documented minimum for a function in the given private subnets to create and delete its ENIs.',
  lambdaRuntime:
    'Node.js 22 is pinned deliberately: the bundles target node22 and the tests run on it; the runtime moves with a tested upgrade, not implicitly.',
  xrayResource: 'xray:PutTraceSegments / PutTelemetryRecords support no resource-level permissions (only "*"); present only with tracing on.',
  stateMachineLogDelivery:
    'Step Functions logging to CloudWatch Logs needs logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies and DescribeLogGroups on "*" (no resource-level permissions); with tracing on, also X-Ray, which has none either.',
  stateMachineTracing: 'X-Ray tracing is off by default to avoid its cost; the `tracing` prop (context `tracing=true`) turns it on for the state machines and the functions.',
  lambdaVersions:
    'CDK grants lambda:InvokeFunction on the function ARN and `<function ARN>:*` (its versions and aliases); it is scoped to the one function this workflow invokes.',
  storeObjects:
    'Object-level access is scoped to the configured store buckets (or to `bucket/prefix/*` with storePrefixes): the stores hold objects under hashes not known at deploy time. Readers get s3:GetObject only; writers (native mode, attach rewrite, copy-files) s3:PutObject / AbortMultipartUpload; nothing gets s3:DeleteObject.',
  reportObjects: 'The report functions (and the 0.14 Plan, for the whole plan) may only put objects below `reports/` of the stack\'s own reports bucket (one key per execution, unknown at deploy time); no read, no delete.',
  rdsSnapshots: 'The backup step creates (and tags, describes) only snapshots named `djmigrate-*` of the configured RDS instance or cluster; the name carries the schema and time, unknown at deploy time.',
  manifestObjects: 'Prepare (and RecordChecksums, with s3BatchChecksum) may only put objects below `manifests/` of the stack\'s own manifests bucket (one key per execution, unknown at deploy time); no read, no delete.',
  createJob:
    's3:CreateJob supports no resource-level permission (only "*"); the function may pass only the stack\'s Batch Operations role (iam:PassRole on that role, to batchoperations.s3.amazonaws.com only).',
  checksumFiles:
    'The Compute checksum job\'s CSV manifest and completion report live below `manifests/checksums/` of the stack\'s own manifests bucket, one folder per run (named at run time): the job\'s role reads the manifest and writes the report there, StartChecksumJob writes the manifest, RecordChecksums reads the report.',
  checksumJobs: 's3:DescribeJob on `job/*` of the stack\'s account and region: S3 names the jobs at run time.',
  distributedMapBucket:
    'The 0.11 machine\'s Distributed Map reads its manifest (ItemReader) and writes its result files (ResultWriter) in the manifests bucket, as CDK grants it; that bucket holds nothing else and expires its objects after 30 days.',
  distributedMapExecutions:
    'A Distributed Map needs to describe and stop its own child executions (`execution:<machine name>:*` and `execution:<machine name>/<map run>:*`, named at run time), as CDK grants them; no other machine.',
  childExecutions:
    'startExecution.sync:2 needs states:DescribeExecution / StopExecution on the executions of the two child machines (`execution:<machine name>:*`), as CDK grants them; no other machine.',
} as const;

/** Acknowledges every AwsSolutions finding this stack knowingly has. Called at the end of the stack's constructor. */
export function applyNagSuppressions(stack: DjmigrateStack): void {
  const ack = (scope: IConstruct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
  const resource = (value: string) => `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(value))}]`;

  for (const [name, fn] of Object.entries(stack.functions) as [HandlerName, (typeof stack.functions)[HandlerName]][]) {
    ack(fn, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', NAG_REASONS.lambdaBasicExecutionRole);
    if (fn.isBoundToVpc) {
      ack(fn, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]', NAG_REASONS.lambdaVpcAccessRole);
    }
    ack(fn, 'AwsSolutions-L1', NAG_REASONS.lambdaRuntime);
    if (name === 'startChecksum') ack(fn, 'AwsSolutions-IAM5[Resource::*]', stack.tracing ? `${NAG_REASONS.createJob} ${NAG_REASONS.xrayResource}` : NAG_REASONS.createJob);
    else if (stack.tracing) ack(fn, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.xrayResource);
    for (const objects of stack.storeObjectArns) ack(fn, resource(objects), NAG_REASONS.storeObjects);
    if (REPORT_WRITERS.includes(name)) {
      ack(fn, resource(stack.reportsBucket.arnForObjects('reports/*')), NAG_REASONS.reportObjects);
    }
    if (name === 'prepare' || name === 'recordChecksums') ack(fn, resource(stack.manifestsBucket.arnForObjects('manifests/*')), NAG_REASONS.manifestObjects);
    if (name === 'startChecksum' || name === 'recordChecksums') ack(fn, resource(stack.manifestsBucket.arnForObjects(`${CHECKSUM_PREFIX}/*`)), NAG_REASONS.checksumFiles);
    if (name === 'checksumState') ack(fn, resource(stack.formatArn({ service: 's3', resource: 'job', resourceName: '*' })), NAG_REASONS.checksumJobs);
    if (name === 'backup014' && stack.rdsSnapshotArn) ack(fn, resource(stack.rdsSnapshotArn), NAG_REASONS.rdsSnapshots);
  }

  for (const objects of stack.storeObjectArns) ack(stack.batchChecksumRole, resource(objects), NAG_REASONS.storeObjects);
  ack(stack.batchChecksumRole, resource(stack.manifestsBucket.arnForObjects(`${CHECKSUM_PREFIX}/*`)), NAG_REASONS.checksumFiles);

  const machines: [sfn.StateMachine, readonly HandlerName[]][] = [
    [stack.migrate011, [...MIGRATE_011_HANDLERS, UNLOCK_HANDLER]],
    [stack.migrate014, [...MIGRATE_014_HANDLERS, UNLOCK_HANDLER]],
    [stack.batch, BATCH_HANDLERS],
  ];
  for (const [machine, handlers] of machines) {
    ack(machine, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.stateMachineLogDelivery);
    if (!stack.tracing) ack(machine, 'AwsSolutions-SF2', NAG_REASONS.stateMachineTracing);
    for (const name of handlers) ack(machine, resource(`${stack.functions[name].functionArn}:*`), NAG_REASONS.lambdaVersions);
  }
  // the ARNs CDK's DistributedMap grants: its bucket's objects (written as a Join, not as the bucket's Arn) and its children
  ack(stack.migrate011, resource(stack.formatArn({ service: 's3', region: '', account: '', resource: stack.manifestsBucket.bucketName, resourceName: '*' })), NAG_REASONS.distributedMapBucket);
  const machineName = Stack.of(stack.migrate011).splitArn(stack.migrate011.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
  for (const children of [`${machineName}:*`, `${machineName}/*:*`]) {
    ack(stack.migrate011, resource(stack.formatArn({ service: 'states', resource: 'execution', arnFormat: ArnFormat.COLON_RESOURCE_NAME, resourceName: children })), NAG_REASONS.distributedMapExecutions);
  }
  for (const child of [stack.migrate011, stack.migrate014]) {
    // the ARN CDK's StepFunctionsStartExecution (RUN_JOB) grants: the child's executions
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${Stack.of(child).splitArn(child.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}*`,
    });
    ack(stack.batch, resource(executions), NAG_REASONS.childExecutions);
  }
}

/**
 * A resolved CloudFormation value as the flat string cdk-nag names it in a finding (`AwsSolutions-IAM5[Resource::…]`):
 * Fn::Join joined, Ref → `<Id>`, Fn::GetAtt → `<Id.Attr>`, anything else as JSON. Mirrors cdk-nag's
 * utils/flatten-cfn-reference, which the nag test checks against.
 */
export function flattenCfnReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof value === 'object' && value !== null) {
    const node = value as Record<string, unknown>;
    if (node['Fn::Join']) {
      const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (node['Fn::Sub']) return flattenCfnReference(node['Fn::Sub']);
    if (node['Fn::GetAtt']) {
      const [id, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenCfnReference(id)}.${flattenCfnReference(attribute)}>`;
    }
    if (node['Fn::ImportValue']) return flattenCfnReference(node['Fn::ImportValue']);
    if (node.Ref) return `<${flattenCfnReference(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
