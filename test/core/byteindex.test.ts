import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteIndex, hashBytes } from '../../src/core/byteset.js';
import { FirstLines } from '../../src/core/firsts.js';
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

test("FirstLines (firsts.wat) gives each key's first ok, error and input place and the repeats, as a Map does, over random pieces and partitions", () => {
  const rand = prng(23);
  const firsts = new FirstLines();
  for (let round = 0; round < 6; round++) {
    const lines: string[] = [];
    const keySpace = 1 + Math.floor(rand() * (round < 2 ? 5 : 3000));
    const n = Math.floor(rand() * 8000);
    for (let i = 0; i < n; i++) {
      // A tag byte (u, i, a) and the key; some keys share a hash-table neighbourhood or a prefix.
      const key = `${'uia'[Math.floor(rand() * 3)]}k${Math.floor(rand() * keySpace)}${rand() < 0.05 ? 'é\\"' : ''}`;
      const type = 'OEI'[Math.floor(rand() * 3)] as string;
      const tag = rand() < 0.4 ? type.toLowerCase() : type;
      lines.push(`${key}\t${tag}${Math.floor(rand() * 1e12)}`);
    }
    // The reference: decide.ts's rule over a Map.
    const want = new Map<string, number[]>();
    let dups = 0;
    let inDups = 0;
    for (const line of lines) {
      const [key, payload] = line.split('\t') as [string, string];
      const tag = payload.charCodeAt(0);
      const at = 2 * Number(payload.slice(1)) + (tag & 32 ? 1 : 0);
      const k = (tag & ~32) === 79 ? 0 : (tag & ~32) === 69 ? 1 : 2;
      const places = want.get(key) ?? [-1, -1, -1];
      want.set(key, places);
      if (places[k] === -1) places[k] = at;
      else if (k < 2) dups++;
      else inDups++;
    }
    const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''));
    assert.ok(firsts.start(lines.length, bytes.length));
    // Pieces of whole lines, cut at random line ends.
    let from = 0;
    while (from < bytes.length) {
      let to = Math.min(bytes.length, from + 1 + Math.floor(rand() * 20_000));
      to = bytes.indexOf(10, to - 1) + 1 || bytes.length;
      firsts.add(bytes.subarray(from, to));
      from = to;
    }
    const r = firsts.result();
    assert.equal(r.keys, want.size);
    assert.equal(r.duplicates, dups);
    assert.equal(r.inputDuplicates, inDups);
    const got = [...want.values()].map((_, id) => [1, 2, 3].map((k) => r.places[4 * id + k]));
    assert.deepEqual(got, [...want.values()]);
  }
  assert.throws(() => {
    firsts.start(1, 10);
    firsts.add(Buffer.from('ukey\tO12'));
  }, /no TAB or no final LF/);
  assert.equal(firsts.start(2 ** 26, 2 ** 29), false, 'past 1 GiB, not begun');
});
