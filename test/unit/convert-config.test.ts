import { describe, expect, it } from 'vitest';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { convertConfig } from '../../functions/core/migrate014/convert-config.js';

const s3 = { protocol: 's3', endpoint: 'minio:9000', bucket: 'lab', access_key: 'ak', secret_key: 'sk' };

function refusal(fn: () => unknown): MigrationRefusedError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MigrationRefusedError);
    return error as MigrationRefusedError;
  }
  throw new Error('expected a refusal');
}

describe('convertConfig (0.14 dj_local_conf.json → 2.0)', () => {
  it('converts database and stores, writes secure: false explicitly, keeps explicit subfolding and stage', () => {
    const { config, notes } = convertConfig({
      'database.host': 'db.lab',
      'database.user': 'alice',
      'database.password': 'pw',
      'database.port': 3306,
      stores: {
        main: { ...s3, location: 'pipeline' },
        raw: { ...s3, location: 'raw', secure: true, subfolding: [2, 2] },
        local: { protocol: 'file', location: '/data/local', stage: '/mnt/stage' },
      },
      'database.reconnect': true,
      'database.prefix': 'lab_',
      cache: '/tmp/djcache',
      loglevel: 'INFO',
      'display.limit': 20,
      connection: { charset: 'utf8mb4', bogus: 1 },
      fetch_format: 'frame',
      custom: { root: '/data' },
    });
    expect(config).toEqual({
      database: { host: 'db.lab', user: 'alice', password: 'pw', port: 3306, reconnect: true },
      cache: '/tmp/djcache',
      loglevel: 'INFO',
      display: { limit: 20 },
      connection: { charset: 'utf8mb4' },
      stores: {
        default: 'main',
        filepath_default: 'local',
        main: { protocol: 's3', endpoint: 'minio:9000', bucket: 'lab', location: 'pipeline', access_key: 'ak', secret_key: 'sk', secure: false },
        raw: { protocol: 's3', endpoint: 'minio:9000', bucket: 'lab', location: 'raw', access_key: 'ak', secret_key: 'sk', secure: true, subfolding: [2, 2] },
        local: { protocol: 'file', location: '/data/local', stage: '/mnt/stage' },
      },
    });
    expect(notes.some((n) => n.startsWith('stores.main.secure'))).toBe(true);
    expect(notes.some((n) => n.startsWith('cache: kept'))).toBe(true);
    for (const dropped of ['database.prefix', 'connection.bogus', 'fetch_format', 'custom']) expect(notes.some((n) => n.startsWith(`${dropped}: dropped`))).toBe(true);
    expect(notes.some((n) => n.startsWith('credentials:'))).toBe(true);
    expect(notes.some((n) => n.startsWith('stores.default: set to "main"'))).toBe(true);
  });

  it('splits host:port, as 2.x has a separate port setting', () => {
    const { config, notes } = convertConfig({ 'database.host': 'db.lab:3307' });
    expect(config).toEqual({ database: { host: 'db.lab', port: 3307 } });
    expect(notes).toContain('database.host: split "db.lab:3307" into database.host and database.port');
    expect(refusal(() => convertConfig({ 'database.host': 'db.lab:3307', 'database.port': 3306 })).message).toMatch(/database\.host/);
  });

  it('chooses the only store as default and reads the nested database form', () => {
    const { config } = convertConfig({ database: { host: 'h', user: 'u' }, stores: { shared: { protocol: 'file', location: '/x' } } });
    expect(config).toEqual({ database: { host: 'h', user: 'u' }, stores: { default: 'shared', shared: { protocol: 'file', location: '/x' } } });
  });

  it('prefers a store called external when there is no main; otherwise asks the user to pick', () => {
    const two = { a: { protocol: 'file', location: '/a' }, external: { protocol: 'file', location: '/e' } };
    expect((convertConfig({ stores: two }).config as { stores: { default: string } }).stores.default).toBe('external');
    const { config, notes } = convertConfig({ stores: { a: { protocol: 'file', location: '/a' }, b: { protocol: 'file', location: '/b' } } });
    expect((config as { stores: Record<string, unknown> }).stores.default).toBeUndefined();
    expect(notes.some((n) => n.includes('pick one of a, b'))).toBe(true);
  });

  it('drops unknown store keys with a note and leaves subfolding out unless set', () => {
    const { config, notes } = convertConfig({ stores: { s: { protocol: 'file', location: '/s', color: 'blue' } } });
    expect((config as { stores: Record<string, unknown> }).stores.s).toEqual({ protocol: 'file', location: '/s' });
    expect(notes).toContain('stores.s.color: dropped; not a 0.14 file store setting');
  });

  it('carries leftover 0.11 external keys only when stores does not define the name', () => {
    const { config, notes } = convertConfig({
      external: { protocol: 'file', location: '/old' },
      'external-raw': { protocol: 'file', location: '/raw-old' },
      stores: { raw: { protocol: 'file', location: '/raw' } },
    });
    const stores = (config as { stores: Record<string, unknown> }).stores;
    expect(stores.raw).toEqual({ protocol: 'file', location: '/raw' });
    expect(stores.external).toEqual({ protocol: 'file', location: '/old' });
    expect(stores.default).toBe('external');
    expect(notes.some((n) => n.startsWith('external-raw: dropped'))).toBe(true);
    expect(notes.some((n) => n.startsWith('external: 0.14 ignores'))).toBe(true);
  });

  it('notes that the user must pick filepath_default when several stores have a stage', () => {
    const { config, notes } = convertConfig({ stores: { a: { protocol: 'file', location: '/a', stage: '/s1' }, main: { protocol: 'file', location: '/m', stage: '/s2' } } });
    expect((config as { stores: Record<string, unknown> }).stores.filepath_default).toBeUndefined();
    expect(notes.some((n) => n.startsWith('stores.filepath_default: not set'))).toBe(true);
  });

  it('refuses malformed input naming the field', () => {
    expect(refusal(() => convertConfig([])).message).toMatch(/JSON object/);
    expect(refusal(() => convertConfig({ stores: 'x' })).message).toMatch(/stores must be an object/);
    expect(refusal(() => convertConfig({ stores: { a: { protocol: 'gcs', location: 'x' } } })).message).toMatch(/stores\.a\.protocol/);
    const s3Missing = refusal(() => convertConfig({ stores: { a: { protocol: 's3', location: 'x', bucket: 'b' } } }));
    expect(s3Missing.details).toEqual(expect.arrayContaining([expect.stringMatching(/^stores\.a\.endpoint is missing/), expect.stringMatching(/^stores\.a\.access_key is missing/)]));
    expect(refusal(() => convertConfig({ stores: { a: { ...s3, location: 'x', secure: 'no' } } })).message).toMatch(/stores\.a\.secure must be true or false/);
    expect(refusal(() => convertConfig({ stores: { a: { protocol: 'file', location: '/x', subfolding: [2, 'x'] } } })).message).toMatch(/stores\.a\.subfolding/);
    expect(refusal(() => convertConfig({ 'database.port': 'abc' })).message).toMatch(/database\.port/);
    expect(refusal(() => convertConfig({ 'external-x': 5 })).message).toMatch(/external-x must be an object/);
    expect(refusal(() => convertConfig({ stores: { default: { protocol: 'file', location: '/d' } } })).message).toMatch(/stores\.default: a store with this name clashes/);
  });
});
