// The 0.11 → 0.12 workflow as one Step Functions definition (JSONPath only), used twice: by the stack (AWS) and,
// through in-process synthesis, by the local runner (aws-local-stepfunctions). Keep it runnable by both: no JSONata,
// no Assign, no Distributed Map, state names unique across the Maps.
//
//   Validate ─▶ Inspect ─▶ ExecuteOrPlanOnly ──(execute != true)──▶ PlanOnly (outputs inspect's result)
//                                   │
//                                   ▼
//   Prepare ─▶ HashObjects (Map: HashBatch) ─▶ InsertRows ─▶ RewriteColumns (Map: RewriteColumn ⟲ ColumnRewritten ─▶ ColumnDone)
//           ─▶ Finish ─▶ Verify ─▶ Report (its result is the execution output)
//
// What each handler gets and what state keeps of its result (the Lambda response is always reduced to its Payload,
// nothing else of the SDK response enters state; only ids and counts travel, never lists of objects or rows):
//
//   state          handler   Payload sent                              kept at (of the handler's result)
//   Validate       validate  the execution input                       $ = { input }          (field `input`)
//   Inspect        inspect   { input }                                 $.inspected = { plan } (field `plan`)
//   Prepare        prepare   { input }                                 $.prepared = { hashBatches, columns }
//   HashBatch      hash      { input, batch }  (one per hashBatches[i]) discarded
//   InsertRows     insert    { input }                                 $.inserted.Payload  (whole result)
//   RewriteColumn  rewrite   { input, column } (one per columns[i])     $.progress = { column, done, rows }; loops until done
//   Finish         finish    { input }                                 $.finished.Payload  (whole result)
//   Verify         verify    { input }                                 $.verified.Payload  (whole result)
//   Report         report    { input, inspected, verified, finished }  execution output = whole result
//                            (each the producing handler's own result)
//
// JSONPath cannot store a whole Payload at a ResultPath without a key, so results whose fields the workflow reads are
// selected field by field (a missing field fails the execution with States.Runtime, naming the path), and results it
// only passes on are kept whole under `Payload`.
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Migrate011HandlerName, UnlockHandlerName } from '../../functions/handlers/names.js';
import { loopingMap, phasePayload, positiveInteger, releaseLockOnFailure, selectFields, taskFactory, validateTask, WHOLE_PAYLOAD, type WorkflowOptions } from './tasks.js';

/** Fields of a handler's result the workflow keeps (selected one by one); handlers not listed are kept whole or discarded. */
export const MIGRATE_011_RESULT_FIELDS = {
  inspect: ['plan'],
  prepare: ['hashBatches', 'columns'],
  rewrite: ['column', 'done', 'rows'],
} as const satisfies Partial<Record<Migrate011HandlerName, readonly string[]>>;

export interface Migrate011WorkflowOptions extends WorkflowOptions<Migrate011HandlerName | UnlockHandlerName> {
  /** MaxConcurrency of the HashObjects Map (batches hashed at once). Default 4. */
  readonly hashConcurrency?: number;
}

/**
 * Builds the 0.11 → 0.12 state machine definition under `scope` (in a child construct `Migrate011`).
 * Give the result to `sfn.DefinitionBody.fromChainable`.
 */
export function migrate011Definition(
  scope: Construct,
  functions: Record<Migrate011HandlerName | UnlockHandlerName, lambda.IFunction>,
  options: Migrate011WorkflowOptions = {},
): sfn.IChainable {
  const hashConcurrency = positiveInteger('hashConcurrency', options.hashConcurrency ?? 4);
  const wf = new Construct(scope, 'Migrate011');
  const invoke = taskFactory(wf, functions, options);

  const validate = validateTask(invoke, 'validate');

  const inspect = invoke('Inspect', 'inspect', {
    comment: 'Read-only: finds the external columns and stores, checks every value and object; the plan.',
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.inspect),
    resultPath: '$.inspected',
  });

  const planOnly = new sfn.Succeed(wf, 'PlanOnly', {
    comment: 'Not asked to execute: the plan is the output.',
    outputPath: '$.inspected',
  });

  const prepare = invoke('Prepare', 'prepare', {
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.prepare),
    resultPath: '$.prepared',
  });

  const hashBatch = invoke('HashBatch', 'hash', {
    payload: phasePayload({ batch: sfn.JsonPath.numberAt('$.batch') }),
    resultPath: sfn.JsonPath.DISCARD,
    // the iteration's output is only its batch number, so the (discarded) Map result stays tiny
    outputPath: '$.batch',
  });
  const hashObjects = new sfn.Map(wf, 'HashObjects', {
    comment: 'Streams every legacy object once: contents hashes into the journal (native mode also copies).',
    itemsPath: '$.prepared.hashBatches',
    itemSelector: {
      input: sfn.JsonPath.objectAt('$.input'),
      batch: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
    },
    maxConcurrency: hashConcurrency,
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(hashBatch);

  const insertRows = invoke('InsertRows', 'insert', {
    payload: phasePayload(),
    resultSelector: WHOLE_PAYLOAD,
    resultPath: '$.inserted',
  });

  const rewriteColumns = loopingMap(
    wf,
    { map: 'RewriteColumns', check: 'ColumnRewritten', done: 'ColumnDone' },
    (payload) =>
      invoke('RewriteColumn', 'rewrite', {
        comment: 'Works for a bounded time on one column; repeated until it reports done.',
        payload,
        resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.rewrite),
        resultPath: '$.progress',
      }),
    { itemsPath: '$.prepared.columns', field: 'column', maxConcurrency: 1, comment: 'One column at a time: fill the new column, verify, swap.' },
  );

  const finish = invoke('Finish', 'finish', {
    payload: phasePayload(),
    resultSelector: WHOLE_PAYLOAD,
    resultPath: '$.finished',
  });
  const verify = invoke('Verify', 'verify', {
    payload: phasePayload(),
    resultSelector: WHOLE_PAYLOAD,
    resultPath: '$.verified',
  });
  const report = invoke('Report', 'report', {
    payload: phasePayload({
      inspected: sfn.JsonPath.objectAt('$.inspected'),
      verified: sfn.JsonPath.objectAt('$.verified.Payload'),
      finished: sfn.JsonPath.objectAt('$.finished.Payload'),
    }),
    outputPath: '$.Payload',
  });

  releaseLockOnFailure(wf, invoke, [prepare, hashObjects, insertRows, rewriteColumns, finish, verify, report]);
  const execute = prepare.next(hashObjects).next(insertRows).next(rewriteColumns).next(finish).next(verify).next(report);
  return validate
    .next(inspect)
    .next(
      new sfn.Choice(wf, 'ExecuteOrPlanOnly')
        .when(sfn.Condition.booleanEquals('$.input.execute', true), execute)
        .otherwise(planOnly),
    );
}
