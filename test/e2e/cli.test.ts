// The `djmigrate` command as a user runs it: a child process with the user's config file.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, expect, it } from 'vitest';
import { select } from '../../functions/core/db/sql.js';
import { readSchemaLock } from '../../functions/core/lock/schema-lock.js';
import { journalColumns } from '../../functions/core/migrate011/journal.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { fillColumn } from '../../functions/core/migrate011/rewrite.js';
import { silentProgress } from '../../functions/core/progress.js';
import { buildExampleLab } from '../../functions/local/sandbox/legacy-pipeline.js';
import { legacyScenario, prepareScenario, type Scenario } from '../harness/migration.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/djmigrate.js');

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

async function djmigrate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

it('plan prints the plan and exits 0; run migrates, writes the report and exits 0; a bad flag exits non-zero', async () => {
  scenario = await legacyScenario('cli', buildExampleLab);
  const args = ['--from', '0.11', '--config', scenario.configPath, '--schema', scenario.schema];

  const plan = await djmigrate(['plan', ...args]);
  expect(plan.code).toBe(0);
  expect(plan.stdout).toMatch(/Status: ready/);
  expect(plan.stdout).toMatch(/recording\.trace\s+external\s+external\s+no\s+3\s+3/);
  // the stores listed in passes of 2 objects: the same plan, which says so
  const inPasses = (await djmigrate(['plan', ...args, '--listing-pass-objects', '2'])).stdout;
  const passesLine = /\nThe largest store is listed in \d+ passes of at most 2 objects \(listingPassObjects\)[^\n]*/;
  expect(inPasses).toMatch(passesLine);
  expect(inPasses.replace(passesLine, '')).toBe(plan.stdout);
  const noPasses = await djmigrate(['plan', ...args, '--listing-pass-objects', '0']);
  expect(noPasses.code).not.toBe(0);
  expect(noPasses.stderr).toMatch(/--listing-pass-objects.*expected a whole number of objects, at least 1/);

  const reportPath = join(scenario.folder, '..', `${scenario.schema}-report.json`);
  // through the inlined Distributed Map: its manifest reader and children run before the standard pass
  const migrated = await djmigrate(['run', ...args, '--keep-legacy', '--report', reportPath, '--distributed-from', '1']);
  expect(migrated.stderr).not.toMatch(/refused|failed/);
  expect(migrated.code).toBe(0);
  expect(migrated.stdout).toMatch(/migrated to DataJoint 0\.12 and verified/);
  const report = JSON.parse(await readFile(reportPath, 'utf8')) as Report & { timings: { phaseSeconds: Record<string, number> } };
  expect(report.status).toBe('migrated');
  expect(report.legacyTable).toBe('renamed');
  expect(Object.keys(report.timings.phaseSeconds)).toEqual(expect.arrayContaining(['HashManifest', 'HashManifestChildren', 'HashObjects']));

  const wrongVersion = await djmigrate(['plan', '--from', '0.10', '--config', scenario.configPath, '--schema', scenario.schema]);
  expect(wrongVersion.code).not.toBe(0);
  expect(wrongVersion.stderr).toMatch(/only 0\.11/);

  const unknown = await djmigrate(['run', '--from', '0.11', '--config', scenario.configPath, '--schema', 'no_such_schema_cli']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/refused: schema no_such_schema_cli does not exist/);
});

it('discard-fills drops the temporary columns a stopped run left (under the lock), and the rerun migrates; without a journal it refuses', async () => {
  scenario = await legacyScenario('cli_discard', buildExampleLab);
  const { conn, schema } = scenario;
  const args = ['--config', scenario.configPath, '--schema', schema];
  const tempColumns = async () =>
    (await select<{ name: string }>(conn, "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND COLUMN_NAME LIKE '\\_djmigrate\\_%'", [schema])).map((row) => row.name);

  const none = await djmigrate(['discard-fills', ...args]);
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/refused: schema \S+ has no ~djmigrate_011_column journal: no 0\.11 → 0\.12 run of djmigrate filled anything there/);

  // a run stopped while its objects hashed: every table has its temporary columns, none filled
  const { input } = await prepareScenario(scenario);
  const columns = await journalColumns(conn, schema);
  for (const column of columns) await fillColumn(conn, input, column.column_id, { budgetMs: 10_000 }, silentProgress);
  expect((await tempColumns()).sort()).toEqual(columns.map((column) => column.temp_column).sort());

  const discarded = await djmigrate(['discard-fills', ...args]);
  expect(discarded.stderr).toBe('');
  expect(discarded.code).toBe(0);
  expect(discarded.stdout).toMatch(new RegExp(`dropped the temporary columns of ${columns.length} column\\(s\\)`));
  expect(await tempColumns()).toEqual([]);
  expect(new Set((await journalColumns(conn, schema)).map((column) => column.state))).toEqual(new Set(['discarded']));
  expect(await readSchemaLock(conn, schema)).toBeNull();

  const migrated = await djmigrate(['run', '--from', '0.11', ...args, '--report', join(scenario.folder, '..', `${schema}-report.json`)]);
  expect(migrated.code).toBe(0);
  expect(new Set((await journalColumns(conn, schema)).map((column) => column.state))).toEqual(new Set(['swapped']));
});
