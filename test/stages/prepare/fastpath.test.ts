import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { partitionOf } from '../../../src/core/byteset.js';
import { splitCounts } from '../../../src/io/fast-parallel.js';
import { DONE, type KeySink, Scanner, SLOW_LINE } from '../../../src/io/fast-scan.js';
import { makeTmp, prepareFiles, prepareStdin, prng, split } from '../../helpers.js';

// The byte fast path (one id column, no filters) must give exactly what a
// straightforward oracle gives: csv-parse, trim, drop invalid rows, keep the
// first occurrence of each id, in input order. Inputs mix lines the fast
// path takes with lines it must hand over (quotes, multi-line fields,
// non-ASCII and escaped ids, bad field counts, empty and over-long ids).

const tmp = await makeTmp();
after(() => tmp.cleanup());

const ODD_IDS = [
  'é',
  '日本',
  'a"b',
  'back\\slash',
  ' pad ',
  'tab\tin',
  '😀',
  'x'.repeat(257),
  '',
  'ctl\u0001',
];

function randomCsv(seed: number, rows: number): string {
  const rand = prng(seed);
  const pool: string[] = [];
  const lines = ['email,user_id,name'];
  for (let i = 0; i < rows; i++) {
    let id: string;
    const r = rand();
    if (pool.length > 0 && r < 0.2) id = pool[Math.floor(rand() * pool.length)] as string;
    else if (r < 0.3) id = ODD_IDS[Math.floor(rand() * ODD_IDS.length)] as string;
    else id = `u${Math.floor(rand() * 1e9).toString(36)}`;
    pool.push(id);
    const quoteId = /[",\n\t]/.test(id) || rand() < 0.05;
    const idField = quoteId ? `"${id.replace(/"/g, '""')}"` : id;
    const name = rand() < 0.05 ? '"multi\nline, name"' : 'N';
    const shape = rand();
    if (shape < 0.03) lines.push(`bad${i}@x`);
    else if (shape < 0.05) lines.push('');
    else lines.push(`e${i}@x.com,${idField},${name}`);
  }
  return `${lines.join(rand() < 0.5 ? '\n' : '\r\n')}\n`;
}

function oracle(csv: string): { out: string[]; rejectedLines: number } {
  const records = parse(csv, { relax_column_count: true, skip_empty_lines: true }) as string[][];
  const seen = new Set<string>();
  const out: string[] = [];
  let rejected = 0;
  for (const rec of records.slice(1)) {
    const id = (rec[1] ?? '').trim();
    // Control characters in an id (a tab, U+0001) are refused as damage (see prepare's Ids).
    if (rec.length !== 3 || id === '' || [...id].length > 256 || /\p{Cc}/u.test(id)) {
      rejected++;
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(JSON.stringify({ userId: id }));
  }
  return { out, rejectedLines: rejected };
}

describe('byte fast path', () => {
  test('equals the oracle on random mixed input, for every chunking', async () => {
    let runs = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const csv = randomCsv(seed, 400);
      const want = oracle(csv);
      for (const how of [1 << 20, 1, 7, { seed, max: 300 }]) {
        const rejects = tmp.path(`rejects-${seed}-${runs}.jsonl`);
        const r = await prepareStdin(
          { recipe: 'user-personalization', onInvalid: 'skip', rejects },
          split(Buffer.from(csv), how),
        );
        assert.deepEqual(r.lines, want.out, `seed ${seed}, chunks ${JSON.stringify(how)}`);
        assert.equal(r.summary.rejected, want.rejectedLines);
        const rejected = (await readFile(rejects, 'utf8')).trim().split('\n').filter(Boolean);
        assert.equal(rejected.length, want.rejectedLines);
        runs++;
      }
    }
    assert.equal(runs, 20);
  });

  test('spilling keeps the same set, and the first occurrence of each id', async () => {
    const csv = randomCsv(9, 3000);
    const want = oracle(csv);
    const r = await prepareStdin(
      { recipe: 'user-personalization', onInvalid: 'skip', rejects: tmp.path('r.jsonl'), memoryBudget: 4000 },
      Buffer.from(csv),
    );
    assert.equal(r.summary.spilled, true);
    assert.deepEqual([...r.lines].sort(), [...want.out].sort());
    assert.equal(r.summary.written, want.out.length);
  });

  test('a file many times the budget goes straight to the partitions, with the same result', async () => {
    const csv = randomCsv(12, 4000);
    const want = oracle(csv);
    const path = tmp.path('big.csv');
    await writeFile(path, csv);
    assert.ok(csv.length > 4 * 8000, 'the file is over 4x the budget');
    const r = await prepareFiles({
      recipe: 'user-personalization',
      sources: [path],
      onInvalid: 'skip',
      rejects: tmp.path('big-rejects.jsonl'),
      memoryBudget: 8000,
    });
    assert.equal(r.summary.spilled, true);
    assert.deepEqual([...r.lines].sort(), [...want.out].sort());
    assert.equal(r.summary.written, want.out.length);
    assert.equal(r.summary.rejected, want.rejectedLines);
  });

  test('the drain on two threads (a worker takes every other partition) gives the same bytes', async () => {
    const csv = randomCsv(13, 6000);
    const want = oracle(csv);
    const path = tmp.path('two.csv');
    await writeFile(path, csv);
    const opts = {
      recipe: 'user-personalization',
      sources: [path],
      onInvalid: 'skip' as const,
      memoryBudget: 40_000,
    };
    const two = await prepareFiles({ ...opts, rejects: tmp.path('two-r.jsonl'), parallelDrainMinBytes: 0 });
    const one = await prepareFiles({
      ...opts,
      rejects: tmp.path('one-r.jsonl'),
      parallelDrainMinBytes: 1e12,
    });
    assert.equal(two.summary.spilled, true);
    assert.deepEqual([...two.lines].sort(), [...want.out].sort());
    // Partitions come out in their order from both threads: the same bytes as one thread.
    assert.equal(two.out, one.out);
    assert.equal(two.summary.duplicates, one.summary.duplicates);
    assert.equal(two.summary.written, want.out.length);
  });

  test('plain ids and TSV take the same path with the same results', async () => {
    const ids = ['a1', 'b2', 'a1', ' c3 ', 'é4', 'b2'];
    const plain = await prepareStdin({ recipe: 'aws-sims' }, `${ids.join('\n')}\n`);
    assert.deepEqual(plain.lines, [
      '{"itemId":"a1"}',
      '{"itemId":"b2"}',
      '{"itemId":"c3"}',
      '{"itemId":"é4"}',
    ]);
    assert.equal(plain.summary.duplicates, 2);
    const tsv = await prepareStdin(
      { recipe: 'aws-sims' },
      `ITEM_ID\tTITLE\n${ids.map((i) => `${i}\tt`).join('\n')}`,
    );
    assert.deepEqual(tsv.lines, plain.lines);
  });
});

/**
 * Mostly rows the byte path takes, and now and then one a worker must leave
 * to the main thread: a quote, a record over two lines, an id it hands over,
 * a bad field count, a blank line, the header again; a byte order mark and a
 * line skipped before the header, sometimes.
 */
function mostlyPlainCsv(seed: number, rows: number): string {
  const rand = prng(seed);
  const pool: string[] = [];
  // A PowerShell `#TYPE` line before the header is skipped: the worker's offsets must not count it twice.
  const lead = `${rand() < 0.3 ? '\uFEFF' : ''}${rand() < 0.5 ? '#TYPE System.Object\n' : ''}`;
  const lines = [`${lead}email,user_id,name`];
  for (let i = 0; i < rows; i++) {
    const id =
      pool.length > 0 && rand() < 0.25
        ? (pool[Math.floor(rand() * pool.length)] as string)
        : `u${Math.floor(rand() * 1e9).toString(36)}`;
    pool.push(id);
    const r = rand();
    if (r < 0.002) lines.push(`e${i},"${id}",N`);
    else if (r < 0.003) lines.push(`e${i},${id},"two\nlines"`);
    else if (r < 0.006) lines.push(`e${i},${ODD_IDS[Math.floor(rand() * ODD_IDS.length)]},N`);
    else if (r < 0.008) lines.push(`bad${i}`);
    else if (r < 0.01) lines.push(' ');
    else if (r < 0.011) lines.push('email,user_id,name');
    else lines.push(`e${i},${id},N`);
  }
  const text = lines.join(rand() < 0.5 ? '\n' : '\r\n');
  return rand() < 0.8 ? `${text}\n` : text;
}

describe('the byte path on two threads (a worker scans the second part of a local file)', () => {
  const settings = { recipe: 'user-personalization', onInvalid: 'skip' as const, memoryBudget: 4000 };

  /** One thread, then two with the cut at `at`: the same output bytes, summary and rejects. */
  async function same(path: string, at: number, extra: { maxLineLength?: number } = {}): Promise<void> {
    const run = async (name: string, min: number) => {
      const rejects = tmp.path(`${name}.jsonl`);
      const opts = { ...settings, ...extra, sources: [path], rejects, parallelScanMinBytes: min };
      const r = await prepareFiles({ ...opts, parallelScanAt: at }).catch((err: Error) => err);
      return { r, rejects: await readFile(rejects, 'utf8').catch(() => '') };
    };
    const one = await run('one', 1e12);
    const two = await run('two', 0);
    if (one.r instanceof Error || two.r instanceof Error) {
      assert.equal(String(two.r), String(one.r), `${path} at ${at}`);
      return;
    }
    assert.equal(one.r.summary.spilled, true, 'every record went to the partitions');
    assert.equal(two.r.out, one.r.out, `${path} at ${at}`);
    assert.deepEqual({ ...two.r.summary, seconds: 0 }, { ...one.r.summary, seconds: 0 });
    assert.equal(two.rejects, one.rejects);
  }

  test('gives the bytes one thread gives, wherever the cut falls', async () => {
    const before = splitCounts.adoptedBytes;
    const rand = prng(77);
    for (const seed of [1, 2, 3]) {
      const path = tmp.path(`split-${seed}.csv`);
      await writeFile(path, mostlyPlainCsv(seed, 3000));
      await same(path, 0.05 + 0.9 * rand());
    }
    assert.ok(splitCounts.adoptedBytes > before, 'a worker scanned part of a file');
  });

  test('a cut inside a quoted record, and a line past the limit in the second part, as with one thread', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `e${i},u${i % 1500},N`);
    const quoted = tmp.path('split-quoted.csv');
    await writeFile(
      quoted,
      `email,user_id,name\n${rows.join('\n')}\ne,q,"${'many\n'.repeat(3000)}"\n${rows.join('\n')}\n`,
    );
    await same(quoted, 0.5);
    const long = tmp.path('split-long.csv');
    await writeFile(
      long,
      `email,user_id,name\n${rows.join('\n')}\ne,${'x'.repeat(300)},N\n${rows.join('\n')}\n`,
    );
    await same(long, 0.2, { maxLineLength: 200 });
  });
});

