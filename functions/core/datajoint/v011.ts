// DataJoint 0.11 external storage: the legacy `~external` table, its hash, column comments and object paths.
// Everything here is read from datajoint-python v0.11.1 (spec section A).
import { createHash } from 'node:crypto';

export const LEGACY_EXTERNAL_TABLE = '~external';
/** Length of the URL-safe base64 SHA-256 without its single `=` pad. */
export const LEGACY_HASH_LENGTH = 43;
/** 0.11 declare limits store suffixes to 8 characters (char(51) = 43 + 8). */
export const LEGACY_STORE_SUFFIX_MAX = 8;
const LEGACY_HASH_ALPHABET = /^[A-Za-z0-9_-]{43}$/;

/** `long_hash`: SHA-256, URL-safe base64, first 43 characters. */
export function legacyHash(bytes: Uint8Array): string {
  return legacyHashFromDigest(createHash('sha256').update(bytes).digest());
}

export function legacyHashFromDigest(sha256: Uint8Array): string {
  return Buffer.from(sha256).toString('base64url').slice(0, LEGACY_HASH_LENGTH);
}

/** The value 0.11 stores in `~external.hash` and in referencing columns: hash + store suffix. */
export function legacyStoredValue(hash: string, suffix: string): string {
  return hash + suffix;
}

/** Splits a stored value into its 43-char hash and the store suffix; null when the hash part is malformed. */
export function splitLegacyValue(value: string): { hash: string; suffix: string } | null {
  const hash = value.slice(0, LEGACY_HASH_LENGTH);
  if (!LEGACY_HASH_ALPHABET.test(hash)) return null;
  return { hash, suffix: value.slice(LEGACY_HASH_LENGTH) };
}

/** The 0.11 config key of a store suffix: `external` or `external-<suffix>`. */
export function legacyConfigKey(suffix: string): string {
  return suffix === '' ? 'external' : `external-${suffix}`;
}

/** The store suffix of a 0.11 config key / attribute type, or null when it is not one. */
export function suffixOfLegacyType(type: string): string | null {
  if (type === 'external') return '';
  return type.startsWith('external-') ? type.slice('external-'.length) : null;
}

export interface LegacyColumnComment {
  /** The attribute type as written: `external` or `external-<suffix>`. */
  type: string;
  suffix: string;
  /** The user's comment, colons kept. */
  comment: string;
}

/**
 * Parses `:external[-x]:user comment`. The type is everything between the first two colons, so a user
 * comment containing `:` survives (0.11's heading splits on every colon and re-joins the rest; the
 * official 0.12 tool's greedy regex did not).
 */
export function parseLegacyComment(columnComment: string): LegacyColumnComment | null {
  const match = /^:([^:]+):(.*)$/s.exec(columnComment);
  if (!match) return null;
  const suffix = suffixOfLegacyType(match[1]);
  if (suffix === null) return null;
  return { type: match[1], suffix, comment: match[2] };
}

export function legacyColumnComment(type: string, comment: string): string {
  return `:${type}:${comment}`;
}

/**
 * Where 0.11 put an object, relative to the store's root:
 * s3 key `location.lstrip('/') + '/' + db + '/' + value` (verbatim, not normalised: an empty location gives
 * a leading `/`, a trailing `/` a double slash); file path `os.path.join(location, db, value)`.
 */
export function legacyObjectKey(protocol: 's3' | 'file', location: string, database: string, value: string): string {
  if (protocol === 's3') return `${location.replace(/^\/+/, '')}/${database}/${value}`;
  return pythonJoin(location, database, value);
}

/** The relative path the 0.12 migration records in `filepath` for a legacy object. */
export function legacyRelativePath(database: string, value: string): string {
  return `${database}/${value}`;
}

/** Python's `os.path.join` on POSIX: an absolute part restarts the path; no normalisation. */
function pythonJoin(...parts: string[]): string {
  let joined = '';
  for (const part of parts) {
    if (part.startsWith('/') || joined === '') joined = part;
    else joined += joined.endsWith('/') ? part : `/${part}`;
  }
  return joined;
}

/** The DDL 0.11's declare() generates for `~external` (spec A.1). */
export function legacyExternalTableDdl(database: string, quoteId: (id: string) => string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteId(database)}.${quoteId(LEGACY_EXTERNAL_TABLE)} (\n` +
    '`hash` char(51) NOT NULL COMMENT "the hash of stored object + store name",\n' +
    '`size` bigint unsigned NOT NULL COMMENT "size of object in bytes",\n' +
    '`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT "automatic timestamp",\n' +
    'PRIMARY KEY (`hash`)\n' +
    ') ENGINE=InnoDB, COMMENT "external storage tracking"'
  );
}
