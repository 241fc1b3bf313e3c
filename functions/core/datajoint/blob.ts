// DataJoint 0.11 `blob.pack`, byte-exact (spec A.4, real-examples part 4). Only what tests and fixtures need:
// numeric/bool arrays (real or complex), strings (char arrays) and dicts (structs). No unpacking of bodies.
//
// Layout of the uncompressed form: `mYm\0` + body. An array body is `A`, uint64 n_dims, n_dims uint64 shape
// words, uint32 class id, uint32 is_complex, the data in Fortran (column-major) order, then for complex
// values the imaginary block. A struct body (what 0.11 writes for a dict) is `S`, uint64 1 + uint64 1 (one
// dimension of length 1), uint32 field count, the zero-terminated field names, then per field a uint64 byte
// length and the nested body. `pack()` always tries zlib and keeps `ZL123\0` + uint64 uncompressed length +
// zlib stream when that is shorter. Everything little-endian.
import { inflateSync } from 'node:zlib';

/** numpy dtypes 0.11 maps to a MATLAB class id. */
export type BlobDtype =
  | 'bool'
  | 'float64'
  | 'float32'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64';

export interface BlobArray {
  kind: 'array';
  dtype: BlobDtype;
  /** numpy shape; `[]` is a 0-d array (one element, no shape words). */
  shape: number[];
  /** Elements in row-major (C / numpy default) order; packing reorders them to Fortran order. */
  data: ReadonlyArray<number | bigint | boolean>;
  /** Imaginary parts (row-major) for a complex array; only with float64 (complex128) or float32 (complex64). */
  imag?: ReadonlyArray<number>;
}

/** A Python `str`: 0.11 packs it as a 1-D char array (class 4), one 16-bit unit per character. */
export interface BlobString {
  kind: 'string';
  value: string;
}

/** A Python `dict`: 0.11 packs it as a 1x1 struct; fields keep their insertion order. */
export interface BlobStruct {
  kind: 'struct';
  fields: Record<string, BlobValue>;
}

export type BlobValue = BlobArray | BlobString | BlobStruct;

export const BLOB_PROTOCOL = Buffer.from('mYm\0', 'latin1');
export const ZLIB_PREFIX = Buffer.from('ZL123\0', 'latin1');

/** MATLAB mxClassID per numpy dtype, as in 0.11's blob.py. */
export const CLASS_ID: Readonly<Record<BlobDtype | 'char', number>> = {
  bool: 3,
  char: 4,
  float64: 6,
  float32: 7,
  int8: 8,
  uint8: 9,
  int16: 10,
  uint16: 11,
  int32: 12,
  uint32: 13,
  int64: 14,
  uint64: 15,
};

const ITEM_SIZE: Readonly<Record<BlobDtype, number>> = {
  bool: 1,
  float64: 8,
  float32: 4,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
};

// ----- value helpers ---------------------------------------------------------------------------------------

export function blobArray(dtype: BlobDtype, shape: number[], data: ReadonlyArray<number | bigint | boolean>, imag?: number[]): BlobArray {
  return imag === undefined ? { kind: 'array', dtype, shape, data } : { kind: 'array', dtype, shape, data, imag };
}
export const float64Array = (shape: number[], data: readonly number[]): BlobArray => blobArray('float64', shape, data);
export const float32Array = (shape: number[], data: readonly number[]): BlobArray => blobArray('float32', shape, data);
export const int16Array = (shape: number[], data: readonly number[]): BlobArray => blobArray('int16', shape, data);
export const int32Array = (shape: number[], data: readonly number[]): BlobArray => blobArray('int32', shape, data);
export const int64Array = (shape: number[], data: ReadonlyArray<number | bigint>): BlobArray => blobArray('int64', shape, data);
export const uint8Array = (shape: number[], data: readonly number[]): BlobArray => blobArray('uint8', shape, data);
export const boolArray = (shape: number[], data: readonly boolean[]): BlobArray => blobArray('bool', shape, data);
/** complex128 (`np.array([1+2j, ...])`): real and imaginary parts, row-major. */
export const complex128Array = (shape: number[], real: readonly number[], imag: readonly number[]): BlobArray =>
  blobArray('float64', shape, real, [...imag]);
export const blobString = (value: string): BlobString => ({ kind: 'string', value });
export const blobStruct = (fields: Record<string, BlobValue>): BlobStruct => ({ kind: 'struct', fields });

/** `np.zeros(shape)` (float64). */
export function zerosArray(shape: number[], dtype: BlobDtype = 'float64'): BlobArray {
  return blobArray(dtype, shape, new Array<number>(elementCount(shape)).fill(0));
}

/** `np.arange(n, dtype=dtype).reshape(shape)`. */
export function arangeArray(shape: number[], dtype: BlobDtype = 'int64'): BlobArray {
  return blobArray(dtype, shape, Array.from({ length: elementCount(shape) }, (_, i) => i));
}

// ----- packing ---------------------------------------------------------------------------------------------

