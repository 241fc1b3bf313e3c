import mysql from 'mysql2/promise';
import { startMariaDb } from '../functions/local/sandbox/mariadb.js';
const N = 1_000_000;
const server = await startMariaDb();
const conn = await mysql.createConnection({ uri: server.url, multipleStatements: true });
await conn.query('CREATE DATABASE t; USE t');
const Z = '0x00000000000000000000000000000000';
const hashes = Array.from({ length: 20 }, (_, i) => `h${i}`.padEnd(51, 'x'));
const caseSql = `CASE CAST(snippet AS BINARY) ${hashes.map((h, i) => `WHEN '${h}' THEN UNHEX(MD5('${i}'))`).join(' ')} ELSE ${Z} END`;
async function build() {
  await conn.query('DROP TABLE IF EXISTS ev');
  await conn.query(`CREATE TABLE ev (event_id int NOT NULL, snippet char(51) NULL, score float NOT NULL, PRIMARY KEY (event_id), KEY (snippet)) ENGINE=InnoDB`);
  for (let s = 0; s < N; s += 50000) {
    const rows = Array.from({ length: 50000 }, (_, j) => [s + j, (s + j) % 10 === 0 ? null : hashes[(s + j) % 20], 1.5]);
    await conn.query('INSERT INTO ev (event_id, snippet, score) VALUES ?', [rows]);
  }
}
async function time(label: string, f: () => Promise<unknown>) {
  const t = performance.now();
  await f();
  console.log(`${label}: ${((performance.now() - t) / 1000).toFixed(2)} s`);
}
const addTemp = () => conn.query(`ALTER TABLE ev ADD COLUMN tmp binary(16) NULL DEFAULT ${Z} AFTER snippet`);
await build();
await time('add temp column rebuild', () => conn.query(`ALTER TABLE ev ADD COLUMN tmp binary(16) NULL DEFAULT ${Z} AFTER snippet, FORCE, ALGORITHM=INPLACE, LOCK=NONE`));
const reset = () => conn.query(`UPDATE ev SET tmp = ${Z}`);
for (const chunk of [1_000_000, 100_000, 20_000, 5_000]) {
  await time(`chunked UPDATE ${chunk}`, async () => {
    for (let a = 0; a < N; a += chunk) await conn.query(`UPDATE ev SET tmp = IF(snippet IS NULL, NULL, ${caseSql}) WHERE tmp = ${Z} AND event_id >= ? AND event_id < ?`, [a, a + chunk]);
  });
  await time('reset', reset);
}
await time(`UPDATE no where on tmp`, () => conn.query(`UPDATE ev SET tmp = IF(snippet IS NULL, NULL, ${caseSql})`));
await time('reset', reset);
await conn.end();
await server.stop();
