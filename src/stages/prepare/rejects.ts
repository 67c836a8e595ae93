import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import { abortError } from '../../errors.js';
import { writeOutput } from '../../io/output.js';
import { scopeSignal } from '../../io/scope.js';

/** A bad record, as written to the rejects file. */
export interface Reject {
  file: string;
  /** Absent for a record grouped from several rows. */
  line: number | undefined;
  field: string;
  reason: string;
  row: unknown;
}

/** Rejected records, written atomically; kept even when the run stops on a later error. */
export class RejectWriter {
  private readonly pass = new PassThrough();
  private readonly done: Promise<void>;

  constructor(path: string, stdout: Writable | undefined) {
    // A multipart upload on S3 (invisible until complete), a temporary file renamed locally
    // (a device or FIFO written in place).
    this.done = writeOutput(path, stdout, this.pass);
    this.done.catch(() => {});
  }

  async add(r: Reject): Promise<void> {
    if (!this.pass.write(`${JSON.stringify(r)}\n`)) await once(this.pass, 'drain');
  }

  /** The file written; when the call was aborted, removed instead (the caller asked for nothing to stay). */
  async close(): Promise<void> {
    const signal = scopeSignal();
    if (signal?.aborted) {
      this.pass.destroy(abortError(signal));
      await this.done.catch(() => {});
      return;
    }
    this.pass.end();
    await this.done;
  }
}