/** 0.11 `pack(obj)` with its default `compress=True`: the bytes 0.11 hashes and stores. */
export function packLegacyBlob(value: BlobValue): Buffer {
  const raw = packLegacyBlobUncompressed(value);
  const compressed = Buffer.concat([ZLIB_PREFIX, uint64(raw.length), zlibCompress(raw)]);
  return compressed.length < raw.length ? compressed : raw;
}

/** `pack(obj, compress=False)`: `mYm\0` + body. */
export function packLegacyBlobUncompressed(value: BlobValue): Buffer {
  return Buffer.concat([BLOB_PROTOCOL, packBody(value)]);
}

/** The body of one value (no protocol header), as nested inside a struct. */
export function packBody(value: BlobValue): Buffer {
  switch (value.kind) {
    case 'array':
      return packArray(value);
    case 'string':
      return packString(value.value);
    case 'struct':
      return packStruct(value.fields);
  }
}

function packArray(array: BlobArray): Buffer {
  const { dtype, shape, data, imag } = array;
  const count = elementCount(shape);
  if (data.length !== count) throw new RangeError(`blob array: shape [${shape.join(', ')}] needs ${count} elements, got ${data.length}`);
  if (imag !== undefined) {
    if (dtype !== 'float64' && dtype !== 'float32') throw new RangeError(`blob array: complex values need dtype float64 or float32, not ${dtype}`);
    if (imag.length !== count) throw new RangeError(`blob array: imag needs ${count} elements, got ${imag.length}`);
  }
  const order = fortranOrder(shape);
  const blocks = [arrayHeader(shape, CLASS_ID[dtype], imag !== undefined), encodeElements(dtype, data, order)];
  if (imag !== undefined) blocks.push(encodeElements(dtype, imag, order));
  return Buffer.concat(blocks);
}

function packString(value: string): Buffer {
  // 0.11 converts a str with np.array(obj, dtype='c') (ASCII bytes), then writes each byte as a 16-bit unit.
  // Anything outside ASCII makes numpy raise there, so 0.11 never wrote such a blob.
  if (!/^[\x00-\x7f]*$/.test(value)) throw new RangeError('blob string: DataJoint 0.11 can only pack ASCII strings');
  const body = Buffer.alloc(value.length * 2);
  for (let i = 0; i < value.length; i += 1) body.writeUInt16LE(value.charCodeAt(i), i * 2);
  return Buffer.concat([arrayHeader([value.length], CLASS_ID.char, false), body]);
}

function packStruct(fields: Record<string, BlobValue>): Buffer {
  const entries = Object.entries(fields);
  const parts: Buffer[] = [Buffer.from('S', 'latin1'), uint64(1), uint64(1), uint32(entries.length)];
  for (const [name] of entries) {
    if (name.includes('\0')) throw new RangeError('blob struct: field names cannot contain NUL');
    parts.push(Buffer.from(`${name}\0`, 'utf8'));
  }
  for (const [, field] of entries) {
    const body = packBody(field);
    parts.push(uint64(body.length), body);
  }
  return Buffer.concat(parts);
}

function arrayHeader(shape: readonly number[], classId: number, isComplex: boolean): Buffer {
  return Buffer.concat([Buffer.from('A', 'latin1'), uint64(shape.length), ...shape.map((n) => uint64(n)), uint32(classId), uint32(isComplex ? 1 : 0)]);
}

/** Positions in the row-major input, listed in Fortran order. */
function fortranOrder(shape: readonly number[]): number[] {
  const count = elementCount(shape);
  const strides: number[] = new Array(shape.length);
  let stride = 1;
  for (let axis = shape.length - 1; axis >= 0; axis -= 1) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  const order = new Array<number>(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < count; k += 1) {
    let offset = 0;
    for (let axis = 0; axis < shape.length; axis += 1) offset += index[axis] * strides[axis];
    order[k] = offset;
    // Fortran order: the first axis varies fastest.
    for (let axis = 0; axis < shape.length; axis += 1) {
      index[axis] += 1;
      if (index[axis] < shape[axis]) break;
      index[axis] = 0;
    }
  }
  return order;
}

function encodeElements(dtype: BlobDtype, data: ReadonlyArray<number | bigint | boolean>, order: readonly number[]): Buffer {
  const size = ITEM_SIZE[dtype];
  const out = Buffer.alloc(order.length * size);
  order.forEach((source, k) => {
    const value = data[source];
    const at = k * size;
    switch (dtype) {
      case 'bool':
        out.writeUInt8(value ? 1 : 0, at);
        break;
      case 'float64':
        out.writeDoubleLE(Number(value), at);
        break;
      case 'float32':
        out.writeFloatLE(Number(value), at);
        break;
      case 'int8':
        out.writeInt8(Number(value), at);
        break;
      case 'uint8':
        out.writeUInt8(Number(value), at);
        break;
      case 'int16':
        out.writeInt16LE(Number(value), at);
        break;
      case 'uint16':
        out.writeUInt16LE(Number(value), at);
        break;
      case 'int32':
        out.writeInt32LE(Number(value), at);
        break;
      case 'uint32':
        out.writeUInt32LE(Number(value), at);
        break;
      case 'int64':
        out.writeBigInt64LE(toBigInt(value), at);
        break;
      case 'uint64':
        out.writeBigUInt64LE(toBigInt(value), at);
        break;
    }
  });
  return out;
}

