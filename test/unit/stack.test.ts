import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DB_SECRET_ARN_ENV,
  DjmigrateStack,
  MIGRATION_REQUESTED_DETAIL_TYPE,
  projectCdkContext,
  PROJECT_ROOT,
  RDS_INSTANCE_ENV,
  storeScopes,
  WORK_BUDGET_ENV,
  type DjmigrateStackProps,
} from '../../lib/djmigrate-stack.js';
import {
  EVENT_BUS_ENV,
  EVENT_SOURCE,
  FAILED_DETAIL_TYPE,
  METRIC_NAMES,
  METRICS_NAMESPACE,
  PLAN_READY_DETAIL_TYPE,
  REPORTS_BUCKET_ENV,
  SUCCEEDED_DETAIL_TYPE,
} from '../../lib/operations.js';
import { ALL_HANDLERS, handlerEntry, type HandlerName } from '../../functions/handlers/names.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:lab/db-AbCdEf';

/** Stub entry files under the project (NodejsFunction wants entries below projectRoot): bundling them is quick. */
function makeStubHandlers(): string {
  const parent = path.join(PROJECT_ROOT, 'node_modules', '.cache');
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, 'djmigrate-stub-handlers-'));
  for (const name of ALL_HANDLERS) {
    const entry = path.join(dir, handlerEntry(name));
    mkdirSync(path.dirname(entry), { recursive: true });
    writeFileSync(entry, `export const handler = async (event: unknown) => ({ ${name}: event });\n`);
  }
  return dir;
}

/** `validate`: run CDK's built-in CloudFormation template check (WASM, ~4 s on first use); once is enough. */
function synth(context: Record<string, unknown> = {}, props: DjmigrateStackProps = {}, validate = false) {
  const app = new App({
    context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [], ...context },
    builtinCloudFormationValidation: validate,
  });
  const stack = new DjmigrateStack(app, 'Test', props);
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type PolicyResource = { Properties: { PolicyDocument: { Statement: Statement[] }; Roles: { Ref: string }[] } };

function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** Does an IAM action pattern (with * / ?) allow the given action? */
function allows(pattern: string, action: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return regex.test(action);
}

/** Role logical ids whose policies allow the action (on a resource whose JSON contains `resourceContains`, if given). */
function rolesAllowing(template: Template, action: string, resourceContains?: string): Set<string> {
  const roles = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[]) {
    const allowed = policy.Properties.PolicyDocument.Statement.some(
      (statement) =>
        statement.Effect === 'Allow' &&
        actionsOf(statement).some((pattern) => allows(pattern, action)) &&
        (resourceContains === undefined || JSON.stringify(statement.Resource).includes(resourceContains)),
    );
    if (allowed) for (const role of policy.Properties.Roles) roles.add(role.Ref);
  }
  return roles;
}

function roleOfFunction(template: Template, stack: DjmigrateStack, name: HandlerName): string {
  const fn = template.toJSON().Resources[stack.getLogicalId(stack.functions[name].node.defaultChild as never)];
  return fn.Properties.Role['Fn::GetAtt'][0] as string;
}

