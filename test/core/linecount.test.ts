import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { countRegularLines } from '../../src/core/linecount.js';
import { prng } from '../helpers.js';

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

test('countRegularLines across SIMD steps, 255-step rounds and 256 KiB pieces', () => {
  const rand = prng(11);
  const line = (i: number) => `{"userId":"u${i.toString(36)}${'x'.repeat(i % 23)}"}\n`;
  // Long enough for the module's 255-step rounds (4080 bytes) and its 256 KiB pieces.
  for (const lines of [1, 17, 300, 5000, 40000]) {
    let text = '';
    for (let i = 0; i < lines; i++) text += line(i);
    const body = Buffer.from(text);
    assert.equal(countRegularLines(body), lines);
    assert.equal(oracle(body), lines);
    // One fault at a random place, then right at each piece or round edge.
    const spots = [Math.floor(rand() * body.length)];
    for (const edge of [16, 4080, 4096, 256 * 1024])
      if (edge < body.length) spots.push(edge - 1, edge, edge + 1);
    for (const at of spots) {
      for (const fault of [13, 32, 9, 10]) {
        const bad = Buffer.from(body);
        bad[at] = fault;
        assert.equal(countRegularLines(bad), oracle(bad), `${lines} lines, byte ${fault} at ${at}`);
      }
    }
  }
});

test('the embedded WebAssembly modules are their .wat files assembled (npm run wasm)', async () => {
  const script = new URL('../../scripts/wasm.mjs', import.meta.url).href;
  const { assemble, MODULES } = (await import(script)) as {
    assemble(name: string): Promise<string>;
    MODULES: string[];
  };
  assert.deepEqual(MODULES, [
    'linecount',
    'hashcut',
    'drain',
    'idcut',
    'out/key-scan',
    'out/export-rows',
    'firsts',
    'report-scan',
    'report-keys',
    'radix-sort',
  ]);
  for (const name of MODULES) {
    const committed = await readFile(new URL(`../../src/core/${name}-wasm.ts`, import.meta.url), 'utf8');
    assert.equal(committed, await assemble(name), `${name}-wasm.ts is stale: run npm run wasm`);
  }
});