function toBigInt(value: number | bigint | boolean): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'boolean') return value ? 1n : 0n;
  if (!Number.isInteger(value)) throw new RangeError(`blob array: ${value} is not an integer`);
  return BigInt(value);
}

function elementCount(shape: readonly number[]): number {
  for (const n of shape) if (!Number.isInteger(n) || n < 0) throw new RangeError(`blob array: bad dimension ${n}`);
  return shape.reduce((product, n) => product * n, 1);
}

function uint64(value: number): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(value));
  return buffer;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

// ----- reading headers (tests, diagnostics) ----------------------------------------------------------------

export interface LegacyBlobHeader {
  compressed: boolean;
  /** Length of the `mYm\0…` bytes (after decompression). */
  uncompressedLength: number;
  /** `mYm\0` + body, decompressed when needed. */
  raw: Buffer;
  /** The first body byte: `A` array, `S` struct, `C` cell. */
  bodyType: string;
}

/** Undoes the `ZL123\0` wrapper and checks the `mYm\0` protocol; does not decode the body. */
export function unpackLegacyHeader(bytes: Uint8Array): LegacyBlobHeader {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let raw = buffer;
  let compressed = false;
  if (buffer.subarray(0, ZLIB_PREFIX.length).equals(ZLIB_PREFIX)) {
    compressed = true;
    const declared = Number(buffer.readBigUInt64LE(ZLIB_PREFIX.length));
    raw = inflateSync(buffer.subarray(ZLIB_PREFIX.length + 8));
    if (raw.length !== declared) throw new Error(`blob: ZL123 header says ${declared} bytes, zlib stream gave ${raw.length}`);
  }
  if (!raw.subarray(0, BLOB_PROTOCOL.length).equals(BLOB_PROTOCOL)) throw new Error('blob: not a DataJoint 0.11 blob (no mYm header)');
  return { compressed, uncompressedLength: raw.length, raw, bodyType: String.fromCharCode(raw[BLOB_PROTOCOL.length]) };
}

// ----- canonical zlib `compress()` (level 6) -----------------------------------------------------------------
//
// Python's `zlib.compress(data)` links the reference zlib (1.2.x; 1.2.13 on Debian bookworm, where the
// real-examples vectors were made). Node bundles Chromium's zlib fork, whose hashing finds different matches,
// so `zlib.deflateSync` gives another (equally valid) stream for many inputs, and with it another 0.11 hash.
// What follows re-implements the reference deflate for the one configuration Python uses: level 6
// (lazy matching: good 8, lazy 16, nice 128, chain 128), windowBits 15, memLevel 8, default strategy, all input
// at once with Z_FINISH. Names follow zlib's deflate.c / trees.c so the two can be compared line by line.

const MIN_MATCH = 3;
const MAX_MATCH = 258;
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
const W_BITS = 15;
const W_SIZE = 1 << W_BITS;
const W_MASK = W_SIZE - 1;
const WINDOW_SIZE = 2 * W_SIZE;
const MAX_DIST = W_SIZE - MIN_LOOKAHEAD;
const MEM_LEVEL = 8;
const HASH_BITS = MEM_LEVEL + 7;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MASK = HASH_SIZE - 1;
const HASH_SHIFT = Math.floor((HASH_BITS + MIN_MATCH - 1) / MIN_MATCH);
const LIT_BUFSIZE = 1 << (MEM_LEVEL + 6);
const SYM_END = (LIT_BUFSIZE - 1) * 3;
const GOOD_MATCH = 8;
const MAX_LAZY = 16;
const NICE_MATCH = 128;
const MAX_CHAIN = 128;
const TOO_FAR = 4096;
const NIL = 0;

const LENGTH_CODES = 29;
const LITERALS = 256;
const L_CODES = LITERALS + 1 + LENGTH_CODES;
const D_CODES = 30;
const BL_CODES = 19;
const HEAP_SIZE = 2 * L_CODES + 1;
const MAX_BITS = 15;
const MAX_BL_BITS = 7;
const END_BLOCK = 256;
const REP_3_6 = 16;
const REPZ_3_10 = 17;
const REPZ_11_138 = 18;
const STORED_BLOCK = 0;
const STATIC_TREES = 1;
const DYN_TREES = 2;

const EXTRA_LBITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const EXTRA_DBITS = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const EXTRA_BLBITS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const BL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A Huffman tree as zlib lays it out: `fc` is Freq/Code, `dl` is Dad/Len (two unions in C). */
interface Tree {
  fc: Uint16Array;
  dl: Uint16Array;
}

interface StaticDesc {
  tree: Tree | null;
  extraBits: readonly number[];
  extraBase: number;
  elems: number;
  maxLength: number;
}

interface TreeDesc {
  tree: Tree;
  maxCode: number;
  stat: StaticDesc;
}

