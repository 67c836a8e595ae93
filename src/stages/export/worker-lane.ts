import type { Worker } from 'node:worker_threads';
import type { SharedCatalog } from '../../core/catalog.js';
import type { ConvertResult, UserGroupPass } from '../../core/out-convert.js';
import type { SlotRing } from '../../core/pool.js';
import type { ConvertReply, ConvertRequest, WorkerSetup } from '../../io/convert-worker.js';
import { startWorker } from '../../io/workers.js';

export interface LaneResult extends ConvertResult {
  /** The output stays in the worker (positional writes); out is empty. */
  held: boolean;
  outLength: number;
}

/**
 * One conversion worker: pieces are posted with an id (as a ring slot, or
 * transferred), results resolved as they come back; the caller keeps the
 * order. In held mode it also writes its outputs where write() says.
 */
export class WorkerLane {
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve: (r: LaneResult) => void; reject: (e: unknown) => void }
  >();
  private readonly writing = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private readonly slotOf = new Map<number, Buffer>();
  private nextId = 0;
  private failure: unknown;

  constructor(
    setup: WorkerSetup,
    private readonly ring: SlotRing,
  ) {
    this.worker = startWorker('convert-worker', setup);
    this.worker.on('message', (m: ConvertReply) => {
      if ('wrote' in m) {
        const w = this.writing.get(m.wrote);
        this.writing.delete(m.wrote);
        if (m.error) w?.reject(new Error(m.error));
        else w?.resolve();
        return;
      }
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      const slot = this.slotOf.get(m.id);
      this.slotOf.delete(m.id);
      if (slot) this.ring.give(slot);
      if ('error' in m) w.reject(new Error(`personalize-batch: conversion worker failed: ${m.error}`));
      else {
        const r = m.result;
        const out = r.out ? Buffer.from(r.out.buffer, r.out.byteOffset, r.out.byteLength) : Buffer.alloc(0);
        w.resolve({
          ...r,
          out,
          errors: Buffer.from(r.errors.buffer, r.errors.byteOffset, r.errors.byteLength),
          held: r.out === undefined,
        });
      }
    });
    const failAll = (err: unknown) => {
      this.failure ??= err;
      for (const w of this.waiting.values()) w.reject(this.failure);
      for (const w of this.writing.values()) w.reject(this.failure);
      this.waiting.clear();
      this.writing.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', () => failAll(new Error('personalize-batch: the conversion worker stopped')));
  }

  get busy(): number {
    return this.waiting.size;
  }

  /** Converts a piece in the worker. A plain buffer's memory moves there (do not touch it after). */
  convert(bytes: Buffer): { id: number; result: Promise<LaneResult> } {
    const id = this.nextId++;
    if (this.failure) return { id, result: Promise.reject(this.failure) };
    const result = new Promise<LaneResult>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const slot = this.ring.slotOf(bytes);
    if (slot >= 0) {
      this.slotOf.set(id, bytes);
      this.worker.postMessage({ id, slot, length: bytes.length } satisfies ConvertRequest);
    } else {
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.worker.postMessage({ id, bytes: view } satisfies ConvertRequest, [bytes.buffer as ArrayBuffer]);
    }
    return { id, result };
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

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