describe('the held scan in WebAssembly (core/idcut.ts)', () => {
  /** Lines of every kind the Scanner looks at, none with a quote (those chunks go to the splitter). */
  function oddLines(seed: number, rows: number): Buffer {
    const rand = prng(seed);
    const ids = [
      'NULL',
      'nan',
      '-',
      'N/A',
      'undefined',
      '1001.0',
      '100',
      '10.00',
      '0',
      "'u1",
      '#u2',
      'user_id',
    ];
    ids.push('user_ie', 'NULM', 'a@b', 'x'.repeat(256), 'x'.repeat(257), 'é', ' pad ', '\tt', 'a+b');
    let s = 'email,user_id,name\n';
    for (let i = 0; i < rows; i++) {
      const r = rand();
      const id =
        r < 0.3
          ? (ids[Math.floor(rand() * ids.length)] as string)
          : `u${Math.floor(rand() * 1e6).toString(36)}`;
      const shape = rand();
      const eol = rand() < 0.2 ? '\r\n' : '\n';
      if (shape < 0.03) s += `only${i}${eol}`;
      else if (shape < 0.05) s += rand() < 0.5 ? eol : ` \t${eol}`;
      else if (shape < 0.07) s += ` e${i},${id},n${eol}`;
      else s += `e${i},${id},n${eol}`;
    }
    return Buffer.from(s);
  }

  /** Every record the Scanner sends to disk, per partition, in order; lines handed over, by number. */
  function run(seg: Buffer, grouped: boolean, allowEmailIds: boolean) {
    const parts: string[][] = Array.from({ length: 256 }, () => []);
    const sink: KeySink = {
      derive: undefined,
      diskOnly: true,
      addDerived(kbuf, ks, ke, hash) {
        parts[partitionOf(hash, 256)]?.push(Buffer.from(kbuf.subarray(ks, ke)).toString('latin1'));
        return false;
      },
    };
    if (grouped)
      sink.addGrouped = (src, ends, recs) => {
        let from = 0;
        for (let t = 0; t < 256; t++) {
          const text = Buffer.from(src.subarray(from, ends[t])).toString('latin1');
          const recsHere = text === '' ? [] : text.slice(0, -3).split('\t\x01\n');
          assert.equal(recsHere.length, recs[t]);
          parts[t]?.push(...recsHere);
          from = ends[t] as number;
        }
        return undefined;
      };
    const counts = { recordsRead: 0, written: 0, blankLines: 0 };
    const plan = { file: 'f', delim: 44, column: 1, width: 3, field: 'userId' as const, maxLineLength: 300 };
    const sc = new Scanner(
      { ...plan, allowEmailIds, headerId: 'user_id', headerRecords: 1, firstLine: 1 },
      sink,
      counts,
    );
    const slow: number[] = [];
    sc.pos = 0;
    for (;;) {
      const status = sc.scan(seg);
      if (status === DONE) break;
      if (status === SLOW_LINE) slow.push(sc.slowLine);
    }
    return { parts, slow, counts, line: sc.line };
  }

  test('sends the same records to the same partitions, and hands over the same lines, as the loop in JavaScript', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const seg = oddLines(seed, 400 + seed * 50);
      const allow = seed % 2 === 0;
      const js = run(seg, false, allow);
      const wasm = run(seg, true, allow);
      assert.deepEqual(wasm, js, `seed ${seed}`);
      assert.ok(js.slow.length > 10 && js.counts.recordsRead > 300);
    }
    // Ends without a LF, on a CR, or with a line past the limit, as the loop does.
    for (const tail of ['e1,u1,n', 'e1,u1,n\r', 'e1,u2,n\r\n']) {
      const seg = Buffer.concat([oddLines(50, 40), Buffer.from(tail)]);
      assert.deepEqual(run(seg, true, false), run(seg, false, false));
    }
    const long = Buffer.concat([oddLines(51, 40), Buffer.from(`e,${'y'.repeat(400)},n\n`)]);
    assert.throws(() => run(long, true, false), /longer than 300/);
  });
});
