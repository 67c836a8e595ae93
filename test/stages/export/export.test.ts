import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { csvCell } from '../../../src/core/out-convert.js';
import { type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { cli, exportTextIn, rejectsWith, sink, split, stdinOf, useTmp } from '../../helpers.js';
import {
  AWS_DOC_EXAMPLES,
  FAILED,
  type GeneratedLine,
  type Kind,
  prng,
  REFERENCE,
  randomFile,
  randomId,
} from '../../out-fixtures.js';

// export() against an oracle written independently in this file: JSON.parse
// of each line (scores taken as the generator printed them), a plain CSV
// writer, and csv-parse reading our CSV back.

const tmp = useTmp();

const exportText = exportTextIn(tmp);

// ---------------------------------------------------------------------------
// The oracle.

const FORMULA = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
/** A sign and a number: a spreadsheet reads a number (defusedcsv leaves `-1.3`, `-1,2`, `+49151` as they are). */
const NEGATIVE = /^[-+][\d.,]*\d[\d.,]*$/;

function oracleCell(v: string, text: boolean, guard: boolean): string {
  const s = text && guard && FORMULA.test(v) && !NEGATIVE.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

interface OracleOptions {
  format: 'csv-long' | 'csv-wide' | 'jsonl';
  top?: number;
  guard?: boolean;
  eol?: string;
}

/** The export of generated lines, computed the plain way. */
function oracle(lines: GeneratedLine[], o: OracleOptions): string {
  const guard = o.guard ?? true;
  const eol = o.eol ?? '\r\n';
  const ok = lines.filter((l) => l.expected.error === null);
  const first = ok[0]?.expected;
  if (!first) throw new Error('oracle: no exported line');
  const users = first.kind === 'segment';
  const score = ok.some((l) => l.expected.scores !== undefined);
  const reason = ok.some((l) => l.expected.reasons !== undefined);
  const theme = first.kind === 'themes';
  const rows: { cells: [string, boolean][] }[] = [];
  const idsOf = (l: GeneratedLine) => {
    const parsed = JSON.parse(l.text) as { output: Record<string, string[]> };
    const ids =
      parsed.output.recommendedItems ?? parsed.output.usersList ?? parsed.output.recommendedUsers ?? [];
    return o.top ? ids.slice(0, o.top) : ids;
  };
  const keyOf = (l: GeneratedLine) => {
    const p = JSON.parse(l.text) as { input?: Record<string, string>; itemAttributes?: string };
    return p.input?.[first.keyField] ?? (p.itemAttributes as string);
  };
  if (o.format === 'jsonl') {
    return ok
      .map((l) => {
        const key = keyOf(l);
        const e = l.expected;
        const items = idsOf(l).map((id, i) => {
          let s = `{"${users ? 'userId' : 'itemId'}":${JSON.stringify(id)}`;
          if (score) s += `,"score":${e.scores?.[i] ?? 'null'}`;
          if (reason) s += `,"reasons":${JSON.stringify(e.reasons?.[i] ?? null)}`;
          return `${s}}`;
        });
        const th = theme ? `,"theme":${JSON.stringify(e.theme ?? null)}` : '';
        return `{"${first.keyField}":${JSON.stringify(key)}${th},"${users ? 'users' : 'items'}":[${items.join(',')}]}\n`;
      })
      .join('');
  }
  const idName = users ? 'userId' : 'itemId';
  // The echoed itemId of related items and themes would share its name with the recommended itemId.
  const keyName = first.keyField === 'itemId' && !users ? 'source_item' : first.keyField;
  let header: string[];
  if (o.format === 'csv-long') {
    header = [keyName, 'rank', idName];
    if (score) header.push('score');
    if (reason) header.push('reason');
    if (theme) header.push('theme');
    for (const l of ok) {
      const ids = idsOf(l);
      ids.forEach((id, i) => {
        const cells: [string, boolean][] = [
          [keyOf(l), true],
          [String(i + 1), false],
          [id, true],
        ];
        if (score) cells.push([l.expected.scores?.[i] ?? '', false]);
        if (reason) cells.push([l.expected.reasons?.[i]?.join('|') ?? '', true]);
        if (theme) cells.push([l.expected.theme ?? '', true]);
        rows.push({ cells });
      });
    }
  } else {
    const n = o.top ?? Math.max(1, ...ok.map((l) => idsOf(l).length));
    header = [keyName];
    if (theme) header.push('theme');
    const numbered = (name: string) => {
      for (let i = 1; i <= n; i++) header.push(`${name}_${i}`);
    };
    numbered(users ? 'user' : 'item');
    if (score) numbered('score');
    if (reason) numbered('reason');
    for (const l of ok) {
      const ids = idsOf(l);
      const cells: [string, boolean][] = [[keyOf(l), true]];
      if (theme) cells.push([l.expected.theme ?? '', true]);
      for (let i = 0; i < n; i++) cells.push([ids[i] ?? '', true]);
      for (let i = 0; score && i < n; i++)
        cells.push([i < ids.length ? (l.expected.scores?.[i] ?? '') : '', false]);
      for (let i = 0; reason && i < n; i++)
        cells.push([i < ids.length ? (l.expected.reasons?.[i]?.join('|') ?? '') : '', true]);
      rows.push({ cells });
    }
  }
  return [
    header.map((h) => oracleCell(h, true, guard)),
    ...rows.map((r) => r.cells.map(([v, t]) => oracleCell(v, t, guard))),
  ]
    .map((cells) => cells.join(',') + eol)
    .join('');
}

/** Lines of one kind with one key field, as one job writes them. */
function jobFile(seed: number, kind: Kind, n: number, extra: Parameters<typeof randomFile>[2] = {}) {
  const keyField = kind === 'segment' ? 'itemAttributes' : kind === 'themes' ? 'itemId' : 'userId';
  return randomFile(seed, n, { kind, keyField, errorRate: 0.1, ...extra });
}

describe('export against the oracle', () => {
  for (const kind of ['recommendations', 'ranking', 'themes', 'segment'] as const) {
    test(`${kind}: csv-long, csv-wide (widest line and --top) and jsonl, awkward ids`, async () => {
      for (let seed = 1; seed <= 6; seed++) {
        const { text, lines } = jobFile(seed * 31 + kind.length, kind, 40, {
          messy: seed % 2 === 0,
          reasons: kind === 'recommendations' ? seed % 3 === 0 : undefined,
        });
        for (const [format, top] of [
          ['csv-long', undefined],
          ['csv-long', 2],
          ['csv-wide', undefined],
          ['csv-wide', 3],
          ['jsonl', undefined],
        ] as const) {
          const { out, summary } = await exportText(text, { format, top });
          assert.equal(out, oracle(lines, { format, top }), `${kind} seed ${seed} ${format} top ${top}`);
          assert.equal(summary.errorLines, lines.filter((l) => l.expected.error !== null).length);
          assert.equal(summary.records, lines.length - summary.errorLines);
          if (format !== 'jsonl') {
            // RFC 4180: csv-parse reads back every row with the header's width.
            const parsed = parseCsv(out, { relax_quotes: false }) as string[][];
            assert.equal(parsed.length, summary.rows + 1);
            for (const row of parsed) assert.equal(row.length, parsed[0]?.length);
          } else for (const l of out.trim().split('\n')) JSON.parse(l);
        }
      }
    });
  }

  test('csv-wide to a file guesses the width from the first lines, and starts again when a later line is wider', async () => {
    const narrow = jobFile(40, 'recommendations', 300, {
      maxIds: 3,
      errorRate: 0,
      reasons: false,
      scores: true,
    });
    const wide = jobFile(41, 'recommendations', 5, { maxIds: 9, errorRate: 0, reasons: false, scores: true });
    for (const [lines, passes] of [
      [narrow.lines, 1],
      [[...narrow.lines, ...wide.lines.filter((l) => l.expected.ids.length > 3)], 3],
    ] as const) {
      if (passes === 3) assert.ok(lines.length > narrow.lines.length, 'the generator made a wider line');
      const path = await writeSource(lines.map((l) => `${l.text}\n`).join(''));
      const output = tmp.fresh('wide.csv');
      const s = await exportOutputs({
        sources: [path],
        output,
        format: 'csv-wide',
        workers: 2,
        pieceSize: 2048,
      });
      assert.equal(s.passes, passes);
      assert.equal(await readFile(output, 'utf8'), oracle([...lines], { format: 'csv-wide' }));
    }
  });

  test('formula guard off and LF line ends', async () => {
    const { text, lines } = jobFile(77, 'recommendations', 60);
    const { out } = await exportText(text, { escapeFormulas: false, lineEnding: 'lf' });
    assert.equal(out, oracle(lines, { format: 'csv-long', guard: false, eol: '\n' }));
  });

  test('the text cell encoding equals csv-stringify with escape_formulas, on random strings (a sign and a number aside)', () => {
    const rand = prng(3);
    let negatives = 0;
    for (let i = 0; i < 3000; i++) {
      const s =
        rand() < 0.05
          ? `${rand() < 0.5 ? '-' : '+'}${Math.floor(rand() * 1e6)}${rand() < 0.5 ? '.5' : ''}`
          : randomId(rand) + (rand() < 0.2 ? '\uFF1D' : '');
      for (const guard of [true, false]) {
        // csv-stringify guards every leading sign; a signed number keeps none here (see csv-cell.ts).
        const negative = NEGATIVE.test(s);
        if (negative && guard) negatives++;
        const want = stringify([[s]], { escape_formulas: guard && !negative, record_delimiter: '\n' }).slice(
          0,
          -1,
        );
        // csv-stringify writes an empty string as an empty cell, as we do.
        assert.equal(csvCell(s, guard), want, JSON.stringify(s));
      }
    }
    assert.ok(negatives > 50, `${negatives} negative numbers tried`);
  });

  test('the reference shapes, row by row', async () => {
    const long = async (line: string) => (await exportText(`${line}\n`)).out;
    assert.equal(
      await long(REFERENCE.userPersonalization),
      'userId,rank,itemId,score\r\n4638,1,1104,0.0023\r\n4638,2,3102,3.773E-4\r\n4638,3,608,1.2E-5\r\n',
    );
    assert.equal(
      await long(REFERENCE.similarItems),
      'source_item,rank,itemId\r\n105,1,339\r\n105,2,2318\r\n105,3,1219\r\n',
    );
    assert.equal(
      await long(REFERENCE.ranking),
      'userId,rank,itemId,score\r\n891,1,886,0.61\r\n891,2,27,0.39\r\n891,3,9,\r\n',
    );
    assert.equal(
      await long(REFERENCE.v2Reasons),
      'userId,rank,itemId,score,reason\r\n5,1,a,0.7,Promoted item\r\n5,2,b,0.3,\r\n',
    );
    assert.equal(
      await long(REFERENCE.themes),
      'source_item,rank,itemId,score,theme\r\n105,1,1,0.41,Cozy winter nights\r\n105,2,2,-0.189,Cozy winter nights\r\n105,3,3,0.02,Cozy winter nights\r\n',
    );
    assert.equal(await long(REFERENCE.segmentDocItem), 'itemId,rank,userId\r\n105,1,u1\r\n105,2,u2\r\n');
    assert.equal(
      await long(`${REFERENCE.segmentAttributes}\n${REFERENCE.segmentDocAttributes}`),
      'itemAttributes,rank,userId\r\n"ITEMS.genres = ""Comedy"" AND ITEMS.audience = ""teen""",1,u9\r\n"ITEMS.genres = ""Comedy"" AND ITEMS.audience = ""teen""",2,u8\r\n"ITEMS.genres = ""Comedy""",1,u5\r\n',
    );
    const { out } = await exportText(`${REFERENCE.themes}\n`, { format: 'jsonl' });
    assert.equal(
      out,
      '{"itemId":"105","theme":"Cozy winter nights","items":[{"itemId":"1","score":0.41},{"itemId":"2","score":-0.189},{"itemId":"3","score":0.02}]}\n',
    );
    const wide = await exportText(`${REFERENCE.ranking}\n${REFERENCE.popularity}\n`, { format: 'csv-wide' });
    assert.equal(
      wide.out,
      'userId,item_1,item_2,item_3,score_1,score_2,score_3\r\n891,886,27,9,0.61,0.39,\r\n12,1,2,3,,,\r\n',
    );
  });

  test('every CSV header names each column once: related items and themes key on source_item', async () => {
    const header = async (line: string, format: 'csv-long' | 'csv-wide') =>
      (await exportText(`${line}\n`, { format })).out.split('\r\n')[0];
    const cases: [keyof typeof REFERENCE, string, string][] = [
      [
        'userPersonalization',
        'userId,rank,itemId,score',
        'userId,item_1,item_2,item_3,score_1,score_2,score_3',
      ],
      ['popularity', 'userId,rank,itemId', 'userId,item_1,item_2,item_3'],
      ['ranking', 'userId,rank,itemId,score', 'userId,item_1,item_2,item_3,score_1,score_2,score_3'],
      ['similarItems', 'source_item,rank,itemId', 'source_item,item_1,item_2,item_3'],
      [
        'themes',
        'source_item,rank,itemId,score,theme',
        'source_item,theme,item_1,item_2,item_3,score_1,score_2,score_3',
      ],
      ['segmentItem', 'itemId,rank,userId', 'itemId,user_1,user_2,user_3'],
      ['segmentAttributes', 'itemAttributes,rank,userId', 'itemAttributes,user_1,user_2'],
    ];
    for (const [kind, long, wide] of cases) {
      for (const [format, expected] of [
        ['csv-long', long],
        ['csv-wide', wide],
      ] as const) {
        const got = (await header(REFERENCE[kind], format)) as string;
        assert.equal(got, expected, `${kind} ${format}`);
        assert.equal(new Set(got.split(',')).size, got.split(',').length, `${kind} ${format}: a name twice`);
      }
    }
  });

  test("a catalog column named like one of the export's gets a catalog_ prefix", async () => {
    const catalog = tmp.fresh('clash.csv');
    await writeFile(catalog, 'ITEM_ID,score,rank,item,TITLE\n1104,5 stars,top,mug,Tea\n');
    const line =
      '{"input":{"userId":"u1"},"output":{"recommendedItems":["1104"],"scores":[0.5]},"error":null}\n';
    const long = await exportText(line, { catalog, catalogIdColumn: 'ITEM_ID' });
    assert.equal(
      long.out,
      'userId,rank,itemId,score,catalog_score,catalog_rank,item,TITLE\r\nu1,1,1104,0.5,5 stars,top,mug,Tea\r\n',
    );
    assert.deepEqual(long.summary.columns, long.out.split('\r\n')[0]?.split(','));
    const wide = await exportText(line, { catalog, catalogIdColumn: 'ITEM_ID', format: 'csv-wide' });
    assert.equal(
      wide.out,
      'userId,item_1,score_1,catalog_score_1,rank_1,catalog_item_1,TITLE_1\r\nu1,1104,0.5,5 stars,top,mug,Tea\r\n',
    );
  });

  test('formulas: text cells neutralised, negative scores and ranks left alone', async () => {
    const line =
      '{"input":{"userId":"=cmd|\' /C calc\'!A0"},"output":{"recommendedItems":["+1","-2","@x","\\tt","\uFF1Dy","ok","-2+3","-1,5","-","+49 30 1234","+"],"scores":[-0.5,-1E-3,0,1,2,3,4,5,6,7,8]},"error":null}\n';
    const { out } = await exportText(line);
    const rows = parseCsv(out) as string[][];
    assert.deepEqual(
      rows.slice(1).map((r) => [r[0], r[2], r[3]]),
      [
        // A sign and a number is a number to a spreadsheet: no guard (an id such as mParticle's, a phone number).
        ["'=cmd|' /C calc'!A0", '+1', '-0.5'],
        ["'=cmd|' /C calc'!A0", '-2', '-1E-3'],
        ["'=cmd|' /C calc'!A0", "'@x", '0'],
        ["'=cmd|' /C calc'!A0", "'\tt", '1'],
        ["'=cmd|' /C calc'!A0", "'\uFF1Dy", '2'],
        ["'=cmd|' /C calc'!A0", 'ok', '3'],
        ["'=cmd|' /C calc'!A0", "'-2+3", '4'],
        ["'=cmd|' /C calc'!A0", '-1,5', '5'],
        ["'=cmd|' /C calc'!A0", "'-", '6'],
        ["'=cmd|' /C calc'!A0", "'+49 30 1234", '7'],
        ["'=cmd|' /C calc'!A0", "'+", '8'],
      ],
    );
    const raw = parseCsv((await exportText(line, { escapeFormulas: false })).out) as string[][];
    assert.deepEqual(
      raw.slice(1).map((r) => r[2]),
      ['+1', '-2', '@x', '\tt', '\uFF1Dy', 'ok', '-2+3', '-1,5', '-', '+49 30 1234', '+'],
    );
  });
});

describe('export input handling', () => {
  test('re-chunked input, the worker thread and the stream-json fallback all give the same bytes', async () => {
    const { text } = jobFile(5, 'recommendations', 120, { reasons: false });
    const want = (await exportText(text, { workers: 0 })).out;
    for (const chunks of [1, 3, { seed: 9, max: 300 }]) {
      assert.equal((await exportText(text, { chunks, workers: 0 })).out, want);
    }
    // Small pieces, so that many go to the workers (started from the third piece on):
    // output sent back to this thread (stdout), or written by the workers at their offsets (a file).
    const viaWorker = await exportText(text, { workers: 1, pieceSize: 512 });
    assert.equal(viaWorker.out, want);
    const path = await writeSource(text);
    const output = tmp.fresh('workers.csv');
    await exportOutputs({ sources: [path], output, workers: 2, pieceSize: 700 });
    assert.equal(await readFile(output, 'utf8'), want);
    const pretty = text.trim().split('\n').map(spreadOut).join('\n');
    assert.equal((await exportText(pretty, { chunks: { seed: 2, max: 100 } })).out, want);
    const packed = text.trim().split('\n').join(' ');
    assert.equal((await exportText(packed)).out, want);
  });

  test('a truncated last line: file:line with --on-invalid fail; with skip it goes to --rejects and the rest is exported', async () => {
    const { text, lines } = jobFile(12, 'recommendations', 10, { errorRate: 0 });
    const cut = text + lines[0]?.text.slice(0, 40);
    const path = tmp.fresh('cut.out');
    await writeFile(path, cut);
    const output = tmp.fresh('out.csv');
    const err = await rejectsWith(exportOutputs({ sources: [path], output }), 'PB_PARSE', /:11: truncated/);
    assert.equal(err.line, 11);
    assert.equal(err.file, path);
    assert.deepEqual(await readdir(dirname(output)).then((f) => f.filter((x) => x.includes('out.csv'))), []);
    const rejects = tmp.fresh('rejects.jsonl');
    const s = await exportOutputs({ sources: [path], output, onInvalid: 'skip', rejects });
    assert.equal(s.invalid, 1);
    assert.equal(await readFile(output, 'utf8'), oracle(lines, { format: 'csv-long' }));
    const rej = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rej.length, 1);
    assert.equal(rej[0].file, path);
    assert.equal(rej[0].line, 11);
    assert.match(rej[0].reason, /^truncated/);
    assert.equal(rej[0].text, lines[0]?.text.slice(0, 40));
  });

  test('error lines go to the errors file as they are; none means no file', async () => {
    const { text, lines } = jobFile(13, 'recommendations', 50, { errorRate: 0.3 });
    const output = tmp.fresh('recs.csv');
    const s = await exportOutputs({ sources: [await writeSource(text)], output });
    const failed = lines.filter((l) => l.expected.error !== null);
    assert.ok(failed.length > 5);
    assert.equal(s.errorLines, failed.length);
    assert.equal(s.errorsFile, `${output}.errors.jsonl`);
    assert.equal(await readFile(`${output}.errors.jsonl`, 'utf8'), failed.map((l) => `${l.text}\n`).join(''));
    const clean = jobFile(14, 'recommendations', 5, { errorRate: 0 });
    const output2 = tmp.fresh('clean.csv.gz');
    const s2 = await exportOutputs({ sources: [await writeSource(clean.text)], output: output2 });
    assert.equal(s2.errorsFile, null);
    assert.equal(gunzipSync(await readFile(output2)).toString(), oracle(clean.lines, { format: 'csv-long' }));
    assert.deepEqual(
      (await readdir(dirname(output2))).filter((f) => f.includes('clean.csv.errors')),
      [],
    );
  });

  test('a line of another key or kind than the first exported one is invalid', async () => {
    const text = `${REFERENCE.userPersonalization}\n${REFERENCE.similarItems}\n`;
    await rejectsWith(
      exportText(text),
      'PB_INVALID_RECORD',
      /-:2: input has itemId, but this export's key column is userId/,
    );
    const seg = `${REFERENCE.similarItems}\n${REFERENCE.segmentItem}\n`;
    await rejectsWith(
      exportText(seg),
      'PB_INVALID_RECORD',
      /-:2: a segment line among recommendations lines/,
    );
  });

  test('several sources in order, folders and gzip; a file with error lines only', async () => {
    const a = jobFile(20, 'recommendations', 8, { errorRate: 0 });
    const b = jobFile(21, 'recommendations', 8, { errorRate: 0 });
    const dir = tmp.fresh('job');
    await writeSource(a.text, join(dir, 'a.out'));
    await writeSource(b.text, join(dir, 'b.out.gz'), true);
    await writeSource(`${REFERENCE.error}\n`, join(dir, 'c.out'));
    await writeSource('ignored', join(dir, '_CHECK'));
    const output = tmp.fresh('all.csv');
    const s = await exportOutputs({ sources: [dir], output });
    assert.equal(s.sources, 3);
    assert.equal(s.errorLines, 1);
    assert.equal(await readFile(output, 'utf8'), oracle([...a.lines, ...b.lines], { format: 'csv-long' }));
    // Nothing but errors: a header from the error lines' key.
    const only = await exportText(`${REFERENCE.error}\n`);
    assert.equal(only.out, 'userId,rank,itemId\r\n');
    assert.equal(only.summary.records, 0);
  });
});

describe('error lines are data (issue 14)', () => {
  /** Generated lines with failed records of every odd shape among them; the first line one of those. */
  function withOddErrors(seed: number) {
    const { lines } = jobFile(seed, 'recommendations', 60, { errorRate: 0.2, reasons: false });
    const odd = [
      FAILED.numberId,
      FAILED.withoutKey,
      // Spaces and key order as written: errors.jsonl keeps the bytes, not a re-serialisation.
      '{ "error" : "Internal error" ,"input":{"userId" : 3002.0}}',
      '{"input":"u1","output":{"recommendedItems":"x"},"error":"boom"}',
      '{"input":{"userId":"u2","itemList":7},"output":[],"error":{"code":"E1"}}',
      '{"error":"no input at all"}',
    ];
    const rand = prng(seed);
    const texts = lines.map((l) => l.text);
    for (const [i, line] of odd.entries())
      texts.splice(i === 0 ? 0 : Math.floor(rand() * texts.length), 0, line);
    const failed = texts.filter((t) => {
      const e = (JSON.parse(t) as { error?: unknown }).error;
      return e !== undefined && e !== null;
    });
    return { text: texts.map((t) => `${t}\n`).join(''), lines, failed };
  }

  test('error lines of any shape go to the errors file byte for byte, are counted, and never stop the export', async () => {
    const { text, lines, failed } = withOddErrors(41);
    const want = oracle(lines, { format: 'csv-long' });
    for (const chunks of [1, { seed: 3, max: 200 }]) {
      const errors = tmp.fresh('errors.jsonl');
      const out = sink();
      const s = await exportOutputs({
        sources: ['-'],
        stdin: stdinOf(split(Buffer.from(text), chunks)),
        stdout: out.stream,
        errors,
        workers: 0,
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(out.text(), want);
      assert.deepEqual([s.errorLines, s.invalid], [failed.length, 0]);
      assert.equal(await readFile(errors, 'utf8'), failed.map((l) => `${l}\n`).join(''));
    }
    // Workers writing a file at offsets, in small pieces; and csv-wide, whose first pass measures.
    const path = await writeSource(text);
    for (const format of ['csv-long', 'csv-wide'] as const) {
      const output = tmp.fresh(`workers.${format}.csv`);
      const s = await exportOutputs({ sources: [path], output, format, workers: 2, pieceSize: 600 });
      assert.equal(await readFile(output, 'utf8'), oracle(lines, { format }));
      assert.equal(s.errorLines, failed.length);
      assert.equal(await readFile(`${output}.errors.jsonl`, 'utf8'), failed.map((l) => `${l}\n`).join(''));
    }
    // Objects spread over lines (the stream-json fallback): the same lines, written compact.
    const pretty = text.trim().split('\n').map(spreadOut).join('\n');
    const errors = tmp.fresh('errors.jsonl');
    const p = await exportOutputs({
      sources: ['-'],
      stdin: stdinOf(split(Buffer.from(pretty), { seed: 4, max: 100 })),
      stdout: sink().stream,
      errors,
    });
    assert.equal(p.errorLines, failed.length);
    const compact = (await readFile(errors, 'utf8')).trim().split('\n');
    assert.deepEqual(
      compact.map((l) => JSON.parse(l)),
      failed.map((l) => JSON.parse(l)),
    );
  });

  test('a key repeated in different files is exported as it comes, each line its rows (the documented rule: no key set is kept)', async () => {
    const dir = tmp.fresh('retried');
    await mkdir(dir);
    const l = (items: string[]) =>
      `${JSON.stringify({ input: { userId: '663' }, output: { recommendedItems: items }, error: null })}\n`;
    await writeFile(join(dir, 'a.out'), l(['i1', 'i2']));
    await writeFile(join(dir, 'b.out'), l(['i3']));
    const output = join(dir, 'r.csv');
    const s = await exportOutputs({ sources: [dir], output });
    assert.equal(
      await readFile(output, 'utf8'),
      'userId,rank,itemId\r\n663,1,i1\r\n663,2,i2\r\n663,1,i3\r\n',
    );
    assert.deepEqual([s.lines, s.records, s.warnings], [2, 2, []]);
  });

  test("the errors file on disk is what the summary says: OUTPUT's stale one removed, ./errors.jsonl never replaced unasked", async () => {
    const ok = JSON.stringify({ input: { userId: 'u1' }, output: { recommendedItems: ['i1'] }, error: null });
    const bad = JSON.stringify({ input: { userId: 'u2' }, error: 'User error: user not found' });
    const dir = tmp.fresh('errs');
    await mkdir(dir);
    const withErr = join(dir, 'a.out');
    const clean = join(dir, 'b.out');
    await writeFile(withErr, `${ok}\n${bad}\n`);
    await writeFile(clean, `${ok}\n`);
    const output = join(dir, 'up.csv');
    const first = await exportOutputs({ sources: [withErr], output });
    assert.equal(first.errorsFile, `${output}.errors.jsonl`);
    assert.equal(await readFile(`${output}.errors.jsonl`, 'utf8'), `${bad}\n`);
    const again = await exportOutputs({ sources: [clean], output });
    assert.equal(again.errorsFile, null);
    await assert.rejects(readFile(`${output}.errors.jsonl`), { code: 'ENOENT' });
    assert.ok(
      again.warnings.some((w) => /^removed \S*up\.csv\.errors\.jsonl: an earlier export's/.test(w)),
      String(again.warnings),
    );
    // A file named with --errors is the caller's: left as it is when there is nothing to write.
    const named = join(dir, 'mine.jsonl');
    await writeFile(named, 'kept\n');
    const third = await exportOutputs({ sources: [clean], output, errors: named });
    assert.deepEqual([third.errorsFile, await readFile(named, 'utf8')], [null, 'kept\n']);
    // To stdout, ./errors.jsonl is nobody's output's (run and collect leave one, often empty): an
    // export with no error lines leaves it and succeeds (refused, the usual `collect`, then `export >
    // recs.csv` in that folder failed with recs.csv emptied by the shell); one with error lines
    // replaces it and says so.
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await writeFile('errors.jsonl', "the run's\n");
      const out = sink();
      const none = await exportOutputs({ sources: [clean], stdout: out.stream });
      assert.ok(out.text().length > 0 && none.warnings.every((w) => !w.includes('errors.jsonl')));
      assert.equal(await readFile('errors.jsonl', 'utf8'), "the run's\n");
      const r = await exportOutputs({ sources: [withErr], stdout: sink().stream });
      assert.deepEqual([r.errorsFile, await readFile('errors.jsonl', 'utf8')], ['errors.jsonl', `${bad}\n`]);
      assert.ok(
        r.warnings.some((w) => w.startsWith('replaced ./errors.jsonl, which was already there')),
        String(r.warnings),
      );
    } finally {
      process.chdir(cwd);
    }
  });

  test('the Popularity-Count example of the AWS docs: the empty input is a row with an empty key', async () => {
    const text = AWS_DOC_EXAMPLES.popularityCount.map((l) => `${l}\n`).join('');
    const body = (out: string) =>
      out
        .split(/(?<=\n)/)
        .slice(1)
        .join('');
    const long = await exportText(text, { chunks: 1 });
    assert.equal(
      body(long.out),
      ',1,105\r\n,2,106\r\n,3,441\r\n105,1,105\r\n105,2,106\r\n105,3,441\r\n41,1,105\r\n41,2,106\r\n41,3,441\r\n',
    );
    assert.equal(long.summary.layout?.keyField, 'itemId');
    assert.deepEqual([long.summary.records, long.summary.withoutKey, long.summary.invalid], [3, 1, 0]);
    assert.ok(long.summary.warnings.some((w) => w.startsWith('1 line had an empty input')));
    const wide = await exportText(text, { format: 'csv-wide' });
    assert.equal(body(wide.out), ',105,106,441\r\n105,105,106,441\r\n41,105,106,441\r\n');
    const jsonl = await exportText(text, { format: 'jsonl' });
    const items = '"items":[{"itemId":"105"},{"itemId":"106"},{"itemId":"441"}]';
    assert.equal(
      jsonl.out,
      `{"itemId":null,${items}}\n{"itemId":"105",${items}}\n{"itemId":"41",${items}}\n`,
    );
    // With user lines the key column is userId; with none at all, userId too.
    const users = await exportText(`${AWS_DOC_EXAMPLES.popularityCount[0]}\n${REFERENCE.popularity}\n`);
    assert.equal(
      users.out,
      'userId,rank,itemId\r\n,1,105\r\n,2,106\r\n,3,441\r\n12,1,1\r\n12,2,2\r\n12,3,3\r\n',
    );
    const only = await exportText(`${AWS_DOC_EXAMPLES.popularityCount[0]}\n`, { format: 'jsonl' });
    assert.equal(only.out, `{"userId":null,${items}}\n`);
  });

  test("the docs' scores after output: file:line and what is wrong, on the JSON Lines path", async () => {
    const good = jobFile(42, 'recommendations', 2, { errorRate: 0 });
    const doc = AWS_DOC_EXAMPLES.userPersonalization;
    const reason = `not valid JSON: a second object {"scores": ...} at byte ${(doc[0] as string).indexOf('{"scores"') + 1}, after output's closing brace; scores belong inside output, as in {"output":{"recommendedItems":[...],"scores":[...]}}`;
    const path = await writeSource(`${good.text}${doc.join('\n')}\n`);
    const err = await rejectsWith(exportOutputs({ sources: [path], output: tmp.fresh('o.csv') }), 'PB_PARSE');
    assert.equal(err.message, `${path}:3: ${reason}`);
    // As the first line too: the message is the line parser's, not the fallback's.
    const first = await writeSource(`${doc.join('\n')}\n`);
    const e1 = await rejectsWith(exportOutputs({ sources: [first], output: tmp.fresh('o.csv') }), 'PB_PARSE');
    assert.equal(e1.message, `${first}:1: ${reason}`);
    const rejects = tmp.fresh('rejects.jsonl');
    const s = await exportOutputs({
      sources: [path],
      output: tmp.fresh('o.csv'),
      onInvalid: 'skip',
      rejects,
    });
    assert.deepEqual([s.invalid, s.records, s.errorLines], [3, 2, 0]);
    const rej = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    assert.deepEqual(
      rej.map((r) => r.line),
      [3, 4, 5],
    );
    assert.match(rej[2]?.reason ?? '', /a second object \{"scores": \.\.\.\}/);
  });

  test('a pretty-printed object (as the AWS docs print them) is read; a broken one after it stops the export without saying it was skipped', async () => {
    const pretty = `{\n  "input": {"userId": "4638"},\n  "output": {\n    "recommendedItems": ["63992", "115149"],\n    "scores": [0.0009282, 0.000814]\n  },\n  "error": null\n}\n`;
    const ok = await exportText(pretty);
    assert.equal(ok.out, 'userId,rank,itemId,score\r\n4638,1,63992,0.0009282\r\n4638,2,115149,0.000814\r\n');
    const path = await writeSource(
      `${pretty}{"input": {"userId": "663"}, "output": {"recommendedItems": ["368"]}, {"x": 1}}\n`,
    );
    const err = await rejectsWith(exportOutputs({ sources: [path], output: tmp.fresh('o.csv') }), 'PB_PARSE');
    // A user's trial read "skipped to the next line that starts with {" of a run that had stopped (exit 1).
    assert.match(err.message, /:9: not valid JSON \(/);
    assert.doesNotMatch(err.message, /skipped/);
    // Skipped, its reject shows the line it broke in (it was "").
    const rejects = tmp.fresh('rejects.jsonl');
    await exportOutputs({ sources: [path], output: tmp.fresh('o.csv'), onInvalid: 'skip', rejects });
    const rej = JSON.parse((await readFile(rejects, 'utf8')).trim()) as { line: number; text: string };
    assert.deepEqual([rej.line, rej.text.startsWith('{"input": {"userId": "663"}')], [9, true]);
  });
});

describe('catalog join', () => {
  const catalogCsv = [
    'ITEM_ID,TITLE,URL,PRICE',
    '1104,"Tea, green",https://x/1104,3',
    '3102,=HYPERLINK("evil"),https://x/3102,4',
    '608,Café 日本,https://x/608,',
    '1104,duplicate,https://x/dup,9',
  ].join('\n');

  test('csv-long, csv-wide and jsonl get the columns; missing ids are counted and left empty', async () => {
    const catalog = tmp.fresh('items.csv');
    await writeFile(catalog, catalogCsv);
    const line = `{"input":{"userId":"u1"},"output":{"recommendedItems":["1104","999","608"],"scores":[0.5,0.3,0.2]},"error":null}\n`;
    const long = await exportText(line, { catalog, catalogColumns: ['TITLE', 'PRICE'] });
    assert.equal(
      long.out,
      'userId,rank,itemId,score,TITLE,PRICE\r\nu1,1,1104,0.5,"Tea, green",3\r\nu1,2,999,0.3,,\r\nu1,3,608,0.2,Café 日本,\r\n',
    );
    assert.equal(long.summary.catalogMissing, 1);
    assert.equal(long.summary.catalogItems, 3);
    assert.ok(long.summary.warnings.some((w) => w.includes('repeats 1 item ids')));
    const wide = await exportText(line, { catalog, format: 'csv-wide' });
    assert.equal(
      wide.out,
      'userId,item_1,item_2,item_3,score_1,score_2,score_3,TITLE_1,TITLE_2,TITLE_3,URL_1,URL_2,URL_3,PRICE_1,PRICE_2,PRICE_3\r\n' +
        'u1,1104,999,608,0.5,0.3,0.2,"Tea, green",,Café 日本,https://x/1104,,https://x/608,3,,\r\n',
    );
    const jsonl = await exportText(line, { catalog, catalogColumns: ['URL', 'TITLE'], format: 'jsonl' });
    assert.deepEqual(JSON.parse(jsonl.out), {
      userId: 'u1',
      items: [
        { itemId: '1104', score: 0.5, URL: 'https://x/1104', TITLE: 'Tea, green' },
        { itemId: '999', score: 0.3, URL: null, TITLE: null },
        { itemId: '608', score: 0.2, URL: 'https://x/608', TITLE: 'Café 日本' },
      ],
    });
    const formula = await exportText('{"input":{"userId":"u"},"output":{"recommendedItems":["3102"]}}\n', {
      catalog,
      catalogColumns: ['TITLE'],
    });
    assert.equal(formula.out, 'userId,rank,itemId,TITLE\r\nu,1,3102,"\'=HYPERLINK(""evil"")"\r\n');
  });

  test('an escaped id finds its catalog row; the catalog limit and a wrong column are clear errors', async () => {
    const catalog = tmp.fresh('items.csv');
    await writeFile(catalog, 'item_id,title\né1,accent\n');
    const { out } = await exportText(
      '{"input":{"userId":"u"},"output":{"recommendedItems":["\\u00e91"]}}\n',
      { catalog },
    );
    assert.equal(out, 'userId,rank,itemId,title\r\nu,1,é1,accent\r\n');
    await rejectsWith(exportText('{}\n', { catalog, maxCatalogItems: 0 }), 'PB_USAGE', /maxCatalogItems/);
    const big = tmp.fresh('big.csv');
    await writeFile(big, `ITEM_ID,T\n${Array.from({ length: 5 }, (_, i) => `i${i},t`).join('\n')}\n`);
    await rejectsWith(
      exportText('{}\n', { catalog: big, maxCatalogItems: 3 }),
      'PB_LIMIT',
      /more than 3 items/,
    );
    await rejectsWith(
      exportText('{}\n', { catalog, catalogColumns: ['nope'] }),
      'PB_USAGE',
      /no column "nope"/,
    );
  });
});

describe('atomic output', () => {
  test('a failure part way leaves neither the output nor its temporary file', async () => {
    const { text } = jobFile(30, 'recommendations', 4000, { errorRate: 0.05 });
    const dir = tmp.fresh('atomic');
    const output = join(dir, 'out.csv');
    await writeSource('', join(dir, 'keep.txt'));
    // The source breaks after about a megabyte of output has been written.
    const body = Buffer.from(text);
    async function* failing() {
      yield* split(body, 64 * 1024);
      throw new Error('connection reset');
    }
    const err = await exportOutputs({
      sources: ['-'],
      stdin: Readable.from(failing()),
      output,
      errors: join(dir, 'errors.jsonl'),
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.match(String(err), /connection reset/);
    assert.deepEqual(await readdir(dir), ['keep.txt']);
  });
});

describe('a side file that cannot be written', () => {
  test('errors.jsonl in a missing folder: PB_IO naming it, and no unhandled error after the refusal', async () => {
    const path = await writeSource(`${REFERENCE.error}\n${REFERENCE.userPersonalization}\n`);
    const unheard: unknown[] = [];
    const listen = (err: unknown) => unheard.push(err);
    process.on('uncaughtException', listen);
    try {
      await rejectsWith(
        exportOutputs({
          sources: [path],
          output: tmp.fresh('x.csv'),
          errors: join(tmp.fresh('gone'), 'e.jsonl'),
        }),
        'PB_IO',
        /gone\/e\.jsonl: cannot write: the folder does not exist/,
      );
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('uncaughtException', listen);
    }
    assert.deepEqual(unheard, []);
  });
});

describe('a library call: the process belongs to the CLI', () => {
  test('a library call with - and no stdin or stdout rejects with PB_USAGE', async () => {
    await rejectsWith(
      exportOutputs({ sources: ['-'], output: tmp.fresh('no-stdin.csv') }),
      'PB_USAGE',
      /reading - \(stdin\) needs export's `stdin` option \(a Readable\): none was given/,
    );
    const path = await writeSource(`${REFERENCE.userPersonalization}\n`);
    await rejectsWith(
      exportOutputs({ sources: [path], output: '-', errors: tmp.fresh('e.jsonl') }),
      'PB_USAGE',
      /writing the output to - \(stdout\) needs export's `stdout` option \(a Writable\)/,
    );
    // A side file too, before a byte is read (it would fail only when it closed).
    await rejectsWith(
      exportOutputs({ sources: [path], output: tmp.fresh('x.csv'), errors: '-' }),
      'PB_USAGE',
      /writing the errors file to - \(stdout\) needs export's `stdout` option/,
    );
  });
});

describe('export CLI', () => {
  test('writes to stdout, prints the summary on stderr, --json on stdout with -o', async () => {
    const path = await writeSource(`${REFERENCE.userPersonalization}\n${REFERENCE.error}\n`);
    const r = await cli(['export', path, '--top', '2', '--errors', tmp.fresh('e.jsonl')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'userId,rank,itemId,score\r\n4638,1,1104,0.0023\r\n4638,2,3102,3.773E-4\r\n');
    assert.match(
      r.stderr,
      /export \(csv-long\): 2 lines from 1 file, 1 key, 2 rows written to stdout, 1 error line /,
    );
    const output = tmp.fresh('o.jsonl');
    const j = await cli(['export', path, '--format', 'jsonl', '-o', output, '--json']);
    assert.equal(j.code, 0, j.stderr);
    const summary = JSON.parse(j.stdout) as ExportSummary;
    assert.equal(summary.records, 1);
    assert.equal(summary.errorsFile, `${output}.errors.jsonl`);
  });

  test('usage errors exit 2; bad data exits 1 with file:line; --help has examples', async () => {
    assert.equal((await cli(['export'])).code, 2);
    assert.equal((await cli(['export', 'x.out', '--format', 'xml'])).code, 2);
    assert.equal((await cli(['export', 'x.out', '--on-invalid', 'skip'])).code, 2);
    assert.equal((await cli(['export', 'x.out', '--threads', '3'])).code, 2);
    const bad = await writeSource('{"input":{"userId":"u"},"output":{"recommendedItems":[1]}}\n');
    const r = await cli(['export', bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /:1: output\.recommendedItems\[0\]: expected a string/);
    const h = await cli(['export', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Examples:/);
    assert.match((await cli(['--help'])).stdout, /export {5}turn batch output/);
  });
});

/** A JSON text spread over lines with indentation, token for token (numbers keep their text). */
function spreadOut(json: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') out += json[++i];
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === '}' || c === ']') out += `\n${'  '.repeat(--depth)}`;
    out += c;
    if (c === '{' || c === '[') out += `\n${'  '.repeat(++depth)}`;
    else if (c === ',') out += `\n${'  '.repeat(depth)}`;
    else if (c === ':') out += ' ';
  }
  return out;
}

let sourceCount = 0;
async function writeSource(text: string, path?: string, gz = false): Promise<string> {
  const p = path ?? tmp.fresh(`src-${sourceCount++}.out`);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dirname(p), { recursive: true });
  const { gzipSync } = await import('node:zlib');
  await writeFile(p, gz ? gzipSync(text) : text);
  return p;
}
