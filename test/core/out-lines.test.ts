import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashBytes } from '../../src/core/byteset.js';
import { Catalog } from '../../src/core/catalog.js';
import { digestHexInto, ListDigest } from '../../src/core/delta.js';
import { type RowKeep, WasmRows } from '../../src/core/out/export-rows.js';
import { type ConvertConfig, Converter } from '../../src/core/out-convert.js';
import {
  decodeString,
  KEY_NAMES,
  KEY_NONE,
  KEY_USER,
  KeyScan,
  KeyScanLines,
  KIND_NAMES,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  LINE_OK,
  OutLineParser,
} from '../../src/core/out-lines.js';
import { parseNumber } from '../../src/core/report.js';
import { ReportScanLines } from '../../src/core/report-scan.js';
import { type PartitionSet, partitionOf } from '../../src/io/spill.js';
import {
  DeltaKeys,
  PAYLOAD,
  payloadA,
  payloadB,
  payloadNumber,
  TYPE_OK,
  TYPE_PREV,
} from '../../src/stages/export/delta/keys.js';
import { schemaValidator } from '../helpers.js';
import {
  AWS_DOC_EXAMPLES,
  CONVERT_BASE,
  convertPieces,
  type Expected,
  FAILED,
  prng,
  REFERENCE,
  randomId,
  randomLine,
  randomScore,
  recommendationsLayout,
  serviceLine,
  wholeLinePieces,
} from '../out-fixtures.js';

// The byte-level output-line parser against JSON.parse (grammar), ajv with
// the schemas in schemas/ (shape), and the generator's expectations (values,
// scores as printed).

const SCHEMA: Record<string, string> = {
  recommendations: 'output-recommendations.schema.json',
  ranking: 'output-ranking.schema.json',
  themes: 'output-themes.schema.json',
  segment: 'output-segment.schema.json',
};

interface Parsed {
  status: number;
  kind: string;
  keyField: string;
  key: string;
  ids: string[];
  scores: (string | null)[] | undefined;
  reasons: (string[] | null)[] | undefined;
  theme: string | undefined;
  problem: string;
  truncated: boolean;
}

const parser = new OutLineParser();

/** Parses one line (placed inside a larger buffer, as in a piece) and reads everything back. */
function parse(line: string): Parsed {
  const buf = Buffer.from(`xx\n${line}\nyy`);
  const start = 3;
  const end = buf.length - 3;
  const status = parser.parse(buf, start, end);
  const span = (s: number, e: number, flags: number) =>
    flags & 1 ? decodeString(buf, s, e) : buf.toString('utf8', s, e);
  const out: Parsed = {
    status,
    kind: KIND_NAMES[parser.kind] as string,
    keyField: KEY_NAMES[parser.keyField] as string,
    key: '',
    ids: [],
    scores: undefined,
    reasons: undefined,
    theme: undefined,
    problem: parser.problem,
    truncated: parser.truncated,
  };
  if (status === LINE_OK || status === LINE_ERROR) {
    out.key = span(parser.keyStart, parser.keyEnd, parser.keyEscaped ? 1 : 0);
  }
  if (status !== LINE_OK) return out;
  const d = parser.ids.data;
  for (let i = 0; i < parser.ids.n; i++)
    out.ids.push(span(d[i * 3] as number, d[i * 3 + 1] as number, d[i * 3 + 2] as number));
  if (parser.scores) {
    const s = parser.scores.data;
    out.scores = [];
    for (let i = 0; i < parser.scores.n; i++) {
      const a = s[i * 3] as number;
      out.scores.push(a < 0 ? null : buf.toString('utf8', a, s[i * 3 + 1] as number));
    }
  }
  if (parser.reasons) {
    const r = parser.reasons.data;
    out.reasons = [];
    for (let i = 0; i < parser.reasons.n; i++) {
      const a = r[i * 3] as number;
      out.reasons.push(
        a < 0 ? null : (JSON.parse(buf.toString('utf8', a, r[i * 3 + 1] as number)) as string[]),
      );
    }
  }
  if (parser.themeStart >= 0)
    out.theme = span(parser.themeStart, parser.themeEnd, parser.themeEscaped ? 1 : 0);
  return out;
}

/** The oracle's verdict: JSON.parse, then ajv with the schema of the kind the parser detected, then the pairing rule. */
function oracle(line: string, kind: string): 'valid' | 'invalid' {
  let obj: unknown;
  try {
    // A number beyond a double's range is still a JSON number (the export copies its text);
    // ajv would reject the Infinity JSON.parse makes of it.
    obj = JSON.parse(line, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? 0 : v));
  } catch {
    return 'invalid';
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return 'invalid';
  const validate = schemaValidator(SCHEMA[kind] as string);
  if (!validate(obj)) return 'invalid';
  const o = obj as { output?: Record<string, unknown> | null; error?: unknown };
  if ((o.error !== undefined && o.error !== null) || !o.output) return 'valid';
  const out = o.output;
  const ids = (out.recommendedItems ?? out.usersList ?? out.recommendedUsers) as unknown[] | undefined;
  const n = ids?.length ?? 0;
  const scores = (
    kind === 'themes' ? out.itemsThemeRelevanceScores : kind === 'segment' ? undefined : out.scores
  ) as unknown[] | undefined;
  if (scores && scores.length > n) return 'invalid';
  if (kind === 'recommendations' && Array.isArray(out.reasons) && out.reasons.length > n) return 'invalid';
  return 'valid';
}

function verdict(p: Parsed): 'valid' | 'invalid' {
  return p.status === LINE_INVALID ? 'invalid' : 'valid';
}

function assertMatches(p: Parsed, e: Expected, line: string): void {
  assert.equal(p.status, e.error === null ? LINE_OK : LINE_ERROR, `${line}: ${p.problem}`);
  assert.equal(p.keyField, e.keyField, line);
  assert.equal(p.key, e.key, line);
  // A failed line has no output to tell, say, themes from related items by.
  if (e.error !== null) return;
  assert.equal(p.kind, e.kind, line);
  assert.deepEqual(p.ids, e.ids, line);
  assert.deepEqual(p.scores, e.scores, line);
  assert.deepEqual(p.reasons, e.reasons, line);
  assert.equal(p.theme, e.theme, line);
}

