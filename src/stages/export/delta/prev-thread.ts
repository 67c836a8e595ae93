import { PbError, type PbErrorCode } from '../../../errors.js';
import { joinSets, type PartitionSet, type SpilledParts, type WrittenParts } from '../../../io/spill.js';
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

export type PrevReply =
  | ({ read: PrevRead } & WrittenParts)
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
export function readPrevOnWorker(job: PrevJob): Promise<{ read: PrevRead } & WrittenParts> {
  const worker = startWorker('prev-worker', job);
  const done = new Promise<{ read: PrevRead } & WrittenParts>((resolve, reject) => {
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
 * each, as when one thread wrote both.
 */
export function joinPartitions(prev: WrittenParts, cur: PartitionSet): SpilledParts {
  return joinSets([prev, cur], cur.seed);
}
