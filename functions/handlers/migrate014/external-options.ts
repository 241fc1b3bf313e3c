import type { ExternalStorageOptions } from '../../core/migrate014/external-storage.js';
import type { Migrate014Input } from '../../core/migrate014/input.js';

/** migrate_external_storage's options for this input: the same on every call, as its journal requires. */
export function externalOptionsOf(input: Migrate014Input): ExternalStorageOptions {
  return { schema: input.schema, stores: input.stores, storeMap: input.storeMap, copyFiles: input.copyFiles, verifyObjects: input.verifyObjects };
}
