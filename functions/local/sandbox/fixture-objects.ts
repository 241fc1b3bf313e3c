// Fixture objects go through the same writers the migrations use: S3 PutObject, or a temp file renamed into place
// (which is also what DataJoint's `safe_write` does).
import { Readable } from 'node:stream';
import type { StoreSpec } from '../../core/config/store-spec.js';
import { openObjectWriter, type ObjectWriter } from '../../core/stores/object-writer.js';
import type { S3Credentials } from '../../core/stores/s3-store.js';

export class FixtureObjects {
  private readonly writers = new Map<string, ObjectWriter>();

  constructor(private readonly stores: Record<string, { spec: StoreSpec; credentials?: S3Credentials }>) {}

  async put(storeName: string, key: string, bytes: Buffer): Promise<void> {
    const store = this.stores[storeName];
    if (!store) throw new Error(`no store "${storeName}" configured (have: ${Object.keys(this.stores).join(', ') || 'none'})`);
    let writer = this.writers.get(storeName);
    if (!writer) {
      writer = openObjectWriter(store.spec, store.credentials);
      this.writers.set(storeName, writer);
    }
    await writer.put(key, Readable.from([bytes]), bytes.length);
  }
}
