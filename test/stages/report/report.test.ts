/**
 * report: report.json's figures against an oracle computed here from the
 * fixture's lines with JSON.parse (counts, top items, Gini, the top 1%'s
 * share, ids per line, score bins and quantiles, catalog coverage, missing
 * keys, --since's new, gone, changed and Jaccard), the same figures when
 * the distinct counts spill to disk, and the CLI's summary line.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { run } from '../../../src/cli/index.js';
import { sortFloat64 } from '../../../src/core/radix-sort.js';
import {
  batchCentroids,
  binOf,
  Exposure,
  parseNumber,
  REPORT_QUANTILES,
  SCORE_EDGES,
  ScoreBins,
} from '../../../src/core/report.js';
import { SpillDir } from '../../../src/io/spill.js';
import { readFiles } from '../../../src/io/spill-read.js';
import { validator } from '../../../src/schemas.js';
import { CountTable, groupDump } from '../../../src/stages/report/counts.js';
import type { ScoreDigests } from '../../../src/stages/report/digests.js';
import { type ReportJson, report } from '../../../src/stages/report/index.js';
import {
  type Counted,
  type Dump,
  eachTables,
  JoinedCounts,
  joinPart,
  type PartJoiner,
  writeJoined,
  writeWhole,
} from '../../../src/stages/report/joined.js';
import { PieceTally, Tally } from '../../../src/stages/report/scan.js';
import { SharedCounted, SharedKeyCounts, SharedKeys } from '../../../src/stages/report/shared-keys.js';
import { sink, useTmp } from '../../helpers.js';
import { prng, REFERENCE } from '../../out-fixtures.js';
import { Browser, findChromium } from './browser.js';

const tmp = useTmp();

interface Line {
  input: { userId: string };
  output: { recommendedItems: string[]; scores: number[] } | null;
  error: string | null;
}

/** Skewed item picks (a few items in most lists), odd ids among them, scores falling with the rank. */
function fixture(seed: number, users: number): Line[] {
  const r = prng(seed);
  const odd = ['a,"b"', 'é\u00e9', 'x\\y', 'ITEM-7', '007'];
  const lines: Line[] = [];
  for (let u = 0; u < users; u++) {
    const userId = u % 37 === 5 ? `u"${u}` : `u${u}`;
    if (u % 23 === 7) {
      lines.push({
        input: { userId },
        output: null,
        error: u % 2 ? 'Failed to process the record' : 'Item not found',
      });
      continue;
    }
    const n = 5 + Math.floor(r() * 21);
    const items = new Set<string>();
    while (items.size < n) {
      const x = r();
      items.add(x < 0.05 ? (odd[Math.floor(r() * odd.length)] as string) : String(Math.floor(400 * x ** 3)));
    }
    let s = 0.2 + r() * 0.3;
    const scores = [...items].map(() => {
      s *= 0.5 + r() * 0.45;
      return Number(s.toPrecision(6));
    });
    lines.push({ input: { userId }, output: { recommendedItems: [...items], scores }, error: null });
  }
  return lines;
}

/** The fixture as two shard files in a folder (and a blank line). */
async function writeShards(lines: Line[], name: string): Promise<string> {
  const dir = tmp.fresh(name);
  await mkdir(join(dir, 'shard-00000'), { recursive: true });
  await mkdir(join(dir, 'shard-00001'), { recursive: true });
  const half = Math.floor(lines.length / 2);
  const text = (ls: Line[]) => ls.map((l) => JSON.stringify(l)).join('\n');
  await writeFile(join(dir, 'shard-00000', 'in-0.jsonl.out'), `${text(lines.slice(0, half))}\n\n`);
  await writeFile(join(dir, 'shard-00001', 'in-1.jsonl.out'), `${text(lines.slice(half))}\r\n`);
  return dir;
}

/**
 * The fixture's lines as one .out text with what the pass must number and
 * count the same on any thread: blank and invalid lines, CRLF, a BOM-less
 * multi-byte key, repeated keys, many error messages.
 */
function oddText(seed: number, users: number): string {
  const r = prng(seed);
  const out: string[] = [];
  for (const l of fixture(seed, users)) {
    const x = r();
    if (l.error && x < 0.5) l.error = `Error ${Math.floor(r() * 40)}`;
    if (x < 0.03) out.push('');
    else if (x < 0.05) out.push('{"input":{"userId":"cut"},"output":{');
    else if (x < 0.06) out.push(`{"input":{"userId":"ü€${Math.floor(r() * 5)}"},"output":null,"error":"é"}`);
    // Ids past the smallest direct counters (1,024 values): counted directly or hashed by the table's budget.
    if (l.output && x > 0.6) {
      l.output.recommendedItems.push(String(1000 + Math.floor(r() * 3000)));
      l.output.scores.push(0.001);
    }
    const line = JSON.stringify(l);
    out.push(line);
    if (x > 0.97) out.push(line);
  }
  return out.map((line) => line + (r() < 0.2 ? '\r\n' : '\n')).join('');
}

/** Ids at the direct counters' edges, with leading zeros, past 7 digits, not numbers, empty. */
const EDGE_IDS = ['0', '00', '007', '1023', '1024', '2047', '2048', '32767', '32768', '2097151', '2097152'];
const ODD_IDS = ['9999999', '10000000', '1234567', 'abc', 'a,b', 'é', '', '-1', '1.5', '１２'];
/** Scores on parseNumber's fast path and off it (17 digits, exponents past 22 or 1,000), -0, empty lists. */
const SCORES = [
  '0.0511705',
  '8.089E-4',
  '-0',
  '0',
  '2E+3',
  '1.5e22',
  '1e23',
  '0.12345678901234567',
  '1E+400',
];
const MORE_SCORES = [
  '1e-400',
  '1e1002',
  '123456789012345678',
  '4.9e-324',
  '-12.5e-3',
  '0.5',
  '1',
  '0.00123456789012345',
  '999999999999999',
];

/** A line of the service's usual shape (compact, no escapes) with these ids, and maybe scores. */
function usualLine(r: () => number, key: string, ids: string[]): string {
  const field = r() < 0.1 ? 'itemId' : 'userId';
  const x = r();
  const pick = (): string => {
    const y = r();
    if (y < 0.9)
      return (Number(Math.max(1e-9, r() * 0.2).toPrecision(6)) * (r() < 0.5 ? 1 : 1e-3)).toString();
    const all = [...SCORES, ...MORE_SCORES];
    return all[Math.floor(r() * all.length)] as string;
  };
  // Scores for every id, for fewer, for none, or no scores at all.
  const n = x < 0.7 ? ids.length : x < 0.8 ? Math.floor(r() * ids.length) : x < 0.85 ? 0 : -1;
  const scores = n < 0 ? '' : `,"scores":[${Array.from({ length: n }, pick).join(',')}]`;
  const list = ids.map((i) => JSON.stringify(i)).join(',');
  return `{"input":{"${field}":${JSON.stringify(key)}},"output":{"recommendedItems":[${list}]${scores}},"error":null}`;
}

