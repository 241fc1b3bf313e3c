// The legacy fixture against the real sandbox: what buildExampleLab leaves in MariaDB and in the stores must be
// what real DataJoint 0.11.1 left (real-examples 1.3–1.9, 2.2).
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import type { Readable } from 'node:stream';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float64Array } from '../../functions/core/datajoint/blob.js';
import type { ObjectStore } from '../../functions/core/stores/object-store.js';
import { openObjectStore } from '../../functions/core/stores/open-store.js';
import {
  buildExampleLab,
  buildSeedPipeline,
  createLegacySchema,
  declareLegacyTable,
  insertLegacyRows,
  type LegacyFixture,
} from '../../functions/local/sandbox/legacy-pipeline.js';
import { freshLegacyStores, freshSchema, type FreshLegacyStores, type FreshSchema } from '../harness/context.js';

const HASHES = {
  thumb: '0AURbyiEro79_ZzeYm4o9jgcAQKewj-ClaTOB0WslB4shared',
  row12: '7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s',
  row12local: '7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2slocal',
  zeros: 'BHWG2D_7vzVk2kjULJ3H6qAlqHvEf_KirrDJbvY1Ums',
  int16: 'fMI016hmLGeHF02A8HJgtKGdB6FWHLXsV4dAjgOkIK0shared',
  trace11: 'kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg',
  img: 'vH8pF6bIiF2lAZz20NwNOwy2bd8hYU9WV8HlwJrMUQElocal',
};

// real-examples 1.4 (hash | size)
const EXTERNAL_ROWS: Array<[string, number]> = [
  [HASHES.thumb, 38],
  [HASHES.row12, 48],
  [HASHES.row12local, 48],
  [HASHES.zeros, 56],
  [HASHES.int16, 37],
  [HASHES.trace11, 44],
  [HASHES.img, 52],
];

async function md5Of(stream: Readable): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function listing(store: ObjectStore, prefix: string, strip = ''): Promise<string[]> {
  const lines: string[] = [];
  for await (const object of store.list(prefix)) {
    lines.push(`${strip ? relative(strip, object.key) : object.key} | ${object.size} | ${await md5Of(await store.read(object.key))}`);
  }
  return lines.sort();
}

const normalizeType = (type: string): string => type.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1');

