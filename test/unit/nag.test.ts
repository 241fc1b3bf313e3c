// cdk-nag's AwsSolutions pack over the real stack: zero unacknowledged findings, in the configurations that add or
// remove permissions (VPC, store prefixes, RDS instance or cluster, tracing, notifications, schedule, event bus, none).
// cdk-nag 3 is a policy-validation plugin: `validateScope` runs the pack directly; acknowledgements are in lib/nag.ts.
import { App, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { DjmigrateStack, projectCdkContext, type DjmigrateStackProps } from '../../lib/djmigrate-stack.js';
import { flattenCfnReference, NAG_REASONS } from '../../lib/nag.js';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:lab/db-AbCdEf';

const REALISTIC: DjmigrateStackProps = {
  env: { account: '111122223333', region: 'eu-west-1' },
  dbSecretArn: SECRET_ARN,
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: ['subnet-aaaa1111', 'subnet-bbbb2222'],
  storeBuckets: ['lab-external', 'lab-raw'],
  storePrefixes: ['lab-raw/dj'],
  dbInstanceIdentifier: 'lab-db',
  notificationEmail: 'ops@example.org',
  schedule: { expression: 'cron(0 2 ? * SAT *)', timeZone: 'Europe/Berlin', input: { from: '0.11', schemaPattern: 'lab\\_%', template: { stores: {} } } },
};

function nag(props: DjmigrateStackProps = {}) {
  const app = new App({ context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
  const stack = new DjmigrateStack(app, 'Nag', props);
  const report = new AwsSolutionsChecks(app, { verbose: true }).validateScope(app);
  const findings = report.violations.flatMap((violation) => violation.violatingResources.map((resource) => `${violation.ruleName} at ${resource.constructPath}`));
  return { app, stack, report, findings };
}

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged finding with realistic props (VPC, secret, store prefixes, RDS snapshot, e-mail, schedule)', () => {
    const { report, findings } = nag(REALISTIC);
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  }, 60_000);

  it('has none without any props or context (offline synth), nor with tracing, an Aurora cluster and a custom bus', () => {
    expect(nag().findings).toEqual([]);
    const { dbInstanceIdentifier: _instance, ...rest } = REALISTIC;
    expect(nag({ ...rest, dbClusterIdentifier: 'lab-cluster', tracing: true, eventBusName: 'lab-bus', securityGroupIds: ['sg-0123456789abcdef0'] }).findings).toEqual([]);
  }, 120_000);

  it('passes as a registered validation plugin too: synth succeeds (it fails on any finding)', () => {
    const app = new App({ context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    new DjmigrateStack(app, 'Nag', REALISTIC);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
    expect(() => app.synth()).not.toThrow();
  }, 60_000);

  it('really checks: an unjustified wildcard is a finding', () => {
    const app = new App({ context: { ...projectCdkContext(), 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const stack = new DjmigrateStack(app, 'Nag', REALISTIC);
    stack.functions.validate.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::somewhere/*'] }));
    const findings = new AwsSolutionsChecks(app).validateScope(app).violations.map((violation) => violation.ruleName);
    expect(findings).toEqual(['AwsSolutions-IAM5[Resource::arn:aws:s3:::somewhere/*]']);
  }, 60_000);

  it('records every acknowledgement with a written reason', () => {
    const { stack } = nag(REALISTIC);
    const reasons = new Set<string>();
    for (const construct of stack.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(id).toMatch(/AwsSolutions-/);
          expect(reason.length, id).toBeGreaterThan(40);
          reasons.add(reason);
        }
      }
    }
    expect([...reasons].sort()).toEqual(Object.values(NAG_REASONS).filter((reason) => reason !== NAG_REASONS.xrayResource).sort());
  }, 60_000);

  it('names resources the way cdk-nag does', () => {
    expect(flattenCfnReference({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::b/*']] })).toBe('arn:<AWS::Partition>:s3:::b/*');
    expect(flattenCfnReference({ 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Fn1', 'Arn'] }, ':*']] })).toBe('<Fn1.Arn>:*');
    expect(flattenCfnReference({ 'Fn::Select': [6, { Ref: 'X' }] })).toBe('{"Fn::Select":[6,{"Ref":"X"}]}');
  });
});
