/**
 * The batch-output line parser: one `.out` line in, the places of its parts
 * out, with no allocation per line on the common path. It is a complete,
 * strict JSON parser over bytes (RFC 8259 grammar, escapes, numbers, depth
 * limit) that keeps what export and collect need as [start, end) spans of
 * the line: the echoed key, the recommended ids, the scores *as printed*
 * (never through a float, so no digit is lost or re-formatted), the theme,
 * v2 reasons and the error. It then checks the line against the output
 * schema of its kind (schemas/output-*.schema.json), written out by hand so
 * the hot loop does not build objects for ajv; test/out-lines.test.ts holds
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
 */

export const LINE_OK = 0;
/** `error` is not null: the record failed; nothing to export, the line goes to errors.jsonl. */
export const LINE_ERROR = 1;
export const LINE_BLANK = 2;
export const LINE_INVALID = 3;

export const KIND_RECOMMENDATIONS = 0;
export const KIND_RANKING = 1;
export const KIND_THEMES = 2;
export const KIND_SEGMENT = 3;
export const KIND_NAMES = ['recommendations', 'ranking', 'themes', 'segment'] as const;
export type OutKind = (typeof KIND_NAMES)[number];

/** Span flags: the string has JSON escapes (its bytes are not its value); it holds a comma. */
export const SPAN_ESCAPED = 1;
export const SPAN_COMMA = 2;

export const KEY_NONE = 0;
export const KEY_USER = 1;
export const KEY_ITEM = 2;
export const KEY_ATTRIBUTES = 3;
export const KEY_NAMES = ['', 'userId', 'itemId', 'itemAttributes'] as const;
export type OutKeyField = 'userId' | 'itemId' | 'itemAttributes';

// Field states.
const ABSENT = 0;
const OK = 1;
const BAD = 2;
const NULL = 3;

// Fields whose state is tracked.
const F_INPUT = 0;
const F_USER = 1;
const F_ITEM = 2;
const F_ATTRS = 3;
const F_ITEM_LIST = 4;
const F_FILTERS = 5;
const F_TOP_ATTRS = 6;
const F_OUTPUT = 7;
const F_REC_ITEMS = 8;
const F_USERS_LIST = 9;
const F_REC_USERS = 10;
const F_SCORES = 11;
const F_THEME_SCORES = 12;
const F_THEME = 13;
const F_REASONS = 14;
const F_ERROR = 15;
const FIELDS = 16;

// String spans (start, end, escaped) in `spans`.
const S_USER = 0;
const S_ITEM = 1;
const S_ATTRS = 2;
const S_TOP_ATTRS = 3;
const S_THEME = 4;
const S_ERROR = 5;
const SPANS = 6;

const LF = 10;
const CR = 13;
const TAB = 9;
const SPACE = 32;
const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const BACKSLASH = 92;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

const MAX_DEPTH = 64;

/** Key names as bytes, compared in place. */
const K = {
  input: bytes('input'),
  output: bytes('output'),
  error: bytes('error'),
  itemAttributes: bytes('itemAttributes'),
  userId: bytes('userId'),
  itemId: bytes('itemId'),
  itemList: bytes('itemList'),
  filterValues: bytes('filterValues'),
  recommendedItems: bytes('recommendedItems'),
  usersList: bytes('usersList'),
  recommendedUsers: bytes('recommendedUsers'),
  scores: bytes('scores'),
  itemsThemeRelevanceScores: bytes('itemsThemeRelevanceScores'),
  theme: bytes('theme'),
  reasons: bytes('reasons'),
};

function bytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s));
}

/** A growable list of int spans: (start, end, flag) triples. */
export class Spans {
  data = new Int32Array(3 * 64);
  n = 0;

  push(a: number, b: number, c: number): void {
    if (this.n * 3 + 3 > this.data.length) this.grow();
    const i = this.n * 3;
    this.data[i] = a;
    this.data[i + 1] = b;
    this.data[i + 2] = c;
    this.n++;
  }

  grow(): void {
    const next = new Int32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
  }
}

const NO_SPANS = new Int32Array(0);

/** Thrown inside the parser to unwind on a JSON syntax error; caught in parse(). */
const SYNTAX = { syntax: true };

