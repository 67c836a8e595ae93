import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { RecordSplitter } from '../../src/core/lines.js';
import { prng } from '../../src/sample.js';

// The hand-written splitter is checked against csv-parse (the library it
// replaced for speed) on random RFC 4180 input, fed in random-sized chunks.

const ALPHABET = ['a', 'b', 'é', '日', '😀', ' ', ',', '"', '\n', '\r\n', 'x', '1'];

function randomField(rand: () => number): string {
  const len = Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

function encodeField(f: string, rand: () => number): string {
  const needs = /[",\r\n]/.test(f) || f === '' || rand() < 0.2;
  return needs && (f !== '' || rand() < 0.5) ? `"${f.replace(/"/g, '""')}"` : f;
}

function splitAll(text: string, chunks: number[]): { fields: string[]; line: number }[] {
  const sp = new RecordSplitter({ delimiter: ',', maxRecordLength: 1 << 20, file: 'mem' });
  const out: { fields: string[]; line: number }[] = [];
  let pos = 0;
  let k = 0;
  while (pos < text.length) {
    const n = Math.max(1, chunks[k++ % chunks.length] as number);
    for (const r of sp.push(text.slice(pos, pos + n))) out.push({ fields: r.fields, line: r.line });
    pos += n;
  }
  for (const r of sp.end()) out.push({ fields: r.fields, line: r.line });
  return out;
}

test('splitter equals csv-parse on random quoted CSV, any chunking', () => {
  const rand = prng(2024);
  let compared = 0;
  for (let round = 0; round < 200; round++) {
    const rows: string[][] = [];
    const nrows = 1 + Math.floor(rand() * 8);
    const width = 1 + Math.floor(rand() * 4);
    for (let r = 0; r < nrows; r++) {
      const row: string[] = [];
      for (let c = 0; c < width; c++) row.push(randomField(rand));
      // A row that would read as blank is skipped by both parsers in different ways; keep rows non-blank.
      if (row.join('').trim() === '') row[0] = 'z';
      rows.push(row);
    }
    const eol = rand() < 0.5 ? '\n' : '\r\n';
    const text =
      rows.map((r) => r.map((f) => encodeField(f, rand)).join(',')).join(eol) + (rand() < 0.5 ? eol : '');
    const expected = parse(text, {
      relax_column_count: true,
      record_delimiter: ['\r\n', '\n'],
    }) as string[][];
    for (const chunks of [[1], [2], [3, 7, 1], [1 << 20]]) {
      const got = splitAll(text, chunks).map((r) => r.fields);
      assert.deepEqual(got, expected, `round ${round}, chunks ${chunks}: ${JSON.stringify(text)}`);
      compared++;
    }
  }
  assert.equal(compared, 800);
});

test('line numbers count blank lines and line breaks inside quotes', () => {
  const text = 'h1,h2\n\n"a\nb",1\r\n\n\nc,2\n"x""y",3';
  const got = splitAll(text, [1]);
  assert.deepEqual(
    got.map((r) => [r.line, r.fields]),
    [
      [1, ['h1', 'h2']],
      [3, ['a\nb', '1']],
      [7, ['c', '2']],
      [8, ['x"y', '3']],
    ],
  );
});

test('an unclosed quote is a parse error naming the line, not a hang', () => {
  const sp = new RecordSplitter({ delimiter: ',', maxRecordLength: 100, file: 'f.csv' });
  sp.push('a,b\n');
  sp.push('1,"open\n');
  assert.throws(
    () => {
      for (let i = 0; i < 20; i++) sp.push('more text without a closing quote\n');
    },
    (err: Error & { code?: string; line?: number }) => err.code === 'PB_PARSE' && err.line === 2,
  );
  const sp2 = new RecordSplitter({ delimiter: ',', maxRecordLength: 100, file: 'f.csv' });
  sp2.push('a,"b\n');
  assert.throws(() => sp2.end(), /f\.csv:1: unclosed quote/);
});

test('text after a closing quote is kept and flagged', () => {
  const sp = new RecordSplitter({ delimiter: ',', maxRecordLength: 100, file: 'f.csv' });
  const rows = [...sp.push('"ab"c,d\n'), ...sp.end()];
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]?.fields, ['abc', 'd']);
  assert.match(rows[0]?.problem ?? '', /after the closing quote of field 1/);
});
