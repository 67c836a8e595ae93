import { getManyValues, isMany, none } from 'stream-chain/core';
import { Assembler } from 'stream-json/core/assembler.js';
import { jsonParser, type Token } from 'stream-json/core/parser.js';

/**
 * JSON that is not one object per line (objects spread over lines, several
 * on one line, or a top-level array of them) turned into compact one-value
 * lines, each with the line its value starts on. No stream code: push()
 * decoded text, then end(). Used by export's fallback for `.out` files and
 * by prepare for JSON inputs.
 */

/** Whole lines; `lineNumbers` (fallback path only) gives each line's number in the source. */
export interface LinesItem {
  kind: 'lines';
  bytes: Buffer;
  lineNumbers?: number[];
}

/** A value or line that could not be read: too long, or (fallback) not JSON. `line` unset means the next line. */
export interface BadItem {
  kind: 'bad';
  reason: string;
  text: string;
  line?: number;
}

export type OutItem = LinesItem | BadItem;

const LF = 10;
/** How much of a bad value's text an item keeps, for the message. */
export const BAD_TEXT_MAX = 1024;

export interface ConcatenatedJsonOptions {
  /** Bytes of compact lines gathered before a `lines` item is emitted. */
  pieceSize: number;
  /** Longest value in characters; a longer one becomes a `bad` item and is never held whole. */
  maxLineLength: number;
  /** The number of the first line fed (when lines before it were read elsewhere). Default 1. */
  firstLine?: number;
  /**
   * A top-level array stands for its elements: each element becomes a line
   * (prepare reads `[{...},{...}]` as records). Default false: the array is one value.
   */
  unwrapArray?: boolean;
}

/**
 * The fallback for input that is not one object per line: stream-json's
 * tokenizer (driven directly, one line of text at a time so every value
 * knows the line it starts on) and a writer that turns each top-level value
 * back into compact JSON, numbers as printed. After a syntax error it
 * resumes at the next line that starts with `{`.
 */
export class ConcatenatedJson {
  private parser = this.newParser();
  private line = 1;
  private depth = 0;
  /** 1 while inside a top-level array being unwrapped: its elements are the values. */
  private base = 0;
  /** Per open container: whether it is an array, and whether it has had an element. */
  private readonly isArray: boolean[] = [];
  private readonly hasItem: boolean[] = [];
  private text = '';
  private startLine = 0;
  private resync = false;
  private tooLong = false;
  private items: string[] = [];
  private itemBytes = 0;
  private lineNumbers: number[] = [];

  private readonly pieceSize: number;
  private readonly maxLineLength: number;
  private readonly unwrapArray: boolean;

  constructor(opts: ConcatenatedJsonOptions) {
    this.pieceSize = opts.pieceSize;
    this.maxLineLength = opts.maxLineLength;
    this.unwrapArray = opts.unwrapArray ?? false;
    this.line = opts.firstLine ?? 1;
  }

  private newParser() {
    return jsonParser({ jsonStreaming: true, streamValues: false });
  }

  /** Feeds decoded text; emits pieces of compact lines and bad values. */
  push(text: string, emit: (item: OutItem) => void): void {
    let p = 0;
    while (p < text.length) {
      const nl = text.indexOf('\n', p);
      const end = nl === -1 ? text.length : nl + 1;
      let seg = text.slice(p, end);
      if (this.resync) {
        // Resume only at a line that starts with an object.
        if (!this.atLineStart || seg[0] !== '{') seg = '';
        else this.resync = false;
      }
      if (seg !== '') this.feed(seg, emit);
      this.atLineStart = nl !== -1;
      if (nl !== -1) this.line++;
      p = end;
    }
  }

  private atLineStart = true;

  end(emit: (item: OutItem) => void): void {
    if (!this.resync) {
      let failure: unknown;
      try {
        this.tokens((this.parser as unknown as (v: typeof none) => unknown)(none), emit);
      } catch (err) {
        failure = err;
      }
      if (this.depth > this.base) {
        this.flush(emit);
        emit({
          kind: 'bad',
          line: this.startLine,
          reason: 'truncated: the input ends inside the JSON value (an interrupted download?)',
          text: this.text.slice(0, BAD_TEXT_MAX),
        });
        this.depth = 0;
      } else if (this.base > 0) {
        this.flush(emit);
        emit({
          kind: 'bad',
          line: this.line,
          reason: 'truncated: the input ends inside the top-level JSON array (no closing ])',
          text: '',
        });
        this.depth = 0;
      } else if (failure) this.fail(failure, emit);
      this.base = 0;
    }
    this.flush(emit);
  }

  private feed(seg: string, emit: (item: OutItem) => void): void {
    try {
      this.tokens(this.parser(seg), emit);
    } catch (err) {
      this.fail(err, emit, seg);
    }
  }

  /** `seg`: the line the parser stopped in, shown when none of the value was read before it. */
  private fail(err: unknown, emit: (item: OutItem) => void, seg = ''): void {
    this.flush(emit);
    const message = (err as Error).message.replace(/^Parser (cannot parse input|has expected)/i, (m) =>
      m.startsWith('Parser has') ? 'expected' : 'cannot parse',
    );
    emit({
      kind: 'bad',
      line: this.depth > this.base ? this.startLine : this.line,
      reason: `not valid JSON (${message}); skipped to the next line that starts with {`,
      // The value's text as read so far; empty when it broke in its first line (a user's trial got "").
      text: (this.text || seg.replace(/\r?\n$/, '')).slice(0, BAD_TEXT_MAX),
    });
    this.parser = this.newParser();
    this.depth = 0;
    this.base = 0;
    this.isArray.length = 0;
    this.hasItem.length = 0;
    this.text = '';
    this.resync = true;
    this.tooLong = false;
  }

