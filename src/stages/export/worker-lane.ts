import type { SharedCatalog } from '../../core/catalog.js';
import type { ConvertResult, UserGroupPass } from '../../core/out-convert.js';
import type { SlotRing } from '../../core/pool.js';
import type { ConvertReply, ConvertRequest, WorkerSetup } from '../../io/convert-worker.js';
import { PieceLane } from '../../io/piece-lane.js';

export interface LaneResult extends ConvertResult {
  /** The output stays in the worker (positional writes); out is empty. */
  held: boolean;
  outLength: number;
}

type Raw = Extract<ConvertReply, { result: unknown }>['result'];

/**
 * One conversion worker (a PieceLane): pieces converted, results resolved
 * as they come back. In held mode it also writes its outputs where write()
 * says.
 */
export class WorkerLane extends PieceLane<Raw> {
  private readonly writing = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();

  constructor(setup: WorkerSetup, ring: SlotRing) {
    super('convert-worker', setup, ring, {
      failed: 'conversion worker failed',
      stopped: 'the conversion worker stopped',
    });
  }

  protected override other(m: ConvertReply): boolean {
    if (!('wrote' in m)) return false;
    const w = this.writing.get(m.wrote);
    this.writing.delete(m.wrote);
    if (m.error) w?.reject(new Error(m.error));
    else w?.resolve();
    return true;
  }

  protected override failed(err: unknown): void {
    for (const w of this.writing.values()) w.reject(err);
    this.writing.clear();
  }

  /** Converts a piece in the worker. A plain buffer's memory moves there (do not touch it after). */
  convert(bytes: Buffer): { id: number; result: Promise<LaneResult> } {
    const { id, result } = this.post(bytes);
    return {
      id,
      result: result.then((r) => ({
        ...r,
        out: r.out ? Buffer.from(r.out.buffer, r.out.byteOffset, r.out.byteLength) : Buffer.alloc(0),
        errors: Buffer.from(r.errors.buffer, r.errors.byteOffset, r.errors.byteLength),
        held: r.out === undefined,
      })),
    };
  }

  /** Held mode: has the worker write the output of piece `id` to file `fd` at offset `at`. */
  write(id: number, fd: number, at: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<void>((resolve, reject) => this.writing.set(id, { resolve, reject }));
    this.worker.postMessage({ write: id, fd, at } satisfies ConvertRequest);
    return p;
  }

  /** The users table and group of users from now on (a users join on disk, between partitions: no piece in flight). */
  setUsers(users: SharedCatalog, pass: UserGroupPass | undefined): void {
    if (!this.failure) this.worker.postMessage({ users, pass } satisfies ConvertRequest);
  }

  /** Hands a written output buffer back to the worker (not held mode). */
  recycle(b: ArrayBuffer): void {
    if (!this.failure && b.byteLength > 0)
      this.worker.postMessage({ recycle: b } satisfies ConvertRequest, [b]);
  }
}
