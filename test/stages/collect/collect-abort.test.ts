import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { collect } from '../../../src/stages/collect/index.js';
import { abortingStdin, isAbortError, listDir, useTmp, writeText } from '../../helpers.js';

const tmp = useTmp();

/** 1,000 output lines per chunk. */
function outLines(i: number): string {
  let s = '';
  for (let j = 0; j < 1000; j++)
    s += `{"input":{"userId":"user-${i}-${j}"},"output":{"recommendedItems":["a","b"],"scores":[0.5,0.25]},"error":null}\n`;
  return s;
}

test('an abort mid-way rejects with AbortError, and leaves no output, side file, spool or partition', async () => {
  const parent = tmp.fresh('abort');
  const work = tmp.fresh('work');
  await mkdir(parent);
  await mkdir(work);
  const ac = new AbortController();
  await assert.rejects(
    collect({
      sources: ['-'],
      stdin: abortingStdin(outLines, ac, 50),
      output: join(parent, 'merged.jsonl'),
      tmpDir: work,
      signal: ac.signal,
    }),
    isAbortError,
  );
  assert.deepEqual(await listDir(parent), []);
  assert.deepEqual(await listDir(work), [], 'the stdin spool and the partitions are removed');
});

test('an abort while the partitions are read back leaves no output either', async () => {
  const parent = tmp.fresh('late');
  const work = tmp.fresh('work');
  await mkdir(parent);
  await mkdir(work);
  const src = await writeText(
    join(work, 'in.out'),
    Array.from({ length: 200 }, (_, i) => outLines(i)).join(''),
  );
  const ac = new AbortController();
  // The key pass reads the file once; stop at the start of the pass that decides per partition.
  const run = collect({
    sources: [src],
    output: join(parent, 'merged.jsonl'),
    tmpDir: work,
    signal: ac.signal,
  });
  const started = Date.now();
  const timer = setInterval(async () => {
    const spill = (await listDir(work)).filter((n) => n !== 'in.out');
    if (spill.length > 0 || Date.now() - started > 5000) {
      clearInterval(timer);
      ac.abort();
    }
  }, 5);
  await assert.rejects(run, isAbortError);
  clearInterval(timer);
  assert.deepEqual(await listDir(parent), []);
  assert.deepEqual(await listDir(work), ['in.out']);
});
