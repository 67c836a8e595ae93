import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PartFile, parsePartSpec, planPart } from '../../src/core/part-split.js';
import { prng } from '../../src/sample.js';

test('parsePartSpec takes K/N with 1 <= K <= N and nothing else', () => {
  assert.deepEqual(parsePartSpec('3/7'), { k: 3, n: 7 });
  assert.deepEqual(parsePartSpec(' 1 / 1 '), { k: 1, n: 1 });
  for (const bad of ['0/3', '4/3', '3', '1/0', '-1/2', '1.5/3', 'a/b', '', '1/2/3'])
    assert.equal(parsePartSpec(bad), undefined, bad);
});

/** Every byte of every file owned by exactly one part; whole files stay whole and in order. */
function checkTiling(files: PartFile[], n: number): 'files' | 'bytes' {
  const owned = files.map(() => [] as [number, number, number][]);
  let mode: 'files' | 'bytes' | undefined;
  let lastPart = 0;
  let lastIndex = -1;
  for (let k = 1; k <= n; k++) {
    const plan = planPart(files, k, n);
    mode ??= plan.mode;
    assert.equal(plan.mode, mode, 'every part chooses the same mode');
    for (const r of plan.ranges) {
      owned[r.index]?.push([r.start, r.end, k]);
      assert.ok(r.index > lastIndex || k > lastPart || r.index === lastIndex, 'ranges in source order');
      assert.ok(r.index >= lastIndex, 'a later part never reads an earlier file');
      lastIndex = r.index;
      lastPart = k;
      if (plan.mode === 'files' || files[r.index]?.gz) assert.equal(r.whole, true);
    }
  }
  for (const [i, f] of files.entries()) {
    const rs = owned[i] ?? [];
    if (f.size === 0) {
      assert.ok(rs.length <= 1, `empty file ${i} in at most one part`);
      continue;
    }
    let at = 0;
    for (const [s, e] of rs) {
      assert.equal(s, at, `file ${i}: no gap or overlap`);
      assert.ok(e > s);
      at = e;
    }
    assert.equal(at, f.size, `file ${i} covered`);
  }
  return mode as 'files' | 'bytes';
}

test('planPart: the n parts tile every file, in either mode (random listings)', () => {
  const rand = prng(7);
  const modes = new Set<string>();
  for (let c = 0; c < 400; c++) {
    const count = Math.floor(rand() * 12);
    const files = Array.from({ length: count }, () => ({
      size: rand() < 0.1 ? 0 : Math.floor(rand() ** 3 * 10_000),
      gz: rand() < 0.15,
    }));
    modes.add(checkTiling(files, 1 + Math.floor(rand() * 9)));
  }
  assert.deepEqual(modes, new Set(['files', 'bytes']));
});

test('planPart: whole files by their middle byte; byte ranges past a fair share; .gz never cut', () => {
  const even = Array.from({ length: 6 }, () => ({ size: 100, gz: false }));
  assert.deepEqual(
    [1, 2, 3].map((k) => planPart(even, k, 3).ranges.map((r) => r.index)),
    [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
  );
  // 400 > 1000/3: a file past a fair share is cut.
  const uneven = [100, 400, 100, 100, 300].map((size) => ({ size, gz: false }));
  assert.equal(planPart(uneven, 1, 3).mode, 'bytes');
  assert.deepEqual(planPart(uneven, 2, 3).ranges, [
    { index: 1, start: 233, end: 400, whole: false },
    { index: 2, start: 0, end: 100, whole: true },
    { index: 3, start: 0, end: 66, whole: false },
  ]);
  // One file in fewer parts than files: bytes; its gz form goes whole to the part of its middle byte.
  assert.deepEqual(planPart([{ size: 10, gz: false }], 2, 2).ranges, [
    { index: 0, start: 5, end: 10, whole: false },
  ]);
  assert.deepEqual(planPart([{ size: 10, gz: true }], 1, 2).ranges, []);
  assert.deepEqual(planPart([{ size: 10, gz: true }], 2, 2).ranges, [
    { index: 0, start: 0, end: 10, whole: true },
  ]);
});

test('planPart: shares past 2^53 bytes times parts stay exact', () => {
  const big = [{ size: 9_000_000_000_000, gz: false }];
  const plan = planPart(big, 1000, 1000);
  assert.equal(plan.to, 9_000_000_000_000);
  assert.equal(plan.from, 8_991_000_000_000);
});
