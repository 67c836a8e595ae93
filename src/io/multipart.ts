import type { S3Client } from '@aws-sdk/client-s3';
import { PbError } from '../errors.js';
import { parseS3Uri, s3Error, s3Sdk } from './s3.js';

/** S3's smallest part (all parts but the last of a multipart upload). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface PartBudgetOptions {
  /**
   * Bytes per part, default 5 MiB. S3 refuses smaller parts (but the last)
   * when the upload is completed; smaller sizes are for servers that do not
   * check, in tests.
   */
  partSize?: number;
  /** Parts uploading at once across every upload that shares the budget, default 2. */
  inFlight?: number;
}

export const PART_BUDGET_DEFAULTS = { partSize: MIN_PART_SIZE, inFlight: 2 } as const;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * The part buffers and upload slots that several multipart uploads share
 * (all the shards of one run). Each open upload fills one buffer of its own;
 * a full buffer is uploaded only once one of `inFlight` slots is free, and
 * the writer waits for one meanwhile (backpressure); an uploaded buffer goes
 * back to the pool for the next part. Buffers only exist as a writer's
 * current part or a part in flight, so memory is at most
 * (open uploads + inFlight) x partSize: 10 x 5 MiB for 8 hash shards.
 */
export class PartBudget {
  readonly partSize: number;
  readonly inFlight: number;
  /** Buffers allocated so far; never more than open uploads + inFlight at once. */
  allocated = 0;
  /** The most parts that were in flight at once. */
  peak = 0;
  private active = 0;
  private readonly free: Buffer[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: unknown;

  constructor(o: PartBudgetOptions = {}) {
    const partSize = o.partSize ?? PART_BUDGET_DEFAULTS.partSize;
    const inFlight = o.inFlight ?? PART_BUDGET_DEFAULTS.inFlight;
    if (!(Number.isInteger(partSize) && partSize > 0)) {
      throw new PbError('PB_USAGE', `the part size must be a whole number of bytes above 0, got ${partSize}`);
    }
    if (!(Number.isInteger(inFlight) && inFlight > 0)) {
      throw new PbError('PB_USAGE', `parts in flight must be a whole number above 0, got ${inFlight}`);
    }
    this.partSize = partSize;
    this.inFlight = inFlight;
  }

  /** A part buffer: a recycled one, or a new one. */
  buffer(): Buffer {
    const b = this.free.pop();
    if (b) return b;
    this.allocated++;
    // Outside Node's small-buffer pool: a part is never a slice of shared memory.
    return Buffer.allocUnsafeSlow(this.partSize);
  }

  recycle(b: Buffer): void {
    this.free.push(b);
  }

  /** A slot at once if one is free (no promise on the hot path). */
  tryAcquire(): boolean {
    if (this.failure !== undefined) return false;
    if (this.active >= this.inFlight) return false;
    this.took();
    return true;
  }

  /** A slot, when one frees; rejects once any upload sharing the budget has failed. */
  acquire(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the oldest waiter, so writers take turns.
    if (next) next.resolve();
    else this.active--;
  }

  /** Stops the run: waiting writers and later ones get this error. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    // Waiters hold no slot yet, so there is nothing to give back for them.
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private took(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }
}

/**
 * One object written through a multipart upload whose parts come from a
 * PartBudget. Bytes are copied into the current part as they are written;
 * a full part goes out when a slot is free. The upload is created with its
 * first full part, so an object smaller than one part (an empty shard too)
 * is one PutObject at close. Any failure is kept and rethrown by the next
 * write or close, and fails the budget so the other writers stop too;
 * `abort()` then removes the upload (no partial object becomes visible).
 *
 * Why not lib-storage's Upload: it assembles each part from the chunks it
 * is given (holding about three parts per upload), and its queueSize is per
 * upload; here one budget of parts in flight is shared by every shard.
 */
export class MultipartWriter {
  private readonly bucket: string;
  private readonly key: string;
  private part: Buffer | undefined;
  private fill = 0;
  private sent = 0;
  private uploadId: Promise<string> | undefined;
  private readonly parts: { PartNumber: number; ETag: string | undefined }[] = [];
  private readonly running = new Set<Promise<void>>();
  /** A write still waiting for a slot; later writes queue behind it, so bytes keep their order. */
  private pending: Promise<unknown> | undefined;
  private error: unknown;
  private aborted = false;
  private completed = false;

  constructor(
    private readonly client: S3Client,
    readonly uri: string,
    private readonly budget: PartBudget,
  ) {
    ({ bucket: this.bucket, key: this.key } = parseS3Uri(uri));
  }

  /**
   * Appends bytes; a promise when a part is waiting for a slot. `chunk` must
   * stay unchanged until that promise settles (it is copied as room frees).
   */
  write(chunk: Buffer): Promise<unknown> | undefined {
    if (this.error !== undefined) return Promise.reject(this.error);
    const p = this.pending ? this.pending.then(() => this.copy(chunk, 0)) : this.copy(chunk, 0);
    if (p) {
      this.pending = p;
      const clear = () => {
        if (this.pending === p) this.pending = undefined;
      };
      p.then(clear, clear);
    }
    return p;
  }

  private copy(chunk: Buffer, from: number): Promise<unknown> | undefined {
    const size = this.budget.partSize;
    while (from < chunk.length) {
      if (this.aborted) throw new PbError('PB_IO', 'upload aborted', { file: this.uri });
      this.part ??= this.budget.buffer();
      const n = Math.min(chunk.length - from, size - this.fill);
      chunk.copy(this.part, this.fill, from, from + n);
      this.fill += n;
      from += n;
      if (this.fill === size) {
        if (this.budget.tryAcquire()) this.send();
        else {
          const rest = from;
          return this.budget.acquire().then(() => {
            this.send();
            return this.copy(chunk, rest);
          });
        }
      }
    }
    return undefined;
  }

  /** Uploads the current part in the background; the caller holds a slot for it. */
  private send(): void {
    const body = this.part as Buffer;
    const length = this.fill;
    const number = ++this.sent;
    this.part = undefined;
    this.fill = 0;
    if (this.aborted || this.error !== undefined) {
      this.budget.recycle(body);
      this.budget.release();
      return;
    }
    const task = (async () => {
      try {
        const UploadId = await this.created();
        const r = await this.client.send(
          new (s3Sdk().UploadPartCommand)({
            Bucket: this.bucket,
            Key: this.key,
            UploadId,
            PartNumber: number,
            Body: body.subarray(0, length),
            ContentLength: length,
          }),
        );
        this.parts.push({ PartNumber: number, ETag: r.ETag });
      } catch (err) {
        this.failed(err);
      } finally {
        // The request has ended (answered or failed), so the buffer is free to refill.
        this.budget.recycle(body);
        this.budget.release();
      }
    })();
    this.running.add(task);
    task.then(() => this.running.delete(task));
  }

  private created(): Promise<string> {
    this.uploadId ??= this.client
      .send(new (s3Sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: this.key }))
      .then((r) => {
        if (!r.UploadId) throw new Error('CreateMultipartUpload returned no upload id');
        return r.UploadId;
      });
    return this.uploadId;
  }

  private failed(err: unknown): void {
    if (this.error !== undefined) return;
    this.error = err instanceof PbError ? err : s3Error(this.uri, err);
    this.budget.fail(this.error);
  }

  private ending: Promise<void> | undefined;

  /**
   * Uploads every part (the last one too) without completing the object, so
   * a caller with many uploads can have all their bytes stored before any
   * object becomes visible. A writer that never filled a part keeps its
   * bytes for the PutObject at close. close() calls it too.
   */
  end(): Promise<void> {
    this.ending ??= this.ended();
    return this.ending;
  }

  private async ended(): Promise<void> {
    if (this.pending) await this.pending;
    if (this.error !== undefined) throw this.error;
    if (this.sent === 0) return;
    if (this.fill > 0) {
      await this.budget.acquire();
      this.send();
    } else if (this.part) {
      this.budget.recycle(this.part);
      this.part = undefined;
    }
    await Promise.all(this.running);
    if (this.error !== undefined) throw this.error;
  }

  /** Sends what is left and completes the object. */
  async close(): Promise<void> {
    await this.end();
    if (this.aborted) throw new PbError('PB_IO', 'upload aborted', { file: this.uri });
    if (this.sent === 0) {
      // Never a full part: one PutObject, so a small or empty shard is a plain object.
      await this.budget.acquire();
      const body = this.part;
      const length = this.fill;
      this.part = undefined;
      this.fill = 0;
      try {
        await this.client.send(
          new (s3Sdk().PutObjectCommand)({
            Bucket: this.bucket,
            Key: this.key,
            Body: body ? body.subarray(0, length) : Buffer.alloc(0),
            ContentLength: length,
          }),
        );
      } catch (err) {
        this.failed(err);
        throw this.error;
      } finally {
        if (body) this.budget.recycle(body);
        this.budget.release();
      }
      this.completed = true;
      return;
    }
    try {
      await this.client.send(
        new (s3Sdk().CompleteMultipartUploadCommand)({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: await this.created(),
          MultipartUpload: { Parts: [...this.parts].sort((a, b) => a.PartNumber - b.PartNumber) },
        }),
      );
    } catch (err) {
      this.failed(err);
      throw this.error;
    }
    this.completed = true;
  }

  /**
   * Stops writing and aborts the upload once its parts in flight have ended
   * (a part that lands after the abort would keep storage). Never throws.
   */
  async abort(): Promise<void> {
    if (this.completed) return;
    this.aborted = true;
    await this.pending?.catch(() => {});
    await Promise.all(this.running);
    if (this.part) {
      this.budget.recycle(this.part);
      this.part = undefined;
      this.fill = 0;
    }
    const id = await this.uploadId?.catch(() => undefined);
    if (id) {
      await this.client
        .send(new (s3Sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: this.key, UploadId: id }))
        .catch(() => {});
    }
  }
}
