import { Duplex, PassThrough, type Readable, Writable } from 'node:stream';
import { abortError } from './abort.js';

/** What a run reads and writes: the duplex's written bytes, and where its output goes. */
export interface DuplexIO {
  stdin: Readable;
  stdout: Writable;
}

/**
 * A Duplex around a run that reads `stdin` and writes `stdout` (a step
 * given `-` for both): bytes written to the duplex are the run's input,
 * bytes read from it the run's output, with backpressure both ways.
 * `summary` is the run's result; the readable side ends when it resolves.
 * Destroying the duplex (an error, `signal`'s abort) ends the run's input
 * and output with that error and waits for the run to settle, so that its
 * temporary files are gone before 'error' and 'close' are emitted.
 */
export class RunDuplex<S> extends Duplex {
  readonly summary: Promise<S>;
  private readonly input = new PassThrough();
  private readonly output: Writable;
  /** The run's pending write, held while the reader wants no more. */
  private waiting: ((err?: Error | null) => void) | undefined;
  private readonly settled: Promise<void>;
  private aborted: Error | undefined;
  private done = false;

  constructor(run: (io: DuplexIO) => Promise<S>, signal?: AbortSignal) {
    super();
    this.output = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (this.push(chunk)) cb();
        else this.waiting = cb;
      },
    });
    // The run reports these streams' errors itself (its reads and writes fail); these listeners
    // only keep an error nobody waits for from being an uncaught one.
    this.input.on('error', () => {});
    this.output.on('error', () => {});
    const result = Promise.resolve().then(() => run({ stdin: this.input, stdout: this.output }));
    this.settled = result.then(
      () => {
        this.done = true;
      },
      () => {
        this.done = true;
      },
    );
    this.summary = result.then(
      (s) => {
        this.push(null);
        return s;
      },
      (err: unknown) => {
        const e = this.aborted ?? (err as Error);
        this.destroy(e);
        throw e;
      },
    );
    this.summary.catch(() => {});
    if (signal) {
      const onAbort = () => {
        this.aborted = abortError(signal);
        this.destroy(this.aborted);
      };
      // After the caller has had a chance to listen for 'error'.
      if (signal.aborted) setImmediate(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.input.write(chunk)) cb();
    else this.input.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.input.end();
    cb();
  }

  override _read(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.done) {
      cb(err);
      return;
    }
    const e = err ?? new Error('the stream was destroyed before the run finished');
    this.input.destroy(e);
    const w = this.waiting;
    this.waiting = undefined;
    w?.(e);
    this.output.destroy(e);
    this.settled.then(() => cb(err));
  }
}
