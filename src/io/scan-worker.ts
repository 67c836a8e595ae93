import { isAscii, isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { PbError } from '../errors.js';
import type { RangeDone, ScanJob } from './fast-parallel.js';
import { DONE, type KeySink, Scanner, SLOW_LINE } from './fast-scan.js';
import { PartitionSet } from './spill.js';

/**
 * Worker entry: the fast path's scan over one byte range of a file, every
 * plain id to partition files of its own (see fast-parallel.ts). It stops at
 * the first line the main thread must read itself and posts where.
 */

const job = workerData as ScanJob;
const port = parentPort;
if (!port) throw new Error('scan-worker: not started as a worker');

/** The Deduper's one-byte payload for a line that follows from its key (dedupe.ts DERIVED). */
const DERIVED = Buffer.from([1]);
const QUOTE = 34;
const LF = 10;
const CHUNK = 256 * 1024;

const parts = new PartitionSet(job.dir, job.prefix, 0);
const sink: KeySink = {
  derive: undefined,
  diskOnly: true,
  addDerived(kbuf, ks, ke, hash) {
    const w = parts.write(kbuf, ks, ke, hash, DERIVED, 0, 1);
    return w ? w.then(() => false) : false;
  },
  addGrouped: (src, ends, recs) => parts.writeGrouped(src, ends, recs),
};
const counts = { recordsRead: 0, written: 0, blankLines: 0 };
const sc = new Scanner({ ...job.plan, headerRecords: 0, firstLine: 1 }, sink, counts);
/** The range held characters past ASCII. */
let nonAscii = false;

/** Scans one piece of whole lines at file offset `at`; the offset to stop at, or -1 to go on. */
async function piece(seg: Buffer, at: number): Promise<number> {
  // Pieces are whole lines, so each is UTF-8 on its own or not at all (a cut character at the file's end is not).
  if (!isUtf8(seg)) return at;
  // A quote may open a record over several lines: the lines before its line are this thread's, the rest not.
  const quote = seg.indexOf(QUOTE);
  const mine = quote === -1 ? seg : seg.subarray(0, seg.lastIndexOf(LF, quote) + 1);
  const stop = await scanLines(mine, at);
  if (!nonAscii && !isAscii(mine.subarray(0, stop === -1 ? mine.length : stop - at))) nonAscii = true;
  return stop === -1 && quote !== -1 ? at + mine.length : stop;
}

/** Scans whole lines at file offset `at` with no quote in them; the offset to stop at, or -1 to go on. */
async function scanLines(seg: Buffer, at: number): Promise<number> {
  sc.pos = 0;
  for (;;) {
    let status: number;
    try {
      status = sc.scan(seg);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      sc.line = sc.slowLine;
      return at + sc.slowStart;
    }
    if (status === DONE) break;
    if (status === SLOW_LINE) {
      counts.recordsRead--;
      sc.line = sc.slowLine;
      return at + sc.slowStart;
    }
    await sc.wait;
  }
  sc.take();
  return -1;
}

/** Reads [from, to) in pieces of whole lines; where the scan stopped. */
async function scanRange(fd: number): Promise<number> {
  let buf = Buffer.allocUnsafe(CHUNK);
  let fill = 0;
  let at = job.from;
  while (at + fill < job.to) {
    if (fill === buf.length) {
      // No line end in the whole buffer: a line past the limit is the main thread's to report.
      if (fill > job.plan.maxLineLength) return at;
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, fill);
      buf = bigger;
    }
    const n = readSync(fd, buf, fill, Math.min(buf.length - fill, job.to - at - fill), at + fill);
    if (n <= 0) return at;
    fill += n;
    const end = at + fill === job.to ? fill : buf.lastIndexOf(LF, fill - 1) + 1;
    if (end === 0) continue;
    const stop = await piece(buf.subarray(0, end), at);
    if (stop !== -1) return stop;
    buf.copy(buf, 0, end, fill);
    fill -= end;
    at += end;
  }
  return job.to;
}

const fd = openSync(job.path, 'r');
let stop: number;
try {
  stop = await scanRange(fd);
} finally {
  closeSync(fd);
}
await parts.close();
const done: RangeDone = {
  stop,
  lines: sc.line - 1,
  recordsRead: counts.recordsRead,
  blankLines: counts.blankLines,
  nonAscii,
  parts: { paths: parts.paths, entries: parts.entries, keyBytes: parts.keyBytes },
};
port.postMessage(done);
