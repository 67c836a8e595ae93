import { parentPort, workerData } from 'node:worker_threads';
import { PartitionSet } from '../../io/spill.js';
import type { KeyJob, WorkerMessage } from './key-worker.js';
import { Keyer, PARTS_IN_FLIGHT } from './keyer.js';
import { keyInputs, keySources } from './keys.js';

/**
 * Worker entry (see key-worker.ts): step 1 on the files it is given, into
 * partitions of its own; it ends once it has told what it wrote.
 * It gives up on step 1 at the first line it would have to report (or any
 * error): the main thread then keys these files itself, so what is reported,
 * and in which order, is what one thread would report.
 */

const job = workerData as KeyJob;
const port = parentPort;
if (!port) throw new Error('collect-worker: not started as a worker');
const post = (m: WorkerMessage) => port.postMessage(m);

const GIVE_UP = new Error('collect-worker: a line to report');
// Read counts are sent in batches: a message per piece would be one per megabyte of each thread.
let lines = 0;
let bytes = 0;
const events = {
  file(file: string, role: 'output' | 'input') {
    post({ kind: 'file', file, role });
  },
  read(l: number, b: number) {
    lines += l;
    bytes += b;
    if (bytes >= 16 * 1024 * 1024) {
      post({ kind: 'read', lines, bytes });
      lines = 0;
      bytes = 0;
    }
  },
};

async function keyAll(): Promise<void> {
  const parts = new PartitionSet(job.dir, 'w', 0, undefined, undefined, 2, PARTS_IN_FLIGHT);
  const keyer = new Keyer(parts, job.maxLineLength, true);
  try {
    const linesPerSource = await keySources(keyer, job.sources, job, () => Promise.reject(GIVE_UP), events);
    const inputLines = await keyInputs(keyer, job.inputs, job, events);
    await parts.close();
    if (bytes > 0) post({ kind: 'read', lines, bytes });
    const k = keyer;
    post({
      kind: 'keyed',
      keyed: {
        ordinal: k.ordinal,
        inputOrdinal: k.inputOrdinal,
        errorLines: k.errorLines,
        withoutKey: k.withoutKey,
        errorsWithoutKey: k.errorsWithoutKey,
        blankLines: k.blankLines,
        inputWithoutKey: k.inputWithoutKey,
        linesPerSource,
        inputLines,
        keepOut: k.keepOut.sized(k.ordinal),
        keepError: k.keepError.sized(k.ordinal),
        parts: { paths: parts.paths, entries: parts.entries, keyBytes: parts.keyBytes },
      },
    });
  } catch (err) {
    await parts.destroy();
    post({ kind: 'gave-up', reason: err === GIVE_UP ? 'a line to report' : String(err) });
  }
}

// Listening keeps the worker alive until the main thread has its answer and ends it: an exit
// right after the last message would race it.
port.on('message', () => {});
await keyAll();
