import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { type ExportOptions, exportOutputs } from '../../../src/stages/export/index.js';
import { cli, rejectsWith, useTmp } from '../../helpers.js';

// The options for e-mail tools' files: --bom, --rename, --max-file-size, --max-cell-bytes.

const tmp = useTmp();
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** A folder of its own with one .out file; exports go into it too. */
async function outFile(text: string): Promise<{ dir: string; src: string }> {
  const dir = tmp.fresh('d');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir);
  const src = join(dir, 'in.out');
  await writeFile(src, text);
  return { dir, src };
}

function run(src: string, output: string, o: Partial<ExportOptions> = {}) {
  return exportOutputs({ sources: [src], output, errors: `${output}.errors.jsonl`, ...o });
}

const USERS = [
  '{"input":{"userId":"Zoë"},"output":{"recommendedItems":["a","b"],"scores":[0.7,0.3]},"error":null}',
  '{"input":{"userId":"u2"},"output":{"recommendedItems":["c"],"scores":[0.1]},"error":null}',
].join('\n');

describe('--bom', () => {
  test('CSV starts with EF BB BF, then the header; the bytes count it; jsonl refuses it', async () => {
    const { dir, src } = await outFile(USERS);
    const out = join(dir, 'r.csv');
    const s = await run(src, out, { bom: true });
    const bytes = await readFile(out);
    assert.deepEqual(bytes.subarray(0, 3), BOM);
    assert.equal(
      bytes.subarray(3).toString(),
      'userId,rank,itemId,score\r\nZoë,1,a,0.7\r\nZoë,2,b,0.3\r\nu2,1,c,0.1\r\n',
    );
    assert.equal(s.bytesWritten, bytes.length);
    const plain = await readFile(join(dir, 'plain.csv')).catch(() => undefined);
    assert.equal(plain, undefined);
    await run(src, join(dir, 'p.csv'));
    assert.deepEqual((await readFile(join(dir, 'p.csv'))).subarray(0, 3), Buffer.from('use'));
    await rejectsWith(
      run(src, join(dir, 'r.jsonl'), { bom: true, format: 'jsonl' }),
      'PB_USAGE',
      /--bom is for CSV/,
    );
  });
});

describe('--rename', () => {
  test('header names replaced, rows unchanged, summary columns renamed', async () => {
    const { dir, src } = await outFile(USERS);
    const out = join(dir, 'r.csv');
    const s = await run(src, out, { rename: { userId: 'external_id', itemId: 'product' }, lineEnding: 'lf' });
    assert.equal((await readFile(out, 'utf8')).split('\n')[0], 'external_id,rank,product,score');
    assert.deepEqual(s.columns, ['external_id', 'rank', 'product', 'score']);
    const wide = join(dir, 'w.csv');
    await run(src, wide, { format: 'csv-wide', top: 2, rename: { item_1: 'First Item' }, lineEnding: 'lf' });
    assert.equal((await readFile(wide, 'utf8')).split('\n')[0], 'userId,First Item,item_2,score_1,score_2');
  });

  test('an unknown column lists the columns and leaves no file; two columns to one name; jsonl', async () => {
    const { dir, src } = await outFile(USERS);
    const out = join(dir, 'r.csv');
    const e = await rejectsWith(run(src, out, { rename: { user_id: 'x' } }), 'PB_USAGE', /no column user_id/);
    assert.match(e.message, /did you mean userId\?.*its columns are userId, rank, itemId, score/);
    await rejectsWith(
      run(src, out, { rename: { rank: 'n', score: 'n' } }),
      'PB_USAGE',
      /rank and score would both be named n/,
    );
    await rejectsWith(
      run(src, out, { rename: { userId: 'a' }, format: 'jsonl' }),
      'PB_USAGE',
      /JSON Lines field names/,
    );
    assert.deepEqual((await readdir(dir)).sort(), ['in.out']);
  });
});

