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
import { deflate } from 'pako';

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

// ----- reference zlib `compress()` (level 6) -----------------------------------------------------------------

/**
 * Python's `zlib.compress(data)`: the reference zlib at level 6. Node bundles Chromium's zlib fork, which finds
 * other matches and so gives another (equally valid) stream for many inputs, and with it another 0.11 hash;
 * pako is a port of the reference zlib and reproduces Python's bytes.
 */
export function zlibCompress(data: Uint8Array): Buffer {
  return Buffer.from(deflate(data, { level: 6 }));
}
