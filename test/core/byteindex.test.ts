import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteIndex, hashBytes } from '../../src/core/byteset.js';
import { prng } from '../../src/sample.js';

test('ByteIndex gives dense ids in insertion order and finds exactly the keys added (Map oracle)', () => {
  const rand = prng(17);
  const index = new ByteIndex({ keys: 10, keyBytes: 40 });
  const oracle = new Map<string, number>();
  const buf = Buffer.alloc(64);
  for (let i = 0; i < 50_000; i++) {
    const key = `k${Math.floor(rand() * 20_000)}${rand() < 0.1 ? 'é' : ''}`;
    const at = Math.floor(rand() * 8);
    const len = buf.write(key, at);
    const h = hashBytes(buf, at, at + len);
    if (rand() < 0.5) {
      const id = index.add(buf, at, at + len, h);
      if (!oracle.has(key)) oracle.set(key, oracle.size);
      assert.equal(id, oracle.get(key));
    } else assert.equal(index.find(buf, at, at + len, h), oracle.get(key) ?? -1);
  }
  assert.equal(index.size, oracle.size);
  assert.ok(oracle.size > 10_000);
});
