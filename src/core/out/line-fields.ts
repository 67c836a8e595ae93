import { JsonScanner } from './json-scan.js';
import { SPAN_COMMA, Spans } from './line-shapes.js';

/**
 * The fields of a batch-output line that the output schemas name, read
 * as the scanner passes them: each field's state (absent, ok, bad, null,
 * and why when bad), the place of each string kept ([start, end) spans of
 * the line) and the id, score and reason lists. Nothing is judged here
 * beyond each field's own shape; line-parser.ts judges the line.
 */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-byte loops below cannot afford.
const TAB = 9;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const OPEN_BRACKET = 91;
const BACKSLASH = 92;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** The data of a list that is not kept (stringList without `into`); local for the reason above. */
const NO_SPANS = new Int32Array(0);

// Field states.
export const ABSENT = 0;
export const OK = 1;
export const BAD = 2;
export const NULL = 3;

// Fields whose state is tracked.
export const F_INPUT = 0;
export const F_USER = 1;
export const F_ITEM = 2;
export const F_ATTRS = 3;
export const F_ITEM_LIST = 4;
export const F_FILTERS = 5;
export const F_TOP_ATTRS = 6;
export const F_OUTPUT = 7;
export const F_REC_ITEMS = 8;
export const F_USERS_LIST = 9;
export const F_REC_USERS = 10;
export const F_SCORES = 11;
export const F_THEME_SCORES = 12;
export const F_THEME = 13;
export const F_REASONS = 14;
export const F_ERROR = 15;
export const FIELDS = 16;

// String spans (start, end, escaped) in `spans`.
export const S_USER = 0;
export const S_ITEM = 1;
export const S_ATTRS = 2;
export const S_TOP_ATTRS = 3;
export const S_THEME = 4;
export const S_ERROR = 5;
export const SPANS = 6;

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

/** The field states and kept spans of the last line; OutLineParser reads them to judge it. */
export class LineFieldReader extends JsonScanner {
  protected readonly state = new Uint8Array(FIELDS);
  /** Keys in the last `input` object: 0 is the empty input of the Popularity-Count example. */
  protected inputKeys = 0;
  protected readonly why: (string | undefined)[] = new Array(FIELDS);
  protected readonly spans = new Int32Array(SPANS * 3);
  protected readonly lists = {
    recItems: new Spans(),
    usersList: new Spans(),
    recUsers: new Spans(),
    scores: new Spans(),
    themeScores: new Spans(),
    reasons: new Spans(),
  };

  /** The message for a field: `path: reason`. */
  private bad(field: number, why: string): void {
    if (this.state[field] !== BAD) this.why[field] = why;
    this.state[field] = BAD;
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

  protected top(): void {
    this.object(this.topEntry);
  }
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