function randomUsualLines(r: () => number, count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const ids = Array.from({ length: Math.floor(r() * 30) }, () => {
      const y = r();
      if (y < 0.8) return String(Math.floor(5000 * r() ** 2));
      if (y < 0.9) return EDGE_IDS[Math.floor(r() * EDGE_IDS.length)] as string;
      if (y < 0.95) return String(Math.floor(r() * 3e6));
      return ODD_IDS[Math.floor(r() * ODD_IDS.length)] as string;
    });
    lines.push(usualLine(r, r() < 0.1 ? `u${Math.floor(r() * 50)}` : `u${i},é`, ids));
  }
  return lines;
}

/** report.json less what may differ between runs: the t-digest's estimates (the digest shuffles), samples' order. */
function exactPart(j: ReportJson): unknown {
  return {
    ...j,
    sources: [],
    scores: j.scores && { ...j.scores, ranks: j.scores.ranks.map((rk) => ({ ...rk, quantiles: {} })) },
    catalog: j.catalog && {
      ...j.catalog,
      file: '',
      notInCatalogSample: [...j.catalog.notInCatalogSample].sort(),
    },
    missing: j.missing && { ...j.missing, input: [], sample: [...j.missing.sample].sort() },
    shards: j.shards.map((x) => ({ ...x, file: '' })),
    invalidSamples: j.invalidSamples.map((x) => ({ ...x, file: '' })),
  };
}

/** Every key of a table, or lanes' tables joined, with its two counters. */
async function countsOf(t: Counted): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  await t.each((buf, s, e, a, b) => {
    const k = buf.toString('latin1', s, e);
    assert.ok(!m.has(k), `${k} visited twice`);
    m.set(k, `${a},${b}`);
  });
  return m;
}

