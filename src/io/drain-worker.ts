import { parentPort, workerData } from 'node:worker_threads';
import { DrainTable } from '../core/drain.js';
import { type DrainJob, type DrainMessage, drainFiles } from './dedupe.js';

/**
 * Worker entry: deduplicates its share of the spill partitions while the
 * main thread does the rest (partitions are independent). It sends one
 * message per partition and runs at most AHEAD partitions ahead of the
 * 'ack's: the main thread takes them in partition order, between its own,
 * and a worker that waited for each one stalled with it at every turn.
 */

const AHEAD = 3;

const job = workerData as DrainJob;
const port = parentPort;
if (!port) throw new Error('drain-worker: not started as a worker');
const derive = job.derive
  ? { prefix: Buffer.from(job.derive.prefix), suffix: Buffer.from(job.derive.suffix) }
  : undefined;
let unacked = 0;
let acked: (() => void) | undefined;
port.on('message', (m: string) => {
  if (m !== 'ack') return;
  unacked--;
  acked?.();
});

const table = new DrainTable(derive);
for (let i = 0; i < job.paths.length; i++) {
  const r = await drainFiles(job.paths[i] as string[], job.lines[i] ?? 0, table);
  // Transferred when the memory is the chunk's own: larger than Buffer's
  // shared pool, which must never be detached; small chunks are copied.
  const buf = r.chunk.buffer as ArrayBuffer;
  const transfer = r.chunk.byteOffset === 0 && buf.byteLength > Buffer.poolSize ? [buf] : [];
  const chunk = new Uint8Array(buf, r.chunk.byteOffset, r.chunk.length);
  port.postMessage(
    { kind: 'chunk', chunk, lines: r.lines, duplicates: r.duplicates } satisfies DrainMessage,
    transfer,
  );
  unacked++;
  while (unacked >= AHEAD)
    await new Promise<void>((res) => {
      acked = res;
    });
}
port.postMessage({ kind: 'done' } satisfies DrainMessage);
