import { isSpace, SYNTAX } from './json-scan.js';
import { KeyScan } from './key-scan.js';
import {
  ABSENT,
  BAD,
  F_ATTRS,
  F_ERROR,
  F_FILTERS,
  F_INPUT,
  F_ITEM,
  F_ITEM_LIST,
  F_OUTPUT,
  F_REASONS,
  F_REC_ITEMS,
  F_REC_USERS,
  F_SCORES,
  F_THEME,
  F_THEME_SCORES,
  F_TOP_ATTRS,
  F_USER,
  F_USERS_LIST,
  LineFieldReader,
  NULL,
  OK,
  S_ATTRS,
  S_ERROR,
  S_ITEM,
  S_THEME,
  S_TOP_ATTRS,
  S_USER,
} from './line-fields.js';
import {
  KEY_ATTRIBUTES,
  KEY_ITEM,
  KEY_NONE,
  KEY_USER,
  KIND_RANKING,
  KIND_RECOMMENDATIONS,
  KIND_SEGMENT,
  KIND_THEMES,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  LINE_OK,
  SPAN_ESCAPED,
  Spans,
} from './line-shapes.js';

/**
 * The batch-output line parser: one `.out` line in, the places of its parts
 * out, with no allocation per line on the common path. It is a complete,
 * strict JSON parser over bytes (RFC 8259 grammar, escapes, numbers, depth
 * limit) that keeps what export and collect need as [start, end) spans of
 * the line: the echoed key, the recommended ids, the scores *as printed*
 * (never through a float, so no digit is lost or re-formatted), the theme,
 * v2 reasons and the error. It then checks the line against the output
 * schema of its kind (schemas/output-*.schema.json), written out by hand so
 * the hot loop does not build objects for ajv; test/core/out-lines.test.ts holds
 * the two to the same verdict on random and real lines.
 *
 * A line whose `error` is not null is an error line whatever else it holds
 * (an echoed id that is a number, an input without the key, no input at
 * all): the record failed, and the line is data for errors.jsonl, not a
 * malformed line. Its key is read when it is a string, else it has none.
 * An empty input (`{"input": {}, ...}`, Popularity-Count in an older AWS
 * example) is a recommendations line without a key.
 *
 * Kinds, told apart by content since one export may read any job's output:
 * - themes: `output.theme` or `output.itemsThemeRelevanceScores` present;
 * - segment: `output.usersList` / `output.recommendedUsers`, a top-level
 *   `itemAttributes`, or an input with `itemAttributes` and no user or item id;
 * - ranking: `input.itemList` present;
 * - recommendations: anything else (with or without scores and reasons).
 *
 * One check goes beyond the schemas: scores, relevance scores or reasons
 * with more entries than there are ids cannot be paired with them.
 *
 * The parser is built in three layers, one class each: json-scan.ts (the
 * grammar), line-fields.ts (the fields kept as the scan passes them) and
 * this file (the line's kind, key and verdict).
 */

const OPEN_BRACE = 123;

/**
 * Parses one line at a time: call parse(buf, start, end) and read the
 * public fields, which stay valid until the next call. Not reentrant.
 */
export class OutLineParser extends LineFieldReader {
  // Results of the last parse().
  kind = KIND_RECOMMENDATIONS;
  /** KEY_NONE: an error line without a string key, or a recommendations line with an empty input. */
  keyField = KEY_NONE;
  keyStart = 0;
  keyEnd = 0;
  /** The key has JSON escapes: its bytes are not its value. */
  keyEscaped = false;
  /** The recommended ids (items, or users for segments): (start, end, SPAN_* flags). */
  ids: Spans = new Spans();
  /** The scores paired with ids (scores, or itemsThemeRelevanceScores): (start, end, 0); start -1 for null. */
  scores: Spans | undefined;
  /** Raw JSON of each id's reasons (an array or null): (start, end, 0). */
  reasons: Spans | undefined;
  themeStart = -1;
  themeEnd = -1;
  themeEscaped = false;
  /** The error string's content, or the JSON text of an error that is not a string. */
  errorStart = -1;
  errorEnd = -1;

  /** The service's usual line shape, read in one pass (key-scan.ts): no field dispatch. */
  private readonly quick: KeyScan | undefined;

  /** quickScan false: every line through the full parse (the tests' reference for the quick one). */
  constructor(quickScan = true) {
    super();
    this.quick = quickScan ? new KeyScan() : undefined;
  }

  /** Parses buf[start, end) (one line without its line break). */
  parse(buf: Uint8Array, start: number, end: number): number {
    if (this.quick?.scan(buf, start, end)) return this.quickLine();
    this.buf = buf;
    this.end = end;
    this.start = start;
    this.state.fill(ABSENT);
    this.problem = '';
    this.truncated = false;
    let p = start;
    while (p < end && isSpace(buf[p] as number)) p++;
    if (p === end) return LINE_BLANK;
    this.p = p;
    try {
      if (buf[p] !== OPEN_BRACE) {
        this.value(0);
        this.ws();
        if (this.p < end) this.syntax('text after the JSON value');
        return this.invalid('expected a JSON object');
      }
      this.top();
      this.ws();
      if (this.p < end) this.syntax('text after the JSON object (more than one value on the line?)');
    } catch (err) {
      if (err === SYNTAX) return LINE_INVALID;
      throw err;
    }
    return this.check();
  }

