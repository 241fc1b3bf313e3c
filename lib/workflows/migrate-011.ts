// The 0.11 → 0.12 workflow as one Step Functions definition (JSONPath only), used twice: by the stack (AWS) and,
// through in-process synthesis, by the local runner (aws-local-stepfunctions, which has no Distributed Map: the runner
// rewrites it into a manifest reader and an inline Map, see functions/local/distributed-map.ts). Keep it runnable by
// both: no JSONata, no Assign, state names unique across the Maps.
//
//   Validate ─▶ StartInspect ─▶ Inspect ⟲ Inspected ─▶ KeepPlan ─▶ ExecuteOrPlanOnly ──(execute != true)──▶ PlanOnly
//                                                                                 │                (outputs { plan })
//                                                                                 ▼
//   Prepare ⟲ Prepared ─(s3BatchChecksum)─▶ StartChecksumJob ─▶ WaitForChecksumJob ⟲ ChecksumJobState ─▶ RecordChecksums ⟲┐
//      │                                                                                                                  ▼
//      └──────────▶ HashAndFill (Parallel, two branches side by side)
//        branch 1: DistributeHashing ──(a manifest)──▶ HashManifest (Distributed Map of Express children:
//                    │                               HashItems ─▶ RecordHashes) ─┐
//                    ▼                                                            ▼
//                  PendingBatches ─▶ HashObjects (Map: HashBatch)
//        branch 2: FillTables (Map over tables, fillConcurrency at once: FillTable ⟲ TableFilled ─▶ FillDone, a
//                  table's columns in turn; while objects a column needs still hash: WaitForStoreHashed ─▶ FillTable)
//        on a refusal: DiscardFills (drops the temporary columns) ─▶ the failure path
//      ─▶ InsertRows ⟲ RowsInserted ─▶ RewriteColumns (Map over tables, fillConcurrency at once: RewriteColumn ⟲
//         ColumnRewritten ─▶ ColumnDone, a table's columns in turn)
//      ─▶ Finish ─▶ Verify ⟲ Verified ─▶ Report (its result is the execution output)
//
// The Distributed Map is the bulk pass for many objects: its children need no database connection to hash, and only
// RecordHashes (one short UPDATE per child, its function's concurrency capped) touches RDS. Whatever it leaves
// (objects ≥ 1 GiB, children that ran out of time or failed within the tolerated percentage, objects that failed
// verification) is still unhashed in the journal: the standard Map hashes it, and stops on a bad object naming it.
//
// What each handler gets and what state keeps of its result (the Lambda response is always reduced to its Payload,
// nothing else of the SDK response enters state; only ids and counts travel, never lists of objects or rows):
//
//   state          handler   Payload sent                              kept at (of the handler's result)
//   Validate       validate  the execution input                       $ = { input }          (field `input`)
//   Inspect        inspect   { input, checkpoint }                     $.inspecting = { plan, checkpoint }; loops while plan
//                                                                      is null (the checkpoint goes to the next call);
//                                                                      KeepPlan: the state is { input, inspected: { plan } }
//   Prepare        prepare   { input }                                 $.prepared = { done, manifest, columns, tableColumns };
//                                                                      loops until done
//   StartChecksumJob startChecksum { input }                           $.checksum = { job, run }
//   ChecksumJobState checksumState { input, job } (its lock heartbeat)  $.checksumJob = { done }
//   RecordChecksums  recordChecksums { input, checksum }               $.prepared = { done, manifest, columns, tableColumns } (Prepare's, now
//                                                                      with the manifest); loops until done
//   HashItems      hashItems { input, run, items } (a child's batch)     $.hashed = { hashed, left, refused }
//   RecordHashes   recordHashes { input, run, hashed, left, refused }   the child's output = { recorded, left, refused }
//   PendingBatches pendingBatches { input }                            $.pending = { hashBatches }
//   HashBatch      hash      { input, batch }  (one per hashBatches[i]) discarded
//   InsertRows     insert    { input }                                 $.inserted.Payload  (whole result); loops until done
//   FillTable      fill      { input, columns } (one per tableColumns[i]) $.progress = { column, done, rows, waiting }; loops until done
//   DiscardFills   discardFills { input }                              discarded (the failure stays at $.failure)
//   RewriteColumn  rewrite   { input, columns } (one per tableColumns[i]) $.progress = { column, done, rows }; loops until done
//   Finish         finish    { input }                                 $.finished.Payload  (whole result)
//   Verify         verify    { input }                                 $.verified.Payload  (whole result); loops until done
//   Report         report    { input, inspected, verified, finished }  execution output = whole result
//                            (each the producing handler's own result)
//
// JSONPath cannot store a whole Payload at a ResultPath without a key, so results whose fields the workflow reads are
// selected field by field (a missing field fails the execution with States.Runtime, naming the path), and results it
// only passes on are kept whole under `Payload`.
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { REFUSAL_ERROR } from '../../functions/core/errors.js';
import type { Migrate011HandlerName, UnlockHandlerName } from '../../functions/handlers/names.js';
import { loopingMap, phasePayload, positiveInteger, releaseLockOnFailure, selectFields, taskFactory, validateTask, WHOLE_PAYLOAD, type WorkflowOptions } from './tasks.js';

