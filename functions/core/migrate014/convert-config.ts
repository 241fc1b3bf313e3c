// convert-config: a DataJoint 0.14 `dj_local_conf.json` → the DataJoint 2.0 config (spec B.7 → D.3).
//
// 0.14 reads stores from the `stores` dict only (0.12-style specs: file → protocol, location; s3 → protocol,
// endpoint, bucket, access_key, secret_key, location; optional secure (default False), subfolding (default
// (2, 2)), stage, proxy_server). Leftover 0.11 keys (`external`, `external-<x>`) are ignored by 0.14 itself;
// we carry them over as named stores only when `stores` does not already define that name, and say so.
// 2.x keeps everything under `stores`: `default` (a store name), optional `filepath_default`, and one dict per
// store. Its s3 `secure` defaults to true, so 0.14's implicit false is always written out (spec D.6.7).
// Other settings: 2.x's Config (settings.py, pydantic, extra="forbid") silently ignores keys it does not
// know when loading a file, so only the ones 2.x has are carried over (nested, as 2.x's save_template writes
// them); every other key is dropped with a note.
import { MigrationRefusedError } from '../errors.js';

export interface ConvertConfigOptions {
  /** 2.x name for a leftover plain 0.11 `external` key (the 0.11 → 0.12 migration's default store). */
  legacyDefaultStore?: string;
}

export interface ConvertedConfig {
  config: Record<string, unknown>;
  notes: string[];
}

type Json = Record<string, unknown>;

/** What 2.x's Config knows (settings.py: DatabaseSettings, ConnectionSettings, DisplaySettings, top level). */
const DATABASE_KEYS = ['host', 'user', 'password', 'port', 'reconnect', 'use_tls'];
const GROUPS: Record<string, readonly string[]> = {
  connection: ['init_function', 'charset'],
  display: ['limit', 'width', 'show_tuple_count'],
};
const TOP_LEVEL = new Set(['loglevel', 'safemode', 'enable_python_native_blobs', 'filepath_checksum_size_limit', 'cache', 'query_cache', 'download_path']);

const FILE_KEYS = ['protocol', 'location', 'subfolding', 'stage'] as const;
const S3_KEYS = ['protocol', 'endpoint', 'bucket', 'location', 'access_key', 'secret_key', 'secure', 'subfolding', 'stage', 'proxy_server'] as const;

/** Converts a parsed 0.14 config; refuses (naming the field) when a field is malformed. */
export function convertConfig(json014: unknown, options: ConvertConfigOptions = {}): ConvertedConfig {
  if (!isObject(json014)) throw new MigrationRefusedError('the 0.14 config must be a JSON object like dj_local_conf.json; pass the file DataJoint 0.14 reads');
  const notes: string[] = [];
  const problems: string[] = [];

  const database = convertDatabase(json014, problems, notes);

  const stores: Record<string, Json> = {};
  if (json014.stores !== undefined) {
    if (!isObject(json014.stores)) problems.push('stores must be an object of store name → store settings');
    else {
      for (const [name, spec] of Object.entries(json014.stores)) {
        if (name === 'default' || name === 'filepath_default') {
          problems.push(`stores.${name}: a store with this name clashes with 2.x's stores.${name} setting (the name of the default store); rename the store (and map it when migrating)`);
          continue;
        }
        const converted = convertStore(spec, `stores.${name}`, problems, notes);
        if (converted) stores[name] = converted;
      }
    }
  }

  const legacyDefault = options.legacyDefaultStore ?? 'external';
  for (const [key, spec] of Object.entries(json014)) {
    const suffix = key === 'external' ? '' : key.startsWith('external-') ? key.slice('external-'.length) : null;
    if (suffix === null) continue;
    const name = suffix === '' ? legacyDefault : suffix;
    if (stores[name]) {
      notes.push(`${key}: dropped; it is a 0.11 store setting superseded by stores.${name}`);
      continue;
    }
    const converted = convertStore(spec, key, problems, notes);
    if (converted) {
      stores[name] = converted;
      notes.push(`${key}: 0.14 ignores this 0.11 store key; carried over as stores.${name}; remove it if no schema uses that store`);
    }
  }

  const settings: Json = {};
  for (const [key, value] of Object.entries(json014)) {
    if (key === 'stores' || key === 'database' || key.startsWith('database.') || key === 'external' || key.startsWith('external-')) continue;
    if (TOP_LEVEL.has(key)) {
      settings[key] = value;
      if (key === 'cache') notes.push('cache: kept; 2.x has a cache folder setting of the same name');
      continue;
    }
    const [group, attr, ...rest] = key.split('.');
    const groupKeys = GROUPS[group];
    if (groupKeys && isObject(value) && attr === undefined) {
      for (const [nested, nestedValue] of Object.entries(value)) {
        if (groupKeys.includes(nested)) ((settings[group] ??= {}) as Json)[nested] = nestedValue;
        else notes.push(`${group}.${nested}: dropped; 2.x has no such setting`);
      }
      continue;
    }
    if (groupKeys && attr !== undefined && rest.length === 0 && groupKeys.includes(attr)) {
      ((settings[group] ??= {}) as Json)[attr] = value;
      continue;
    }
    notes.push(`${key}: dropped; 2.x has no such setting${key === 'custom' ? ' (2.x refuses unknown settings; keep these values in your own code)' : ''}`);
  }

  if (problems.length) throw new MigrationRefusedError('the 0.14 config has problems; fix these fields and convert again:', problems);

  const names = Object.keys(stores);
  const out: Json = {};
  if (names.length === 1) out.default = names[0];
  else if (names.includes('main')) out.default = 'main';
  else if (names.includes('external')) out.default = 'external';
  else if (names.length > 1) notes.push(`stores.default: not set; pick one of ${names.join(', ')} as the default store (2.x uses it for <blob@>, <attach@>, <npy@>, <object@> without a store name)`);
  if (out.default !== undefined && names.length > 1) notes.push(`stores.default: set to "${String(out.default)}"; change it if another store should be the default`);

  const staged = names.filter((name) => stores[name].stage !== undefined);
  if (staged.length === 1) out.filepath_default = staged[0];
  else if (staged.length > 1) notes.push(`stores.filepath_default: not set; several stores have a stage (${staged.join(', ')}); pick the one for <filepath@> without a store name`);
  for (const name of names) out[name] = stores[name];

  const config: Json = {};
  if (database) config.database = database;
  Object.assign(config, settings);
  if (names.length) config.stores = out;
  if (database?.password !== undefined || names.some((name) => stores[name].secret_key !== undefined)) {
    notes.push('credentials: carried over as they were; 2.x prefers DJ_USER/DJ_PASS or a .secrets/ folder next to datajoint.json over passwords in the file');
  }
  return { config, notes };
}

