import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import { writeOutput } from '../../io/output.js';

/**
 * A side output (errors, rejects) opened on its first write, written
 * atomically like the main output: a temporary name renamed on close().
 */
export class SideFile {
  private pass: PassThrough | undefined;
  private done: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly stdout: Writable | undefined,
  ) {}

  get opened(): boolean {
    return this.pass !== undefined;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.pass) {
      this.pass = new PassThrough({ highWaterMark: 1024 * 1024 });
      // Failures arrive through `done`; abort()'s error must not go unheard when writeOutput
      // failed before it listened (a refused path, an upload refused at once).
      this.pass.on('error', () => {});
      this.done = writeOutput(this.path, this.stdout, this.pass);
      this.done.catch(() => {});
    }
    if (!this.pass.write(chunk)) await Promise.race([once(this.pass, 'drain'), this.done]);
  }

  /** Commits what was written (nothing happens if nothing was). */
  async close(): Promise<void> {
    if (!this.pass) return;
    this.pass.end();
    await this.done;
  }

  /** Drops what was written: the temporary file is removed, an S3 upload aborted. */
  async abort(): Promise<void> {
    if (!this.pass) return;
    this.pass.destroy(new Error('export failed'));
    await this.done?.catch(() => {});
  }
}
