/**
 * Batch-output (.out) lines for the export and collect tests: the real
 * shapes from the reference file, and a seeded generator of random lines of
 * every kind with awkward ids (escapes, unicode, commas, quotes, formula
 * characters) and scores written as raw JSON number text (E-notation,
 * negatives, more digits than a double holds), so tests can check that
 * scores come out exactly as printed.
 */
import type { ConvertConfig, Converter, Layout } from '../src/core/out-convert.js';
import { prng } from '../src/sample.js';

export { prng };

/** Lines as the service writes them (personalize-batch.md §2 and §3). */
export const REFERENCE = {
  // USER_PERSONALIZATION, E-notation score [D2][N1].
  userPersonalization:
    '{"input":{"userId":"4638"},"output":{"recommendedItems":["1104","3102","608"],"scores":[0.0023,3.773E-4,1.2E-5]},"error":null}',
  // Popularity-Count / RELATED_ITEMS: no scores, error missing [D2].
  similarItems: '{"input":{"itemId":"105"},"output":{"recommendedItems":["339","2318","1219"]}}',
  popularity: '{"input":{"userId":"12"},"output":{"recommendedItems":["1","2","3"]},"error":null}',
  // PERSONALIZED_RANKING: the input itemList re-ordered, with scores; an untrained item with no score.
  ranking:
    '{"input":{"userId":"891","itemList":["27","886","9"]},"output":{"recommendedItems":["886","27","9"],"scores":[0.61,0.39,null]},"error":null}',
  // User-Personalization-v2 with reasons (layout UNCONFIRMED: a list per item).
  v2Reasons:
    '{"input":{"userId":"5"},"output":{"recommendedItems":["a","b"],"scores":[0.7,0.3],"reasons":[["Promoted item"],[]]},"error":null}',
  // THEME_GENERATION: theme + relevance scores, which may be negative [D3].
  themes:
    '{"input":{"itemId":"105"},"output":{"recommendedItems":["1","2","3"],"theme":"Cozy winter nights","itemsThemeRelevanceScores":[0.41,-0.189,0.02]},"error":null}',
  // Segments, real-run layout [N2][N3].
  segmentItem: '{"input":{"itemId":"105"},"output":{"usersList":["u1","u2","u3"]},"error":null}',
  segmentAttributes:
    '{"input":{"itemAttributes":"ITEMS.genres = \\"Comedy\\" AND ITEMS.audience = \\"teen\\""},"output":{"usersList":["u9","u8"]},"error":null}',
  // Segments, documented layout [D10]: recommendedUsers, and itemAttributes at the top level.
  segmentDocItem: '{"input":{"itemId":"105"},"output":{"recommendedUsers":["u1","u2"]}}',
  segmentDocAttributes:
    '{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","output":{"recommendedUsers":["u5"]}}',
  // A failed record.
  error: '{"input":{"userId":"77"},"output":null,"error":"Failed to process the record"}',
} as const;

/**
 * Failed records (issue 14): `error` is not null, and the rest is whatever
 * the record held. An echoed id that is a number, and the shape re:Post
 * shows for a record without the key (personalize-batch.md §8 [P1]).
 */
export const FAILED = {
  numberId: '{"input":{"userId":3002},"output":null,"error":"..."}',
  withoutKey:
    '{"input":{"usrId":"2"},"output":{"recommendedItems":[]},"error":"User error: Required fields for the provided recipe are userId"}',
} as const;

/**
 * Output examples exactly as an AWS docs page prints them: "Getting Batch
 * Recommendations", awsdocs/amazon-personalize-developer-guide
 * doc_source/recommendations-batch.md (commit adcff520), published as
 * https://docs.aws.amazon.com/personalize/latest/dg/recommendations-batch.html.
 */
export const AWS_DOC_EXAMPLES = {
  /** Popularity-Count: the first input was `{}`, so its echoed input is empty. */
  popularityCount: [
    '{"input": {}, "output": {"recommendedItems": ["105", "106", "441"]}}',
    '{"input": {"itemId": "105"}, "output": {"recommendedItems": ["105", "106", "441"]}}',
    '{"input": {"itemId": "41"}, "output": {"recommendedItems": ["105", "106", "441"]}}',
  ],
  /** HRNN and USER_PERSONALIZATION: `scores` as a second object after output's closing brace, which is not JSON. */
  userPersonalization: [
    '{"input":{"userId":"4638"}, "output": {"recommendedItems": ["296", "1", "260", "318"]}, {"scores": [0.0009785, 0.000976, 0.0008851]}}',
    '{"input":{"userId":"663"}, "output": {"recommendedItems": ["1393", "3793", "2701", "3826"]}, {"scores": [0.00008149, 0.00007025, 0.000652]}}',
    '{"input":{"userId":"3384"}, "output": {"recommendedItems": ["8368", "5989", "40815", "48780"]}, {"scores": [0.003015, 0.00154, 0.00142]}}',
  ],
  /** Personalize-Ranking, the same mistake. */
  ranking:
    '{"input": {"userId": "891", "itemList": ["27", "886", "101"]}, "output": {"recommendedItems": ["27", "101", "886"]}, {"scores": [0.48421, 0.28133, 0.23446]}}',
  /** SIMS: a comma before the closing brace, not JSON either. */
  sims: '{"input": {"itemId": "105"}, "output": {"recommendedItems": ["106", "107", "49"]}, }',
} as const;

