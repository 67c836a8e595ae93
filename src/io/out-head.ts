import { stat } from 'node:fs/promises';
import { PbError } from '../errors.js';
import { openSource } from './input.js';
import { expandOutSources, isOutName, looksLikeJsonLines } from './out-reader.js';
import { defaultS3Client, isS3Uri, listS3 } from './s3.js';

/**
 * The first lines of a batch-output source, for choosing its shape without
 * reading it: a file, a folder's first `.out` file, or an S3 prefix's first
 * `.out` object (the listing stops there). At most HEAD_BYTES are read,
 * gunzipped when the bytes are gzip; the head ends at its last whole line.
 */

/** What export sniffs its layout from: its first piece. */
export const HEAD_BYTES = 1024 * 1024;

export interface OutHead {
  /** A single file or object, or a folder or prefix of outputs. */
  kind: 'file' | 'folder' | 's3-object' | 's3-prefix';
  /** The file the head is from. */
  first: string;
  /** Some file (locally) or the first object (S3) is gzipped by name (`.out.gz`); locally, also whether any is plain. */
  gz: boolean;
  plain: boolean;
  head: Buffer;
}

export async function readOutHead(source: string): Promise<OutHead> {
  let kind: OutHead['kind'];
  let files: string[];
  if (isS3Uri(source)) {
    kind = source.endsWith('/') ? 's3-prefix' : 's3-object';
    files = kind === 's3-object' ? [source] : await firstS3Out(source);
  } else {
    kind = (await isFolder(source)) ? 'folder' : 'file';
    files = await expandOutSources([source]);
  }
  const first = files[0] as string;
  let head = await headOf(first);
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) head = head.subarray(3);
  if (!looksLikeJsonLines(head))
    throw new PbError(
      'PB_PARSE',
      'not JSON Lines (objects spread over lines or packed on one line): warehouse JSON readers take one object a line, as the service writes; convert it with personalize-batch export --format jsonl, or export it directly',
      { file: first },
    );
  return {
    kind,
    first,
    gz: files.some((f) => f.endsWith('.gz')),
    plain: files.some((f) => !f.endsWith('.gz')),
    head,
  };
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false; // expandOutSources says why
  }
}

async function firstS3Out(prefix: string): Promise<string[]> {
  for await (const o of listS3(defaultS3Client(), prefix)) {
    if (isOutName(o.key)) return [`s3://${o.bucket}/${o.key}`];
  }
  throw new PbError('PB_IO', 'no .out objects under this prefix', { file: prefix });
}

/** Up to HEAD_BYTES of the file, cut after its last line feed (all of it when shorter). */
async function headOf(file: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  const it = openSource(file)[Symbol.asyncIterator]();
  try {
    while (n < HEAD_BYTES) {
      const r = await it.next();
      if (r.done) return Buffer.concat(parts);
      parts.push(r.value);
      n += r.value.length;
    }
  } finally {
    await it.return?.();
  }
  const all = Buffer.concat(parts).subarray(0, HEAD_BYTES);
  const lf = all.lastIndexOf(10);
  return lf === -1 ? all : all.subarray(0, lf + 1);
}
