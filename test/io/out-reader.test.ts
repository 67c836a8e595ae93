import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { expandOutSources, looksLikeJsonLines, readOutItems } from '../../src/io/out-reader.js';
import { rejectsWith, split, stdinOf, useTmp } from '../helpers.js';
import { prng, randomFile, randomLine } from '../out-fixtures.js';

// Reading .out sources: which files a source stands for, pieces of whole
// lines whatever the chunking, and the stream-json fallback giving the same
// lines (with the numbers of the lines each object starts on) as the fast path.

const tmp = useTmp();

interface Read {
  lines: { line: number; text: string }[];
  bad: { line: number; reason: string }[];
  pieces: number;
}

/** Every line a source yields, numbered as export numbers them. */
async function readAll(
  name: string,
  o: { stdin?: Readable; pieceSize?: number; maxLineLength?: number } = {},
): Promise<Read> {
  const r: Read = { lines: [], bad: [], pieces: 0 };
  let next = 1;
  for await (const item of readOutItems(name, {
    stdin: o.stdin,
    pieceSize: o.pieceSize ?? 64,
    maxLineLength: o.maxLineLength ?? 1 << 20,
  })) {
    if (item.kind === 'bad') {
      const line = item.line ?? next;
      if (item.line === undefined) next++;
      r.bad.push({ line, reason: item.reason });
      continue;
    }
    r.pieces++;
    const text = item.bytes.toString('utf8');
    assert.ok(
      item.lineNumbers !== undefined || text.endsWith('\n') || !text.slice(0, -1).includes('\n') || true,
    );
    const parts = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
    parts.forEach((t, i) => {
      const line = item.lineNumbers ? (item.lineNumbers[i] as number) : next + i;
      r.lines.push({ line, text: t.replace(/\r$/, '') });
    });
    if (!item.lineNumbers) next += parts.length;
  }
  return r;
}

const nonBlank = (r: Read) => r.lines.filter((l) => l.text.trim() !== '');

describe('sources', () => {
  test('folders give their *.out and *.out.gz files, recursively, in name order; _CHECK and others are ignored', async () => {
    const dir = tmp.fresh('job');
    await mkdir(join(dir, 'shard-00001'), { recursive: true });
    await mkdir(join(dir, 'shard-00000'), { recursive: true });
    for (const f of [
      'shard-00001/b.out',
      'shard-00000/a.out',
      'shard-00000/_CHECK',
      'shard-00000/c.out.gz',
      'notes.txt',
      'x.jsonl',
    ]) {
      await writeFile(join(dir, f), '');
    }
    const single = join(dir, 'notes.txt');
    assert.deepEqual(await expandOutSources([dir, single, '-']), [
      join(dir, 'shard-00000/a.out'),
      join(dir, 'shard-00000/c.out.gz'),
      join(dir, 'shard-00001/b.out'),
      single,
      '-',
    ]);
    const empty = tmp.fresh('empty');
    await mkdir(empty);
    await rejectsWith(expandOutSources([empty]), 'PB_IO', /no \.out files in this folder/);
    await rejectsWith(expandOutSources([join(dir, 'missing.out')]), 'PB_IO', /no such file or folder/);
  });
});

describe('JSON Lines pieces', () => {
  test('any chunking, CRLF, a BOM and multi-byte UTF-8 give the same lines with the same numbers', async () => {
    const { text, lines } = randomFile(3, 60, { errorRate: 0.1 });
    const expected = lines.map((l, i) => ({ line: i + 1, text: l.text }));
    const withBlank = text.replace(/\n/, '\n\n');
    for (const variant of ['plain', 'crlf', 'bom', 'blank'] as const) {
      const data =
        variant === 'crlf'
          ? text.replace(/\n/g, '\r\n')
          : variant === 'bom'
            ? `\uFEFF${text}`
            : variant === 'blank'
              ? withBlank
              : text;
      const bytes = Buffer.from(data);
      for (const how of [1, 7, { seed: 4, max: 50 }, 1 << 20]) {
        const r = await readAll('-', { stdin: stdinOf(split(bytes, how)), pieceSize: 48 });
        const want =
          variant === 'blank' ? expected.map((l) => (l.line > 1 ? { ...l, line: l.line + 1 } : l)) : expected;
        assert.deepEqual(nonBlank(r), want, `${variant} ${JSON.stringify(how)}`);
        assert.deepEqual(r.bad, []);
      }
    }
  });

  test('gzip is detected by content; a last line without a line break is read', async () => {
    const { text, lines } = randomFile(8, 20);
    const path = tmp.fresh('x.out');
    await writeFile(path, gzipSync(Buffer.from(text.slice(0, -1))));
    const r = await readAll(path);
    assert.deepEqual(
      r.lines.map((l) => l.text),
      lines.map((l) => l.text),
    );
  });

  test('a line over --max-line-length is never held whole: reported in its place, the rest goes on', async () => {
    const good = (i: number) => `{"input":{"userId":"u${i}"},"output":{"recommendedItems":[]}}`;
    const long = `{"input":{"userId":"x"},"output":{"recommendedItems":["${'a'.repeat(5000)}"]}}`;
    const data = Buffer.from([good(1), good(2), long, good(4)].join('\n'));
    for (const how of [1, 100, 1 << 20]) {
      const r = await readAll('-', { stdin: stdinOf(split(data, how)), pieceSize: 64, maxLineLength: 200 });
      assert.deepEqual(
        r.lines.map((l) => l.line),
        [1, 2, 4],
      );
      assert.equal(r.bad.length, 1);
      assert.equal(r.bad[0]?.line, 3);
      assert.match(
        r.bad[0]?.reason ?? '',
        /line longer than 200 bytes \(--max-line-length\): 50\d\d bytes skipped/,
      );
    }
  });
});

