import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { ExportFormat } from '../../../src/core/out-convert.js';
import { concatParts, type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { cli, useTmp } from '../../helpers.js';
import { prng, REFERENCE } from '../../out-fixtures.js';

// export --part K/N then --concat give, for N = 1, 3 and 7, the bytes one
// process writes: rows, the error lines, the invalid lines' rejects (with
// their file:line), on one big file and on several; lines straddle the
// cuts, some end in CRLF, the last has no LF.

const tmp = useTmp();

/** Lines of varied length: errors, an invalid line, CRLF ends, a last line without LF. */
function outText(lines: number, seed: number, invalid: number[] = []): string {
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const end = i % 13 === 0 ? '\r\n' : '\n';
    if (invalid.includes(i)) out.push(`{"input":{"userId":"x${i}"},"output":${end}`);
    else if (i % 29 === 5) out.push(REFERENCE.error.replace('"77"', `"e${seed}-${i}"`) + end);
    else {
      const n = 1 + Math.floor(rand() * 6);
      const items = Array.from({ length: n }, (_, j) => `"i${i}-${j}${'z'.repeat(Math.floor(rand() * 40))}"`);
      const scores = Array.from({ length: n }, (_, j) => `${(n - j) / 10}`);
      out.push(
        `{"input":{"userId":"u${seed}-${i}"},"output":{"recommendedItems":[${items}],"scores":[${scores}]},"error":null}${end}`,
      );
    }
  }
  return out.join('').replace(/\r?\n$/, '');
}

const FORMATS: { format: ExportFormat; top?: number }[] = [
  { format: 'csv-long' },
  { format: 'jsonl' },
  { format: 'csv-wide', top: 6 },
];

async function readIf(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** Exports sources in n parts, joins them; the outputs, errors and rejects, and each part's summary. */
async function inParts(sources: string[], n: number, f: (typeof FORMATS)[number], workers = 0) {
  const outs: string[] = [];
  const summaries: ExportSummary[] = [];
  let errors = '';
  let rejects = '';
  for (let k = 1; k <= n; k++) {
    const output = tmp.fresh(`part-${k}-of-${n}.${f.format === 'jsonl' ? 'jsonl' : 'csv'}`);
    const s = await exportOutputs({
      sources,
      output,
      ...f,
      part: `${k}/${n}`,
      onInvalid: 'skip',
      rejects: `${output}.rejects.jsonl`,
      pieceSize: 4096,
      workers,
    });
    summaries.push(s);
    outs.push(output);
    errors += await readIf(`${output}.errors.jsonl`);
    rejects += await readIf(`${output}.rejects.jsonl`);
  }
  const joined = tmp.fresh('joined');
  await concatParts({ parts: outs, output: joined });
  return { text: await readFile(joined, 'utf8'), errors, rejects, summaries };
}

async function whole(sources: string[], f: (typeof FORMATS)[number]) {
  const output = tmp.fresh(`whole.${f.format}`);
  await exportOutputs({
    sources,
    output,
    ...f,
    onInvalid: 'skip',
    rejects: `${output}.rejects.jsonl`,
    workers: 0,
  });
  return {
    text: await readFile(output, 'utf8'),
    errors: await readIf(`${output}.errors.jsonl`),
    rejects: await readIf(`${output}.rejects.jsonl`),
  };
}

async function sameAsOneProcess(sources: string[], mode: 'files' | 'bytes') {
  for (const f of FORMATS) {
    const one = await whole(sources, f);
    assert.ok(one.errors.length > 0 && one.rejects.length > 0, 'the input has error and invalid lines');
    for (const n of [1, 3, 7]) {
      const got = await inParts(sources, n, f);
      const what = `${f.format}, ${n} parts`;
      assert.equal(got.text, one.text, what);
      assert.equal(got.errors, one.errors, what);
      assert.equal(got.rejects, one.rejects, what);
      const digests = new Set(got.summaries.map((s) => s.part?.listing));
      assert.equal(digests.size, 1, `${what}: every part saw the same listing`);
      if (n > 1) assert.deepEqual(new Set(got.summaries.map((s) => s.part?.mode)), new Set([mode]), what);
      // The shares tile the sources laid end to end.
      const total = got.summaries[0]?.part?.total ?? -1;
      assert.deepEqual(
        got.summaries.map((s) => [s.part?.from, s.part?.to]),
        Array.from({ length: n }, (_, i) => [Math.floor((i * total) / n), Math.floor(((i + 1) * total) / n)]),
      );
    }
  }
}

describe('export --part and --concat', () => {
  test('one big file: byte ranges cut at line ends give the rows, errors and rejects of one process', async () => {
    const file = tmp.fresh('big.out');
    await writeFile(file, outText(1500, 1, [3, 700, 1499]));
    await sameAsOneProcess([file], 'bytes');
  });

  test('several files of about one size: whole files dealt out, the same as one process', async () => {
    const files: string[] = [];
    for (let i = 0; i < 12; i++) {
      const file = tmp.fresh(`f${String(i).padStart(2, '0')}.out`);
      await writeFile(file, outText(80 + (i % 3) * 10, 10 + i, i === 4 ? [17] : []));
      files.push(file);
    }
    await sameAsOneProcess(files, 'files');
  });

  test('files of very unequal sizes: byte ranges across files, the same as one process', async () => {
    const files: string[] = [];
    for (const [i, lines] of [40, 900, 30, 5, 200].entries()) {
      const file = tmp.fresh(`u${i}.out`);
      await writeFile(file, outText(lines, 20 + i, i === 1 ? [450] : []));
      files.push(file);
    }
    await sameAsOneProcess(files, 'bytes');
  });
});
