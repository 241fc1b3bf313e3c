// The journal read in keyset pages (10,000 rows a page) across page boundaries, and by InsertRows batch after batch.
import { afterEach, expect, it } from 'vitest';
import { externalTableDdl, externalTableName } from '../../functions/core/datajoint/v012.js';
import { execute, quoteId, select, tableRef } from '../../functions/core/db/sql.js';
import { insertExternalRows } from '../../functions/core/migrate011/insert.js';
import { Migrate011InputSchema } from '../../functions/core/migrate011/input.js';
import { journalObjects, journalTables, openJournal } from '../../functions/core/migrate011/journal.js';
import { freshSchema, type FreshSchema } from '../harness/context.js';

let schema: FreshSchema | undefined;
afterEach(async () => {
  await schema?.cleanup();
  schema = undefined;
});

it('reads every matching object once, in legacy_hash order, across keyset pages', async () => {
  schema = await freshSchema('journal');
  const { conn, name } = schema;
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  await openJournal(conn, Migrate011InputSchema.parse({ from: '0.11', schema: name, stores: {} }));
  // 20,003 objects (MariaDB's sequence engine), every other one already hashed
  await execute(
    conn,
    `INSERT INTO ${journalTables(name).objects} (legacy_hash, store, batch, size, contents_hash)
     SELECT CAST(LPAD(seq, 43, 'h') AS BINARY), 'external', 0, seq, IF(seq % 2 = 0, UNHEX(MD5(seq)), NULL) FROM ${quoteId(name)}.seq_1_to_20003`,
  );
  const seen: string[] = [];
  for await (const row of journalObjects<{ legacy_hash: Buffer; size: number }>(conn, name, 'legacy_hash, size', 'contents_hash IS NULL AND store = ?', ['external'])) {
    seen.push(row.legacy_hash.toString('latin1'));
  }
  expect(seen).toHaveLength(10_002);
  expect(new Set(seen).size).toBe(seen.length);
  expect([...seen].sort()).toEqual(seen);
  expect(seen.every((value) => Number(value.replace(/^h+/, '')) % 2 === 1)).toBe(true);
});

it('InsertRows adds every hashed object missing from ~external_<store>, batch after batch, and keeps the rows already there', async () => {
  schema = await freshSchema('journalinsert');
  const { conn, name } = schema;
  await execute(conn, `CREATE DATABASE ${quoteId(name)}`);
  const input = Migrate011InputSchema.parse({ from: '0.11', schema: name, stores: {} });
  await openJournal(conn, input);
  const objects = journalTables(name).objects;
  await execute(
    conn,
    `INSERT INTO ${objects} (legacy_hash, store, batch, size, contents_hash, new_hash)
     SELECT CAST(LPAD(seq, 43, 'h') AS BINARY), 'external', FLOOR(seq / 7000), seq, UNHEX(MD5(seq)), UNHEX(MD5(CONCAT('new', seq))) FROM ${quoteId(name)}.seq_1_to_20003`,
  );
  // an earlier run's rows, every fourth object: as InsertRows writes them
  await execute(conn, externalTableDdl(name, 'external', quoteId));
  const external = tableRef(name, externalTableName('external'));
  await execute(
    conn,
    `INSERT INTO ${external} (hash, size, filepath, contents_hash)
     SELECT new_hash, size, CONCAT(?, legacy_hash), contents_hash FROM ${objects} WHERE size % 4 = 0`,
    [`${name}/`],
  );

  expect((await insertExternalRows(conn, input)).inserted).toBe(20_003 - 5_000);
  const [counts] = await select<{ rows: number; matching: number }>(
    conn,
    `SELECT COUNT(*) AS \`rows\`, SUM(e.size = o.size AND e.contents_hash = o.contents_hash AND e.filepath = CONCAT(?, o.legacy_hash)) AS matching
       FROM ${external} e JOIN ${objects} o ON o.new_hash = e.hash`,
    [`${name}/`],
  );
  expect({ rows: Number(counts.rows), matching: Number(counts.matching) }).toEqual({ rows: 20_003, matching: 20_003 });
  expect((await insertExternalRows(conn, input)).inserted).toBe(0);

  // a row already there that disagrees with its object stops the run, naming it (its batch had rows to add)
  await execute(conn, `UPDATE ${external} SET size = size + 1 WHERE hash = UNHEX(MD5('new8'))`);
  await execute(conn, `DELETE FROM ${external} WHERE hash = UNHEX(MD5('new9'))`);
  await expect(insertExternalRows(conn, input)).rejects.toThrow(/disagree with the objects themselves[\s\S]*h{42}8: row has size 9/);
});
