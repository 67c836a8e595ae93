import { createHash } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { PbError } from '../errors.js';
import {
  CONTROL_BYTES,
  CONTROL_INTS,
  ERROR_AT,
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
import { startWorker } from './workers.js';

/**
 * SHA-256 on a worker thread, fed through shared memory instead of
 * postMessage: a message per chunk would cost more than the hashing it
 * moves (8,000+ chunks per GB), while a copy into a ring is a memcpy.
 *
 * The ring's layout and protocol are in hash-ring.ts.
 *
 * The worker starts only once `inlineBytes` (1 MiB) have been given: until
 * then the bytes are kept (copied) and a digest is computed on this thread.
 * A thread costs more to start than hashing a small shard set takes; past
 * the threshold the kept bytes go into the ring first, in their order.
 */

export interface HasherOptions {
  /**
   * Size of the shared ring, in bytes: a power of two from 1 KiB to 1 GiB.
   * Default 8 MiB: the producer can run 8 MiB (about 6 ms of hashing) ahead
   * of the worker before update() blocks. This plus the worker's Map of
   * open hash states is all the memory the hasher holds.
   */
  ringBytes?: number;
  /**
   * How long (ms) update() waits on a full ring while the worker makes no
   * progress before it throws. Default 60,000. A worker that throws or exits
   * says so at once through the FAILED slot; this bound is for a worker that
   * stops without running any more code (terminated from outside, or out of
   * memory), which only the main thread's event loop would hear about, and
   * that loop is blocked while update() waits.
   */
  stallMs?: number;
  /**
   * Bytes hashed on this thread, kept until their digests, before the worker
   * starts; 0 starts it at once. Default 1 MiB, the most this holds besides
   * the ring.
   */
  inlineBytes?: number;
}

interface ResolvedHasherOptions {
  ringBytes: number;
  stallMs: number;
  inlineBytes: number;
}

function resolveHasherOptions(o: HasherOptions): ResolvedHasherOptions {
  const ringBytes = o.ringBytes ?? 8 * 1024 * 1024;
  if (
    !Number.isInteger(ringBytes) ||
    ringBytes < 1024 ||
    ringBytes > 2 ** 30 ||
    (ringBytes & (ringBytes - 1)) !== 0
  )
    throw new PbError('PB_USAGE', `ringBytes must be a power of two from 1024 to 2^30, got ${ringBytes}`);
  const stallMs = o.stallMs ?? 60_000;
  if (!(stallMs > 0)) throw new PbError('PB_USAGE', `stallMs must be a positive number, got ${stallMs}`);
  const inlineBytes = o.inlineBytes ?? 1024 * 1024;
  if (!Number.isInteger(inlineBytes) || inlineBytes < 0)
    throw new PbError('PB_USAGE', `inlineBytes must be a whole number of bytes, got ${inlineBytes}`);
  return { ringBytes, stallMs, inlineBytes };
}

/** How long one Atomics.wait lasts before the producer checks on the worker again. */
const WAIT_SLICE_MS = 100;

/**
 * One SHA-256 computed on the hasher's worker. Shaped like node:crypto's
 * Hash where the project uses it: update(chunk) returns at once (the bytes
 * are copied, so the caller may reuse its buffer), digest() gives the hex.
 */
export class HashStream {
  private done = false;

  /** Use OffThreadHasher.create(). */
  constructor(
    private readonly owner: OffThreadHasher,
    /** The stream's number on the worker (never 0). */
    readonly id: number,
    /** A second stream every update also goes into, with one copy of the bytes. */
    private readonly also: HashStream | undefined,
  ) {}

  /** Appends bytes; blocks (synchronously) only while the ring is full. */
  update(chunk: Uint8Array): this {
    if (this.done) throw new Error('personalize-batch: update() on a hash stream after digest()');
    if (this.also?.done)
      throw new Error('personalize-batch: update() on a hash stream whose `also` stream is digested');
    this.owner.append(OP_UPDATE, this.id, this.also?.id ?? 0, chunk);
    return this;
  }

  /** The hex SHA-256 of every byte given to update(); the stream is finished after this. */
  digest(): Promise<string> {
    if (this.done)
      return Promise.reject(new Error('personalize-batch: digest() called twice on a hash stream'));
    this.done = true;
    return this.owner.requestDigest(this.id);
  }
}

/**
 * A worker thread that computes SHA-256 for any number of streams. The
 * thread that owns it only copies bytes into shared memory (about 0.1 s per
 * GB instead of about 0.7 s to hash them there). The worker is unref'd
 * while no digest is pending, so a process that never calls close() still
 * exits; call close() (or destroy() on a failure path) to stop it sooner.
 */
export class OffThreadHasher {
  readonly options: Readonly<ResolvedHasherOptions>;
  /** The worker once started (see inlineBytes), for tests that need to kill it. */
  worker: Worker | undefined;
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly size: number;
  private readonly mask: number;
  private readonly maxPayload: number;
  /** The producer's own head, with the open record (only it writes head), and the last tail it read. */
  private head = 0;
  private tail = 0;
  /** The open (unpublished) UPDATE record: its ring offset or -1, its stream ids, its payload so far. */
  private openAt = -1;
  private openId = 0;
  private openAlso = 0;
  private openLen = 0;
  /** An open record this large is published (min(32 KiB, half a record)). */
  private readonly publishAt: number;
  private nextId = 1;
  /** How many times a write found the ring full and had to sleep (for tests and benchmarks). */
  waits = 0;
  private readonly pending = new Map<
    number,
    { resolve: (hex: string) => void; reject: (e: unknown) => void }
  >();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private cleanExit = false;
  private exitSeen = false;
  private closeAsked = false;
  private exited: Promise<void> = Promise.resolve();
  /** Until the worker starts: the updates not yet digested, in order (a copy of their bytes), and their size. */
  private early: { id: number; also: number; bytes: Uint8Array }[] | undefined = [];
  private earlyBytes = 0;

  constructor(options: HasherOptions = {}) {
    this.options = resolveHasherOptions(options);
    const size = this.options.ringBytes;
    const sab = new SharedArrayBuffer(CONTROL_BYTES + size);
    this.sab = sab;
    this.ctl = new Int32Array(sab, 0, CONTROL_INTS);
    this.words = new Int32Array(sab, CONTROL_BYTES, size >> 2);
    this.bytes = new Uint8Array(sab, CONTROL_BYTES, size);
    this.size = size;
    this.mask = size - 1;
    this.maxPayload = size / 4 - HEADER_BYTES;
    this.publishAt = Math.min(32 * 1024, this.maxPayload >> 1);
    if (this.options.inlineBytes === 0) this.start();
  }

  /** Starts the worker, then hands it the bytes kept so far. */
  private start(): void {
    const kept = this.early ?? [];
    this.early = undefined;
    const worker = startWorker('hash-worker', {
      sab: this.sab,
      ringBytes: this.size,
    } satisfies HashWorkerData);
    this.worker = worker;
    worker.on('message', (m: HashWorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.holdOpen();
      p.resolve(m.hex);
    });
    worker.on('error', (err) => this.fail(workerFailure(`failed: ${err.message}`, err)));
    this.exited = new Promise<void>((resolve) => {
      worker.on('exit', (code) => {
        this.exitSeen = true;
        // A clean CLOSE comes after every DIGEST, whose replies are delivered before 'exit'.
        this.cleanExit = this.closeAsked && code === 0 && this.failure === undefined;
        this.fail(
          this.cleanExit
            ? new Error('personalize-batch: the hasher is closed')
            : workerFailure(`stopped (exit code ${code})`),
        );
        resolve();
      });
    });
    // After the listeners: adding a 'message' listener refs the worker's port again.
    this.holdOpen();
    for (const r of kept) this.append(OP_UPDATE, r.id, r.also, r.bytes);
  }

  /** A new hash stream; with `also`, every update to it goes into `also` as well (one copy, one record). */
  create(options: { also?: HashStream } = {}): HashStream {
    return new HashStream(this, this.nextId++, options.also);
  }

  /**
   * Ends the worker once it has done every record written so far; pending
   * digests resolve first. Rejects when the worker failed, so a failure is
   * never silent even where no digest was asked for.
   */
  close(): Promise<void> {
    this.closing ??= this.closeWorker();
    return this.closing;
  }

  private async closeWorker(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.worker) {
      this.closeAsked = true;
      this.early = [];
      return;
    }
    this.append(OP_CLOSE, 0, 0, undefined);
    this.closeAsked = true;
    this.holdOpen();
    await this.exited;
    if (!this.cleanExit) throw this.failure;
  }

  /** Stops the worker now (a failure path): pending digests reject; never throws. */
  async destroy(): Promise<void> {
    this.closing ??= Promise.resolve();
    this.closeAsked = true;
    this.fail(new Error('personalize-batch: the hasher was destroyed'));
    await this.worker?.terminate();
  }

  /** @internal Writes a record the worker cannot read, to test its failure path. */
  injectFaultForTest(): void {
    if (!this.worker) this.start();
    this.append(0x7fff, 0, 0, undefined);
  }

  /** @internal A DIGEST record and the promise its reply settles. */
  requestDigest(id: number): Promise<string> {
    if (!this.worker && !this.failure && !this.closeAsked) return Promise.resolve(this.digestKept(id));
    try {
      this.append(OP_DIGEST, id, 0, undefined);
    } catch (err) {
      return Promise.reject(err);
    }
    // Set after the record is written: the reply comes through the event loop, not before this returns.
    const p = new Promise<string>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.holdOpen();
    return p;
  }

  /** The digest of stream `id` from the kept bytes, which then go on only for the streams that still need them. */
  private digestKept(id: number): string {
    const h = createHash('sha256');
    const left: { id: number; also: number; bytes: Uint8Array }[] = [];
    for (const r of this.early ?? []) {
      if (r.id !== id && r.also !== id) {
        left.push(r);
        continue;
      }
      h.update(r.bytes);
      const other = r.id === id ? r.also : r.id;
      if (other !== 0) left.push({ id: other, also: 0, bytes: r.bytes });
      else this.earlyBytes -= r.bytes.length;
    }
    this.early = left;
    return h.digest('hex');
  }

  /** @internal Appends one record per at most a quarter of the ring (just the header when there are no bytes). */
  append(op: number, id: number, also: number, data: Uint8Array | undefined): void {
    if (this.failure) throw this.failure;
    if (this.early && op === OP_UPDATE && !this.closeAsked) {
      // Copied: the caller may reuse its buffer, as it may once the bytes are in the ring.
      if (data && data.length > 0) this.early.push({ id, also, bytes: new Uint8Array(data) });
      this.earlyBytes += data?.length ?? 0;
      if (this.earlyBytes > this.options.inlineBytes) this.start();
      return;
    }
    // The worker's own word, before its 'error' event can arrive.
    if (Atomics.load(this.ctl, FAILED) !== 0) this.stalled('failed');
    if (this.closeAsked) throw new Error('personalize-batch: the hasher is closed');
    if (!data) {
      this.put(op, id, also, undefined, 0, 0);
      return;
    }
    const n = data.length;
    for (let off = 0; off < n; off += this.maxPayload) {
      this.put(op, id, also, data, off, Math.min(n - off, this.maxPayload));
    }
  }

  /**
   * Writes one record at head. An UPDATE smaller than `publishAt` is left
   * open: it is not published yet, and the next small update of the same
   * stream grows it in place. 30-byte updates then cost a small copy each,
   * not a header, an atomic store and a record for the worker (which hashes
   * a few KiB at a time instead of 30 bytes: 2M 32-byte updates took the
   * worker longer than hashing them here). Anything else publishes it first.
   */
  private put(
    op: number,
    id: number,
    also: number,
    data: Uint8Array | undefined,
    off: number,
    len: number,
  ): void {
    if (this.openAt >= 0) {
      if (op === OP_UPDATE && id === this.openId && also === this.openAlso && this.extend(data, off, len)) {
        if (this.openLen >= this.publishAt) this.publish();
        return;
      }
      this.publish();
    }
    const rec = recordBytes(len);
    let head = this.head;
    let pos = head & this.mask;
    const toEnd = this.size - pos;
    const need = rec > toEnd ? toEnd + rec : rec;
    if (((head - this.tail) >>> 0) + need > this.size) this.waitForRoom(need);
    if (rec > toEnd) {
      // The rest of the ring is skipped; a WRAP needs only its op word (toEnd >= 8).
      this.words[pos >> 2] = OP_WRAP;
      head = (head + toEnd) | 0;
      pos = 0;
    }
    const w = pos >> 2;
    const words = this.words;
    words[w] = op;
    words[w + 1] = id;
    words[w + 2] = len;
    words[w + 3] = also;
    if (data && len > 0) this.copy(data, off, len, pos + HEADER_BYTES);
    this.head = (head + rec) | 0;
    if (op === OP_UPDATE && len < this.publishAt) {
      this.openAt = pos;
      this.openId = id;
      this.openAlso = also;
      this.openLen = len;
    } else this.publish();
  }

  /** Grows the open record by `len` bytes when they fit in it and in the ring; false otherwise. */
  private extend(data: Uint8Array | undefined, off: number, len: number): boolean {
    const n = this.openLen + len;
    if (n > this.maxPayload || !data) return false;
    const end = this.openAt + recordBytes(n);
    if (end > this.size) return false;
    const grow = recordBytes(n) - recordBytes(this.openLen);
    if (((this.head - this.tail) >>> 0) + grow > this.size) {
      this.tail = Atomics.load(this.ctl, TAIL);
      if (((this.head - this.tail) >>> 0) + grow > this.size) return false;
    }
    this.copy(data, off, len, this.openAt + HEADER_BYTES + this.openLen);
    this.words[(this.openAt >> 2) + 2] = n;
    this.openLen = n;
    this.head = (this.head + grow) | 0;
    return true;
  }

  private copy(data: Uint8Array, off: number, len: number, at: number): void {
    // set() even for a few bytes: a byte loop into the shared array measured slower (108 vs 80 ns for 32 bytes).
    this.bytes.set(off === 0 && len === data.length ? data : data.subarray(off, off + len), at);
  }

  /** Makes every record written so far visible to the worker, waking it if it sleeps. */
  private publish(): void {
    this.openAt = -1;
    // The seq-cst store publishes the plain writes before it to the worker's load of head.
    Atomics.store(this.ctl, HEAD, this.head);
    if (Atomics.load(this.ctl, WORKER_WAITING) !== 0) Atomics.notify(this.ctl, HEAD);
  }

  /**
   * Blocks until `need` bytes are free. Once it has to sleep it asks to be
   * woken only when half the ring is free (or `need`, if more), so a
   * producer of small records does not trade one wake-up per record with the
   * worker. Sleeps in slices to notice a failed or stalled worker.
   */
  private waitForRoom(need: number): void {
    const ctl = this.ctl;
    // The worker can free only what it sees.
    if (this.openAt >= 0) this.publish();
    const head = this.head;
    const fits = (tail: number) => ((head - tail) >>> 0) + need <= this.size;
    let tail = Atomics.load(ctl, TAIL);
    if (fits(tail)) {
      this.tail = tail;
      return;
    }
    Atomics.store(ctl, WAKE_AT, (head + Math.max(need, this.size >>> 1) - this.size) | 0);
    this.waits++;
    let progressAt = performance.now();
    let seen = tail;
    try {
      for (;;) {
        Atomics.store(ctl, PRODUCER_WAITING, 1);
        tail = Atomics.load(ctl, TAIL);
        if (fits(tail)) break;
        if (Atomics.load(ctl, FAILED) !== 0) this.stalled('failed');
        Atomics.wait(ctl, TAIL, tail, WAIT_SLICE_MS);
        tail = Atomics.load(ctl, TAIL);
        if (fits(tail)) break;
        const now = performance.now();
        if (tail !== seen) {
          seen = tail;
          progressAt = now;
        } else if (now - progressAt >= this.options.stallMs) this.stalled('stalled');
      }
    } finally {
      Atomics.store(ctl, PRODUCER_WAITING, 0);
    }
    this.tail = tail;
  }

  private stalled(how: 'failed' | 'stalled'): never {
    if (how === 'failed') {
      const n = Atomics.load(this.ctl, ERROR_LENGTH);
      const reason = n > 0 ? Buffer.from(this.ctl.buffer, ERROR_AT, n).toString() : 'it exited';
      this.fail(workerFailure(`failed: ${reason}`));
    } else
      this.fail(
        workerFailure(
          `made no progress in ${this.options.stallMs} ms (stopped from outside, or out of memory)`,
        ),
      );
    throw this.failure;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    Atomics.store(this.ctl, FAILED, 1);
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    // A failed or stalled worker is stopped for sure, so holding the process open until its 'exit' ends.
    if (!this.exitSeen) this.worker?.terminate().catch(() => {});
    this.holdOpen();
  }

  /**
   * Keeps the process alive for the worker only while something waits on
   * it: a digest, or its exit after close(), destroy() or a failure (an
   * unref'd worker's exit does not keep the event loop alive, so an
   * `await destroy()` or `await close()` would never settle). An idle
   * worker must not keep a process that forgot close() from exiting.
   */
  private holdOpen(): void {
    const worker = this.worker;
    if (!worker) return;
    if (this.pending.size > 0 || ((this.closeAsked || this.failure) && !this.exitSeen)) worker.ref();
    else worker.unref();
  }
}

/**
 * The worker cannot go on (it threw, exited, or was stopped): a system
 * failure like a failed read, so the CLI says it in one line (PB_IO).
 * Misuse of the API stays a plain Error.
 */
function workerFailure(what: string, cause?: unknown): PbError {
  return new PbError('PB_IO', `the SHA-256 worker ${what}`, {}, cause === undefined ? undefined : { cause });
}
