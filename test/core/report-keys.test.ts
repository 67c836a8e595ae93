import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashBytes } from '../../src/core/byteset.js';
import type { KeyAdder } from '../../src/core/report-keys.js';
import { SharedKeys } from '../../src/stages/report/shared-keys.js';
import { prng } from '../helpers.js';

/** A key through the WebAssembly adder as report-scan.wat calls it: 8 bytes a word, read past the key as the scan does. */
function wasmAdd(adder: KeyAdder, buf: Buffer, s: number, e: number, hash: number): boolean {
  if (adder.begin(e - s) === 0) return false;
  for (let i = 0; 8 * i < e - s; i++) adder.word(i, buf.readBigInt64LE(s + 8 * i));
  return adder.end(hash) !== 0;
}

function keysOf(t: SharedKeys): string[] {
  const out: string[] = [];
  t.each((buf, s, e) => out.push(buf.toString('latin1', s, e)));
  return out;
}

test('the shared keys table added to from WebAssembly holds what SharedKeys.add holds, mixed with it, on random keys and sizes', () => {
  const seen = { sealed: 0, open: 0 };
  for (let round = 0; round < 40; round++) {
    const r = prng(700 + round);
    const n = 50 + Math.floor(r() * 3000);
    // Short keys mostly, some past the length byte's 254, repeats from far back.
    const keys: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0 && r() < 0.3) keys.push(keys[Math.floor(r() * keys.length)] as Buffer);
      else {
        const len = r() < 0.05 ? 250 + Math.floor(r() * 10) : Math.floor(r() * (r() < 0.5 ? 9 : 40));
        keys.push(
          Buffer.from(Array.from({ length: len }, () => 97 + Math.floor(r() * (r() < 0.1 ? 3 : 26)))),
        );
      }
    }
    // Every key in one buffer with room after it (the scan reads whole words past a key).
    const buf = Buffer.alloc(keys.reduce((a, k) => a + k.length, 0) + 8);
    const spans: [number, number, number][] = [];
    let at = 0;
    for (const k of keys) {
      k.copy(buf, at);
      spans.push([at, at + k.length, hashBytes(buf, at, at + k.length)]);
      at += k.length;
    }
    const budget = [1024, 4096, 16 * 1024, 64 * 1024, 1 << 20][round % 5] as number;
    const guess = [4, 8, 16][round % 3] as number;
    const plain = SharedKeys.create(budget, guess);
    const mixed = SharedKeys.create(budget, guess);
    const adder = mixed.adder();
    const tookPlain: boolean[] = [];
    const tookMixed: boolean[] = [];
    for (const [s, e, h] of spans) {
      tookPlain.push(plain.add(buf, s, e, h));
      // A lane: most keys from its scan, the rest (refused lines) by JavaScript, and what the adder declines too.
      tookMixed.push(
        r() < 0.8 ? wasmAdd(adder, buf, s, e, h) || mixed.add(buf, s, e, h) : mixed.add(buf, s, e, h),
      );
    }
    plain.flush();
    mixed.flush();
    assert.deepEqual(mixed.counted(), mixed.totals(), `counted, round ${round}`);
    const held = keysOf(mixed);
    assert.equal(new Set(held).size, held.length, `a key held twice, round ${round}`);
    for (const [i, [s, e, h]] of spans.entries())
      if (tookMixed[i]) assert.ok(mixed.has(buf, s, e, h), `key ${i} taken and not found, round ${round}`);
    if (plain.sealed || mixed.sealed) {
      seen.sealed++;
      continue;
    }
    seen.open++;
    assert.deepEqual(tookMixed, tookPlain, `taken, round ${round}`);
    assert.deepEqual(held.sort(), keysOf(plain).sort(), `keys, round ${round}`);
    assert.deepEqual(mixed.counted(), plain.counted(), `counts, round ${round}`);
  }
  assert.ok(seen.sealed > 0 && seen.open > 0, JSON.stringify(seen));
});

test('a shared keys table for a budget past what a WebAssembly memory holds is made, smaller (it seals sooner)', () => {
  const t = SharedKeys.create(2 ** 34, 8);
  assert.ok(t.buffer.byteLength <= 2 ** 31, String(t.buffer.byteLength));
  assert.ok(t.slotCount > 0 && t.arena.length > 0);
});
