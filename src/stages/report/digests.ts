import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../io/workers.js';

export type DigestMessage =
  | { type: 'values'; rank: number; values: Float64Array; n: number }
  | { type: 'end' };
/** A batch taken in (`taken`, its buffer sent back), or at the end the quantiles. */
export type DigestReply =
  | { taken: true; values: Float64Array }
  | {
      /** Per rank, the quantiles asked for (NaN for a rank without scores). */
      quantiles: number[][];
    };

/** Scores sent in batches of this many: one message per 64 Ki values, not one per value. */
const BATCH = 64 * 1024;
/**
 * Batches sent and not yet taken in, at most (half a MiB each): when the
 * worker falls behind (the lanes finish a piece faster than it digests its
 * scores), the pass waits instead of queueing messages; on 1 GB the queue
 * had grown the peak RSS by some 40 MiB.
 */
const IN_FLIGHT = 8;

/**
 * Score quantiles per rank position, computed by t-digests (the npm
 * package `tdigest`) on a worker thread (io/digest-worker.ts). Memory:
 * one batch per rank here, a few in flight, and the digests' centroids.
 */
export class ScoreDigests {
  private readonly worker: Worker;
  private readonly bufs: Float64Array[];
  private readonly fill: number[];
  /**
   * Batches' buffers the worker sent back, used again: the worker makes
   * almost no garbage of its own, so the buffers it let go waited for a
   * collection that came late (40 MiB more at the peak on 1 GB).
   */
  private readonly spare: Float64Array[] = [];
  private failed: Error | undefined;
  private sent = 0;
  private taken = 0;
  private room: (() => void) | undefined;
  private replied: ((r: number[][]) => void) | undefined;

  constructor(
    private readonly ranks: number,
    quantiles: readonly number[],
  ) {
    this.worker = startWorker('digest-worker', { ranks, quantiles: [...quantiles] });
    this.worker.on('error', (err) => {
      this.failed = err;
      this.room?.();
    });
    this.worker.on('exit', () => {
      this.failed ??= new Error('personalize-batch: the score digest worker stopped');
      this.room?.();
    });
    this.worker.on('message', (m: DigestReply) => {
      if ('taken' in m) {
        this.taken++;
        this.spare.push(m.values);
        if (this.sent - this.taken < IN_FLIGHT) this.room?.();
      } else this.replied?.(m.quantiles);
    });
    this.bufs = Array.from({ length: ranks }, () => new Float64Array(BATCH));
    this.fill = new Array(ranks).fill(0);
  }

  add(rank: number, x: number): void {
    const buf = this.bufs[rank] as Float64Array;
    let n = this.fill[rank] as number;
    buf[n++] = x;
    if (n === BATCH) {
      this.send(rank, buf, n);
      this.bufs[rank] = this.fresh();
      n = 0;
    }
    this.fill[rank] = n;
  }

  /** add() for each of xs, in order: copied a run at a time. */
  addAll(rank: number, xs: Float64Array): void {
    for (let at = 0; at < xs.length; ) {
      const buf = this.bufs[rank] as Float64Array;
      const n = this.fill[rank] as number;
      const take = Math.min(BATCH - n, xs.length - at);
      buf.set(xs.subarray(at, at + take), n);
      at += take;
      if (n + take === BATCH) {
        this.send(rank, buf, BATCH);
        this.bufs[rank] = this.fresh();
        this.fill[rank] = 0;
      } else this.fill[rank] = n + take;
    }
  }

  private fresh(): Float64Array {
    return this.spare.pop() ?? new Float64Array(BATCH);
  }

  private send(rank: number, values: Float64Array, n: number): void {
    const m: DigestMessage = { type: 'values', rank, values, n };
    this.worker.postMessage(m, [values.buffer as ArrayBuffer]);
    this.sent++;
  }

  /** A wait while IN_FLIGHT batches are on their way (await it before adding more), else undefined. */
  behind(): Promise<void> | undefined {
    if (this.sent - this.taken < IN_FLIGHT || this.failed) return undefined;
    return new Promise<void>((resolve) => {
      this.room = () => {
        this.room = undefined;
        resolve();
      };
    });
  }

  /** Sends what is left and waits for the quantiles; the worker ends. */
  async finish(): Promise<number[][]> {
    for (let r = 0; r < this.ranks; r++) {
      const n = this.fill[r] as number;
      if (n > 0) this.send(r, this.bufs[r] as Float64Array, n);
      this.fill[r] = 0;
    }
    try {
      if (this.failed) throw this.failed;
      const reply = new Promise<number[][]>((resolve, reject) => {
        this.replied = resolve;
        this.worker.once('error', reject);
        this.worker.once('exit', () =>
          reject(new Error('personalize-batch: the score digest worker stopped')),
        );
      });
      this.worker.postMessage({ type: 'end' } satisfies DigestMessage);
      return await reply;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without an answer (the report failed). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
