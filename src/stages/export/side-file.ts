import { once } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { PbError, usage } from '../../errors.js';
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
 * An export to stdout with no --errors writes its error lines to
 * ./errors.jsonl, a name no output owns: one already there (a run's, an
 * earlier export's) is never replaced unasked. Refused before any line is
 * read, as the replacement could not be undone.
 */
export async function checkStdoutErrors(
  output: string | undefined,
  errors: string | undefined,
): Promise<void> {
  if ((output ?? '-') !== '-' || errors !== undefined) return;
  if (await isFile('errors.jsonl'))
    throw usage(
      "an export to stdout writes its error lines to ./errors.jsonl, which is already there (a run's or an earlier export's): name the errors file with --errors FILE (--errors errors.jsonl replaces it), or move it away",
    );
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
