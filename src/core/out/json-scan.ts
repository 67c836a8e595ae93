import { SPAN_COMMA, SPAN_ESCAPED } from './line-shapes.js';
import { decodeString } from './strings.js';

/**
 * A complete, strict JSON scanner over the bytes of one line (RFC 8259
 * grammar, escapes, numbers, depth limit) that checks and skips values
 * and tells where strings and numbers are, building nothing. The line
 * parser builds on it (line-fields.ts keeps the fields, line-parser.ts
 * judges the line); a syntax error sets `problem` and unwinds with SYNTAX.
 */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-byte loops below cannot afford.
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

/** Thrown inside the parser to unwind on a JSON syntax error; caught in parse(). */
export const SYNTAX = { syntax: true };

/** The scanner's place in the line, and the grammar. */
export class JsonScanner {
  /** Why the line is invalid (LINE_INVALID); `file:line: ` is the caller's. */
  problem = '';
  /** The line ended inside the JSON value (a cut-off line, such as the last of an interrupted download). */
  truncated = false;

  protected buf: Uint8Array = new Uint8Array(0);
  protected end = 0;
  protected p = 0;
  protected start = 0;
  // Set by str().
  protected strStart = 0;
  protected strEsc = 0;

  protected syntax(what: string): never {
    this.problem = `not valid JSON: ${what} at byte ${this.p - this.start + 1}`;
    throw SYNTAX;
  }

  private cutOff(): never {
    this.truncated = true;
    this.problem = 'truncated: the line ends inside the JSON value (an interrupted download?)';
    throw SYNTAX;
  }

  protected ws(): void {
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
  protected peek(): number {
    this.ws();
    if (this.p >= this.end) this.cutOff();
    return this.buf[this.p] as number;
  }

  private expect(c: number, what: string): void {
    if (this.peek() !== c) this.syntax(`expected ${what}`);
    this.p++;
  }

  /** A string at p (on its opening quote): returns the end of its content; strStart and strEsc (SPAN_* flags) set. */
  protected str(): number {
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
  protected num(): number {
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
  protected literal(): number {
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
  protected value(depth: number): void {
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
  protected object(entry: (ks: number, ke: number, esc: number) => void): void {
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

  protected keyIs(ks: number, ke: number, esc: number, name: Uint8Array): boolean {
    if (esc) return decodeKey(this.buf, ks, ke) === Buffer.from(name).toString();
    if (ke - ks !== name.length) return false;
    const buf = this.buf;
    for (let i = 0; i < name.length; i++) if (buf[ks + i] !== name[i]) return false;
    return true;
  }

  protected cutAt(p: number): never {
    this.p = p;
    this.cutOff();
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

export function isSpace(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function decodeKey(buf: Uint8Array, start: number, end: number): string {
  return decodeString(buf, start, end);
}
