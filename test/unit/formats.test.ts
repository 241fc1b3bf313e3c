// Pins the 0.11 / 0.12 format functions to spec section F, spec A.1/B.1 and real-examples 1 and 2.6.
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import {
  LEGACY_HASH_LENGTH,
  legacyColumnComment,
  legacyConfigKey,
  legacyExternalTableDdl,
  legacyHash,
  legacyObjectKey,
  legacyRelativePath,
  legacyStoredValue,
  parseLegacyComment,
  splitLegacyValue,
  suffixOfLegacyType,
} from '../../functions/core/datajoint/v011.js';
import {
  blobColumnComment,
  externalTableDdl,
  externalTableName,
  migratedBlobUuid,
  parseExternalComment,
  storeObjectKey,
  subfold,
  uuidFromBuffer,
  uuidRelativePath,
} from '../../functions/core/datajoint/v012.js';

const quoteId = (id: string): string => mysql.escapeId(id, true);
const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

// Spec F: the uncompressed `mYm` bytes of the 1x1 double 1.0.
const F_BYTES = Buffer.from('6d596d00410200000000000000010000000000000001000000000000000600000000000000000000000000f03f', 'hex');
const F_HASH = 'ZgfTYh4m1mlp3kBa50o_23wL6VM6wEfPJauVfE5F-dc';

describe('0.11 legacy hash and stored value (spec A.2, F)', () => {
  it('long_hash: SHA-256, URL-safe base64, 43 characters', () => {
    expect(legacyHash(F_BYTES)).toBe(F_HASH);
    expect(F_HASH).toHaveLength(LEGACY_HASH_LENGTH);
  });

  it('appends the store suffix', () => {
    expect(legacyStoredValue(F_HASH, 'shared')).toBe('ZgfTYh4m1mlp3kBa50o_23wL6VM6wEfPJauVfE5F-dcshared');
    expect(legacyStoredValue(F_HASH, '')).toBe(F_HASH);
  });

  it('splits a stored value and maps suffixes to config keys', () => {
    expect(splitLegacyValue(`${F_HASH}shared`)).toEqual({ hash: F_HASH, suffix: 'shared' });
    expect(splitLegacyValue(F_HASH)).toEqual({ hash: F_HASH, suffix: '' });
    expect(splitLegacyValue('not a hash')).toBeNull();
    expect(legacyConfigKey('')).toBe('external');
    expect(legacyConfigKey('shared')).toBe('external-shared');
    expect(suffixOfLegacyType('external')).toBe('');
    expect(suffixOfLegacyType('external-local')).toBe('local');
    expect(suffixOfLegacyType('longblob')).toBeNull();
  });
});

describe('0.11 column comments (spec A.3, real-examples 1.9/1.10)', () => {
  it('keeps colons of the user comment', () => {
    expect(parseLegacyComment(':external:raw: volts, sampled at 1 kHz')).toEqual({
      type: 'external',
      suffix: '',
      comment: 'raw: volts, sampled at 1 kHz',
    });
    expect(parseLegacyComment(':external-shared:units: mV')).toEqual({ type: 'external-shared', suffix: 'shared', comment: 'units: mV' });
  });

  it('parses empty user comments and rejects what is not external', () => {
    expect(parseLegacyComment(':external-shared:')).toEqual({ type: 'external-shared', suffix: 'shared', comment: '' });
    expect(parseLegacyComment(':external-local:')).toEqual({ type: 'external-local', suffix: 'local', comment: '' });
    expect(parseLegacyComment(':blob@shared:raw')).toBeNull();
    expect(parseLegacyComment('just a comment')).toBeNull();
    expect(parseLegacyComment('')).toBeNull();
    expect(parseLegacyComment(':external')).toBeNull();
  });

  it('writes `:` + type + `:` + comment', () => {
    expect(legacyColumnComment('external', 'raw: volts, sampled at 1 kHz')).toBe(':external:raw: volts, sampled at 1 kHz');
    expect(legacyColumnComment('external-shared', '')).toBe(':external-shared:');
  });
});