/** Fields of a handler's result the workflow keeps (selected one by one); handlers not listed are kept whole or discarded. */
export const MIGRATE_011_RESULT_FIELDS = {
  inspect: ['plan', 'checkpoint'],
  prepare: ['done', 'manifest', 'columns', 'tableColumns'],
  startChecksum: ['job', 'run'],
  checksumState: ['done', 'waitSeconds'],
  recordChecksums: ['done', 'manifest', 'columns', 'tableColumns'],
  hashItems: ['hashed', 'left', 'refused'],
  pendingBatches: ['hashBatches'],
  fill: ['column', 'done', 'rows', 'waiting', 'waitSeconds'],
  rewrite: ['column', 'done', 'rows'],
} as const satisfies Partial<Record<Migrate011HandlerName, readonly string[]>>;

export interface Migrate011WorkflowOptions extends WorkflowOptions<Migrate011HandlerName | UnlockHandlerName> {
  /** MaxConcurrency of the HashObjects Map (batches hashed at once). Default 4. */
  readonly hashConcurrency?: number;
  /** Where Prepare writes the hash manifest (`manifests/…`) and the Distributed Map its results (`manifests/results/…`). */
  readonly manifestBucket: s3.IBucket;
  /** MaxConcurrency of the Distributed Map (children at once; each hashes `hashConcurrency` objects at once). Default 40. */
  readonly distributedConcurrency?: number;
  /** Objects per child execution (ItemBatcher MaxItemsPerBatch). Default 100. */
  readonly objectsPerChild?: number;
  /** Children that may fail (after their retries) before the map fails; their objects go to the standard Map. Default 5. */
  readonly toleratedFailurePercentage?: number;
  /**
   * The first pause between two looks at an S3 Batch Operations Compute checksum job; each further one is half as long
   * again, up to 5 minutes (nextPollSeconds). Default 60 s.
   */
  readonly checksumPollSeconds?: number;
  /**
   * The first pause before a column fill looks again whether the objects it needs are hashed; each further one is half
   * as long again, up to 5 minutes (nextPollSeconds). Default 10 s.
   */
  readonly storePollSeconds?: number;
  /** MaxConcurrency of FillTables and RewriteColumns: tables whose columns fill (beside the hashing) or are rewritten at once (each holds a connection). Default 2. */
  readonly fillConcurrency?: number;
}

/**
 * Builds the 0.11 → 0.12 state machine definition under `scope` (in a child construct `Migrate011`).
 * Give the result to `sfn.DefinitionBody.fromChainable`.
 */
