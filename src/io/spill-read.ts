import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { wholeLines } from './input.js';
import { checkAborted } from './scope.js';

// The read side of spill.ts's partition files.

const TAB = 9;
const LF = 10;
const WHOLE = 64 * 1024 * 1024;

/**
 * One buffer a partition file after another is read into (grown to the
 * largest): a fresh buffer a partition was freed only by the next garbage
 * collection, and at 50 M keys (about 8 MB a partition) several waited for it.
 */
export interface ReadScratch {
  buf: Buffer;
}

/**
 * A partition's bytes in pieces that hold whole lines only, in write order.
 * With `scratch`, a piece is overwritten by the next read: the caller must be
 * done with it before it takes the next.
 */
export async function* readPartition(path: string, scratch?: ReadScratch): AsyncGenerator<Buffer> {
  // One read for a partition of modest size: streaming it in 256 KiB reads
  // left the thread idle between thread-pool round trips.
  checkAborted();
  const { size } = await stat(path);
  if (size <= WHOLE && scratch) {
    if (scratch.buf.length < size)
      scratch.buf = Buffer.allocUnsafeSlow(Math.max(size, Math.ceil(scratch.buf.length * 1.25)));
    if (size > 0) yield await readInto(path, scratch.buf, size);
    return;
  }
  if (size <= WHOLE) {
    const all = await readFile(path);
    if (all.length > 0) yield all;
    return;
  }
  yield* wholeLines(
    createReadStream(path, { highWaterMark: 1024 * 1024 }),
    Number.POSITIVE_INFINITY,
    () => undefined,
  );
}

/** The first `size` bytes of a file into buf (a file written whole before it is read: it does not shrink). */
async function readInto(path: string, buf: Buffer, size: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

/** A partition's lines, file after file; a Buffer is a file's lines held in memory. */
export async function* readFiles(
  files: readonly (string | Buffer)[],
  scratch?: ReadScratch,
): AsyncGenerator<Buffer> {
  for (const f of files) {
    if (typeof f === 'string') yield* readPartition(f, scratch);
    else yield f;
  }
}

/**
 * Calls fn(keyStart, keyEnd, payloadStart, payloadEnd) for each line of a
 * piece from readPartition. A callback, not objects: a drain visits every
 * spilled record and an object per line was a tenth of its time.
 */
export function eachLine(seg: Buffer, fn: (ks: number, ke: number, ps: number, pe: number) => void): void {
  const n = seg.length;
  let p = 0;
  while (p < n) {
    let tab = -1;
    let i = p;
    for (; i < n; i++) {
      const c = seg[i] as number;
      if (c === LF) break;
      if (c === TAB && tab === -1) tab = i;
    }
    fn(p, tab, tab + 1, i);
    p = i + 1;
  }
}
