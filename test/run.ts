/**
 * The suite's runner (`npm test`, through scripts/test.mjs): node:test's own, three files at a time,
 * each in its own process with this process's flags (test/scratch.ts; tsx when run from the
 * sources). `node --test` starts its files in path order, which put the slowest ones
 * (test/stages/run/, last by name) at the end of the run with the other lanes idle. Here the files
 * of SLOW_FIRST start first, longest first, and the rest follow in path order, so that short files
 * fill the lanes at the end. The order changes nothing else: every file runs in a process of its
 * own either way.
 *
 *   node scripts/test.mjs [FILE ...]                                         (the transpiled copy)
 *   node --import tsx/esm --import ./test/scratch.ts test/run.ts [FILE ...]  (the sources)
 *
 * FILE ... runs those files only (test/x.test.ts, as in the repository, either way).
 * PB_TEST_TIMES=PATH writes each file's wall time there, slowest first: the figures to keep
 * SLOW_FIRST in step with the suite.
 */
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { COMPILED, HERE, REPO } from './paths.js';
import { suiteFiles } from './suite-files.js';

const started = new Map<string, number>();
const times = new Map<string, number>();
let failed = false;

// Each file's twin in the folder the suite runs from: its .js in the copy.
const files = suiteFiles(process.argv.slice(2)).map((f) =>
  join(HERE, (isAbsolute(f) ? relative(REPO, f) : f).replace(/\.ts$/, COMPILED ? '.js' : '.ts')),
);
const stream = run({ files, concurrency: 3, timeout: 240_000 });
stream.on('test:fail', () => {
  failed = true;
});
// A file's own test is named by its path: dequeued when its process starts, complete when it ends.
stream.on('test:dequeue', (d: { name: string; file?: string }) => {
  if (d.file !== undefined && d.name === d.file) started.set(d.file, Date.now());
});
stream.on('test:complete', (d: { name: string; file?: string }) => {
  const t = d.file !== undefined && d.name === d.file ? started.get(d.file) : undefined;
  if (t !== undefined && d.file !== undefined)
    times.set(relative(HERE, d.file).replace(/\.js$/, '.ts'), Date.now() - t);
});
stream.on('end', () => {
  if (failed || files.length === 0) process.exitCode = 1;
  const out = process.env.PB_TEST_TIMES;
  if (out) {
    const rows = [...times].sort((a, b) => b[1] - a[1]).map(([f, ms]) => `${(ms / 1000).toFixed(1)}\t${f}`);
    writeFileSync(out, `${rows.join('\n')}\n`);
  }
});
// tap when the output is a file or a pipe (CI's log), as `node --test` does.
stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
