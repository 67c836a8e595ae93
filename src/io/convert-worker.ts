import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Catalog, type SharedCatalog } from '../core/catalog.js';
import {
  type ConvertConfig,
  Converter,
  type ConvertResult,
  type UserGroupPass,
} from '../core/out-convert.js';
import { type FilterSetup, LineFilter } from '../stages/export/delta/filter.js';
import { pageCodec } from './parquet.js';
import { type PieceRequest, pieceBytes } from './piece-lane.js';

/**
 * Worker entry: converts pieces of batch-output lines while the other
 * worker converts others (export on two cores). A piece arrives as a slot
 * of the shared ring (or, when it did not fit one, as a transferred buffer).
 *
 * With `held` (local output files) the output never leaves this thread: the
 * reply gives its length, the main thread answers with the file and offset
 * it goes to (it assigns offsets in input order; split outputs have several
 * files), and this thread writes it there and reuses the buffer. Without
 * (stdout, .gz, s3://) the output
 * is transferred back and returned (`recycle`) once written.
 *
 * The join tables come once, in the setup, as views of the main thread's
 * shared memory: nothing of them is copied, nor sent per piece. A users
 * join on disk sends each partition's table, and its group of users, as
 * its pass starts.
 */

export interface WorkerSetup {
  cfg: ConvertConfig;
  slots: SharedArrayBuffer[];
  /** Keep outputs for positional writes (each names its file's descriptor); false: send them back. */
  held: boolean;
  /** The join tables (Catalog.share()): the catalog's items, the users file's users. */
  catalog?: SharedCatalog;
  users?: SharedCatalog;
  /** A users join on disk: the group of users converted (see core/out/user-groups.ts). */
  pass?: UserGroupPass;
  /** export --since's table path: each piece is cut to its kept lines here, before it is converted. */
  delta?: FilterSetup;
}

export type ConvertRequest =
  | PieceRequest
  | { write: number; fd: number; at: number }
  | { recycle: ArrayBuffer }
  /** A users join on disk: the next partition's table (the last one's pieces are all done). */
  | { users: SharedCatalog; pass: UserGroupPass | undefined };

type Counts = Omit<ConvertResult, 'out' | 'errors'>;

export type ConvertReply =
  /** Converted; `out` is absent when it stays here for a positional write of `outLength` bytes. */
  | {
      id: number;
      result: Counts & { out?: Uint8Array; outLength: number; errors: Uint8Array };
      piece?: Uint8Array;
    }
  | { id: number; error: string }
  | { wrote: number; error?: string };

const port = parentPort;
if (!port) throw new Error('convert-worker: not started as a worker');
const setup = workerData as WorkerSetup;
const converter = new Converter(
  setup.cfg,
  setup.catalog && Catalog.view(setup.catalog),
  setup.users && Catalog.view(setup.users),
  setup.cfg.parquet ? pageCodec() : undefined,
);
converter.setPass(setup.pass);
const slots = setup.slots.map((s) => Buffer.from(s));
const filter = setup.delta && new LineFilter(setup.delta);
const layout = setup.cfg.layout;
// --since decided as the converter writes each line (one scan of it), when the module writes the rows; else the piece is cut first.
const fused =
  filter !== undefined &&
  converter.wasm &&
  layout !== undefined &&
  (layout.keyField === 'userId' || layout.keyField === 'itemId') &&
  filter.fusable(layout.keyField, setup.cfg.top, setup.cfg.maxLineLength)
    ? filter
    : undefined;
/** Outputs waiting for their offset (held mode). */
const held = new Map<number, Buffer>();

port.on('message', (m: ConvertRequest) => {
  if ('users' in m) {
    converter.setUsers(Catalog.view(m.users));
    converter.setPass(m.pass);
    return;
  }
  if ('recycle' in m) {
    converter.recycle(m.recycle);
    return;
  }
  if ('write' in m) {
    const out = held.get(m.write) as Buffer;
    held.delete(m.write);
    try {
      let off = 0;
      while (off < out.length) off += writeSync(m.fd, out, off, out.length - off, m.at + off);
      converter.recycle(out.buffer as ArrayBuffer);
      port.postMessage({ wrote: m.write } satisfies ConvertReply);
    } catch (err) {
      port.postMessage({ wrote: m.write, error: (err as Error).message } satisfies ConvertReply);
    }
    return;
  }
  try {
    const whole = pieceBytes(m, slots);
    const piece = filter && !fused ? filter.apply(whole) : whole;
    const { out: outBuf, errors: errBuf, ...counts } = converter.convert(piece, fused);
    const errors = new Uint8Array(errBuf.buffer, errBuf.byteOffset, errBuf.byteLength);
    // Buffers made here are whole allocations of their own (allocUnsafeSlow), never Buffer's shared pool.
    const transfer: ArrayBuffer[] = errors.byteLength > 0 ? [errors.buffer as ArrayBuffer] : [];
    let back: Uint8Array | undefined;
    if ('bytes' in m) {
      back = m.bytes;
      transfer.push(m.bytes.buffer as ArrayBuffer);
    }
    if (setup.held) {
      held.set(m.id, outBuf);
      port.postMessage(
        {
          id: m.id,
          result: { ...counts, outLength: outBuf.length, errors },
          piece: back,
        } satisfies ConvertReply,
        transfer,
      );
      return;
    }
    const out = new Uint8Array(outBuf.buffer, outBuf.byteOffset, outBuf.byteLength);
    if (out.byteLength > 0) transfer.push(out.buffer as ArrayBuffer);
    port.postMessage(
      {
        id: m.id,
        result: { ...counts, out, outLength: out.length, errors },
        piece: back,
      } satisfies ConvertReply,
      transfer,
    );
  } catch (err) {
    port.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) } satisfies ConvertReply);
  }
});
