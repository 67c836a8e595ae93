import { parentPort, workerData } from 'node:worker_threads';
import { PbError } from '../errors.js';
import { DeltaKeys } from '../stages/export/delta/keys.js';
import { readPrev } from '../stages/export/delta/prev.js';
import type { PrevJob, PrevReply } from '../stages/export/delta/prev-thread.js';
import { PartitionSet } from './spill.js';

/**
 * Worker entry: `export --since` reads PREV into partitions of its own here
 * while the main thread keys the sources (the two reads are independent).
 * One reply: what PREV was and its partitions' counts, or the error.
 */

const port = parentPort;
if (!port) throw new Error('prev-worker: not started as a worker');
const job = workerData as PrevJob;
const parts = new PartitionSet(job.dir, 'prev', 0);
try {
  const read = await readPrev(job.since, new DeltaKeys(parts, job.scores), job.o);
  await parts.close();
  port.postMessage({
    read,
    paths: parts.paths,
    keyBytes: parts.keyBytes,
    entries: parts.entries,
  } satisfies PrevReply);
} catch (err) {
  await parts.destroy();
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
