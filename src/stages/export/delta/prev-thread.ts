import { stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { PbError, type PbErrorCode } from '../../../errors.js';
import { isS3Uri } from '../../../io/s3.js';
import {
  joinSets,
  PartitionSet,
  reloadCost,
  SpillDir,
  type SpilledParts,
  type WrittenParts,
} from '../../../io/spill.js';
import { startWorker } from '../../../io/workers.js';
import { type DecidedShare, type DecideSettings, decideDelta } from './decide.js';
import { DeltaKeys } from './keys.js';
import { type PrevRead, type PrevReadOptions, readPrev } from './prev.js';

/** What io/prev-worker.ts is given. */
export interface PrevJob {
  since: string;
  /** Its partitions go here, named prev-N.part, with the seed and count the main thread's use. */
  dir: string;
  scores: boolean;
  o: PrevReadOptions;
}

/** The worker's share of step 2: the partitions joined, the odd ones its own. */
export interface DecideJob {
  parts: Pick<SpilledParts, 'paths' | 'entries' | 'keyBytes' | 'seed' | 'files'>;
  /** The current lines' bits, shared (Atomics.or). */
  write: Uint8Array;
  removedPath: string;
  settings: DecideSettings;
}

type Failure = {
  error: {
    pb: boolean;
    code: PbErrorCode;
    reason: string;
    file?: string;
    line?: number;
    field?: string;
    stack?: string;
    partition?: number;
  };
};

export type PrevReply = ({ read: PrevRead } & WrittenParts) | Failure;
export type DecideReply = { decided: DecidedShare } | Failure;

/** PREV's side of --since: its read, then its share of step 2 (the odd partitions). */
export interface PrevSide {
  read(): Promise<{ read: PrevRead } & WrittenParts>;
  decide(job: DecideJob): Promise<DecidedShare>;
  close(): Promise<unknown>;
}

/**
 * PREV's side on a worker thread (PrevThread), unless the export runs no
 * workers or PREV is a local file of at most four pieces: that takes less
 * time to read here than a thread takes to start (the rule that starts
 * export's workers from its third piece), and the same two functions run
 * on this thread, side by side with the sources' (PrevHere).
 */
export async function openPrevSide(
  job: PrevJob,
  o: { workers: number; pieceSize: number },
): Promise<PrevSide> {
  const small =
    o.workers === 0 ||
    (!isS3Uri(job.since) &&
      (await stat(job.since).then(
        (s) => s.isFile() && s.size <= 4 * o.pieceSize,
        () => false,
      )));
  return small ? new PrevHere(job) : new PrevThread(job);
}

/** PREV read into partitions of its own (on the worker, or here): what it was, and the partitions. */
export async function readPrevInto(job: PrevJob): Promise<{ read: PrevRead } & WrittenParts> {
  const parts = new PartitionSet(job.dir, 'prev', 0);
  try {
    const read = await readPrev(job.since, new DeltaKeys(parts, job.scores), job.o);
    await parts.close();
    return { read, paths: parts.paths, keyBytes: parts.keyBytes, entries: parts.entries };
  } catch (err) {
    await parts.destroy();
    throw err;
  }
}

/** The odd partitions decided (on the worker, or here); sub-partitions of an over-full one in a folder of their own. */
export async function decideOdd(job: PrevJob, d: DecideJob): Promise<DecidedShare> {
  const spill = new SpillDir(job.dir);
  try {
    return await decideDelta(spill, partsOf(d.parts), d.write, d.removedPath, d.settings, (i) => i % 2 === 1);
  } finally {
    await spill.dispose();
  }
}

class PrevHere implements PrevSide {
  constructor(private readonly job: PrevJob) {}
  read(): Promise<{ read: PrevRead } & WrittenParts> {
    return readPrevInto(this.job);
  }
  decide(d: DecideJob): Promise<DecidedShare> {
    return decideOdd(this.job, d);
  }
  async close(): Promise<void> {}
}

/**
 * PREV read on a worker thread into partitions of its own, while this
 * thread keys the sources: the two reads were most of --since's time, one
 * after the other on one core. The same worker then decides every other
 * partition while this thread decides the rest (decide()), or is let go
 * (close()).
 */
class PrevThread implements PrevSide {
  private readonly worker: Worker;
  private readonly replies: Promise<unknown>[] = [];
  private readonly waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];

  constructor(job: PrevJob) {
    this.worker = startWorker('prev-worker', job);
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        this.waiting.push({ resolve, reject });
      });
    this.replies.push(next(), next());
    this.worker.on('message', (m: unknown) => this.waiting.shift()?.resolve(m));
    const fail = (e: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    this.worker.once('error', fail);
    this.worker.once('exit', () => fail(new Error('personalize-batch: the --since worker stopped')));
    for (const r of this.replies) r.catch(() => {});
  }

  /** PREV's read and partitions. */
  async read(): Promise<{ read: PrevRead } & WrittenParts> {
    const m = (await this.replies[0]) as PrevReply;
    if ('read' in m) return m;
    throw failure(m, 'reading --since PREV');
  }

  /** The worker's share of step 2; its error carries the partition it met. */
  async decide(job: DecideJob): Promise<DecidedShare> {
    this.worker.postMessage(job);
    const m = (await this.replies[1]) as DecideReply;
    if ('decided' in m) return m.decided;
    throw failure(m, 'deciding --since');
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function failure(m: Failure, what: string): Error {
  const e = m.error;
  const err = e.pb
    ? new PbError(e.code, e.reason, { file: e.file, line: e.line, field: e.field })
    : new Error(`personalize-batch: ${what} failed: ${e.stack ?? e.reason}`);
  return Object.assign(err, { partition: e.partition });
}

/** An error as the worker posts it. */
export function failureOf(err: unknown): Failure {
  const e = err as PbError & { partition?: number };
  return {
    error: {
      pb: err instanceof PbError,
      code: e.code,
      reason: e.reason ?? e.message,
      file: e.file,
      line: e.line,
      field: e.field,
      stack: e.stack,
      partition: e.partition,
    },
  };
}

/**
 * PREV's partitions joined with the sources' (same seed, same count): each
 * partition PREV's file then the sources', so PREV's keys come first in
 * each, as when one thread wrote both.
 */
export function joinPartitions(prev: WrittenParts, cur: PartitionSet): SpilledParts {
  return joinSets([prev, cur], cur.seed);
}

/** DecideJob's partitions as eachPartition reads them, on the worker. */
export function partsOf(p: DecideJob['parts']): SpilledParts {
  return { ...p, cost: (i) => reloadCost(p.keyBytes[i] as number, p.entries[i] as number) };
}
