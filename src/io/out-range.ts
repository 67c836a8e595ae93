import { type FileHandle, open, stat } from 'node:fs/promises';
import { UTF8_BOM } from '../core/sniff-bytes.js';
import { PbError } from '../errors.js';
import { LineCutter, looksLikeJsonLines, type OutItem, type OutReadOptions } from './out-reader.js';
import { defaultS3Client, parseS3Uri, s3Error, s3Sdk } from './s3.js';
import { checkAborted, scopeSignal } from './scope.js';

/**
 * `export --part`: a `.out` file read from a byte offset to another, cut
 * on line boundaries. Local files by positional reads, `s3://` objects by
 * ranged GETs (the ETag pinned, as readS3 does, so a changed object is an
 * error and not a mix).
 */

const LF = 10;

/** Random access to one source's bytes. */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Up to len bytes at pos (fewer at the end). */
  readAt(pos: number, len: number): Promise<Buffer>;
  /** Reads into buf from pos; the bytes read (fewer at the end). */
  readInto(buf: Buffer, pos: number): Promise<number>;
  close(): Promise<void>;
}

/** Each source's size in bytes: a stat, or a HEAD for `s3://` (16 at a time). */
export async function sourceSizes(names: readonly string[]): Promise<number[]> {
  const sizes: number[] = new Array(names.length).fill(0);
  let next = 0;
  const one = async () => {
    for (let i = next++; i < names.length; i = next++) sizes[i] = await sizeOf(names[i] as string);
  };
  await Promise.all(Array.from({ length: Math.min(16, names.length) }, one));
  return sizes;
}

async function sizeOf(name: string): Promise<number> {
  if (name.startsWith('s3://')) {
    const { bucket, key } = parseS3Uri(name);
    try {
      const head = await defaultS3Client().send(
        new (s3Sdk().HeadObjectCommand)({ Bucket: bucket, Key: key }),
      );
      return head.ContentLength ?? 0;
    } catch (err) {
      throw s3Error(name, err);
    }
  }
  try {
    return (await stat(name)).size;
  } catch (err) {
    throw new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file: name }, { cause: err });
  }
}

/** A source opened for reads at offsets. */
export async function openBytes(name: string, size: number): Promise<ByteSource> {
  if (name.startsWith('s3://')) return new S3Bytes(name, size);
  let fh: FileHandle;
  try {
    fh = await open(name, 'r');
  } catch (err) {
    throw new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file: name }, { cause: err });
  }
  const readInto = async (buf: Buffer, pos: number) => {
    let got = 0;
    try {
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, pos + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch (err) {
      throw new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file: name }, { cause: err });
    }
    return got;
  };
  return {
    name,
    size,
    readInto,
    readAt: async (pos, len) => {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(len, size - pos)));
      return buf.subarray(0, await readInto(buf, pos));
    },
    close: () => fh.close(),
  };
}

/** An S3 object read by ranged GETs; the first answer's ETag is required of the rest. */
class S3Bytes implements ByteSource {
  private etag: string | undefined;

  constructor(
    readonly name: string,
    readonly size: number,
  ) {}

  async readAt(pos: number, len: number): Promise<Buffer> {
    const end = Math.min(this.size, pos + len);
    if (end <= pos) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for await (const b of this.stream(pos, end)) parts.push(b);
    return Buffer.concat(parts);
  }

  async readInto(buf: Buffer, pos: number): Promise<number> {
    const b = await this.readAt(pos, buf.length);
    return b.copy(buf);
  }

  /** Bytes [from, to), resumed from the last byte received when a connection drops (5 times). */
  async *stream(from: number, to: number): AsyncGenerator<Buffer> {
    const { bucket, key } = parseS3Uri(this.name);
    const signal = scopeSignal();
    let resumes = 5;
    for (let at = from; at < to; ) {
      let body: AsyncIterable<Uint8Array>;
      try {
        checkAborted(signal);
        const res = await defaultS3Client().send(
          new (s3Sdk().GetObjectCommand)({
            Bucket: bucket,
            Key: key,
            Range: `bytes=${at}-${to - 1}`,
            IfMatch: this.etag,
          }),
          { abortSignal: signal },
        );
        this.etag ??= res.ETag;
        body = res.Body as AsyncIterable<Uint8Array>;
      } catch (err) {
        checkAborted(signal);
        throw s3Error(this.name, err);
      }
      try {
        for await (const c of body) {
          at += c.length;
          yield Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        }
        return;
      } catch (err) {
        checkAborted(signal);
        if (resumes-- <= 0) throw s3Error(this.name, err);
      }
    }
  }

  async close(): Promise<void> {}
}

