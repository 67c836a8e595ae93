import { realpath } from 'node:fs/promises';
import { PbError } from '../errors.js';
import { isS3Uri } from './s3.js';

/**
 * A batch output read twice gives each of its keys twice: two rows of one
 * user in an export, doubled counts in a report. Two sources are one output
 * when they resolve to one file (the same name twice, a folder and a file
 * in it, a link to it), or when one is the other gzipped (`X.out` and
 * `X.out.gz`, which `gzip -k` leaves side by side). Either is refused
 * naming both, before anything is read. Memory: a map of the file names.
 */
export async function checkReadOnce(files: readonly string[]): Promise<void> {
  const seen = new Map<string, string>();
  for (const f of files) {
    if (f === '-') continue;
    const id = isS3Uri(f) ? f : await realpath(f).catch(() => f);
    const prior = seen.get(id);
    if (prior !== undefined)
      throw new PbError(
        'PB_USAGE',
        `${f} is read twice${prior === f ? '' : ` (${prior} is the same file)`}: each of its keys would count twice; give each .out file, folder or prefix once`,
      );
    seen.set(id, f);
  }
  for (const [id, f] of seen) {
    const plain = id.endsWith('.gz') ? seen.get(id.slice(0, -3)) : undefined;
    if (plain !== undefined)
      throw new PbError(
        'PB_USAGE',
        `${f} is ${plain} gzipped (gzip -k keeps both): each of its keys would count twice; delete or move one of the two, or name the one to read`,
      );
  }
}
