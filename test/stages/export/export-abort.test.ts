import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { isAbortError, listDir, useTmp, writeText } from '../../helpers.js';

const tmp = useTmp();

test('an abort mid-way rejects with AbortError, and leaves no output or temp', async () => {
  const work = tmp.fresh('work');
  const parent = tmp.fresh('out');
  await mkdir(work);
  await mkdir(parent);
  let text = '';
  for (let i = 0; i < 300_000; i++)
    text += `{"input":{"userId":"u${i}"},"output":{"recommendedItems":["a","b","c"],"scores":[0.5,0.25,0.125]},"error":null}\n`;
  const src = await writeText(join(work, 'in.out'), text);
  const ac = new AbortController();
  let lines = 0;
  const events: unknown[] = [];
  await assert.rejects(
    exportOutputs({
      sources: [src],
      output: join(parent, 'recs.csv'),
      format: 'csv-long',
      tmpDir: work,
      pieceSize: 256 * 1024,
      signal: ac.signal,
      onProgress: (p) => {
        lines = p.lines;
        if (p.lines > 0) ac.abort();
      },
      onEvent: (e) => events.push(e),
    }),
    isAbortError,
  );
  assert.ok(lines < 300_000, `stopped before the end (${lines} lines)`);
  // onEvent gets each progress as a typed event, the same counts onProgress got.
  assert.ok(events.length > 0);
  assert.deepEqual(events.at(-1), {
    type: 'progress',
    lines,
    bytesRead: (events.at(-1) as { bytesRead: number }).bytesRead,
  });
  assert.deepEqual(await listDir(parent), []);
  assert.deepEqual(await listDir(work), ['in.out']);
});
