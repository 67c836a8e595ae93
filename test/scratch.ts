/**
 * Loaded before every test file (package.json's test script): scratch files
 * go to a tmpfs when the machine has one with room. The suite creates tens
 * of thousands of small files (spill partitions, s3rver's objects, outputs),
 * and on a busy disk one create took 5 ms; in memory it takes microseconds.
 * Nothing under test depends on it: every temporary path comes from
 * os.tmpdir(), which reads TMPDIR, here and in the processes tests start.
 * PB_TEST_TMPDIR=disk keeps the machine's own temporary folder.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { COMPILED } from './paths.js';
import { useWorkerBundles } from './worker-bundles.js';

const SHM = '/dev/shm';
const ROOM = 2 * 1024 ** 3;

function roomy(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    const s = statfsSync(dir);
    return s.bavail * s.bsize >= ROOM;
  } catch {
    return false;
  }
}

if (process.env.PB_TEST_TMPDIR !== 'disk' && !process.env.PB_TEST_SCRATCH && roomy(SHM)) {
  process.env.TMPDIR = SHM;
  process.env.PB_TEST_SCRATCH = SHM;
}

// Worker threads from bundles rather than through tsx (see worker-bundles.ts); in the transpiled
// copy (scripts/test.mjs) they start from its .js files, with nothing to bundle.
if (!COMPILED) await useWorkerBundles();
