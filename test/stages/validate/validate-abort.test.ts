import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateFiles } from '../../../src/stages/validate/index.js';
import { abortingStdin, isAbortError } from '../../helpers.js';

/** 1,000 records of batch input per chunk. */
function records(i: number): string {
  let s = '';
  for (let j = 0; j < 1000; j++) s += `{"userId":"user-${i}-${j}"}\n`;
  return s;
}

test('an abort mid-way rejects with AbortError and stops reading', async () => {
  const ac = new AbortController();
  let read = 0;
  const stdin = abortingStdin(
    (i) => {
      read = i;
      return records(i);
    },
    ac,
    50,
  );
  await assert.rejects(
    validateFiles({ recipe: 'user-personalization', files: ['-'], stdin, signal: ac.signal }),
    isAbortError,
  );
  assert.ok(read < 200, `stopped near the abort, not after ${read} chunks`);
});
