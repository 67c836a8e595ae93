import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { ExportFormat } from '../../../src/core/out-convert.js';
import { concatParts, type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { cli, stdinOf, useTmp } from '../../helpers.js';
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

describe('export --part: edges', () => {
  test('a line longer than a share: the part it starts in owns it, the others get nothing of it', async () => {
    const file = tmp.fresh('long.out');
    const long = `{"input":{"userId":"long"},"output":{"recommendedItems":["${'x'.repeat(5000)}"],"scores":[1]},"error":null}`;
    await writeFile(file, `${outText(3, 2)}\n${long}\n${outText(3, 3)}`);
    const one = await whole([file], FORMATS[0] as (typeof FORMATS)[number]);
    const got = await inParts([file], 7, FORMATS[0] as (typeof FORMATS)[number]);
    assert.equal(got.text, one.text);
    // Each line read once: the parts' lines add up to the file's 7, and the parts inside the long line read none.
    assert.equal(
      got.summaries.reduce((n, s) => n + s.lines, 0),
      7,
    );
    assert.ok(
      got.summaries.filter((s) => s.lines === 0).length >= 3,
      'parts inside the long line read nothing',
    );
  });

  test('a BOM, gzipped files (given whole to one part) and the worker threads', async () => {
    const { gzipSync } = await import('node:zlib');
    const plain = tmp.fresh('bom.out');
    await writeFile(plain, `\ufeff${outText(400, 4)}`);
    const gz = tmp.fresh('more.out.gz');
    await writeFile(gz, gzipSync(outText(300, 5)));
    const f = FORMATS[0] as (typeof FORMATS)[number];
    const one = await whole([plain, gz], f);
    const got = await inParts([plain, gz], 3, f, 2);
    assert.equal(got.text, one.text);
    const gzParts = got.summaries.filter((s) => s.part?.ranges.some((r) => r.file === gz));
    assert.equal(gzParts.length, 1);
    assert.deepEqual(
      gzParts[0]?.part?.ranges.find((r) => r.file === gz),
      { file: gz, start: 0, end: (await stat(gz)).size },
    );
  });

  test('refused: csv-wide without --top, stdin, --since; a gzipped file named .out cut by bytes', async () => {
    const file = tmp.fresh('p.out');
    await writeFile(file, outText(20, 6));
    await assert.rejects(
      exportOutputs({ sources: [file], format: 'csv-wide', part: '1/2', output: tmp.fresh('w.csv') }),
      /--part with csv-wide needs --top N/,
    );
    await assert.rejects(exportOutputs({ sources: [file], part: '3/2', output: tmp.fresh('x.csv') }), /K\/N/);
    await assert.rejects(
      exportOutputs({ sources: ['-'], part: '1/2', output: tmp.fresh('x.csv'), stdin: stdinOf('') }),
      /--part slices files .* stdin \(-\) has neither/,
    );
    await assert.rejects(
      exportOutputs({
        sources: [file],
        format: 'parquet',
        partitionBy: { run_date: '2026-12-06' },
        part: '1/2',
        output: tmp.fresh('lake'),
      }),
      /--part with --partition-by: every part would write the same part-00000\.parquet/,
    );
    const { gzipSync } = await import('node:zlib');
    const hidden = tmp.fresh('hidden.out');
    await writeFile(hidden, gzipSync(outText(50, 7)));
    await assert.rejects(
      exportOutputs({ sources: [hidden], part: '2/2', output: tmp.fresh('h.csv') }),
      /gzipped: --part cuts files by bytes.*name it \.gz/,
    );
  });

  test('--concat: a header that differs is refused naming the part; header-only parts skipped; JSON Lines get their last LF', async () => {
    const a = tmp.fresh('a.csv');
    const b = tmp.fresh('b.csv');
    const empty = tmp.fresh('empty.csv');
    await writeFile(a, 'userId,rank,itemId,score\r\nu1,1,x,0.5\r\n');
    await writeFile(b, 'userId,rank,itemId\r\nu2,1,y\r\n');
    await writeFile(empty, 'userId,rank,itemId\r\n');
    await assert.rejects(concatParts({ parts: [a, b], output: tmp.fresh('j.csv') }), (err: Error) => {
      assert.match(err.message, /b\.csv:1: its header differs from the first part's/);
      return true;
    });
    const joined = tmp.fresh('j.csv');
    const s = await concatParts({ parts: [empty, a, empty, a], output: joined });
    assert.equal(await readFile(joined, 'utf8'), 'userId,rank,itemId,score\r\nu1,1,x,0.5\r\nu1,1,x,0.5\r\n');
    assert.deepEqual({ format: s.format, dropped: s.headersDropped }, { format: 'csv', dropped: 1 });
    const pq = tmp.fresh('p.parquet');
    await writeFile(pq, 'PAR1\n\0\0binary');
    await assert.rejects(
      concatParts({ parts: [pq], output: tmp.fresh('j') }),
      /p\.parquet: Parquet parts need no join/,
    );
    await assert.rejects(
      concatParts({ parts: [a], format: 'parquet', output: tmp.fresh('j') }),
      /Parquet parts need no join/,
    );
    const j1 = tmp.fresh('1.jsonl');
    const j2 = tmp.fresh('2.jsonl');
    await writeFile(j1, '{"userId":"a","items":[]}');
    await writeFile(j2, '');
    const jj = tmp.fresh('j.jsonl');
    await concatParts({ parts: [j1, j2, j1], output: jj });
    assert.equal(await readFile(jj, 'utf8'), '{"userId":"a","items":[]}\n{"userId":"a","items":[]}\n');
  });

  test('CLI: --part and --concat, and what --concat refuses', async () => {
    const file = tmp.fresh('cli.out');
    await writeFile(file, outText(300, 8));
    const parts: string[] = [];
    for (const k of [1, 2, 3]) {
      const out = tmp.fresh(`cli-${k}.csv`);
      const r = await cli(['export', file, '--part', `${k}/3`, '-o', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as ExportSummary;
      assert.equal(summary.part?.k, k);
      parts.push(out);
    }
    const joined = tmp.fresh('cli-joined.csv');
    const r = await cli(['export', '--concat', ...parts, '-o', joined]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /3 parts joined .* 2 headers dropped/);
    const one = await cli(['export', file, '--errors', tmp.fresh('one.errors.jsonl')]);
    assert.equal(await readFile(joined, 'utf8'), one.stdout);
    const bad = await cli(['export', '--concat', ...parts, '--top', '3', '-o', joined]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--top goes with the exports that wrote them/);
    const help = await cli(['export', '--help']);
    assert.match(help.stdout, /--part K\/N[\s\S]*--concat[\s\S]*--part 3\/7/);
  });
});

test('random files, part counts, piece sizes and a line past --max-line-length: joined parts equal one process', async () => {
  const rand = prng(99);
  for (let c = 0; c < 6; c++) {
    const files: string[] = [];
    const count = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < count; i++) {
      const file = tmp.fresh(`r${c}-${i}.out`);
      const lines = Math.floor(rand() * 120);
      // A line past maxLineLength (2 KiB here) is an invalid line wherever it falls.
      const huge = `{"input":{"userId":"h${c}"},"output":{"recommendedItems":["${'h'.repeat(3000)}"]},"error":null}\n`;
      await writeFile(
        file,
        (rand() < 0.5 ? huge : '') + outText(lines, 100 * c + i, [Math.floor(lines / 2)]),
      );
      files.push(file);
    }
    const n = 1 + Math.floor(rand() * 9);
    const pieceSize = 64 + Math.floor(rand() * 3000);
    const f = FORMATS[Math.floor(rand() * FORMATS.length)] as (typeof FORMATS)[number];
    const opts = { maxLineLength: 2048, pieceSize };
    const one = tmp.fresh(`r${c}-one`);
    await exportOutputs({
      sources: files,
      output: one,
      ...f,
      ...opts,
      onInvalid: 'skip',
      rejects: `${one}.rej`,
      workers: 0,
    });
    const parts: string[] = [];
    let rejects = '';
    for (let k = 1; k <= n; k++) {
      const out = tmp.fresh(`r${c}-${k}`);
      await exportOutputs({
        sources: files,
        output: out,
        ...f,
        ...opts,
        part: `${k}/${n}`,
        onInvalid: 'skip',
        rejects: `${out}.rej`,
        workers: 0,
      });
      parts.push(out);
      rejects += await readIf(`${out}.rej`);
    }
    const joined = tmp.fresh(`r${c}-joined`);
    await concatParts({ parts, output: joined, format: f.format });
    const what = `case ${c}: ${count} files, ${n} parts, ${f.format}, pieces of ${pieceSize}`;
    assert.equal(await readFile(joined, 'utf8'), await readFile(one, 'utf8'), what);
    assert.equal(rejects, await readIf(`${one}.rej`), what);
  }
});
