/**
 * Piece buffers for export: a fixed ring of SharedArrayBuffer slots, given
 * to the conversion workers once when they start, so a piece is handed to
 * a worker as a slot number: no transfer, no new ArrayBuffer per piece and
 * none of the garbage collections that 2 GB of transferred buffers per GB
 * of input caused (each costing the main thread about 5 ms, and more on the
 * helper threads). When every slot is in use, or a piece outgrows a slot
 * (a line longer than a slot), plain buffers are used and transferred.
 */
export class SlotRing {
  readonly slots: SharedArrayBuffer[];
  private readonly views: Buffer[];
  private readonly index = new Map<ArrayBufferLike, number>();
  private readonly free: number[];

  constructor(
    count: number,
    readonly size: number,
  ) {
    this.slots = Array.from({ length: count }, () => new SharedArrayBuffer(size));
    this.views = this.slots.map((s) => Buffer.from(s));
    for (const [i, s] of this.slots.entries()) this.index.set(s, i);
    this.free = this.slots.map((_, i) => count - 1 - i);
  }

  /** A buffer of `size` bytes: a free slot, or a plain buffer when none is free. */
  take(): Buffer {
    const i = this.free.pop();
    return i === undefined ? Buffer.allocUnsafeSlow(this.size) : (this.views[i] as Buffer);
  }

  /** The slot a buffer (or a view of it) lives in, or -1. */
  slotOf(b: Uint8Array): number {
    return this.index.get(b.buffer) ?? -1;
  }

  /** Frees every slot: only once no piece is in use any more (the workers stopped, the readers closed). */
  reset(): void {
    this.free.length = 0;
    for (let i = this.slots.length - 1; i >= 0; i--) this.free.push(i);
  }

  /** Frees the slot behind a buffer from take() (plain buffers are left to the garbage collector). */
  give(b: Uint8Array): void {
    const i = this.slotOf(b);
    if (i >= 0 && !this.free.includes(i)) this.free.push(i);
  }
}
