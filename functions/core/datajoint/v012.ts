// DataJoint 0.12–0.14 external storage: `~external_<store>` tables, MD5 uuids, `:blob@store:` comments and
// object paths (spec sections B and C; unchanged from v0.12.0 through v0.14.9).
import { createHash } from 'node:crypto';

export const EXTERNAL_TABLE_PREFIX = '~external_';
/** Store names every 0.12+ heading parser accepts (`[a-z]\w*`, case-insensitive; hyphens only from 0.13.8). */
export const STORE_NAME_PATTERN = /^[a-z][a-z0-9_]*$/i;
export const UUID_SQL_TYPE = 'binary(16)';
/** 0.12's default `subfolding` for uuid paths. */
export const DEFAULT_SUBFOLDING = [2, 2] as const;

export function externalTableName(store: string): string {
  return EXTERNAL_TABLE_PREFIX + store;
}

/** `uuid_from_buffer(buffer, init_string)`: MD5 of the UTF-8 init string followed by the bytes; the digest is the uuid. */
export function uuidFromBuffer(buffer: Uint8Array = new Uint8Array(), initString = ''): Buffer {
  return createHash('md5').update(Buffer.from(initString, 'utf8')).update(buffer).digest();
}

/** The `hash` of a row migrated in place from 0.11: md5 of `<database>/<legacy value>`. */
export function migratedBlobUuid(relativePath: string): Buffer {
  return uuidFromBuffer(undefined, relativePath);
}

/** `:blob@<store>:<comment>`, the marker 0.12 writes for an external blob attribute. */
export function blobColumnComment(store: string, comment: string): string {
  return `:blob@${store}:${comment}`;
}

/** Parses a 0.12 `:blob@store:` / `:attach@store:` / `:filepath@store:` comment. */
export function parseExternalComment(columnComment: string): { kind: 'blob' | 'attach' | 'filepath'; store: string; comment: string } | null {
  const match = /^:(blob|attach|filepath)@([a-z][-\w]*):(.*)$/is.exec(columnComment);
  if (!match) return null;
  return { kind: match[1].toLowerCase() as 'blob' | 'attach' | 'filepath', store: match[2], comment: match[3] };
}

/** `subfold(name, folds)`: successive lower-cased slices of the name. */
export function subfold(name: string, folds: readonly number[] = DEFAULT_SUBFOLDING): string[] {
  const parts: string[] = [];
  let start = 0;
  for (const fold of folds) {
    parts.push(name.slice(start, start + fold).toLowerCase());
    start += fold;
  }
  return parts;
}

/** `_make_uuid_path` relative to the store root: `<db>/<h0h1>/<h2h3>/<hex>[suffix]`. */
export function uuidRelativePath(database: string, uuid: Uint8Array, suffix = '', folds: readonly number[] = DEFAULT_SUBFOLDING): string {
  const hex = Buffer.from(uuid).toString('hex');
  return [database, ...subfold(hex, folds), hex + suffix].join('/');
}

/**
 * `_make_external_filepath(relative)`: the key/path 0.12–0.14 read for a path relative to the store.
 * s3: the location with Windows separators converted and its root stripped (`/a/b`, `a/b/`, `C:\a\b` → `a/b`),
 * then `/<relative>`; an empty location gives no prefix. file: `PurePosixPath(location, relative)`.
 */
export function storeObjectKey(protocol: 's3' | 'file', location: string, relative: string): string {
  if (protocol === 's3') {
    const root = normalizePosix(location.replace(/\\/g, '/').replace(/^[A-Za-z]:/, '')).replace(/^\/+/, '');
    return root === '' || root === '.' ? normalizePosix(relative) : normalizePosix(`${root}/${relative}`);
  }
  return normalizePosix(`${location}/${relative}`);
}

/** PurePosixPath's normalisation: collapse repeated separators and `.` parts, drop a trailing separator. */
function normalizePosix(path: string): string {
  const absolute = path.startsWith('/');
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  const joined = parts.join('/');
  return absolute ? `/${joined}` : joined || '.';
}

/** The DDL 0.12's declare() generates for `~external_<store>` (spec B.1). */
export function externalTableDdl(database: string, store: string, quoteId: (id: string) => string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteId(database)}.${quoteId(externalTableName(store))} (\n` +
    '`hash` binary(16) NOT NULL COMMENT ":uuid:hash of contents (blob), of filename + contents (attach), or relative filepath (filepath)",\n' +
    '`size` bigint unsigned NOT NULL COMMENT "size of object in bytes",\n' +
    '`attachment_name` varchar(255) DEFAULT NULL COMMENT "the filename of an attachment",\n' +
    '`filepath` varchar(1000) DEFAULT NULL COMMENT "relative filepath or attachment filename",\n' +
    '`contents_hash` binary(16) DEFAULT NULL COMMENT ":uuid:used for the filepath datatype",\n' +
    '`timestamp` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT "automatic timestamp",\n' +
    'PRIMARY KEY (`hash`)\n' +
    ') ENGINE=InnoDB, COMMENT "external storage tracking"'
  );
}