const newTree = (size: number): Tree => ({ fc: new Uint16Array(size), dl: new Uint16Array(size) });

function biReverse(code: number, len: number): number {
  let res = 0;
  do {
    res |= code & 1;
    code >>>= 1;
    res <<= 1;
  } while (--len > 0);
  return res >>> 1;
}

/** `gen_codes`: canonical codes from the bit lengths. */
function genCodes(tree: Tree, maxCode: number, blCount: ArrayLike<number>): void {
  const nextCode = new Uint16Array(MAX_BITS + 1);
  let code = 0;
  for (let bits = 1; bits <= MAX_BITS; bits++) {
    code = (code + blCount[bits - 1]) << 1;
    nextCode[bits] = code;
  }
  for (let n = 0; n <= maxCode; n++) {
    const len = tree.dl[n];
    if (len === 0) continue;
    tree.fc[n] = biReverse(nextCode[len]++, len);
  }
}

// `tr_static_init`
const LENGTH_CODE = new Uint8Array(MAX_MATCH - MIN_MATCH + 1);
const BASE_LENGTH = new Int32Array(LENGTH_CODES);
const DIST_CODE = new Uint8Array(512);
const BASE_DIST = new Int32Array(D_CODES);
const STATIC_LTREE = newTree(L_CODES + 2);
const STATIC_DTREE = newTree(D_CODES);
{
  let length = 0;
  let code = 0;
  for (code = 0; code < LENGTH_CODES - 1; code++) {
    BASE_LENGTH[code] = length;
    for (let n = 0; n < 1 << EXTRA_LBITS[code]; n++) LENGTH_CODE[length++] = code;
  }
  LENGTH_CODE[length - 1] = code;
  let dist = 0;
  for (code = 0; code < 16; code++) {
    BASE_DIST[code] = dist;
    for (let n = 0; n < 1 << EXTRA_DBITS[code]; n++) DIST_CODE[dist++] = code;
  }
  dist >>= 7;
  for (; code < D_CODES; code++) {
    BASE_DIST[code] = dist << 7;
    for (let n = 0; n < 1 << (EXTRA_DBITS[code] - 7); n++) DIST_CODE[256 + dist++] = code;
  }
  const blCount = new Uint16Array(MAX_BITS + 1);
  let n = 0;
  while (n <= 143) (STATIC_LTREE.dl[n++] = 8), blCount[8]++;
  while (n <= 255) (STATIC_LTREE.dl[n++] = 9), blCount[9]++;
  while (n <= 279) (STATIC_LTREE.dl[n++] = 7), blCount[7]++;
  while (n <= 287) (STATIC_LTREE.dl[n++] = 8), blCount[8]++;
  genCodes(STATIC_LTREE, L_CODES + 1, blCount);
  for (n = 0; n < D_CODES; n++) {
    STATIC_DTREE.dl[n] = 5;
    STATIC_DTREE.fc[n] = biReverse(n, 5);
  }
}
const STATIC_L_DESC: StaticDesc = { tree: STATIC_LTREE, extraBits: EXTRA_LBITS, extraBase: LITERALS + 1, elems: L_CODES, maxLength: MAX_BITS };
const STATIC_D_DESC: StaticDesc = { tree: STATIC_DTREE, extraBits: EXTRA_DBITS, extraBase: 0, elems: D_CODES, maxLength: MAX_BITS };
const STATIC_BL_DESC: StaticDesc = { tree: null, extraBits: EXTRA_BLBITS, extraBase: 0, elems: BL_CODES, maxLength: MAX_BL_BITS };

const dCode = (dist: number): number => (dist < 256 ? DIST_CODE[dist] : DIST_CODE[256 + (dist >>> 7)]);

/** LSB-first bit writer; `windup` pads to a byte like `bi_windup`. */
class BitWriter {
  private chunks: Buffer[] = [];
  private buf = Buffer.alloc(1 << 16);
  private pos = 0;
  private bitBuf = 0;
  private bitCount = 0;

  sendBits(value: number, length: number): void {
    this.bitBuf |= (value & ((1 << length) - 1)) << this.bitCount;
    this.bitCount += length;
    while (this.bitCount >= 8) {
      this.byte(this.bitBuf & 0xff);
      this.bitBuf >>>= 8;
      this.bitCount -= 8;
    }
  }

  windup(): void {
    if (this.bitCount > 0) this.byte(this.bitBuf & 0xff);
    this.bitBuf = 0;
    this.bitCount = 0;
  }

  byte(value: number): void {
    if (this.pos === this.buf.length) {
      this.chunks.push(this.buf);
      this.buf = Buffer.alloc(this.buf.length);
      this.pos = 0;
    }
    this.buf[this.pos++] = value;
  }

  bytes(data: Uint8Array): void {
    for (const value of data) this.byte(value);
  }

  result(): Buffer {
    return Buffer.concat([...this.chunks, this.buf.subarray(0, this.pos)]);
  }
}

