// DataJoint 0.11.1 `blob.pack` output, byte for byte (real-examples part 4 and 1.4–1.6, spec F).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  arangeArray,
  blobString,
  blobStruct,
  boolArray,
  complex128Array,
  float32Array,
  float64Array,
  int16Array,
  int32Array,
  int64Array,
  packLegacyBlob,
  packLegacyBlobUncompressed,
  uint8Array,
  unpackLegacyHeader,
  zerosArray,
  zlibCompress,
  type BlobValue,
} from '../../functions/core/datajoint/blob.js';
import { legacyHash } from '../../functions/core/datajoint/v011.js';

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface Vector {
  name: string;
  value: BlobValue;
  /** pack() hex, or for long ones just its length and md5. */
  packed?: string;
  size: number;
  md5: string;
  hash: string;
  /** The decompressed `mYm` bytes when 0.11 compressed. */
  raw?: string;
}

// real-examples part 4 (0.11.1 `pack` + `long_hash`).
const PART4: Vector[] = [
  {
    name: '4.1 np.array([[1.0, 2.0, 3.0]])',
    value: float64Array([1, 3], [1, 2, 3]),
    packed: '5a4c313233003d00000000000000789ccb8dcc6570646280004628cd0ca5d91890c1077b28c301427138000070210338',
    raw: '6d596d00410200000000000000010000000000000003000000000000000600000000000000000000000000f03f00000000000000400000000000000840',
    size: 48,
    hash: '7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s',
    md5: '595936a35db89e00c9588724083ee5f0',
  },
  {
    name: '4.2 np.arange(6, dtype=np.int16).reshape(2, 3)',
    value: int16Array([2, 3], [0, 1, 2, 3, 4, 5]),
    packed: '5a4c313233003100000000000000789ccb8dcc65706462800018cd0ca5b91818e0228c0c2c4079560600473a0195',
    raw: '6d596d00410200000000000000020000000000000003000000000000000a00000000000000000003000100040002000500',
    size: 46,
    hash: 'PiGbsNI2YCV3_5GcDNWWdrzOVPNKtnctZ0xo6XwJgZs',
    md5: '7fc172e8bd85e890006cafaf72f961ed',
  },
  {
    name: '4.3 np.array([1+2j, 3-4j])',
    value: complex128Array([2], [1, 3], [2, -4]),
    packed: '5a4c313233003d00000000000000789ccb8dcc6570646480002628cd06c4303106860ff6109ac3012a00a5050e00007ecd0406',
    raw: '6d596d0041010000000000000002000000000000000600000001000000000000000000f03f0000000000000840000000000000004000000000000010c0',
    size: 51,
    hash: 'ckT88CiQ3tazpmR9O7xUpMRH0rRFw5kA91BWgBTEy0w',
    md5: 'faa7f45ac87bbe5d49d6bda63bf5e813',
  },
  {
    name: '4.4 np.array([True, False, True])',
    value: boolArray([3], [true, false, true]),
    packed: '6d596d0041010000000000000003000000000000000300000000000000010001',
    size: 32,
    hash: '1RorbQXrpGKLPJjgKyW_2wR24bTOMvYX4xZaYsRxrSY',
    md5: '5bf142f36275a7f0b7e980e9a85d6bc0',
  },
  {
    name: '4.5 np.array(2.5, dtype=np.float32)',
    value: float32Array([], [2.5]),
    packed: '6d596d00410000000000000000070000000000000000002040',
    size: 25,
    hash: 'F476KPjO7rKpcHE4q9eQZwZ3JUIvP4wFQtMsc6womDA',
    md5: '33e1347dd09656b513ad01d40145657f',
  },
  {
    name: "4.6 'abc'",
    value: blobString('abc'),
    packed: '6d596d0041010000000000000003000000000000000400000000000000610062006300',
    size: 35,
    hash: '4npq5w0sAJQ4C1BvS31BwBEO1LBRQinKP60Fb5PsWMo',
    md5: 'cbbbc57f168a98f72150b869ec1ae658',
  },
  {
    name: "4.7 {'a': np.array([1.0]), 'b': np.array([2, 3], dtype=np.uint8)}",
    value: blobStruct({ a: float64Array([1], [1]), b: uint8Array([2], [2, 3]) }),
    packed: '5a4c313233006900000000000000789ccb8dcc65086664800018cd04c4890c490c8a50be23ba02360664f0c15e1a5d211394e684f199012efa0454',
    raw:
      '6d596d0053010000000000000001000000000000000200000061006200210000000000000041010000000000000001000000000000000600000000000000000000000000f03f1b00000000000000410100000000000000020000000000000009000000000000000203',
    size: 59,
    hash: 'R32cZnqe80hRHkoMwOFb6Olh7v1z_yeTheDIS0xmpJw',
    md5: '75622ae7e9bad877635007249bf838d4',
  },
  {
    name: '4.8 np.zeros((100, 100))',
    value: zerosArray([100, 100]),
    size: 130,
    hash: '4aSWch3GzgvaADhBi_wMx5uVU9BPdU9eupMJwW1K_Oc',
    md5: 'c2620c16e5910fc908d7afdac0af1b55',
  },
];

