/**
 * s3rver 3.7.1's filesystem store, mended where it breaks read-after-write:
 * its putObject answered the PUT before the object's file was written (for
 * a body in memory it ended the write stream and returned at once; for a
 * stream it waited for the hashing, not the file) and wrote over the old
 * file in place. A GET soon after saw the old bytes, none, or a mix: a
 * run's state.json read back as invalid JSON on a busy machine. Real S3
 * gives read-after-write consistency, so the emulator must too.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: unknown;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
}

const MENDED = Symbol.for('personalize-batch.s3rver-put');

/**
 * Written to a temporary file beside the object's and renamed over it once
 * complete, then answered: a reader sees the whole old object or the whole
 * new one. The temporary name does not end in s3rver's object suffix, so
 * listings never show it.
 */
async function putObject(
  this: FilesystemStore,
  object: StoredObject,
): Promise<{ size: number; md5: string }> {
  const path = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${randomUUID()}`;
  const md5 = createHash('md5');
  let size = 0;
  const body = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
  try {
    await pipeline(
      body,
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          md5.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      }),
      createWriteStream(temp),
    );
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
}

/** Puts the mended putObject on the store class of this loaded s3rver (once). */
export function mendStore(require: NodeJS.Require): void {
  const store = require('s3rver/lib/stores/filesystem.js') as { prototype: Record<PropertyKey, unknown> };
  const proto = store.prototype;
  if (proto[MENDED]) return;
  proto.putObject = putObject;
  proto[MENDED] = true;
}