describe('0.11 object locations (spec A.4, real-examples 1.6)', () => {
  const value = `${F_HASH}shared`;

  it('s3: location.lstrip("/") + "/" + database + "/" + value, not normalised', () => {
    expect(legacyObjectKey('s3', 'lab', 'example_lab', 'kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg')).toBe(
      'lab/example_lab/kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg',
    );
    expect(legacyObjectKey('s3', '/shared', 'mydb', value)).toBe(`shared/mydb/${value}`);
    expect(legacyObjectKey('s3', '', 'mydb', value)).toBe(`/mydb/${value}`);
    expect(legacyObjectKey('s3', 'lab/', 'mydb', value)).toBe(`lab//mydb/${value}`);
    expect(legacyObjectKey('s3', 'a/b', 'mydb', value)).toBe(`a/b/mydb/${value}`);
  });

  it('file: os.path.join(location, database, value)', () => {
    expect(legacyObjectKey('file', '/data/store', 'mydb', value)).toBe(`/data/store/mydb/${value}`);
    expect(legacyObjectKey('file', '/data/store/', 'mydb', value)).toBe(`/data/store/mydb/${value}`);
    expect(legacyObjectKey('file', 'relative/store', 'mydb', value)).toBe(`relative/store/mydb/${value}`);
  });

  it('the relative path 0.12 records for a migrated object', () => {
    expect(legacyRelativePath('mydb', value)).toBe(`mydb/${value}`);
  });
});

describe('0.12 uuids and paths (spec B.3, B.4, F)', () => {
  it('hash of a migrated row = md5 of "<db>/<legacy value>"', () => {
    expect(migratedBlobUuid(`mydb/${F_HASH}shared`).toString('hex')).toBe('5d85e4ac45ca3cd6fb5d0406f87254c0');
  });

  it('contents hash and native uuid path of the same bytes', () => {
    const uuid = uuidFromBuffer(F_BYTES);
    expect(uuid.toString('hex')).toBe('158c21fe34c763837985e570e4bea1d4');
    expect(uuidRelativePath('mydb', uuid)).toBe('mydb/15/8c/158c21fe34c763837985e570e4bea1d4');
    expect(subfold('158C21FE', [2, 2])).toEqual(['15', '8c']);
  });

  it('attach uuid = md5(filename + "\\0" + contents), stored with the file name appended', () => {
    const uuid = uuidFromBuffer(Buffer.from('hello'), 'notes.v1.txt\0');
    expect(uuid.toString('hex')).toBe('12d2becf19dee0e26c9a2d657cb7b312');
    expect(uuidRelativePath('mydb', uuid, '.notes.v1.txt')).toBe('mydb/12/d2/12d2becf19dee0e26c9a2d657cb7b312.notes.v1.txt');
  });

  it('s3 store keys: the location is converted to POSIX and its root stripped', () => {
    const relative = 'mydb/15/8c/158c21fe34c763837985e570e4bea1d4';
    for (const location of ['/a/b', 'a/b', 'a/b/', 'C:\\a\\b']) {
      expect(storeObjectKey('s3', location, relative)).toBe(`a/b/${relative}`);
    }
    expect(storeObjectKey('s3', '', relative)).toBe(relative);
    expect(storeObjectKey('s3', 'lab', `example_lab/${F_HASH}`)).toBe(`lab/example_lab/${F_HASH}`);
  });

  it('file store keys keep the absolute root', () => {
    expect(storeObjectKey('file', '/data/store', 'mydb/x')).toBe('/data/store/mydb/x');
    expect(storeObjectKey('file', '/data/store/', 'mydb/x')).toBe('/data/store/mydb/x');
  });

  it('comments and table names', () => {
    expect(blobColumnComment('shared', 'raw trace')).toBe(':blob@shared:raw trace');
    expect(parseExternalComment(':blob@external:raw: volts, sampled at 1 kHz')).toEqual({
      kind: 'blob',
      store: 'external',
      comment: 'raw: volts, sampled at 1 kHz',
    });
    expect(parseExternalComment(':attach@local:')).toEqual({ kind: 'attach', store: 'local', comment: '' });
    expect(parseExternalComment(':external-shared:')).toBeNull();
    expect(externalTableName('shared')).toBe('~external_shared');
  });
});

