import { stat } from 'node:fs/promises';
import type { TableScanPlan } from '../../core/table-scan.js';
import { findCut, SPLIT_MIN_BYTES } from '../../io/fast-parallel.js';
import { isS3Uri } from '../../io/s3.js';
import type { SpillDir } from '../../io/spill.js';
import type { TableRangeDone, TableSplit } from '../../io/table-rows.js';
import type { TextInfo } from '../../io/text.js';
import { startWorker } from '../../io/workers.js';

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

/** From this size a users file is read on two threads, cut at `at` of it (tests change both). */
export const usersSplit = { minBytes: SPLIT_MIN_BYTES, at: 0.5, adoptedBytes: 0 };

/**
 * The second thread for an opened users file, or undefined when it is not a
 * local UTF-8 file read as it is (no gzip, no other encoding) of minBytes.
 * `adopt` gets the worker's part (`more`: this thread reads on after it).
 */
export async function usersSplitFor(
  opened: { file: string; info: TextInfo; src: { rawFrom: number } },
  job: Pick<UsersRangeJob, 'filter' | 'fine'> & { spill: SpillDir },
  adopt: (done: UsersRangeDone, before: number, more: boolean) => Promise<void>,
): Promise<TableSplit<UsersRangeDone> | undefined> {
  const { file, info } = opened;
  if (file === '-' || isS3Uri(file) || info.gzip || info.encoding !== 'utf-8') return undefined;
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  if (size < Math.max(2, usersSplit.minBytes)) return undefined;
  const cut = findCut(file, size, usersSplit.at);
  if (cut <= opened.src.rawFrom) return undefined;
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

/** The worker on [from, to); its result undefined when it failed (this thread then reads that part). */
function startRange(job: Omit<UsersRangeJob, 'dir' | 'prefix'> & { spill: SpillDir }): {
  result: Promise<UsersRangeDone | undefined>;
  stop(): Promise<void>;
} {
  const { spill, ...rest } = job;
  const started = spill.reserve().then(({ dir, prefix }) => {
    const data: UsersRangeJob = { ...rest, dir, prefix };
    return startWorker('users-worker', data, { beside: import.meta.url });
  });
  const result = started.then(
    (w) =>
      new Promise<UsersRangeDone | undefined>((resolve) => {
        w.once('message', (m: UsersRangeDone) => resolve(m));
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
