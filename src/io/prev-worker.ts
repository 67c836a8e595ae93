import { parentPort, workerData } from 'node:worker_threads';
import { decideDelta } from '../stages/export/delta/decide.js';
import { DeltaKeys } from '../stages/export/delta/keys.js';
import { readPrev } from '../stages/export/delta/prev.js';
import {
  type DecideJob,
  type DecideReply,
  failureOf,
  type PrevJob,
  type PrevReply,
  partsOf,
} from '../stages/export/delta/prev-thread.js';
import { PartitionSet, SpillDir } from './spill.js';

/**
 * Worker entry: `export --since` reads PREV into partitions of its own here
 * while the main thread keys the sources (the two reads are independent),
 * then decides the odd partitions while the main thread decides the even
 * ones. Two replies: what PREV was and its partitions' counts, then its
 * share of the decisions; or the error.
 */

const port = parentPort;
if (!port) throw new Error('prev-worker: not started as a worker');
const job = workerData as PrevJob;
const parts = new PartitionSet(job.dir, 'prev', 0);
let read = false;
try {
  const r = await readPrev(job.since, new DeltaKeys(parts, job.scores), job.o);
  await parts.close();
  read = true;
  port.postMessage({
    read: r,
    paths: parts.paths,
    keyBytes: parts.keyBytes,
    entries: parts.entries,
  } satisfies PrevReply);
} catch (err) {
  await parts.destroy();
  port.postMessage(failureOf(err) satisfies PrevReply);
}
if (read)
  port.once('message', async (d: DecideJob) => {
    // Sub-partitions of an over-full partition go to a folder of this thread's own.
    const spill = new SpillDir(job.dir);
    try {
      const decided = await decideDelta(
        spill,
        partsOf(d.parts),
        d.write,
        d.removedPath,
        d.settings,
        (i) => i % 2 === 1,
      );
      port.postMessage({ decided } satisfies DecideReply);
    } catch (err) {
      port.postMessage(failureOf(err) satisfies DecideReply);
    } finally {
      await spill.dispose();
    }
  });
