import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyFilter } from '../../src/core/key-filter.js';

test('a key added is always found; keys never added mostly are not (about 1 in 100)', () => {
  const f = new KeyFilter(100_000, 1 << 20);
  const key = (s: string) => Buffer.from(s);
  for (let i = 0; i < 100_000; i++) {
    const k = key(`user-${i}`);
    f.add(k, 0, k.length);
  }
  for (let i = 0; i < 100_000; i++) {
    const k = key(`user-${i}`);
    assert.ok(f.has(k, 0, k.length), `user-${i}`);
  }
  let false_ = 0;
  for (let i = 0; i < 100_000; i++) {
    const k = key(`other-${i}`);
    if (f.has(k, 0, k.length)) false_++;
  }
  assert.ok(false_ < 2000, `${false_} of 100,000 passed`);
  assert.equal(f.added, 100_000);
});

test('keys are bytes in place: the same key inside a larger buffer, multi-byte UTF-8', () => {
  const f = new KeyFilter(10, 1 << 20);
  const line = Buffer.from('{"input":{"userId":"Zoë-7"}}');
  const s = line.indexOf('Zo');
  const e = line.indexOf('"', s);
  f.add(line, s, e);
  const alone = Buffer.from('Zoë-7');
  assert.ok(f.has(alone, 0, alone.length));
  const other = Buffer.from('Zoe-7');
  assert.equal(f.has(other, 0, other.length), false);
});

test('its memory is bounded whatever the keys expected', () => {
  assert.equal(new KeyFilter(1e12, 4 << 20).bytes, 4 << 20);
  assert.equal(new KeyFilter(1, 4 << 20).bytes, 128 * 1024);
});
