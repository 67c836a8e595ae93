/** io/abort.ts: the AbortError's shape, a wait cut short, sources told to stop. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abortable, abortError, raceAbort } from '../../src/io/abort.js';

describe('abortError', () => {
  test('an AbortError reason is thrown as it is; any other reason becomes the cause', () => {
    const plain = new AbortController();
    plain.abort();
    assert.equal(abortError(plain.signal), plain.signal.reason);
    assert.equal(abortError(plain.signal).name, 'AbortError');
    const reason = new Error('deadline');
    const e = abortError(AbortSignal.abort(reason));
    assert.equal(e.name, 'AbortError');
    assert.equal(e.cause, reason);
    assert.equal(abortError(AbortSignal.abort('a string')).cause, 'a string');
  });
});

describe('raceAbort and abortable', () => {
  test('a wait that never ends is cut short by the abort', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 10);
    await assert.rejects(raceAbort(new Promise(() => {}), ac.signal), { name: 'AbortError' });
  });

  test('a source stuck in a wait: the abort throws, and its finally runs once the wait ends', async () => {
    const ac = new AbortController();
    let release: () => void = () => {};
    let finallyRan = false;
    async function* stuck() {
      try {
        yield 1;
        await new Promise<void>((r) => {
          release = r;
        });
        yield 2;
      } finally {
        finallyRan = true;
      }
    }
    const seen: number[] = [];
    const run = async () => {
      for await (const v of abortable(stuck(), ac.signal)) {
        seen.push(v);
        setTimeout(() => ac.abort(), 5);
      }
    };
    await assert.rejects(run(), { name: 'AbortError' });
    assert.deepEqual(seen, [1]);
    assert.equal(finallyRan, false);
    release();
    await new Promise((r) => setImmediate(r));
    assert.equal(finallyRan, true);
  });

  test('a sync source is checked at every value and closed when the consumer stops', async () => {
    let closed = false;
    function* values() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    const ac = new AbortController();
    let n = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of abortable(values(), ac.signal)) if (++n === 3) ac.abort();
      })(),
      { name: 'AbortError' },
    );
    assert.equal(n, 3);
    assert.equal(closed, true);
  });
});