describe('packLegacyBlob: real-examples part 4 (0.11.1 pack)', () => {
  for (const vector of PART4) {
    it(vector.name, () => {
      const packed = packLegacyBlob(vector.value);
      if (vector.packed) expect(hex(packed)).toBe(vector.packed);
      expect(packed.length).toBe(vector.size);
      expect(md5(packed)).toBe(vector.md5);
      expect(legacyHash(packed)).toBe(vector.hash);
      if (vector.raw) {
        expect(hex(packLegacyBlobUncompressed(vector.value))).toBe(vector.raw);
        const header = unpackLegacyHeader(packed);
        expect(header.compressed).toBe(true);
        expect(hex(header.raw)).toBe(vector.raw);
      }
    });
  }

  it('4.8 starts like the real bytes and declares 80037 uncompressed bytes', () => {
    const packed = packLegacyBlob(zerosArray([100, 100]));
    expect(hex(packed).startsWith('5a4c31323300a538010000000000789cedc5a10d00201004b00b82bd18038ffdfded0b1c091bb4a6b52b6be43acf33')).toBe(true);
    const header = unpackLegacyHeader(packed);
    expect(header.uncompressedLength).toBe(80037);
    expect(hex(header.raw.subarray(0, 37))).toBe('6d596d00' + '41' + '0200000000000000' + '6400000000000000' + '6400000000000000' + '06000000' + '00000000');
  });

  it('keeps the uncompressed form when zlib would be longer (4.4–4.6 are mYm)', () => {
    for (const vector of PART4.slice(3, 6)) expect(unpackLegacyHeader(packLegacyBlob(vector.value)).compressed).toBe(false);
  });
});

describe('packLegacyBlob: spec F', () => {
  const RAW_1X1 = '6d596d00410200000000000000010000000000000001000000000000000600000000000000000000000000f03f';

  it('the uncompressed 1x1 double 1.0 and its legacy hash', () => {
    const raw = packLegacyBlobUncompressed(float64Array([1, 1], [1]));
    expect(hex(raw)).toBe(RAW_1X1);
    expect(legacyHash(raw)).toBe('ZgfTYh4m1mlp3kBa50o_23wL6VM6wEfPJauVfE5F-dc');
    expect(md5(raw)).toBe('158c21fe34c763837985e570e4bea1d4');
  });

  it('what real 0.11.1 writes for np.array([[1.0]]) (compressed, since shorter)', () => {
    expect(hex(packLegacyBlob(float64Array([1, 1], [1])))).toBe(
      '5a4c313233002d00000000000000789ccb8dcc65706462800046349a8d01197cb00700426102ae',
    );
  });
});

describe('packLegacyBlob: the example_lab values (real-examples 1.1, 1.4–1.6)', () => {
  const cases: Array<{ name: string; value: BlobValue; hash: string; size: number; md5: string }> = [
    { name: 'trace np.array([0.0, 0.5, 1.0, 0.5])', value: float64Array([4], [0, 0.5, 1, 0.5]), hash: 'kL15abw07rOI2lTtHtW1qHkqnH1r9DCG4qxoQE42AAg', size: 44, md5: '27f4917cb29c66ebf9df776e3d7d7dc2' },
    { name: 'trace np.zeros((20, 20))', value: zerosArray([20, 20]), hash: 'BHWG2D_7vzVk2kjULJ3H6qAlqHvEf_KirrDJbvY1Ums', size: 56, md5: 'a50cd53473db986abe0abc2a4d1c8453' },
    { name: 'THUMB uint8 [[0, 1], [2, 3]]', value: uint8Array([2, 2], [0, 1, 2, 3]), hash: '0AURbyiEro79_ZzeYm4o9jgcAQKewj-ClaTOB0WslB4', size: 38, md5: 'c75ff49edd0cfcfa730f47c30bfc4b69' },
    { name: 'thumb np.arange(4, dtype=np.int16)', value: arangeArray([4], 'int16'), hash: 'fMI016hmLGeHF02A8HJgtKGdB6FWHLXsV4dAjgOkIK0', size: 37, md5: 'a3159a57628e25440ad51a16d74bb988' },
    { name: 'img np.arange(6, dtype=np.float32).reshape(2, 3)', value: arangeArray([2, 3], 'float32'), hash: 'vH8pF6bIiF2lAZz20NwNOwy2bd8hYU9WV8HlwJrMUQE', size: 52, md5: '4318084a949c61bb54e03e5141032ade' },
    { name: 'trace/img np.array([[1.0, 2.0, 3.0]])', value: float64Array([1, 3], [1, 2, 3]), hash: '7T1Mq4vnxYYaYNo-rvFU9EJNsb7mlPdCyE0ivVG1j2s', size: 48, md5: '595936a35db89e00c9588724083ee5f0' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const packed = packLegacyBlob(c.value);
      expect(legacyHash(packed)).toBe(c.hash);
      expect(packed.length).toBe(c.size);
      expect(md5(packed)).toBe(c.md5);
    });
  }

  it('the first bytes of the stored objects (1.6)', () => {
    expect(hex(packLegacyBlob(arangeArray([4], 'int16')).subarray(0, 16))).toBe('6d596d00410100000000000000040000');
    expect(hex(packLegacyBlob(zerosArray([20, 20])).subarray(0, 16))).toBe('5a4c31323300a50c000000000000789c');
  });

  it('the params longblob values (1.5)', () => {
    const params = [
      blobStruct({ fs: float64Array([], [1000]), gain: int32Array([1], [2]) }),
      float64Array([2], [1.5, 2.5]),
      float64Array([], [7]),
    ];
    expect(params.map((value) => hex(packLegacyBlob(value)).toUpperCase())).toEqual([
      '5A4C313233006700000000000000789CCB8DCC65086664800018CD04C469C50CE98999790C9250314728CDC0C680041CFA1D64610AD04DE141320D00A27505E0',
      '5A4C313233002D00000000000000789CCB8DCC6570646480002628CDC6800C7ED843681607004C8102F9',
      '6D596D0041000000000000000006000000000000000000000000001C40',
    ]);
  });
});

