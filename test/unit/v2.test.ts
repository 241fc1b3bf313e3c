import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { codecComment, contentHash, coreTypeMarker, hashOfDigest, hashPath, hashPointer, parseMarker, pythonJson, pythonUtcIso } from '../../functions/core/datajoint/v2.js';

describe('DataJoint 2.x formats (spec D, F; real-examples 6)', () => {
  it('hashes are base32 of the MD5, lower case, 26 characters', () => {
    expect(contentHash(Buffer.from('abc'))).toBe('saavbgb42jh3bvuwh56sryl7oi');
    expect(contentHash(Buffer.from('6d596d00410200000000000000010000000000000001000000000000000600000000000000000000000000f03f', 'hex'))).toBe('cwgcd7ruy5ryg6mf4vyojpvb2q');
    expect(hashOfDigest(Buffer.from('46f776b52fdaa804aa568c989722b06d', 'hex'))).toBe('i33xnnjp3kuajkswrsmjoivqnu');
    expect(hashOfDigest(Buffer.from('c2620c16e5910fc908d7afdac0af1b55', 'hex'))).toBe('yjrayfxfseh4scgxv7nmbly3ku');
    expect(contentHash(Buffer.concat([Buffer.from('report.v1.txt\0'), Buffer.from('hello report\n')]))).toBe('su3biuootdak5aforz72h6qh6u');
    expect(createHash('md5').update('abc').digest().length).toBe(16);
  });

  it('paths and pointer JSON are written as 2.3.2 writes them', () => {
    expect(hashPath('example_lab_v2', 'i33xnnjp3kuajkswrsmjoivqnu')).toBe('_hash/example_lab_v2/i33xnnjp3kuajkswrsmjoivqnu');
    expect(hashPath('db', 'saavbgb42jh3bvuwh56sryl7oi', [2, 2])).toBe('_hash/db/sa/av/saavbgb42jh3bvuwh56sryl7oi');
    const pointer = hashPointer({ size: 61, store: 'main', schema: 'example_lab_v2', path: '_hash/example_lab_v2/i33xnnjp3kuajkswrsmjoivqnu', hash: 'i33xnnjp3kuajkswrsmjoivqnu' });
    expect(pythonJson({ ...pointer })).toBe(
      '{"hash": "i33xnnjp3kuajkswrsmjoivqnu", "path": "_hash/example_lab_v2/i33xnnjp3kuajkswrsmjoivqnu", "schema": "example_lab_v2", "store": "main", "size": 61}',
    );
    expect(pythonUtcIso(new Date('2026-11-21T21:49:25.544Z'))).toBe('2026-11-21T21:49:25.544000+00:00');
  });

  it('markers: codecs with explicit stores, core types as 2.x declares them, unsigned left native', () => {
    expect(codecComment('blob', 'external blob', 'main')).toBe(':<blob@main>:external blob');
    expect(codecComment('blob-internal', 'in-table blob')).toBe(':<blob>:in-table blob');
    expect(parseMarker(':<blob@main>:a: b')).toEqual({ marker: '<blob@main>', comment: 'a: b' });
    expect(parseMarker('plain')).toBeNull();
    expect(['int(11)', 'smallint(6)', 'tinyint(4)', 'bigint(20)', 'float', 'double', 'varchar(32)', 'char(8)', 'date', 'datetime', 'decimal(5,2)', "enum('a','b')", 'json'].map((t) => coreTypeMarker(t))).toEqual([
      'int32', 'int16', 'int8', 'int64', 'float32', 'float64', 'varchar(32)', 'char(8)', 'date', 'datetime', 'decimal(5,2)', "enum('a','b')", 'json',
    ]);
    expect(coreTypeMarker('int(10) unsigned')).toBeNull();
    expect(coreTypeMarker('int(10) unsigned', { unsignedMarkers: true })).toBe('uint32');
    expect(coreTypeMarker('longblob')).toBeNull();
    expect(coreTypeMarker('timestamp')).toBeNull();
  });
});