describe('output line parser', () => {
  test('the reference shapes: kinds, keys, ids and scores as printed', () => {
    const r = (line: string) => parse(line);
    let p = r(REFERENCE.userPersonalization);
    assert.deepEqual([p.status, p.kind, p.keyField, p.key], [LINE_OK, 'recommendations', 'userId', '4638']);
    assert.deepEqual(p.ids, ['1104', '3102', '608']);
    assert.deepEqual(p.scores, ['0.0023', '3.773E-4', '1.2E-5']);
    p = r(REFERENCE.similarItems);
    assert.deepEqual(
      [p.status, p.kind, p.keyField, p.key, p.scores],
      [LINE_OK, 'recommendations', 'itemId', '105', undefined],
    );
    p = r(REFERENCE.popularity);
    assert.deepEqual([p.kind, p.keyField, p.ids], ['recommendations', 'userId', ['1', '2', '3']]);
    p = r(REFERENCE.ranking);
    assert.deepEqual([p.kind, p.ids, p.scores], ['ranking', ['886', '27', '9'], ['0.61', '0.39', null]]);
    p = r(REFERENCE.v2Reasons);
    assert.deepEqual(p.reasons, [['Promoted item'], []]);
    p = r(REFERENCE.themes);
    assert.deepEqual(
      [p.kind, p.theme, p.scores],
      ['themes', 'Cozy winter nights', ['0.41', '-0.189', '0.02']],
    );
    p = r(REFERENCE.segmentItem);
    assert.deepEqual([p.kind, p.keyField, p.key, p.ids], ['segment', 'itemId', '105', ['u1', 'u2', 'u3']]);
    p = r(REFERENCE.segmentAttributes);
    assert.deepEqual(
      [p.kind, p.keyField, p.key],
      ['segment', 'itemAttributes', 'ITEMS.genres = "Comedy" AND ITEMS.audience = "teen"'],
    );
    p = r(REFERENCE.segmentDocItem);
    assert.deepEqual([p.kind, p.ids], ['segment', ['u1', 'u2']]);
    p = r(REFERENCE.segmentDocAttributes);
    assert.deepEqual(
      [p.kind, p.keyField, p.key, p.ids],
      ['segment', 'itemAttributes', 'ITEMS.genres = "Comedy"', ['u5']],
    );
    p = r(REFERENCE.error);
    assert.deepEqual([p.status, p.key], [LINE_ERROR, '77']);
    for (const line of Object.values(REFERENCE)) assert.equal(oracle(line, parse(line).kind), 'valid', line);
  });

  test('random lines of every kind, messy or not: values equal the generator, scores byte for byte', () => {
    const rand = prng(11);
    for (let i = 0; i < 600; i++) {
      const g = randomLine(rand, { errorRate: 0.1, messy: i % 2 === 1 });
      const p = parse(g.text);
      assertMatches(p, g.expected, g.text);
      assert.equal(oracle(g.text, p.kind), 'valid', g.text);
    }
  });

  test('scores keep every digit and their notation', () => {
    const line =
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a","b","c","d","e"],"scores":[0.12345678901234567890123,1E+400,-0.0,3.773E-4,1e-7]},"error":null}';
    assert.deepEqual(parse(line).scores, ['0.12345678901234567890123', '1E+400', '-0.0', '3.773E-4', '1e-7']);
  });

  test('blank lines are blank; every cut-off prefix of a line is reported as truncated', () => {
    assert.equal(parse('').status, LINE_BLANK);
    assert.equal(parse(' \t \r').status, LINE_BLANK);
    const rand = prng(5);
    for (let i = 0; i < 30; i++) {
      const { text } = randomLine(rand, { messy: true });
      for (let cut = 1; cut < text.length; cut++) {
        const prefix = text.slice(0, cut);
        if (prefix.trim() === '') continue;
        const p = parse(prefix);
        assert.equal(p.status, LINE_INVALID, prefix);
        // Inside the value the line just ends; a character can only be wrong if the prefix is not a prefix of JSON.
        assert.ok(p.truncated, `${prefix}: ${p.problem}`);
        assert.match(p.problem, /^truncated/);
      }
    }
  });

  test('shape changes: the verdict equals ajv with the schema of the detected kind', () => {
    const rand = prng(99);
    const mutations: ((o: Record<string, unknown>) => void)[] = [
      (o) => delete o.input,
      (o) => delete o.output,
      (o) => {
        o.output = null;
      },
      (o) => {
        o.error = 42;
      },
      (o) => {
        o.error = 'boom';
      },
      (o) => {
        o.input = 'u1';
      },
      (o) => {
        o.output = [];
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out)) out.theme = rand() < 0.5 ? 'T' : 3;
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out))
          out.recommendedItems = rand() < 0.5 ? 'x' : [1, 'a'];
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out))
          out.scores = rand() < 0.5 ? [0.1, 'x'] : [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out)) delete out.recommendedItems;
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out))
          out.usersList = rand() < 0.5 ? ['u'] : [null];
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out))
          out.reasons = rand() < 0.5 ? [['a'], 'b'] : [[1]];
      },
      (o) => {
        const inp = o.input as Record<string, unknown> | undefined;
        if (inp && typeof inp === 'object') inp.userId = rand() < 0.5 ? 5 : null;
      },
      (o) => {
        const inp = o.input as Record<string, unknown> | undefined;
        if (inp && typeof inp === 'object') inp.itemList = rand() < 0.5 ? ['a'] : 'a';
      },
      (o) => {
        const inp = o.input as Record<string, unknown> | undefined;
        if (inp && typeof inp === 'object') {
          delete inp.userId;
          delete inp.itemId;
        }
      },
      (o) => {
        const inp = o.input as Record<string, unknown> | undefined;
        if (inp && typeof inp === 'object') inp.filterValues = 'x';
      },
      (o) => {
        o.itemAttributes = rand() < 0.5 ? 'ITEMS.a = "b"' : 7;
      },
      (o) => {
        const out = o.output as Record<string, unknown> | null;
        if (out && typeof out === 'object' && !Array.isArray(out))
          out.itemsThemeRelevanceScores = [-0.5, 'x'];
      },
    ];
    let invalid = 0;
    let valid = 0;
    for (let i = 0; i < 1500; i++) {
      const g = randomLine(rand, { errorRate: 0.2 });
      const obj = JSON.parse(g.text) as Record<string, unknown>;
      const k = 1 + Math.floor(rand() * 2);
      for (let j = 0; j < k; j++)
        (mutations[Math.floor(rand() * mutations.length)] as (o: Record<string, unknown>) => void)(obj);
      const line = JSON.stringify(obj);
      const p = parse(line);
      const want = oracle(line, p.kind);
      assert.equal(verdict(p), want, `${line}: ${p.problem}`);
      if (want === 'invalid') {
        invalid++;
        assert.ok(p.problem.length > 0);
      } else valid++;
    }
    assert.ok(invalid > 300 && valid > 300, `${invalid} invalid, ${valid} valid`);
  });

  test('byte damage: whatever JSON.parse rejects is invalid, whatever it reads gets the oracle verdict', () => {
    const rand = prng(7);
    const junk = ['"', '\\', ',', ':', '{', '}', '[', ']', 'x', '0', '-', '.', 'e', ' ', '\u0001', 'n', 't'];
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const { text } = randomLine(rand, { messy: rand() < 0.5, maxIds: 3 });
      const at = Math.floor(rand() * text.length);
      const r = rand();
      const bad =
        r < 0.4
          ? text.slice(0, at) + text.slice(at + 1)
          : r < 0.8
            ? text.slice(0, at) + (junk[Math.floor(rand() * junk.length)] as string) + text.slice(at)
            : `${text}${rand() < 0.5 ? '{}' : ' x'}`;
      const p = parse(bad);
      let ok = true;
      try {
        JSON.parse(bad);
      } catch {
        ok = false;
      }
      if (!ok) {
        rejected++;
        assert.equal(p.status, LINE_INVALID, bad);
        assert.match(p.problem, /^(not valid JSON|truncated|expected a JSON object)/, bad);
      } else assert.equal(verdict(p), oracle(bad, p.kind), `${bad}: ${p.problem}`);
    }
    assert.ok(rejected > 1000, `${rejected} rejected`);
  });

  test('problems name the field', () => {
    assert.equal(
      parse('{"input":{"userId":"u"},"output":{"recommendedItems":["a",2]},"error":null}').problem,
      'output.recommendedItems[1]: expected a string',
    );
    assert.equal(
      parse('{"input":{"userId":"u"},"output":null,"error":null}').problem,
      'output: null while error is null',
    );
    assert.equal(parse('{"output":{"recommendedItems":[]}}').problem, 'input: missing');
    assert.equal(
      parse('{"input":{"userId":"u"},"output":{"recommendedItems":["a"],"scores":[1,2]}}').problem,
      'output.scores: 2 entries for 1 ids',
    );
    assert.match(parse('{"input":{"userId":"u"}} {"b":1}').problem, /text after the JSON object/);
    assert.equal(parse('[1]').problem, 'expected a JSON object');
    assert.match(parse('{"input":{"userId":"u\x01"}}').problem, /control character/);
  });
});

