// The CDK app (cdk.json: "npx tsx lib/app.ts"). Configure with context, e.g.
//   npx cdk deploy -c dbSecretArn=arn:aws:secretsmanager:...:secret:lab-db-AbCdEf \
//     -c vpcId=vpc-0123 -c subnetIds=subnet-a,subnet-b -c securityGroupIds=sg-0123 \
//     -c storeBuckets=lab-external,lab-raw -c hashConcurrency=4
// Without any context `npx cdk synth` works offline (no VPC, secret named djmigrate/db, no store access).
import { App } from 'aws-cdk-lib';
import { DJMIGRATE_STACK_ID, DjmigrateStack } from './djmigrate-stack.js';

const app = new App();
const stackName: unknown = app.node.tryGetContext('stackName');
new DjmigrateStack(app, typeof stackName === 'string' && stackName ? stackName : DJMIGRATE_STACK_ID, {
  description: 'djmigrate: migrates DataJoint external storage in place (0.11 -> 0.12)',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