describe('--max-file-size', () => {
  // Many lines in small pieces, so that there are several parts and both workers write some.
  // Distinct keys (some with a comma or a multi-byte character), 1 to 12 items each.
  const text = Array.from({ length: 3000 }, (_, i) => {
    const n = 1 + ((i * 7) % 12);
    const items = Array.from({ length: n }, (_, k) => `"item-${(i * 31 + k) % 997}"`);
    const scores = Array.from({ length: n }, (_, k) => (0.9 - k / 20).toFixed(4));
    const key = i % 5 === 0 ? `user ${i}, Zoë` : `user-${i}`;
    return `{"input":{"userId":"${key}"},"output":{"recommendedItems":[${items}],"scores":[${scores}]},"error":null}\n`;
  }).join('');

  for (const [format, workers] of [
    ['csv-long', 2],
    ['csv-long', 0],
    ['csv-wide', 2],
    ['jsonl', 1],
  ] as const) {
    test(`${format}, ${workers} workers: parts under the limit, headers repeated, keys whole, same bytes as one file`, async () => {
      const { dir, src } = await outFile(text);
      const single = join(dir, 'all.csv');
      await run(src, single, { format, workers, pieceSize: 4096, bom: format !== 'jsonl' });
      const whole = await readFile(single);
      const limit = 40_000;
      const s = await run(src, join(dir, 'recs.csv'), {
        format,
        workers,
        pieceSize: 4096,
        maxFileSize: limit,
        bom: format !== 'jsonl',
      });
      const names = (await readdir(dir)).filter((n) => n.startsWith('recs')).sort();
      assert.ok(names.length >= 3, `${names.length} parts`);
      assert.deepEqual(
        names,
        names.map((_, i) => `recs-${String(i + 1).padStart(5, '0')}.csv`),
      );
      assert.deepEqual(
        s.parts,
        names.map((n) => join(dir, n)),
      );
      const parts = await Promise.all(names.map((n) => readFile(join(dir, n))));
      const head = format === 'jsonl' ? Buffer.alloc(0) : whole.subarray(0, whole.indexOf(10) + 1);
      const seen = new Set<string>();
      let total = 0;
      const bodies: Buffer[] = [];
      for (const p of parts) {
        assert.ok(p.length <= limit, `${p.length} > ${limit}`);
        assert.deepEqual(p.subarray(0, head.length), head);
        total += p.length;
        const body = p.subarray(head.length);
        bodies.push(body);
        // A key's rows stay in one part.
        const keys = new Set(
          format === 'jsonl'
            ? body
                .toString()
                .split('\n')
                .filter((l) => l !== '')
                .map((l) => (JSON.parse(l) as { userId: string }).userId)
            : (parseCsv(body) as string[][]).map((r) => r[0]),
        );
        for (const k of keys) assert.ok(!seen.has(k as string), `key ${k} in two parts`);
        for (const k of keys) seen.add(k as string);
      }
      assert.deepEqual(Buffer.concat([head, ...bodies]), whole);
      assert.equal(s.bytesWritten, total);
    });
  }

  test('a piece larger than the limit: PB_LIMIT, and no part or temporary file is left', async () => {
    const { dir, src } = await outFile(text);
    await rejectsWith(
      run(src, join(dir, 'recs.csv'), { pieceSize: 65536, maxFileSize: 20_000 }),
      'PB_LIMIT',
      /more than --max-file-size 20000 allows in one part: give a larger size, more than \d+(\.\d)?MB \(this piece's rows;/,
    );
    assert.deepEqual(await readdir(dir), ['in.out']);
  });

  test('a failing export (an invalid line near the end) leaves no part', async () => {
    const { dir, src } = await outFile(`${text}not json\n`);
    await rejectsWith(run(src, join(dir, 'recs.csv'), { pieceSize: 4096, maxFileSize: 40_000 }), 'PB_PARSE');
    assert.deepEqual(await readdir(dir), ['in.out']);
  });

  test("stdout, s3:// and .gz outputs are refused; an earlier export's extra parts are removed, and said", async () => {
    const { dir, src } = await outFile(USERS);
    await rejectsWith(run(src, '-', { maxFileSize: 1000 }), 'PB_USAGE', /stdout is one stream/);
    await rejectsWith(run(src, 's3://b/k.csv', { maxFileSize: 1000 }), 'PB_USAGE', /local files only/);
    await rejectsWith(run(src, join(dir, 'r.csv.gz'), { maxFileSize: 1000 }), 'PB_USAGE', /\.gz part/);
    // Left there, a later --since r.csv read them as PREV's parts, and an upload of the folder sent them.
    await writeFile(join(dir, 'r-00002.csv'), 'old');
    await writeFile(join(dir, 'r-00003.csv'), 'old');
    await writeFile(join(dir, 'r-00005.csv'), 'not next to a part: not this export');
    const s = await run(src, join(dir, 'r.csv'), { maxFileSize: 1000 });
    assert.deepEqual(s.parts, [join(dir, 'r-00001.csv')]);
    assert.ok(
      s.warnings.some((w) =>
        w.includes(`removed ${join(dir, 'r-00002.csv')} and 1 more part, left by an earlier export`),
      ),
      s.warnings.join('\n'),
    );
    assert.deepEqual((await readdir(dir)).sort(), ['in.out', 'r-00001.csv', 'r-00005.csv']);
  });
});

describe('--max-cell-bytes', () => {
  const reasons =
    '{"input":{"userId":"Zoë-long-id"},"output":{"recommendedItems":["a","b"],"scores":[0.7,0.3],"reasons":[["Promoted é item"],["😀😀 fun"]]},"error":null}';
  const theme =
    '{"input":{"itemId":"105"},"output":{"recommendedItems":["1","2","3"],"theme":"Cozy \\u00e9t\\u00e9 nights","itemsThemeRelevanceScores":[0.41,-0.189,0.02]},"error":null}';

  test('reasons and themes cut on a character boundary, counted per cell; ids never cut', async () => {
    const { dir, src } = await outFile(reasons);
    const out = join(dir, 'r.csv');
    const s = await run(src, out, { maxCellBytes: 10 });
    const rows = parseCsv(await readFile(out, 'utf8')) as string[][];
    // "Promoted é" is 11 bytes: é does not fit whole. "😀😀 fun": two emoji are 8 bytes, then " f".
    assert.deepEqual(rows.slice(1), [
      ['Zoë-long-id', '1', 'a', '0.7', 'Promoted '],
      ['Zoë-long-id', '2', 'b', '0.3', '😀😀 f'],
    ]);
    assert.equal(s.cellsCut, 2);
    assert.ok(s.warnings.some((w) => /2 text cells were cut to 10 bytes/.test(w)));

    const t = await outFile(theme);
    const tout = join(t.dir, 't.csv');
    const ts = await run(t.src, tout, { maxCellBytes: 6 });
    const trows = parseCsv(await readFile(tout, 'utf8')) as string[][];
    assert.deepEqual(
      trows.slice(1).map((r) => r[4]),
      ['Cozy ', 'Cozy ', 'Cozy '],
    );
    assert.equal(ts.cellsCut, 3);
    const wide = join(t.dir, 'w.csv');
    const ws = await run(t.src, wide, { maxCellBytes: 7, format: 'csv-wide' });
    assert.equal((parseCsv(await readFile(wide, 'utf8')) as string[][])[1]?.[1], 'Cozy é');
    assert.equal(ws.cellsCut, 1);
    const none = await run(t.src, join(t.dir, 'n.csv'), { maxCellBytes: 100 });
    assert.equal(none.cellsCut, 0);
  });

  test('catalog cells cut with quoting kept, counted per written cell; jsonl refuses the option', async () => {
    const line = '{"input":{"userId":"u"},"output":{"recommendedItems":["1","2","1"]},"error":null}';
    const { dir, src } = await outFile(line);
    const catalog = join(dir, 'items.csv');
    await writeFile(catalog, 'ITEM_ID,TITLE\n1,"Crème, brûlée"\n2,Tea\n');
    const out = join(dir, 'r.csv');
    const s = await run(src, out, { catalog, maxCellBytes: 7 });
    const text = await readFile(out, 'utf8');
    assert.match(text, /u,1,1,"Crème,"\r\n/);
    const rows = parseCsv(text) as string[][];
    assert.deepEqual(
      rows.slice(1).map((r) => r[3]),
      ['Crème,', 'Tea', 'Crème,'],
    );
    assert.equal(s.cellsCut, 2);
    await rejectsWith(
      run(src, join(dir, 'r.jsonl'), { format: 'jsonl', maxCellBytes: 8 }),
      'PB_USAGE',
      /JSON Lines record has no cells/,
    );
  });
});

describe('the CLI', () => {
  test('help shows the four options with an example; their mistakes exit 2', async () => {
    const h = await cli(['export', '--help']);
    for (const o of [
      '--bom',
      '--rename A=B',
      '--max-file-size SIZE',
      '--max-cell-bytes N',
      '--max-file-size 500MB -o braze.csv',
    ])
      assert.ok(h.stdout.includes(o), o);
    const { dir, src } = await outFile(USERS);
    const bad = await cli(['export', src, '--rename', 'userId', '-o', join(dir, 'x.csv')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /OLD=NEW/);
    assert.equal((await cli(['export', src, '--max-file-size', '1KB'])).code, 2);
    assert.equal((await cli(['export', src, '--max-cell-bytes', '2', '-o', join(dir, 'y.csv')])).code, 2);
    const ok = await cli([
      'export',
      src,
      '--bom',
      '--rename',
      'userId=external_id',
      '--max-file-size',
      '1KB',
      '--max-cell-bytes',
      '255',
      '-o',
      join(dir, 'b.csv'),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    // The part is the file written; b.csv only names it.
    assert.match(ok.stderr, /rows written in 1 part: \S*b-00001\.csv in /);
    assert.doesNotMatch(ok.stderr, /b\.csv/);
    const part = await readFile(join(dir, 'b-00001.csv'));
    assert.deepEqual(part.subarray(0, 3), BOM);
    assert.match(part.subarray(3).toString(), /^external_id,rank,itemId,score\r\n/);
  });
});