describe('packLegacyBlob: layout details', () => {
  it('writes data in Fortran order for 3-d arrays', () => {
    const raw = packLegacyBlobUncompressed(arangeArray([2, 2, 2], 'uint8'));
    // C order 0..7 of shape (2,2,2); Fortran order walks the first axis fastest.
    expect(hex(raw.subarray(raw.length - 8))).toBe('0004020601050307');
  });

  it('packs int64 (numpy default int) with class 14', () => {
    const raw = packLegacyBlobUncompressed(int64Array([2], [1, 2n]));
    expect(hex(raw)).toBe('6d596d004101000000000000000200000000000000' + '0e000000' + '00000000' + '0100000000000000' + '0200000000000000');
  });

  it('rejects data that does not fit the shape, and non-ASCII strings', () => {
    expect(() => packLegacyBlob(float64Array([2, 2], [1, 2, 3]))).toThrow(/needs 4 elements/);
    expect(() => packLegacyBlob(blobString('é'))).toThrow(/ASCII/);
  });
});

// Python's zlib.compress (reference zlib 1.2.13) output for inputs that make zlib slide its window, split
// blocks and pick stored/static/dynamic blocks: length and md5 of the compressed bytes.
function sample(kind: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  let state = 12345 + kind;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1103515245) + 12345) & 0x7fffffff;
    const r = state / 0x7fffffff;
    out[i] = kind === 0 ? Math.floor(r * 256) : kind === 1 ? Math.floor(r * 4) : kind === 2 ? (r < 0.9 ? 0 : (i * 31) & 0xff) : (Math.floor(Math.sin(i / 50) * 40 + r * 20) & 0xff);
  }
  return out;
}
const ZLIB_VECTORS: Array<[kind: number, size: number, length: number, md5: string]> = [
  [0, 1000, 1011, 'fd102383973925dc22b49ef60294dad5'],
  [0, 40000, 40021, '8bae101a50900964029fbdb7773ebdb5'],
  [1, 70000, 20877, '781093d9687e42fac8cdaaa5e14a0280'],
  [1, 200000, 58895, '6efc0a57cce91f4385b5f374e0f3b277'],
  [2, 66000, 12750, '15c2a9a00bcdeb49615720a9997467d6'],
  [2, 300000, 55456, 'b5ebfa12c68265a626b2dd390231dadd'],
  [3, 5000, 4143, '02ba6e247dd127d25ef766fd6d06ab30'],
  [3, 131072, 106703, '722dc8f76609b3e1ab8e8f0dba896c22'],
];

describe('zlibCompress = reference zlib.compress (level 6)', () => {
  it('matches the recorded outputs of Python zlib 1.2.13', () => {
    for (const [kind, size, length, digest] of ZLIB_VECTORS) {
      const out = zlibCompress(sample(kind, size));
      expect([kind, size, out.length, md5(out)]).toEqual([kind, size, length, digest]);
    }
  });

  const python = pythonZlib();
  it.skipIf(!python)('matches this machine\'s python3 zlib on fresh inputs', () => {
    const inputs = [sample(0, 70_000), sample(1, 140_000), sample(2, 100_000), sample(3, 33_000), Buffer.alloc(0), Buffer.from('a')];
    const script = 'import sys, zlib, json\nfor h in json.load(sys.stdin): print(zlib.compress(bytes.fromhex(h)).hex())';
    const expected = execFileSync(python!, ['-c', script], { input: JSON.stringify(inputs.map(hex)), maxBuffer: 64 << 20 }).toString().trim().split('\n');
    expect(inputs.map((input) => hex(zlibCompress(input)))).toEqual(expected);
  });
});

/** python3 with a reference zlib (not zlib-ng, whose output differs), or null. */
function pythonZlib(): string | null {
  try {
    const version = execFileSync('python3', ['-c', 'import zlib; print(zlib.ZLIB_RUNTIME_VERSION)'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    return /^1\.[23]\.\d+$/.test(version) ? 'python3' : null;
  } catch {
    return null;
  }
}
