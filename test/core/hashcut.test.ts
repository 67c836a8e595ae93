import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashBytes } from '../../src/core/byteset.js';
import { type CutResult, HashCut } from '../../src/core/hashcut.js';
import { PbError } from '../../src/errors.js';
import { prng } from '../helpers.js';

const rand = prng(77);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

/** A value with ASCII, multi-byte UTF-8, or nothing at all. */
function value(): string {
  const alphabet = ['a', 'Z', '7', '-', '@', '.', 'é', 'ß', '中', '😀', ' '];
  let v = '';
  const len = rand() < 0.05 ? 0 : 1 + Math.floor(rand() * 30);
  for (let i = 0; i < len; i++) v += pick(alphabet);
  return v;
}

/** Lines the way prepare writes them, for each key. */
function regularLine(): string {
  const key = pick(['userId', 'itemId', 'itemAttributes']);
  const extra = rand() < 0.3 ? `,"filterValues":{"G":"\\"x\\""}` : '';
  return `{"${key}":${JSON.stringify(value())}${extra}}\n`;
}

/** Lines the WebAssembly loop leaves to JavaScript. */
function irregularLine(): string {
  return pick([
    () => `{"userId":${JSON.stringify(`q"${value()}`)}}\n`, // an escape in the key's value
    () => `{"filterValues":{},"userId":"${value()}"}\n`, // another key first
    () => `{"userId":"${value()}"}\r\n`,
    () => `  \n`,
    () => `{ "itemId": "${value()}" }\n`,
    () => `{"userid":"${value()}"}\n`.replace('userid', 'itemId'),
  ])();
}

/** The definition: each line's key parsed, hashed, and the line put in its shard, in order. */
function oracle(text: string, n: number): { shards: string[]; blank: number } {
  const shards = Array.from({ length: n }, () => '');
  let blank = 0;
  for (const raw of text.split('\n').slice(0, -1)) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      blank++;
      continue;
    }
    const o = JSON.parse(line) as Record<string, string>;
    const key = Buffer.from(o.userId ?? o.itemId ?? (o.itemAttributes as string));
    const t = Math.floor((hashBytes(key, 0, key.length) / 2 ** 32) * n);
    shards[t] += `${line}\n`;
  }
  return { shards, blank };
}

function split(r: CutResult, n: number): string[] {
  const out: string[] = [];
  let start = 0;
  for (let t = 0; t < n; t++) {
    out.push(r.out.toString('utf8', start, r.ends[t]));
    start = r.ends[t] as number;
  }
  return out;
}

test('the WebAssembly cut equals the JavaScript cut and the definition, chunk by chunk, histogram included', () => {
  for (const n of [1, 2, 8, 13, 1000]) {
    const fast = new HashCut(n, 1e9);
    const slow = new HashCut(n, 1e9);
    let regularChunks = 0;
    for (let c = 0; c < 60; c++) {
      const irregular = rand() < 0.3;
      let text = '';
      const lines = 1 + Math.floor(rand() * 400);
      for (let i = 0; i < lines; i++) text += irregular && rand() < 0.05 ? irregularLine() : regularLine();
      if (!irregular) regularChunks++;
      const seg = Buffer.from(text);
      const a = fast.cut(seg, false);
      const b = slow.cutInJs(seg, false);
      const want = oracle(text, n);
      assert.deepEqual(split(a, n), want.shards, `n=${n} chunk ${c}`);
      assert.deepEqual(split(b, n), want.shards);
      assert.deepEqual([...a.recs], [...b.recs]);
      assert.deepEqual([a.lines, a.blank, a.records, a.bytes], [b.lines, b.blank, b.records, b.bytes]);
      assert.equal(a.blank, want.blank);
    }
    // Every chunk of regular lines went through WebAssembly.
    assert.ok(fast.wasmChunks >= regularChunks, `${fast.wasmChunks} of ${regularChunks}`);
    assert.deepEqual([...fast.histogram.records], [...slow.histogram.records]);
    assert.deepEqual([...fast.histogram.bytes], [...slow.histogram.bytes]);
  }
});

test('chunks the WebAssembly loop declines: over 512 KiB, no final newline, a BOM, a line over maxBytes', () => {
  const n = 5;
  let text = '';
  while (text.length < 600_000) text += regularLine();
  const big = new HashCut(n, 1e9);
  assert.deepEqual(split(big.cut(Buffer.from(text), false), n), oracle(text, n).shards);
  assert.equal(big.wasmChunks, 0);

  const noFinal = '{"userId":"a"}\n{"userId":"b"}';
  const cut = new HashCut(n, 1e9);
  assert.deepEqual(split(cut.cut(Buffer.from(noFinal), false), n), oracle(`${noFinal}\n`, n).shards);
  const bom = `\uFEFF{"userId":"a"}\n{"itemId":"b"}\n`;
  assert.deepEqual(split(cut.cut(Buffer.from(bom), true), n), oracle(bom.slice(1), n).shards);
  assert.equal(cut.wasmChunks, 0);

  const small = new HashCut(n, 20);
  assert.throws(
    () => small.cut(Buffer.from('{"userId":"a"}\n{"userId":"abcdefgh"}\n'), false),
    (e: unknown) => e instanceof PbError && e.code === 'PB_LIMIT' && e.line === 2,
  );
});
