import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLI_OPTION_NAMES } from '../../src/core/sniff.js';
import { type Row, readRows } from '../../src/io/rows.js';
import { scanTableRows, tableScanApplies } from '../../src/io/table-rows.js';
import { RowCells, RowRecord, readRecord, utf16Units } from '../../src/stages/export/users-rows.js';

/**
 * The users file's byte path against the general row reader: the same rows
 * (key trimmed, the columns' text), the same rows without a key, the same
 * lines, on random CSV with quotes, doubled quotes, quoted line breaks, CRLF,
 * a BOM, white space and NBSP around keys, multi-byte UTF-8, cut anywhere.
 */

type Seen = (string | number)[];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function chunked(bytes: Buffer, sizes: () => number): AsyncIterable<Buffer> {
  return (async function* () {
    let p = 0;
    while (p < bytes.length) {
      const n = Math.max(1, sizes());
      yield bytes.subarray(p, p + n);
      p += n;
    }
  })();
}

const OPTS = { format: 'auto' as const, maxLineLength: 1 << 20, names: CLI_OPTION_NAMES };

/** What eachRow's general logic sees: [line, key, ...values] or [line] for a row without a key. */
function general(rows: Row[], key: number, cols: number[], seen: Seen[]): void {
  for (const row of rows) {
    if (row.error) throw row.error;
    const v = row.values as string[];
    const k = (v[key] ?? '').trim();
    if (k === '') seen.push([row.line]);
    else seen.push([row.line, k, ...cols.map((c) => v[c] ?? '')]);
  }
}

async function viaBytes(
  bytes: Buffer,
  sizes: () => number,
  key: number,
  cols: number[],
  want = (_k: string) => true,
  records = false,
) {
  const src = await readRows('t.csv', chunked(bytes, sizes), OPTS);
  assert.ok(tableScanApplies(src), 'the byte path applies');
  const seen: Seen[] = [];
  const record = new RowRecord();
  await scanTableRows(
    src,
    { key, columns: cols, maxLineLength: 1 << 20, names: CLI_OPTION_NAMES },
    {
      want: (b, s, e) => want(Buffer.from(b.subarray(s, e)).toString('utf8')),
      row: (k, values, line) => {
        seen.push([line, k, ...values]);
        return undefined;
      },
      // The users join's partition record, from the scanner's bytes, read back as row() gets it.
      rowBytes: records
        ? (piece, sc, columns) => {
            const rec = record.encodeScanned(sc.rowLine, sc, columns) as Buffer;
            const key = piece.toString('utf8', sc.keyStart, sc.keyEnd);
            const got = readRecord(rec, 0, record.length, new RowCells(columns.length));
            const values = got.slice(1) as string[];
            assert.equal(record.units, values.join('').length, 'UTF-16 units counted from the bytes');
            assert.equal(utf16Units(piece, sc.keyStart, sc.keyEnd), key.length);
            seen.push([got[0], key, ...values]);
            return undefined;
          }
        : undefined,
      noKey: (line) => seen.push([line]),
      general: async (rows) => {
        const all: Seen[] = [];
        general(rows, key, cols, all);
        for (const r of all) if (r.length === 1 || want(r[1] as string)) seen.push(r);
      },
    },
  );
  await src.close();
  return seen;
}

async function viaRows(bytes: Buffer, key: number, cols: number[], want = (_k: string) => true) {
  const src = await readRows(
    't.csv',
    chunked(bytes, () => bytes.length),
    OPTS,
  );
  const seen: Seen[] = [];
  for await (const batch of src.batches) general(batch, key, cols, seen);
  await src.close();
  return seen.filter((r) => r.length === 1 || want(r[1] as string));
}

const PIECES = [
  'a',
  'Zoë',
  'Smith, Jo',
  'x"y',
  '',
  ' k ',
  '\u00a0nb',
  '=1+2',
  '日本',
  'line\nbreak',
  'cr\r\nlf',
  '"',
  '😀 x',
];

function randomCsv(r: () => number, crlf: boolean, bom: boolean, delim: string): Buffer {
  const nl = crlf ? '\r\n' : '\n';
  let text = `${bom ? '\ufeff' : ''}customer_id${delim}email${delim}first_name${nl}`;
  const rows = 5 + Math.floor(r() * 40);
  for (let i = 0; i < rows; i++) {
    if (r() < 0.05) {
      text += nl; // a blank line
      continue;
    }
    const cells: string[] = [];
    for (let c = 0; c < 3; c++) {
      let v =
        c === 0 && r() < 0.7
          ? `u${Math.floor(r() * 30)}`
          : (PIECES[Math.floor(r() * PIECES.length)] as string);
      if (c === 0 && r() < 0.2) v = ` ${v}\t`;
      const quote = /["\n\r]/.test(v) || v.includes(delim) || r() < 0.2;
      cells.push(quote ? `"${v.replaceAll('"', '""')}"` : v);
    }
    text += cells.join(delim) + (i === rows - 1 && r() < 0.3 ? '' : nl);
  }
  return Buffer.from(text);
}

test('the byte path reads the same rows as the general reader, however the bytes are cut', async () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const delim = seed % 3 === 0 ? ';' : seed % 5 === 0 ? '\t' : ',';
    const bytes = randomCsv(r, seed % 2 === 0, seed % 4 === 1, delim);
    const cols = seed % 2 === 0 ? [1, 2] : [2];
    const expected = await viaRows(bytes, 0, cols);
    for (const sizes of [() => 1, () => 1 + Math.floor(r() * 23), () => bytes.length]) {
      const got = await viaBytes(bytes, sizes, 0, cols);
      assert.deepEqual(got, expected, `seed ${seed}:\n${bytes.toString()}`);
    }
    // Rows as the users join writes them to its partitions: no string until read back.
    assert.deepEqual(await viaBytes(bytes, () => 11, 0, cols, undefined, true), expected, `seed ${seed}`);
    // A filter on keys: only the kept ones come out, in the same order.
    const want = (k: string) => k.length % 2 === 0;
    assert.deepEqual(await viaBytes(bytes, () => 7, 0, cols, want), await viaRows(bytes, 0, cols, want));
  }
});

test('a row with more fields than the header is the same error on both paths', async () => {
  const bytes = Buffer.from('customer_id,email\nu1,a@x\nu2,b@x,extra\n');
  await assert.rejects(viaRows(bytes, 0, [1]), /line 3|expected 2 fields/);
  const e1 = await viaRows(bytes, 0, [1]).catch((e: Error) => e.message);
  const e2 = await viaBytes(bytes, () => 5, 0, [1]).catch((e: Error) => e.message);
  assert.equal(e2, e1);
});

test('text after a closing quote and a repeated header are the general reader errors', async () => {
  for (const text of ['k,v\nu1,"a"b\n', 'k,v\nu1,a\nk,v\nu2,b\n']) {
    const bytes = Buffer.from(text);
    const e1 = await viaRows(bytes, 0, [1]).catch((e: Error) => e.message);
    const e2 = await viaBytes(bytes, () => 3, 0, [1]).catch((e: Error) => e.message);
    assert.match(String(e1), /closing quote|header/);
    assert.equal(e2, e1);
  }
});
