import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { raceAbort } from './abort.js';
import type { ScanPlan } from './fast-scan.js';
import { ioError } from './input.js';
import { isS3Uri } from './s3.js';
import { checkAborted, scopeSignal } from './scope.js';
import type { SpillDir, WrittenParts } from './spill.js';
import type { TextInfo } from './text.js';
import { startWorker } from './workers.js';

/**
 * The fast path on two cores for a local file whose records all go to the
 * spill partitions (a dedupe past its budget from the start). The file is
 * cut in two at a line end: this thread scans the first part as always
 * while a worker (scan-worker.ts) scans the second into partition files of
 * its own. Each partition is then read as this thread's file, the worker's,
 * then the rest of this thread's: the same lines in the same order as one
 * thread writes, so the drain keeps the same first occurrences and writes
 * the same bytes.
 *
 * The worker takes only what the byte path takes without help: it stops at
 * the first line that needs the general path (a quote in its piece, an id
 * the Scanner hands over, bytes that are not UTF-8, a line past the limit),
 * and this thread goes on from that line, so rejects and errors come in
 * input order with their line numbers. When the cut falls inside a quoted
 * record (or before the header ends), the worker's part is dropped and this
 * thread reads on from the cut, as without a worker.
 */

export interface SplitPlan {
  path: string;
  /** Where the source's bytes start: after a byte order mark and the lines skipped (RowSource.rawFrom). */
  from: number;
  size: number;
  /** Where the worker's part starts: just after a line end. */
  cut: number;
  spill: SpillDir;
}

/** What the worker did: its part ends at `stop` (the file's end when it took it all). */
export interface RangeDone {
  stop: number;
  lines: number;
  recordsRead: number;
  blankLines: number;
  /** Its part held characters past ASCII (the UTF-8 message says so). */
  nonAscii: boolean;
  /** The worker's partition files, in the order the Deduper's own are. */
  parts: WrittenParts;
}

/** What scan-worker.ts is given. */
export interface ScanJob {
  path: string;
  from: number;
  to: number;
  plan: ScanPlan;
  dir: string;
  prefix: string;
}

/** This thread's scan when it reaches the cut. */
export interface AtCut {
  midRecord: boolean;
  adopt(r: RangeDone): Promise<void>;
}

/** Bytes of files whose part a worker scanned (`adopt`ed), for tests that must know the worker ran. */
export const splitCounts = { adoptedBytes: 0 };

/** Files smaller than this are read by one thread: the worker's start costs about 50 ms. */
export const SPLIT_MIN_BYTES = 32 * 1024 * 1024;

/**
 * The size of a source two threads may read in parts: a local regular file
 * of UTF-8 text, not gzipped (its bytes are the text's); else undefined.
 */
