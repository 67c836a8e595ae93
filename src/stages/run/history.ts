// OUT/history/: each run's merged output lines, kept so the next run can export only what changed.
import { mkdir, readdir } from 'node:fs/promises';
import { PbError } from '../../errors.js';
import { openSource } from '../../io/input.js';
import { writeOutput } from '../../io/output.js';
import { defaultS3Client, inFolder, isS3Uri, listS3 } from '../../io/s3.js';

/**
 * A history entry's name: the run's time, so names sort as runs do, and `.out.gz`: export --since
 * reads `.out` lines by content and gzip by its magic bytes (about a fifth of the merged size).
 */
const ENTRY = /^(\d{8}T\d{6}Z)-merged\.out\.gz$/;

export function historyEntryName(at: Date): string {
  return `${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-merged.out.gz`;
}

/** The newest entry in the history folder (local or s3://), or undefined when it has none. */
export async function newestHistory(dir: string): Promise<string | undefined> {
  let names: string[];
  if (isS3Uri(dir)) {
    names = [];
    for await (const o of listS3(defaultS3Client(), inFolder(dir, '')))
      names.push(o.key.slice(o.key.lastIndexOf('/') + 1));
  } else {
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new PbError('PB_IO', `cannot list the history folder: ${(err as Error).message}`, { file: dir });
    }
  }
  const newest = names
    .filter((n) => ENTRY.test(n))
    .sort()
    .at(-1);
  return newest === undefined ? undefined : inFolder(dir, newest);
}

/** Copies the merged lines into the history folder, gzipped, atomically; returns the entry's path. */
export async function keepHistory(merged: string, dir: string, at: Date): Promise<string> {
  const entry = inFolder(dir, historyEntryName(at));
  if (!isS3Uri(dir)) await mkdir(dir, { recursive: true });
  await writeOutput(entry, undefined, openSource(merged));
  return entry;
}
