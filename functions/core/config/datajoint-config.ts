// Reads the user's own DataJoint config (`dj_local_conf.json`): database access with DataJoint's environment
// overrides, 0.11 store entries (`external`, `external-<x>`) and/or a 0.12 `stores` dict, all mapped to 0.12
// store names. Credentials stay here; only locations go into an execution input.
import { readFile } from 'node:fs/promises';
import { suffixOfLegacyType } from '../datajoint/v011.js';
import { MigrationRefusedError } from '../errors.js';
import type { S3Credentials } from '../stores/s3-store.js';
import type { StoreSpec } from './store-spec.js';

export interface DatabaseAccess {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface ConfiguredStore {
  spec: StoreSpec;
  credentials?: S3Credentials;
  /** Where it came from, for messages: `external-shared` or `stores.shared`. */
  source: string;
}

export interface DataJointConfig {
  database: DatabaseAccess;
  stores: Record<string, ConfiguredStore>;
}

type Json = Record<string, unknown>;

export async function loadDataJointConfig(path: string, defaultStore: string, env: NodeJS.ProcessEnv = process.env): Promise<DataJointConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MigrationRefusedError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new MigrationRefusedError(`the config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseDataJointConfig(json, defaultStore, env, path);
}

export function parseDataJointConfig(json: unknown, defaultStore: string, env: NodeJS.ProcessEnv = process.env, source = 'the config'): DataJointConfig {
  if (!isObject(json)) throw new MigrationRefusedError(`${source} must be a JSON object like dj_local_conf.json`);
  const problems: string[] = [];
  const database = parseDatabase(json, env, problems);
  const stores: Record<string, ConfiguredStore> = {};
  const add = (name: string, entry: ConfiguredStore) => {
    const earlier = stores[name];
    if (earlier && !sameLocation(earlier.spec, entry.spec)) {
      problems.push(`${earlier.source} and ${entry.source} both define store "${name}" but point to different places; the 0.12 store must be where the 0.11 objects are`);
      return;
    }
    stores[name] = earlier ? { ...earlier, credentials: earlier.credentials ?? entry.credentials } : entry;
  };
  for (const [key, value] of Object.entries(json)) {
    const suffix = suffixOfLegacyType(key);
    if (suffix === null) continue;
    const entry = parseStore(value, key, problems);
    if (entry) add(suffix === '' ? defaultStore : suffix, entry);
  }
  if (json.stores !== undefined) {
    if (!isObject(json.stores)) problems.push('stores must be an object of store name → store settings');
    else {
      for (const [name, value] of Object.entries(json.stores)) {
        const entry = parseStore(value, `stores.${name}`, problems);
        if (entry) add(name, entry);
      }
    }
  }
  if (problems.length) throw new MigrationRefusedError(`${source} has problems; fix these fields:`, problems);
  return { database, stores };
}

/** The store locations for an execution input: no credentials. */
export function storeLocations(config: DataJointConfig): Record<string, StoreSpec> {
  return Object.fromEntries(Object.entries(config.stores).map(([name, store]) => [name, store.spec]));
}

function parseDatabase(json: Json, env: NodeJS.ProcessEnv, problems: string[]): DatabaseAccess {
  const read = (key: string) => (json[`database.${key}`] ?? (isObject(json.database) ? json.database[key] : undefined)) as unknown;
  const rawHost = env.DJ_HOST ?? read('host');
  const user = env.DJ_USER ?? read('user');
  const password = env.DJ_PASS ?? read('password') ?? '';
  if (typeof rawHost !== 'string' || rawHost === '') problems.push('database.host is missing (or set DJ_HOST)');
  if (typeof user !== 'string' || user === '') problems.push('database.user is missing (or set DJ_USER)');
  if (typeof password !== 'string') problems.push('database.password must be a string (or set DJ_PASS)');
  // DataJoint accepts `host:port` in database.host.
  const [host, hostPort] = typeof rawHost === 'string' ? rawHost.split(':') : [''];
  const port = Number(hostPort ?? read('port') ?? 3306);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) problems.push(`database.port ${JSON.stringify(read('port'))} is not a port number`);
  return { host, port, user: String(user ?? ''), password: String(password) };
}

function parseStore(value: unknown, source: string, problems: string[]): ConfiguredStore | null {
  if (!isObject(value)) {
    problems.push(`${source} must be an object with protocol and location`);
    return null;
  }
  const text = (key: string) => (typeof value[key] === 'string' ? (value[key] as string) : undefined);
  const protocol = text('protocol');
  const location = text('location');
  if (protocol === 'file') {
    if (!location) {
      problems.push(`${source}.location is missing: the folder that holds the store`);
      return null;
    }
    return { spec: { protocol: 'file', location }, source };
  }
  if (protocol === 's3') {
    const bucket = text('bucket');
    const missing = ['bucket', 'location'].filter((key) => text(key) === undefined);
    if (missing.length) {
      problems.push(`${source} is an s3 store without ${missing.join(' and ')}`);
      return null;
    }
    const accessKey = text('access_key');
    const secretKey = text('secret_key');
    return {
      spec: {
        protocol: 's3',
        bucket: bucket!,
        location: location!,
        ...(text('endpoint') ? { endpoint: text('endpoint') } : {}),
        ...(typeof value.secure === 'boolean' ? { secure: value.secure } : {}),
      },
      ...(accessKey && secretKey ? { credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } } : {}),
      source,
    };
  }
  problems.push(`${source}.protocol is ${JSON.stringify(value.protocol)}; djmigrate reads "s3" and "file" stores`);
  return null;
}

function sameLocation(a: StoreSpec, b: StoreSpec): boolean {
  if (a.protocol === 'file' || b.protocol === 'file') return a.protocol === b.protocol && a.location === b.location;
  return a.bucket === b.bucket && a.location === b.location && (a.endpoint ?? '') === (b.endpoint ?? '');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
