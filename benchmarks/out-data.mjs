// Deterministic batch-inference output (.out) files for the export benchmark.
//
// Each line is what a USER_PERSONALIZATION job writes: the echoed user, 25
// recommended items and their scores in decreasing order, printed the way the
// service prints them (plain decimals, and E-notation below 0.001), then
// "error":null. About 530 bytes a line: 1.9 million lines per GB (10^9 bytes).
//
// Usage: node benchmarks/out-data.mjs --mb 1000 [--seed 7] [--items 25] -o FILE
// As a module: writeOutFile(path, {bytes, seed, items}) -> {lines, bytes}.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

/** mulberry32, as in src/sample.ts: same seed, same file. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A score as the service prints it: 6 significant digits, E-notation under 0.001 (e.g. 3.773E-4). */
export function formatScore(x) {
  if (x >= 0.001) return String(Number(x.toPrecision(6)));
  const [m, e] = x.toExponential(3).split('e');
  return `${m}E${e}`;
}

/** User n's id: "u" + base36 of a bijective scramble of n, so ids look random but never repeat. */
export function userId(n) {
  return `u${(Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(36)}`;
}

/** One output line for user n. */
export function outLine(n, rand, items = 25, catalogSize = 100000) {
  const ids = [];
  const scores = [];
  let s = 0.05 + rand() * 0.1;
  for (let i = 0; i < items; i++) {
    ids.push(`"${1 + Math.floor(rand() * catalogSize)}"`);
    scores.push(formatScore(s));
    s *= 0.55 + rand() * 0.4;
  }
  return `{"input":{"userId":"${userId(n)}"},"output":{"recommendedItems":[${ids.join(',')}],"scores":[${scores.join(',')}]},"error":null}\n`;
}

/** Writes lines until the file holds at least `bytes` bytes; returns the line and byte counts. */
export async function writeOutFile(path, { bytes, seed = 7, items = 25 }) {
  const rand = prng(seed);
  const out = createWriteStream(path, { highWaterMark: 1 << 20 });
  let written = 0;
  let lines = 0;
  let chunk = '';
  while (written < bytes) {
    const line = outLine(lines, rand, items);
    chunk += line;
    written += line.length;
    lines++;
    if (chunk.length >= 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return { lines, bytes: written };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      mb: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '7' },
      items: { type: 'string', default: '25' },
      output: { type: 'string', short: 'o' },
    },
  });
  if (!values.output) {
    console.error('usage: node benchmarks/out-data.mjs --mb 1000 -o FILE');
    process.exit(2);
  }
  const r = await writeOutFile(values.output, {
    bytes: Number(values.mb) * 1e6,
    seed: Number(values.seed),
    items: Number(values.items),
  });
  console.log(JSON.stringify(r));
}
