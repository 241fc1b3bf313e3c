import mysql from 'mysql2/promise';
const N = 1_000_000;
const conn = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test', multipleStatements: true });
await conn.query('DROP TABLE IF EXISTS pf');
await conn.query("CREATE TABLE pf (id int NOT NULL, trial int NOT NULL, snippet char(51) NOT NULL, tmp binary(16) NOT NULL DEFAULT 0x00000000000000000000000000000000, PRIMARY KEY (id, trial), KEY (snippet)) ENGINE=InnoDB");
const hashes = Array.from({ length: 18 }, (_, i) => `h${i}`.padEnd(51, 'x'));
for (let s = 0; s < N; s += 50000) {
  const rows = Array.from({ length: 50000 }, (_, j) => [Math.floor((s + j) / 10), (s + j) % 10, hashes[(s + j) % 18]]);
  await conn.query('INSERT INTO pf (id, trial, snippet) VALUES ?', [rows]);
}
const caseSql = `CASE snippet ${hashes.map((h, i) => `WHEN '${h}' THEN UNHEX(MD5('${i}'))`).join(' ')} END`;
async function stream(c: mysql.Connection, lo: number, hi: number) {
  for (let a = lo; a < hi; a += 5000) await c.query(`UPDATE pf SET tmp = ${caseSql} WHERE tmp = 0x00000000000000000000000000000000 AND id >= ? AND id < ?`, [a, Math.min(hi, a + 5000)]);
}
const reset = () => conn.query('UPDATE pf SET tmp = 0x00000000000000000000000000000000');
for (const streams of [1, 2, 1, 2, 4]) {
  await reset();
  await new Promise((r) => setTimeout(r, 3000));
  const conns = await Promise.all(Array.from({ length: streams }, () => mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' })));
  const t = performance.now();
  const per = N / 10 / streams;
  await Promise.all(conns.map((c, i) => stream(c, i * per, (i + 1) * per)));
  console.log(`${streams} stream(s): ${((performance.now() - t) / 1000).toFixed(2)} s`);
  await Promise.all(conns.map((c) => c.end()));
}
await conn.query('DROP TABLE pf');
await conn.end();
