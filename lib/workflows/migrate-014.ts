// The 0.14 → 2.0 workflow as one Step Functions definition (JSONPath only), used by the stack (AWS) and, through
// in-process synthesis, by the local runner. Same rules as the 0.11 workflow: no JSONata, no Assign, no Distributed
// Map, state names unique across the Maps; only ids and counts travel in state, never rows or object lists.
//
//   Validate ─▶ StartPlan ─▶ Plan ⟲ Planned ─▶ KeepPlan ─▶ ExecuteOrPlanOnly ──(execute != true)──▶ PlanOnly (outputs the plan)
//                                                                 │
//                                                                 ▼
//                                                            StartOutcome ─▶ Strategy
//   in-place: BackupWanted ─(backup)─▶ Backup ⟲ BackupReady / WaitForBackup ─┐
//                          └───────────────────────────────────────────────┴▶ UpdateBlobComments
//             ─▶ StartPrepareExternal ─▶ PrepareExternalStorage ⟲ ExternalPrepared
//             ─▶ MigrateExternalColumns (Map over tables, 2 at once: StartMigrateColumns ─▶ MigrateColumn ⟲ ColumnMigrated
//                ─▶ ColumnConverted, a table's columns in turn)
//             ─▶ AddLineageTable ─▶ Verify ⟲ Verified ─▶ Report
//   copy:     PrepareCopy ─▶ BuildPointers (Map: StartPointers ─▶ CopyPointers ⟲ PointersBuiltYet ─▶ PointersBuilt)
//             ─▶ CopyTables (Map over foreign-key levels: CopyLevel (Map over the level's tables and parts:
//             StartCopy ─▶ CopyTable ⟲ TableCopied ─▶ TableDone)) ─▶ CompareTables (Map: StartCompare ─▶
//             CompareTable ⟲ TableComparedYet ─▶ TableCompared)
//             ─▶ Report
//
//   state              handler             Payload sent                      kept at
//   Validate           validate014         the execution input               $ = { input }
//   Plan               plan014             { input, checkpoint }             $.planning = { plan, checkpoint }; loops while plan is
//                                                                          null (the checkpoint goes to the next call); KeepPlan:
//                                                                          the state is { input, planned: { plan } }
//   StartOutcome       (Pass)                                                $.outcome = { backup: null, verified: { Payload: null,
//                                                                          checkpoint: null }, compared: null }
//   Backup             backup014           { input, backup }                 $.outcome.backup = { kind, id, done, polls, reused }
//   UpdateBlobComments comments014         { input }                         discarded
//   PrepareExternal…   prepareExternal014  { input, checkpoint }             $.external = { columns, tableColumns, checkpoint }; loops while
//                                                                          columns is null
//   MigrateColumn      migrateColumn014    { input, columns, checkpoint }    $.progress = { column, done, rows, checkpoint }; loops until done
//   AddLineageTable    lineage014          { input }                         discarded
//   Verify             verify014           { input, checkpoint }             $.outcome.verified = { Payload, checkpoint }; loops
//                                                                          while Payload is null
//   PrepareCopy        prepareCopy014      { input }                         $.copy = { tables, pointers, levels, created }: items
//                                                                          { table, only, part } of CopyPointers and CopyTable
//   CopyPointers       copyTable014        { input, item, checkpoint }       $.progress = { table, done, rows, checkpoint }; loops until done
//   CopyTable          copyTable014        { input, item, checkpoint }       $.progress = { table, done, rows, checkpoint }; loops until done
//   CompareTable       compareTable014     { input, table, tables, … }       $.comparing = { comparison, checkpoint } in the iteration;
//                                                                          loops while comparison is null; TableCompared: the
//                                                                          iteration's output, $.outcome.compared[i], is the comparison
//   Report             report014           { input, plan, outcome }          execution output = whole result
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Migrate014HandlerName, UnlockHandlerName } from '../../functions/handlers/names.js';
import { loopingMap, phasePayload, positiveInteger, releaseLockOnFailure, selectFields, taskFactory, validateTask, type WorkflowOptions } from './tasks.js';

