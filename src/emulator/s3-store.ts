/**
 * s3rver 3.7.1's filesystem store, mended where it breaks read-after-write:
 * its putObject answered the PUT before the object's file was written (for
 * a body in memory it ended the write stream and returned at once; for a
 * stream it waited for the hashing, not the file) and wrote over the old
 * file in place. A GET soon after saw the old bytes, none, or a mix: a
 * run's state.json read back as invalid JSON on a busy machine. Real S3
 * gives read-after-write consistency, so the emulator must too.
 *
 * Its getObject also took the object's size (a stat) and then opened the
 * file by name: a PUT renaming a longer object in between gave the new bytes
 * cut at the old length (state.json again, cut mid-string). A GET and a
 * PUT's commit (the rename and the metadata files) now take turns per key,
 * and a GET reads the file it opened whatever is renamed over it after.
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

type StoreMethod = (
  this: FilesystemStore,
  bucket: string,
  key: string,
  ...rest: unknown[]
) => Promise<unknown>;

/** Each key's last turn: a GET, a PUT's commit or a DELETE waits for the one before it. */
const turns = new Map<string, Promise<unknown>>();

async function inTurn<T>(path: string, work: () => Promise<T>): Promise<T> {
  const before = turns.get(path);
  const mine = (async () => {
    await before?.catch(() => {});
    return work();
  })();
  turns.set(path, mine);
  try {
    return await mine;
  } finally {
    if (turns.get(path) === mine) turns.delete(path);
  }
}

/** s3rver's own method, run in the key's turn. */
function taking(original: StoreMethod): StoreMethod {
  return function (this: FilesystemStore, bucket, key, ...rest) {
    return inTurn(this.getResourcePath(bucket, key, 'object'), () =>
      original.call(this, bucket, key, ...rest),
    );
  };
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
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const digest = md5.digest('hex');
  await inTurn(path, async () => {
    await rename(temp, path).catch(async (err: unknown) => {
      await rm(temp, { force: true });
      throw err;
    });
    await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  });
  return { size, md5: digest };
}

/** Puts the mended putObject on the store class of this loaded s3rver (once). */
export function mendStore(require: NodeJS.Require): void {
  const store = require('s3rver/lib/stores/filesystem.js') as { prototype: Record<PropertyKey, unknown> };
  const proto = store.prototype;
  if (proto[MENDED]) return;
  proto.putObject = putObject;
  // getObject resolves once its file is open (HEAD goes through it too): the bytes are that file's.
  proto.getObject = taking(proto.getObject as StoreMethod);
  proto.deleteObject = taking(proto.deleteObject as StoreMethod);
  proto[MENDED] = true;
}
