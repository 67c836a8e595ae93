import { parentPort, workerData } from 'node:worker_threads';
import { type ConvertConfig, Converter, type ConvertResult } from '../core/out-convert.js';

/**
 * Worker entry: converts pieces of batch-output lines while the main thread
 * converts others (export on two cores). Pieces arrive transferred (no
 * copy) and results go back transferred, tagged with the piece's id; the
 * main thread puts them back in order.
 */

export interface ConvertRequest {
  id: number;
  bytes: Uint8Array;
}

export type ConvertReply =
  | { id: number; result: Omit<ConvertResult, 'out' | 'errors'> & { out: Uint8Array; errors: Uint8Array } }
  | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error('convert-worker: not started as a worker');
const converter = new Converter(workerData as ConvertConfig);

port.on('message', (m: ConvertRequest) => {
  try {
    const r = converter.convert(Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
    const out = new Uint8Array(r.out.buffer, r.out.byteOffset, r.out.byteLength);
    const errors = new Uint8Array(r.errors.buffer, r.errors.byteOffset, r.errors.byteLength);
    // Both are the converter's own allocations (allocUnsafeSlow), never Buffer's shared pool.
    const transfer = [out, errors].filter((b) => b.byteLength > 0).map((b) => b.buffer as ArrayBuffer);
    port.postMessage({ id: m.id, result: { ...r, out, errors } } satisfies ConvertReply, transfer);
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) } satisfies ConvertReply);
  }
});