describe('plain local files', () => {
  test('read straight into piece buffers, they give exactly what the stream path gives', async () => {
    const { text } = randomFile(31, 40, { errorRate: 0.1 });
    const long = `{"input":{"userId":"x"},"output":{"recommendedItems":["${'a'.repeat(700)}"]}}`;
    const lines = text.trim().split('\n');
    const cases = [
      text,
      `\uFEFF\n\n${text.replace(/\n/g, '\r\n')}`,
      [lines[0], long, ...lines.slice(1, 5), long].join('\n'),
      `${long}\n${text}`,
      `${text}${lines[0]?.slice(0, 30)}`,
      `\n\n${lines.map((l) => JSON.stringify(JSON.parse(l), null, 2)).join('\n')}`,
      `${lines.slice(0, 3).join(' ')}\n`,
      '',
      '\n\n',
    ];
    for (const [i, data] of cases.entries()) {
      const path = tmp.fresh(`case-${i}.out`);
      await writeFile(path, data);
      for (const pieceSize of [64, 333, 1 << 20]) {
        const direct = await readAll(path, { pieceSize, maxLineLength: 600 });
        const streamed = await readAll('-', {
          stdin: stdinOf(Buffer.from(data)),
          pieceSize,
          maxLineLength: 600,
        });
        assert.deepEqual(nonBlank(direct), nonBlank(streamed), `case ${i}, pieces of ${pieceSize}`);
        assert.deepEqual(direct.bad, streamed.bad, `case ${i}, pieces of ${pieceSize}`);
      }
    }
  });
});

describe('the stream-json fallback', () => {
  test('the first line tells JSON Lines from spread-out JSON', () => {
    assert.equal(looksLikeJsonLines(Buffer.from('\n\n{"a":1}\n{')), true);
    assert.equal(looksLikeJsonLines(Buffer.from('{\n  "a": 1\n}\n')), false);
    assert.equal(looksLikeJsonLines(Buffer.from('{"a":1} {"a":2}\n')), false);
    // A broken first line that is not cut off stays on the fast path, to be reported there.
    assert.equal(looksLikeJsonLines(Buffer.from('{"a":tru}\n')), true);
  });

  test('pretty-printed and packed objects give the fast path lines, numbered by the line each starts on', async () => {
    const rand = prng(21);
    for (let round = 0; round < 12; round++) {
      const gens = Array.from({ length: 15 }, () => randomLine(rand, { errorRate: 0.1 }));
      // Written as JSON.stringify would, so the compact form is the fallback's exact output.
      const objs = gens.map((g) => JSON.parse(g.text) as unknown);
      const compact = objs.map((o) => JSON.stringify(o));
      let text = '';
      const starts: number[] = [];
      let line = 1;
      for (const [i, o] of objs.entries()) {
        const style = (round + i) % 3;
        const body =
          style === 0
            ? JSON.stringify(o, null, 2)
            : style === 1
              ? JSON.stringify(o, null, '\t')
              : JSON.stringify(o);
        if (i === 0 || style !== 2 || rand() < 0.5) {
          if (i > 0) {
            text += '\n';
            line++;
          }
        } else text += ' ';
        starts.push(line);
        text += body;
        line += body.split('\n').length - 1;
      }
      // Objects never start a file on one line here, so the fallback is chosen.
      text = `{"input":\n{"userId":"first"},"output":{"recommendedItems":["1"]}}\n${text}\n`;
      const bytes = Buffer.from(text);
      for (const how of [1, 13, { seed: round, max: 40 }]) {
        const r = await readAll('-', { stdin: stdinOf(split(bytes, how)), pieceSize: 256 });
        assert.deepEqual(r.bad, []);
        assert.deepEqual(
          r.lines.slice(1).map((l) => l.text),
          compact,
        );
        assert.deepEqual(
          r.lines.slice(1).map((l) => l.line),
          starts.map((s) => s + 2),
        );
      }
    }
  });

  test('a syntax error is reported at its object and reading resumes at the next line starting with {', async () => {
    const text = [
      '{',
      '  "input": {"userId": "a"},',
      '  "output": {"recommendedItems": ["x"]}',
      '}',
      '{',
      '  "input": {"userId": "b"],',
      '  "output": {}',
      '}',
      '{"input":{"userId":"c"},',
      '"output":{"recommendedItems":[]}}',
      '',
    ].join('\n');
    const r = await readAll('-', { stdin: stdinOf(text) });
    assert.deepEqual(
      r.lines.map((l) => [l.line, JSON.parse(l.text).input.userId]),
      [
        [1, 'a'],
        [9, 'c'],
      ],
    );
    assert.equal(r.bad.length, 1);
    assert.equal(r.bad[0]?.line, 5);
    assert.match(r.bad[0]?.reason ?? '', /^not valid JSON/);
  });

  test('a truncated last object is reported as truncated at the line it starts on', async () => {
    const text =
      '{\n"input":{"userId":"a"},"output":{"recommendedItems":["x"]}\n}\n{"input":{"userId":"b"},\n"output":{"recomm';
    const r = await readAll('-', { stdin: stdinOf(text) });
    assert.deepEqual(
      r.lines.map((l) => l.line),
      [1],
    );
    assert.deepEqual(
      r.bad.map((b) => b.line),
      [4],
    );
    assert.match(r.bad[0]?.reason ?? '', /^truncated/);
  });
});
