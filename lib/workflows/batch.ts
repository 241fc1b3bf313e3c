// The batch workflow (JSONPath only, no Distributed Map): migrates many schemas, each as a child execution of the
// per-schema machine (startExecution.sync:2), at most `maxConcurrency` at once; one schema's failure never stops the
// others. Used by the stack (AWS, started by the schedule) and, through in-process synthesis, by the local runner
// (which runs each child locally with the same handlers).
//
//   Discover ─▶ MigrateSchemas (Map over $.schemas, MaxConcurrencyPath $.maxConcurrency)
//                 WindowOpen ──(windowEndsAt passed)──▶ NotStarted
//                     │ open (or no window)
//                 WhichMigration ─▶ StartMigrate011 | StartMigrate014 ──(any error)──▶ SchemaFailed
//                                        │ child SUCCEEDED
//                                   ChildOutcome ─▶ SchemaMigrated (its report's status) | SchemaPlanned (plan only)
//           ─▶ BatchReport (its result is the execution output)
//
//   state        handler        Payload sent                                   kept at
//   Discover     discoverBatch  the execution input                            $ = { from, template, schemas: [{schema}], skipped, maxConcurrency, windowEndsAt }
//   Start…       (child)        Input = States.JsonMerge(template, {schema})   $.child (only inside the iteration)
//   SchemaFailed failureBatch   { schema, failure: the Catch's { Error, Cause } }  the iteration's result
//   (iteration)                                                                 $.results[i] = { schema, status, outcome | error, cause, executionArn | reason }
//   BatchReport  reportBatch    { discovered: { from, skipped, windowEndsAt }, results, run }   execution output
//
// Only names travel in state: each schema's input is merged from the template when its iteration starts.
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { BatchHandlerName } from '../../functions/handlers/names.js';
import { selectFields, taskFactory, type WorkflowOptions } from './tasks.js';

/** Fields of Discover's result the batch keeps. */
export const BATCH_DISCOVER_FIELDS = ['from', 'template', 'schemas', 'skipped', 'maxConcurrency', 'windowEndsAt'] as const;

/** How long one schema's child execution may run before the batch records it as failed (States.Timeout). */
export const DEFAULT_SCHEMA_TIMEOUT = Duration.hours(24);

export interface BatchWorkflowOptions extends WorkflowOptions<BatchHandlerName> {
  /** TimeoutSeconds of each child execution's task. Default {@link DEFAULT_SCHEMA_TIMEOUT}. */
  readonly schemaTimeout?: Duration;
}

/** The per-schema machines the batch starts, by the batch input's `from`. */
export interface BatchChildren {
  readonly migrate011: sfn.IStateMachine;
  readonly migrate014: sfn.IStateMachine;
}