describe('error lines are data (issue 14)', () => {
  test('error not null makes an error line whatever input and output hold; the key only when it is a string', () => {
    const cases: [string, string, string][] = [
      [FAILED.numberId, '', ''],
      [FAILED.withoutKey, '', ''],
      ['{"input":{"userId":"u1"},"output":{"recommendedItems":"x"},"error":"boom"}', 'userId', 'u1'],
      ['{"input":{"userId":5,"itemId":"i9"},"error":"boom"}', 'itemId', 'i9'],
      [
        '{"input":{"itemAttributes":"ITEMS.a = \\"b\\""},"output":[],"error":"boom"}',
        'itemAttributes',
        'ITEMS.a = "b"',
      ],
      ['{"itemAttributes":"ITEMS.a = 1","error":"boom"}', 'itemAttributes', 'ITEMS.a = 1'],
      ['{"input":{"userId":"891","itemList":"27"},"output":null,"error":"boom"}', 'userId', '891'],
      ['{"input":"u1","error":"boom"}', '', ''],
      ['{"input":null,"output":7,"error":"boom"}', '', ''],
      ['{"error":"Internal error"}', '', ''],
      ['{"input":{},"error":"boom"}', '', ''],
      // Not a string, but not null either: the service still says the record failed.
      ['{"input":{"userId":"u2"},"output":null,"error":{"code":"E1"}}', 'userId', 'u2'],
      ['{"input":{"userId":"u3"},"error":42}', 'userId', 'u3'],
    ];
    for (const [line, keyField, key] of cases) {
      const p = parse(line);
      assert.equal(p.status, LINE_ERROR, `${line}: ${p.problem}`);
      assert.deepEqual([p.keyField, p.key], [keyField, key], line);
      assert.equal(oracle(line, p.kind), 'valid', line);
    }
  });

  test('malformed: not JSON, or neither input nor error', () => {
    const bad = [
      '{"output":{"recommendedItems":["1"]}}',
      '{"output":null,"error":null}',
      '{"input":{"userId":3002},"output":null,"error":"x"',
      '{"input":{"userId":3002},"output":null,"error":"x"}}',
      '["error"]',
    ];
    for (const line of bad) {
      const p = parse(line);
      assert.equal(p.status, LINE_INVALID, line);
      assert.equal(oracle(line, p.kind), 'invalid', line);
    }
    // Without an error the shape still has to be exportable.
    assert.equal(
      parse('{"input":{"userId":3002},"output":{"recommendedItems":["1"]},"error":null}').problem,
      'input.userId: expected a string',
    );
    assert.equal(
      parse('{"input":{"usrId":"2"},"output":{"recommendedItems":["1"]}}').problem,
      'input: needs userId or itemId',
    );
  });

  test('the Popularity-Count example of the AWS docs reads: an empty input has no key', () => {
    const [empty, a, b] = AWS_DOC_EXAMPLES.popularityCount.map(parse) as Parsed[];
    assert.deepEqual(
      [empty.status, empty.kind, empty.keyField, empty.key, empty.ids],
      [LINE_OK, 'recommendations', '', '', ['105', '106', '441']],
      empty.problem,
    );
    assert.deepEqual([a.status, a.keyField, a.key, a.ids], [LINE_OK, 'itemId', '105', ['105', '106', '441']]);
    assert.deepEqual([b.status, b.keyField, b.key], [LINE_OK, 'itemId', '41']);
    for (const line of AWS_DOC_EXAMPLES.popularityCount)
      assert.equal(oracle(line, 'recommendations'), 'valid');
    // Only an empty input: another key, or a kind that needs one, is still a problem.
    assert.equal(
      parse('{"input":{"filterValues":{}},"output":{"recommendedItems":["1"]}}').problem,
      'input: needs userId or itemId',
    );
    assert.equal(
      parse('{"input":{},"output":{"usersList":["u"]}}').problem,
      'input: needs itemId or itemAttributes',
    );
    assert.equal(
      parse('{"input":{},"output":{"recommendedItems":["1"],"theme":"T"}}').problem,
      'input.itemId: missing',
    );
  });

  test("the docs' scores after output: the message says what is wrong and where scores belong", () => {
    for (const line of [...AWS_DOC_EXAMPLES.userPersonalization, AWS_DOC_EXAMPLES.ranking]) {
      const p = parse(line);
      assert.equal(p.status, LINE_INVALID, line);
      assert.equal(p.truncated, false);
      const at = line.indexOf(', {"scores"') + 3;
      assert.equal(
        p.problem,
        `not valid JSON: a second object {"scores": ...} at byte ${at}, after output's closing brace; scores belong inside output, as in {"output":{"recommendedItems":[...],"scores":[...]}}`,
      );
    }
    const p = parse(AWS_DOC_EXAMPLES.sims);
    assert.equal(
      p.problem,
      `not valid JSON: a comma before the closing brace at byte ${AWS_DOC_EXAMPLES.sims.length} (JSON allows no trailing comma)`,
    );
    // Other stray objects are named by their first key.
    assert.equal(
      parse('{"input":{"userId":"u"},"error":null, {"a":1}}').problem,
      'not valid JSON: a second object {"a": ...} at byte 39, after the value of error; a key was expected there',
    );
  });
});