/** Fields of a handler's result the workflow keeps (selected one by one). */
export const MIGRATE_014_RESULT_FIELDS = {
  plan014: ['plan', 'checkpoint'],
  backup014: ['kind', 'id', 'done', 'polls', 'reused'],
  prepareExternal014: ['columns', 'tableColumns', 'checkpoint'],
  migrateColumn014: ['column', 'done', 'rows', 'checkpoint'],
  prepareCopy014: ['tables', 'pointers', 'levels', 'created'],
  copyTable014: ['table', 'done', 'rows', 'checkpoint'],
  compareTable014: ['comparison', 'checkpoint'],
} as const satisfies Partial<Record<Migrate014HandlerName, readonly string[]>>;

/** How long the workflow waits between checks of a backup that is still being taken (an RDS snapshot). */
export const BACKUP_POLL_INTERVAL = Duration.seconds(60);

export interface Migrate014WorkflowOptions extends WorkflowOptions<Migrate014HandlerName | UnlockHandlerName> {
  /** MaxConcurrency of the CompareTables Map (tables compared at once). Default 4. */
  readonly compareConcurrency?: number;
  /**
   * Tables written at once (each holds a connection): MigrateExternalColumns' tables whose columns are converted,
   * BuildPointers' tables, and a foreign-key level's tables and parts copied by CopyLevel. Default 2.
   */
  readonly tableConcurrency?: number;
}

/**
 * Builds the 0.14 → 2.0 state machine definition under `scope` (in a child construct `Migrate014`).
 * Give the result to `sfn.DefinitionBody.fromChainable`.
 */