const ID_ALPHABET = [
  'a',
  'b',
  'Z',
  '7',
  'é',
  '日',
  '😀',
  ' ',
  ',',
  '"',
  '\\',
  '\t',
  '\n',
  '=',
  '+',
  '-',
  '@',
  '/',
  '\u2028',
  '\u0001',
];

export function randomId(rand: () => number, awkward = true): string {
  const len = 1 + Math.floor(rand() * 6);
  let s = '';
  for (let i = 0; i < len; i++) {
    s +=
      awkward && rand() < 0.4
        ? ID_ALPHABET[Math.floor(rand() * ID_ALPHABET.length)]
        : 'abcdefghij'[Math.floor(rand() * 10)];
  }
  return s;
}

const SCORE_TEXTS = [
  '0',
  '-0',
  '1',
  '0.5',
  '3.773E-4',
  '1.2e-7',
  '-0.189',
  '0.12345678901234567890',
  '2E+3',
  '-12.5e-3',
  '0.0023',
];

/** A score as JSON number text, kept as a string so tests can compare exactly. */
export function randomScore(rand: () => number): string {
  if (rand() < 0.5) return SCORE_TEXTS[Math.floor(rand() * SCORE_TEXTS.length)] as string;
  const n = (rand() - 0.2) * 10 ** Math.floor(rand() * 6 - 4);
  return rand() < 0.5 ? String(n) : n.toExponential(4).toUpperCase();
}

export type Kind = 'recommendations' | 'ranking' | 'themes' | 'segment';

/** What a generated line holds, for oracles. */
export interface Expected {
  kind: Kind;
  keyField: 'userId' | 'itemId' | 'itemAttributes';
  key: string;
  ids: string[];
  /** Raw score text per id (null: no score); undefined when the line has no scores array. */
  scores: (string | null)[] | undefined;
  reasons: (string[] | null)[] | undefined;
  theme: string | undefined;
  error: string | null;
}

export interface GeneratedLine {
  text: string;
  expected: Expected;
}

interface LineOptions {
  kind?: Kind;
  keyField?: Expected['keyField'];
  /** Probability of a failed (error) line. */
  errorRate?: number;
  /** Ids per line, at most. */
  maxIds?: number;
  /** Random whitespace and key order. */
  messy?: boolean;
  awkward?: boolean;
  scores?: boolean;
  reasons?: boolean;
  /** Segment layout: the documented one (recommendedUsers, top-level itemAttributes). */
  docLayout?: boolean;
}

/** JSON text of an object from [key, raw JSON value] pairs, with optional random order and spaces. */
function objectText(entries: [string, string][], rand: () => number, messy: boolean): string {
  const list = [...entries];
  if (messy) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [list[i], list[j]] = [list[j] as [string, string], list[i] as [string, string]];
    }
  }
  const sp = () => (messy && rand() < 0.3 ? ' ' : '');
  return `{${sp()}${list.map(([k, v]) => `${JSON.stringify(k)}${sp()}:${sp()}${v}`).join(`,${sp()}`)}${sp()}}`;
}

function arrayText(items: string[], rand: () => number, messy: boolean): string {
  const sp = () => (messy && rand() < 0.2 ? ' ' : '');
  return `[${sp()}${items.join(`,${sp()}`)}${sp()}]`;
}

