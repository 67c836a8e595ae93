import { isAscii, isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { hashBytes } from '../../core/byteset.js';
import { KeyFilter } from '../../core/key-filter.js';
import { SCAN_DONE, SCAN_NO_KEY, SCAN_ROW, SCAN_SPLIT, TableScanner } from '../../core/table-scan.js';
import { PartitionSet, partitionOf } from '../../io/spill.js';
import { plainKey, RowRecord, utf16Units } from './users-rows.js';
import type { UsersRangeDone, UsersRangeJob } from './users-split.js';

/**
 * Worker entry: the users file's rows from the cut on into fine partitions
 * of their own, as UsersSpill.create writes them (see users-split.ts). It
 * stops at the first line the main thread must read itself (a quote, bytes
 * that are not UTF-8, a line for the general path, a key or value the bytes
 * cannot carry) and posts where.
 */

const job = workerData as UsersRangeJob;
const port = parentPort;
if (!port) throw new Error('users-worker: not started as a worker');

const LF = 10;
const QUOTE = 34;
const CHUNK = 1024 * 1024;

const filter = job.filter && new KeyFilter(0, 0, job.filter);
/** Keys asked of the filter, and the file offset of the last one (a line left to the main thread is asked there again). */
let asked = 0;
let askedAt = -1;
/** The file offset of the piece being scanned. */
let base = 0;
const want = filter
  ? (buf: Uint8Array, s: number, e: number) => {
      asked++;
      askedAt = base + s;
      return filter.has(buf, s, e);
    }
  : () => true;
const sc = new TableScanner({ ...job.plan, headerRecords: 0, firstLine: 1 }, want);
const parts = new PartitionSet(job.dir, job.prefix, 0, job.fine);
const record = new RowRecord();
const text = new Array<number>(job.fine).fill(0);
const columns = job.plan.columns;
let withoutKey = 0;
const withoutKeyLines: number[] = [];
let nonAscii = false;

/** A stop at file offset `at`, on line `line`: the lines before it are the worker's. */
function stopAt(at: number, line: number): { at: number; line: number } {
  if (askedAt >= at) asked--;
  return { at, line };
}

/** Scans whole lines with no quote at file offset `at`; where to stop, or undefined to go on. */
async function scanLines(seg: Buffer, at: number): Promise<{ at: number; line: number } | undefined> {
  base = at;
  sc.begin(seg);
  for (;;) {
    const status = sc.scan();
    if (status === SCAN_DONE) return undefined;
    if (status === SCAN_NO_KEY) {
      withoutKey++;
      if (withoutKeyLines.length < 5) withoutKeyLines.push(sc.rowLine);
      continue;
    }
    // A quoted line break (none in these lines, but the scanner's word is final) has no line counted yet.
    if (status === SCAN_SPLIT) return stopAt(at + sc.slowStart, sc.line);
    if (status !== SCAN_ROW) return stopAt(at + sc.slowStart, sc.slowLine);
    const ks = sc.keyStart;
    const ke = sc.keyEnd;
    const p = plainKey(seg, ks, ke) ? record.encodeScanned(sc.rowLine, sc, columns) : undefined;
    if (!p) return stopAt(at + sc.rowStart, sc.rowLine);
    const h = hashBytes(seg, ks, ke);
    text[partitionOf(h, job.fine)] += utf16Units(seg, ks, ke) + record.units;
    const w = parts.write(seg, ks, ke, h, p, 0, record.length);
    if (w) await w;
  }
}

/** One piece of whole lines at file offset `at`: the lines before its first quote's line are scanned here. */
async function piece(seg: Buffer, at: number): Promise<{ at: number; line: number } | undefined> {
  if (!isUtf8(seg)) return { at, line: sc.line };
  const quote = seg.indexOf(QUOTE);
  const mine = quote === -1 ? seg : seg.subarray(0, seg.lastIndexOf(LF, quote) + 1);
  const stop = await scanLines(mine, at);
  if (!nonAscii && !isAscii(mine.subarray(0, stop === undefined ? mine.length : stop.at - at)))
    nonAscii = true;
  return stop ?? (quote === -1 ? undefined : { at: at + mine.length, line: sc.line });
}

/** Reads [from, to) in pieces of whole lines; where the scan stopped. */
async function scanRange(fd: number): Promise<{ at: number; line: number }> {
  let buf = Buffer.allocUnsafe(CHUNK);
  let fill = 0;
  let at = job.from;
  while (at + fill < job.to) {
    if (fill === buf.length) {
      // No line end in the whole buffer: a line past the limit is the main thread's to report.
      if (fill > job.plan.maxLineLength) return { at, line: sc.line };
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, fill);
      buf = bigger;
    }
    const n = readSync(fd, buf, fill, Math.min(buf.length - fill, job.to - at - fill), at + fill);
    if (n <= 0) return { at, line: sc.line };
    fill += n;
    const end = at + fill === job.to ? fill : buf.lastIndexOf(LF, fill - 1) + 1;
    if (end === 0) continue;
    const stop = await piece(buf.subarray(0, end), at);
    if (stop) return stop;
    buf.copy(buf, 0, end, fill);
    fill -= end;
    at += end;
  }
  return { at: job.to, line: sc.line };
}

const fd = openSync(job.path, 'r');
let stop: { at: number; line: number };
try {
  stop = await scanRange(fd);
} finally {
  closeSync(fd);
}
await parts.close();
const done: UsersRangeDone = {
  stop: stop.at,
  lines: stop.line - 1,
  nonAscii,
  withoutKey,
  withoutKeyLines,
  asked,
  text,
  paths: parts.paths,
  entries: parts.entries,
};
port.postMessage(done);
