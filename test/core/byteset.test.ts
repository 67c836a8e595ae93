import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteIndex, ByteSet, hashBytes } from '../../src/core/byteset.js';
import { prng } from '../../src/sample.js';

const add = (set: ByteSet, key: string) => {
  const b = Buffer.from(key);
  return set.add(b, 0, b.length, hashBytes(b, 0, b.length));
};

test('ByteSet agrees with a Set<string> on random keys, across table growth', () => {
  const rand = prng(5);
  const set = new ByteSet(64 * 1024 * 1024);
  const oracle = new Set<string>();
  for (let i = 0; i < 50_000; i++) {
    const key = `k${Math.floor(rand() * 20_000)}${rand() < 0.1 ? 'é日' : ''}`;
    assert.equal(add(set, key), !oracle.has(key), key);
    oracle.add(key);
  }
  assert.equal(set.size, oracle.size);
  const listed = [...set.keys()].map(([b, s, e]) => b.toString('utf8', s, e));
  assert.deepEqual(listed, [...oracle]);
});

test('ByteSet keys of equal hash but different bytes stay distinct', () => {
  const set = new ByteSet(1 << 20);
  const a = Buffer.from('abc');
  const b = Buffer.from('abd');
  assert.equal(set.add(a, 0, 3, 7), true);
  assert.equal(set.add(b, 0, 3, 7), true);
  assert.equal(set.add(a, 0, 3, 7), false);
  assert.equal(set.add(Buffer.from('ab'), 0, 2, 7), true);
  assert.equal(set.size, 3);
});

test('ByteSet says full at its cap instead of growing, and adds nothing then', () => {
  const set = new ByteSet(4096);
  let full = -1;
  for (let i = 0; i < 10_000; i++) {
    if (add(set, `user-${i}`) === 'full') {
      full = i;
      break;
    }
  }
  assert.ok(full > 10, `full after ${full} keys`);
  assert.equal(set.size, full);
  assert.ok(set.bytes <= 4096, `holds ${set.bytes} bytes`);
  assert.equal(add(set, 'user-0'), false);
});

test('ByteIndex.each gives every key back with its id, in id order, across growth', () => {
  const index = new ByteIndex({ keys: 2, keyBytes: 4 });
  const keys = Array.from({ length: 3000 }, (_, i) => Buffer.from(i % 3 === 0 ? `Zoë${i}` : `k${i}`));
  for (const k of [...keys, ...keys]) index.add(k, 0, k.length, hashBytes(k, 0, k.length));
  const seen: string[] = [];
  index.each((id, arena, s, e) => {
    assert.equal(id, seen.length);
    seen.push(arena.toString('utf8', s, e));
  });
  assert.deepEqual(
    seen,
    keys.map((k) => k.toString()),
  );
});