/** Exact figures from the parsed lines. */
function oracle(lines: Line[]) {
  const counts = new Map<string, number>();
  const lengths: number[] = [];
  const ranks: number[][] = [[], [], [], []];
  for (const l of lines) {
    if (!l.output) continue;
    const ids = l.output.recommendedItems;
    lengths.push(ids.length);
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const sc = l.output.scores;
    [0, 4, 9, ids.length - 1].forEach((k, i) => {
      if (k < ids.length) (ranks[i] as number[]).push(sc[k] as number);
    });
  }
  const slots = [...counts.values()].reduce((a, b) => a + b, 0);
  const top = [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 20)
    .map(([id, count]) => ({ id, count, share: count / slots }));
  const asc = [...counts.values()].sort((a, b) => a - b);
  const n = asc.length;
  // Gini as the mean absolute difference over twice the mean, pair by pair.
  let diff = 0;
  for (const x of asc) for (const y of asc) diff += Math.abs(x - y);
  const gini = diff / (2 * n * n * (slots / n));
  const k = Math.ceil(n / 100);
  const topShare = asc.slice(n - k).reduce((a, b) => a + b, 0) / slots;
  lengths.sort((a, b) => a - b);
  return { counts, slots, top, gini, topShare, k, lengths, ranks };
}

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not within ${tolerance} of ${expected}`,
  );
}

describe('report', () => {
  const lines = fixture(7, 600);
  const o = oracle(lines);
  let base: ReportJson | undefined;
  let shards = '';

  /** PREV: the outputs less 20 keys, some lists reversed or changed, one key of its own. */
  async function writePrev(): Promise<string> {
    const cur = lines.filter((l) => l.output);
    const prev = cur.slice(20).map((l, i) => {
      const ids = [...(l.output?.recommendedItems ?? [])];
      if (i % 3 === 0) ids.reverse();
      if (i % 5 === 0) ids.splice(1, 3, 'new-a', 'new-b');
      return { input: l.input, output: { recommendedItems: ids, scores: ids.map(() => 0.1) }, error: null };
    });
    prev.push({
      input: { userId: 'only-prev' },
      output: { recommendedItems: ['1'], scores: [0.1] },
      error: null,
    });
    return writeText(`${tmp.fresh('prev')}.out`, `${prev.map((l) => JSON.stringify(l)).join('\n')}\n`);
  }

  test('report.json: counts, top items, Gini, top 1% share, ids per line, scores, per file', async () => {
    const dir = await writeShards(lines, 'out');
    shards = dir;
    const html = join(tmp.fresh('r'), 'report.html');
    await mkdir(join(html, '..'), { recursive: true });
    const s = await report({ sources: [dir], output: html });
    const json = JSON.parse(await readFile(s.json, 'utf8'));
    assert.equal(s.json, html.replace(/html$/, 'json'));
    assert.deepEqual(json, s.report);
    const valid = validator('report.schema.json');
    assert.ok(valid(json), JSON.stringify(valid.errors));
    base = s.report;
    const c = json.counts;
    const errors = lines.filter((l) => l.error).length;
    assert.equal(c.lines, lines.length + 1);
    assert.equal(c.blank, 1);
    assert.equal(c.errorLines, errors);
    assert.equal(c.okLines, lines.length - errors);
    assert.equal(c.keys, lines.length);
    assert.equal(c.repeatedKeyLines, 0);
    assert.equal(c.slots, o.slots);
    assert.equal(c.distinctItems, o.counts.size);
    assert.deepEqual(c.itemsPerLine, {
      min: o.lengths[0],
      median: o.lengths[Math.floor((o.lengths.length - 1) / 2)],
      max: o.lengths[o.lengths.length - 1],
      mean: o.lengths.reduce((a, b) => a + b, 0) / o.lengths.length,
    });
    assert.equal(c.spilled, false);
    assert.deepEqual(json.concentration.top, o.top);
    near(json.concentration.gini, o.gini, 1e-12, 'gini');
    assert.equal(json.concentration.top1PercentItems, o.k);
    near(json.concentration.top1PercentShare, o.topShare, 1e-12, 'top 1% share');
    assert.deepEqual(
      json.errors,
      [
        {
          message: 'Failed to process the record',
          count: lines.filter((l) => l.error?.startsWith('Failed')).length,
        },
        { message: 'Item not found', count: lines.filter((l) => l.error === 'Item not found').length },
      ].sort((a, b) => b.count - a.count),
    );
    assert.deepEqual(
      json.shards.map((x: { lines: number; errorLines: number }) => [x.lines, x.errorLines]),
      [
        [301, lines.slice(0, 300).filter((l) => l.error).length],
        [300, lines.slice(300).filter((l) => l.error).length],
      ],
    );
    // Scores: exact count, min, max and bins; quantiles within a few bins of the sorted values.
    for (const [i, rk] of (json.scores?.ranks ?? []).entries()) {
      const xs = [...(o.ranks[i] as number[])].sort((a, b) => a - b);
      assert.equal(rk.count, xs.length);
      assert.equal(rk.min, xs[0]);
      assert.equal(rk.max, xs[xs.length - 1]);
      assert.equal(
        rk.histogram.reduce((a: number, b: { count: number }) => a + b.count, 0),
        xs.length,
        'every score in a bin',
      );
      for (const b of rk.histogram)
        assert.equal(
          b.count,
          xs.filter((x) => (b.from === null || x >= b.from) && (b.to === null || x < b.to)).length,
        );
      for (const p of REPORT_QUANTILES) {
        const key = `p${String(Math.round(p * 100)).padStart(2, '0')}`;
        // t-digest's estimate lies within 1% of the ranks (plus two) either side of p: the README
        // says "typically within a fraction of a percent", and the digest shuffles as it compresses,
        // so two ranks alone failed now and then (rank 1, p50, on a loaded machine).
        const slack = Math.ceil(0.01 * xs.length);
        const lo = xs[Math.max(0, Math.floor(p * xs.length) - 2 - slack)] as number;
        const hi = xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) + 1 + slack)] as number;
        assert.ok(
          rk.quantiles[key] >= lo && rk.quantiles[key] <= hi,
          `rank ${rk.rank} ${key}: ${rk.quantiles[key]} not in [${lo}, ${hi}]`,
        );
      }
    }
    const page = await readFile(html, 'utf8');
    assert.match(page, /<svg /);
    // Numbers in the locale's separators: en-US by default, de-DE when asked.
    assert.ok(c.slots > 1000);
    assert.ok(page.includes(`<b>${c.slots.toLocaleString('en-US')}</b>`), 'slots as 8,758');
    const { renderReportHtml } = await import('../../../src/core/report-html.js');
    const de = renderReportHtml(s.report, { locale: 'de-DE', title: 'Bericht' });
    assert.ok(de.includes(`<b>${c.slots.toLocaleString('de-DE')}</b>`), 'slots as 8.758');
    assert.doesNotMatch(page, /https?:\/\/(?!www\.w3\.org)/, 'no address to fetch');
  });

  test('past --memory-budget the distinct counts spill to disk and give the same figures', async () => {
    const a = { report: base as ReportJson };
    const events: string[] = [];
    const b = await report({
      onEvent: (e) => events.push(e.type === 'step' ? e.step : e.type),
      sources: [shards],
      output: `${tmp.fresh('b')}.html`,
      memoryBudget: 16 * 1024,
    });
    assert.equal(b.report.counts.spilled, true);
    assert.deepEqual(
      events.filter((e) => e !== 'progress'),
      ['outputs', 'source', 'source', 'distinct', 'write'],
    );
    // An aborted signal: nothing written, the AbortError with the signal's reason.
    const out = `${tmp.fresh('aborted')}.html`;
    await assert.rejects(report({ sources: [shards], output: out, signal: AbortSignal.abort('stop') }), {
      name: 'AbortError',
    });
    await assert.rejects(readFile(out), { code: 'ENOENT' });
    // A folder that does not exist: said before the pass (the page is written last), naming the page.
    const lost = join(tmp.fresh('no-such-folder'), 'report.html');
    const seen: string[] = [];
    await assert.rejects(
      report({ sources: [shards], output: lost, onEvent: (e) => seen.push(e.type) }),
      (err: Error & { code?: string; file?: string }) =>
        err.code === 'PB_IO' && err.file === lost && /folder does not exist/.test(err.message),
    );
    assert.deepEqual(seen, []);
    assert.deepEqual({ ...b.report.counts, spilled: false }, a.report.counts);
    assert.deepEqual(b.report.concentration, a.report.concentration);
  });

  test('--catalog: coverage, ids not in it, titles; --input: missing keys; --since: keys new, gone, changed, mean Jaccard', async () => {
    const dir = shards;
    const prevFile = await writePrev();
    const catalogIds = [...Array(300).keys()].map(String).concat(['a,"b"']);
    const catalog = await writeText(
      `${tmp.fresh('items')}.csv`,
      `ITEM_ID,TITLE,PRICE\r\n${catalogIds.map((id) => `"${id.replace(/"/g, '""')}","Title ${id.replace(/"/g, '""')}",1`).join('\r\n')}\r\n`,
    );
    const input = await writeText(
      `${tmp.fresh('input')}.jsonl`,
      `${[...lines.map((l) => l.input.userId), 'gone-1', 'gone-2'].map((u) => JSON.stringify({ userId: u })).join('\n')}\n`,
    );
    const s = await report({
      sources: [dir],
      output: `${tmp.fresh('c')}.html`,
      catalog,
      inputs: [input],
      since: prevFile,
      k: 4,
    });
    assert.ok(validator('report.schema.json')(s.report), 'with every section, still valid');
    const inCatalog = [...o.counts.keys()].filter((id) => catalogIds.includes(id));
    assert.deepEqual(s.report.catalog && { ...s.report.catalog, file: '' }, {
      file: '',
      items: catalogIds.length,
      recommended: inCatalog.length,
      coverage: inCatalog.length / catalogIds.length,
      notInCatalog: o.counts.size - inCatalog.length,
      notInCatalogSample: s.report.catalog?.notInCatalogSample,
    });
    const notIn = [...o.counts.keys()].filter((id) => !catalogIds.includes(id));
    assert.equal(s.report.catalog?.notInCatalogSample.length, Math.min(20, notIn.length));
    for (const id of s.report.catalog?.notInCatalogSample ?? []) assert.ok(notIn.includes(id), id);
    for (const t of s.report.concentration.top)
      assert.equal(t.title, catalogIds.includes(t.id) ? `Title ${t.id}` : undefined);
    assert.deepEqual(s.report.missing && { ...s.report.missing, input: [] }, {
      input: [],
      inputKeys: lines.length + 2,
      missingKeys: 2,
      sample: ['gone-1', 'gone-2'],
    });
    const cur = lines.filter((l) => l.output);
    const prev = JSON.parse(
      await readFile(prevFile, 'utf8').then((t) => `[${t.trim().split('\n').join(',')}]`),
    ) as Line[];
    const prevBy = new Map(prev.map((l) => [l.input.userId, l.output?.recommendedItems ?? []]));
    let changed = 0;
    let sum = 0;
    let both = 0;
    for (const l of cur) {
      const p = prevBy.get(l.input.userId);
      if (!p) continue;
      const c = l.output?.recommendedItems ?? [];
      if (JSON.stringify(p) !== JSON.stringify(c)) changed++;
      const a = new Set(c.slice(0, 4));
      const b = new Set(p.slice(0, 4));
      const inter = [...a].filter((x) => b.has(x)).length;
      sum += inter / (a.size + b.size - inter);
      both++;
    }
    const since = s.report.since;
    assert.ok(since);
    assert.equal(since.prevKeys, prev.length);
    assert.equal(since.newKeys, 20);
    assert.equal(since.goneKeys, 1);
    assert.equal(since.changedKeys, changed);
    assert.equal(since.unchangedKeys, both - changed);
    near(since.meanJaccard as number, sum / both, 1e-12, 'mean Jaccard');
    assert.equal(
      since.jaccardHistogram.reduce((a, b) => a + b.count, 0),
      both,
    );
  });

  test('two worker lanes: report.json as one thread gives it, on odd lines, small pieces, a tiny budget, a catalog and an input', async () => {
    for (const [round, pieceSize, memoryBudget] of [
      [0, 700, 64 * 1024],
      [1, 5000, undefined],
    ] as const) {
      const file = await writeText(`${tmp.fresh('lanes')}.out`, oddText(40 + round, 700));
      // Ids 0 to 389 and the odd ones in the catalog: the ids missing from it fit the sample whole.
      const catalog = await writeText(
        `${tmp.fresh('items')}.csv`,
        `ITEM_ID,TITLE\n${[...Array(390).keys()].map((i) => `${i},T${i}`).join('\n')}\n`,
      );
      const input = await writeText(
        `${tmp.fresh('input')}.jsonl`,
        `${['u1', 'u2', 'gone-1', 'gone-2', 'u1'].map((u) => JSON.stringify({ userId: u })).join('\n')}\n`,
      );
      const common = { sources: [file], memoryBudget, catalog, inputs: [input] };
      const one = await report({ ...common, output: `${tmp.fresh('one')}.html`, workers: 0 });
      const two = await report({ ...common, output: `${tmp.fresh('two')}.html`, workers: 2, pieceSize });
      assert.equal(one.report.counts.spilled, memoryBudget !== undefined);
      assert.ok(one.report.invalidSamples.length > 0 && one.report.counts.blank > 0);
      assert.deepEqual(exactPart(two.report), exactPart(one.report), `round ${round}`);
    }
  });

  test('lanes tallied apart and added up in order equal one tally, on random pieces, lanes and budgets', async () => {
    const noDigests = { add: () => {}, addAll: () => {} } as unknown as ScoreDigests;
    const spill = new SpillDir(tmp.dir());
    try {
      for (let round = 0; round < 6; round++) {
        const r = prng(round);
        const text = Buffer.from(oddText(round, 150 + Math.floor(r() * 300)));
        const budget = [16 * 1024, 64 * 1024, 1 << 20][round % 3] as number;
        /** Whole lines cut at random places, as the reader's pieces are. */
        const pieces = (): Buffer[] => {
          const out: Buffer[] = [];
          for (let at = 0; at < text.length; ) {
            let end = Math.min(text.length, at + 1 + Math.floor(r() * 3000));
            end = text.indexOf(10, end - 1) + 1 || text.length;
            out.push(text.subarray(at, end));
            at = end;
          }
          return out;
        };
        const tallyBy = async (lanes: PieceTally[], pick: () => number) => {
          const t = new Tally(noDigests);
          t.startFile('f');
          for (const piece of pieces()) t.add(await (lanes[pick()] as PieceTally).piece(piece), undefined);
          for (const l of lanes) t.lengths.addPairs(l.lengths.pairs());
          return t;
        };
        // As report() sizes them: this thread's tables half the budget each, a lane's a quarter.
        const table = (share: number) => new CountTable(spill, budget * share, budget / 2);
        // One thread on the parser alone; the lanes with the WebAssembly tally, as the pass runs them.
        const single = new PieceTally(table(1 / 2), table(1 / 2), undefined, false);
        const one = await tallyBy([single], () => 0);
        const lanes = [0, 1, 2].map(
          (i) => new PieceTally(table(i ? 1 / 4 : 1 / 2), table(i ? 1 / 4 : 1 / 2), undefined),
        );
        const many = await tallyBy(lanes, () => Math.floor(r() * 3));
        for (const l of [single, ...lanes]) l.finish();
        const { digests: _a, ...a } = one;
        const { digests: _b, ...b } = many;
        assert.deepEqual(
          { ...b, bins: b.bins.map((x) => ({ ...x, sum: 0 })) },
          { ...a, bins: a.bins.map((x) => ({ ...x, sum: 0 })) },
        );
        for (const [i, x] of b.bins.entries())
          assert.equal(x.sum, a.bins[i]?.sum, 'scores summed in line order');
        for (const which of ['keys', 'items'] as const) {
          const handed = await Promise.all(lanes.slice(1).map((l) => l[which].handOver()));
          const joined = new JoinedCounts(spill, budget / 2, lanes[0]?.[which] as CountTable, handed);
          assert.deepEqual(await countsOf(joined), await countsOf(single[which]), `${which}, round ${round}`);
          assert.equal(joined.spilled, single[which].spilled, `${which} spilled, round ${round}`);
        }
      }
    } finally {
      await spill.dispose();
    }
  });

  test('lanes sharing one keys table: the distinct keys and spilled of one thread, on random pieces, budgets and key guesses', async () => {
    const noDigests = { add: () => {}, addAll: () => {} } as unknown as ScoreDigests;
    const spill = new SpillDir(tmp.dir());
    const seen = { inMemory: 0, joined: 0, inMemorySpilled: 0 };
    try {
      for (let round = 0; round < 8; round++) {
        const r = prng(100 + round);
        const lines = oddText(100 + round, 600 + Math.floor(r() * 900)).split(/(?<=\n)/);
        // Keys again far from their first line (another lane's piece), and keys past the shared table's length byte.
        for (let i = 0; i < 60; i++) lines.push(lines[Math.floor(r() * lines.length)] as string);
        if (round % 4 === 2)
          for (let i = 0; i < 4; i++)
            lines.push(`{"input":{"userId":"${'L'.repeat(250 + i * 3)}"},"output":null,"error":"x"}\n`);
        const text = Buffer.from(lines.join(''));
        // 64 KiB: the shared table holds every key where one table of the budget would have spilled.
        const budget = [16 * 1024, 64 * 1024, 1 << 20, 64 * 1024][round % 4] as number;
        const pieces: Buffer[] = [];
        for (let at = 0; at < text.length; ) {
          let end = Math.min(text.length, at + 1 + Math.floor(r() * 3000));
          end = text.indexOf(10, end - 1) + 1 || text.length;
          pieces.push(text.subarray(at, end));
          at = end;
        }
        const table = (share: number) => new CountTable(spill, budget * share, budget / 2);
        const single = new PieceTally(table(1 / 2), table(1 / 2), undefined, false);
        for (const piece of pieces) await single.piece(piece);
        // This thread's first pieces in a table of its own, the rest over two lanes adding to one shared table.
        const shared = SharedKeys.create(budget / 2, [4, 8, 16][round % 3] as number);
        const local = new PieceTally(table(1 / 2), table(1 / 2), undefined);
        const lanes = [0, 1].map(
          () =>
            new PieceTally(
              new SharedKeyCounts(new SharedKeys(shared.memory), table(1 / 8)),
              table(1 / 4),
              undefined,
            ),
        );
        const cold = 1 + Math.floor(r() * 3);
        const t = new Tally(noDigests);
        t.startFile('f');
        for (const [i, piece] of pieces.entries()) {
          const lane = i < cold ? local : (lanes[Math.floor(r() * 2)] as PieceTally<SharedKeyCounts>);
          t.add(await lane.piece(piece), undefined);
        }
        const handed = await Promise.all(lanes.map((l) => l.keys.handOver()));
        // The lanes' own counts (flushed by handOver) as a visit of the slots finds them.
        assert.deepEqual(shared.counted(), shared.totals(), `counted, round ${round}`);
        const counted = new SharedCounted(spill, budget / 2, shared, local.keys, handed, []);
        // Presence only: a key's `a` above 0, `b` 0.
        const present = async (c: Counted) =>
          new Map([...(await countsOf(c))].map(([k, ab]) => [k, ab.startsWith('0,') ? ab : '1,0']));
        const want = await present(single.keys);
        assert.deepEqual(await present(counted), want, `round ${round}`);
        assert.equal(counted.spilled, single.keys.spilled, `spilled, round ${round}`);
        // Every key in the shared table or this thread's: counted in memory (else joined on disk, its files read once).
        const inMemory = !shared.sealed && !local.keys.spilled && handed.every((h) => !h.parts && !h.dump);
        if (inMemory) {
          // The count alone (the figures' path without --input) as the visit's.
          const alone = new SharedCounted(spill, budget / 2, shared, local.keys, handed, []);
          assert.equal(await alone.distinct(), want.size, `distinct, round ${round}`);
          assert.equal(alone.spilled, single.keys.spilled, `spilled by distinct(), round ${round}`);
        }
        seen[inMemory ? 'inMemory' : 'joined']++;
        if (inMemory && counted.spilled) seen.inMemorySpilled++;
      }
      assert.ok(seen.inMemory > 0 && seen.joined > 0 && seen.inMemorySpilled > 0, JSON.stringify(seen));
    } finally {
      await spill.dispose();
    }
  });

  test('report() without --input: the lanes sharing one keys table give report.json as one thread does, on odd lines and budgets', async () => {
    for (const [round, pieceSize, memoryBudget] of [
      [0, 700, 16 * 1024],
      [1, 5000, undefined],
    ] as const) {
      const lines = oddText(50 + round, 400).split(/(?<=\n)/);
      const file = await writeText(`${tmp.fresh('shared')}.out`, [...lines, ...lines.slice(0, 300)].join(''));
      const common = { sources: [file], memoryBudget };
      const one = await report({ ...common, output: `${tmp.fresh('one')}.html`, workers: 0 });
      const two = await report({ ...common, output: `${tmp.fresh('two')}.html`, workers: 2, pieceSize });
      assert.deepEqual(exactPart(two.report), exactPart(one.report), `round ${round}`);
    }
  });

  test('partitions joined on the lanes visit every key as this thread does, in its order', async () => {
    const noDigests = { add: () => {}, addAll: () => {} } as unknown as ScoreDigests;
    const spill = new SpillDir(tmp.dir());
    let asked = 0;
    // A lane's join as the worker runs it, here: the partition reloaded, its files removed.
    const joiner: PartJoiner = {
      join: async (files, into) => {
        asked++;
        writeJoined(await joinPart(readFiles(files, { buf: Buffer.alloc(0) })), into);
        await Promise.all(files.map((f) => typeof f === 'string' && rm(f)));
      },
    };
    try {
      for (let round = 0; round < 6; round++) {
        const r = prng(50 + round);
        const text = Buffer.from(oddText(60 + round, 200 + Math.floor(r() * 400)));
        const budget = [16 * 1024, 64 * 1024, 1 << 20][round % 3] as number;
        const cuts: [number, number, number][] = [];
        for (let at = 0; at < text.length; ) {
          let end = Math.min(text.length, at + 1 + Math.floor(r() * 3000));
          end = text.indexOf(10, end - 1) + 1 || text.length;
          cuts.push([at, end, Math.floor(r() * 3)]);
          at = end;
        }
        /** The same pieces on the same lanes, joined by `joiners`: each key in the order visited. */
        const visits = async (joiners: PartJoiner[]) => {
          const table = (share: number) => new CountTable(spill, budget * share, budget / 2);
          const lanes = [0, 1, 2].map(
            (i) => new PieceTally(table(i ? 1 / 4 : 1 / 2), table(i ? 1 / 4 : 1 / 2), undefined),
          );
          const t = new Tally(noDigests);
          t.startFile('f');
          for (const [s, e, lane] of cuts)
            t.add(await (lanes[lane] as PieceTally).piece(text.subarray(s, e)), undefined);
          for (const l of lanes) l.finish();
          const out: { seq: string[]; spilled: boolean }[] = [];
          for (const which of ['keys', 'items'] as const) {
            const handed = await Promise.all(lanes.slice(1).map((l) => l[which].handOver()));
            const joined = new JoinedCounts(
              spill,
              budget / 2,
              lanes[0]?.[which] as CountTable,
              handed,
              joiners,
            );
            const seq: string[] = [];
            await joined.each((buf, s, e, a, b) => seq.push(`${buf.toString('latin1', s, e)} ${a},${b}`));
            out.push({ seq, spilled: joined.spilled });
          }
          return out;
        };
        const here = await visits([]);
        const before = asked;
        const there = await visits([joiner, joiner]);
        assert.deepEqual(there, here, `round ${round}`);
        if (round % 3 === 0) assert.ok(asked > before, `round ${round}: the lanes joined partitions`);
      }
    } finally {
      await spill.dispose();
    }
  });

  test('writeWhole writes a count as String() does', () => {
    const r = prng(9);
    const t = Buffer.alloc(24);
    for (const v of [0, 1, 9, 10, 99, 100, 4294967295, 2 ** 40 + 7]) {
      const end = writeWhole(t, 3, v);
      assert.equal(t.toString('latin1', 3, end), String(v));
    }
    for (let i = 0; i < 10000; i++) {
      const v = Math.floor(r() * 2 ** (1 + Math.floor(r() * 40)));
      assert.equal(t.toString('latin1', 0, writeWhole(t, 0, v)), String(v));
    }
  });

  test('a dump grouped by partition on its lane joins as the same lines hashed here, in the same order', async () => {
    const spill = new SpillDir(tmp.dir());
    try {
      for (let round = 0; round < 4; round++) {
        const r = prng(70 + round);
        const keys = 500 + Math.floor(r() * 3000);
        const text = Array.from({ length: keys }, (_, i) => {
          const key = i % 7 === 3 ? `é${Math.floor(r() * 1e6)}` : `u${Math.floor(r() * 1e9).toString(36)}`;
          return `${key}\t${1 + Math.floor(r() * 30)},${Math.floor(r() * 3)}\n`;
        }).join('');
        const lines = Buffer.from(text);
        const dump: Dump = { lines, keys, keyBytes: 0 };
        const direct = new Uint32Array(0);
        /** Every key in the order the join visits them; the budget puts the dump through the partitions. */
        const visits = async (d: Dump) => {
          const seq: string[] = [];
          await eachTables(spill, 16 * 1024, [{ parts: undefined, dump: d, direct }], (buf, s, e, a, b) => {
            seq.push(`${buf.toString('utf8', s, e)} ${a},${b}`);
          });
          return seq;
        };
        const g = groupDump(dump);
        assert.equal(g.lines.length, lines.length);
        assert.equal(g.groups?.ends.length, 257);
        assert.deepEqual(await visits(g), await visits(dump), `round ${round}`);
      }
    } finally {
      await spill.dispose();
    }
  });

  test('the WebAssembly tally counts as the parser does, on random pieces of usual and odd lines', async () => {
    const spill = new SpillDir(tmp.dir());
    try {
      for (let round = 0; round < 4; round++) {
        const r = prng(70 + round);
        const lines = randomUsualLines(r, [300, 300, 60, 1000][round] as number);
        // Odd lines among them: blank, cut, error lines, escapes, CRLF (the parser's).
        const odd = oddText(round, 60).split('\n');
        for (const line of odd) lines.splice(Math.floor(r() * lines.length), 0, line);
        // A line longer than the scan's 2 MiB window: the parser reads it alone.
        if (round === 3)
          lines.push(
            usualLine(
              r,
              'long',
              Array.from({ length: 300_000 }, (_, i) => String(i % 5000)),
            ),
          );
        const text = Buffer.from(lines.map((l) => l + (r() < 0.1 ? '\r\n' : '\n')).join(''));
        // Direct counters that stop at 0, 2,048, 32,768 and 2 Mi ids (values past them hashed); the
        // third round's tables past their budget (on disk), the others not (256 files each to read back).
        const [budget, direct] = [
          [1 << 20, 8 * 1024],
          [1 << 20, 32 * 1024],
          [4 * 1024, 512 * 1024],
          [64 << 20, 32 << 20],
        ][round] as [number, number];
        const table = () => new CountTable(spill, budget / 2, direct);
        const js = new PieceTally(table(), table(), undefined, false);
        const wasm = new PieceTally(table(), table(), undefined);
        for (let at = 0; at < text.length; ) {
          // Pieces of whole lines, some past the 2 MiB window (the scan goes on where it stopped).
          let end = Math.min(text.length, at + 1 + Math.floor(r() * (round === 3 ? 3 << 20 : 20_000)));
          end = text.indexOf(10, end - 1) + 1 || text.length;
          const piece = text.subarray(at, end);
          assert.deepEqual(
            await wasm.piece(piece),
            await js.piece(piece),
            `round ${round}, bytes ${at} to ${end}`,
          );
          at = end;
        }
        wasm.finish();
        js.finish();
        assert.deepEqual(wasm.lengths.pairs(), js.lengths.pairs());
        for (const which of ['keys', 'items'] as const) {
          // In the same order too: samples (missing keys, ids not in a catalog) are the first ones each() gives.
          const [got, want] = [await countsOf(wasm[which]), await countsOf(js[which])];
          assert.deepEqual([...got], [...want], `${which}, round ${round}`);
          assert.equal(wasm[which].spilled, js[which].spilled);
          assert.equal(js[which].spilled, round === 2);
        }
      }
    } finally {
      await spill.dispose();
    }
  });

  test('the radix sort (WebAssembly) orders as Float64Array sort does: signs, zeros, subnormals, repeats, any length', () => {
    const r = prng(12);
    const odd = [0, -0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308, 1, -1, 0.1];
    for (const n of [0, 1, 2, 3, 17, 1000, 65536, 65537]) {
      for (const kind of ['scores', 'wide', 'repeats'] as const) {
        const xs = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const y = r();
          if (kind === 'scores') xs[i] = Number((r() * 0.2).toPrecision(6)) * (y < 0.01 ? -1 : 1);
          else if (kind === 'wide')
            xs[i] =
              y < 0.2 ? (odd[Math.floor(r() * odd.length)] as number) : (r() - 0.5) * 10 ** (r() * 600 - 300);
          else xs[i] = Math.floor(r() * 5) * 0.25 - 0.5;
        }
        const want = xs.slice().sort();
        const got = sortFloat64(xs);
        assert.equal(got, xs);
        assert.ok(
          got.every((x, i) => Object.is(x, want[i])),
          `${kind}, ${n} values`,
        );
      }
    }
    // NaN or an infinity: the built-in sort.
    assert.deepEqual(
      [...sortFloat64(Float64Array.of(2, Number.NaN, -1, Number.POSITIVE_INFINITY))],
      [-1, 2, Number.POSITIVE_INFINITY, Number.NaN],
    );
  });

  test('a batch of scores as centroids: every score once, runs of one value whole, the tails single', () => {
    const r = prng(9);
    for (const n of [1, 7, 600, 70_000]) {
      const xs = Float64Array.from({ length: n }, () => Number((r() ** 3).toPrecision(r() < 0.5 ? 2 : 6)));
      const sorted = Float64Array.from(xs).sort();
      const { means, counts } = batchCentroids(Float64Array.from(xs));
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        n,
      );
      let at = 0;
      for (const [i, c] of counts.entries()) {
        const group = sorted.subarray(at, at + c);
        const mean = group.reduce((a, b) => a + b, 0) / c;
        assert.ok(Math.abs((means[i] as number) - mean) <= 1e-12 * Math.max(1, mean), `centroid ${i}`);
        // Within the bound at its quantile (a run of one value may be longer).
        const q = (at + c / 2) / n;
        if (group[0] !== group[c - 1])
          assert.ok(c <= Math.max(1, n * 0.01 * q * (1 - q)), `centroid ${i}: ${c}`);
        at += c;
      }
      if (n >= 600) {
        assert.equal(counts[0], sorted.filter((x) => x === sorted[0]).length, 'the least score alone');
        assert.ok(means.length < n / 2 || n < 70_000, `${means.length} centroids for ${n} scores`);
      }
    }
  });

  test('the CLI writes both files and says what it counted; invalid lines are counted with file:line; mistakes are usage errors', async () => {
    const file = await writeText(
      `${tmp.fresh('ref')}.out`,
      `${[REFERENCE.userPersonalization, REFERENCE.ranking, REFERENCE.error, '{"input":{"userId":"1"},"output":{'].join('\n')}\n`,
    );
    const out = `${tmp.fresh('cli')}.html`;
    const err = sink();
    const stdout = sink();
    const io = (stderr: ReturnType<typeof sink>, so = sink()) =>
      ({ stdin: process.stdin, stdout: so.stream, stderr: stderr.stream, env: {} }) as never;
    const code = await run(['report', file, '-o', out, '--locale', 'de-DE', '--json'], io(err, stdout));
    assert.equal(code, 0, err.text());
    assert.match(
      err.text(),
      /^report: 4 lines from 1 file, 3 keys, 1 error line, 6 distinct ids, 1 invalid line;/,
    );
    const counts = JSON.parse(stdout.text());
    assert.deepEqual([counts.lines, counts.invalid, counts.errorLines, counts.slots], [4, 1, 1, 6]);
    const json = JSON.parse(await readFile(out.replace(/html$/, 'json'), 'utf8')) as ReportJson;
    assert.ok(validator('report.schema.json')(json));
    assert.equal(json.invalidSamples[0]?.line, 4);
    assert.equal(json.invalidSamples[0]?.file, file);
    assert.match(await readFile(out, 'utf8'), /<html lang="de-DE">/);
    const bad = sink();
    assert.equal(await run(['report', file, '-o', out, '--k', '3'], io(bad)), 2);
    assert.match(bad.text(), /--k needs --since/);
  });

  test('--catalog-encoding and --catalog-delimiter: an Excel catalog (windows-1252, ;) gives titles as export reads them; its errors name only report flags', async () => {
    const file = await writeText(
      `${tmp.fresh('de')}.out`,
      `${JSON.stringify({ input: { userId: '1' }, output: { recommendedItems: ['i1', 'i2', 'i9'] }, error: null })}\n`,
    );
    const kat = `${tmp.fresh('kat')}.csv`;
    await writeFile(
      kat,
      Buffer.from('Artikelnummer;Titel;Preis\r\ni1;Müller-Brot;1,50\r\ni2;Käse;2,00\r\n', 'latin1'),
    );
    const out = `${tmp.fresh('kat')}.html`;
    const io = (stderr: ReturnType<typeof sink>) =>
      ({ stdin: process.stdin, stdout: sink().stream, stderr: stderr.stream, env: {} }) as never;
    const args = ['report', file, '--catalog', kat, '--catalog-id-column', 'Artikelnummer', '-o', out];
    const bad = sink();
    assert.equal(await run(args, io(bad)), 1);
    // The advice names an option report has (it had none: the message pointed at export's).
    assert.match(bad.text(), /kat\S*\.csv:2: not UTF-8: .*which --catalog-encoding windows-1252 reads/);
    for (const extra of [
      ['--catalog-encoding', 'windows-1252'],
      ['--catalog-encoding', 'windows-1252', '--catalog-delimiter', ';'],
    ]) {
      const err = sink();
      assert.equal(await run([...args, ...extra], io(err)), 0, err.text());
      const json = JSON.parse(await readFile(out.replace(/html$/, 'json'), 'utf8')) as ReportJson;
      assert.deepEqual(
        json.concentration.top.map((t) => t.title),
        ['Müller-Brot', 'Käse', undefined],
      );
      assert.deepEqual([json.catalog?.items, json.catalog?.notInCatalog], [2, 1]);
    }
    const wrong = sink();
    assert.equal(
      await run([...args, '--catalog-encoding', 'windows-1252', '--catalog-title-column', 'Titl'], io(wrong)),
      2,
    );
    assert.match(wrong.text(), /no column "Titl" for --catalog-title-column; .*did you mean "Titel"\?/);
    assert.doesNotMatch(wrong.text(), /--catalog-columns/);
    const none = sink();
    assert.equal(await run(['report', file, '--catalog-encoding', 'windows-1252', '-o', out], io(none)), 2);
    assert.match(none.text(), /--catalog-encoding needs --catalog/);
  });

  test("a join table's read errors name no option the command lacks (--skip-lines, --catalog-delimiter plain): report's and export's", async () => {
    const file = await writeText(
      `${tmp.fresh('t')}.out`,
      `${JSON.stringify({ input: { userId: '1' }, output: { recommendedItems: ['i1'] }, error: null })}\n`,
    );
    const tables: [string, RegExp][] = [
      [
        'My items export\nITEM_ID,TITLE\ni1,A\ni2,B\n',
        /if the lines before line 2 are a title, delete them; pass --(catalog|users)-delimiter to choose one \(a row that does not fit it then stops the command there\)$/,
      ],
      [
        'ITEM_ID TITLE\ni1   A\ni2   B\n',
        /looks like a header over the ids below it, .*; pass --(catalog-id-column|user-key) "ITEM_ID TITLE" to read it as the header$/,
      ],
      ['a  b\nc  d\n', /lined up with runs of spaces .*; save the data as CSV or TSV$/],
    ];
    for (const [text, message] of tables) {
      const table = await writeText(`${tmp.fresh('table')}.csv`, text);
      for (const cmd of [
        ['report', file, '--catalog', table, '-o', `${tmp.fresh('t')}.html`],
        ['export', file, '--catalog', table, '-o', `${tmp.fresh('t')}.csv`],
        ['export', file, '--users', table, '-o', `${tmp.fresh('t')}.csv`],
      ]) {
        const err = sink();
        const io = { stdin: process.stdin, stdout: sink().stream, stderr: err.stream, env: {} } as never;
        assert.equal(await run(cmd, io), 2, err.text());
        assert.match(err.text().trim(), message, cmd.join(' '));
        assert.doesNotMatch(err.text(), /--skip-lines|plain/);
      }
    }
  });

  test('--since with --rename: an export written with --rename reads back through the same --rename, as export --since reads it', async () => {
    const line = (u: string, ids: string[]) =>
      JSON.stringify({
        input: { userId: u },
        output: { recommendedItems: ids, scores: ids.map(() => 0.5) },
        error: null,
      });
    const file = await writeText(
      `${tmp.fresh('w2')}.out`,
      `${[line('u1', ['i1', 'i2']), line('u2', ['i3', 'i4']), line('u3', ['i5'])].join('\n')}\n`,
    );
    const prev = await writeText(
      `${tmp.fresh('braze')}.csv`,
      'external_id,item_1,item_2,score_1,score_2\r\nu1,i1,i2,0.5,0.5\r\nu2,i4,i3,0.5,0.5\r\nu9,i1,,0.5,\r\n',
    );
    const out = `${tmp.fresh('renamed')}.html`;
    const io = (stderr: ReturnType<typeof sink>) =>
      ({ stdin: process.stdin, stdout: sink().stream, stderr: stderr.stream, env: {} }) as never;
    const bad = sink();
    assert.equal(await run(['report', file, '--since', prev, '-o', out], io(bad)), 2);
    assert.match(bad.text(), /an export written with --rename is read back with the same --rename/);
    const err = sink();
    const args = ['report', file, '--since', prev, '--rename', 'userId=external_id', '-o', out];
    assert.equal(await run(args, io(err)), 0, err.text());
    const json = JSON.parse(await readFile(out.replace(/html$/, 'json'), 'utf8')) as ReportJson;
    assert.deepEqual(
      json.since && [json.since.newKeys, json.since.goneKeys, json.since.changedKeys],
      [1, 1, 1],
    );
    const lone = sink();
    assert.equal(await run(['report', file, '--rename', 'userId=external_id', '-o', out], io(lone)), 2);
    assert.match(lone.text(), /--rename needs --since PREV/);
  });

  test('--since: a PREV of another recipe is refused, as export --since refuses it, not counted as every key gone', async () => {
    // Related items (keyed by source item) against a --map-users export of them (keyed by user): no key can match.
    const related = await writeText(
      `${tmp.fresh('sims')}.out`,
      `${JSON.stringify({ input: { itemId: 'i1' }, output: { recommendedItems: ['i2', 'i3'] }, error: null })}\n`,
    );
    const prev = await writeText(
      `${tmp.fresh('week-1')}.csv`,
      'userId,source_item,rank,itemId\r\nu1,i1,1,i2\r\n',
    );
    const out = `${tmp.fresh('other')}.html`;
    await assert.rejects(
      report({ sources: [related], output: out, since: prev }),
      (e: Error & { code?: string }) =>
        e.code === 'PB_USAGE' &&
        /holds another recipe's recommendations \(userId -> itemId: related items mapped to users \(--map-users\)\), the sources are source_item -> itemId: items for items \(related items\)/.test(
          e.message,
        ),
    );
    // The same recipe on both sides still compares.
    const same = await writeText(`${tmp.fresh('week-1')}.csv`, 'source_item,rank,itemId\r\ni1,1,i3\r\n');
    const s = await report({ sources: [related], output: out, since: same });
    assert.deepEqual([s.report.since?.changedKeys, s.report.since?.goneKeys], [1, 0]);
  });

  const chromium = findChromium();
  test('report.html in headless Chromium: charts drawn with a size, on a phone and a wide screen; no console error, no request', {
    skip: chromium ? false : 'chromium is not installed (apt-get install -y chromium; .ci/run installs it)',
  }, async () => {
    const html = base && join(tmp.dir(), 'browser.html');
    assert.ok(html && base, 'the first test wrote the report');
    const { renderReportHtml } = await import('../../../src/core/report-html.js');
    // A long title of wide letters: the top items' labels must stay inside their chart.
    const wide = structuredClone(base);
    const first = wide.concentration.top[0];
    assert.ok(first, 'a top item');
    first.title = 'WIDE MOUNTAIN BACKPACK WITH MEMORY FOAM STRAPS';
    await writeFile(html, renderReportHtml(wide, { locale: 'en-US', title: 'Test <report>' }));
    const browser = await Browser.launch(chromium as string);
    try {
      const session = await browser.page();
      const requests: string[] = [];
      const problems: string[] = [];
      browser.on((m) => {
        if (m.sessionId !== session) return;
        // The DevTools events read here, as far as this test reads them.
        const p = m.params as {
          request: { url: string };
          exceptionDetails: unknown;
          type: string;
          args: unknown;
          entry: { level: string; text: string };
        };
        if (m.method === 'Network.requestWillBeSent') requests.push(p.request.url);
        if (m.method === 'Runtime.exceptionThrown') problems.push(JSON.stringify(p.exceptionDetails));
        if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'warning'))
          problems.push(JSON.stringify(p.args));
        if (m.method === 'Log.entryAdded' && (p.entry.level === 'error' || p.entry.level === 'warning'))
          problems.push(p.entry.text);
      });
      for (const domain of ['Page', 'Runtime', 'Log', 'Network'])
        await browser.send(`${domain}.enable`, {}, session);
      const url = pathToFileURL(html).href;
      for (const [width, height, mobile] of [
        [390, 844, true],
        [1280, 900, false],
      ] as const) {
        await browser.send(
          'Emulation.setDeviceMetricsOverride',
          { width, height, deviceScaleFactor: 1, mobile },
          session,
        );
        const loaded = browser.event('Page.loadEventFired', session);
        await browser.send('Page.navigate', { url }, session);
        await loaded;
        const { result } = await browser.send<{ result: { value: string } }>(
          'Runtime.evaluate',
          {
            expression: `JSON.stringify({
                svgs: [...document.querySelectorAll('svg')].map((s) => {
                  const r = s.getBoundingClientRect();
                  const bars = [...s.querySelectorAll('rect.bar')].map((b) => b.getBoundingClientRect().width);
                  const table = s.parentElement.querySelector('table');
                  const left = Math.min(r.left, ...[...s.querySelectorAll('text')].map((t) => t.getBoundingClientRect().left));
                  return { w: r.width, h: r.height, bars: bars.length, widest: Math.max(0, ...bars), rows: table ? table.rows.length : 0, outside: r.left - left };
                }),
                overflow: document.documentElement.scrollWidth - window.innerWidth,
                title: document.title,
              })`,
            returnByValue: true,
          },
          session,
        );
        const page = JSON.parse(result.value);
        assert.equal(page.title, 'Test <report>');
        const expected: number = 1 + (base.scores?.ranks.length ?? 0) + 1;
        assert.equal(page.svgs.length, expected, 'top items, a chart per rank, per file');
        for (const svg of page.svgs) {
          assert.ok(svg.w > 100 && svg.h > 10, `an SVG of ${svg.w} x ${svg.h} at ${width} px`);
          assert.ok(svg.bars > 0 && svg.widest > 10, `bars drawn: ${JSON.stringify(svg)}`);
          assert.ok(svg.rows > svg.bars, 'a table of the numbers beside the chart');
          assert.ok(svg.w <= width, 'the chart fits the screen');
          assert.ok(
            svg.outside < 1,
            `labels inside the chart: ${svg.outside.toFixed(1)} px past its left edge`,
          );
        }
        assert.ok(page.overflow <= 0, `no sideways scrolling at ${width} px (${page.overflow} px over)`);
        const shot = await browser.send<{ data: string }>(
          'Page.captureScreenshot',
          { format: 'png', captureBeyondViewport: true },
          session,
        );
        const png = Buffer.from(shot.data, 'base64');
        assert.equal(png.subarray(1, 4).toString(), 'PNG');
        assert.ok(png.length > 10_000, `a screenshot of ${png.length} bytes`);
        await writeFile(join(process.env.PB_REPORT_SHOTS ?? tmp.dir(), `report-${width}.png`), png);
      }
      assert.deepEqual(problems, []);
      assert.deepEqual([...new Set(requests)], [url], 'nothing requested but the page');
    } finally {
      await browser.close();
    }
  });

  test('parseNumber reads a score as Number() does, on the fast path and off it', () => {
    const r = prng(3);
    const texts = [
      '0',
      '-0',
      '1',
      '0.5',
      '3.773E-4',
      '1.2E-5',
      '-0.189',
      '1e22',
      '1e23',
      '9007199254740993',
      '0.1234567890123456789',
      '1E+2',
      '2.5e-300',
      '123456789012345e-22',
      '5e-324',
    ];
    for (let i = 0; i < 3000; i++) {
      const x = (r() - 0.2) * 10 ** Math.floor(r() * 40 - 30);
      texts.push(
        x.toPrecision(1 + Math.floor(r() * 17)),
        x.toExponential(Math.floor(r() * 12)),
        String(x),
        x.toPrecision(6).toUpperCase(),
      );
    }
    for (const t of texts) {
      const b = Buffer.from(` ${t},`);
      assert.ok(Object.is(parseNumber(b, 1, b.length - 1), Number(t)), t);
    }
  });

  test('figures: Gini and the top share from counts in any order; score bins at their edges', () => {
    const e = new Exposure(2);
    for (const [id, n] of [
      ['a', 1],
      ['b', 1],
      ['c', 1],
      ['d', 97],
    ] as const)
      e.add(n, () => id);
    // Pairwise: (3 pairs of 0 + 3 x 2 x 96) / (2 x 16 x 25).
    near(e.gini(), (2 * 3 * 96) / (2 * 16 * 25), 1e-12, 'gini');
    assert.deepEqual(e.topShare(), { items: 1, share: 0.97 });
    assert.deepEqual(
      e.topItems().map((t) => t.id),
      ['d', 'a'],
    );
    near(e.gini(4), (2 * (3 * 96 + 4 * 97 + 4 * 3)) / (2 * 64 * 12.5), 1e-12, 'gini with zeros');
    const bins = new ScoreBins();
    for (const x of [0, 1e-10, SCORE_EDGES[500] as number, 0.5, 1, 2]) bins.add(x);
    const b = bins.bins();
    assert.deepEqual(b[0], { from: null, to: 1e-9, count: 2 });
    assert.deepEqual(b[b.length - 1], { from: 1, to: null, count: 2 });
    assert.equal(
      b.reduce((a, x) => a + x.count, 0),
      6,
    );
    // binOf (a logarithm's guess, the edges deciding) against a binary search: at every edge and its neighbours.
    const search = (x: number): number => {
      let lo = 0;
      let hi = SCORE_EDGES.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x < (SCORE_EDGES[mid] as number)) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    };
    const r = prng(9);
    const xs = [0, -0, -1, 1e-300, 5e-324, 1, 2, 1e300, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const f = new Float64Array(1);
    const u = new BigInt64Array(f.buffer);
    for (const edge of SCORE_EDGES)
      for (const d of [-2n, -1n, 0n, 1n, 2n]) {
        f[0] = edge;
        u[0] = (u[0] as bigint) + d;
        xs.push(f[0] as number);
      }
    for (let i = 0; i < 20000; i++) xs.push(10 ** (r() * 12 - 10) * (r() < 0.01 ? -1 : 1));
    for (const x of xs) assert.equal(binOf(x), search(x), String(x));
    // addAll's guess from the high word (bins counted a run at a time) against add's binOf, from an offset too.
    for (let i = 0; i < 20000; i++) xs.push(r() * (r() < 0.5 ? 1 : 1e-6), Number.NaN);
    for (const from of [0, 3]) {
      const one = new ScoreBins();
      const all = new ScoreBins();
      const run = Float64Array.from(xs).subarray(from);
      for (const x of run) one.add(x);
      all.addAll(run);
      assert.deepEqual([...all.counts], [...one.counts], `from ${from}`);
    }
  });
});

async function writeText(path: string, text: string): Promise<string> {
  await writeFile(path, text);
  return path;
}
