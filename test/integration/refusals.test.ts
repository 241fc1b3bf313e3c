// Bad input is refused with a message that says what is wrong and what to do, and nothing changes: the schema
// (every table, column and row) and every object in the stores are the same before and after.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { journalColumns, journalTables } from '../../functions/core/migrate011/journal.js';
import type { Report } from '../../functions/core/migrate011/report.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import type { HandlerName } from '../../functions/handlers/names.js';
import type { PhaseInvoker } from '../../functions/handlers/registry.js';
import { s3ClientConfig } from '../../functions/core/stores/s3-store.js';
import { buildExampleLab, declareLegacyTable, type LegacyFixtureOptions } from '../../functions/local/sandbox/legacy-pipeline.js';
import { legacyScenario, schemaSnapshot, storeSnapshot, writeDataJointConfig, type Scenario } from '../harness/migration.js';

let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.cleanup();
  scenario = undefined;
});

/** Runs the migration expecting a refusal matching `message`, and checks that nothing changed. */
async function expectRefusal(current: Scenario, message: RegExp, options: Parameters<Scenario['run']>[0] = {}, { journalMayExist = false } = {}) {
  const before = await schemaSnapshot(current.conn, current.schema, { includeJournal: !journalMayExist });
  const objectsBefore = await storeSnapshot(current);
  const result = await current.run(options);
  expect(result.status).toBe('FAILED');
  expect(result.error?.name).toBe('MigrationRefused');
  expect(result.error?.message).toMatch(message);
  expect(await schemaSnapshot(current.conn, current.schema, { includeJournal: !journalMayExist })).toEqual(before);
  expect(await storeSnapshot(current)).toEqual(objectsBefore);
}

async function objectOf(current: Scenario, storeKey: string) {
  return current.fixture.objects.find((object) => object.store === storeKey)!;
}

function s3Client(current: Scenario): S3Client {
  const store = current.stores.external;
  return new S3Client(s3ClientConfig(store.spec as { endpoint: string; bucket: string }, store.credentials));
}