function convertDatabase(json: Json, problems: string[], notes: string[]): Json | null {
  const database: Json = {};
  if (json.database !== undefined) {
    if (!isObject(json.database)) problems.push('database must be an object (host, user, password, port, …)');
    else Object.assign(database, json.database);
  }
  for (const [key, value] of Object.entries(json)) {
    if (key.startsWith('database.')) database[key.slice('database.'.length)] = value;
  }
  for (const key of Object.keys(database)) {
    if (!DATABASE_KEYS.includes(key)) {
      notes.push(`database.${key}: dropped; 2.x has no such database setting`);
      delete database[key];
    }
  }
  if (typeof database.port === 'string' && /^\d+$/.test(database.port)) database.port = Number(database.port);
  // 0.14 accepts `host:port` in database.host; 2.x has a separate port setting.
  const hostPort = typeof database.host === 'string' ? /^([^:]+):(\d+)$/.exec(database.host) : null;
  if (hostPort) {
    if (database.port !== undefined && Number(database.port) !== Number(hostPort[2])) {
      problems.push(`database.host ${JSON.stringify(database.host)} names port ${hostPort[2]} but database.port is ${JSON.stringify(database.port)}; keep one`);
    } else {
      database.host = hostPort[1];
      database.port = Number(hostPort[2]);
      notes.push(`database.host: split "${hostPort[1]}:${hostPort[2]}" into database.host and database.port`);
    }
  }
  for (const key of ['host', 'user', 'password']) {
    if (database[key] !== undefined && database[key] !== null && typeof database[key] !== 'string') problems.push(`database.${key} must be a string`);
  }
  if (database.port !== undefined && database.port !== null && !(Number.isInteger(Number(database.port)) && Number(database.port) > 0)) {
    problems.push(`database.port ${JSON.stringify(database.port)} is not a port number`);
  }
  return Object.keys(database).length ? database : null;
}

function convertStore(spec: unknown, field: string, problems: string[], notes: string[]): Json | null {
  if (!isObject(spec)) {
    problems.push(`${field} must be an object with protocol and location`);
    return null;
  }
  const protocol = spec.protocol;
  if (protocol !== 'file' && protocol !== 's3') {
    problems.push(`${field}.protocol is ${JSON.stringify(protocol)}; 0.14 stores are "file" or "s3"`);
    return null;
  }
  const allowed: readonly string[] = protocol === 'file' ? FILE_KEYS : S3_KEYS;
  const required = protocol === 'file' ? ['location'] : ['endpoint', 'bucket', 'location', 'access_key', 'secret_key'];
  const before = problems.length;
  for (const key of required) {
    if (typeof spec[key] !== 'string') problems.push(`${field}.${key} ${spec[key] === undefined ? 'is missing' : 'must be a string'} (required for a ${protocol} store)`);
  }
  if (spec.stage !== undefined && typeof spec.stage !== 'string') problems.push(`${field}.stage must be a string (the local folder filepath@ paths are relative to)`);
  if (spec.proxy_server !== undefined && spec.proxy_server !== null && typeof spec.proxy_server !== 'string') problems.push(`${field}.proxy_server must be a string`);
  if (spec.secure !== undefined && typeof spec.secure !== 'boolean') problems.push(`${field}.secure must be true or false`);
  const subfolding = spec.subfolding;
  if (subfolding !== undefined && subfolding !== null && !(Array.isArray(subfolding) && subfolding.every((n) => Number.isInteger(n) && n > 0))) {
    problems.push(`${field}.subfolding must be a list of positive integers like [2, 2], or null`);
  }
  if (problems.length > before) return null;

  const out: Json = { protocol };
  if (protocol === 's3') {
    out.endpoint = spec.endpoint;
    out.bucket = spec.bucket;
  }
  out.location = spec.location;
  if (protocol === 's3') {
    out.access_key = spec.access_key;
    out.secret_key = spec.secret_key;
    out.secure = spec.secure ?? false;
    if (spec.secure === undefined) notes.push(`${field}.secure: written as false (0.14's default); 2.x would otherwise assume true (https)`);
    if (typeof spec.proxy_server === 'string') out.proxy_server = spec.proxy_server;
  }
  if (Array.isArray(subfolding)) {
    out.subfolding = [...subfolding];
    notes.push(`${field}.subfolding: kept; in 2.x it only shapes the paths of new objects (folds cut from the base32 hash); migrated pointers keep their 0.14 paths`);
  }
  if (typeof spec.stage === 'string') out.stage = spec.stage;
  for (const key of Object.keys(spec)) {
    if (!allowed.includes(key)) notes.push(`${field}.${key}: dropped; not a 0.14 ${protocol} store setting`);
  }
  return out;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