  /**
   * A line KeyScan accepted: the fields as the full parse would set them
   * (key-scan.ts accepts only lines the parser calls LINE_OK with the same
   * kind, key, ids and scores; test/core/out-lines.test.ts holds the two equal).
   */
  private quickLine(): number {
    const q = this.quick as KeyScan;
    this.problem = '';
    this.truncated = false;
    this.kind = KIND_RECOMMENDATIONS;
    this.keyField = q.keyField;
    this.keyStart = q.keyStart;
    this.keyEnd = q.keyEnd;
    this.keyEscaped = false;
    this.ids = q.ids;
    this.scores = q.scores;
    this.reasons = undefined;
    this.themeStart = -1;
    this.themeEnd = -1;
    return LINE_OK;
  }

  private invalid(problem: string): number {
    this.problem = problem;
    return LINE_INVALID;
  }

  /** Kind, key and schema checks once the whole line is read. */
  private check(): number {
    const st = this.state;
    const out = st[F_OUTPUT] === OK;
    const kind = this.kindOf(out);
    this.kind = kind;
    if (st[F_ERROR] === OK) return this.errorLine();

    // Every schema: input is an object; output an object or null.
    if (st[F_INPUT] === BAD) return this.fieldProblem(F_INPUT);
    if (st[F_OUTPUT] === BAD) return this.fieldProblem(F_OUTPUT);
    const input = st[F_INPUT] === OK;
    const status = kind === KIND_SEGMENT ? this.segmentSchema(input, out) : this.itemSchema(kind, input, out);
    if (status !== LINE_OK) return status;
    if (!out) {
      return this.invalid(
        st[F_OUTPUT] === NULL ? 'output: null while error is null' : 'output: missing (and no error)',
      );
    }
    return this.pairLists(kind);
  }

  /** The kind, told by which fields the line has (see the kinds above). */
  private kindOf(out: boolean): number {
    const st = this.state;
    if (out && (st[F_THEME] !== ABSENT || st[F_THEME_SCORES] !== ABSENT)) return KIND_THEMES;
    if (
      (out && (st[F_USERS_LIST] !== ABSENT || st[F_REC_USERS] !== ABSENT)) ||
      st[F_TOP_ATTRS] !== ABSENT ||
      (st[F_INPUT] === OK && st[F_ATTRS] !== ABSENT && st[F_USER] === ABSENT && st[F_ITEM] === ABSENT)
    )
      return KIND_SEGMENT;
    if (st[F_INPUT] === OK && st[F_ITEM_LIST] !== ABSENT) return KIND_RANKING;
    return KIND_RECOMMENDATIONS;
  }

  /** A segment line's schema: an item id or item attributes in, users out; sets its key. */
  private segmentSchema(input: boolean, out: boolean): number {
    const st = this.state;
    let key: number;
    let span: number;
    if (!input && st[F_TOP_ATTRS] === ABSENT) return this.invalid('input: missing');
    if (input) {
      if (st[F_ITEM] === ABSENT && st[F_ATTRS] === ABSENT)
        return this.invalid('input: needs itemId or itemAttributes');
      if (st[F_ITEM] === BAD) return this.fieldProblem(F_ITEM);
      if (st[F_ATTRS] === BAD) return this.fieldProblem(F_ATTRS);
    }
    if (st[F_TOP_ATTRS] === BAD) return this.fieldProblem(F_TOP_ATTRS);
    if (out) {
      if (st[F_USERS_LIST] === ABSENT && st[F_REC_USERS] === ABSENT)
        return this.invalid('output: needs usersList or recommendedUsers');
      if (st[F_USERS_LIST] === BAD) return this.fieldProblem(F_USERS_LIST);
      if (st[F_REC_USERS] === BAD) return this.fieldProblem(F_REC_USERS);
    }
    if (input && st[F_ITEM] === OK) {
      key = KEY_ITEM;
      span = S_ITEM;
    } else if (input && st[F_ATTRS] === OK) {
      key = KEY_ATTRIBUTES;
      span = S_ATTRS;
    } else {
      key = KEY_ATTRIBUTES;
      span = S_TOP_ATTRS;
    }
    this.setKey(key, span);
    return LINE_OK;
  }