/**
 * Where the first line that starts at or after `pos` starts: a line starts
 * at 0 or after an LF. The scan reads from pos - 1, more each time a long
 * line has no LF yet (64 KiB, doubling to 8 MiB).
 */
export async function lineStartFrom(src: ByteSource, pos: number): Promise<number> {
  if (pos <= 0) return 0;
  if (pos >= src.size) return src.size;
  let at = pos - 1;
  for (let len = 1 << 16; at < src.size; len = Math.min(len * 2, 1 << 23)) {
    const b = await src.readAt(at, len);
    if (b.length === 0) break;
    const lf = b.indexOf(LF);
    if (lf !== -1) return at + lf + 1;
    at += b.length;
  }
  return src.size;
}

/** LFs in bytes [0, to): the lines before `to` when `to` starts a line. Reads 1 MiB at a time. */
export async function linesBefore(src: ByteSource, to: number): Promise<number> {
  let n = 0;
  for (let at = 0; at < to; ) {
    checkAborted();
    const b = await src.readAt(at, Math.min(1 << 20, to - at));
    if (b.length === 0) break;
    for (let i = b.indexOf(LF); i !== -1; i = b.indexOf(LF, i + 1)) n++;
    at += b.length;
  }
  return n;
}

/**
 * Refuses a file that cannot be cut at line ends: gzip (named otherwise),
 * or objects spread over lines. Reads the first non-blank line, at most
 * maxLineLength bytes (a longer one is JSON Lines' problem to report).
 */
export async function checkCuttable(src: ByteSource, maxLineLength: number): Promise<void> {
  const head: Buffer[] = [];
  let got = 0;
  for (let len = 1 << 16; got <= maxLineLength && got < src.size; len = Math.min(len * 2, 1 << 23)) {
    const b = await src.readAt(got, len);
    if (b.length === 0) break;
    head.push(b);
    got += b.length;
    if (got >= 2 && head[0]?.[0] === 0x1f && head[0]?.[1] === 0x8b)
      throw new PbError(
        'PB_USAGE',
        'this file is gzipped: --part cuts files by bytes, which gzip cannot be read from; name it .gz (it is then given whole to one part) or gunzip it',
        { file: src.name },
      );
    const all = Buffer.concat(head);
    const text = all.subarray(0, 3).equals(UTF8_BOM) ? all.subarray(3) : all;
    const first = text.findIndex((c) => c !== 32 && c !== 9 && c !== 13 && c !== LF);
    if (first === -1 || text.indexOf(LF, first) === -1) continue;
    if (looksLikeJsonLines(text)) return;
    throw new PbError(
      'PB_USAGE',
      'this file is not JSON Lines (objects spread over lines, or several on one line): --part cuts files at line ends, which would split its objects; export it whole, with fewer parts than files, or in one process',
      { file: src.name },
    );
  }
}

/** The lines of bytes [from, to) as pieces (both ends on line starts); a byte order mark at 0 dropped. */
export async function* readRange(
  src: ByteSource,
  from: number,
  to: number,
  opts: OutReadOptions,
): AsyncGenerator<OutItem> {
  const chunks = src instanceof S3Bytes ? src.stream(from, to) : undefined;
  try {
    yield* cutRange(src, from, to, chunks, opts);
  } finally {
    await chunks?.return(undefined);
  }
}

async function* cutRange(
  src: ByteSource,
  from: number,
  to: number,
  chunks: AsyncGenerator<Buffer> | undefined,
  opts: OutReadOptions,
): AsyncGenerator<OutItem> {
  const cutter = new LineCutter(opts.pieceSize, opts.maxLineLength, opts.pool);
  const items: OutItem[] = [];
  const emit = (x: OutItem) => {
    items.push(x);
  };
  for (let at = from; at < to; ) {
    checkAborted();
    let n: number;
    if (chunks) {
      const r = await chunks.next();
      if (r.done) break;
      n = r.value.length;
      cutter.push(at === 0 && r.value.subarray(0, 3).equals(UTF8_BOM) ? r.value.subarray(3) : r.value, emit);
    } else {
      // Straight into the cutter's piece buffer, as readOutItems reads a local file.
      const space = cutter.space(emit);
      n = await src.readInto(space.subarray(0, Math.min(space.length, to - at)), at);
      if (n === 0) break;
      cutter.filled(n, emit);
      if (at === 0 && cutter.held().subarray(0, 3).equals(UTF8_BOM)) cutter.dropHead(3);
    }
    at += n;
    opts.onBytes?.(n);
    yield* items.splice(0);
  }
  cutter.end(emit);
  yield* items.splice(0);
}
