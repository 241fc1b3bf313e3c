import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface StreamDigest {
  md5: Buffer;
  sha256: Buffer;
  size: number;
}

/** MD5 and SHA-256 of a stream in one pass, chunk by chunk: memory stays flat whatever the object's size. */
export async function digestStream(stream: Readable): Promise<StreamDigest> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { md5: md5.digest(), sha256: sha256.digest(), size };
}
