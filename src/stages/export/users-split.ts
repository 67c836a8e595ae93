import { closeSync, openSync, readSync } from 'node:fs';
import { KeyFilter } from '../../core/key-filter.js';
import type { TableScanPlan } from '../../core/table-scan.js';
import { findCut, SPLIT_MIN_BYTES, splittableSize, startRangeWorker } from '../../io/fast-parallel.js';
import type { SpillDir } from '../../io/spill.js';
import type { TableRangeDone, TableSplit } from '../../io/table-rows.js';
import type { TextInfo } from '../../io/text.js';

/**
 * The users file's partitioning (users-spill.ts) on two threads: a local
 * UTF-8 file of some size is cut at a line end, this thread reads the first
 * part as always while users-worker.ts scans the second into fine
 * partitions of its own, row for row as this thread would write them, with
 * the same filter of the outputs' users (shared, not copied). The worker
 * takes only rows the byte path takes without help and stops at the first
 * other line, which this thread then reads on from (see io/table-rows.ts),
 * so errors come in file order with their lines. Its rows' lines are
 * numbered from the cut and offset when loaded; each fine partition is read
 * as this thread's part before the cut, the worker's, then this thread's
 * after it: the file's order, so the first row of a key still wins.
 */

/** What users-worker.ts is given. */
export interface UsersRangeJob {
  path: string;
  from: number;
  to: number;
  plan: TableScanPlan;
  /** The outputs' users (KeyFilter.shared()); undefined: every row is kept. */
  filter: SharedArrayBuffer | undefined;
  fine: number;
  dir: string;
  prefix: string;
}

/** What it did: its rows' partitions, their text per fine partition, and the keys it asked the filter. */
export interface UsersRangeDone extends TableRangeDone {
  asked: number;
  text: number[];
  paths: string[];
  entries: number[];
}

/**
 * From this size a users file is read on two threads, cut at `at` of it (tests change both);
 * undefined: where half the work is by a sample of the file (see balancedAt).
 */
export const usersSplit: { minBytes: number; at: number | undefined; adoptedBytes: number } = {
  minBytes: SPLIT_MIN_BYTES,
  at: undefined,
  adoptedBytes: 0,
};

/**
 * The second thread for an opened users file, or undefined when it is not a
 * local UTF-8 file read as it is (no gzip, no other encoding) of minBytes.
 * `adopt` gets the worker's part (`more`: this thread reads on after it).
 */
export async function usersSplitFor(
  opened: { file: string; info: TextInfo; idCol: number; src: { rawFrom: number; delimiter: string | null } },
  job: Pick<UsersRangeJob, 'filter' | 'fine'> & { spill: SpillDir },
  adopt: (done: UsersRangeDone, before: number, more: boolean) => Promise<void>,
): Promise<TableSplit<UsersRangeDone> | undefined> {
  const { file, info } = opened;
  const size = await splittableSize(file, info);
  if (size === undefined || size < Math.max(2, usersSplit.minBytes)) return undefined;
  const from = opened.src.rawFrom;
  const filter = job.filter && new KeyFilter(0, 0, job.filter);
  const k = { keyField: opened.idCol, delimiter: (opened.src.delimiter ?? ',').charCodeAt(0), filter };
  const at = usersSplit.at ?? (k.filter ? balancedAt(file, from, size, { ...k, filter: k.filter }) : 0.5);
  const cut = findCut(file, size, at);
  if (cut <= from) return undefined;
  return {
    path: file,
    size,
    cut,
    start: (plan) => startRange({ path: file, from: cut, to: size, plan, ...job }),
    adopt: async (done, before) => {
      usersSplit.adoptedBytes += done.stop - cut;
      await adopt(done, before, done.stop < size);
    },
  };
}

/**
 * A kept row's cost against a skipped one's (its fields split, its record encoded and written): on
 * the benchmark's file, about 0.8 µs of CPU against 0.3 µs.
 */
const KEPT = 3;
const WINDOWS = 64;
const WINDOW = 64 * 1024;

/**
 * Where (a fraction of the file) half the partitioning's work lies, by 64
 * windows of 64 KiB spread over the file: a row the filter keeps costs
 * about three skipped ones, and a CRM file may hold the run's users anywhere
 * (the benchmark's first). Only the threads' balance depends on it.
 */
function balancedAt(
  file: string,
  from: number,
  size: number,
  k: { keyField: number; delimiter: number; filter: KeyFilter },
): number {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(WINDOW);
  const density: number[] = [];
  try {
    for (let w = 0; w < WINDOWS; w++) {
      const pos = from + Math.floor(((size - from - WINDOW) * w) / (WINDOWS - 1));
      const n = readSync(fd, buf, 0, WINDOW, Math.max(from, pos));
      density.push(windowCost(buf.subarray(0, n), k));
    }
  } finally {
    closeSync(fd);
  }
  const total = density.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return 0.5;
  let sum = 0;
  for (let w = 0; w < WINDOWS; w++) {
    const d = density[w] as number;
    if (sum + d >= total / 2) {
      const at = (w + (total / 2 - sum) / d) / WINDOWS;
      return Math.min(0.95, Math.max(0.05, (from + at * (size - from)) / size));
    }
    sum += d;
  }
  return 0.5;
}

/** The work per byte of a window's whole lines: KEPT for a row the filter keeps, 1 for another. */
function windowCost(buf: Buffer, k: { keyField: number; delimiter: number; filter: KeyFilter }): number {
  let p = buf.indexOf(LF) + 1;
  const start = p;
  let cost = 0;
  for (let nl = buf.indexOf(LF, p); nl !== -1 && p > 0; nl = buf.indexOf(LF, p)) {
    let s = p;
    for (let f = 0; f < k.keyField && s < nl; f++) {
      while (s < nl && buf[s] !== k.delimiter) s++;
      s++;
    }
    let e = s;
    while (e < nl && buf[e] !== k.delimiter && buf[e] !== CR) e++;
    while (s < e && (buf[s] === SPACE || buf[s] === QUOTE)) s++;
    while (e > s && (buf[e - 1] === SPACE || buf[e - 1] === QUOTE)) e--;
    cost += e > s && k.filter.has(buf, s, e) ? KEPT : 1;
    p = nl + 1;
  }
  return p > start ? cost / (p - start) : 0;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;

/** The worker on [from, to); its result undefined when it failed (this thread then reads that part). */
function startRange(job: Omit<UsersRangeJob, 'dir' | 'prefix'> & { spill: SpillDir }): {
  result: Promise<UsersRangeDone | undefined>;
  stop(): Promise<void>;
} {
  const { spill, ...rest } = job;
  return startRangeWorker<UsersRangeDone>(
    spill,
    'users-worker',
    (dir, prefix): UsersRangeJob => ({ ...rest, dir, prefix }),
    import.meta.url,
  );
}