export function migrate014Definition(
  scope: Construct,
  functions: Record<Migrate014HandlerName | UnlockHandlerName, lambda.IFunction>,
  options: Migrate014WorkflowOptions = {},
): sfn.IChainable {
  const compareConcurrency = positiveInteger('compareConcurrency', options.compareConcurrency ?? 4);
  const tableConcurrency = positiveInteger('tableConcurrency', options.tableConcurrency ?? 2);
  const wf = new Construct(scope, 'Migrate014');
  const invoke = taskFactory(wf, functions, options);

  const validate = validateTask(invoke, 'validate014');
  const startPlan = new sfn.Pass(wf, 'StartPlan', {
    comment: 'No checkpoint yet: the first Plan call starts from the beginning.',
    result: sfn.Result.fromObject({ checkpoint: null }),
    resultPath: '$.planning',
  });
  const plan = invoke('Plan', 'plan014', {
    comment: "Read-only: what each step (in place) or each table (copy) would do, and every problem that stops the run. Works for a bounded time from the last call's checkpoint.",
    payload: phasePayload({ checkpoint: sfn.JsonPath.objectAt('$.planning.checkpoint') }),
    resultSelector: selectFields(MIGRATE_014_RESULT_FIELDS.plan014),
    resultPath: '$.planning',
  });
  const keepPlan = new sfn.Pass(wf, 'KeepPlan', {
    comment: 'Keeps the input and the plan, without the last checkpoint.',
    parameters: { input: sfn.JsonPath.objectAt('$.input'), planned: { plan: sfn.JsonPath.objectAt('$.planning.plan') } },
  });
  const planOnly = new sfn.Succeed(wf, 'PlanOnly', { comment: 'Not asked to execute: the plan is the output.', outputPath: '$.planned' });
  const startOutcome = new sfn.Pass(wf, 'StartOutcome', {
    comment: 'What the Report reads, filled in by the steps that run.',
    result: sfn.Result.fromObject({ backup: null, verified: { Payload: null, checkpoint: null }, compared: null }),
    resultPath: '$.outcome',
  });

  const report = invoke('Report', 'report014', {
    payload: phasePayload({ plan: sfn.JsonPath.objectAt('$.planned.plan'), outcome: sfn.JsonPath.objectAt('$.outcome') }),
    outputPath: '$.Payload',
  });

  // ----- in place -----
  const backup = invoke('Backup', 'backup014', {
    comment: 'A schema copy (done at once) or an RDS snapshot (started, then checked until available).',
    payload: phasePayload({ backup: sfn.JsonPath.objectAt('$.outcome.backup') }),
    resultSelector: selectFields(MIGRATE_014_RESULT_FIELDS.backup014),
    resultPath: '$.outcome.backup',
  });
  const comments = invoke('UpdateBlobComments', 'comments014', {
    comment: 'update_blob_comments: the core-type markers 2.x writes.',
    payload: phasePayload(),
    resultPath: sfn.JsonPath.DISCARD,
  });
  const waitForBackup = new sfn.Wait(wf, 'WaitForBackup', { time: sfn.WaitTime.duration(BACKUP_POLL_INTERVAL) });
  waitForBackup.next(backup);
  backup.next(new sfn.Choice(wf, 'BackupReady').when(sfn.Condition.booleanEquals('$.outcome.backup.done', true), comments).otherwise(waitForBackup));
  const backupWanted = new sfn.Choice(wf, 'BackupWanted').when(sfn.Condition.booleanEquals('$.input.backup', true), backup).otherwise(comments);

  const startPrepareExternal = new sfn.Pass(wf, 'StartPrepareExternal', {
    comment: 'No checkpoint yet: the first PrepareExternalStorage call starts from the beginning.',
    result: sfn.Result.fromObject({ columns: null, tableColumns: null, checkpoint: null }),
    resultPath: '$.external',
  });
  const prepareExternal = invoke('PrepareExternalStorage', 'prepareExternal014', {
    comment: "migrate_external_storage: checks again (for a bounded time from the last call's checkpoint), opens the journal, lists the columns to convert.",
    payload: phasePayload({ checkpoint: sfn.JsonPath.objectAt('$.external.checkpoint') }),
    resultSelector: selectFields(MIGRATE_014_RESULT_FIELDS.prepareExternal014),
    resultPath: '$.external',
  });
  const migrateColumns = loopingMap(
    wf,
    invoke,
    { map: 'MigrateExternalColumns', task: 'MigrateColumn', check: 'ColumnMigrated', done: 'ColumnConverted' },
    {
      handler: 'migrateColumn014',
      comment: "Works for a bounded time on the table's columns in turn (pointers, JSON fill, swap); repeated until it reports done.",
      fields: MIGRATE_014_RESULT_FIELDS.migrateColumn014,
    },
    {
      itemsPath: '$.external.tableColumns',
      field: 'columns',
      maxConcurrency: tableConcurrency,
      checkpoint: { start: 'StartMigrateColumns' },
      comment: "Tables side by side (each a database connection), a table's columns in turn.",
    },
  );
  const lineage = invoke('AddLineageTable', 'lineage014', {
    comment: 'add_lineage_table, after the foreign keys to ~external_* are gone.',
    payload: phasePayload(),
    resultPath: sfn.JsonPath.DISCARD,
  });
  const verify = invoke('Verify', 'verify014', {
    comment: "Read-only: every step finished, every pointer's object where it says. Works for a bounded time from the last call's checkpoint.",
    payload: phasePayload({ checkpoint: sfn.JsonPath.objectAt('$.outcome.verified.checkpoint') }),
    resultSelector: { Payload: sfn.JsonPath.objectAt('$.Payload.verified'), checkpoint: sfn.JsonPath.objectAt('$.Payload.checkpoint') },
    resultPath: '$.outcome.verified',
  });
  comments.next(startPrepareExternal).next(prepareExternal).next(new sfn.Choice(wf, 'ExternalPrepared').when(sfn.Condition.isNull('$.external.columns'), prepareExternal).otherwise(migrateColumns));
  migrateColumns.next(lineage).next(verify).next(new sfn.Choice(wf, 'Verified').when(sfn.Condition.isNull('$.outcome.verified.Payload'), verify).otherwise(report));

  // ----- copy -----
  const prepareCopy = invoke('PrepareCopy', 'prepareCopy014', {
    comment: 'Declares the destination when asked (create_parallel_schema); the tables, parents first.',
    payload: phasePayload(),
    resultSelector: selectFields(MIGRATE_014_RESULT_FIELDS.prepareCopy014),
    resultPath: '$.copy',
  });
  // CopyTable calls over PrepareCopy's items (copyItemsOf), each item's calls handed the checkpoint of the call before
  const copyItems = (names: { map: string; task: string; check: string; done: string; start: string }, itemsPath: string, comments: { task: string; map: string }) =>
    loopingMap(
      wf,
      invoke,
      names,
      { handler: 'copyTable014', comment: comments.task, fields: MIGRATE_014_RESULT_FIELDS.copyTable014 },
      { itemsPath, field: 'item', maxConcurrency: tableConcurrency, checkpoint: { start: names.start }, comment: comments.map },
    );
  const buildPointers = copyItems({ map: 'BuildPointers', task: 'CopyPointers', check: 'PointersBuiltYet', done: 'PointersBuilt', start: 'StartPointers' }, '$.copy.pointers', {
    task: "A table's 2.x pointers, for a bounded time; repeated until it reports done.",
    map: 'The pointer map of every table with external columns, before any row is copied: a table copied in parts needs them all.',
  });
  const copyLevel = copyItems({ map: 'CopyLevel', task: 'CopyTable', check: 'TableCopied', done: 'TableDone', start: 'StartCopy' }, '$.level', {
    task: 'copy_table_data for a bounded time; repeated until it reports done.',
    map: "A level's tables (a big one's parts) at once: their parents are all copied already (the destination keeps its foreign keys).",
  });
  const copyTables = new sfn.Map(wf, 'CopyTables', {
    comment: 'The foreign-key levels one after another, parents first.',
    itemsPath: '$.copy.levels',
    itemSelector: { input: sfn.JsonPath.objectAt('$.input'), level: sfn.JsonPath.listAt('$$.Map.Item.Value') },
    maxConcurrency: 1,
    resultPath: sfn.JsonPath.DISCARD,
  }).itemProcessor(copyLevel);
  const compareTable = invoke('CompareTable', 'compareTable014', {
    comment: "Works for a bounded time from the last call's checkpoint.",
    payload: phasePayload({ table: sfn.JsonPath.stringAt('$.table'), tables: sfn.JsonPath.numberAt('$.tables'), checkpoint: sfn.JsonPath.objectAt('$.comparing.checkpoint') }),
    resultSelector: selectFields(MIGRATE_014_RESULT_FIELDS.compareTable014),
    resultPath: '$.comparing',
  });
  const tableCompared = new sfn.Pass(wf, 'TableCompared', { comment: "The iteration's result: the table's comparison.", outputPath: '$.comparing.comparison' });
  const compareTables = new sfn.Map(wf, 'CompareTables', {
    comment: 'compare_query_results of every copied table; each result names its first discrepancies by primary key.',
    itemsPath: '$.copy.tables',
    itemSelector: {
      input: sfn.JsonPath.objectAt('$.input'),
      table: sfn.JsonPath.stringAt('$$.Map.Item.Value'),
      // each table's share of the state its comparison may take
      tables: sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.copy.tables')),
    },
    maxConcurrency: compareConcurrency,
    resultPath: '$.outcome.compared',
  }).itemProcessor(
    new sfn.Pass(wf, 'StartCompare', { comment: 'No checkpoint yet: the first CompareTable call starts from the beginning.', result: sfn.Result.fromObject({ checkpoint: null }), resultPath: '$.comparing' })
      .next(compareTable)
      .next(new sfn.Choice(wf, 'TableComparedYet').when(sfn.Condition.isNull('$.comparing.comparison'), compareTable).otherwise(tableCompared)),
  );
  prepareCopy.next(buildPointers).next(copyTables).next(compareTables).next(report);

  releaseLockOnFailure(wf, invoke, [backup, comments, prepareExternal, migrateColumns, lineage, verify, prepareCopy, buildPointers, copyTables, compareTables, report]);
  const strategy = new sfn.Choice(wf, 'Strategy').when(sfn.Condition.stringEquals('$.input.strategy', 'copy'), prepareCopy).otherwise(backupWanted);
  validate.next(startPlan).next(plan).next(new sfn.Choice(wf, 'Planned').when(sfn.Condition.isNull('$.planning.plan'), plan).otherwise(keepPlan));
  keepPlan.next(new sfn.Choice(wf, 'ExecuteOrPlanOnly').when(sfn.Condition.booleanEquals('$.input.execute', true), startOutcome.next(strategy)).otherwise(planOnly));
  return validate;
}