  private tokens(result: unknown, emit: (item: OutItem) => void): void {
    if (result === none) return;
    const list = isMany(result) ? (getManyValues(result) as Token[]) : [result as Token];
    for (const t of list) this.token(t, emit);
  }

  private token(t: Token, emit: (item: OutItem) => void): void {
    switch (t.name) {
      case 'startObject':
      case 'startArray':
        if (t.name === 'startArray' && this.unwrapArray && this.depth === 0) {
          // The elements of a top-level array are the values; the array itself is not one.
          this.base = 1;
          this.depth = 1;
          this.isArray.push(true);
          this.hasItem.push(false);
          return;
        }
        this.valueStart();
        this.put(t.name === 'startObject' ? '{' : '[');
        this.isArray.push(t.name === 'startArray');
        this.hasItem.push(false);
        this.depth++;
        return;
      case 'endObject':
      case 'endArray':
        this.isArray.pop();
        this.hasItem.pop();
        this.depth--;
        if (this.depth < this.base) {
          this.base = 0;
          return;
        }
        this.put(t.name === 'endObject' ? '}' : ']');
        if (this.depth === this.base) this.done(emit);
        return;
      case 'keyValue': {
        const i = this.depth - 1;
        if (this.hasItem[i]) this.put(',');
        this.hasItem[i] = true;
        this.put(`${JSON.stringify(t.value)}:`);
        return;
      }
      case 'stringValue':
        this.scalar(JSON.stringify(t.value), emit);
        return;
      case 'numberValue':
        this.scalar(t.value, emit);
        return;
      case 'nullValue':
      case 'trueValue':
      case 'falseValue':
        this.scalar(String(t.value), emit);
        return;
      default:
        return;
    }
  }

  private valueStart(): void {
    if (this.depth === this.base) {
      this.startLine = this.line;
      this.text = '';
      this.tooLong = false;
      return;
    }
    const i = this.depth - 1;
    if (this.isArray[i]) {
      if (this.hasItem[i]) this.put(',');
      this.hasItem[i] = true;
    }
  }

  private scalar(text: string, emit: (item: OutItem) => void): void {
    this.valueStart();
    this.put(text);
    if (this.depth === this.base) this.done(emit);
  }

  private put(s: string): void {
    if (this.tooLong) return;
    this.text += s;
    if (this.text.length > this.maxLineLength) {
      this.tooLong = true;
      this.text = this.text.slice(0, BAD_TEXT_MAX);
    }
  }

  /** A top-level value is complete. */
  private done(emit: (item: OutItem) => void): void {
    if (this.tooLong) {
      this.flush(emit);
      emit({
        kind: 'bad',
        line: this.startLine,
        reason: `a JSON value longer than ${this.maxLineLength} characters (--max-line-length)`,
        text: this.text,
      });
    } else {
      const len = Buffer.byteLength(this.text) + 1;
      if (this.itemBytes + len > this.pieceSize) this.flush(emit);
      this.items.push(this.text);
      this.itemBytes += len;
      this.lineNumbers.push(this.startLine);
    }
    this.text = '';
    this.tooLong = false;
  }

  private flush(emit: (item: OutItem) => void): void {
    if (this.items.length === 0) return;
    const bytes = Buffer.allocUnsafeSlow(this.itemBytes);
    let at = 0;
    for (const s of this.items) {
      at += bytes.write(s, at);
      bytes[at++] = LF;
    }
    emit({ kind: 'lines', bytes, lineNumbers: this.lineNumbers });
    this.items = [];
    this.itemBytes = 0;
    this.lineNumbers = [];
  }
}

/** A run of 16 digits: a number that may be past 2^53, which JSON.parse rounds. */
const LONG_DIGITS = /\d{16}/;

/**
 * JSON.parse, but an integer past 2^53 (a 64-bit id such as mParticle's
 * mpid or an EAN) comes out as the string of its digits instead of a
 * rounded number. Only text with a run of 16 digits takes the slower
 * token path (stream-json's tokenizer and Assembler); a syntax error is
 * JSON.parse's, with its message.
 */
export function parseJsonExact(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!LONG_DIGITS.test(text)) return value;
  const tokenize = jsonParser({ jsonStreaming: false, streamValues: false }) as unknown as (
    chunk: string | typeof none,
  ) => unknown;
  const asm = new Assembler();
  const feed = (result: unknown) => {
    if (result === none) return;
    const list = isMany(result) ? (getManyValues(result) as Token[]) : [result as Token];
    for (const t of list) {
      if (t.name === 'numberValue' && /^-?\d+$/.test(t.value) && !Number.isSafeInteger(Number(t.value)))
        asm.consume({ name: 'stringValue', value: t.value });
      else asm.consume(t);
    }
  };
  feed(tokenize(text));
  feed(tokenize(none));
  return asm.current;
}
