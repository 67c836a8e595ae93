import { PbError, type PbErrorCode } from '../../../errors.js';
import { type PartitionSet, reloadCost } from '../../../io/spill.js';
import { startWorker } from '../../../io/workers.js';
import type { PrevRead } from './prev.js';

/** What io/prev-worker.ts is given. */
export interface PrevJob {
  since: string;
  /** Its partitions go here, named prev-N.part, with the seed and count the main thread's use. */
  dir: string;
  scores: boolean;
  o: { top: number; escapeFormulas: boolean; maxLineLength: number };
}

/** Partitions on disk and their counters, as PartitionSet keeps them. */
export interface Spilled {
  paths: string[];
  keyBytes: number[];
  entries: number[];
}

export type PrevReply =
  | ({ read: PrevRead } & Spilled)
  | {
      error: {
        pb: boolean;
        code: PbErrorCode;
        reason: string;
        file?: string;
        line?: number;
        field?: string;
        stack?: string;
      };
    };

/**
 * PREV read on a worker thread into partitions of its own, while this
 * thread keys the sources: the two reads were most of --since's time, one
 * after the other on one core. The worker ends with its one reply.
 */
export function readPrevOnWorker(job: PrevJob): Promise<{ read: PrevRead } & Spilled> {
  const worker = startWorker('prev-worker', job);
  const done = new Promise<{ read: PrevRead } & Spilled>((resolve, reject) => {
    worker.once('message', (m: PrevReply) => {
      if ('read' in m) return resolve(m);
      const e = m.error;
      reject(
        e.pb
          ? new PbError(e.code, e.reason, { file: e.file, line: e.line, field: e.field })
          : new Error(`personalize-batch: reading --since PREV failed: ${e.stack ?? e.reason}`),
      );
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('personalize-batch: the --since worker stopped')));
  });
  return done.finally(() => worker.terminate());
}

/**
 * PREV's partitions joined with the sources' (same seed, same count): each
 * partition PREV's file then the sources', so PREV's keys come first in
 * each, as when one thread wrote both. Nothing is copied: appending the
 * 256 files one after the other took 0.6 to 1.3 s of a 100 MB run on a
 * busy machine. Returns the joined set for eachPartition.
 */
export function joinPartitions(
  prev: Spilled,
  cur: PartitionSet,
): Spilled & Costed & { more: (string | undefined)[] } {
  const keyBytes = prev.keyBytes.map((k, i) => k + (cur.keyBytes[i] as number));
  const entries = prev.entries.map((n, i) => n + (cur.entries[i] as number));
  // Only a partition that holds a line has a file: a side without one is left out.
  const paths: string[] = [];
  const more: (string | undefined)[] = [];
  for (let i = 0; i < prev.paths.length; i++) {
    const mine = (prev.entries[i] as number) > 0 ? prev.paths[i] : undefined;
    const theirs = (cur.entries[i] as number) > 0 ? cur.paths[i] : undefined;
    paths.push(mine ?? theirs ?? (prev.paths[i] as string));
    more.push(mine === undefined ? undefined : theirs);
  }
  return {
    paths,
    more,
    keyBytes,
    entries,
    seed: cur.seed,
    cost: (i) => reloadCost(keyBytes[i] as number, entries[i] as number),
  };
}

export interface Costed {
  seed: number;
  cost(i: number): number;
}