describe('buildExampleLab (real-examples part 1)', () => {
  let schema: FreshSchema;
  let env: FreshLegacyStores;
  let fixture: LegacyFixture;
  let db: string;
  const q = async (sql: string, params: unknown[] = []): Promise<RowDataPacket[]> => (await schema.conn.query<RowDataPacket[]>(sql, params))[0];

  beforeAll(async () => {
    schema = await freshSchema('example_lab');
    env = await freshLegacyStores('example-lab');
    db = schema.name;
    fixture = await buildExampleLab({ conn: schema.conn, database: db, stores: env.stores });
  });
  afterAll(async () => {
    await schema?.cleanup();
  });

  it('creates the tables 0.11.1 creates (1.2)', async () => {
    const rows = await q('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name', [db]);
    expect(rows.map((row) => row.t)).toEqual(['frame', 'recording', 'session', '~external', '~log']);
    expect(fixture.tables).toEqual(['session', 'recording', 'frame']);
  });

  it('declares the columns like 0.11.1 (1.3, 1.9)', async () => {
    const rows = await q(
      `SELECT table_name AS t, column_name AS c, column_type AS type, is_nullable AS n, column_default AS d, column_comment AS comment, column_key AS k
         FROM information_schema.columns WHERE table_schema = ? ORDER BY table_name, ordinal_position`,
      [db],
    );
    const columns = rows.map((row) => `${row.t}.${row.c} ${normalizeType(row.type)} null=${row.n} key=${row.k} comment=${JSON.stringify(row.comment)}`);
    expect(columns.filter((line) => !line.startsWith('~log.'))).toEqual([
      'frame.session_id int null=NO key=PRI comment=""',
      'frame.rec_id smallint null=NO key=PRI comment=""',
      'frame.frame int null=NO key=PRI comment=""',
      'frame.img char(51) null=NO key=MUL comment=":external-local:"',
      'recording.session_id int null=NO key=PRI comment=""',
      'recording.rec_id smallint null=NO key=PRI comment=""',
      'recording.trace char(51) null=NO key=MUL comment=":external:raw: volts, sampled at 1 kHz"',
      'recording.thumb char(51) null=YES key=MUL comment=":external-shared:"',
      'recording.params longblob null=NO key= comment=""',
      'session.session_id int null=NO key=PRI comment=""',
      'session.notes varchar(64) null=NO key= comment=""',
      '~external.hash char(51) null=NO key=PRI comment="the hash of stored object + store name"',
      '~external.size bigint unsigned null=NO key= comment="size of object in bytes"',
      '~external.timestamp timestamp null=NO key= comment="automatic timestamp"',
    ]);
    const thumb = rows.find((row) => row.t === 'recording' && row.c === 'thumb')!;
    expect(thumb.d === null || thumb.d === 'NULL').toBe(true);
  });

  it('has the foreign keys of 1.7 and 1.8', async () => {
    const constraints = await q(
      `SELECT constraint_name AS name, table_name AS t, referenced_table_name AS r, update_rule AS u, delete_rule AS d
         FROM information_schema.referential_constraints WHERE constraint_schema = ? ORDER BY constraint_name`,
      [db],
    );
    expect(constraints.map((row) => `${row.name} | ${row.t} | ${row.r} | ${row.u} | ${row.d}`)).toEqual([
      'frame_ibfk_1 | frame | recording | CASCADE | RESTRICT',
      'frame_ibfk_2 | frame | ~external | RESTRICT | RESTRICT',
      'recording_ibfk_1 | recording | session | CASCADE | RESTRICT',
      'recording_ibfk_2 | recording | ~external | RESTRICT | RESTRICT',
      'recording_ibfk_3 | recording | ~external | RESTRICT | RESTRICT',
    ]);
    const usage = await q(
      `SELECT constraint_name AS name, table_name AS t, column_name AS c, referenced_table_schema AS rs, referenced_column_name AS rc
         FROM information_schema.key_column_usage
        WHERE table_schema = ? AND referenced_table_name = '~external' ORDER BY table_name, column_name`,
      [db],
    );
    expect(usage.map((row) => `${row.name} | ${row.t} | ${row.c} | ${row.rs === db} | ${row.rc}`)).toEqual([
      'frame_ibfk_2 | frame | img | true | hash',
      'recording_ibfk_3 | recording | thumb | true | hash',
      'recording_ibfk_2 | recording | trace | true | hash',
    ]);
  });

  it('SHOW CREATE TABLE prints what MariaDB printed for 0.11.1 (1.3)', async (context) => {
    const [{ v }] = await q('SELECT VERSION() AS v');
    if (!/mariadb/i.test(v)) context.skip();
    const show = async (table: string): Promise<string> => (await q(`SHOW CREATE TABLE \`${db}\`.\`${table}\``))[0]['Create Table'];
    expect(await show('~external')).toBe(
      'CREATE TABLE `~external` (\n' +
        "  `hash` char(51) NOT NULL COMMENT 'the hash of stored object + store name',\n" +
        "  `size` bigint(20) unsigned NOT NULL COMMENT 'size of object in bytes',\n" +
        "  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() COMMENT 'automatic timestamp',\n" +
        '  PRIMARY KEY (`hash`)\n' +
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='external storage tracking'",
    );
    expect(await show('recording')).toBe(
      'CREATE TABLE `recording` (\n' +
        '  `session_id` int(11) NOT NULL,\n' +
        '  `rec_id` smallint(6) NOT NULL,\n' +
        "  `trace` char(51) NOT NULL COMMENT ':external:raw: volts, sampled at 1 kHz',\n" +
        "  `thumb` char(51) DEFAULT NULL COMMENT ':external-shared:',\n" +
        '  `params` longblob NOT NULL,\n' +
        '  PRIMARY KEY (`session_id`,`rec_id`),\n' +
        '  KEY `trace` (`trace`),\n' +
        '  KEY `thumb` (`thumb`),\n' +
        '  CONSTRAINT `recording_ibfk_1` FOREIGN KEY (`session_id`) REFERENCES `session` (`session_id`) ON UPDATE CASCADE,\n' +
        '  CONSTRAINT `recording_ibfk_2` FOREIGN KEY (`trace`) REFERENCES `~external` (`hash`),\n' +
        '  CONSTRAINT `recording_ibfk_3` FOREIGN KEY (`thumb`) REFERENCES `~external` (`hash`)\n' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
    );
    expect(await show('frame')).toBe(
      'CREATE TABLE `frame` (\n' +
        '  `session_id` int(11) NOT NULL,\n' +
        '  `rec_id` smallint(6) NOT NULL,\n' +
        '  `frame` int(11) NOT NULL,\n' +
        "  `img` char(51) NOT NULL COMMENT ':external-local:',\n" +
        '  PRIMARY KEY (`session_id`,`rec_id`,`frame`),\n' +
        '  KEY `img` (`img`),\n' +
        '  CONSTRAINT `frame_ibfk_1` FOREIGN KEY (`session_id`, `rec_id`) REFERENCES `recording` (`session_id`, `rec_id`) ON UPDATE CASCADE,\n' +
        '  CONSTRAINT `frame_ibfk_2` FOREIGN KEY (`img`) REFERENCES `~external` (`hash`)\n' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
    );
    expect(await show('session')).toBe(
      'CREATE TABLE `session` (\n' +
        '  `session_id` int(11) NOT NULL,\n' +
        '  `notes` varchar(64) NOT NULL,\n' +
        '  PRIMARY KEY (`session_id`)\n' +
        ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci',
    );
    expect(await show('~log')).toBe(
      'CREATE TABLE `~log` (\n' +
        '  `timestamp` timestamp NOT NULL DEFAULT current_timestamp(),\n' +
        "  `version` varchar(12) NOT NULL COMMENT 'datajoint version',\n" +
        "  `user` varchar(255) NOT NULL COMMENT 'user@host',\n" +
        "  `host` varchar(255) NOT NULL DEFAULT '' COMMENT 'system hostname',\n" +
        "  `event` varchar(255) NOT NULL DEFAULT '' COMMENT 'custom message',\n" +
        '  PRIMARY KEY (`timestamp`)\n' +
        `) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='event logging table for \`${db}\`'`,
    );
  });

  it('fills ~external like 1.4', async () => {
    const rows = await q(`SELECT hash, LENGTH(hash) AS len, size FROM \`${db}\`.\`~external\` ORDER BY hash`);
    expect(rows.map((row) => [row.hash, row.size])).toEqual(EXTERNAL_ROWS);
    expect(fixture.objects.map((object) => [object.value, object.size]).sort()).toEqual([...EXTERNAL_ROWS].sort());
  });

  it('stores the referencing values and params of 1.5', async () => {
    const recordings = await q(`SELECT session_id, rec_id, trace, thumb, HEX(params) AS params FROM \`${db}\`.recording ORDER BY session_id, rec_id`);
    expect(recordings.map((row) => [row.session_id, row.rec_id, row.trace, row.thumb, row.params])).toEqual([
      [1, 1, HASHES.trace11, HASHES.thumb, '5A4C313233006700000000000000789CCB8DCC65086664800018CD04C469C50CE98999790C9250314728CDC0C680041CFA1D64610AD04DE141320D00A27505E0'],
      [1, 2, HASHES.row12, HASHES.thumb, '5A4C313233002D00000000000000789CCB8DCC6570646480002628CDC6800C7ED843681607004C8102F9'],
      [2, 1, HASHES.zeros, HASHES.int16, '6D596D0041000000000000000006000000000000000000000000001C40'],
    ]);
    const frames = await q(`SELECT session_id, rec_id, frame, img FROM \`${db}\`.frame ORDER BY session_id, rec_id, frame`);
    expect(frames.map((row) => [row.session_id, row.rec_id, row.frame, row.img])).toEqual([
      [1, 1, 0, HASHES.img],
      [1, 1, 1, HASHES.row12local],
      [2, 1, 0, HASHES.img],
    ]);
    const sessions = await q(`SELECT session_id, notes FROM \`${db}\`.session ORDER BY session_id`);
    expect(sessions.map((row) => [row.session_id, row.notes])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
  });

  it('writes the objects of 1.6 at <location>/<database>/<value>', async () => {
    const s3 = openObjectStore(env.stores.external.spec, env.stores.external.credentials);
    expect(await listing(s3, '')).toEqual([
      `lab/${db}/${HASHES.row12} | 48 | 595936a35db89e00c9588724083ee5f0`,
      `lab/${db}/${HASHES.zeros} | 56 | a50cd53473db986abe0abc2a4d1c8453`,
      `lab/${db}/${HASHES.trace11} | 44 | 27f4917cb29c66ebf9df776e3d7d7dc2`,
      `shared/${db}/${HASHES.thumb} | 38 | c75ff49edd0cfcfa730f47c30bfc4b69`,
      `shared/${db}/${HASHES.int16} | 37 | a3159a57628e25440ad51a16d74bb988`,
    ]);
    const files = openObjectStore(env.stores['external-local'].spec);
    expect(await listing(files, `${env.folder}/`, env.folder)).toEqual([
      `${db}/${HASHES.row12local} | 48 | 595936a35db89e00c9588724083ee5f0`,
      `${db}/${HASHES.img} | 52 | 4318084a949c61bb54e03e5141032ade`,
    ]);
  });
});

describe('buildExampleLab with a NULL thumb (real-examples 2.2)', () => {
  let schema: FreshSchema;
  let env: FreshLegacyStores;

  beforeAll(async () => {
    schema = await freshSchema('example_lab_nullthumb');
    env = await freshLegacyStores('example-lab-null');
    await buildExampleLab({ conn: schema.conn, database: schema.name, stores: env.stores, nullThumb: true });
  });
  afterAll(async () => {
    await schema?.cleanup();
  });

  it('leaves Recording(2,1).thumb NULL and never stores its object', async () => {
    const [rows] = await schema.conn.query<RowDataPacket[]>(`SELECT session_id, rec_id, thumb FROM \`${schema.name}\`.recording ORDER BY session_id, rec_id`);
    expect(rows.map((row) => row.thumb)).toEqual([HASHES.thumb, HASHES.thumb, null]);
    const [external] = await schema.conn.query<RowDataPacket[]>(`SELECT hash FROM \`${schema.name}\`.\`~external\` ORDER BY hash`);
    expect(external.map((row) => row.hash)).toEqual(EXTERNAL_ROWS.map(([hash]) => hash).filter((hash) => hash !== HASHES.int16));
    const s3 = openObjectStore(env.stores['external-shared'].spec, env.stores['external-shared'].credentials);
    expect(await listing(s3, 'shared/')).toEqual([`shared/${schema.name}/${HASHES.thumb} | 38 | c75ff49edd0cfcfa730f47c30bfc4b69`]);
  });
});

describe('buildSeedPipeline (the seed notebook: tables A and B)', () => {
  let schema: FreshSchema;
  let env: FreshLegacyStores;
  let fixture: LegacyFixture;

  beforeAll(async () => {
    schema = await freshSchema('djtest_blobs');
    env = await freshLegacyStores('djtest-blobs', { external: 'store', shared: 'maps' });
    fixture = await buildSeedPipeline({ conn: schema.conn, database: schema.name, stores: env.stores });
  });
  afterAll(async () => {
    await schema?.cleanup();
  });

  it('shares the row-1 external-shared object between a and b and tracks every object once', async () => {
    const db = schema.name;
    const [a] = await schema.conn.query<RowDataPacket[]>(`SELECT id, blob_external, blob_share FROM \`${db}\`.a ORDER BY id`);
    const [b] = await schema.conn.query<RowDataPacket[]>(`SELECT id, blob_local, blob_share FROM \`${db}\`.b ORDER BY id`);
    expect(a.map((row) => row.id)).toEqual([0, 1]);
    expect(b[1].blob_share).toBe(a[1].blob_share);
    expect(b[0].blob_share).not.toBe(a[0].blob_share);
    expect(b[1].blob_local).toBe(`${a[1].blob_external}local`);
    expect(a[1].blob_share.endsWith('shared')).toBe(true);
    const [external] = await schema.conn.query<RowDataPacket[]>(`SELECT hash, size FROM \`${db}\`.\`~external\` ORDER BY hash`);
    expect(external).toHaveLength(7);
    expect(fixture.objects.map((object) => object.value).sort()).toEqual(external.map((row) => row.hash).sort());
    const s3 = openObjectStore(env.stores.external.spec, env.stores.external.credentials);
    const keys = (await listing(s3, '')).map((line) => line.split(' | ')[0]);
    expect(keys.filter((key) => key.startsWith(`store/${db}/`))).toHaveLength(2);
    expect(keys.filter((key) => key.startsWith(`maps/${db}/`))).toHaveLength(3);
    const files = openObjectStore(env.stores['external-local'].spec);
    expect(await listing(files, `${env.folder}/`, env.folder)).toHaveLength(2);
  });
});

describe('declareLegacyTable / insertLegacyRows with awkward names and comments', () => {
  let schema: FreshSchema;

  afterAll(async () => {
    await schema?.cleanup();
  });

  it('escapes backticks in identifiers and double quotes in comments like 0.11', async () => {
    schema = await freshSchema('awkward');
    const env = await freshLegacyStores('awkward');
    const db = schema.name;
    await createLegacySchema(schema.conn, db, { withLog: false });
    await declareLegacyTable(schema.conn, db, {
      name: 'we`ird',
      primaryKey: [{ name: 'id', sqlType: 'int', comment: 'the "id"' }],
      attributes: [
        { name: 'sig nal', type: 'external-shared', comment: 'say "hi": twice', nullable: true },
        { name: 'other', type: 'external' },
      ],
    });
    const objects = await insertLegacyRows(
      schema.conn,
      db,
      'we`ird',
      [
        { id: 1, 'sig nal': float64Array([1, 3], [1, 2, 3]), other: float64Array([1, 3], [1, 2, 3]) },
        { id: 2, 'sig nal': null, other: float64Array([1, 3], [1, 2, 3]) },
      ],
      env.stores,
    );
    expect(objects.map((object) => object.value).sort()).toEqual([HASHES.row12, `${HASHES.row12}shared`]);
    const [columns] = await schema.conn.query<RowDataPacket[]>(
      'SELECT column_name AS c, column_comment AS comment FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position',
      [db, 'we`ird'],
    );
    expect(columns.map((row) => [row.c, row.comment])).toEqual([
      ['id', 'the "id"'],
      ['sig nal', ':external-shared:say "hi": twice'],
      ['other', ':external:'],
    ]);
    const [rows] = await schema.conn.query<RowDataPacket[]>(`SELECT id, \`sig nal\` AS s, other FROM \`${db}\`.\`we\`\`ird\` ORDER BY id`);
    expect(rows.map((row) => [row.id, row.s, row.other])).toEqual([
      [1, `${HASHES.row12}shared`, HASHES.row12],
      [2, null, HASHES.row12],
    ]);
  });
});