describe("key scan (export --since): the service's usual lines without the full parser", () => {
  const scan = new KeyScan();
  const idsOnly = new KeyScan(false);
  // The reference: every line through the full parse (the default parser takes the scan's lines from it).
  const full = new OutLineParser(false);
  const batches = [new KeyScanLines(0), new KeyScanLines(2)] as const;
  // The cut's scan (export --since's filter.ts): scores counted, not read; strict() reads them.
  const lazyBatch = new KeyScanLines(0);
  const lazySeen = { only: 0, taken: 0 };
  // PREV's scan (export --since's prev.ts): a plain score list checked by masks, any other read as numbers.
  const checkedBatch = new KeyScanLines(0);
  const tally = new ReportScanLines(1 << 20);

  /** Whether parseNumber reads the score text on its fast path (else Number()): 15 significant digits, a scale within 22. */
  function fastScore(text: string): boolean {
    const [mant = '', exp = '0'] = text.replace(/^-/, '').split(/e/i);
    const [int = '', frac = ''] = mant.split('.');
    const digits = `${int}${frac}`.replace(/^0+/, '').length;
    const scale = Number(exp) - frac.length;
    return exp.replace(/^[-+]/, '').length <= 4 && digits <= 15 && scale >= -22 && scale <= 22;
  }

  /**
   * The report's tally (WebAssembly) over the same piece: it takes a line
   * only when the JavaScript scan does and the scores it reads (ranks 1, 5,
   * 10, last) are on parseNumber's fast path; then the key, its hash, the
   * ids' count, the scores as parseNumber reads them, and the ids it did not
   * count directly (not 1 to 7 digits below 2^20 without a leading zero).
   */
  function tallyAgrees(piece: Buffer, text: string, ok: boolean): void {
    assert.equal(tally.scan(piece, 0), 3, text);
    const body = piece.length - 7;
    assert.deepEqual([tally.start(1), tally.end(1), tally.next(1)], [3, 3 + body, 5 + body], text);
    const n = scan.ids.n;
    const sc = scan.scores;
    const ranks = [0, 4, 9, n - 1].map((rank) => (sc && n > 0 && rank < sc.n ? rank : -1));
    const texts = ranks.map((rank) =>
      rank < 0 ? undefined : piece.toString('latin1', sc?.data[rank * 3], sc?.data[rank * 3 + 1]),
    );
    const fast = texts.every((t) => t === undefined || fastScore(t));
    assert.equal(tally.field(1) !== KEY_NONE, ok && fast, text);
    if (!(ok && fast)) return;
    assert.deepEqual(
      [tally.field(1), tally.keyStart(1), tally.keyEnd(1), tally.keyHash(1), tally.ids(1)],
      [scan.keyField, scan.keyStart, scan.keyEnd, hashBytes(piece, scan.keyStart, scan.keyEnd), n],
      text,
    );
    for (const [slot, rank] of ranks.entries()) {
      const want =
        rank < 0
          ? Number.NaN
          : parseNumber(piece, sc?.data[rank * 3] as number, sc?.data[rank * 3 + 1] as number);
      assert.ok(Object.is(tally.scoreAt(1, slot), want), `${text}: rank slot ${slot}`);
    }
    const others: string[] = [];
    for (let k = 0; k < tally.others(); k++)
      others.push(piece.toString('latin1', tally.otherStart(k), tally.otherEnd(k)));
    const ids = Array.from({ length: n }, (_, i) =>
      piece.toString('latin1', scan.ids.data[i * 3] as number, scan.ids.data[i * 3 + 1] as number),
    );
    assert.equal(tally.othersOf(1), others.length, text);
    assert.deepEqual(
      others,
      ids.filter((id) => !/^(0|[1-9][0-9]{0,6})$/.test(id) || Number(id) >= 1 << 20),
      text,
    );
  }

  /**
   * The batch scan (WebAssembly) over `body` as the middle line of a piece:
   * its span, its verdict (the JavaScript scan's, `ok`) and, accepted, the
   * key, its hash and the digest of the first `top` ids as DeltaKeys makes them.
   */
  function batchAgrees(body: Buffer, ok: boolean): void {
    const piece = Buffer.concat([Buffer.from('xx\n'), body, Buffer.from('\r\nyy')]);
    const text = body.toString('latin1');
    tallyAgrees(piece, text, ok);
    for (const [b, top] of [
      [batches[0], 0],
      [batches[1], 2],
    ] as const) {
      assert.equal(b.scan(piece, 0), 3, text);
      assert.deepEqual([b.start(1), b.end(1), b.next(1)], [3, 3 + body.length, 5 + body.length], text);
      assert.equal(b.field(1) !== KEY_NONE, ok, text);
      if (!ok) continue;
      assert.deepEqual(
        [b.field(1), b.keyStart(1), b.keyEnd(1), b.keyHash(1)],
        [scan.keyField, scan.keyStart, scan.keyEnd, hashBytes(piece, scan.keyStart, scan.keyEnd)],
        text,
      );
      const d = new ListDigest();
      const n = top > 0 ? Math.min(top, scan.ids.n) : scan.ids.n;
      for (let i = 0; i < n; i++)
        d.id(piece, scan.ids.data[i * 3] as number, scan.ids.data[i * 3 + 1] as number);
      const [want, got] = [Buffer.alloc(16), Buffer.alloc(16)];
      d.hexInto(want, 0);
      digestHexInto(b.digestA(1), b.digestB(1), got, 0);
      assert.equal(got.toString(), want.toString(), text);
    }
    lazyAgrees(piece, body, text, ok);
  }

  /**
   * The lazy scan takes every line the scan takes, with the same key, hash
   * and digest, and strict() says so; a line only it takes (scores not JSON
   * numbers) strict() refuses, and the full parse says it is no valid line.
   */
  function lazyAgrees(piece: Buffer, body: Buffer, text: string, ok: boolean): void {
    checkedAgrees(piece, text);
    const b = lazyBatch;
    const ref = batches[0];
    assert.equal(b.scan(piece, 0, true), 3, text);
    assert.deepEqual([b.start(1), b.end(1), b.next(1)], [3, 3 + body.length, 5 + body.length], text);
    if (ok) {
      assert.deepEqual(
        [b.field(1), b.keyStart(1), b.keyEnd(1), b.keyHash(1), b.digestA(1), b.digestB(1)],
        [ref.field(1), ref.keyStart(1), ref.keyEnd(1), ref.keyHash(1), ref.digestA(1), ref.digestB(1)],
        text,
      );
      if (b.lazy(1)) lazySeen.taken++;
      assert.equal(b.strict(1), true, text);
    } else if (b.field(1) !== KEY_NONE) {
      lazySeen.only++;
      assert.equal(b.lazy(1), true, text);
      assert.equal(b.strict(1), false, text);
      assert.notEqual(full.parse(piece, 3, 3 + body.length), LINE_OK, text);
    }
  }

  /** The checked scan's records are the full scan's, each taken with its scores read (never lazy). */
  function checkedAgrees(piece: Buffer, text: string): void {
    const b = checkedBatch;
    const ref = batches[0];
    const n = ref.scan(piece, 0);
    assert.equal(b.scan(piece, 0, 'checked'), n, text);
    const rec = (x: KeyScanLines, i: number) => [
      x.start(i),
      x.end(i),
      x.next(i),
      x.field(i),
      ...(x.field(i) === KEY_NONE
        ? []
        : [x.keyStart(i), x.keyEnd(i), x.keyHash(i), x.digestA(i), x.digestB(i)]),
      x.lazy(i),
    ];
    for (let i = 0; i < n; i++) assert.deepEqual(rec(b, i), rec(ref, i), text);
  }

  /** Scans and parses `line` inside a larger buffer; when the scan accepts, the parser must agree span for span. */
  function both(line: string | Buffer, after = '\nyy'): boolean {
    const body = Buffer.isBuffer(line) ? line : Buffer.from(line);
    const buf = Buffer.concat([Buffer.from('xx\n'), body, Buffer.from(after)]);
    const start = 3;
    const end = 3 + body.length;
    // The batch scan first: its checks read the JavaScript scan's fields.
    batchAgrees(
      body,
      scan.scan(Buffer.concat([Buffer.from('xx\n'), body, Buffer.from('\r\nyy')]), 3, 3 + body.length),
    );
    const ok = scan.scan(buf, start, end);
    const quick = parser.parse(buf, start, end);
    const quickFields = [parser.problem, parser.kind, parser.keyField, parser.keyStart, parser.keyEnd];
    const quickSpans = [parser.ids, parser.scores, parser.reasons].map(
      (s) => s && [...s.data.subarray(0, s.n * 3)],
    );
    const quickTheme = [parser.themeStart, parser.themeEnd];
    const status = full.parse(buf, start, end);
    // The default parser (the scan first, then the full parse) reads every line as the full parse does.
    assert.equal(quick, status);
    assert.equal(quickFields[0], full.problem);
    if (status === LINE_OK) {
      assert.deepEqual(quickFields, [full.problem, full.kind, full.keyField, full.keyStart, full.keyEnd]);
      assert.deepEqual(
        quickSpans,
        [full.ids, full.scores, full.reasons].map((s) => s && [...s.data.subarray(0, s.n * 3)]),
      );
      assert.deepEqual(quickTheme, [full.themeStart, full.themeEnd]);
    }
    // Without the scores kept: the same verdict and ids, no scores.
    assert.equal(idsOnly.scan(buf, start, end), ok);
    if (!ok) return false;
    assert.deepEqual(
      [
        idsOnly.keyStart,
        idsOnly.keyEnd,
        idsOnly.scores,
        [...idsOnly.ids.data.subarray(0, idsOnly.ids.n * 3)],
      ],
      [scan.keyStart, scan.keyEnd, undefined, [...scan.ids.data.subarray(0, scan.ids.n * 3)]],
    );
    const text = body.toString('latin1');
    assert.equal(status, LINE_OK, `${text}: accepted, but the parser says ${full.problem}`);
    assert.deepEqual(
      [scan.kind, scan.keyField, scan.keyStart, scan.keyEnd, scan.keyEscaped],
      [full.kind, full.keyField, full.keyStart, full.keyEnd, full.keyEscaped],
      text,
    );
    const spans = (s: { data: Int32Array; n: number } | undefined) => s && [...s.data.subarray(0, s.n * 3)];
    assert.deepEqual(spans(scan.ids), spans(full.ids), text);
    assert.deepEqual(spans(scan.scores), spans(full.scores), text);
    return true;
  }

  test('accepts the shapes the service writes, with the spans the parser finds', () => {
    const lines = [
      REFERENCE.userPersonalization,
      REFERENCE.popularity,
      serviceLine('105', ['339', '2318'], undefined, 'itemId'),
      serviceLine('u', [], []),
      serviceLine('', ['a'], ['1']),
      serviceLine('Zoë,日本', ['é\u{1F600}', 'a,b', ',', '=1+2'], ['1E+400', '-0.0', '3.773E-4', '1e-7']),
      serviceLine('u', ['a', 'b', 'c'], ['0', '-12.5e-3']),
      serviceLine(
        'many',
        Array.from({ length: 500 }, (_, i) => `i${i}`),
        Array.from({ length: 500 }, (_, i) => `${i}.5e-${i % 9}`),
      ),
    ];
    for (const line of lines) assert.equal(both(line), true, line);
    assert.equal(scan.ids.n, 500);
    // A line cut by `end` inside a buffer that goes on with more of the same shape.
    const line = serviceLine('u', ['a'], ['1']);
    assert.equal(both(line, '"more":1}'), true);
    assert.equal(both(line.slice(0, -1), '}'), false);
  });

  test('refuses every other line, valid or not: the parser then reads it', () => {
    const refused = [
      serviceLine('u\\"1', ['a']), // an escape in the key
      serviceLine('u', ['a\\u00e9']), // an escape in an id
      serviceLine('u', ['a\tb']), // a raw control character
      serviceLine('u', ['a'], ['01']),
      serviceLine('u', ['a'], ['1.']),
      serviceLine('u', ['a'], ['.5']),
      serviceLine('u', ['a'], ['1e']),
      serviceLine('u', ['a'], ['1e+']),
      serviceLine('u', ['a'], ['+1']),
      serviceLine('u', ['a'], ['-']),
      serviceLine('u', ['a'], ['NaN']),
      serviceLine('u', ['a'], ['null']),
      serviceLine('u', ['a'], ['1', '2']), // more scores than ids
      serviceLine('u', ['a'], ['1 ']),
      REFERENCE.error,
      REFERENCE.ranking,
      REFERENCE.v2Reasons,
      REFERENCE.themes,
      REFERENCE.segmentItem,
      REFERENCE.similarItems, // no error field
      FAILED.withoutKey,
      '{"input":{"userId":"u","filterValues":{}},"output":{"recommendedItems":["a"]},"error":null}',
      '{"input": {"userId":"u"},"output":{"recommendedItems":["a"]},"error":null}',
      '{"output":{"recommendedItems":["a"]},"input":{"userId":"u"},"error":null}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a"]},"error":null} ',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a"]},"error":null,"x":1}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a"],"scores":[1],"x":1},"error":null}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a"]},"error":"x"}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a",]},"error":null}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":[1]},"error":null}',
      '{"input":{"userId":"u"},"output":{"recommendedItems":["a"]},"error":null}}',
    ];
    const only = lazySeen.only;
    for (const line of refused) assert.equal(both(line), false, line);
    // The bad numbers (01, 1., .5, 1e, 1e+, +1, -) are taken by the lazy scan only; a score too many it counts.
    assert.equal(lazySeen.only - only, 7);
    // Scores of any other kind are refused whole, never half read.
    assert.equal(both(serviceLine('u', ['a'], ['1e5x'])), false);
  });

  test('the batch scan over whole pieces: windows, CRLF, blank lines, a last line without LF, a line past a window', () => {
    const rand = prng(29);
    const parts: string[] = [];
    // Past a window's 16,384 records, and a line longer than its 2 MiB.
    for (let i = 0; i < 17000; i++) {
      const r = rand();
      const ids = Array.from({ length: Math.floor(rand() * 4) }, () => randomId(rand, false));
      if (r < 0.1) parts.push('');
      else if (r < 0.15) parts.push(REFERENCE.error);
      else
        parts.push(
          serviceLine(
            `u${i}`,
            ids,
            ids.map(() => randomScore(rand)),
          ) + (r < 0.3 ? '\r' : ''),
        );
      if (i === 16500) parts.push(serviceLine('long', ['x'.repeat(2.1 * 1024 * 1024)]));
    }
    const piece = Buffer.from(`${parts.join('\n')}\n${serviceLine('last', ['a'], ['1'])}`);
    const b = batches[0];
    const seen: [number, number, boolean][] = [];
    let windows = 0;
    for (let p = 0; p < piece.length; ) {
      const n = b.scan(piece, p);
      windows++;
      if (n === 0) {
        const nl = piece.indexOf(10, p);
        seen.push([p, nl, false]);
        p = nl + 1;
        continue;
      }
      for (let i = 0; i < n; i++) seen.push([b.start(i), b.end(i), b.field(i) !== KEY_NONE]);
      p = b.next(n - 1);
    }
    const want: [number, number, boolean][] = [];
    for (let p = 0; p <= piece.length; ) {
      let nl = piece.indexOf(10, p);
      if (nl === -1) nl = piece.length;
      const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
      // The line past a window comes back alone and unscanned (n = 0 above).
      want.push([p, e, e - p < 2 * 1024 * 1024 && scan.scan(piece, p, e)]);
      p = nl + 1;
    }
    assert.equal(seen.length, 17002);
    assert.deepEqual(seen, want);
    assert.ok(windows >= 4, `${windows} windows`);
    assert.ok(seen.filter(([, , ok]) => ok).length > 14000);
    // A window that starts with a blank line: a record of it, no read before the memory's start.
    for (const lines of [batches[0], tally]) {
      const blank = Buffer.from(`\n\r\n${serviceLine('u', ['1'], ['0.5'])}\n`);
      assert.equal(lines.scan(blank, 0), 3);
      assert.deepEqual([lines.start(0), lines.end(0), lines.next(0), lines.field(0)], [0, 0, 1, KEY_NONE]);
      assert.deepEqual([lines.start(1), lines.end(1), lines.next(1), lines.field(1)], [1, 1, 3, KEY_NONE]);
      assert.equal(lines.field(2), KEY_USER);
    }
  });

  test("group(): the batch scan's partition lines, byte for byte DeltaKeys.put's, by partition in line order", () => {
    const rand = prng(31);
    const lines: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const r = rand();
      const ids = Array.from({ length: Math.floor(rand() * 6) }, () => randomId(rand, false));
      if (r < 0.05) lines.push('');
      else if (r < 0.1) lines.push(REFERENCE.error);
      else
        lines.push(
          serviceLine(
            `k${randomId(rand, false)}${i}`,
            ids,
            ids.map(() => randomScore(rand)),
          ),
        );
    }
    const piece = Buffer.from(`${lines.join('\n')}\n`);
    /** Partition lines as a PartitionSet would get them, one list a partition (the writers' two ways). */
    const sink = () => {
      const got: string[][] = Array.from({ length: 256 }, () => []);
      const text = (b: Uint8Array, s: number, e: number) => Buffer.from(b.subarray(s, e)).toString('hex');
      const parts = {
        write(key: Uint8Array, ks: number, ke: number, h: number, p: Uint8Array, ps: number, pe: number) {
          got[partitionOf(h, 256)]?.push(`${text(key, ks, ke)}09${text(p, ps, pe)}0a`);
        },
        writeGrouped(src: Uint8Array, ends: Int32Array, recs: Int32Array, payload: number) {
          let from = 0;
          for (let i = 0; i < 256; i++) {
            let n = 0;
            for (let p = from; p < (ends[i] as number); n++) {
              const nl = src.indexOf(10, p);
              assert.equal(nl - src.indexOf(9, p) - 1, payload);
              got[i]?.push(text(src, p, nl + 1));
              p = nl + 1;
            }
            assert.equal(n, recs[i]);
            from = ends[i] as number;
          }
        },
      } as unknown as PartitionSet;
      return { got, parts };
    };
    for (const [b, top] of [
      [batches[0], 0],
      [batches[1], 2],
    ] as const) {
      const wasm = sink();
      const js = sink();
      const wk = new DeltaKeys(wasm.parts, false);
      const jk = new DeltaKeys(js.parts, false);
      // Numbers past 32 bits, where the 7-bit groups' high ones are used.
      const n0 = 2 ** 41 + 12345;
      const n = b.scan(piece, 0);
      assert.equal(n, 1500);
      let run = 0;
      for (let i = 0; i < n; i++) {
        if (b.field(i) === KEY_NONE) {
          wk.putRun(b, run, i, TYPE_OK, n0 + run);
          run = i + 1;
          continue;
        }
        assert.ok(scan.scan(piece, b.start(i), b.end(i)));
        jk.outLine(scan, piece, top);
        jk.put(piece, scan.keyStart, scan.keyEnd, TYPE_OK, n0 + i);
        if (i % 5 !== 0) continue;
        const p = Buffer.alloc(PAYLOAD);
        const d = new ListDigest();
        const k = top > 0 ? Math.min(top, scan.ids.n) : scan.ids.n;
        for (let j = 0; j < k; j++)
          d.id(piece, scan.ids.data[j * 3] as number, scan.ids.data[j * 3 + 1] as number);
        // The payload reads back as what went in.
        const one = sink();
        new DeltaKeys(one.parts, false).putRun(b, i, i + 1, TYPE_PREV, n0 + i);
        const line = Buffer.from(one.got.flat()[0] as string, 'hex');
        line.copy(p, 0, line.indexOf(9) + 1, line.length - 1);
        assert.deepEqual(
          [p[0], payloadA(p, 0), payloadB(p, 0), payloadNumber(p, 0)],
          [TYPE_PREV, d.wordA(), d.wordB(), n0 + i],
        );
      }
      wk.putRun(b, run, n, TYPE_OK, n0 + run);
      assert.ok(wasm.got.flat().length > 1250);
      assert.deepEqual(wasm.got, js.got, `top ${top}`);
    }
  });

  test('score lists of number bytes: the checked scan takes a line exactly when the full scan does', () => {
    const rand = prng(31);
    const alphabet = '0000011123456789.....,,,,,,-+eE/';
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const ids = Array.from({ length: 1 + Math.floor(rand() * 30) }, (_, k) => `i${k}`);
      let run = '';
      if (rand() < 0.5) {
        // Mostly valid lists, of the shapes real scores take, with one byte changed now and then.
        const scores = ids.slice(0, Math.floor(rand() * (ids.length + 2))).map(() => randomScore(rand));
        run = scores.join(',');
        if (rand() < 0.5 && run.length > 0) {
          const at = Math.floor(rand() * run.length);
          run = run.slice(0, at) + alphabet[Math.floor(rand() * alphabet.length)] + run.slice(at + 1);
        }
      } else {
        const len = Math.floor(rand() * 60);
        for (let k = 0; k < len; k++) run += alphabet[Math.floor(rand() * alphabet.length)];
      }
      const body = `{"input":{"userId":"u${i}"},"output":{"recommendedItems":${JSON.stringify(ids)},"scores":[${run}]},"error":null}`;
      const piece = Buffer.from(`xx\n${body}\r\n${body}\nyy`);
      checkedAgrees(piece, body);
      if (batches[0].field(1) !== KEY_NONE) taken++;
    }
    assert.ok(taken > 1000 && taken < 2900, `${taken} taken`);
    // Each rule at every place in the checker's chunks of 16 bytes, across their edges too.
    const ids = JSON.stringify(Array.from({ length: 30 }, (_, k) => `i${k}`));
    const tails = [
      ...[',01', ',1.2.3', '.,1', ',.5', ',,1', ',1.', '.5.5', ',0.5', ',0,1', ',10.25,0', '', ',00'],
      ...[
        ',8.089E-4',
        ',1e5',
        ',1E+05',
        ',-0.5e-3',
        ',0e0',
        ',-0',
        ',1e',
        ',1e+',
        ',1e5e5',
        ',1e5.5',
        ',1.e5',
      ],
      ...[',+1', ',-', ',--1', ',-01', ',1-2', 'e5', ',e5', ',1E5,-', ',-.5', ',1e-+5', ',1/2'],
    ];
    const verdicts = new Set<boolean>();
    for (let shift = 0; shift < 36; shift++)
      for (const tail of tails) {
        const run = `${'5'.repeat(shift)}${tail}`;
        const body = `{"input":{"userId":"u"},"output":{"recommendedItems":${ids},"scores":[${run}]},"error":null}`;
        checkedAgrees(Buffer.from(`xx\n${body}\nyy`), body);
        verdicts.add(batches[0].field(1) !== KEY_NONE);
      }
    assert.equal(verdicts.size, 2);
  });

  test('score lists of number bytes: every short tail after long digit runs, across the checker blocks of 32', () => {
    // A run of digits after a dot or an exponent is carried from block to block: each tail of up to
    // three bytes, at every place around the first two blocks' edges, after an integer, a fraction
    // and an exponent that long.
    const ids = JSON.stringify(Array.from({ length: 40 }, (_, k) => `i${k}`));
    const alphabet = ['0', '5', '.', 'e', '+', '-', ','];
    const tails = [''];
    for (let i = 0; i < tails.length && tails.length < 400; i++)
      if ((tails[i] as string).length < 3) for (const c of alphabet) tails.push(tails[i] + c);
    const verdicts = [0, 0];
    for (const head of ['', '0.', '1e', '-2E+', '7,0.1,']) {
      const lines: string[] = [];
      for (let k = 26; k <= 70; k++)
        for (const tail of tails) lines.push(`${head}${'5'.repeat(k - head.length)}${tail}`);
      for (let at = 0; at < lines.length; at += 2000) {
        const bodies = lines
          .slice(at, at + 2000)
          .map(
            (run) =>
              `{"input":{"userId":"u"},"output":{"recommendedItems":${ids},"scores":[${run}]},"error":null}`,
          );
        const piece = Buffer.from(`${bodies.join('\n')}\n`);
        // One window holds them all: the verdicts below are of these lines.
        assert.equal(batches[0].scan(piece, 0), bodies.length);
        checkedAgrees(piece, head);
        for (let i = 0; i < bodies.length; i++) verdicts[batches[0].field(i) === KEY_NONE ? 0 : 1]++;
      }
    }
    assert.ok((verdicts[0] as number) > 1000 && (verdicts[1] as number) > 1000, String(verdicts));
  });

  test('every prefix and thousands of one-byte changes of service lines: accepted only as the parser reads them', () => {
    const rand = prng(23);
    const bytes = [...'"\\,:[]{}-+.eE0159 \tu'].map((c) => c.charCodeAt(0)).concat([0, 0x80, 0xc3, 0xff]);
    let accepted = 0;
    let tried = 0;
    for (let i = 0; i < 40; i++) {
      const ids = Array.from({ length: Math.floor(rand() * 5) }, () => randomId(rand, false));
      const scores =
        rand() < 0.3
          ? undefined
          : ids.slice(0, Math.floor(rand() * (ids.length + 1))).map(() => randomScore(rand));
      const line = Buffer.from(
        serviceLine(randomId(rand, false), ids, scores, rand() < 0.5 ? 'userId' : 'itemId'),
      );
      assert.equal(both(line), true, line.toString());
      for (let cut = 0; cut < line.length; cut++) assert.equal(both(line.subarray(0, cut)), false);
      for (let k = 0; k < 80; k++) {
        const m = Buffer.from(line);
        m[Math.floor(rand() * m.length)] = bytes[Math.floor(rand() * bytes.length)] as number;
        if (both(m)) accepted++;
        tried++;
      }
    }
    // Some changes keep the shape (an id's letter, a digit), most do not.
    assert.ok(accepted > tried / 20 && accepted < tried, `${accepted} of ${tried}`);
    // Some keep the lazy scan's only (a score's digit to `+`, `.` or `e`).
    assert.ok(lazySeen.only > 20 && lazySeen.taken > 20, JSON.stringify(lazySeen));
  });
});