  /**
   * The schema of a line that recommends items (recommendations, ranking,
   * themes): the key its kind echoes, then recommendedItems and the lists
   * beside it; sets its key.
   */
  private itemSchema(kind: number, input: boolean, out: boolean): number {
    const st = this.state;
    let key = KEY_NONE;
    let span = -1;
    if (!input) return this.invalid('input: missing');
    if (kind === KIND_RECOMMENDATIONS) {
      if (st[F_USER] === ABSENT && st[F_ITEM] === ABSENT) {
        if (this.inputKeys > 0) return this.invalid('input: needs userId or itemId');
      } else {
        if (st[F_USER] === BAD) return this.fieldProblem(F_USER);
        if (st[F_ITEM] === BAD) return this.fieldProblem(F_ITEM);
        if (st[F_FILTERS] === BAD) return this.fieldProblem(F_FILTERS);
        key = st[F_USER] === OK ? KEY_USER : KEY_ITEM;
        span = st[F_USER] === OK ? S_USER : S_ITEM;
      }
    } else if (kind === KIND_RANKING) {
      if (st[F_USER] === ABSENT) return this.invalid('input.userId: missing');
      if (st[F_USER] === BAD) return this.fieldProblem(F_USER);
      if (st[F_ITEM_LIST] === BAD) return this.fieldProblem(F_ITEM_LIST);
      key = KEY_USER;
      span = S_USER;
    } else {
      if (st[F_ITEM] === ABSENT) return this.invalid('input.itemId: missing');
      if (st[F_ITEM] === BAD) return this.fieldProblem(F_ITEM);
      key = KEY_ITEM;
      span = S_ITEM;
    }
    if (out) {
      if (st[F_REC_ITEMS] === ABSENT) return this.invalid('output.recommendedItems: missing');
      if (st[F_REC_ITEMS] === BAD) return this.fieldProblem(F_REC_ITEMS);
      if (kind === KIND_THEMES) {
        if (st[F_THEME] === ABSENT) return this.invalid('output.theme: missing');
        if (st[F_THEME] === BAD) return this.fieldProblem(F_THEME);
        if (st[F_THEME_SCORES] === BAD) return this.fieldProblem(F_THEME_SCORES);
      } else {
        if (st[F_SCORES] === BAD) return this.fieldProblem(F_SCORES);
        if (kind === KIND_RECOMMENDATIONS && st[F_REASONS] === BAD) return this.fieldProblem(F_REASONS);
      }
    }
    this.setKey(key, span);
    return LINE_OK;
  }

  /**
   * Points ids, scores, reasons and the theme at the lists of the line's
   * kind; scores or reasons with more entries than ids cannot be paired.
   */
  private pairLists(kind: number): number {
    const st = this.state;
    const l = this.lists;
    this.scores = undefined;
    this.reasons = undefined;
    this.themeStart = -1;
    this.themeEnd = -1;
    if (kind === KIND_SEGMENT) this.ids = st[F_USERS_LIST] === OK ? l.usersList : l.recUsers;
    else {
      this.ids = l.recItems;
      if (kind === KIND_THEMES) {
        if (st[F_THEME_SCORES] === OK) this.scores = l.themeScores;
        this.themeStart = this.spans[S_THEME * 3] as number;
        this.themeEnd = this.spans[S_THEME * 3 + 1] as number;
        this.themeEscaped = ((this.spans[S_THEME * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
      } else {
        if (st[F_SCORES] === OK) this.scores = l.scores;
        if (kind === KIND_RECOMMENDATIONS && st[F_REASONS] === OK) this.reasons = l.reasons;
      }
    }
    const n = this.ids.n;
    if (this.scores && this.scores.n > n) {
      const name = kind === KIND_THEMES ? 'itemsThemeRelevanceScores' : 'scores';
      return this.invalid(`output.${name}: ${this.scores.n} entries for ${n} ids`);
    }
    if (this.reasons && this.reasons.n > n)
      return this.invalid(`output.reasons: ${this.reasons.n} entries for ${n} ids`);
    return LINE_OK;
  }

  /**
   * An error line: its key when the echoed input (or a top-level
   * itemAttributes) holds one as a string, else KEY_NONE. Nothing else about
   * the line is checked; it is written out as it came.
   */
  private errorLine(): number {
    const st = this.state;
    let key = KEY_NONE;
    let span = -1;
    if (st[F_INPUT] === OK && st[F_USER] === OK) {
      key = KEY_USER;
      span = S_USER;
    } else if (st[F_INPUT] === OK && st[F_ITEM] === OK) {
      key = KEY_ITEM;
      span = S_ITEM;
    } else if (st[F_INPUT] === OK && st[F_ATTRS] === OK) {
      key = KEY_ATTRIBUTES;
      span = S_ATTRS;
    } else if (st[F_TOP_ATTRS] === OK) {
      key = KEY_ATTRIBUTES;
      span = S_TOP_ATTRS;
    }
    this.setKey(key, span);
    this.errorStart = this.spans[S_ERROR * 3] as number;
    this.errorEnd = this.spans[S_ERROR * 3 + 1] as number;
    return LINE_ERROR;
  }

  private setKey(key: number, span: number): void {
    this.keyField = key;
    if (key === KEY_NONE) {
      this.keyStart = 0;
      this.keyEnd = 0;
      this.keyEscaped = false;
      return;
    }
    this.keyStart = this.spans[span * 3] as number;
    this.keyEnd = this.spans[span * 3 + 1] as number;
    this.keyEscaped = ((this.spans[span * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
  }

  private fieldProblem(field: number): number {
    return this.invalid(this.why[field] ?? 'invalid');
  }
}
