// The journal's keyset-page reader, across a page boundary (10,000 rows a page).
import { afterEach, expect, it } from 'vitest';
import { execute, quoteId } from '../../functions/core/db/sql.js';
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
