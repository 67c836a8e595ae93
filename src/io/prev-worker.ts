import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { type HalfJob, type HalfReply, readTheirParts } from '../stages/export/delta/prev-table.js';
import {
  type DecideJob,
  type DecideReply,
  decideOdd,
  failureOf,
  type PrevJob,
  type PrevReply,
  readPrevInto,
} from '../stages/export/delta/prev-thread.js';

/**
 * Worker entry: with a HalfJob, the table path's parts of PREV beside the
 * main thread's (see delta/prev-table.ts). Otherwise `export --since` reads PREV into partitions of its own here
 * while the main thread keys the sources (the two reads are independent),
 * then decides the odd partitions while the main thread decides the even
 * ones. Two replies: what PREV was and its partitions' counts, then its
 * share of the decisions; or the error.
 */

const port = parentPort;
if (!port) throw new Error('prev-worker: not started as a worker');
if ((workerData as HalfJob).half) await half(port, workerData as HalfJob);
else await partitions(port, workerData as PrevJob);

/** The table path (delta/prev-table.ts): parts of PREV into the arena's matching words. */
async function half(port: MessagePort, h: HalfJob): Promise<void> {
  port.postMessage((await readTheirParts(h)) satisfies HalfReply);
}

async function partitions(port: MessagePort, job: PrevJob): Promise<void> {
  let read = false;
  try {
    port.postMessage((await readPrevInto(job)) satisfies PrevReply);
    read = true;
  } catch (err) {
    port.postMessage(failureOf(err) satisfies PrevReply);
  }
  if (read)
    port.once('message', async (d: DecideJob) => {
      try {
        port.postMessage({ decided: await decideOdd(job, d) } satisfies DecideReply);
      } catch (err) {
        port.postMessage(failureOf(err) satisfies DecideReply);
      }
    });
}