describe('refusals change nothing', () => {
  it('an unknown schema', async () => {
    scenario = await legacyScenario('bad_schema', buildExampleLab);
    await expectRefusal(scenario, /schema no_such_schema_here does not exist/, { schema: 'no_such_schema_here' });
  });

  it('a schema without ~external', async () => {
    scenario = await legacyScenario('bad_noext', async (options) => {
      await options.conn.query(`CREATE DATABASE ${quoteId(options.database)}`);
      await options.conn.query(`CREATE TABLE ${tableRef(options.database, 'plain')} (id int PRIMARY KEY)`);
      return { database: options.database, tables: ['plain'], objects: [] };
    });
    await expectRefusal(scenario, /has no ~external table: it is not a DataJoint 0\.11 schema/);
  });

  it('a store used by a column but missing from the config', async () => {
    scenario = await legacyScenario('bad_nostore', buildExampleLab);
    const { 'external-local': _local, ...rest } = scenario.stores;
    const configPath = await writeDataJointConfig(scenario.folder, rest);
    await expectRefusal(scenario, /store "local" \(0\.11 config key "external-local", used by frame\.img\) is missing from the config/, { configPath });
  });

  it('an unreachable store', async () => {
    scenario = await legacyScenario('bad_unreach', buildExampleLab);
    const unreachable = { ...scenario.stores, external: { ...scenario.stores.external, spec: { ...scenario.stores.external.spec, endpoint: '127.0.0.1:9' } } };
    const configPath = await writeDataJointConfig(scenario.folder, unreachable);
    await expectRefusal(scenario, /store "external" \(s3:\/\/.*\) cannot be listed: .*check its endpoint/, { configPath });
  });

  it('a referenced object missing from its store', async () => {
    scenario = await legacyScenario('bad_missing', buildExampleLab);
    const object = await objectOf(scenario, 'external-local');
    await rm(object.key);
    await expectRefusal(scenario, /referenced object\(s\) are missing from store "local"/);
  });

  it('an object whose size differs from ~external', async () => {
    scenario = await legacyScenario('bad_size', buildExampleLab);
    const object = await objectOf(scenario, 'external');
    await s3Client(scenario).send(new PutObjectCommand({ Bucket: scenario.bucket, Key: object.key, Body: Buffer.concat([object.bytes, Buffer.from('x')]) }));
    await expectRefusal(scenario, /do not have the size ~external recorded/);
  });

  it('an object whose bytes do not match its legacy hash (same size)', async () => {
    scenario = await legacyScenario('bad_corrupt', buildExampleLab);
    const object = await objectOf(scenario, 'external-local');
    const corrupt = Buffer.from(object.bytes);
    corrupt[corrupt.length - 1] ^= 0xff;
    await writeFile(object.key, corrupt);
    // Found while hashing, after the journal was started: DataJoint's tables and the objects stay untouched.
    await expectRefusal(scenario, /does not match its legacy hash .*corrupt or another object was put in its place/, {}, { journalMayExist: true });
    expect(await readFile(object.key)).toEqual(corrupt);
  });

  it('a bad object found after other columns were filled beside the hashing: the fills are dropped, the rerun migrates', async () => {
    scenario = await legacyScenario('bad_late', buildExampleLab);
    const current = scenario;
    const object = await objectOf(current, 'external-local');
    const corrupt = Buffer.from(object.bytes);
    corrupt[corrupt.length - 1] ^= 0xff;
    await writeFile(object.key, corrupt);
    const columnStates = async () => (await journalColumns(current.conn, current.schema)).map((column) => column.state);
    // the bad object's store is hashed only once another store's column is filled
    let filledBeforeRefusal = false;
    const wrapHandlers = (handlers: Partial<Record<HandlerName, PhaseInvoker>>) => ({
      ...handlers,
      hash: async (event: unknown) => {
        const rows = await select<{ store: string }>(current.conn, `SELECT DISTINCT store FROM ${journalTables(current.schema).objects} WHERE batch = ?`, [(event as { batch: number }).batch]);
        if (rows.some((row) => row.store === 'local')) {
          for (let look = 0; look < 200 && !filledBeforeRefusal; look++) {
            filledBeforeRefusal = (await columnStates()).includes('filled');
            if (!filledBeforeRefusal) await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        return handlers.hash!(event);
      },
    });
    await expectRefusal(current, /does not match its legacy hash .*corrupt or another object was put in its place/, { wrapHandlers }, { journalMayExist: true });
    expect(filledBeforeRefusal).toBe(true);
    expect(new Set(await columnStates())).toEqual(new Set(['discarded']));

    await writeFile(object.key, object.bytes);
    const rerun = await current.run();
    expect(rerun.error).toBeUndefined();
    expect((rerun.output as Report).status).toBe('migrated');
    expect(new Set(await columnStates())).toEqual(new Set(['swapped']));
  });

  it('a value with the wrong suffix for its column', async () => {
    scenario = await legacyScenario('bad_suffix', buildExampleLab);
    const shared = await objectOf(scenario, 'external-shared');
    await execute(scenario.conn, `UPDATE ${tableRef(scenario.schema, 'frame')} SET img = ? WHERE frame = 1`, [shared.value]);
    await expectRefusal(scenario, /frame\.img \(type external-local\) has values that are not a 43-character hash followed by the suffix "local"[\s\S]*session_id=1, rec_id=1, frame=1/);
  });

  it('a value that matches ~external only case-insensitively', async () => {
    scenario = await legacyScenario('bad_case', buildExampleLab);
    await execute(scenario.conn, `UPDATE ${tableRef(scenario.schema, 'recording')} SET trace = LOWER(trace) WHERE session_id = 2`);
    await expectRefusal(scenario, /recording\.trace has values without an exactly matching ~external row[\s\S]*differing only in letter case[\s\S]*session_id=2, rec_id=1/);
  });

  it('a comment that would exceed 1024 characters with the 0.12 marker', async () => {
    scenario = await legacyScenario('bad_comment', async (options: LegacyFixtureOptions) => {
      const fixture = await buildExampleLab(options);
      await declareLegacyTable(options.conn, options.database, {
        name: 'long_note',
        primaryKey: [{ name: 'id', sqlType: 'int' }],
        attributes: [{ name: 'pic', type: 'external', nullable: true, comment: 'c'.repeat(1014) }],
      });
      return fixture;
    });
    await expectRefusal(scenario, /long_note\.pic: with the 0\.12 marker its comment would be 1029 characters, over MySQL's 1024/);
  });

  it('in place with an s3 location 0.12 reads elsewhere (trailing slash)', async () => {
    scenario = await legacyScenario('bad_slash', buildExampleLab);
    // s3rver cannot store keys with `//`, so the objects are at `lab/…` and only the config says `lab/`.
    const slashed = { ...scenario.stores, external: { ...scenario.stores.external, spec: { ...scenario.stores.external.spec, location: 'lab/' } } };
    const configPath = await writeDataJointConfig(scenario.folder, slashed);
    await expectRefusal(scenario, /location "lab\/": 0\.11 wrote objects at "lab\/\/[^"]*" but 0\.12 reads "lab\/[^"]*", so in-place pointers would not resolve; use --mode native/, { configPath });
  });

  it('a config file that is not JSON, and one without database.host', async () => {
    scenario = await legacyScenario('bad_config', buildExampleLab);
    const notJson = `${scenario.configPath}.broken`;
    await writeFile(notJson, '{ "database.host": ');
    await expectRefusal(scenario, /is not valid JSON/, { configPath: notJson });
    const noHost = `${scenario.configPath}.nohost`;
    const config = JSON.parse(await readFile(scenario.configPath, 'utf8'));
    delete config['database.host'];
    await writeFile(noHost, JSON.stringify(config));
    await expectRefusal(scenario, /database\.host is missing/, { configPath: noHost, env: {} });
  });

  it('wrong database credentials', async () => {
    scenario = await legacyScenario('bad_login', buildExampleLab);
    await expectRefusal(scenario, /cannot log in to MySQL at .* check database\.host, database\.user and database\.password/, { env: { DJ_PASS: 'definitely-wrong' } });
  });
});

