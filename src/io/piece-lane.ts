import type { Worker } from 'node:worker_threads';
import type { SlotRing } from '../core/pool.js';
import { startWorker } from './workers.js';

/** A piece posted to a lane's worker: a slot of the shared ring, or a buffer whose memory moves there. */
export type PieceRequest = { id: number; slot: number; length: number } | { id: number; bytes: Uint8Array };

/** A piece's reply from the worker: its result, or why it failed. */
export type PieceReply<R> = { id: number; result: R } | { id: number; error: string };

/** The piece's bytes in the worker: the slot's first `length` bytes, or the transferred buffer. */
export function pieceBytes(m: PieceRequest, slots: readonly Buffer[]): Buffer {
  return 'slot' in m
    ? (slots[m.slot] as Buffer).subarray(0, m.length)
    : Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
}

/** What a lane's messages say of it: "conversion worker failed: ..." and the exit's message. */
export interface LaneNames {
  failed: string;
  stopped: string;
}

/**
 * One worker of a pass over pieces (export's conversion, the report's
 * tally): pieces are posted with an id, as a ring slot or transferred, and
 * their results resolved as they come back; the caller keeps the order. A
 * slot goes back to the ring once its piece's reply is in. A subclass
 * handles its own messages in other() and rejects its own waits in
 * failed(); a failure or an exit rejects every wait.
 */
export class PieceLane<R> {
  protected readonly worker: Worker;
  protected failure: unknown;
  private readonly waiting = new Map<number, { resolve: (r: R) => void; reject: (e: unknown) => void }>();
  private readonly slotOf = new Map<number, Buffer>();
  private nextId = 0;

  constructor(
    entry: string,
    setup: unknown,
    private readonly ring: SlotRing,
    private readonly names: LaneNames,
  ) {
    this.worker = startWorker(entry, setup);
    this.worker.on('message', (m: unknown) => {
      if (!this.other(m)) this.settle(m as PieceReply<R>);
    });
    const fail = (err: unknown) => {
      this.failure ??= err;
      for (const w of this.waiting.values()) w.reject(this.failure);
      this.waiting.clear();
      this.failed(this.failure);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', () => fail(new Error(`personalize-batch: ${names.stopped}`)));
  }

  /** A message that is not a piece's reply: true when the subclass took it. */
  protected other(_m: unknown): boolean {
    return false;
  }

  /** The worker failed or stopped: the subclass rejects what else waits on it. */
  protected failed(_err: unknown): void {}

  /** An error the worker reported, as this lane says it. */
  protected error(reason: string): Error {
    return new Error(`personalize-batch: ${this.names.failed}: ${reason}`);
  }

  private settle(m: PieceReply<R>): void {
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    const slot = this.slotOf.get(m.id);
    this.slotOf.delete(m.id);
    if (slot) this.ring.give(slot);
    if ('error' in m) w.reject(this.error(m.error));
    else w.resolve(m.result);
  }

  get busy(): number {
    return this.waiting.size;
  }

  /** Posts a piece. A plain buffer's memory moves to the worker (do not touch it after). */
  protected post(bytes: Buffer): { id: number; result: Promise<R> } {
    const id = this.nextId++;
    if (this.failure) return { id, result: Promise.reject(this.failure) };
    const result = new Promise<R>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const slot = this.ring.slotOf(bytes);
    if (slot >= 0) {
      this.slotOf.set(id, bytes);
      this.worker.postMessage({ id, slot, length: bytes.length } satisfies PieceRequest);
    } else {
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.worker.postMessage({ id, bytes: view } satisfies PieceRequest, [bytes.buffer as ArrayBuffer]);
    }
    return { id, result };
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