/** Builds the batch state machine definition under `scope` (in a child construct `Batch`). */
export function batchDefinition(
  scope: Construct,
  functions: Record<BatchHandlerName, lambda.IFunction>,
  children: BatchChildren,
  options: BatchWorkflowOptions = {},
): sfn.IChainable {
  const wf = new Construct(scope, 'Batch');
  const invoke = taskFactory(wf, functions, options);
  const schemaTimeout = options.schemaTimeout ?? DEFAULT_SCHEMA_TIMEOUT;

  const discover = invoke('Discover', 'discoverBatch', {
    comment: 'Checks the batch input and lists the schemas to migrate (names only), skipping migrated ones.',
    payload: sfn.TaskInput.fromJsonPathAt('$'),
    // no ResultPath: the selected result becomes the state (aws-local-stepfunctions mishandles an explicit "$")
    resultSelector: selectFields(BATCH_DISCOVER_FIELDS),
  });

  const notStarted = new sfn.Pass(wf, 'NotStarted', {
    comment: 'The maintenance window has ended: this schema is not started.',
    parameters: {
      schema: sfn.JsonPath.stringAt('$.schema'),
      status: 'NOT_STARTED',
      reason: sfn.JsonPath.format('the maintenance window ended at {}', sfn.JsonPath.stringAt('$.windowEndsAt')),
    },
  });
  const failed = invoke('SchemaFailed', 'failureBatch', {
    comment: "The child failed (or could not start): its error and the start of its message are recorded, the other schemas go on.",
    payload: sfn.TaskInput.fromObject({ schema: sfn.JsonPath.stringAt('$.schema'), failure: sfn.JsonPath.objectAt('$.failure') }),
    outputPath: '$.Payload',
  });
  const migrated = new sfn.Pass(wf, 'SchemaMigrated', {
    parameters: {
      schema: sfn.JsonPath.stringAt('$.schema'),
      status: 'SUCCEEDED',
      executionArn: sfn.JsonPath.stringAt('$.child.ExecutionArn'),
      outcome: sfn.JsonPath.stringAt('$.child.Output.status'),
    },
  });
  const planned = new sfn.Pass(wf, 'SchemaPlanned', {
    comment: 'A plan-only child: its output is the plan.',
    parameters: {
      schema: sfn.JsonPath.stringAt('$.schema'),
      status: 'SUCCEEDED',
      executionArn: sfn.JsonPath.stringAt('$.child.ExecutionArn'),
      outcome: 'planned',
    },
  });
  const childOutcome = new sfn.Choice(wf, 'ChildOutcome')
    .when(sfn.Condition.isPresent('$.child.Output.status'), migrated)
    .otherwise(planned);

  const start = (id: string, machine: sfn.IStateMachine) => {
    const task = new tasks.StepFunctionsStartExecution(wf, id, {
      comment: 'Runs one schema as a child execution and waits for it.',
      stateMachine: machine,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      // the child's input is exactly a per-schema input (strict: no AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID)
      associateWithParent: false,
      input: sfn.TaskInput.fromJsonPathAt('$.input'),
      resultPath: '$.child',
      taskTimeout: sfn.Timeout.duration(schemaTimeout),
    });
    task.addCatch(failed, { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    return task.next(childOutcome);
  };

  const whichMigration = new sfn.Choice(wf, 'WhichMigration')
    .when(sfn.Condition.stringEquals('$.input.from', '0.11'), start('StartMigrate011', children.migrate011))
    .otherwise(start('StartMigrate014', children.migrate014));

  const windowOpen = new sfn.Choice(wf, 'WindowOpen', { comment: 'No new schema starts after windowEndsAt.' })
    .when(sfn.Condition.isNull('$.windowEndsAt'), whichMigration)
    .when(sfn.Condition.timestampGreaterThanJsonPath('$$.State.EnteredTime', '$.windowEndsAt'), notStarted)
    .otherwise(whichMigration);

  const migrateSchemas = new sfn.Map(wf, 'MigrateSchemas', {
    comment: 'One child execution per schema, at most maxConcurrency at once.',
    itemsPath: '$.schemas',
    itemSelector: {
      schema: sfn.JsonPath.stringAt('$$.Map.Item.Value.schema'),
      input: sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.template'), sfn.JsonPath.objectAt('$$.Map.Item.Value')),
      windowEndsAt: sfn.JsonPath.stringAt('$.windowEndsAt'),
    },
    maxConcurrencyPath: '$.maxConcurrency',
    resultPath: '$.results',
  }).itemProcessor(windowOpen);

  const report = invoke('BatchReport', 'reportBatch', {
    comment: "Each schema's outcome and the counts: the execution output.",
    payload: sfn.TaskInput.fromObject({
      discovered: {
        from: sfn.JsonPath.stringAt('$.from'),
        skipped: sfn.JsonPath.objectAt('$.skipped'),
        windowEndsAt: sfn.JsonPath.stringAt('$.windowEndsAt'),
      },
      results: sfn.JsonPath.objectAt('$.results'),
      run: sfn.JsonPath.stringAt('$$.Execution.Id'),
    }),
    outputPath: '$.Payload',
  });

  return discover.next(migrateSchemas).next(report);
}
