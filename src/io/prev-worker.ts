import { parentPort, workerData } from 'node:worker_threads';
import { PbError } from '../errors.js';
import { type PrevJob, type PrevReply, readPrevInto } from '../stages/export/delta/prev-thread.js';

/**
 * Worker entry: `export --since` reads PREV into partitions of its own here
 * while the main thread keys the sources (the two reads are independent).
 * One reply: what PREV was and its partitions' counts, or the error.
 */

const port = parentPort;
if (!port) throw new Error('prev-worker: not started as a worker');
const job = workerData as PrevJob;
try {
  port.postMessage((await readPrevInto(job)) satisfies PrevReply);
} catch (err) {
  const e = err as PbError;
  port.postMessage({
    error: {
      pb: err instanceof PbError,
      code: e.code,
      reason: e.reason ?? e.message,
      file: e.file,
      line: e.line,
      field: e.field,
      stack: e.stack,
    },
  } satisfies PrevReply);
}
