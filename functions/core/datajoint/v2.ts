// DataJoint 2.x: column-comment markers, hash-addressed object paths, the JSON pointers its codecs decode, and
// `~lineage` (spec section D, checked against real 2.3.2 output in real-examples part 6).
import { createHash } from 'node:crypto';
import { base32 } from 'rfc4648';

export const LINEAGE_TABLE = '~lineage';
/** 2.x's default `hash_prefix`: hash-addressed objects live under `_hash/<schema>/`. */
export const HASH_PREFIX = '_hash';

/** `compute_hash`: MD5 → base32 (RFC 4648) without padding, lower case: 26 characters. */
export function hashOfDigest(md5: Uint8Array): string {
  return base32.stringify(md5, { pad: false }).toLowerCase();
}

export function contentHash(bytes: Uint8Array): string {
  return hashOfDigest(createHash('md5').update(bytes).digest());
}

/** The path 2.x writes for a hash-addressed object (default: no subfolding). */
export function hashPath(schema: string, hash: string, subfolding: readonly number[] = []): string {
  const folds: string[] = [];
  let start = 0;
  for (const fold of subfolding) {
    folds.push(hash.slice(start, start + fold));
    start += fold;
  }
  return [HASH_PREFIX, schema, ...folds, hash].join('/');
}

/** `<blob@store>` / `<attach@store>` pointer, keys in the order 2.x's `json.dumps` writes them. */
export interface HashPointer {
  hash: string;
  path: string;
  schema: string;
  store: string;
  size: number;
}

export function hashPointer(pointer: HashPointer): HashPointer {
  return { hash: pointer.hash, path: pointer.path, schema: pointer.schema, store: pointer.store, size: pointer.size };
}

/** `<filepath@store>` pointer; `timestamp` is UTC ISO-8601 with microseconds and `+00:00`. */
export interface FilepathPointer {
  path: string;
  store: string;
  size: number;
  is_dir: boolean;
  timestamp: string;
}

export function filepathPointer(pointer: FilepathPointer): FilepathPointer {
  return { path: pointer.path, store: pointer.store, size: pointer.size, is_dir: pointer.is_dir, timestamp: pointer.timestamp };
}

/** Python's `datetime.isoformat()` of an aware UTC datetime: `2026-11-21T21:49:25.544320+00:00`. */
export function pythonUtcIso(date: Date): string {
  return `${date.toISOString().slice(0, 23)}000+00:00`;
}

/** The text 2.x stores: `json.dumps` with its default separators (`", "`, `": "`). */
export function pythonJson(value: Record<string, unknown>): string {
  return `{${Object.entries(value)
    .map(([key, item]) => `${JSON.stringify(key)}: ${JSON.stringify(item)}`)
    .join(', ')}}`;
}

export type CodecKind = 'blob' | 'attach' | 'filepath';

/** `:<blob@store>:comment` etc.; always an explicit store (2.x does not resolve `<blob@>` to the default store). */
export function codecComment(kind: CodecKind | 'blob-internal' | 'attach-internal', comment: string, store?: string): string {
  const name = kind === 'blob-internal' ? 'blob' : kind === 'attach-internal' ? 'attach' : kind;
  return `:<${name}${store === undefined ? '' : `@${store}`}>:${comment}`;
}

/** Parses any `:marker:comment`; null when the comment carries no marker. */
export function parseMarker(columnComment: string): { marker: string; comment: string } | null {
  const match = /^:([^:]+):(.*)$/s.exec(columnComment);
  return match ? { marker: match[1], comment: match[2] } : null;
}

/**
 * The core-type marker 2.x's declare writes for a MySQL column type, or null for types 2.x keeps native
 * (unsigned integers among them: 2.x ignores `:uint32:` and cannot re-declare it, spec D.6.3).
 */
export function coreTypeMarker(columnType: string, options: { unsignedMarkers?: boolean } = {}): string | null {
  const type = columnType.toLowerCase().trim();
  const integer = /^(tinyint|smallint|mediumint|int|bigint)(\(\d+\))?( unsigned)?( zerofill)?$/.exec(type);
  if (integer) {
    if (integer[4]) return null;
    const bits: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, bigint: 64 };
    if (integer[3]) return options.unsignedMarkers ? `uint${bits[integer[1]]}` : null;
    return integer[1] === 'mediumint' ? null : `int${bits[integer[1]]}`;
  }
  if (type === 'float') return 'float32';
  if (type === 'double') return 'float64';
  if (/^(varchar|char)\(\d+\)$/.test(type)) return type;
  if (type === 'date' || /^datetime(\(\d\))?$/.test(type)) return type;
  if (/^decimal\(\d+,\d+\)$/.test(type)) return type;
  if (/^enum\(.*\)$/s.test(type)) return columnType.trim();
  if (type === 'json') return 'json';
  return null;
}

/** The DDL of 2.x's `~lineage` table (spec D.4). */
export function lineageTableDdl(schema: string, quoteId: (id: string) => string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteId(schema)}.${quoteId(LINEAGE_TABLE)} (\n` +
    '`table_name` varchar(64) NOT NULL COMMENT "table name within the schema",\n' +
    '`attribute_name` varchar(64) NOT NULL COMMENT "attribute name",\n' +
    '`lineage` varchar(255) NOT NULL COMMENT "origin: schema.table.attribute",\n' +
    'PRIMARY KEY (`table_name`, `attribute_name`)\n' +
    ') ENGINE=InnoDB'
  );
}
