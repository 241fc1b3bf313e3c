import { describe, expect, it } from 'vitest';
import { parseDataJointConfig, storeLocations } from '../../functions/core/config/datajoint-config.js';
import { MigrationRefusedError } from '../../functions/core/errors.js';
import { validateInput } from '../../functions/handlers/validate.js';

const s3 = { protocol: 's3', endpoint: 'localhost:9000', bucket: 'migrate-test', access_key: 'ak', secret_key: 'sk' };

describe('DataJoint config file', () => {
  it('maps 0.11 store keys to 0.12 names and keeps credentials out of the locations', () => {
    const config = parseDataJointConfig(
      {
        'database.host': 'db.lab:3307',
        'database.user': 'alice',
        'database.password': 'pw',
        external: { ...s3, location: 'store' },
        'external-shared': { ...s3, location: 'maps' },
        'external-local': { protocol: 'file', location: '/data/local' },
      },
      'main',
      {},
    );
    expect(config.database).toEqual({ host: 'db.lab', port: 3307, user: 'alice', password: 'pw' });
    expect(storeLocations(config)).toEqual({
      main: { protocol: 's3', endpoint: 'localhost:9000', bucket: 'migrate-test', location: 'store' },
      shared: { protocol: 's3', endpoint: 'localhost:9000', bucket: 'migrate-test', location: 'maps' },
      local: { protocol: 'file', location: '/data/local' },
    });
    expect(config.stores.main.credentials).toEqual({ accessKeyId: 'ak', secretAccessKey: 'sk' });
    expect(JSON.stringify(storeLocations(config))).not.toMatch(/sk|ak"/);
  });

  it('reads the nested database form and lets DJ_HOST, DJ_USER and DJ_PASS override it, as DataJoint does', () => {
    const config = parseDataJointConfig(
      { database: { host: 'file-host', port: 3306, user: 'file-user', password: 'file-pw' }, stores: { shared: { ...s3, location: 'maps' } } },
      'external',
      { DJ_HOST: 'env-host', DJ_USER: 'env-user', DJ_PASS: 'env-pw' },
    );
    expect(config.database).toEqual({ host: 'env-host', port: 3306, user: 'env-user', password: 'env-pw' });
    expect(Object.keys(config.stores)).toEqual(['shared']);
  });

  it('accepts a 0.11 entry and a 0.12 entry for the same store when they point to the same place', () => {
    const config = parseDataJointConfig(
      { 'database.host': 'h', 'database.user': 'u', 'external-shared': { ...s3, location: 'maps' }, stores: { shared: { protocol: 's3', endpoint: 'localhost:9000', bucket: 'migrate-test', location: 'maps' } } },
      'external',
      {},
    );
    expect(config.stores.shared.credentials).toEqual({ accessKeyId: 'ak', secretAccessKey: 'sk' });
  });

  it('refuses, naming each field, when entries conflict or are incomplete', () => {
    const attempt = () =>
      parseDataJointConfig(
        {
          'database.user': 'u',
          'external-shared': { ...s3, location: 'maps' },
          stores: { shared: { ...s3, location: 'elsewhere' }, raw: { protocol: 's3', location: 'x' }, odd: { protocol: 'gcs', location: 'y' } },
        },
        'external',
        {},
      );
    expect(attempt).toThrow(MigrationRefusedError);
    expect(attempt).toThrow(/database\.host is missing/);
    expect(attempt).toThrow(/external-shared and stores\.shared both define store "shared" but point to different places/);
    expect(attempt).toThrow(/stores\.raw is an s3 store without bucket/);
    expect(attempt).toThrow(/stores\.odd\.protocol is "gcs"/);
  });
});

describe('execution input', () => {
  it('fills in defaults: plan only, in place, plain external → store "external"', () => {
    expect(validateInput({ from: '0.11', schema: 'lab', stores: {} })).toEqual({
      from: '0.11',
      schema: 'lab',
      stores: {},
      defaultStore: 'external',
      mode: 'in-place',
      keepLegacy: false,
      execute: false,
      verifyContents: false,
      hashConcurrency: 8,
      takeOverLock: false,
      trustEtag: false,
      s3BatchChecksum: false,
      distributedHashingFrom: 1000,
      listingPassObjects: 10_000_000,
    });
  });

  it('names every bad field', () => {
    const attempt = () => validateInput({ from: '0.12', mode: 'sideways', defaultStore: '9lives', stores: { x: { protocol: 'ftp' } } });
    expect(attempt).toThrow(/the execution input is not valid/);
    expect(attempt).toThrow(/from: /);
    expect(attempt).toThrow(/schema: /);
    expect(attempt).toThrow(/mode: /);
    expect(attempt).toThrow(/defaultStore: must be a store name 0\.12 accepts/);
    expect(attempt).toThrow(/stores\.x\.protocol: /);
  });

  it('refuses credentials in the input and says where they come from instead', () => {
    expect(() => validateInput({ from: '0.11', schema: 'lab', stores: { s: { protocol: 's3', bucket: 'b', location: 'l', secret_key: 'x' } } })).toThrow(
      /stores\.s: unknown field\(s\) secret_key \(credentials never go into the execution input/,
    );
  });
});
