import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countRegularLines } from '../src/core/linecount.js';
import { prng } from './helpers.js';

/** The straightforward definition, byte by byte. */
function oracle(b: Uint8Array): number {
  if (b.length === 0 || b[b.length - 1] !== 10) return -1;
  const ws = (c: number | undefined) => c === 10 || c === 13 || c === 32 || c === 9;
  if (ws(b[0])) return -1;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 13) return -1;
    if (b[i] === 10) {
      n++;
      if (i + 1 < b.length && ws(b[i + 1])) return -1;
    }
  }
  return n;
}

test('countRegularLines equals the byte-by-byte definition at every alignment', () => {
  const rand = prng(5);
  const alphabet = ['{', '"', 'a', 'é', '\n', '\n', '\r', ' ', '\t', '}', '😀'];
  let regular = 0;
  for (let round = 0; round < 3000; round++) {
    let text = '';
    const len = Math.floor(rand() * 60);
    const noisy = rand() < 0.5;
    for (let i = 0; i < len; i++) {
      if (noisy) text += alphabet[Math.floor(rand() * alphabet.length)];
      else text += rand() < 0.15 ? '\n' : 'x';
    }
    if (rand() < 0.7) text = `${text.replace(/\n+/g, '\n').replace(/^\n/, '')}\n`;
    const body = Buffer.from(text);
    const offset = Math.floor(rand() * 4);
    const backing = Buffer.alloc(body.length + offset);
    body.copy(backing, offset);
    const view = backing.subarray(offset);
    const want = oracle(view);
    if (want > 0) regular++;
    assert.equal(countRegularLines(view), want, JSON.stringify(text));
  }
  assert.ok(regular > 500, `${regular} regular cases`);
});
