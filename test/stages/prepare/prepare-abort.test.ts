import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { prepare } from '../../../src/stages/prepare/index.js';
import { abortingStdin, isAbortError, useTmp } from '../../helpers.js';

// prepare() takes `signal` as every other library call does (issue 17).

const { fresh } = useTmp();

/** 1,000 ids per chunk, all distinct. */
function ids(i: number): string {
  let s = '';
  for (let j = 0; j < 1000; j++) s += `user-${i}-${j}\n`;
  return s;
}

test('an abort mid-way stops reading, leaves no output and no spill files, and rejects with AbortError', async () => {
  const dir = fresh('mid');
  const tmpDir = join(dir, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const ac = new AbortController();
  let read = 0;
  const stdin = abortingStdin(
    (i) => {
      read = i;
      return i === 0 ? `user_id\n${ids(i)}` : ids(i);
    },
    ac,
    100,
  );
  await assert.rejects(
    prepare({
      recipe: 'user-personalization',
      sources: ['-'],
      stdin,
      output: join(dir, 'batch.jsonl'),
      // Past 256 KiB of keys the dedupe spills to partitions in tmpDir: those go too.
      memoryBudget: 256 * 1024,
      tmpDir,
      signal: ac.signal,
    }),
    isAbortError,
  );
  assert.ok(read < 1000, `stopped near the abort, not after ${read} chunks`);
  assert.deepEqual(await readdir(dir), ['tmp']);
  assert.deepEqual(await readdir(tmpDir), []);
});

test('an already aborted signal reads and writes nothing', async () => {
  const dir = fresh('before');
  await mkdir(dir);
  let read = 0;
  const stdin = abortingStdin(
    (i) => {
      read++;
      return ids(i);
    },
    new AbortController(),
    -1,
  );
  await assert.rejects(
    prepare({
      recipe: 'user-personalization',
      sources: ['-'],
      stdin,
      output: join(dir, 'batch.jsonl'),
      signal: AbortSignal.abort(),
    }),
    isAbortError,
  );
  assert.equal(read, 0);
  assert.deepEqual(await readdir(dir), []);
});

test('onEvent: progress events with the running counts while a slow stdin is read', async () => {
  const dir = fresh('events');
  await mkdir(dir, { recursive: true });
  const { Readable } = await import('node:stream');
  const stdin = Readable.from(
    (async function* () {
      for (let i = 0; i < 3; i++) {
        yield ids(i);
        await new Promise((r) => setTimeout(r, 300));
      }
    })(),
  );
  const events: { type: string; recordsRead: number; written: number; bytesRead: number }[] = [];
  const s = await prepare({
    sources: ['-'],
    stdin,
    output: join(dir, 'out.jsonl'),
    recipe: 'user-personalization',
    onEvent: (e) => events.push(e),
  });
  assert.ok(events.length >= 1, 'at least one progress event');
  assert.equal(events[0]?.type, 'progress');
  assert.ok((events.at(-1)?.recordsRead ?? 0) <= s.recordsRead);
  assert.ok((events.at(-1)?.recordsRead ?? 0) > 0);
});
