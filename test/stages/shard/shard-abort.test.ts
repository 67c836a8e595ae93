import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { shard } from '../../../src/stages/shard/index.js';
import { abortingStdin, isAbortError, listDir, useTmp } from '../../helpers.js';

const tmp = useTmp();

/** 1,000 records of batch input per chunk. */
function records(i: number): string {
  let s = '';
  for (let j = 0; j < 1000; j++) s += `{"userId":"user-${i}-${j}"}\n`;
  return s;
}

for (const shards of [undefined, 4]) {
  test(`an abort mid-way (${shards ? 'hash' : 'size'} mode) rejects with AbortError, and leaves no shard, manifest or temp`, async () => {
    const parent = tmp.fresh('abort');
    await mkdir(parent);
    const out = join(parent, 'shards');
    const ac = new AbortController();
    await assert.rejects(
      shard({
        recipe: 'user-personalization',
        input: '-',
        stdin: abortingStdin(records, ac, 50),
        out,
        maxRecords: 20_000,
        shards,
        signal: ac.signal,
      }),
      isAbortError,
    );
    assert.deepEqual(await listDir(parent), [], 'nothing beside the output either');
  });
}

test('an aborted signal starts nothing', async () => {
  const parent = tmp.fresh('before');
  await mkdir(parent);
  await assert.rejects(
    shard({
      recipe: 'user-personalization',
      input: '-',
      stdin: abortingStdin(records, new AbortController(), 1e9, 0),
      out: join(parent, 'shards'),
      signal: AbortSignal.abort(),
    }),
    isAbortError,
  );
  assert.deepEqual(await listDir(parent), []);
});
