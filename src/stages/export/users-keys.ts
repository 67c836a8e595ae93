import { stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { KeyFilter } from '../../core/key-filter.js';
import { decodeString, KEY_USER, LINE_BLANK, LINE_INVALID, OutLineParser } from '../../core/out-lines.js';
import { SPLIT_MIN_BYTES } from '../../io/fast-parallel.js';
import { prefetch } from '../../io/input.js';
import { type ByteSource, checkCuttable, lineStartFrom, openBytes, readRange } from '../../io/out-range.js';
import { type OutItem, type OutReadOptions, readOutItems } from '../../io/out-reader.js';
import { isS3Uri } from '../../io/s3.js';
import { startWorker } from '../../io/workers.js';
import type { ResolvedExportOptions } from './options.js';

/** What keys-worker.ts is given: a file's part from `from` (a line start) to its end, and its filter's bits. */
export interface KeysRangeJob {
  path: string;
  size: number;
  from: number;
  read: Pick<OutReadOptions, 'pieceSize' | 'maxLineLength'>;
  filter: SharedArrayBuffer;
}

/** What it did: the keys it added. */
export interface KeysRangeDone {
  added: number;
}

/** From this size a source's keys are read on two threads (tests lower it); `parts`: worker parts taken. */
export const keysSplit = { minBytes: SPLIT_MIN_BYTES, parts: 0 };

/**
 * The users the outputs name, as a KeyFilter, for a users file past
 * --memory-budget: one quick read of the sources for their user keys, so
 * that only the CRM rows of those users are held or partitioned. Only local
 * files are read twice; with stdin or s3:// sources there is no filter.
 * A local JSON Lines file of minBytes is read on two threads, the second
 * half on keys-worker.ts into a filter of the same size, ORed into this
 * one: the same bits as one thread's (a key's bits do not depend on order).
 * Memory: the filter, at most a quarter of the budget (twice that while a
 * worker adds to its own).
 */
export async function outputUserKeys(
  sources: readonly string[],
  o: ResolvedExportOptions,
): Promise<KeyFilter | undefined> {
  if (sources.some((s) => s === '-' || isS3Uri(s))) return undefined;
  const sizes: number[] = [];
  for (const s of sources) sizes.push((await stat(s)).size);
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const read = { pieceSize: o.pieceSize, maxLineLength: o.maxLineLength };
  let filter: KeyFilter | undefined;
  const parser = new OutLineParser();
  const take = (item: OutItem) => {
    if (item.kind === 'bad') return;
    filter ??= new KeyFilter(expectedKeys(item.bytes, bytes), Math.floor(o.memoryBudget / 4));
    addKeys(item.bytes, filter, parser);
  };
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i] as string;
    const size = sizes[i] as number;
    const src = size >= keysSplit.minBytes ? await openBytes(source, size) : undefined;
    try {
      const cut = src && (await cutOf(src, read));
      if (!src || cut === undefined) {
        // Read ahead: the reads (thread pool, the other core) overlap the keying here, as they did not in turn.
        for await (const item of prefetch(readOutItems(source, read), 2)) take(item);
        continue;
      }
      await twoThreads(src, cut, read, take, () => filter);
    } finally {
      await src?.close();
    }
  }
  return filter ?? new KeyFilter(0, 0);
}

/**
 * Where a file's second part starts (the first line start past its middle),
 * or undefined when it is not to be cut: gzip, not JSON Lines, or a first
 * part of no more than two pieces (the filter's size comes from the first
 * piece, which must be the one a whole read gives).
 */
async function cutOf(src: ByteSource, read: KeysRangeJob['read']): Promise<number | undefined> {
  try {
    await checkCuttable(src, read.maxLineLength);
  } catch {
    return undefined;
  }
  const cut = await lineStartFrom(src, Math.floor(src.size / 2));
  return cut > 2 * read.pieceSize && cut < src.size ? cut : undefined;
}

/** The file's first part read here, its second on keys-worker.ts once the filter exists, then ORed in. */
async function twoThreads(
  src: ByteSource,
  cut: number,
  read: KeysRangeJob['read'],
  take: (item: OutItem) => void,
  filter: () => KeyFilter | undefined,
): Promise<void> {
  let worker:
    | { bits: SharedArrayBuffer; result: Promise<KeysRangeDone | undefined>; thread: Worker }
    | undefined;
  try {
    for await (const item of prefetch(readRange(src, 0, cut, read), 2)) {
      take(item);
      const f = filter();
      if (f && !worker) {
        const bits = new SharedArrayBuffer(f.bytes);
        const job: KeysRangeJob = { path: src.name, size: src.size, from: cut, read, filter: bits };
        const thread = startWorker('keys-worker', job, { beside: import.meta.url });
        const result = new Promise<KeysRangeDone | undefined>((resolve) => {
          thread.once('message', (m: KeysRangeDone) => resolve(m));
          thread.once('error', () => resolve(undefined));
          thread.once('exit', () => resolve(undefined));
        });
        worker = { bits, result, thread };
      }
    }
    const done = worker && (await worker.result);
    if (worker && done) {
      keysSplit.parts++;
      (filter() as KeyFilter).merge(worker.bits, done.added);
      return;
    }
    // No worker (no line before the cut), or it failed: the second part here.
    for await (const item of prefetch(readRange(src, cut, src.size, read), 2)) take(item);
  } finally {
    await worker?.thread.terminate();
  }
}

/**
 * About how many keys the sources hold: their bytes over the first piece's
 * bytes a line, with half again to spare. A filter sized for 64-byte lines
 * was 8 times too large for the service's 500-byte ones, and its looks,
 * cache misses past the CPU's cache, were a fifth of a 5-million-row read.
 * Too low an estimate lets more rows through (the join stays exact).
 */
function expectedKeys(first: Buffer, bytes: number): number {
  let lines = 0;
  for (let p = first.indexOf(LF); p !== -1; p = first.indexOf(LF, p + 1)) lines++;
  const perLine = first.length / Math.max(1, lines);
  return Math.ceil((1.5 * bytes) / Math.max(16, perLine));
}

const LF = 10;
const CR = 13;
const QUOTE = 34;
const BACKSLASH = 92;
/** `{"input":{"userId":"`, as the service writes it (or with spaces: then the parser finds it). */
const PREFIX = Buffer.from('{"input":{"userId":"');

/** Each line's user key into the filter; a line in another form (or a key with escapes) through the parser. */
export function addKeys(piece: Buffer, filter: KeyFilter, parser: OutLineParser): void {
  const n = piece.length;
  let p = 0;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    let k = 0;
    while (k < PREFIX.length && piece[p + k] === PREFIX[k]) k++;
    let done = false;
    if (k === PREFIX.length) {
      const s = p + k;
      let e = s;
      while (e < nl && piece[e] !== QUOTE && piece[e] !== BACKSLASH) e++;
      if (piece[e] === QUOTE) {
        filter.add(piece, s, e);
        done = true;
      }
    }
    const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
    const status = done ? LINE_BLANK : parser.parse(piece, p, e);
    if (status !== LINE_BLANK && status !== LINE_INVALID && parser.keyField === KEY_USER) {
      if (parser.keyEscaped) {
        const key = Buffer.from(decodeString(piece, parser.keyStart, parser.keyEnd));
        filter.add(key, 0, key.length);
      } else filter.add(piece, parser.keyStart, parser.keyEnd);
    }
    p = nl + 1;
  }
}