export function migrate011Definition(
  scope: Construct,
  functions: Record<Migrate011HandlerName | UnlockHandlerName, lambda.IFunction>,
  options: Migrate011WorkflowOptions,
): sfn.IChainable {
  const hashConcurrency = positiveInteger('hashConcurrency', options.hashConcurrency ?? 4);
  const distributedConcurrency = positiveInteger('distributedConcurrency', options.distributedConcurrency ?? 40);
  const objectsPerChild = positiveInteger('objectsPerChild', options.objectsPerChild ?? 100);
  const fillConcurrency = positiveInteger('fillConcurrency', options.fillConcurrency ?? 2);
  const toleratedFailurePercentage = options.toleratedFailurePercentage ?? 5;
  if (!(toleratedFailurePercentage >= 0 && toleratedFailurePercentage <= 100)) throw new Error(`toleratedFailurePercentage must be 0–100, got ${toleratedFailurePercentage}`);
  const wf = new Construct(scope, 'Migrate011');
  const invoke = taskFactory(wf, functions, options);

  const validate = validateTask(invoke, 'validate');

  const startInspect = new sfn.Pass(wf, 'StartInspect', {
    comment: 'No checkpoint yet: the first Inspect call starts from the beginning.',
    result: sfn.Result.fromObject({ checkpoint: null }),
    resultPath: '$.inspecting',
  });
  const inspect = invoke('Inspect', 'inspect', {
    comment: 'Read-only: finds the external columns and stores, checks every value and object; the plan. Works for a bounded time from the last call\'s checkpoint.',
    payload: phasePayload({ checkpoint: sfn.JsonPath.objectAt('$.inspecting.checkpoint') }),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.inspect),
    resultPath: '$.inspecting',
  });
  // the state becomes { input, inspected: { plan } }: the plan where the later states read it, once (the state's size
  // is limited)
  const keepPlan = new sfn.Pass(wf, 'KeepPlan', {
    comment: 'Keeps the input and the plan, without the last checkpoint.',
    parameters: { input: sfn.JsonPath.objectAt('$.input'), inspected: { plan: sfn.JsonPath.objectAt('$.inspecting.plan') } },
  });

  const planOnly = new sfn.Succeed(wf, 'PlanOnly', {
    comment: 'Not asked to execute: the plan is the output.',
    outputPath: '$.inspected',
  });

  const prepare = invoke('Prepare', 'prepare', {
    comment: 'The journal (columns, objects in batches) and the hash manifest, for a bounded time from its checkpoint in the journal; repeated until it reports done.',
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.prepare),
    resultPath: '$.prepared',
  });

  // the child's own $$.Execution.Id is not the run's: the run id (the lock holder) comes in with the batch
  const childPayload = (fields: Record<string, unknown>) =>
    sfn.TaskInput.fromObject({ input: sfn.JsonPath.objectAt('$.BatchInput.input'), run: sfn.JsonPath.stringAt('$.BatchInput.run'), ...fields });
  const hashItems = invoke('HashItems', 'hashItems', {
    comment: 'Streams and hashes the batch (no database); what it cannot finish in time or verify is left for HashObjects.',
    payload: childPayload({ items: sfn.JsonPath.listAt('$.Items') }),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.hashItems),
    resultPath: '$.hashed',
  });
  const recordHashes = invoke('RecordHashes', 'recordHashes', {
    comment: 'One UPDATE of the journal; the function\'s reserved concurrency is the database connection budget.',
    payload: childPayload({
      hashed: sfn.JsonPath.listAt('$.hashed.hashed'),
      left: sfn.JsonPath.numberAt('$.hashed.left'),
      refused: sfn.JsonPath.listAt('$.hashed.refused'),
    }),
    outputPath: '$.Payload',
  });
  const hashManifest = new sfn.DistributedMap(wf, 'HashManifest', {
    comment: 'The bulk pass over the manifest Prepare wrote: Express children of objectsPerChild objects each.',
    itemReader: new sfn.S3JsonLItemReader({ bucket: options.manifestBucket, key: sfn.JsonPath.stringAt('$.prepared.manifest.key') }),
    itemBatcher: new sfn.ItemBatcher({
      maxItemsPerBatch: objectsPerChild,
      batchInput: { 'input.$': '$.input', 'run.$': '$$.Execution.Id' },
    }),
    mapExecutionType: sfn.StateMachineType.EXPRESS,
    maxConcurrency: distributedConcurrency,
    toleratedFailurePercentage,
    resultWriterV2: new sfn.ResultWriterV2({ bucket: options.manifestBucket, prefix: 'manifests/results' }),
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(hashItems.next(recordHashes));

  const startChecksum = invoke('StartChecksumJob', 'startChecksum', {
    comment: 's3BatchChecksum: an S3 Batch Operations Compute checksum (MD5) job over the S3 objects still to hash.',
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.startChecksum),
    resultPath: '$.checksum',
  });
  const checksumPollSeconds = positiveInteger('checksumPollSeconds', options.checksumPollSeconds ?? 60);
  const checksumState = invoke('ChecksumJobState', 'checksumState', {
    payload: phasePayload({ job: sfn.JsonPath.stringAt('$.checksum.job'), pollSeconds: checksumPollSeconds, waitedSeconds: sfn.JsonPath.numberAt('$.checksumJob.waitSeconds') }),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.checksumState),
    resultPath: '$.checksumJob',
  });
  const recordChecksums = invoke('RecordChecksums', 'recordChecksums', {
    comment: "Records the job's MD5s (a streamed sample must match them), then writes the hash manifest of what is left.",
    payload: phasePayload({ checksum: sfn.JsonPath.objectAt('$.checksum') }),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.recordChecksums),
    resultPath: '$.prepared',
  });
  const waitForChecksum = new sfn.Wait(wf, 'WaitForChecksumJob', {
    comment: 'Batch Operations jobs take minutes to hours: look again after a pause that grows (ChecksumJobState sets it).',
    time: sfn.WaitTime.secondsPath('$.checksumJob.waitSeconds'),
  });
  const firstChecksumPoll = new sfn.Pass(wf, 'StartChecksumPolls', {
    comment: 'The first pause before looking at the job.',
    result: sfn.Result.fromObject({ done: false, waitSeconds: checksumPollSeconds }),
    resultPath: '$.checksumJob',
  });
  waitForChecksum.next(checksumState).next(
    new sfn.Choice(wf, 'ChecksumJobDone').when(sfn.Condition.booleanEquals('$.checksumJob.done', true), recordChecksums).otherwise(waitForChecksum),
  );
  startChecksum.next(new sfn.Choice(wf, 'ChecksumJobStarted').when(sfn.Condition.isNull('$.checksum.job'), recordChecksums).otherwise(firstChecksumPoll.next(waitForChecksum)));

  const pendingBatches = invoke('PendingBatches', 'pendingBatches', {
    comment: 'The journal batches with objects still to hash.',
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_011_RESULT_FIELDS.pendingBatches),
    resultPath: '$.pending',
  });

  const hashBatch = invoke('HashBatch', 'hash', {
    payload: phasePayload({ batch: sfn.JsonPath.numberAt('$.batch') }),
    resultPath: sfn.JsonPath.DISCARD,
    // the iteration's output is only its batch number, so the (discarded) Map result stays tiny
    outputPath: '$.batch',
  });
  const hashObjects = new sfn.Map(wf, 'HashObjects', {
    comment: 'Streams every object still unhashed once: contents hashes into the journal (native mode also copies).',
    itemsPath: '$.pending.hashBatches',
    itemSelector: {
      input: sfn.JsonPath.objectAt('$.input'),
      batch: sfn.JsonPath.numberAt('$$.Map.Item.Value'),
    },
    maxConcurrency: hashConcurrency,
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(hashBatch);

  const insertRows = invoke('InsertRows', 'insert', {
    comment: 'One INSERT … SELECT per journal batch, for a bounded time from its checkpoint in the journal; repeated until it reports done.',
    payload: phasePayload(),
    resultSelector: WHOLE_PAYLOAD,
    resultPath: '$.inserted',
  });

  const fillTables = loopingMap(
    wf,
    invoke,
    { map: 'FillTables', task: 'FillTable', check: 'TableFilled', done: 'FillDone' },
    {
      handler: 'fill',
      comment: "Fills the table's columns in turn, each once the objects it needs are hashed; works for a bounded time, repeated until done.",
      fields: MIGRATE_011_RESULT_FIELDS.fill,
    },
    {
      itemsPath: '$.prepared.tableColumns',
      field: 'columns',
      maxConcurrency: fillConcurrency,
      comment: 'Tables side by side (each a database connection), a table\'s columns in turn: the temporary columns, filled, indexed.',
      whileWaiting: { state: 'WaitForStoreHashed', seconds: positiveInteger('storePollSeconds', options.storePollSeconds ?? 10) },
    },
  );
  const discardFills = invoke('DiscardFills', 'discardFills', {
    comment: 'Hashing was refused: the temporary columns go, so DataJoint tables are as they were (the journal keeps the hashes).',
    payload: phasePayload(),
    resultPath: sfn.JsonPath.DISCARD,
  });

  const rewriteColumns = loopingMap(
    wf,
    invoke,
    { map: 'RewriteColumns', task: 'RewriteColumn', check: 'ColumnRewritten', done: 'ColumnDone' },
    { handler: 'rewrite', comment: "Rewrites the table's columns in turn (the rest of the fill, check, swap); works for a bounded time, repeated until done.", fields: MIGRATE_011_RESULT_FIELDS.rewrite },
    {
      itemsPath: '$.prepared.tableColumns',
      field: 'columns',
      maxConcurrency: fillConcurrency,
      comment: "Tables side by side (each a database connection), a table's columns in turn.",
    },
  );

  const finish = invoke('Finish', 'finish', {
    payload: phasePayload(),
    resultSelector: WHOLE_PAYLOAD,
    resultPath: '$.finished',
  });
  const verify = invoke('Verify', 'verify', {
    comment: 'Works for a bounded time from its checkpoint in the journal; repeated until it reports done.',
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

  pendingBatches.next(hashObjects);
  hashManifest.next(pendingBatches);
  const distributeHashing = new sfn.Choice(wf, 'DistributeHashing').when(sfn.Condition.isNull('$.prepared.manifest'), pendingBatches).otherwise(hashManifest);
  // RDS fills the columns whose objects are hashed while Lambda hashes the rest (Prepare orders the objects so that
  // the biggest tables' go first); a failure in either branch stops the other and fails the state
  const hashAndFill = new sfn.Parallel(wf, 'HashAndFill', {
    comment: "Hashing and the columns' fills side by side: each column waits for the objects it needs; no swap before all are verified.",
    resultPath: sfn.JsonPath.DISCARD,
  })
    .branch(distributeHashing)
    .branch(fillTables);
  // A refusal (a bad object, say) drops the fills before the lock is released: the user's fix may take a while, and
  // DataJoint's tables are as they were meanwhile. Any other failure keeps them for the rerun to resume. The original
  // failure stays at $.failure either way.
  hashAndFill.addCatch(discardFills, { errors: [REFUSAL_ERROR], resultPath: '$.failure' });
  const releaseLock = releaseLockOnFailure(wf, invoke, [prepare, startChecksum, checksumState, recordChecksums, hashAndFill, insertRows, rewriteColumns, finish, verify, report]);
  discardFills.addCatch(releaseLock, { resultPath: '$.discardFailure' });
  discardFills.next(releaseLock);
  hashAndFill.next(insertRows).next(new sfn.Choice(wf, 'RowsInserted').when(sfn.Condition.booleanEquals('$.inserted.Payload.done', true), rewriteColumns).otherwise(insertRows));
  rewriteColumns.next(finish).next(verify).next(
    new sfn.Choice(wf, 'Verified').when(sfn.Condition.booleanEquals('$.verified.Payload.done', true), report).otherwise(verify),
  );
  recordChecksums.next(new sfn.Choice(wf, 'ChecksumsRecorded').when(sfn.Condition.booleanEquals('$.prepared.done', false), recordChecksums).otherwise(hashAndFill));
  const checksumWithS3Batch = new sfn.Choice(wf, 'ChecksumWithS3Batch')
    .when(sfn.Condition.and(sfn.Condition.isPresent('$.input.s3BatchChecksum'), sfn.Condition.booleanEquals('$.input.s3BatchChecksum', true)), startChecksum)
    .otherwise(hashAndFill);
  const execute = prepare.next(new sfn.Choice(wf, 'Prepared').when(sfn.Condition.booleanEquals('$.prepared.done', true), checksumWithS3Batch).otherwise(prepare));
  validate.next(startInspect).next(inspect).next(new sfn.Choice(wf, 'Inspected').when(sfn.Condition.isNull('$.inspecting.plan'), inspect).otherwise(keepPlan));
  keepPlan.next(new sfn.Choice(wf, 'ExecuteOrPlanOnly').when(sfn.Condition.booleanEquals('$.input.execute', true), execute).otherwise(planOnly));
  return validate;
}