/**
 * Parses one line at a time: call parse(buf, start, end) and read the
 * public fields, which stay valid until the next call. Not reentrant.
 */
export class OutLineParser {
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
  /** Why the line is invalid (LINE_INVALID); `file:line: ` is the caller's. */
  problem = '';
  /** The line ended inside the JSON value (a cut-off line, such as the last of an interrupted download). */
  truncated = false;

  private buf: Uint8Array = new Uint8Array(0);
  private end = 0;
  private p = 0;
  private start = 0;
  private readonly state = new Uint8Array(FIELDS);
  /** Keys in the last `input` object: 0 is the empty input of the Popularity-Count example. */
  private inputKeys = 0;
  private readonly why: (string | undefined)[] = new Array(FIELDS);
  private readonly spans = new Int32Array(SPANS * 3);
  private readonly lists = {
    recItems: new Spans(),
    usersList: new Spans(),
    recUsers: new Spans(),
    scores: new Spans(),
    themeScores: new Spans(),
    reasons: new Spans(),
  };
  // Set by str().
  private strStart = 0;
  private strEsc = 0;

  /** Parses buf[start, end) (one line without its line break). */
  parse(buf: Uint8Array, start: number, end: number): number {
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

  /** The message for a field: `path: reason`. */
  private bad(field: number, why: string): void {
    if (this.state[field] !== BAD) this.why[field] = why;
    this.state[field] = BAD;
  }

  private invalid(problem: string): number {
    this.problem = problem;
    return LINE_INVALID;
  }

  private syntax(what: string): never {
    this.problem = `not valid JSON: ${what} at byte ${this.p - this.start + 1}`;
    throw SYNTAX;
  }

  private cutOff(): never {
    this.truncated = true;
    this.problem = 'truncated: the line ends inside the JSON value (an interrupted download?)';
    throw SYNTAX;
  }

  private ws(): void {
    const buf = this.buf;
    let p = this.p;
    while (p < this.end) {
      const c = buf[p] as number;
      if (c !== SPACE && c !== TAB && c !== CR && c !== LF) break;
      p++;
    }
    this.p = p;
  }

  /** The next non-space byte (p left on it); cut off at the end. */
  private peek(): number {
    this.ws();
    if (this.p >= this.end) this.cutOff();
    return this.buf[this.p] as number;
  }

  private expect(c: number, what: string): void {
    if (this.peek() !== c) this.syntax(`expected ${what}`);
    this.p++;
  }

  /** A string at p (on its opening quote): returns the end of its content; strStart and strEsc (SPAN_* flags) set. */
  private str(): number {
    const buf = this.buf;
    const end = this.end;
    let i = this.p + 1;
    let esc = 0;
    for (;;) {
      if (i >= end) {
        this.p = i;
        this.cutOff();
      }
      const c = buf[i] as number;
      if (c === QUOTE) break;
      if (c === COMMA) esc |= SPAN_COMMA;
      if (c === BACKSLASH) {
        esc |= SPAN_ESCAPED;
        if (i + 1 >= end) {
          this.p = i + 1;
          this.cutOff();
        }
        const n = buf[i + 1] as number;
        if (n === 117 /* u */) {
          for (let k = 2; k < 6; k++) {
            if (i + k >= end) {
              this.p = i + k;
              this.cutOff();
            }
            if (!isHex(buf[i + k] as number)) {
              this.p = i + k;
              this.syntax('bad \\u escape');
            }
          }
          i += 6;
          continue;
        }
        if (
          n === QUOTE ||
          n === BACKSLASH ||
          n === 47 /* / */ ||
          n === 98 /* b */ ||
          n === 102 /* f */ ||
          n === 110 /* n */ ||
          n === 114 /* r */ ||
          n === 116 /* t */
        ) {
          i += 2;
          continue;
        }
        this.p = i;
        this.syntax('bad escape in a string');
      }
      if (c < SPACE) {
        this.p = i;
        this.syntax('a raw control character in a string');
      }
      i++;
    }
    this.strStart = this.p + 1;
    this.strEsc = esc;
    this.p = i + 1;
    return i;
  }

  /** A number at p: checks the grammar, returns its end. */
  private num(): number {
    const buf = this.buf;
    const end = this.end;
    let i = this.p;
    if (buf[i] === MINUS) i++;
    if (i >= end) {
      this.p = i;
      this.cutOff();
    }
    let c = buf[i] as number;
    if (c === ZERO) i++;
    else if (c > ZERO && c <= NINE) {
      i++;
      while (i < end && isDigit(buf[i] as number)) i++;
    } else {
      this.p = i;
      this.syntax('bad number');
    }
    if (i < end && buf[i] === DOT) {
      i++;
      if (i >= end) {
        this.p = i;
        this.cutOff();
      }
      if (!isDigit(buf[i] as number)) {
        this.p = i;
        this.syntax('bad number');
      }
      while (i < end && isDigit(buf[i] as number)) i++;
    }
    if (i < end && (buf[i] === 101 || buf[i] === 69)) {
      i++;
      if (i < end && (buf[i] === PLUS || buf[i] === MINUS)) i++;
      if (i >= end) {
        this.p = i;
        this.cutOff();
      }
      if (!isDigit(buf[i] as number)) {
        this.p = i;
        this.syntax('bad number');
      }
      while (i < end && isDigit(buf[i] as number)) i++;
    }
    if (i < end) {
      c = buf[i] as number;
      if (c !== COMMA && c !== CLOSE_BRACKET && c !== CLOSE_BRACE && !isSpace(c)) {
        this.p = i;
        this.syntax('bad number');
      }
    }
    this.p = i;
    return i;
  }

  /** true, false or null at p; returns which byte it started with. */
  private literal(): number {
    const buf = this.buf;
    const c = buf[this.p] as number;
    const word = c === 116 ? 'true' : c === 102 ? 'false' : 'null';
    for (let k = 0; k < word.length; k++) {
      if (this.p + k >= this.end) {
        this.p += k;
        this.cutOff();
      }
      if (buf[this.p + k] !== word.charCodeAt(k)) {
        this.p += k;
        this.syntax('unexpected character');
      }
    }
    this.p += word.length;
    return c;
  }

  /** Any JSON value at p (after whitespace), checked and skipped. */
  private value(depth: number): void {
    const c = this.peek();
    if (c === QUOTE) this.str();
    else if (c === OPEN_BRACE) {
      if (depth >= MAX_DEPTH) this.syntax(`nested deeper than ${MAX_DEPTH} levels`);
      this.p++;
      if (this.peek() === CLOSE_BRACE) {
        this.p++;
        return;
      }
      for (;;) {
        if (this.peek() !== QUOTE) this.syntax('expected a key');
        this.str();
        this.expect(COLON, "':'");
        this.value(depth + 1);
        const d = this.peek();
        this.p++;
        if (d === CLOSE_BRACE) return;
        if (d !== COMMA) this.syntax("expected ',' or '}'");
      }
    } else if (c === OPEN_BRACKET) {
      if (depth >= MAX_DEPTH) this.syntax(`nested deeper than ${MAX_DEPTH} levels`);
      this.p++;
      if (this.peek() === CLOSE_BRACKET) {
        this.p++;
        return;
      }
      for (;;) {
        this.value(depth + 1);
        const d = this.peek();
        this.p++;
        if (d === CLOSE_BRACKET) return;
        if (d !== COMMA) this.syntax("expected ',' or ']'");
      }
    } else if (c === MINUS || isDigit(c)) this.num();
    else if (c === 116 || c === 102 || c === 110) this.literal();
    else this.syntax('unexpected character');
  }

  /**
   * Calls `entry(keyStart, keyEnd)` for each key of the object at p, with p
   * on the value (after the colon); entry must consume the value.
   */
  private object(entry: (ks: number, ke: number, esc: number) => void): void {
    this.p++; // {
    if (this.peek() === CLOSE_BRACE) {
      this.p++;
      return;
    }
    let before = -1;
    for (;;) {
      if (this.peek() !== QUOTE) this.notAKey(before);
      const ke = this.str();
      const ks = this.strStart;
      const esc = this.strEsc & SPAN_ESCAPED;
      this.expect(COLON, "':'");
      this.ws();
      before = ks;
      entry(ks, ke, esc);
      const d = this.peek();
      this.p++;
      if (d === CLOSE_BRACE) return;
      if (d !== COMMA) this.syntax("expected ',' or '}'");
    }
  }

  /**
   * The syntax error for a non-key after a comma, worded for the two shapes
   * an AWS docs page prints (recommendations-batch): `, }`, and a second
   * object after output, `"output": {...}, {"scores": [...]}`.
   * `before` is where the previous key's name starts (-1: none).
   */
  private notAKey(before: number): never {
    const c = this.buf[this.p];
    if (before < 0 || (c !== CLOSE_BRACE && c !== OPEN_BRACE)) this.syntax('expected a key');
    if (c === CLOSE_BRACE) {
      this.problem = `not valid JSON: a comma before the closing brace at byte ${this.p - this.start + 1} (JSON allows no trailing comma)`;
      throw SYNTAX;
    }
    const at = this.p;
    const prev = keyText(this.buf, before, this.end);
    let name = '';
    this.p++;
    this.ws();
    if (this.p < this.end && this.buf[this.p] === QUOTE) name = keyText(this.buf, this.p + 1, this.end);
    this.p = at;
    let p = at - 1;
    while (p > this.start && isSpace(this.buf[p] as number)) p--;
    p--; // the comma
    while (p > this.start && isSpace(this.buf[p] as number)) p--;
    const after = this.buf[p] === CLOSE_BRACE ? `${prev}'s closing brace` : `the value of ${prev}`;
    const second = name === '' ? 'a second object' : `a second object {"${name}": ...}`;
    const fix = OUTPUT_LISTS.has(name)
      ? `${name} belong inside output, as in {"output":{"recommendedItems":[...],"${name}":[...]}}`
      : 'a key was expected there';
    this.problem = `not valid JSON: ${second} at byte ${at - this.start + 1}, after ${after}; ${fix}`;
    throw SYNTAX;
  }

  private keyIs(ks: number, ke: number, esc: number, name: Uint8Array): boolean {
    if (esc) return decodeKey(this.buf, ks, ke) === Buffer.from(name).toString();
    if (ke - ks !== name.length) return false;
    const buf = this.buf;
    for (let i = 0; i < name.length; i++) if (buf[ks + i] !== name[i]) return false;
    return true;
  }

  private readonly topEntry = (ks: number, ke: number, esc: number): void => {
    if (this.keyIs(ks, ke, esc, K.input)) {
      if (this.peek() === OPEN_BRACE) {
        this.state[F_INPUT] = OK;
        this.state[F_USER] = ABSENT;
        this.state[F_ITEM] = ABSENT;
        this.state[F_ATTRS] = ABSENT;
        this.state[F_ITEM_LIST] = ABSENT;
        this.state[F_FILTERS] = ABSENT;
        this.inputKeys = 0;
        this.object(this.inputEntry);
      } else {
        this.bad(F_INPUT, 'input: expected an object');
        this.value(1);
      }
    } else if (this.keyIs(ks, ke, esc, K.output)) {
      const c = this.peek();
      if (c === OPEN_BRACE) {
        this.state[F_OUTPUT] = OK;
        for (let f = F_REC_ITEMS; f <= F_REASONS; f++) this.state[f] = ABSENT;
        this.object(this.outputEntry);
      } else if (c === 110 && this.literal() === 110) this.state[F_OUTPUT] = NULL;
      else {
        this.bad(F_OUTPUT, 'output: expected an object or null');
        this.value(1);
      }
    } else if (this.keyIs(ks, ke, esc, K.error)) {
      const c = this.peek();
      if (c === QUOTE) this.stringField(F_ERROR, S_ERROR, '');
      else if (c === 110 && this.literal() === 110) this.state[F_ERROR] = NULL;
      else {
        // Not the string the service writes, but not null either: the record still failed.
        const s = this.p;
        this.value(1);
        this.state[F_ERROR] = OK;
        this.spans[S_ERROR * 3] = s;
        this.spans[S_ERROR * 3 + 1] = this.p;
        this.spans[S_ERROR * 3 + 2] = 0;
      }
    } else if (this.keyIs(ks, ke, esc, K.itemAttributes)) {
      this.stringField(F_TOP_ATTRS, S_TOP_ATTRS, 'itemAttributes');
    } else this.value(1);
  };

  private readonly inputEntry = (ks: number, ke: number, esc: number): void => {
    this.inputKeys++;
    if (this.keyIs(ks, ke, esc, K.userId)) this.stringField(F_USER, S_USER, 'input.userId');
    else if (this.keyIs(ks, ke, esc, K.itemId)) this.stringField(F_ITEM, S_ITEM, 'input.itemId');
    else if (this.keyIs(ks, ke, esc, K.itemAttributes))
      this.stringField(F_ATTRS, S_ATTRS, 'input.itemAttributes');
    else if (this.keyIs(ks, ke, esc, K.itemList)) this.stringList(F_ITEM_LIST, undefined, 'input.itemList');
    else if (this.keyIs(ks, ke, esc, K.filterValues)) {
      this.state[F_FILTERS] = this.peek() === OPEN_BRACE ? OK : BAD;
      if (this.state[F_FILTERS] === BAD) this.why[F_FILTERS] = 'input.filterValues: expected an object';
      this.value(2);
    } else this.value(2);
  };

  private readonly outputEntry = (ks: number, ke: number, esc: number): void => {
    const l = this.lists;
    if (this.keyIs(ks, ke, esc, K.recommendedItems))
      this.stringList(F_REC_ITEMS, l.recItems, 'output.recommendedItems');
    else if (this.keyIs(ks, ke, esc, K.scores)) this.numberList(F_SCORES, l.scores, 'output.scores');
    else if (this.keyIs(ks, ke, esc, K.usersList))
      this.stringList(F_USERS_LIST, l.usersList, 'output.usersList');
    else if (this.keyIs(ks, ke, esc, K.recommendedUsers))
      this.stringList(F_REC_USERS, l.recUsers, 'output.recommendedUsers');
    else if (this.keyIs(ks, ke, esc, K.itemsThemeRelevanceScores))
      this.numberList(F_THEME_SCORES, l.themeScores, 'output.itemsThemeRelevanceScores');
    else if (this.keyIs(ks, ke, esc, K.theme)) this.stringField(F_THEME, S_THEME, 'output.theme');
    else if (this.keyIs(ks, ke, esc, K.reasons)) this.reasonList();
    else this.value(2);
  };

  private stringField(field: number, span: number, path: string): void {
    if (this.peek() !== QUOTE) {
      this.bad(field, `${path}: expected a string`);
      this.value(2);
      return;
    }
    const e = this.str();
    this.state[field] = OK;
    this.spans[span * 3] = this.strStart;
    this.spans[span * 3 + 1] = e;
    this.spans[span * 3 + 2] = this.strEsc;
  }

  /**
   * An array of strings; kept in `into` when given. The element loop is
   * inline with local variables: it runs for every recommended id. A string
   * scan needs no bounds check: the line's LF or CR (or the end of the
   * buffer) stops it like a quote does, and is then told apart by position.
   */
  private stringList(field: number, into: Spans | undefined, path: string, fresh = true): void {
    if (into) into.n = 0;
    if (fresh) this.state[field] = OK;
    if (this.peek() !== OPEN_BRACKET) {
      this.bad(field, `${path}: expected an array of strings`);
      this.value(2);
      return;
    }
    const buf = this.buf;
    const end = this.end;
    let p = this.p + 1;
    let data = into ? into.data : NO_SPANS;
    let k = 0;
    for (let i = 0; ; i++) {
      let c = buf[p] as number;
      if (c <= SPACE) {
        while (p < end && (c === SPACE || c === TAB || c === CR)) c = buf[++p] as number;
        if (p >= end) this.cutAt(p);
      }
      if (c === CLOSE_BRACKET && i === 0) {
        p++;
        break;
      }
      let s = p + 1;
      let e = -1;
      let flags = 0;
      if (c === QUOTE) {
        let q = s;
        for (;;) {
          while (STRING_PLAIN[buf[q] as number] === 1) q++;
          if (buf[q] !== COMMA) break;
          flags = SPAN_COMMA;
          q++;
        }
        if (buf[q] === QUOTE && q < end) {
          e = q;
          p = q + 1;
        } else {
          // An escape, a control character or the end of the line: the full scanner.
          this.p = p;
          e = this.str();
          s = this.strStart;
          flags = this.strEsc;
          p = this.p;
        }
        if (into) {
          if (k + 3 > data.length) {
            into.n = k / 3;
            into.grow();
            data = into.data;
          }
          data[k] = s;
          data[k + 1] = e;
          data[k + 2] = flags;
          k += 3;
        }
      } else {
        this.p = p;
        this.bad(field, `${path}[${i}]: expected a string`);
        this.value(3);
        p = this.p;
      }
      c = buf[p] as number;
      if (c <= SPACE) {
        while (p < end && (c === SPACE || c === TAB || c === CR)) c = buf[++p] as number;
      }
      if (p >= end) this.cutAt(p);
      p++;
      if (c === COMMA) continue;
      if (c === CLOSE_BRACKET) break;
      this.p = p - 1;
      this.syntax("expected ',' or ']'");
    }
    if (into) into.n = k / 3;
    this.p = p;
  }

  private cutAt(p: number): never {
    this.p = p;
    this.cutOff();
  }

  /**
   * An array of numbers or nulls, kept as printed. Plain numbers are
   * scanned inline; anything unusual goes to num(), which checks the
   * grammar and reports the problem.
   */
  private numberList(field: number, into: Spans, path: string): void {
    into.n = 0;
    this.state[field] = OK;
    if (this.peek() !== OPEN_BRACKET) {
      this.bad(field, `${path}: expected an array of numbers`);
      this.value(2);
      return;
    }
    const buf = this.buf;
    const end = this.end;
    let p = this.p + 1;
    for (let i = 0; ; i++) {
      let c = buf[p] as number;
      while (p < end && (c === SPACE || c === TAB || c === CR)) c = buf[++p] as number;
      if (p >= end) this.cutAt(p);
      if (c === CLOSE_BRACKET && i === 0) {
        p++;
        break;
      }
      if (c === MINUS || (c >= ZERO && c <= NINE)) {
        const q = plainNumberEnd(buf, p);
        if (q > 0 && q < end) {
          into.push(p, q, 0);
          p = q;
        } else {
          this.p = p;
          into.push(p, this.num(), 0);
          p = this.p;
        }
      } else if (c === 110) {
        this.p = p;
        this.literal();
        into.push(-1, -1, 0);
        p = this.p;
      } else {
        this.p = p;
        this.bad(field, `${path}[${i}]: expected a number or null`);
        this.value(3);
        into.push(-1, -1, 0);
        p = this.p;
      }
      c = buf[p] as number;
      while (p < end && (c === SPACE || c === TAB || c === CR)) c = buf[++p] as number;
      if (p >= end) this.cutAt(p);
      p++;
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA) {
        this.p = p - 1;
        this.syntax("expected ',' or ']'");
      }
    }
    this.p = p;
  }

