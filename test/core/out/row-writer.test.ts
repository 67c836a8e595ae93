import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpareBuffers } from '../../../src/core/out/row-writer.js';

test('SpareBuffers: the four largest spares are kept, so growing pieces reuse them instead of allocating afresh', () => {
  const s = new SpareBuffers();
  const small = Array.from({ length: 4 }, () => s.take(100_000).buffer as ArrayBuffer);
  for (const b of small) s.recycle(b);
  // A larger piece: none fits, a new buffer an eighth larger than asked.
  const big = s.take(2_000_000);
  assert.ok(big.length >= 2_250_000, String(big.length));
  s.recycle(big.buffer as ArrayBuffer);
  // Kept (a small one dropped for it): the next, slightly larger piece takes it.
  assert.equal(s.take(2_100_000).buffer, big.buffer);
  // Back with three small ones, then a smaller one still: that one is dropped, not the big one.
  s.recycle(big.buffer as ArrayBuffer);
  s.recycle(new ArrayBuffer(50_000));
  assert.equal(s.take(2_000_000).buffer, big.buffer);
  const reused = Array.from({ length: 4 }, () => s.take(100_000).buffer).filter((b) =>
    small.includes(b as ArrayBuffer),
  );
  assert.equal(reused.length, 3);
  assert.equal(s.take(0).length, 0);
});