export async function splittableSize(name: string, info: TextInfo): Promise<number | undefined> {
  if (name === '-' || isS3Uri(name) || info.gzip || info.encoding !== 'utf-8') return undefined;
  try {
    const st = await stat(name);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The byte just after the first line end at or past `at` (a fraction of the
 * file), or -1 when there is none before the end.
 */
export function findCut(path: string, size: number, at: number): number {
  const from = Math.max(1, Math.min(size - 1, Math.floor(size * at)));
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (let pos = from; pos < size; pos += buf.length) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      const lf = buf.subarray(0, n).indexOf(10);
      if (lf !== -1) return pos + lf + 1 < size ? pos + lf + 1 : -1;
    }
    return -1;
  } catch (err) {
    throw ioError(path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * The source's bytes for the fast path: the file up to the cut, then, once
 * this thread has scanned them, from where the worker stopped (or from the
 * cut) to its end. Read here, not through the source's stream (which
 * `close` lets go): UTF-8 read as it is, the same bytes.
 */
export async function* splitScan(
  close: () => Promise<void>,
  split: SplitPlan,
  plan: ScanPlan,
  atCut: () => AtCut,
): AsyncGenerator<Buffer> {
  await close();
  const worker = startRange(split, plan);
  try {
    yield* fileBytes(split.path, split.from, split.cut);
    // Here this thread has scanned everything before the cut (wholeLines asks for more only then).
    const here = atCut();
    let from = split.cut;
    if (!here.midRecord) {
      // Ctrl-C must not wait for the worker's part to be scanned.
      const done = await raceAbort(worker.result, scopeSignal());
      if (done) {
        await here.adopt(done);
        splitCounts.adoptedBytes += done.stop - split.cut;
        from = done.stop;
      }
    }
    await worker.stop();
    yield* fileBytes(split.path, from, split.size);
  } finally {
    await worker.stop();
  }
}

/** Reads per call: buffers this size stay in the CPU cache (see openLinesReusing). */
const READ = 256 * 1024;

/**
 * Bytes [from, to) of a file in synchronous reads into two buffers used in
 * turn: a chunk is overwritten by the read after the next one, by which time
 * wholeLines and the scan are done with it. `to` may be asked before each
 * read instead (given the place; it may move while the file is read).
 */
export async function* fileBytes(
  path: string,
  from: number,
  to: number | ((at: number) => number),
): AsyncGenerator<Buffer> {
  const endAt = typeof to === 'number' ? () => to : to;
  if (typeof to === 'number' && from >= to) return;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw ioError(path, err);
  }
  const bufs = [Buffer.allocUnsafe(READ), Buffer.allocUnsafe(READ)];
  const signal = scopeSignal();
  try {
    for (let at = from, turn = 0; ; turn ^= 1) {
      const end = endAt(at);
      if (at >= end) return;
      let n: number;
      try {
        n = readSync(fd, bufs[turn] as Buffer, 0, Math.min(READ, end - at), at);
      } catch (err) {
        throw ioError(path, err);
      }
      if (n <= 0) return;
      at += n;
      yield (bufs[turn] as Buffer).subarray(0, n);
      // Synchronous reads never give the event loop a turn: let it run now and then (every 4 MiB).
      if (at % (16 * READ) < n) await setImmediate();
      checkAborted(signal);
    }
  } finally {
    closeSync(fd);
  }
}

/** The worker on [cut, size); its result is undefined when it failed (this thread then reads that part itself). */
function startRange(
  split: SplitPlan,
  plan: ScanPlan,
): { result: Promise<RangeDone | undefined>; stop(): Promise<void> } {
  return startRangeWorker<RangeDone>(
    split.spill,
    'scan-worker',
    (dir, prefix): ScanJob => ({
      path: split.path,
      from: split.cut,
      to: split.size,
      plan,
      dir,
      prefix,
    }),
  );
}

/**
 * A worker reading a file's part into partitions of its own, in a folder and
 * prefix the spill reserves for it: `result` is its one message, or undefined
 * when it failed or ended without one (the caller then reads that part
 * itself); `stop()` ends it. `beside` is the module URL the entry sits beside.
 */
export function startRangeWorker<D>(
  spill: SpillDir,
  entry: string,
  data: (dir: string, prefix: string) => unknown,
  beside?: string,
): { result: Promise<D | undefined>; stop(): Promise<void> } {
  const started = spill
    .reserve()
    .then(({ dir, prefix }) => startWorker(entry, data(dir, prefix), beside ? { beside } : {}));
  const result = started.then(
    (w) =>
      new Promise<D | undefined>((resolve) => {
        w.once('message', (m: D) => resolve(m));
        w.once('error', () => resolve(undefined));
        w.once('exit', () => resolve(undefined));
      }),
    () => undefined,
  );
  let stopped: Promise<void> | undefined;
  return {
    result,
    stop: () => {
      stopped ??= started.then(
        (w) => w.terminate().then(() => undefined),
        () => undefined,
      );
      return stopped;
    },
  };
}
