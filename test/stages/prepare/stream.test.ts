/**
 * createPrepareStream: the records prepare() writes, and an abort that stops
 * the source, removes the spill folder and errors with an AbortError.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { createPrepareStream } from '../../../src/stages/prepare/stream.js';
import { prepareStdin, useTmp } from '../../helpers.js';

const tmp = useTmp();

function collector(): { sink: Writable; text: () => string } {
  const parts: Buffer[] = [];
  return {
    sink: new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
    text: () => Buffer.concat(parts).toString('utf8'),
  };
}

describe('createPrepareStream', () => {
  test('the bytes prepare() writes, and its summary', async () => {
    const csv = 'email,user_id\na@x,u1\nb@x, u2\nc@x,u1\n';
    const want = await prepareStdin({ recipe: 'user-personalization' }, csv);
    const stream = createPrepareStream({ recipe: 'user-personalization' });
    const out = collector();
    await pipeline([Buffer.from(csv)], stream, out.sink);
    assert.equal(out.text(), want.out);
    assert.equal((await stream.summary).duplicates, 1);
  });

  test('a bad record errors the stream with its PbError', async () => {
    const stream = createPrepareStream({ recipe: 'user-personalization' });
    await assert.rejects(
      pipeline([Buffer.from(`user_id\nu1\n${'x'.repeat(300)}\n`)], stream, collector().sink),
      (e: Error & { code?: string; line?: number }) => e.code === 'PB_INVALID_RECORD' && e.line === 3,
    );
    await assert.rejects(stream.summary, (e: Error & { code?: string }) => e.code === 'PB_INVALID_RECORD');
  });

  test('abort: the source stops, the spill folder is removed, the stream errors with an AbortError', async () => {
    const dir = tmp.fresh('spill');
    await mkdir(dir);
    const ac = new AbortController();
    let produced = 0;
    let finallyRan = false;
    let spillFiles = 0;
    async function* big(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; ; i++) {
          produced++;
          if (i === 200)
            setTimeout(async () => {
              spillFiles = (await readdir(dir)).length;
              ac.abort();
            }, 5);
          await new Promise((r) => setImmediate(r));
          yield Buffer.from(Array.from({ length: 500 }, (_, k) => `user-${i * 500 + k}\n`).join(''));
        }
      } finally {
        finallyRan = true;
      }
    }
    const stream = createPrepareStream({
      recipe: 'user-personalization',
      memoryBudget: 4000,
      tmpDir: dir,
      signal: ac.signal,
    });
    await assert.rejects(pipeline(big(), stream, collector().sink), (e: Error) => e.name === 'AbortError');
    assert.equal(spillFiles, 1, 'the spill folder was there when the abort came');
    assert.deepEqual(await readdir(dir), []);
    assert.ok(finallyRan);
    assert.ok(produced < 2000, `${produced} chunks produced`);
    await assert.rejects(stream.summary, (e: Error) => e.name === 'AbortError');
  });
});