class Deflater {
  private readonly window = new Uint8Array(WINDOW_SIZE);
  private readonly prev = new Uint16Array(W_SIZE);
  private readonly head = new Uint16Array(HASH_SIZE);
  private insH = 0;
  private blockStart = 0;
  private matchLength = MIN_MATCH - 1;
  private prevMatch = 0;
  private matchAvailable = false;
  private strstart = 0;
  private matchStart = 0;
  private lookahead = 0;
  private prevLength = MIN_MATCH - 1;
  private insert = 0;
  private nextIn = 0;

  private readonly dynLtree = newTree(HEAP_SIZE);
  private readonly dynDtree = newTree(2 * D_CODES + 1);
  private readonly blTree = newTree(2 * BL_CODES + 1);
  private readonly lDesc: TreeDesc = { tree: this.dynLtree, maxCode: 0, stat: STATIC_L_DESC };
  private readonly dDesc: TreeDesc = { tree: this.dynDtree, maxCode: 0, stat: STATIC_D_DESC };
  private readonly blDesc: TreeDesc = { tree: this.blTree, maxCode: 0, stat: STATIC_BL_DESC };
  private readonly blCount = new Uint16Array(MAX_BITS + 1);
  private readonly heap = new Int32Array(2 * L_CODES + 1);
  private heapLen = 0;
  private heapMax = 0;
  private readonly depth = new Uint8Array(2 * L_CODES + 1);
  private readonly symBuf = new Uint8Array(LIT_BUFSIZE * 3);
  private symNext = 0;
  private optLen = 0;
  private staticLen = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly out: BitWriter,
  ) {
    this.initBlock();
  }

  private updateHash(h: number, c: number): number {
    return ((h << HASH_SHIFT) ^ c) & HASH_MASK;
  }

  /** INSERT_STRING: returns the previous head of the hash chain. */
  private insertString(str: number): number {
    this.insH = this.updateHash(this.insH, this.window[str + (MIN_MATCH - 1)]);
    const matchHead = this.head[this.insH];
    this.prev[str & W_MASK] = matchHead;
    this.head[this.insH] = str;
    return matchHead;
  }

  private slideHash(): void {
    for (let n = 0; n < HASH_SIZE; n++) {
      const m = this.head[n];
      this.head[n] = m >= W_SIZE ? m - W_SIZE : NIL;
    }
    for (let n = 0; n < W_SIZE; n++) {
      const m = this.prev[n];
      this.prev[n] = m >= W_SIZE ? m - W_SIZE : NIL;
    }
  }

  private readBuf(at: number, size: number): number {
    const len = Math.min(this.input.length - this.nextIn, size);
    if (len <= 0) return 0;
    this.window.set(this.input.subarray(this.nextIn, this.nextIn + len), at);
    this.nextIn += len;
    return len;
  }

  private availIn(): number {
    return this.input.length - this.nextIn;
  }

  private fillWindow(): void {
    do {
      let more = WINDOW_SIZE - this.lookahead - this.strstart;
      if (this.strstart >= W_SIZE + MAX_DIST) {
        this.window.copyWithin(0, W_SIZE, W_SIZE + W_SIZE - more);
        this.matchStart -= W_SIZE;
        this.strstart -= W_SIZE;
        this.blockStart -= W_SIZE;
        if (this.insert > this.strstart) this.insert = this.strstart;
        this.slideHash();
        more += W_SIZE;
      }
      if (this.availIn() === 0) break;
      const n = this.readBuf(this.strstart + this.lookahead, more);
      this.lookahead += n;
      if (this.lookahead + this.insert >= MIN_MATCH) {
        let str = this.strstart - this.insert;
        this.insH = this.window[str];
        this.insH = this.updateHash(this.insH, this.window[str + 1]);
        while (this.insert) {
          this.insH = this.updateHash(this.insH, this.window[str + MIN_MATCH - 1]);
          this.prev[str & W_MASK] = this.head[this.insH];
          this.head[this.insH] = str;
          str++;
          this.insert--;
          if (this.lookahead + this.insert < MIN_MATCH) break;
        }
      }
    } while (this.lookahead < MIN_LOOKAHEAD && this.availIn() !== 0);
  }

  private longestMatch(curMatch: number): number {
    const window = this.window;
    let chainLength = MAX_CHAIN;
    let scan = this.strstart;
    let bestLen = this.prevLength;
    let niceMatch = NICE_MATCH;
    const limit = this.strstart > MAX_DIST ? this.strstart - MAX_DIST : NIL;
    const strend = this.strstart + MAX_MATCH;
    let scanEnd1 = window[scan + bestLen - 1];
    let scanEnd = window[scan + bestLen];
    if (this.prevLength >= GOOD_MATCH) chainLength >>= 2;
    if (niceMatch > this.lookahead) niceMatch = this.lookahead;
    do {
      let match = curMatch;
      if (
        window[match + bestLen] !== scanEnd ||
        window[match + bestLen - 1] !== scanEnd1 ||
        window[match] !== window[scan] ||
        window[++match] !== window[scan + 1]
      )
        continue;
      // scan[2] == match[2] follows from equal hashes; compare from index 3 on, 8 at a time like zlib.
      scan += 2;
      match++;
      while (
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        window[++scan] === window[++match] &&
        scan < strend
      );
      const len = MAX_MATCH - (strend - scan);
      scan = strend - MAX_MATCH;
      if (len > bestLen) {
        this.matchStart = curMatch;
        bestLen = len;
        if (len >= niceMatch) break;
        scanEnd1 = window[scan + bestLen - 1];
        scanEnd = window[scan + bestLen];
      }
    } while ((curMatch = this.prev[curMatch & W_MASK]) > limit && --chainLength !== 0);
    return bestLen <= this.lookahead ? bestLen : this.lookahead;
  }

  /** `deflate_slow` with Z_FINISH, then the zlib trailer is up to the caller. */
  run(): void {
    for (;;) {
      if (this.lookahead < MIN_LOOKAHEAD) {
        this.fillWindow();
        if (this.lookahead === 0) break;
      }
      let hashHead = NIL;
      if (this.lookahead >= MIN_MATCH) hashHead = this.insertString(this.strstart);
      this.prevLength = this.matchLength;
      this.prevMatch = this.matchStart;
      this.matchLength = MIN_MATCH - 1;
      if (hashHead !== NIL && this.prevLength < MAX_LAZY && this.strstart - hashHead <= MAX_DIST) {
        this.matchLength = this.longestMatch(hashHead);
        if (this.matchLength <= 5 && this.matchLength === MIN_MATCH && this.strstart - this.matchStart > TOO_FAR) {
          this.matchLength = MIN_MATCH - 1;
        }
      }
      if (this.prevLength >= MIN_MATCH && this.matchLength <= this.prevLength) {
        const maxInsert = this.strstart + this.lookahead - MIN_MATCH;
        const bflush = this.tally(this.strstart - 1 - this.prevMatch, this.prevLength - MIN_MATCH);
        this.lookahead -= this.prevLength - 1;
        this.prevLength -= 2;
        do {
          if (++this.strstart <= maxInsert) this.insertString(this.strstart);
        } while (--this.prevLength !== 0);
        this.matchAvailable = false;
        this.matchLength = MIN_MATCH - 1;
        this.strstart++;
        if (bflush) this.flushBlock(false);
      } else if (this.matchAvailable) {
        if (this.tally(0, this.window[this.strstart - 1])) this.flushBlock(false);
        this.strstart++;
        this.lookahead--;
      } else {
        this.matchAvailable = true;
        this.strstart++;
        this.lookahead--;
      }
    }
    if (this.matchAvailable) {
      this.tally(0, this.window[this.strstart - 1]);
      this.matchAvailable = false;
    }
    this.insert = this.strstart < MIN_MATCH - 1 ? this.strstart : MIN_MATCH - 1;
    this.flushBlock(true);
  }

  private flushBlock(last: boolean): void {
    const buf = this.blockStart >= 0 ? this.blockStart : -1;
    this.trFlushBlock(buf, this.strstart - this.blockStart, last);
    this.blockStart = this.strstart;
  }

  // ----- trees.c

  private initBlock(): void {
    for (let n = 0; n < L_CODES; n++) this.dynLtree.fc[n] = 0;
    for (let n = 0; n < D_CODES; n++) this.dynDtree.fc[n] = 0;
    for (let n = 0; n < BL_CODES; n++) this.blTree.fc[n] = 0;
    this.dynLtree.fc[END_BLOCK] = 1;
    this.optLen = this.staticLen = 0;
    this.symNext = 0;
  }

  /** `_tr_tally`: true when the block is full. */
  private tally(dist: number, lc: number): boolean {
    this.symBuf[this.symNext++] = dist & 0xff;
    this.symBuf[this.symNext++] = (dist >>> 8) & 0xff;
    this.symBuf[this.symNext++] = lc;
    if (dist === 0) {
      this.dynLtree.fc[lc]++;
    } else {
      dist--;
      this.dynLtree.fc[LENGTH_CODE[lc] + LITERALS + 1]++;
      this.dynDtree.fc[dCode(dist)]++;
    }
    return this.symNext === SYM_END;
  }

  private smaller(tree: Tree, n: number, m: number): boolean {
    return tree.fc[n] < tree.fc[m] || (tree.fc[n] === tree.fc[m] && this.depth[n] <= this.depth[m]);
  }

  private pqdownheap(tree: Tree, k: number): void {
    const v = this.heap[k];
    let j = k << 1;
    while (j <= this.heapLen) {
      if (j < this.heapLen && this.smaller(tree, this.heap[j + 1], this.heap[j])) j++;
      if (this.smaller(tree, v, this.heap[j])) break;
      this.heap[k] = this.heap[j];
      k = j;
      j <<= 1;
    }
    this.heap[k] = v;
  }

  private genBitlen(desc: TreeDesc): void {
    const { tree, maxCode } = desc;
    const stree = desc.stat.tree;
    const extra = desc.stat.extraBits;
    const base = desc.stat.extraBase;
    const maxLength = desc.stat.maxLength;
    let overflow = 0;
    this.blCount.fill(0);
    tree.dl[this.heap[this.heapMax]] = 0;
    let h: number;
    for (h = this.heapMax + 1; h < HEAP_SIZE; h++) {
      const n = this.heap[h];
      let bits = tree.dl[tree.dl[n]] + 1;
      if (bits > maxLength) (bits = maxLength), overflow++;
      tree.dl[n] = bits;
      if (n > maxCode) continue;
      this.blCount[bits]++;
      let xbits = 0;
      if (n >= base) xbits = extra[n - base];
      const f = tree.fc[n];
      this.optLen += f * (bits + xbits);
      if (stree) this.staticLen += f * (stree.dl[n] + xbits);
    }
    if (overflow === 0) return;
    do {
      let bits = maxLength - 1;
      while (this.blCount[bits] === 0) bits--;
      this.blCount[bits]--;
      this.blCount[bits + 1] += 2;
      this.blCount[maxLength]--;
      overflow -= 2;
    } while (overflow > 0);
    for (let bits = maxLength; bits !== 0; bits--) {
      let n = this.blCount[bits];
      while (n !== 0) {
        const m = this.heap[--h];
        if (m > maxCode) continue;
        if (tree.dl[m] !== bits) {
          this.optLen += (bits - tree.dl[m]) * tree.fc[m];
          tree.dl[m] = bits;
        }
        n--;
      }
    }
  }

  private buildTree(desc: TreeDesc): void {
    const tree = desc.tree;
    const stree = desc.stat.tree;
    const elems = desc.stat.elems;
    let maxCode = -1;
    this.heapLen = 0;
    this.heapMax = HEAP_SIZE;
    for (let n = 0; n < elems; n++) {
      if (tree.fc[n] !== 0) {
        this.heap[++this.heapLen] = maxCode = n;
        this.depth[n] = 0;
      } else {
        tree.dl[n] = 0;
      }
    }
    while (this.heapLen < 2) {
      const node = (this.heap[++this.heapLen] = maxCode < 2 ? ++maxCode : 0);
      tree.fc[node] = 1;
      this.depth[node] = 0;
      this.optLen--;
      if (stree) this.staticLen -= stree.dl[node];
    }
    desc.maxCode = maxCode;
    for (let n = this.heapLen >> 1; n >= 1; n--) this.pqdownheap(tree, n);
    let node = elems;
    do {
      // pqremove
      const n = this.heap[1];
      this.heap[1] = this.heap[this.heapLen--];
      this.pqdownheap(tree, 1);
      const m = this.heap[1];
      this.heap[--this.heapMax] = n;
      this.heap[--this.heapMax] = m;
      tree.fc[node] = tree.fc[n] + tree.fc[m];
      this.depth[node] = (this.depth[n] >= this.depth[m] ? this.depth[n] : this.depth[m]) + 1;
      tree.dl[n] = tree.dl[m] = node;
      this.heap[1] = node++;
      this.pqdownheap(tree, 1);
    } while (this.heapLen >= 2);
    this.heap[--this.heapMax] = this.heap[1];
    this.genBitlen(desc);
    genCodes(tree, maxCode, this.blCount);
  }

  private scanTree(tree: Tree, maxCode: number): void {
    let prevlen = -1;
    let nextlen = tree.dl[0];
    let count = 0;
    let maxCount = 7;
    let minCount = 4;
    if (nextlen === 0) (maxCount = 138), (minCount = 3);
    tree.dl[maxCode + 1] = 0xffff;
    for (let n = 0; n <= maxCode; n++) {
      const curlen = nextlen;
      nextlen = tree.dl[n + 1];
      if (++count < maxCount && curlen === nextlen) continue;
      else if (count < minCount) this.blTree.fc[curlen] += count;
      else if (curlen !== 0) {
        if (curlen !== prevlen) this.blTree.fc[curlen]++;
        this.blTree.fc[REP_3_6]++;
      } else if (count <= 10) this.blTree.fc[REPZ_3_10]++;
      else this.blTree.fc[REPZ_11_138]++;
      count = 0;
      prevlen = curlen;
      if (nextlen === 0) (maxCount = 138), (minCount = 3);
      else if (curlen === nextlen) (maxCount = 6), (minCount = 3);
      else (maxCount = 7), (minCount = 4);
    }
  }

  private sendCode(c: number, tree: Tree): void {
    this.out.sendBits(tree.fc[c], tree.dl[c]);
  }

  private sendTree(tree: Tree, maxCode: number): void {
    let prevlen = -1;
    let nextlen = tree.dl[0];
    let count = 0;
    let maxCount = 7;
    let minCount = 4;
    if (nextlen === 0) (maxCount = 138), (minCount = 3);
    for (let n = 0; n <= maxCode; n++) {
      const curlen = nextlen;
      nextlen = tree.dl[n + 1];
      if (++count < maxCount && curlen === nextlen) continue;
      else if (count < minCount) {
        do this.sendCode(curlen, this.blTree);
        while (--count !== 0);
      } else if (curlen !== 0) {
        if (curlen !== prevlen) {
          this.sendCode(curlen, this.blTree);
          count--;
        }
        this.sendCode(REP_3_6, this.blTree);
        this.out.sendBits(count - 3, 2);
      } else if (count <= 10) {
        this.sendCode(REPZ_3_10, this.blTree);
        this.out.sendBits(count - 3, 3);
      } else {
        this.sendCode(REPZ_11_138, this.blTree);
        this.out.sendBits(count - 11, 7);
      }
      count = 0;
      prevlen = curlen;
      if (nextlen === 0) (maxCount = 138), (minCount = 3);
      else if (curlen === nextlen) (maxCount = 6), (minCount = 3);
      else (maxCount = 7), (minCount = 4);
    }
  }

  private buildBlTree(): number {
    this.scanTree(this.dynLtree, this.lDesc.maxCode);
    this.scanTree(this.dynDtree, this.dDesc.maxCode);
    this.buildTree(this.blDesc);
    let maxBlindex: number;
    for (maxBlindex = BL_CODES - 1; maxBlindex >= 3; maxBlindex--) {
      if (this.blTree.dl[BL_ORDER[maxBlindex]] !== 0) break;
    }
    this.optLen += 3 * (maxBlindex + 1) + 5 + 5 + 4;
    return maxBlindex;
  }

  private sendAllTrees(lcodes: number, dcodes: number, blcodes: number): void {
    this.out.sendBits(lcodes - 257, 5);
    this.out.sendBits(dcodes - 1, 5);
    this.out.sendBits(blcodes - 4, 4);
    for (let rank = 0; rank < blcodes; rank++) this.out.sendBits(this.blTree.dl[BL_ORDER[rank]], 3);
    this.sendTree(this.dynLtree, lcodes - 1);
    this.sendTree(this.dynDtree, dcodes - 1);
  }

  private compressBlock(ltree: Tree, dtree: Tree): void {
    let sx = 0;
    while (sx < this.symNext) {
      let dist = this.symBuf[sx++];
      dist += this.symBuf[sx++] << 8;
      let lc = this.symBuf[sx++];
      if (dist === 0) {
        this.sendCode(lc, ltree);
      } else {
        let code = LENGTH_CODE[lc];
        this.sendCode(code + LITERALS + 1, ltree);
        let extra = EXTRA_LBITS[code];
        if (extra !== 0) {
          lc -= BASE_LENGTH[code];
          this.out.sendBits(lc, extra);
        }
        dist--;
        code = dCode(dist);
        this.sendCode(code, dtree);
        extra = EXTRA_DBITS[code];
        if (extra !== 0) {
          dist -= BASE_DIST[code];
          this.out.sendBits(dist, extra);
        }
      }
    }
    this.sendCode(END_BLOCK, ltree);
  }

  /** `_tr_flush_block`; `buf` is the window offset of the block's bytes, or -1 when they slid out. */
  private trFlushBlock(buf: number, storedLen: number, last: boolean): void {
    this.buildTree(this.lDesc);
    this.buildTree(this.dDesc);
    const maxBlindex = this.buildBlTree();
    let optLenb = Math.floor((this.optLen + 3 + 7) / 8);
    const staticLenb = Math.floor((this.staticLen + 3 + 7) / 8);
    if (staticLenb <= optLenb) optLenb = staticLenb;
    const lastBit = last ? 1 : 0;
    if (storedLen + 4 <= optLenb && buf !== -1) {
      this.out.sendBits((STORED_BLOCK << 1) + lastBit, 3);
      this.out.windup();
      this.out.byte(storedLen & 0xff);
      this.out.byte((storedLen >>> 8) & 0xff);
      this.out.byte(~storedLen & 0xff);
      this.out.byte((~storedLen >>> 8) & 0xff);
      this.out.bytes(this.window.subarray(buf, buf + storedLen));
    } else if (staticLenb === optLenb) {
      this.out.sendBits((STATIC_TREES << 1) + lastBit, 3);
      this.compressBlock(STATIC_LTREE, STATIC_DTREE);
    } else {
      this.out.sendBits((DYN_TREES << 1) + lastBit, 3);
      this.sendAllTrees(this.lDesc.maxCode + 1, this.dDesc.maxCode + 1, maxBlindex + 1);
      this.compressBlock(this.dynLtree, this.dynDtree);
    }
    this.initBlock();
    if (last) this.out.windup();
  }
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const NMAX = 5552;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + NMAX, data.length);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * Python's `zlib.compress(data)` (reference zlib, level 6), byte for byte: header 78 9c, deflate stream,
 * big-endian adler32.
 */
export function zlibCompress(data: Uint8Array): Buffer {
  const out = new BitWriter();
  out.byte(0x78);
  out.byte(0x9c);
  new Deflater(data, out).run();
  const adler = adler32(data);
  out.byte((adler >>> 24) & 0xff);
  out.byte((adler >>> 16) & 0xff);
  out.byte((adler >>> 8) & 0xff);
  out.byte(adler & 0xff);
  return out.result();
}