describe('export rows in WebAssembly (export-rows.wat): the JavaScript converter byte for byte', () => {
  // Formula starts (ASCII and full-width; ＄ and ｘ are full-width but no formula), commas,
  // multi-byte and plain ids, none with escapes.
  const IDS = [
    '＄1',
    'ｘ',
    '=1+2',
    '+x',
    '-3',
    // A sign and a number is not guarded (-1,5 quoted for its comma); the others are.
    '-1,5',
    '-8234567890123456789',
    '+4915112345',
    '+1.5',
    '+49 30',
    '+',
    '-2+3',
    '-.',
    '-',
    '@a',
    '＝x',
    '＋',
    '－1',
    '＠',
    '\u00efa',
    'a,b',
    ',',
    'Zoë',
    '日本',
    '😀',
    'i7',
  ];
  const BAD_SCORES = [
    'null',
    '1.',
    '.5',
    '01',
    '-01',
    '1e',
    '1e+',
    '+1',
    '-',
    '1.e5',
    '-.5',
    '0x1',
    '1E5.',
    'NaN',
    '"1"',
    '1 ',
  ];
  const pick = (rand: () => number) =>
    rand() < 0.5 ? (IDS[Math.floor(rand() * IDS.length)] as string) : randomId(rand, false);

  /** Lines of every sort: the service's (odd ids, keys, scores), the generator's (messy, escapes, errors), damaged, blank. */
  function randomPiece(rand: () => number, lines: number): string {
    const out: string[] = [];
    for (let i = 0; i < lines; i++) {
      const r = rand();
      let line: string;
      if (r < 0.55) {
        const ids = Array.from({ length: Math.floor(rand() * (rand() < 0.05 ? 130 : 6)) }, () => pick(rand));
        // Sometimes fewer scores than ids, or more; now and then null or one the grammar refuses.
        const scored = rand() < 0.8 ? ids.length : Math.floor(rand() * (ids.length + 3));
        const scores =
          rand() < 0.2
            ? undefined
            : Array.from({ length: scored }, (_, k) =>
                rand() < 0.03
                  ? (BAD_SCORES[Math.floor(rand() * BAD_SCORES.length)] as string)
                  : k % 7 === 3
                    ? `-${randomScore(rand).replace('-', '')}`
                    : randomScore(rand),
              );
        line = serviceLine(pick(rand), ids, scores, rand() < 0.05 ? 'itemId' : 'userId');
        if (rand() < 0.15) {
          const b = Buffer.from(line);
          b[Math.floor(rand() * b.length)] = '"\\,:[]{}-+.eE0 \tx'.charCodeAt(Math.floor(rand() * 18));
          line = b.toString('latin1');
        }
      } else if (r < 0.9)
        line = randomLine(rand, {
          kind: 'recommendations',
          keyField: 'userId',
          messy: rand() < 0.5,
          errorRate: 0.1,
        }).text;
      else if (r < 0.95) line = rand() < 0.5 ? '' : '  ';
      else line = serviceLine('u', ['a', 'b']).slice(0, Math.floor(rand() * 60));
      out.push(line + (rand() < 0.3 ? '\r\n' : '\n'));
    }
    // A last line without its line break, sometimes with its CR.
    if (rand() < 0.5) out.push(serviceLine(pick(rand), [pick(rand)], ['1e5']) + (rand() < 0.5 ? '\r' : ''));
    return out.join('');
  }

  function convertAll(cfg: ConvertConfig, pieces: Buffer[], wasm: boolean) {
    return convertPieces(new Converter(cfg, undefined, undefined, undefined, wasm), pieces);
  }

  const base = CONVERT_BASE;

  test('random lines and chunkings, every format and option: the same rows, counts, error and invalid lines', () => {
    const rand = prng(41);
    // Each format's settings: score column or not, CRLF or LF, the formula guard, --top, a short
    // --max-line-length, csv-wide's width (narrower than lines, optimistic: the export's overflow).
    const settings: Partial<ConvertConfig & { score: boolean }>[] = [
      { format: 'csv-long' },
      { format: 'csv-long', score: false, crlf: false, escapeFormulas: false, top: 2 },
      { format: 'csv-long', maxLineLength: 300, top: 3 },
      { format: 'csv-wide', width: 130 },
      { format: 'csv-wide', width: 3, optimistic: true },
      { format: 'csv-wide', width: 3, optimistic: true, score: false },
      { format: 'csv-wide', width: 130, score: false, crlf: false, escapeFormulas: false, top: 1 },
      { format: 'jsonl' },
      { format: 'jsonl', score: false, top: 2 },
      { format: 'jsonl', maxLineLength: 300 },
    ];
    for (let round = 0; round < 3; round++) {
      const text = Buffer.from(randomPiece(rand, 100));
      const pieces = wholeLinePieces(rand, text);
      for (const { score = true, ...set } of settings) {
        const cfg: ConvertConfig = { ...base, ...set, layout: recommendationsLayout(score) };
        const js = convertAll(cfg, pieces, false);
        assert.deepEqual(convertAll(cfg, pieces, true), js, JSON.stringify(cfg));
      }
    }
  });

  test("windows (1 MiB) and OUT (4 MiB): a line ending at a window's end, a line past a window, rows past OUT", () => {
    const SCORES = ['0.0511705', '-8.089E-4', '0', '12', '1e-7', '-0.5E+12'];
    const line = (key: string, n: number, i: number) => {
      const ids = Array.from({ length: n }, (_, k) => `${k}x${i % 97}`);
      return serviceLine(
        key,
        ids,
        ids.map((_, k) => SCORES[(i + k) % SCORES.length] as string),
      );
    };
    const MiB = 1024 * 1024;
    const parts: string[] = [];
    let at = 0;
    const push = (s: string) => {
      parts.push(s);
      at += Buffer.byteLength(s) + 1;
    };
    // Rows of a 3,000-byte key (a formula: quoted with its apostrophe): 19 lines write 5.7 MB.
    const longKey = `=${'k'.repeat(3000)}`;
    for (let i = 0; at < MiB - 1000; i++) {
      const long = i > 1000 && i < 1020;
      push(line(long ? longKey : `u${i}`, long ? 100 : 25, i));
    }
    // A line whose last byte is the first window's last: its LF the next window's first byte.
    push(line('f'.repeat(MiB - at - Buffer.byteLength(line('', 25, 0))), 25, 0));
    assert.equal(at, MiB + 1);
    // The same first window, its last line going on past it (text after the JSON: invalid).
    const cut = Buffer.from(`${parts.join('\n')}x\n${line('after', 2, 0)}\n`);
    for (let i = 0; i < 300; i++) push(line(`v${i}`, 25, i));
    push(
      serviceLine(
        'wide',
        Array.from({ length: 120_000 }, (_, k) => `i${k}`),
      ),
    );
    push(line('last', 3, 0));
    const piece = Buffer.from(`${parts.join('\n')}\n`);
    for (const format of ['csv-long', 'jsonl'] as const) {
      const cfg = { ...base, format, layout: recommendationsLayout(true) };
      assert.deepEqual(convertAll(cfg, [piece, cut], true), convertAll(cfg, [piece, cut], false), format);
    }
  });

  // Catalog values: quoting (`,`, `"`, line breaks), formula starts, multi-byte text (cut inside a
  // character at --max-cell-bytes 12), empty ones.
  const VALUES = [
    '',
    'x',
    'a,b',
    'say "hi"',
    'line\nbreak',
    '=1+2',
    '-3',
    '+x',
    '@me',
    '\tt',
    'Zoë',
    '日本語のテキストです',
    '😀😀😀😀',
  ];

  /** A catalog of some of IDS and random ids (some repeated: the first row wins), `long`: one value of that many bytes. */
  function randomCatalog(rand: () => number, cfg: ConvertConfig, long = 0): Catalog {
    const cat = new Catalog(
      ['title', 'brand'],
      cfg.format === 'jsonl',
      cfg.escapeFormulas,
      1e9,
      cfg.maxCellBytes,
    );
    const v = () => (rand() < 0.7 ? (VALUES[Math.floor(rand() * VALUES.length)] as string) : randomId(rand));
    for (let i = 0; i < 60; i++) if (rand() < 0.6) cat.add(pick(rand), [v(), v()]);
    if (long > 0) cat.add(IDS[0] as string, ['L'.repeat(long), v()]);
    return cat;
  }

  /** A keep decision both paths agree on: by the line's length with its line break. */
  function lengthKeep(): RowKeep {
    return {
      taken: (_mem, s, next) => (next - s) % 3 !== 0,
      line: (_piece, s, _e, next) => (next - s) % 3 !== 0,
      done: () => {},
    };
  }

  /** The catalog's (and users') lookups the module makes (the JavaScript writers make none): what it wrote. */
  function countAsked(t: Catalog): { n: number } {
    const asked = { n: 0 };
    const lookup = t.lookupHashed.bind(t);
    t.lookupHashed = (buf, s, e, h) => {
      asked.n++;
      return lookup(buf, s, e, h);
    };
    return asked;
  }

  test('a catalog join (the `items` import): the same rows, counts and lines, with users too, on random catalogs and chunkings', () => {
    const rand = prng(43);
    const settings: Partial<ConvertConfig & { score: boolean; users: boolean; byItem: boolean }>[] = [
      { format: 'csv-long' },
      { format: 'csv-long', crlf: false, top: 2, users: true, usersRequired: true },
      { format: 'csv-long', escapeFormulas: false, score: false, maxCellBytes: 12, users: true },
      { format: 'csv-long', byItem: true, top: 3 },
      { format: 'csv-wide', width: 130, maxCellBytes: 12 },
      { format: 'csv-wide', width: 3, optimistic: true, users: true },
      { format: 'jsonl' },
      { format: 'jsonl', score: false, users: true, top: 3 },
    ];
    for (let round = 0; round < 4; round++) {
      const text = randomPiece(rand, 120);
      const byUser = wholeLinePieces(rand, Buffer.from(text));
      // A related-items output: the same lines keyed by item id.
      const byItemId = wholeLinePieces(
        rand,
        Buffer.from(text.replaceAll('{"input":{"userId":', '{"input":{"itemId":')),
      );
      for (const { score = true, users: withUsers = false, byItem = false, ...set } of settings) {
        const pieces = byItem ? byItemId : byUser;
        const layout = { ...recommendationsLayout(score), ...(byItem && { keyField: 'itemId' as const }) };
        const cfg: ConvertConfig = {
          ...base,
          ...set,
          layout,
          catalogColumns: ['title', 'brand'],
          userColumns: withUsers ? ['email'] : [],
        };
        // Round 3: one item's cells longer than a 1 MiB line of them may hold in 130 rows (those lines go to JavaScript).
        const cat = randomCatalog(rand, cfg, round === 3 ? 9000 : 0);
        let users: Catalog | undefined;
        if (withUsers) {
          users = new Catalog(['email'], cfg.format === 'jsonl', cfg.escapeFormulas, 1e9, cfg.maxCellBytes);
          for (let i = 0; i < 30; i++) if (rand() < 0.6) users.add(pick(rand), [pick(rand)]);
        }
        const asked = countAsked(cat);
        // --since's keep decision (RowKeep) on some rounds: a line dropped is neither joined nor counted.
        const keep = round % 2 === 1 ? lengthKeep() : undefined;
        const run = (wasm: boolean) => {
          const c = new Converter(cfg, cat, users, undefined, wasm);
          return pieces.map((piece) => {
            const { out, errors, ...rest } = c.convert(piece, keep);
            const text = out.toString('latin1');
            c.recycle(out.buffer as ArrayBuffer);
            return { ...rest, out: text, errors: errors.toString('latin1') };
          });
        };
        const js = run(false);
        assert.equal(asked.n, 0);
        // The module's cache of items as sized for the catalog, and of one set: entries evicted, a line's ids sharing it.
        for (const bytes of [1 << 25, 256]) {
          WasmRows.maxCacheBytes = bytes;
          try {
            assert.deepEqual(run(true), js, JSON.stringify({ cfg, round, bytes }));
          } finally {
            WasmRows.maxCacheBytes = 1 << 25;
          }
        }
        assert.ok(asked.n > 0, 'the module wrote rows');
      }
    }
  });

  test('a catalog join in WebAssembly writes rows; a catalog too wide for its memory takes the JavaScript path', () => {
    const cfg: ConvertConfig = {
      ...base,
      crlf: false,
      layout: recommendationsLayout(true),
      catalogColumns: ['t'],
    };
    const cat = new Catalog(['t'], false, true, 1e9, 0);
    cat.add('i1', ['a,b']);
    cat.add('i2', ['=x']);
    const asked = countAsked(cat);
    const piece = Buffer.from(`${serviceLine('u1', ['i1', 'i9', 'i2'], ['1', '2', '3'])}\n`);
    const [r] = convertPieces(new Converter(cfg, cat), [piece]);
    assert.equal(r?.out, 'u1,1,i1,1,"a,b"\nu1,2,i9,2,\nu1,3,i2,3,\'=x\n');
    assert.equal(r?.catalogMissing, 1);
    assert.equal(asked.n, 3);
    const wide = new Catalog(['t'], false, true, 1e9, 0);
    wide.add('i1', ['w'.repeat(1 << 20)]);
    const wideAsked = countAsked(wide);
    const [w] = convertPieces(new Converter(cfg, wide), [piece]);
    assert.equal(w?.out, `u1,1,i1,1,${'w'.repeat(1 << 20)}\nu1,2,i9,2,\nu1,3,i2,3,\n`);
    assert.equal(wideAsked.n, 0);
    // 120 rows of a 9,000-byte cell: more than the module's 1 MiB for a line's cells (JavaScript writes it).
    const long = new Catalog(['t'], false, true, 1e9, 0);
    long.add('i1', ['l'.repeat(9000)]);
    const longAsked = countAsked(long);
    const both = Buffer.concat([piece, Buffer.from(`${serviceLine('u2', Array(120).fill('i1'))}\n`), piece]);
    const js = convertPieces(new Converter(cfg, long, undefined, undefined, false), [both]);
    assert.deepEqual(convertPieces(new Converter(cfg, long), [both]), js);
    // The first line's three ids once (cached, i9 as missing), i1 each time: its entry fits no slot.
    assert.equal(longAsked.n, 4);
  });
});
