/**
 * Small JSON documents (a manifest, a job state file) read from and written
 * to a local path or `s3://`. Only these are read whole, and with a cap.
 */
import { rm } from 'node:fs/promises';
import { PbError } from '../errors.js';
import { openSource } from './input.js';
import { writeOutput } from './output.js';
import { deleteS3, isS3Uri, s3ObjectExists } from './s3.js';

/** Manifests and state files stay far below this; anything bigger is not one. */
const MAX_DOC_BYTES = 64 * 1024 * 1024;

/** The document's JSON value, or `undefined` when `missingOk` and there is no such file or object. */
export async function readJsonDoc(uri: string, missingOk = false): Promise<unknown> {
  // Without s3:ListBucket, S3 answers a missing object with 403, not 404: ask the listing
  // (which a policy scoped to the prefix allows) whether the object is there at all.
  if (missingOk && isS3Uri(uri) && !(await s3ObjectExists(uri))) return undefined;
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of openSource(uri)) {
      size += chunk.length;
      if (size > MAX_DOC_BYTES)
        throw new PbError('PB_IO', 'larger than 64 MiB: not a manifest or state file', { file: uri });
      parts.push(chunk);
    }
  } catch (err) {
    if (missingOk && isMissing(err)) return undefined;
    throw err;
  }
  const text = Buffer.concat(parts).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PbError('PB_PARSE', `not valid JSON: ${(err as Error).message}`, { file: uri });
  }
}

/** Removes a document (no error when it is not there). */
export async function removeDoc(uri: string): Promise<void> {
  if (!isS3Uri(uri)) {
    await rm(uri, { force: true });
    return;
  }
  await deleteS3(uri);
}

function isMissing(err: unknown): boolean {
  const e = err as { code?: string; reason?: string; cause?: { code?: string; name?: string } };
  if (e.code === 'ENOENT' || e.cause?.code === 'ENOENT') return true;
  return e.cause?.name === 'NoSuchKey' || e.cause?.name === 'NotFound' || e.reason === 'no such object';
}

/** Writes the value as JSON, atomically (temp + rename locally; one PUT on S3, which is atomic). */
export async function writeJsonDoc(uri: string, value: unknown): Promise<void> {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  await writeOutput(uri, undefined, once(Buffer.from(text)));
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

export { isS3Uri };
