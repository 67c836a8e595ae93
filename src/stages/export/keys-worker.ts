import { parentPort, workerData } from 'node:worker_threads';
import { KeyFilter } from '../../core/key-filter.js';
import { OutLineParser } from '../../core/out-lines.js';
import { openBytes, readRange } from '../../io/out-range.js';
import { addKeys, type KeysRangeDone, type KeysRangeJob } from './users-keys.js';

/**
 * Worker entry: the user keys of a `.out` file's second part (from a line
 * start to the end) into a filter of its own, of the main thread's size;
 * the main thread ORs it into its own (see users-keys.ts).
 */

const job = workerData as KeysRangeJob;
const port = parentPort;
if (!port) throw new Error('keys-worker: not started as a worker');

const filter = new KeyFilter(0, 0, job.filter);
const parser = new OutLineParser();
const src = await openBytes(job.path, job.size);
try {
  for await (const item of readRange(src, job.from, job.size, job.read))
    if (item.kind !== 'bad') addKeys(item.bytes, filter, parser);
} finally {
  await src.close();
}
const done: KeysRangeDone = { added: filter.added };
port.postMessage(done);
