// add_lineage_table against the real MariaDB: `~lineage` as 2.x's rebuild_lineage() fills it (real-examples 6.7),
// through a three-level chain, a renamed secondary foreign key and a foreign key across schemas; foreign keys to
// `~external_*` ignored; a rerun changes nothing.
import { afterEach, expect, it } from 'vitest';
import { externalTableDdl } from '../../functions/core/datajoint/v012.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { planLineage, rebuildLineage } from '../../functions/core/migrate014/lineage.js';
import { freshSchema, type FreshSchema } from '../harness/context.js';

const schemas: FreshSchema[] = [];
afterEach(async () => {
  // Dependent schema first (its FKs reference the upstream one).
  for (const schema of schemas.splice(0).reverse()) await schema.cleanup();
});

async function fresh(prefix: string): Promise<FreshSchema> {
  const schema = await freshSchema(prefix);
  schemas.push(schema);
  await execute(schema.conn, `CREATE DATABASE ${quoteId(schema.name)}`);
  return schema;
}

/** real-examples 5.2 (0.14.6): `animal`, `sample` with an external blob, `~external_main`, `~log`. */
async function buildExample({ conn, name }: FreshSchema): Promise<void> {
  await execute(conn, externalTableDdl(name, 'main', quoteId));
  await execute(conn, `CREATE TABLE ${tableRef(name, '~log')} (\`timestamp\` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, \`event\` varchar(255) NOT NULL DEFAULT '', PRIMARY KEY (\`timestamp\`)) ENGINE=InnoDB`);
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, 'animal')} (animal_id int NOT NULL COMMENT 'animal number', species varchar(32) NOT NULL DEFAULT 'mouse', PRIMARY KEY (animal_id)) ENGINE=InnoDB`,
  );
  await execute(
    conn,
    `CREATE TABLE ${tableRef(name, 'sample')} (
       animal_id int NOT NULL, sample_id int unsigned NOT NULL, label varchar(32) NOT NULL DEFAULT 'none', raw longblob NOT NULL,
       waveform binary(16) NOT NULL COMMENT ':blob@main:external blob',
       PRIMARY KEY (animal_id, sample_id),
       FOREIGN KEY (animal_id) REFERENCES ${tableRef(name, 'animal')} (animal_id) ON UPDATE CASCADE,
       FOREIGN KEY (waveform) REFERENCES ${tableRef(name, '~external_main')} (hash)
     ) ENGINE=InnoDB`,
  );
}

async function lineageRows({ conn, name }: FreshSchema) {
  return select<{ table_name: string; attribute_name: string; lineage: string }>(
    conn,
    `SELECT table_name AS table_name, attribute_name AS attribute_name, lineage AS lineage FROM ${tableRef(name, '~lineage')} ORDER BY table_name, attribute_name`,
  );
}

it('fills ~lineage as 2.3.2 does for example_lab (real-examples 6.7); a rerun changes nothing', async () => {
  const schema = await fresh('lineage');
  await buildExample(schema);
  const s = schema.name;

  const plan = await planLineage(schema.conn, s);
  expect(plan.tableExists).toBe(false);
  expect(plan.ignoredExternalKeys).toEqual([`sample.waveform -> ${s}.~external_main`]);
  const expected = [
    { table_name: 'animal', attribute_name: 'animal_id', lineage: `${s}.animal.animal_id` },
    { table_name: 'sample', attribute_name: 'animal_id', lineage: `${s}.animal.animal_id` },
    { table_name: 'sample', attribute_name: 'sample_id', lineage: `${s}.sample.sample_id` },
  ];
  expect(plan.rows).toEqual(expected);
  expect(plan.changes).toEqual(expected);
  // Read-only.
  expect(await select(schema.conn, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [s, '~lineage'])).toEqual([]);

  expect(await rebuildLineage(schema.conn, s)).toEqual({ rows: 3, created: true, written: 3, removed: 0 });
  expect(await lineageRows(schema)).toEqual(expected);
  // 2.x's DDL (spec D.4).
  const columns = await select(
    schema.conn,
    `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_KEY AS column_key, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [s, '~lineage'],
  );
  expect(columns).toEqual([
    { name: 'table_name', type: 'varchar(64)', nullable: 'NO', column_key: 'PRI', comment: 'table name within the schema' },
    { name: 'attribute_name', type: 'varchar(64)', nullable: 'NO', column_key: 'PRI', comment: 'attribute name' },
    { name: 'lineage', type: 'varchar(255)', nullable: 'NO', column_key: '', comment: 'origin: schema.table.attribute' },
  ]);

  expect(await rebuildLineage(schema.conn, s)).toEqual({ rows: 3, created: false, written: 0, removed: 0 });
  expect(await lineageRows(schema)).toEqual(expected);
  const rerun = await planLineage(schema.conn, s);
  expect([rerun.changes, rerun.stale]).toEqual([[], []]);

  // A wrong row is corrected and a row no table explains is removed (2.x rebuilds from scratch).
  await execute(schema.conn, `UPDATE ${tableRef(s, '~lineage')} SET lineage = 'x.y.z' WHERE table_name = 'sample' AND attribute_name = 'animal_id'`);
  await execute(schema.conn, `INSERT INTO ${tableRef(s, '~lineage')} VALUES ('gone', 'gone_id', 'x.gone.gone_id')`);
  expect(await rebuildLineage(schema.conn, s)).toEqual({ rows: 3, created: false, written: 1, removed: 1 });
  expect(await lineageRows(schema)).toEqual(expected);
});

