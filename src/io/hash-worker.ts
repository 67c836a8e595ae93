import { createHash, type Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CONTROL_BYTES,
  CONTROL_INTS,
  ERROR_AT,
  ERROR_BYTES,
  ERROR_LENGTH,
  FAILED,
  type HashWorkerData,
  type HashWorkerReply,
  HEAD,
  HEADER_BYTES,
  OP_CLOSE,
  OP_DIGEST,
  OP_UPDATE,
  OP_WRAP,
  PRODUCER_WAITING,
  recordBytes,
  TAIL,
  WAKE_AT,
  WORKER_WAITING,
} from './hash-ring.js';

/**
 * Worker entry for OffThreadHasher (src/io/hasher.ts, which describes the
 * ring): hashes the records in the order they were written, one node:crypto
 * Hash per stream id, and frees each record's bytes as soon as it is hashed
 * so a producer blocked on a full ring can go on. The loop is synchronous:
 * nothing else runs on this thread, and replies are posted from inside it.
 */

const { sab, ringBytes } = workerData as HashWorkerData;
const port = parentPort;
if (!port) throw new Error('hash-worker: not started as a worker');
const ctl = new Int32Array(sab, 0, CONTROL_INTS);
const words = new Int32Array(sab, CONTROL_BYTES, ringBytes >> 2);
const bytes = new Uint8Array(sab, CONTROL_BYTES, ringBytes);
const mask = ringBytes - 1;
const maxPayload = ringBytes / 4 - HEADER_BYTES;
const hashes = new Map<number, Hash>();
let closed = false;

// Any way out other than CLOSE (an exception, process.exit) sets FAILED and
// wakes the producer, which may be blocked on a full ring and cannot hear
// the 'error' or 'exit' events until it returns to its event loop.
process.on('exit', () => {
  if (closed) return;
  Atomics.store(ctl, FAILED, 1);
  Atomics.notify(ctl, TAIL);
});

function hashOf(id: number): Hash {
  let h = hashes.get(id);
  if (!h) {
    h = createHash('sha256');
    hashes.set(id, h);
  }
  return h;
}

function run(): void {
  let tail = 0;
  for (;;) {
    const head = Atomics.load(ctl, HEAD);
    if (head === tail) {
      Atomics.store(ctl, WORKER_WAITING, 1);
      // Atomics.wait returns at once if head moved after the load above.
      Atomics.wait(ctl, HEAD, tail);
      Atomics.store(ctl, WORKER_WAITING, 0);
      continue;
    }
    while (tail !== head) {
      const pos = tail & mask;
      const w = pos >> 2;
      const op = words[w] as number;
      if (op === OP_WRAP) tail = (tail + ringBytes - pos) | 0;
      else {
        const id = words[w + 1] as number;
        const len = words[w + 2] as number;
        if (len < 0 || len > maxPayload || pos + recordBytes(len) > ringBytes)
          throw new Error(`hash-worker: corrupt record at ring offset ${pos}: length ${len}`);
        if (op === OP_UPDATE) {
          const at = pos + HEADER_BYTES;
          const chunk = bytes.subarray(at, at + len);
          hashOf(id).update(chunk);
          const also = words[w + 3] as number;
          if (also !== 0) hashOf(also).update(chunk);
        } else if (op === OP_DIGEST) {
          const hex = hashOf(id).digest('hex');
          hashes.delete(id);
          port?.postMessage({ id, hex } satisfies HashWorkerReply);
        } else if (op === OP_CLOSE) {
          closed = true;
          Atomics.store(ctl, TAIL, (tail + recordBytes(0)) | 0);
          return;
        } else throw new Error(`hash-worker: corrupt record at ring offset ${pos}: op ${op}`);
        tail = (tail + recordBytes(len)) | 0;
      }
      // Freed at once, record by record: a producer waiting for room goes on
      // while the rest is hashed.
      Atomics.store(ctl, TAIL, tail);
      if (Atomics.load(ctl, PRODUCER_WAITING) !== 0 && ((tail - Atomics.load(ctl, WAKE_AT)) | 0) >= 0)
        Atomics.notify(ctl, TAIL);
    }
  }
}

try {
  run();
} catch (err) {
  // The reason first, then FAILED: a producer blocked on a full ring reads it from here.
  const text = Buffer.from(err instanceof Error ? err.message : String(err)).subarray(0, ERROR_BYTES);
  new Uint8Array(sab, ERROR_AT, ERROR_BYTES).set(text);
  Atomics.store(ctl, ERROR_LENGTH, text.length);
  Atomics.store(ctl, FAILED, 1);
  Atomics.notify(ctl, TAIL);
  throw err;
}