describe('real-examples 2.6: hash = md5(filepath) for every migrated example_lab row', () => {
  const rows: Array<[string, string]> = [
    ['FD33FCDFB00CDA0C806BF50631890872', 'example_lab/7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s'],
    ['E909E3B180DF24632B2184EBD1AB300F', 'example_lab/BHWG2D_7vzVk2kjULJ3H6qAlqHvEf_KirrDJbvY1Ums'],
    ['1605021F6A11EB95BF2E30C23FDEE47C', 'example_lab/kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg'],
    ['2825419DD3F16B6460A330A0FEFCB24B', 'example_lab/0AURbyiEro79_ZzeYm4o9jgcAQKewj-ClaTOB0WslB4shared'],
    ['2D41F5049CB5711EA00A0C699EBEC6EB', 'example_lab/fMI016hmLGeHF02A8HJgtKGdB6FWHLXsV4dAjgOkIK0shared'],
    ['5798DC56BF2CE48ABD01F06B887BA3F1', 'example_lab/7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2slocal'],
    ['14CA5CF259BC0E3D363C7A93DF646978', 'example_lab/vH8pF6bIiF2lAZz20NwNOwy2bd8hYU9WV8HlwJrMUQElocal'],
  ];
  for (const [hash, filepath] of rows) {
    it(filepath, () => {
      expect(md5(filepath)).toBe(hash.toLowerCase());
      const [database, value] = filepath.split('/');
      expect(migratedBlobUuid(legacyRelativePath(database, value)).toString('hex').toUpperCase()).toBe(hash);
    });
  }
});

describe('DDL', () => {
  it('~external as 0.11 declare() generates it (spec A.1)', () => {
    expect(legacyExternalTableDdl('mydb', quoteId)).toBe(
      'CREATE TABLE IF NOT EXISTS `mydb`.`~external` (\n' +
        '`hash` char(51) NOT NULL COMMENT "the hash of stored object + store name",\n' +
        '`size` bigint unsigned NOT NULL COMMENT "size of object in bytes",\n' +
        '`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT "automatic timestamp",\n' +
        'PRIMARY KEY (`hash`)\n' +
        ') ENGINE=InnoDB, COMMENT "external storage tracking"',
    );
  });

  it('~external_<store> as 0.12 declare() generates it (spec B.1)', () => {
    expect(externalTableDdl('mydb', 'shared', quoteId)).toBe(
      'CREATE TABLE IF NOT EXISTS `mydb`.`~external_shared` (\n' +
        '`hash` binary(16) NOT NULL COMMENT ":uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)",\n' +
        '`size` bigint unsigned NOT NULL COMMENT "size of object in bytes",\n' +
        '`attachment_name` varchar(255) DEFAULT NULL COMMENT "the filename of an attachment",\n' +
        '`filepath` varchar(1000) DEFAULT NULL COMMENT "relative filepath or attachment filename",\n' +
        '`contents_hash` binary(16) DEFAULT NULL COMMENT ":uuid:used for the filepath datatype",\n' +
        '`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT "automatic timestamp",\n' +
        'PRIMARY KEY (`hash`)\n' +
        ') ENGINE=InnoDB, COMMENT "external storage tracking"',
    );
  });

  it('quotes database names that need it', () => {
    expect(legacyExternalTableDdl('my`db', quoteId).split('\n')[0]).toBe('CREATE TABLE IF NOT EXISTS `my``db`.`~external` (');
  });
});
