// Byte-level fingerprints of everything a migration could touch: every database whose name starts with a schema's
// name (the schema, and any `_v2`/`_backup_…` a run might create), with each table's DDL and rows, and every object
// of the given buckets and folders (key → size and md5).
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { select, tableRef } from '../../functions/core/db/sql.js';
import { s3ClientConfig } from '../../functions/core/stores/s3-store.js';
import { sandbox } from './context.js';
import { schemaSnapshot } from './migration.js';

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');

/** Every database named `<schema>` or `<schema>…`, each with its tables' SHOW CREATE TABLE and all rows (journal included). */
export async function databaseChecksum(conn: Connection, schema: string): Promise<Record<string, unknown>> {
  const like = `${schema.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const databases = (await select<{ name: string }>(conn, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? ORDER BY SCHEMA_NAME', [like])).map(
    (row) => row.name,
  );
  const result: Record<string, unknown> = {};
  for (const database of databases) {
    const tables = await select<{ name: string }>(conn, 'SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [database]);
    const ddl: Record<string, string> = {};
    for (const { name } of tables) {
      const [row] = await select<Record<string, string>>(conn, `SHOW CREATE TABLE ${tableRef(database, name)}`);
      // AUTO_INCREMENT counters are not content; everything else of the DDL is.
      ddl[name] = md5(Buffer.from(String(row['Create Table'] ?? row['Create View']).replace(/ AUTO_INCREMENT=\d+/, '')));
    }
    result[database] = { ddl, content: md5(Buffer.from(JSON.stringify(await schemaSnapshot(conn, database, { includeJournal: true })))) };
  }
  return result;
}

/** Every object in the buckets and below the folders: `s3://bucket/key` or the absolute path → `size:md5`. */
export async function objectChecksum(buckets: string[], folders: string[]): Promise<Record<string, string>> {
  const listing: Record<string, string> = {};
  const context = sandbox();
  for (const bucket of buckets) {
    const client = new S3Client(s3ClientConfig({ endpoint: context.s3.endpoint, bucket }, context.s3.credentials));
    try {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
          const bytes = await got.Body!.transformToByteArray();
          listing[`s3://${bucket}/${object.Key}`] = `${bytes.length}:${md5(bytes)}`;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } finally {
      client.destroy();
    }
  }
  for (const folder of folders) {
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      const bytes = await readFile(path);
      listing[path] = `${bytes.length}:${md5(bytes)}`;
    }
  }
  return listing;
}