  /** `reasons`: per id an array of strings or null; kept as raw JSON spans. */
  private reasonList(): void {
    const into = this.lists.reasons;
    into.n = 0;
    this.state[F_REASONS] = OK;
    if (this.peek() !== OPEN_BRACKET) {
      this.bad(F_REASONS, 'output.reasons: expected an array');
      this.value(2);
      return;
    }
    this.p++;
    if (this.peek() === CLOSE_BRACKET) {
      this.p++;
      return;
    }
    for (let i = 0; ; i++) {
      const c = this.peek();
      const s = this.p;
      if (c === OPEN_BRACKET) {
        this.stringList(F_REASONS, undefined, `output.reasons[${i}]`, false);
        into.push(s, this.p, 0);
      } else if (c === 110 && this.literal() === 110) into.push(-1, -1, 0);
      else {
        this.bad(F_REASONS, `output.reasons[${i}]: expected an array of strings or null`);
        this.value(3);
        into.push(-1, -1, 0);
      }
      const d = this.peek();
      this.p++;
      if (d === CLOSE_BRACKET) return;
      if (d !== COMMA) this.syntax("expected ',' or ']'");
    }
  }

  private top(): void {
    this.object(this.topEntry);
  }

  /** Kind, key and schema checks once the whole line is read. */
  private check(): number {
    const st = this.state;
    const out = st[F_OUTPUT] === OK;
    let kind: number;
    if (out && (st[F_THEME] !== ABSENT || st[F_THEME_SCORES] !== ABSENT)) kind = KIND_THEMES;
    else if (
      (out && (st[F_USERS_LIST] !== ABSENT || st[F_REC_USERS] !== ABSENT)) ||
      st[F_TOP_ATTRS] !== ABSENT ||
      (st[F_INPUT] === OK && st[F_ATTRS] !== ABSENT && st[F_USER] === ABSENT && st[F_ITEM] === ABSENT)
    )
      kind = KIND_SEGMENT;
    else if (st[F_INPUT] === OK && st[F_ITEM_LIST] !== ABSENT) kind = KIND_RANKING;
    else kind = KIND_RECOMMENDATIONS;
    this.kind = kind;
    if (st[F_ERROR] === OK) return this.errorLine();

    // Every schema: input is an object; output an object or null.
    if (st[F_INPUT] === BAD) return this.fieldProblem(F_INPUT);
    if (st[F_OUTPUT] === BAD) return this.fieldProblem(F_OUTPUT);
    const input = st[F_INPUT] === OK;

    let key = KEY_NONE;
    let span = -1;
    if (kind === KIND_SEGMENT) {
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
    } else {
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
    }
    this.setKey(key, span);
    if (!out) {
      return this.invalid(
        st[F_OUTPUT] === NULL ? 'output: null while error is null' : 'output: missing (and no error)',
      );
    }

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

/** Lists that sit beside recommendedItems in output. */
const OUTPUT_LISTS = new Set(['scores', 'reasons', 'itemsThemeRelevanceScores']);

/** A key's text from its first byte to its closing quote, for a message (at most 40 bytes). */
function keyText(buf: Uint8Array, s: number, end: number): string {
  let e = s;
  while (e < end && e - s < 40 && buf[e] !== QUOTE) e++;
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('utf8');
}

/** Bytes a string scan passes over: not a quote, backslash or control character. */
const STRING_PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) if (c !== QUOTE && c !== BACKSLASH && c !== COMMA) STRING_PLAIN[c] = 1;
const DIGIT = new Uint8Array(256);
for (let c = ZERO; c <= NINE; c++) DIGIT[c] = 1;

/**
 * The end of a well-formed number at p followed by , ] } or a space; -1
 * for anything else (the caller then runs the full scanner for the error).
 */
function plainNumberEnd(buf: Uint8Array, p: number): number {
  let q = p;
  if (buf[q] === MINUS) q++;
  let c = buf[q] as number;
  if (c === ZERO) q++;
  else if (c > ZERO && c <= NINE) {
    q++;
    while (DIGIT[buf[q] as number] === 1) q++;
  } else return -1;
  c = buf[q] as number;
  if (c === DOT) {
    q++;
    if (DIGIT[buf[q] as number] !== 1) return -1;
    while (DIGIT[buf[q] as number] === 1) q++;
    c = buf[q] as number;
  }
  if (c === 101 || c === 69) {
    q++;
    c = buf[q] as number;
    if (c === PLUS || c === MINUS) q++;
    if (DIGIT[buf[q] as number] !== 1) return -1;
    while (DIGIT[buf[q] as number] === 1) q++;
    c = buf[q] as number;
  }
  return c === COMMA || c === CLOSE_BRACKET || c === CLOSE_BRACE || c === SPACE || c === TAB || c === CR
    ? q
    : -1;
}

export function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** A JSON string's content (between the quotes, escapes included) as its value. */
export function decodeString(buf: Uint8Array, start: number, end: number): string {
  return JSON.parse(`"${Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8')}"`);
}

function decodeKey(buf: Uint8Array, start: number, end: number): string {
  return decodeString(buf, start, end);
}

/**
 * The canonical bytes of a JSON string's content: what JSON.stringify
 * writes between the quotes. A string without escapes is already canonical
 * (a raw quote, backslash or control character cannot occur in it); one
 * with escapes is decoded and re-encoded, so `\u00e9` and `é` are one key.
 */
export function canonicalString(buf: Uint8Array, start: number, end: number, escaped: boolean): Buffer {
  const view = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
  if (!escaped) return view;
  return Buffer.from(JSON.stringify(decodeString(buf, start, end)).slice(1, -1));
}
