import { stat } from 'node:fs/promises';
import { PbError, type PbErrorCode } from '../../../errors.js';
import { isS3Uri } from '../../../io/s3.js';
import { joinSets, PartitionSet, type SpilledParts, type WrittenParts } from '../../../io/spill.js';
import { startWorker } from '../../../io/workers.js';
import { DeltaKeys } from './keys.js';
import { type PrevRead, readPrev } from './prev.js';

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
 * PREV read into partitions of its own while this thread keys the sources:
 * on a worker thread (the two reads were most of --since's time, one after
 * the other on one core), unless the export runs no workers or PREV is a
 * local file of at most four pieces, which takes less time to read here
 * than a thread takes to start (the rule that starts export's workers from
 * its third piece).
 */
export async function readPrevBeside(
  job: PrevJob,
  o: { workers: number; pieceSize: number },
): Promise<{ read: PrevRead } & WrittenParts> {
  const small =
    o.workers === 0 ||
    (!isS3Uri(job.since) &&
      (await stat(job.since).then(
        (s) => s.isFile() && s.size <= 4 * o.pieceSize,
        () => false,
      )));
  return small ? readPrevInto(job) : readPrevOnWorker(job);
}

/** PREV read on this thread (the worker runs the same): what it was, and its partitions. */
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

/** PREV read on a worker thread; the worker ends with its one reply. */
function readPrevOnWorker(job: PrevJob): Promise<{ read: PrevRead } & WrittenParts> {
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