it('follows foreign keys transitively, through renamed keys and across schemas', async () => {
  const upstream = await fresh('lineage_up');
  await buildExample(upstream);
  const u = upstream.name;
  const { conn } = upstream;
  // Three levels: session -> sample -> animal, trial -> session; a renamed secondary FK (`-> Animal.proj(mother='animal_id')`).
  await execute(
    conn,
    `CREATE TABLE ${tableRef(u, 'session')} (animal_id int NOT NULL, sample_id int unsigned NOT NULL, session_id smallint NOT NULL, note varchar(8) NOT NULL,
       PRIMARY KEY (animal_id, sample_id, session_id),
       FOREIGN KEY (animal_id, sample_id) REFERENCES ${tableRef(u, 'sample')} (animal_id, sample_id) ON UPDATE CASCADE) ENGINE=InnoDB`,
  );
  await execute(
    conn,
    `CREATE TABLE ${tableRef(u, 'session__trial')} (animal_id int NOT NULL, sample_id int unsigned NOT NULL, session_id smallint NOT NULL, trial_id int NOT NULL,
       mother int DEFAULT NULL, outcome float NOT NULL,
       PRIMARY KEY (animal_id, sample_id, session_id, trial_id),
       FOREIGN KEY (animal_id, sample_id, session_id) REFERENCES ${tableRef(u, 'session')} (animal_id, sample_id, session_id) ON UPDATE CASCADE,
       FOREIGN KEY (mother) REFERENCES ${tableRef(u, 'animal')} (animal_id) ON UPDATE CASCADE) ENGINE=InnoDB`,
  );
  // A table of another schema inheriting the chain's key.
  const downstream = await fresh('lineage_down');
  const d = downstream.name;
  await execute(
    conn,
    `CREATE TABLE ${tableRef(d, '#cage')} (animal_id int NOT NULL, sample_id int unsigned NOT NULL, session_id smallint NOT NULL, cage_id varchar(8) NOT NULL,
       PRIMARY KEY (animal_id, sample_id, session_id, cage_id),
       FOREIGN KEY (animal_id, sample_id, session_id) REFERENCES ${tableRef(u, 'session')} (animal_id, sample_id, session_id) ON UPDATE CASCADE) ENGINE=InnoDB`,
  );

  const expectedUp = [
    ['animal', 'animal_id', `${u}.animal.animal_id`],
    ['sample', 'animal_id', `${u}.animal.animal_id`],
    ['sample', 'sample_id', `${u}.sample.sample_id`],
    ['session', 'animal_id', `${u}.animal.animal_id`],
    ['session', 'sample_id', `${u}.sample.sample_id`],
    ['session', 'session_id', `${u}.session.session_id`],
    ['session__trial', 'animal_id', `${u}.animal.animal_id`],
    ['session__trial', 'mother', `${u}.animal.animal_id`],
    ['session__trial', 'sample_id', `${u}.sample.sample_id`],
    ['session__trial', 'session_id', `${u}.session.session_id`],
    ['session__trial', 'trial_id', `${u}.session__trial.trial_id`],
  ].map(([table_name, attribute_name, lineage]) => ({ table_name, attribute_name, lineage }));
  const expectedDown = [
    ['#cage', 'animal_id', `${u}.animal.animal_id`],
    ['#cage', 'cage_id', `${d}.#cage.cage_id`],
    ['#cage', 'sample_id', `${u}.sample.sample_id`],
    ['#cage', 'session_id', `${u}.session.session_id`],
  ].map(([table_name, attribute_name, lineage]) => ({ table_name, attribute_name, lineage }));

  // The upstream schema has no ~lineage yet: its origins are computed from its keys.
  expect((await planLineage(conn, d)).rows).toEqual(expectedDown);
  expect(await rebuildLineage(conn, u)).toMatchObject({ rows: expectedUp.length, written: expectedUp.length });
  expect(await lineageRows(upstream)).toEqual(expectedUp);
  // Once it has one, its rows are what 2.x reads for cross-schema parents: the same answer.
  expect(await rebuildLineage(conn, d)).toEqual({ rows: 4, created: true, written: 4, removed: 0 });
  expect(await lineageRows(downstream)).toEqual(expectedDown);
  expect(await rebuildLineage(conn, d)).toEqual({ rows: 4, created: false, written: 0, removed: 0 });
  // As in 2.x, a parent schema's stored row is what a cross-schema child inherits.
  await execute(conn, `UPDATE ${tableRef(u, '~lineage')} SET lineage = 'elsewhere.t.a' WHERE table_name = 'session' AND attribute_name = 'session_id'`);
  expect((await planLineage(conn, d)).changes).toEqual([{ table_name: '#cage', attribute_name: 'session_id', lineage: 'elsewhere.t.a' }]);
});

it('refuses a schema that does not exist', async () => {
  const schema = await freshSchema('lineage_none');
  schemas.push(schema);
  await expect(planLineage(schema.conn, schema.name)).rejects.toThrow(/does not exist on this server/);
});