describe('DjmigrateStack', () => {
  let stack: DjmigrateStack;
  let template: Template;
  let validationReport: { pluginReports: { pluginName: string; violations: unknown[] }[] };

  beforeAll(() => {
    let app: App;
    ({ app, stack, template } = synth({}, { dbSecretArn: SECRET_ARN, storeBuckets: ['lab-external', 'lab-raw'], hashConcurrency: 6 }, true));
    validationReport = JSON.parse(readFileSync(path.join(app.synth().directory, 'validation-report.json'), 'utf8'));
  }, 120_000);

  it("passes CDK's built-in CloudFormation template validation without findings", () => {
    expect(validationReport.pluginReports.flatMap((report) => report.violations)).toEqual([]);
  });

  it('has one Node 22 arm64 function per handler, with the sizes and timeouts of their work', () => {
    template.resourceCountIs('AWS::Lambda::Function', ALL_HANDLERS.length);
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Handler).toBe('index.handler');
    }
    expect(Object.values(stack.handlerOfLogicalId).sort()).toEqual([...ALL_HANDLERS].sort());
    const listing = new Set(['inspect', 'prepare', 'verify']);
    const big = new Set(['hash', 'hashItems', 'startChecksum', 'recordChecksums', 'migrateColumn014', 'copyTable014', 'verify014']);
    // a Distributed Map child is an Express execution (5 minutes for both of its steps)
    const express: Partial<Record<HandlerName, number>> = { hashItems: 240, recordHashes: 60 };
    const long = new Set(['inspect', 'prepare', 'verify', 'insert', 'hash', 'startChecksum', 'recordChecksums', 'fill', 'discardFills', 'rewrite', 'plan014', 'prepareExternal014', 'migrateColumn014', 'prepareCopy014', 'copyTable014', 'compareTable014', 'verify014']);
    const budgeted = new Set(['fill', 'rewrite', 'inspect', 'prepare', 'recordChecksums', 'insert', 'verify', 'plan014', 'prepareExternal014', 'migrateColumn014', 'copyTable014', 'compareTable014', 'verify014']);
    for (const [logicalId, name] of Object.entries(stack.handlerOfLogicalId)) {
      const props = functions[logicalId]!.Properties;
      expect(props.MemorySize, name).toBe(listing.has(name) ? 2048 : big.has(name) ? 1024 : 512);
      expect(props.Timeout, name).toBe(express[name] ?? (long.has(name) ? 900 : 300));
      // RecordHashes is the Distributed Map's only database step: its concurrency is the connection budget
      expect(props.ReservedConcurrentExecutions, name).toBe(name === 'recordHashes' ? 10 : undefined);
      // a budgeted invocation hands back after 10 minutes, leaving 5 for its last chunk and the swap
      expect(props.Environment.Variables[WORK_BUDGET_ENV], name).toBe(budgeted.has(name) ? '600000' : undefined);
      expect(props.Environment.Variables[RDS_INSTANCE_ENV], name).toBeUndefined();
    }
  });

  it('has three STANDARD state machines (0.11, 0.14, batch) that log to log groups; 0.11 maps hash batches at hashConcurrency', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 3);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', Destinations: Match.anyValue() }),
    });
    const definition = JSON.stringify(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(definition).toContain('\\"HashObjects\\"');
    expect(definition).toContain('\\"MaxConcurrency\\":6');
    expect(definition).not.toContain('QueryLanguage');
    expect(definition).toContain('\\"MigrateExternalColumns\\"');
    expect(definition).toContain('\\"CompareTables\\"');
    for (const logicalId of Object.values(stack.stateMachineLogicalIds)) expect(logicalId in template.toJSON().Resources).toBe(true);
    // its Distributed Map sits in a Parallel's branch (HashAndFill): the machine's role may still start its children
    const machine011 = stack.getLogicalId(stack.migrate011.role.node.defaultChild as never);
    expect(rolesAllowing(template, 'states:StartExecution', stack.stateMachineLogicalIds.migrate011)).toContain(machine011);
    expect(rolesAllowing(template, 'states:DescribeExecution', stack.stateMachineLogicalIds.migrate011)).toContain(machine011);
  });

  it('never allows s3:DeleteObject; PutObject only for the functions that write objects; reads only where objects are read', () => {
    for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:DeleteBucket']) {
      expect(rolesAllowing(template, action)).toEqual(new Set());
    }
    const roles = (...names: HandlerName[]) => new Set(names.map((name) => roleOfFunction(template, stack, name)));
    expect(rolesAllowing(template, 's3:PutObject', ':s3:::lab-')).toEqual(roles('hash', 'hashItems', 'migrateColumn014', 'copyTable014'));
    // the only other s3:PutObject: the report functions on the reports bucket's reports/*, Prepare on the manifests
    // bucket's manifests/*, and the 0.11 machine (its Distributed Map's result files) on the manifests bucket
    const reportsBucket = stack.getLogicalId(stack.reportsBucket.node.defaultChild as never);
    const manifestsBucket = stack.getLogicalId(stack.manifestsBucket.node.defaultChild as never);
    const machine011 = stack.getLogicalId(stack.migrate011.role.node.defaultChild as never);
    const batchRole = stack.getLogicalId(stack.batchChecksumRole.node.defaultChild as never);
    expect(rolesAllowing(template, 's3:PutObject', reportsBucket)).toEqual(roles('report', 'report014', 'reportBatch', 'plan014'));
    // manifests bucket: Prepare and RecordChecksums the hash manifest, StartChecksumJob and the Batch Operations role
    // the Compute checksum job's files, the 0.11 machine its Distributed Map's result files
    expect(rolesAllowing(template, 's3:PutObject', manifestsBucket)).toEqual(new Set([...roles('prepare', 'recordChecksums', 'startChecksum'), machine011, batchRole]));
    expect(rolesAllowing(template, 's3:PutObject')).toEqual(
      new Set([...roles('hash', 'hashItems', 'migrateColumn014', 'copyTable014', 'report', 'report014', 'reportBatch', 'plan014', 'prepare', 'recordChecksums', 'startChecksum'), machine011, batchRole]),
    );
    const readers = roles('inspect', 'prepare', 'recordChecksums', 'hashItems', 'hash', 'verify', 'plan014', 'prepareExternal014', 'migrateColumn014', 'prepareCopy014', 'copyTable014', 'verify014');
    // the Batch Operations role reads the store objects to checksum them (no listing)
    expect(rolesAllowing(template, 's3:GetObject', ':s3:::lab-')).toEqual(new Set([...readers, batchRole]));
    // the machine reads only its manifests (the Distributed Map's ItemReader); the job's files are read by its role and RecordChecksums
    expect(rolesAllowing(template, 's3:GetObject')).toEqual(new Set([...readers, machine011, batchRole]));
    expect(rolesAllowing(template, 's3:GetObject', manifestsBucket)).toEqual(new Set([machine011, batchRole, ...roles('recordChecksums')]));
    expect(rolesAllowing(template, 's3:ListBucket')).toEqual(readers);
    // only StartChecksumJob creates Batch Operations jobs, passing only that role, to that service only
    expect(rolesAllowing(template, 's3:CreateJob')).toEqual(roles('startChecksum'));
    expect(rolesAllowing(template, 'iam:PassRole')).toEqual(roles('startChecksum'));
    expect(rolesAllowing(template, 's3:DescribeJob')).toEqual(roles('checksumState'));
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'iam:PassRole',
            Resource: { 'Fn::GetAtt': [batchRole, 'Arn'] },
            Condition: { StringEquals: { 'iam:PassedToService': 'batchoperations.s3.amazonaws.com' } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'batchoperations.s3.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': Match.anyValue() } } })],
      },
    });
    expect(rolesAllowing(template, 'rds:CreateDBSnapshot')).toEqual(new Set());
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: Match.arrayWith([
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::lab-external/*']] },
              { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::lab-raw/*']] },
            ]),
          }),
        ]),
      },
    });
  });

  it('lets every function read the database secret, whose ARN (not value) is in its environment', () => {
    const readers = rolesAllowing(template, 'secretsmanager:GetSecretValue');
    for (const name of ALL_HANDLERS) expect(readers.has(roleOfFunction(template, stack, name))).toBe(true);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: Match.arrayWith(['secretsmanager:GetSecretValue']), Resource: SECRET_ARN }),
        ]),
      },
    });
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect(variables[DB_SECRET_ARN_ENV]).toBe(SECRET_ARN);
      expect(JSON.stringify(variables)).not.toMatch(/password|username|SecretString|resolve:secretsmanager/i);
    }
    expect(JSON.stringify(template.toJSON())).not.toContain('resolve:secretsmanager');
  });

  it('synthesizes without any context: no VPC, the default secret name and a warning saying so', () => {
    const { stack: bare, template: bareTemplate } = synth();
    for (const fn of Object.values(bareTemplate.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
      expect(JSON.stringify(fn.Properties.Environment.Variables[DB_SECRET_ARN_ENV])).toContain(':secret:djmigrate/db');
    }
    // no store buckets: no function reads store objects (the 0.11 machine reads its own manifests; RecordChecksums and
    // the Batch Operations role the Compute checksum job's files)
    expect(rolesAllowing(bareTemplate, 's3:GetObject')).toEqual(
      new Set([bare.migrate011.role, bare.batchChecksumRole, bare.functions.recordChecksums.role!].map((role) => bare.getLogicalId(role.node.defaultChild as never))),
    );
    Annotations.fromStack(bare).hasWarning('*', Match.stringLikeRegexp('No dbSecretArn given'));
  }, 60_000);

  it('runs the functions in the given subnets and security groups when the VPC context is set (no lookup)', () => {
    const { template: vpcTemplate } = synth({
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: 'subnet-aaaa1111,subnet-bbbb2222',
      securityGroupIds: ['sg-0123456789abcdef0'],
      dbSecretArn: SECRET_ARN,
      storeBuckets: 'lab-external',
    });
    for (const fn of Object.values(vpcTemplate.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-aaaa1111', 'subnet-bbbb2222'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      });
    }
    vpcTemplate.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    expect(rolesAllowing(vpcTemplate, 's3:PutObject', ':s3:::lab-external').size).toBe(4);
  }, 60_000);

  it('creates one security group for all functions when only vpcId and subnetIds are given', () => {
    const { template: vpcTemplate } = synth({ vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-aaaa1111'] });
    vpcTemplate.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    expect(() => synth({ vpcId: 'vpc-0123456789abcdef0' })).toThrow(/subnetIds/);
  }, 60_000);

  it('bundles each handler locally (no Docker) as an ESM bundle with the createRequire banner', () => {
    const dir = makeStubHandlers();
    const outdir = mkdtempSync(path.join(PROJECT_ROOT, 'node_modules', '.cache', 'djmigrate-cdk-out-'));
    try {
      const app = new App({ outdir, context: projectCdkContext(), builtinCloudFormationValidation: false });
      new DjmigrateStack(app, 'Bundled', { handlersDir: dir });
      app.synth();
      const assets = readdirSync(outdir).filter((entry) => entry.startsWith('asset.'));
      expect(assets).toHaveLength(ALL_HANDLERS.length);
      for (const asset of assets) {
        const bundle = readFileSync(path.join(outdir, asset, 'index.mjs'), 'utf8');
        expect(bundle.startsWith("import { createRequire as __djmigrateCreateRequire } from 'module';")).toBe(true);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('lets only the backup function snapshot the named RDS instance, and only into djmigrate-* snapshots', () => {
    const { stack: rdsStack, template: rdsTemplate } = synth({}, { dbSecretArn: SECRET_ARN, dbInstanceIdentifier: 'lab-db' });
    const backupRole = roleOfFunction(rdsTemplate, rdsStack, 'backup014');
    for (const action of ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots', 'rds:AddTagsToResource']) {
      expect(rolesAllowing(rdsTemplate, action), action).toEqual(new Set([backupRole]));
    }
    expect(rolesAllowing(rdsTemplate, 'rds:DeleteDBSnapshot')).toEqual(new Set());
    const policies = JSON.stringify(rdsTemplate.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':db:lab-db');
    expect(policies).toContain(':snapshot:djmigrate-*');
    const backupFn = rdsTemplate.toJSON().Resources[rdsStack.getLogicalId(rdsStack.functions.backup014.node.defaultChild as never)];
    expect(backupFn.Properties.Environment.Variables[RDS_INSTANCE_ENV]).toBe('lab-db');
    expect(() => synth({}, { dbInstanceIdentifier: 'a', dbClusterIdentifier: 'b' })).toThrow(/not both/);
  }, 60_000);
});

const BATCH_INPUT = {
  from: '0.11',
  schemaPattern: 'lab\\_%',
  exclude: ['lab_scratch'],
  template: { execute: true, stores: { external: { protocol: 's3', bucket: 'lab-external', location: 'dj' } } },
  maxConcurrency: 3,
  windowMinutes: 240,
};

describe('DjmigrateStack: batch machine, schedule and migration-request rules', () => {
  let stack: DjmigrateStack;
  let template: Template;

  beforeAll(() => {
    ({ stack, template } = synth(
      {},
      { dbSecretArn: SECRET_ARN, schedule: { expression: 'cron(0 2 ? * SAT *)', timeZone: 'Europe/Berlin', flexibleWindowMinutes: 30, input: BATCH_INPUT } },
    ));
  }, 120_000);

  const batchDefinition = () => {
    const machine = template.toJSON().Resources[stack.stateMachineLogicalIds.batch];
    return JSON.stringify(machine.Properties.DefinitionString);
  };

  it('has a batch machine: Discover, a Map of startExecution.sync:2 children (concurrency from the input) with Catch, BatchReport', () => {
    const definition = batchDefinition();
    expect(definition).toContain('states:startExecution.sync:2');
    expect(definition).toContain('\\"MaxConcurrencyPath\\":\\"$.maxConcurrency\\"');
    expect(definition).toContain('\\"ErrorEquals\\":[\\"States.ALL\\"]');
    expect(definition).toContain('$$.State.EnteredTime');
    expect(definition).not.toMatch(/DISTRIBUTED|ItemReader|QueryLanguage/);
    // the children are the two per-schema machines
    expect(definition).toContain(stack.stateMachineLogicalIds.migrate011);
    expect(definition).toContain(stack.stateMachineLogicalIds.migrate014);
    const batch = template.toJSON().Resources[stack.stateMachineLogicalIds.batch];
    expect(batch.Properties.StateMachineType).toBe('STANDARD');
    expect(batch.Properties.LoggingConfiguration.Level).toBe('ALL');
    for (const name of ['discoverBatch', 'reportBatch'] as const) expect(stack.functions[name]).toBeDefined();
  });

  it("lets the batch machine's role start (only) the two per-schema machines and manage the .sync rule", () => {
    const batchRole = template.toJSON().Resources[stack.stateMachineLogicalIds.batch].Properties.RoleArn['Fn::GetAtt'][0] as string;
    const starters = rolesAllowing(template, 'states:StartExecution');
    expect(starters.has(batchRole)).toBe(true);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[];
    const batchStatements = policies.filter((policy) => policy.Properties.Roles.some((role) => role.Ref === batchRole)).flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const start = batchStatements.find((statement) => actionsOf(statement).includes('states:StartExecution'))!;
    expect(start.Resource).toEqual(expect.arrayContaining([{ Ref: stack.stateMachineLogicalIds.migrate011 }, { Ref: stack.stateMachineLogicalIds.migrate014 }]));
    expect(JSON.stringify(start.Resource)).not.toContain(stack.stateMachineLogicalIds.batch);
    const sync = batchStatements.find((statement) => actionsOf(statement).includes('events:PutRule'))!;
    expect(actionsOf(sync)).toEqual(expect.arrayContaining(['events:PutTargets', 'events:PutRule', 'events:DescribeRule']));
    expect(JSON.stringify(sync.Resource)).toContain('StepFunctionsGetEventsForStepFunctionsExecutionRule');
    expect(batchStatements.some((statement) => actionsOf(statement).some((action) => ['states:DescribeExecution', 'states:StopExecution'].includes(action)))).toBe(true);
  });

  it('schedules the batch machine: expression, time zone, flexible window, the batch input; its role may only start the batch machine', () => {
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 ? * SAT *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 30 },
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: { Ref: stack.stateMachineLogicalIds.batch }, Input: JSON.stringify(BATCH_INPUT) }),
    });
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0]!;
    const scheduleRole = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0] as string;
    const role = template.toJSON().Resources[scheduleRole];
    expect(JSON.stringify(role.Properties.AssumeRolePolicyDocument)).toContain('scheduler.amazonaws.com');
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[])
      .filter((policy) => policy.Properties.Roles.some((r) => r.Ref === scheduleRole))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([{ Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stack.stateMachineLogicalIds.batch } }]);
  });

  it('starts migrate011 / migrate014 on a "DataJoint Schema Migration Requested" event, by detail.from, with detail as the input', () => {
    expect(MIGRATION_REQUESTED_DETAIL_TYPE).toBe('DataJoint Schema Migration Requested');
    // the two request rules and the abandoned-lock rule
    template.resourceCountIs('AWS::Events::Rule', 3);
    for (const [from, workflow] of [['0.11', 'migrate011'], ['0.14', 'migrate014']] as const) {
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: { 'detail-type': [MIGRATION_REQUESTED_DETAIL_TYPE], detail: { from: [from] } },
        State: 'ENABLED',
        Targets: [Match.objectLike({ Arn: { Ref: stack.stateMachineLogicalIds[workflow] }, InputPath: '$.detail' })],
      });
    }
    const requestRules = Object.values(stack.migrationRequestRules).map((rule) => stack.getLogicalId(rule.node.defaultChild as never));
    const rules = requestRules.map((id) => template.toJSON().Resources[id]);
    for (const rule of rules) {
      expect(rule.Properties.EventBusName).toBeUndefined();
      expect(rule.Properties.EventPattern.source).toBeUndefined();
      const roleId = rule.Properties.Targets[0].RoleArn['Fn::GetAtt'][0] as string;
      const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[])
        .filter((policy) => policy.Properties.Roles.some((r) => r.Ref === roleId))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
      expect(statements.flatMap(actionsOf)).toEqual(['states:StartExecution']);
    }
  });

  it('hands the status change of an aborted or timed-out migration to unlockAbandoned, which frees its schema lock', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['ABORTED', 'TIMED_OUT'], stateMachineArn: [{ Ref: stack.stateMachineLogicalIds.migrate011 }, { Ref: stack.stateMachineLogicalIds.migrate014 }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [stack.getLogicalId(stack.functions.unlockAbandoned.node.defaultChild as never), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [stack.getLogicalId(stack.functions.unlockAbandoned.node.defaultChild as never), 'Arn'] },
    });
  });

  it('takes the schedule and the event bus from context; no schedule without one; refuses a bad schedule or input at synth', () => {
    const { template: ctx, stack: ctxStack } = synth({
      scheduleExpression: 'rate(1 day)',
      scheduleInput: JSON.stringify({ from: '0.14', schemas: ['lab_a'], template: { stores: {} } }),
      eventBusName: 'lab-bus',
    });
    ctx.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 day)', FlexibleTimeWindow: { Mode: 'OFF' } });
    for (const rule of Object.values(ctxStack.migrationRequestRules)) {
      expect(ctx.toJSON().Resources[ctxStack.getLogicalId(rule.node.defaultChild as never)].Properties.EventBusName).toBe('lab-bus');
    }
    // Step Functions' own status changes arrive on the default bus only
    expect(ctx.toJSON().Resources[ctxStack.getLogicalId(ctxStack.abandonedLockRule.node.defaultChild as never)].Properties.EventBusName).toBeUndefined();
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    synth().template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    expect(() => synth({}, { schedule: { expression: '0 2 * * *', input: BATCH_INPUT } })).toThrow(/cron\(\.\.\.\) or rate/);
    expect(() => synth({}, { schedule: { expression: 'rate(1 day)', input: { ...BATCH_INPUT, schemas: ['a'] } } })).toThrow(/schemas: give exactly one/);
    expect(() => synth({}, { schedule: { expression: 'rate(1 day)', input: { ...BATCH_INPUT, template: { stores: {}, mode: 'sideways' } } } })).toThrow(/template\.mode/);
  }, 60_000);
});

describe('DjmigrateStack: reports bucket, events, notifications, dashboard, store prefixes', () => {
  let stack: DjmigrateStack;
  let template: Template;
  let quiet: { stack: DjmigrateStack; template: Template };

  beforeAll(() => {
    ({ stack, template } = synth(
      {},
      {
        dbSecretArn: SECRET_ARN,
        storeBuckets: ['lab-external', 'lab-raw'],
        storePrefixes: ['lab-raw/dj/', 'lab-archive/old'],
        notificationEmail: 'ops@example.org',
        eventBusName: 'lab-bus',
        reportsRetentionDays: 90,
      },
    ));
    quiet = synth({}, { dbSecretArn: SECRET_ARN });
  }, 120_000);

  const resources = () => template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
  const reportsBucketId = () => stack.getLogicalId(stack.reportsBucket.node.defaultChild as never);
  const roles = (...names: HandlerName[]) => new Set(names.map((name) => roleOfFunction(template, stack, name)));

  it('keeps the reports in a retained, versioned, SSE-S3, non-public, TLS-only bucket that logs its access to a second bucket', () => {
    template.resourceCountIs('AWS::S3::Bucket', 3);
    const buckets = Object.entries(resources()).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    for (const [id, bucket] of buckets) {
      expect(bucket.DeletionPolicy, id).toBe('Retain');
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      expect(bucket.Properties.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    const reports = resources()[reportsBucketId()]!;
    expect(reports.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    const manifestsId = stack.getLogicalId(stack.manifestsBucket.node.defaultChild as never);
    const logsId = buckets.map(([id]) => id).find((id) => id !== reportsBucketId() && id !== manifestsId)!;
    // the manifests bucket: same settings, unversioned, its objects gone after 30 days, its access logged too
    const manifests = resources()[manifestsId]!;
    expect(manifests.Properties.VersioningConfiguration).toBeUndefined();
    expect(manifests.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({ ExpirationInDays: 30, Status: 'Enabled' });
    expect(manifests.Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logsId }, LogFilePrefix: 'manifests-bucket/' });
    expect(reports.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logsId });
    expect(reports.Properties.LifecycleConfiguration.Rules[0]).toMatchObject({ ExpirationInDays: 90, Status: 'Enabled' });
    expect(JSON.stringify(quiet.template.findResources('AWS::S3::Bucket'))).toContain('"ExpirationInDays":365');
    // the log delivery service may write the reports bucket's logs, nothing else
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [reportsBucketId(), 'Arn'] } } }) }),
        ]),
      },
    });
  });

  it('lets only the report functions put objects, and only below reports/ of the reports bucket; nobody reads or deletes there', () => {
    expect(rolesAllowing(template, 's3:PutObject', reportsBucketId())).toEqual(roles('report', 'report014', 'reportBatch', 'plan014'));
    for (const action of ['s3:GetObject', 's3:DeleteObject', 's3:ListBucket']) expect(rolesAllowing(template, action, reportsBucketId()), action).toEqual(new Set());
    const reportStatements = (Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[])
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Resource).includes(reportsBucketId()));
    expect(reportStatements.length).toBeGreaterThan(0);
    for (const statement of reportStatements) {
      expect(statement.Action).toBe('s3:PutObject');
      expect(statement.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [reportsBucketId(), 'Arn'] }, '/reports/*']] });
    }
  });

  it('lets only inspect, plan014, the report functions and the unlocks put events, on the configured bus only', () => {
    const publishers = roles('inspect', 'plan014', 'report', 'report014', 'reportBatch', 'unlock', 'unlockAbandoned');
    expect(rolesAllowing(template, 'events:PutEvents')).toEqual(publishers);
    expect(rolesAllowing(template, 'events:PutEvents', ':event-bus/lab-bus')).toEqual(publishers);
    const quietPublishers = new Set((['inspect', 'plan014', 'report', 'report014', 'reportBatch', 'unlock', 'unlockAbandoned'] as const).map((name) => roleOfFunction(quiet.template, quiet.stack, name)));
    expect(rolesAllowing(quiet.template, 'events:PutEvents', ':event-bus/default')).toEqual(quietPublishers);
  });

  it('tells every function the reports bucket, the bus and the Powertools service and metrics namespace', () => {
    for (const [t, bus] of [[template, 'lab-bus'], [quiet.template, 'default']] as const) {
      const bucketId = t === template ? reportsBucketId() : quiet.stack.getLogicalId(quiet.stack.reportsBucket.node.defaultChild as never);
      for (const fn of Object.values(t.findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties.Environment.Variables).toMatchObject({
          [REPORTS_BUCKET_ENV]: { Ref: bucketId },
          [EVENT_BUS_ENV]: bus,
          POWERTOOLS_SERVICE_NAME: 'djmigrate',
          POWERTOOLS_METRICS_NAMESPACE: 'djmigrate',
        });
      }
    }
  });

  it('notifies an e-mail address through an SNS topic (alias/aws/sns, TLS only) only when notificationEmail is given', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('alias/aws/sns')])]) }) });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.org', TopicArn: { Ref: stack.getLogicalId(stack.notifications!.topic.node.defaultChild as never) } });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    quiet.template.resourceCountIs('AWS::SNS::Topic', 0);
    quiet.template.resourceCountIs('AWS::SNS::Subscription', 0);
    quiet.template.resourceCountIs('AWS::Events::Rule', 3);
    expect(quiet.stack.notifications).toBeUndefined();
    expect(() => synth({}, { notificationEmail: 'not-an-address' })).toThrow(/e-mail/);
  });

  it("routes the functions' events and the machines' FAILED / TIMED_OUT / ABORTED status changes to the topic, as readable text", () => {
    expect(NOTIFICATION_TYPES).toEqual(['DataJoint Migration Plan Ready', 'DataJoint Migration Succeeded', 'DataJoint Migration Failed']);
    template.resourceCountIs('AWS::Events::Rule', 5);
    const topic = { Ref: stack.getLogicalId(stack.notifications!.topic.node.defaultChild as never) };
    const custom = resources()[stack.getLogicalId(stack.notifications!.migrationEventsRule.node.defaultChild as never)]!.Properties;
    expect(custom.EventBusName).toBe('lab-bus');
    expect(custom.EventPattern).toEqual({ source: [EVENT_SOURCE], 'detail-type': NOTIFICATION_TYPES });
    expect(custom.Targets).toHaveLength(1);
    expect(custom.Targets[0].Arn).toEqual(topic);
    expect(custom.Targets[0].RoleArn).toBeDefined();
    expect(custom.Targets[0].InputTransformer.InputPathsMap).toMatchObject({ 'detail-schema': '$.detail.schema', 'detail-status': '$.detail.status', detail: '$.detail' });
    expect(custom.Targets[0].InputTransformer.InputTemplate).toMatch(/schema <detail-schema> .*is <detail-status> \(execution <detail-executionArn>\)\. Summary: <detail>/);

    const native = resources()[stack.getLogicalId(stack.notifications!.executionFailedRule.node.defaultChild as never)]!.Properties;
    expect(native.EventBusName).toBeUndefined();
    expect(native.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [stack.stateMachineLogicalIds.migrate011, stack.stateMachineLogicalIds.migrate014, stack.stateMachineLogicalIds.batch].map((id) => ({ Ref: id })),
      },
    });
    expect(native.Targets[0].Arn).toEqual(topic);
    expect(native.Targets[0].InputTransformer.InputTemplate).toMatch(/<detail-status>.*<detail-executionArn>/);
    // the rules' roles may only publish to the topic
    for (const rule of [custom, native]) {
      const roleId = rule.Targets[0].RoleArn['Fn::GetAtt'][0] as string;
      const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[])
        .filter((policy) => policy.Properties.Roles.some((r) => r.Ref === roleId))
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
      expect(statements).toEqual([{ Effect: 'Allow', Action: 'sns:Publish', Resource: topic }]);
    }
  });

  it('has a dashboard djmigrate-<stackName> with the machines, the functions and the djmigrate EMF metrics', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!;
    expect(dashboard.Properties.DashboardName).toBe('djmigrate-Test');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const id of Object.values(stack.stateMachineLogicalIds)) expect(body).toContain(id);
    for (const metric of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut', 'Errors', 'Duration', 'Throttles']) expect(body).toContain(metric);
    for (const name of ALL_HANDLERS) expect(body).toContain(stack.getLogicalId(stack.functions[name].node.defaultChild as never));
    expect(METRICS_NAMESPACE).toBe('djmigrate');
    expect(METRIC_NAMES).toEqual(['ObjectsHashed', 'BytesHashed', 'RowsRewritten', 'RowsCopied', 'Errors']);
    // one SEARCH per metric: every Workflow value the functions emit (the body's quotes are escaped twice here)
    for (const metric of METRIC_NAMES) expect(body).toMatch(new RegExp(`SEARCH\\('\\{djmigrate,Workflow\\} MetricName=[\\\\"]+${metric}[\\\\"]+', 'Sum', 300\\)`));
  });

  it('grants the store objects\' KMS keys (storeKmsKeys): Decrypt to the readers and the Batch Operations role, GenerateDataKey to the writers; none without them', () => {
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { stack: kmsStack, template: kms } = synth({ storeKmsKeys: key }, { dbSecretArn: SECRET_ARN, storeBuckets: ['lab-external'] });
    const roles = (...names: HandlerName[]) => new Set(names.map((name) => roleOfFunction(kms, kmsStack, name)));
    const batchRole = kmsStack.getLogicalId(kmsStack.batchChecksumRole.node.defaultChild as never);
    const readers: HandlerName[] = ['inspect', 'prepare', 'recordChecksums', 'hashItems', 'hash', 'verify', 'plan014', 'prepareExternal014', 'migrateColumn014', 'prepareCopy014', 'copyTable014', 'verify014'];
    expect(rolesAllowing(kms, 'kms:Decrypt', key)).toEqual(new Set([...roles(...readers), batchRole]));
    expect(rolesAllowing(kms, 'kms:GenerateDataKey', key)).toEqual(roles('hashItems', 'hash', 'migrateColumn014', 'copyTable014'));
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) expect(rolesAllowing(template, action)).toEqual(new Set());
    expect(() => synth({ storeKmsKeys: 'alias/lab-stores' })).toThrow(/storeKmsKeys: "alias\/lab-stores" is not a KMS key ARN/);
  });

  it('scopes object access to storePrefixes (bucket/prefix/*, ListBucket by s3:prefix) and keeps whole buckets for the rest', () => {
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':s3:::lab-external/*');
    expect(policies).toContain(':s3:::lab-raw/dj/*');
    expect(policies).toContain(':s3:::lab-archive/old/*');
    expect(policies).not.toContain(':s3:::lab-raw/*');
    expect(policies).not.toContain(':s3:::lab-archive/*');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:ListBucket',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::lab-raw']] },
            Condition: { StringLike: { 's3:prefix': ['dj', 'dj/*'] } },
          }),
        ]),
      },
    });
    const readers = roles('inspect', 'prepare', 'recordChecksums', 'hashItems', 'hash', 'verify', 'plan014', 'prepareExternal014', 'migrateColumn014', 'prepareCopy014', 'copyTable014', 'verify014');
    const batchRole = stack.getLogicalId(stack.batchChecksumRole.node.defaultChild as never);
    expect(rolesAllowing(template, 's3:GetObject', 'lab-raw/dj/*')).toEqual(new Set([...readers, batchRole]));
    expect(rolesAllowing(template, 's3:PutObject', 'lab-raw/dj/*')).toEqual(roles('hash', 'hashItems', 'migrateColumn014', 'copyTable014'));
    expect(rolesAllowing(template, 's3:DeleteObject')).toEqual(new Set());
  });

  it('parses store buckets and prefixes, from props or context, and refuses bad ones', () => {
    expect(storeScopes(['a-bucket', 'b-bucket'], ['b-bucket/x/y/', 'c-bucket/z', 'b-bucket/x/y'])).toEqual([
      { bucketName: 'a-bucket', prefixes: [] },
      { bucketName: 'b-bucket', prefixes: ['x/y'] },
      { bucketName: 'c-bucket', prefixes: ['z'] },
    ]);
    expect(() => storeScopes([], ['only-bucket'])).toThrow(/bucket\/prefix/);
    expect(() => storeScopes([], ['b-bucket/*'])).toThrow(/no wildcards/);
    expect(() => storeScopes(['Bad_Bucket'], [])).toThrow(/not an S3 bucket name/);
    const { template: ctx } = synth({ storePrefixes: 'lab-raw/dj,lab-raw/more', notificationEmail: 'ops@example.org', reportsRetentionDays: '30' });
    const policies = JSON.stringify(ctx.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':s3:::lab-raw/dj/*');
    expect(policies).toContain(':s3:::lab-raw/more/*');
    ctx.resourceCountIs('AWS::SNS::Subscription', 1);
    expect(JSON.stringify(ctx.findResources('AWS::S3::Bucket'))).toContain('"ExpirationInDays":30');
  }, 60_000);
});

const NOTIFICATION_TYPES = [PLAN_READY_DETAIL_TYPE, SUCCEEDED_DETAIL_TYPE, FAILED_DETAIL_TYPE];
