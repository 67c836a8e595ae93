import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PbError } from '../../src/errors.js';
import { openLinesReusing, wholeLines } from '../../src/io/input.js';
import { ReadAhead } from '../../src/io/read-ahead.js';
import { prng, useTmp } from '../helpers.js';

const { fresh } = useTmp();

/** Every chunk copied at once (the reader reuses its buffers), with the checks each chunk must pass. */
async function collect(chunks: AsyncIterable<Buffer>): Promise<{ joined: Buffer; count: number }> {
  const copies: Buffer[] = [];
  for await (const c of chunks) {
    assert.ok(c.length > 0, 'no empty chunk');
    copies.push(Buffer.from(c));
  }
  copies.forEach((c, i) => {
    // Whole lines: every chunk but the last ends a line, and none starts inside one.
    if (i + 1 < copies.length) assert.equal(c[c.length - 1], 10, `chunk ${i} ends a line`);
  });
  return { joined: Buffer.concat(copies), count: copies.length };
}

test('openLinesReusing: whole-line chunks that add up to the file, for any read size and line length', async () => {
  const rand = prng(8);
  for (const chunkSize of [1, 7, 64, 4096]) {
    for (let round = 0; round < 6; round++) {
      let text = '';
      const lines = Math.floor(rand() * 300);
      for (let i = 0; i < lines; i++) {
        // Lines from empty to several reads long, with multi-byte UTF-8 across read edges.
        const len = rand() < 0.1 ? Math.floor(rand() * chunkSize * 5) : Math.floor(rand() * 40);
        text += `${'é😀x'.repeat(len).slice(0, len)}${rand() < 0.1 ? '\r\n' : '\n'}`;
      }
      if (rand() < 0.5) text += 'last line without a newline';
      const file = fresh(`lines-${chunkSize}-${round}.txt`);
      const bytes = Buffer.from(text);
      await writeFile(file, bytes);
      const { joined } = await collect(openLinesReusing(file, {}, 1e9, () => undefined, chunkSize));
      assert.ok(joined.equals(bytes), `read size ${chunkSize}, round ${round}`);
    }
  }
});

test("openLinesReusing: a line over the limit is the caller's error; gzip, stdin and an empty file", async () => {
  const file = fresh('long.txt');
  await writeFile(file, `short\n${'x'.repeat(5000)}\nshort\n`);
  const err = new PbError('PB_LIMIT', 'too long', { file });
  await assert.rejects(collect(openLinesReusing(file, {}, 1000, () => err, 256)), (e) => e === err);
  // A last line with no newline over the limit too, as wholeLines refuses it: in one read or several.
  for (const [text, chunk] of [
    [`short\n${'y'.repeat(1500)}`, 4096],
    [`short\n${'y'.repeat(1500)}`, 256],
    [`${'y'.repeat(1001)}`, 4096],
  ] as const) {
    const last = fresh('last.txt');
    await writeFile(last, text);
    await assert.rejects(
      collect(openLinesReusing(last, {}, 1000, () => err, chunk)),
      (e) => e === err,
      text.slice(0, 8),
    );
    await assert.rejects(
      collect(wholeLines(Readable.from([Buffer.from(text)]), 1000, () => err)),
      (e) => e === err,
    );
  }
  const fits = fresh('fits.txt');
  await writeFile(fits, `${'z'.repeat(1500)}\n${'y'.repeat(1000)}`);
  assert.equal((await collect(openLinesReusing(fits, {}, 1600, () => err, 4096))).joined.length, 2501);

  const text = 'a\nbb\nccc\n';
  const gz = fresh('in.gz');
  await writeFile(gz, gzipSync(Buffer.from(text)));
  assert.equal((await collect(openLinesReusing(gz, {}, 1e9, () => undefined, 4))).joined.toString(), text);
  const stdin = Readable.from([Buffer.from('a\nb'), Buffer.from('b\nccc\n')]);
  assert.equal(
    (await collect(openLinesReusing('-', { stdin }, 1e9, () => undefined))).joined.toString(),
    text,
  );

  const empty = fresh('empty.txt');
  await writeFile(empty, '');
  assert.equal((await collect(openLinesReusing(empty, {}, 1e9, () => undefined))).count, 0);
  await assert.rejects(
    collect(openLinesReusing(fresh('missing.txt'), {}, 1e9, () => undefined)),
    (e) => e instanceof PbError && e.code === 'PB_IO' && /no such file/.test(e.message),
  );
});

test('openLinesReusing gives the event loop a turn while it reads (Ctrl-C, uploads in flight)', async () => {
  const file = fresh('turns.txt');
  await writeFile(file, 'x'.repeat(99).concat('\n').repeat(50_000)); // 5 MB: 40 reads of 128 KiB
  let ran = false;
  setImmediate(() => {
    ran = true;
  });
  let seenAt = -1;
  let chunks = 0;
  for await (const _ of openLinesReusing(file, {}, 1e9, () => undefined)) {
    if (ran && seenAt < 0) seenAt = chunks;
    chunks++;
  }
  assert.ok(seenAt >= 0 && seenAt < chunks - 1, `a turn came after chunk ${seenAt} of ${chunks}`);
});

test('ReadAhead: opens up to its depth ahead, hands out in order, an error to its taker only, closes what is left', async () => {
  const started: number[] = [];
  const closed: number[] = [];
  const gates = new Map<number, () => void>();
  const items = Array.from({ length: 12 }, (_, i) => i);
  const ahead = new ReadAhead(
    items,
    (i) => {
      started.push(i);
      // Item 3 fails; the others resolve when let go, in any order.
      return new Promise<number>((resolve, reject) => {
        gates.set(i, () => (i === 3 ? reject(new Error('item 3 cannot be opened')) : resolve(i * 10)));
      });
    },
    async (r) => {
      closed.push(r);
    },
    4,
  );
  const first = ahead.take(0);
  assert.deepEqual(started, [0, 1, 2, 3], 'four opened at once');
  for (const i of [3, 2, 1, 0]) gates.get(i)?.();
  assert.equal(await first, 0);
  assert.equal(await ahead.take(1), 10);
  assert.deepEqual(started, [0, 1, 2, 3, 4], 'one more as one is taken');
  assert.equal(await ahead.take(2), 20);
  await assert.rejects(ahead.take(3), /item 3 cannot be opened/);
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6]);
  assert.throws(() => ahead.take(1), /taken twice/);
  for (const i of [4, 5, 6]) gates.get(i)?.();
  await ahead.close();
  assert.deepEqual(closed.sort(), [40, 50, 60], 'opened and never taken: closed');
  assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6], 'nothing opened after close');
});