/** One random line of a kind (random kind when not given). */
export function randomLine(rand: () => number, o: LineOptions = {}): GeneratedLine {
  const kinds: Kind[] = ['recommendations', 'ranking', 'themes', 'segment'];
  const kind = o.kind ?? (kinds[Math.floor(rand() * 4)] as Kind);
  const messy = o.messy ?? false;
  const awkward = o.awkward ?? true;
  const n = Math.floor(rand() * ((o.maxIds ?? 6) + 1));
  const ids = Array.from({ length: n }, () => randomId(rand, awkward));
  const failed = rand() < (o.errorRate ?? 0);
  let keyField: Expected['keyField'];
  if (kind === 'ranking') keyField = 'userId';
  else if (kind === 'themes') keyField = 'itemId';
  else if (kind === 'segment') keyField = o.keyField ?? (rand() < 0.5 ? 'itemId' : 'itemAttributes');
  else keyField = o.keyField ?? (rand() < 0.7 ? 'userId' : 'itemId');
  const key = randomId(rand, awkward);
  const input: [string, string][] = [[keyField, JSON.stringify(key)]];
  if (kind === 'ranking')
    input.push([
      'itemList',
      arrayText(
        ids.map((x) => JSON.stringify(x)),
        rand,
        messy,
      ),
    ]);
  if (kind === 'recommendations' && rand() < 0.2) input.push(['filterValues', '{"GENRE":"\\"x\\""}']);
  const withScores = kind !== 'segment' && (o.scores ?? (kind !== 'recommendations' || rand() < 0.7));
  let scores: (string | null)[] | undefined;
  if (withScores) {
    scores = ids.map(() => (kind === 'ranking' && rand() < 0.1 ? null : randomScore(rand)));
    // Scores may be shorter than the ids (placeholder items without a score).
    if (kind === 'recommendations' && rand() < 0.1) scores = scores.slice(0, Math.floor(scores.length / 2));
  }
  const withReasons = kind === 'recommendations' && (o.reasons ?? rand() < 0.2);
  const reasons = withReasons
    ? ids.map(() =>
        rand() < 0.2
          ? null
          : ['Promoted item', 'Exploration', 'Popular item'].slice(0, Math.floor(rand() * 3)),
      )
    : undefined;
  const theme = kind === 'themes' ? randomId(rand, awkward) : undefined;
  const idsText = arrayText(
    ids.map((x) => JSON.stringify(x)),
    rand,
    messy,
  );
  const output: [string, string][] = [];
  const doc = kind === 'segment' && (o.docLayout ?? rand() < 0.5);
  if (kind === 'segment') output.push([doc ? 'recommendedUsers' : 'usersList', idsText]);
  else output.push(['recommendedItems', idsText]);
  if (scores)
    output.push([
      kind === 'themes' ? 'itemsThemeRelevanceScores' : 'scores',
      arrayText(
        scores.map((s) => s ?? 'null'),
        rand,
        messy,
      ),
    ]);
  if (reasons)
    output.push([
      'reasons',
      arrayText(
        reasons.map((r) => JSON.stringify(r)),
        rand,
        messy,
      ),
    ]);
  if (theme !== undefined) output.push(['theme', JSON.stringify(theme)]);
  const top: [string, string][] = [];
  const topAttributes = doc && keyField === 'itemAttributes';
  if (topAttributes) top.push(['itemAttributes', JSON.stringify(key)]);
  else top.push(['input', objectText(input, rand, messy)]);
  const error = failed ? `Failed: ${randomId(rand, awkward)}` : null;
  if (failed) {
    if (rand() < 0.5) top.push(['output', 'null']);
    top.push(['error', JSON.stringify(error)]);
  } else {
    top.push(['output', objectText(output, rand, messy)]);
    const e = rand();
    if (e < 0.7) top.push(['error', 'null']);
  }
  return {
    text: objectText(top, rand, messy),
    expected: { kind, keyField, key, ids, scores, reasons, theme, error },
  };
}

/** n random lines joined with LF (and a final LF). */
export function randomFile(
  seed: number,
  n: number,
  o: LineOptions = {},
): { text: string; lines: GeneratedLine[] } {
  const rand = prng(seed);
  const lines = Array.from({ length: n }, () => randomLine(rand, o));
  return { text: lines.map((l) => `${l.text}\n`).join(''), lines };
}

/** One of the service's usual lines: the key under `field`, the ids, the scores when given. */
export function serviceLine(key: string, ids: string[], scores?: string[], field = 'userId'): string {
  return `{"input":{"${field}":"${key}"},"output":{"recommendedItems":[${ids.map((i) => `"${i}"`).join(',')}]${
    scores ? `,"scores":[${scores.join(',')}]` : ''
  }},"error":null}`;
}

/** The text cut into pieces of whole lines at random line breaks (the export's pieces). */
export function wholeLinePieces(rand: () => number, text: Buffer): Buffer[] {
  const pieces: Buffer[] = [];
  let p = 0;
  while (p < text.length) {
    let e = Math.min(text.length, p + Math.floor(rand() * rand() * 4000));
    const nl = text.indexOf(10, e);
    e = nl < 0 ? text.length : nl + 1;
    pieces.push(Buffer.from(text.subarray(p, e)));
    p = e;
  }
  return pieces;
}

/** A user-personalization output's layout, with or without the score column. */
export function recommendationsLayout(score: boolean): Layout {
  return { kind: 'recommendations', keyField: 'userId', users: false, score, reason: false, theme: false };
}

/** csv-long with every option off (CRLF, the formula guard on), for the converter's tests to vary. */
export const CONVERT_BASE: ConvertConfig = {
  format: 'csv-long',
  layout: undefined,
  top: 0,
  width: 0,
  escapeFormulas: true,
  crlf: true,
  rename: undefined,
  maxCellBytes: 0,
  measure: false,
  failFast: false,
  catalogColumns: [],
  userColumns: [],
  usersRequired: false,
  maxLineLength: 1 << 20,
  optimistic: false,
};

/** Each piece through the converter as the export sends them (the next piece writes into this one's memory), as text. */
export function convertPieces(c: Converter, pieces: Buffer[]) {
  return pieces.map((piece) => {
    const { out, errors, ...rest } = c.convert(piece);
    const text = out.toString('latin1');
    c.recycle(out.buffer as ArrayBuffer);
    return { ...rest, out: text, errors: errors.toString('latin1') };
  });
}
