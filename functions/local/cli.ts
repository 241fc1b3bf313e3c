// `djmigrate`: runs the same state machine as AWS, on this machine, against the user's DataJoint config.
// Only commander is loaded up front: each command imports what it runs, so `djmigrate --help` and every command
// start quickly (the AWS SDK, mysql2 and the handlers are loaded by the commands that need them).
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CommonFlags, RunFlags } from './cli-011.js';
import type { CopyFlags, ParallelSchemaFlags } from './cli-copy.js';
import type { compareCommand, InPlaceFlags } from './cli-014.js';
import { IN_PLACE_STEPS } from '../core/migrate014/steps.js';
import { registerRemoteCommands } from '../remote/commands.js';

function objectCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of objects, at least 1');
  return n;
}

function commonOptions(command: Command): Command {
  return command
    .requiredOption('--from <version>', 'DataJoint version the schema is on: 0.11 (→ 0.12) or 0.14 (→ 2.0)', (value) => {
      if (value !== '0.11' && value !== '0.14') throw new InvalidArgumentError('only 0.11 (→ 0.12) and 0.14 (→ 2.0) are supported');
      return value;
    })
    .requiredOption('--config <file>', 'your DataJoint config JSON (dj_local_conf.json style)')
    .requiredOption('--schema <name>', 'the schema (database) to migrate')
    .option('--default-store <name>', '0.12 store name for plain `external` columns', 'external')
    .addOption(new Option('--mode <mode>', '0.11: in-place keeps objects where they are; native copies them to 0.12 uuid paths').choices(['in-place', 'native']).default('in-place'))
    .option('--json', 'print JSON instead of text')
    .option('--distributed-from <n>', '0.11: hash through the Distributed Map (inlined here) from this many objects on (default 1000, as on AWS); locally the standard Map is faster for many objects, so give a large number there', objectCount)
    .option('--listing-pass-objects <n>', '0.11: hold at most this many of a store\'s objects listed at a time (default 10,000,000, ~100 bytes each); a bigger store is listed and compared in passes over key ranges', objectCount)
    .option('--trust-etag', '0.11 in place: take contents hashes from S3 ETags that are plain MD5s (a sample is read to check) instead of reading every object; skips the legacy SHA-256 check for those')
    .option('--to <version>', '0.14: the target version (2.0)')
    .option('--strategy <strategy>', '0.14: in-place (convert the schema itself) or copy (into a _v2 schema, then compare)')
    .option('--steps <list>', `0.14: comma-separated subset of ${IN_PLACE_STEPS.join(',')}`)
    .option('--backup', '0.14 in place: copy the schema to <schema>_backup_<date> first (in AWS: an RDS snapshot)')
    .option('--dest <schema>', '0.14 copy: the destination schema (default <schema>_v2)')
    .option('--create-dest', '0.14 copy: declare the destination from the 0.14 schema first (create_parallel_schema)')
    .option('--tolerance <number>', '0.14 copy: numeric tolerance when comparing (default 1e-6)')
    .option('--copy-part-rows <n>', '0.14 copy: copy a table of twice this many rows or more in parts of about this many, side by side (default 20,000,000)', objectCount)
    .option('--copy-files', '0.14: also copy blob objects into the 2.x _hash layout')
    .option('--store-map <old=new...>', '0.14: rename stores in the 2.x pointers and markers')
    .option('--unsigned-markers', "0.14: write the guide's :uintN: markers on unsigned columns (2.x ignores them)")
    .option('--verify-objects', '0.14: re-hash blob objects by streaming before converting, and verify every object by its bytes');
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = new Command('djmigrate')
    .description('Migrate DataJoint external storage in place (0.11 → 0.12, 0.14 → 2.0): locally (plan, run, …) or through the deployed state machines (start, status, watch, report)')
    .showHelpAfterError();
  commonOptions(program.command('plan').description('show what a migration would do; changes nothing'))
    .option('--plan-file <file>', '0.14: also write the whole plan as JSON here (a long plan shows only the first entries of each list)')
    .action(async (flags: CommonFlags & InPlaceFlags) => {
    exitCode = flags.from === '0.14' ? await (await import('./cli-014.js')).plan014(flags) : await (await import('./cli-011.js')).plan011(flags);
  });
  commonOptions(program.command('run').description('plan, then migrate, verify and report'))
    .option('--keep-legacy', 'rename ~external to ~djmigrate_legacy_external instead of dropping it')
    .option('--report <file>', 'where to write the JSON report')
    .option('--verify-contents', '0.11: verify re-reads every object and checks its MD5 (default: size + the hash taken while hashing)')
    .option('--take-over-lock', "take over the schema's lock from a run that stopped heartbeating over 30 minutes ago (never from a live one)")
    .action(async (flags: RunFlags & InPlaceFlags) => {
      exitCode = flags.from === '0.14' ? await (await import('./cli-014.js')).run014(flags) : await (await import('./cli-011.js')).run011(flags);
    });
  program
    .command('discard-fills')
    .description("0.11: after a run you will not resume soon, drop the temporary _djmigrate_<n> columns of the columns not yet swapped (a rerun fills them again)")
    .requiredOption('--config <file>', 'your DataJoint config JSON')
    .requiredOption('--schema <name>', 'the schema of the run')
    .option('--take-over-lock', "take over the schema's lock from a run that stopped heartbeating over 30 minutes ago (never from a live one)")
    .action(async (flags: { config: string; schema: string; takeOverLock?: boolean }) => {
      exitCode = await (await import('./cli-011.js')).discardFillsCommand(flags);
    });
  program
    .command('convert-config <file>')
    .description('turn a 0.14 dj_local_conf.json into a DataJoint 2.0 config (printed, or written with --output)')
    .option('--output <file>', 'write the 2.0 config here')
    .action(async (file: string, flags: { output?: string }) => {
      exitCode = await (await import('./cli-014.js')).convertConfigCommand(file, flags);
    });
  program
    .command('compare')
    .description('compare a table of two schemas row by row (by primary key); exit 0 when they match')
    .requiredOption('--config <file>', 'your DataJoint config JSON')
    .requiredOption('--prod <schema>', 'the production schema')
    .requiredOption('--test <schema>', 'the schema to check (e.g. my_pipeline_v2)')
    .requiredOption('--table <name>', 'the table')
    .option('--tolerance <number>', 'for floating-point values (default 1e-6)')
    .action(async (flags: Parameters<typeof compareCommand>[0]) => {
      exitCode = await (await import('./cli-014.js')).compareCommand(flags);
    });
  program
    .command('create-parallel-schema')
    .description('declare <dest> (e.g. my_pipeline_v2) as DataJoint 2.x declares the 0.14 schema <source>')
    .requiredOption('--config <file>', 'your DataJoint config JSON')
    .requiredOption('--source <schema>', 'the 0.14 schema')
    .requiredOption('--dest <schema>', 'the schema to create')
    .option('--store-map <old=new...>', 'rename stores in the codec markers')
    .option('--unsigned-markers', "write the guide's :uintN: markers on unsigned columns")
    .option('--dry-run', 'print the statements without running them')
    .action(async (flags: ParallelSchemaFlags) => {
      exitCode = await (await import('./cli-copy.js')).createParallelSchemaCommand(flags);
    });
  program
    .command('copy-table-data')
    .description('copy rows into the _v2 schema (one table, or all in foreign-key order), external pointers converted; resumable')
    .requiredOption('--config <file>', 'your DataJoint config JSON')
    .requiredOption('--source <schema>', 'the 0.14 schema')
    .requiredOption('--dest <schema>', 'the 2.x schema')
    .option('--table <name>', 'only this table')
    .option('--store-map <old=new...>', 'rename stores in the pointers')
    .option('--chunk-rows <n>', 'rows per chunk')
    .action(async (flags: CopyFlags) => {
      exitCode = await (await import('./cli-copy.js')).copyTableDataCommand(flags);
    });
  program
    .command('finalize')
    .description('after a 0.14 → 2.0 migration: rename the ~external_<store> tables to ~djmigrate_v014_external_<store>')
    .requiredOption('--config <file>', 'your DataJoint config JSON')
    .requiredOption('--schema <name>', 'the migrated schema')
    .action(async (flags: { config: string; schema: string }) => {
      exitCode = await (await import('./cli-014.js')).finalizeCommand(flags);
    });
  for (const direction of ['cutover', 'rollback'] as const) {
    program
      .command(direction)
      .description(direction === 'cutover' ? 'my_pipeline → my_pipeline_old and my_pipeline_v2 → my_pipeline, in one atomic RENAME TABLE' : 'undo a cutover')
      .requiredOption('--config <file>', 'your DataJoint config JSON')
      .requiredOption('--schema <name>', 'the production schema name')
      .option('--suffix <suffix>', 'suffix of the 2.0 schema (default _v2)')
      .action(async (flags: { config: string; schema: string; suffix?: string }) => {
        exitCode = await (await import('./cli-014.js')).cutoverCommand(direction, flags);
      });
  }
  registerRemoteCommands(program);
  await program.parseAsync(argv);
  // the remote commands (start, status, watch, report) set process.exitCode themselves
  return exitCode || Number(process.exitCode ?? 0);
}
