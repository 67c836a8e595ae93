import { once } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { PbError } from '../../errors.js';
import { writeOutput } from '../../io/output.js';
import { deleteS3, isS3Uri, s3ObjectExists } from '../../io/s3.js';
import { defaultErrorsPath } from './options.js';

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

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (st) => st.isFile(),
    () => false,
  );
}

/**
 * Whether an export to stdout with no --errors finds ./errors.jsonl, where
 * its error lines go, already there. Refusing it before any line was read
 * (this session's first rule) stopped the usual steps: run and collect
 * leave an errors.jsonl, often empty, and `export ... > recs.csv` in that
 * folder failed with recs.csv emptied by the shell, error lines or not. So
 * the file is replaced only when there are error lines, and a warning says
 * it was (see exportOutputs).
 */
export async function stdoutErrorsThere(
  output: string | undefined,
  errors: string | undefined,
): Promise<boolean> {
  if ((output ?? '-') !== '-' || errors !== undefined) return false;
  return isFile('errors.jsonl');
}

/**
 * OUTPUT.errors.jsonl (the default name, without --errors) belongs to
 * OUTPUT: after an export with no error lines one left there by an earlier
 * export to OUTPUT would be taken for this one's, so it is removed and a
 * warning says so. A file named with --errors is the caller's and left as
 * it is. On S3 a policy may allow writes but not deletes: a refused delete
 * leaves the object and the warning says to delete it.
 */
export async function dropStaleErrors(
  output: string | undefined,
  errors: string | undefined,
  errorLines: number,
): Promise<string | undefined> {
  const out = output ?? '-';
  if (errorLines > 0 || errors !== undefined || out === '-') return undefined;
  const path = defaultErrorsPath(out);
  const removed = `removed ${path}: an earlier export's error lines (this export has none)`;
  if (!isS3Uri(path)) {
    if (!(await isFile(path))) return undefined;
    await rm(path, { force: true });
    return removed;
  }
  try {
    if (!(await s3ObjectExists(path))) return undefined;
    await deleteS3(path);
    return removed;
  } catch (err) {
    if (!(err instanceof PbError)) throw err;
    return `${path} may hold an earlier export's error lines (this export has none) and could not be checked or deleted (${err.reason}): delete it`;
  }
}
