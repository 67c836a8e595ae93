import { WASM_BASE64 } from './key-scan-wasm.js';
import { KEY_ITEM, KEY_NONE, KEY_USER, KIND_RECOMMENDATIONS, SPAN_COMMA, Spans } from './line-shapes.js';

/**
 * A line's key and lists without the full parse (OutLineParser tries it
 * first on every line, `export --since` keys lines with it): a scan over
 * the raw bytes that knows the line shapes the service writes,
 *
 *   {"input":{"userId"|"itemId":"K"},"output":{"recommendedItems":[...]
 *    [,"scores":[...]]},"error":null}
 *
 * with no whitespace and no escapes, and checks every byte of them (string
 * bytes, the number grammar, scores no more than ids). It accepts a line
 * only when OutLineParser would call it LINE_OK with the same kind, key,
 * ids and scores; anything else, valid or not, it refuses and the caller
 * parses the line in full, so verdicts, messages and line numbers stay the
 * parser's. test/core/out/key-scan.test.ts holds the two to the same spans
 * on real, odd and broken lines. About half the parser's time: one pass
 * and no field dispatch.
 *
 * Reads past `end` only on a line it then refuses: every byte of an
 * accepted line lies before the tail, which must end exactly at `end`.
 */

// Byte values, local to this module (an imported binding is read through its module cell at every use).
const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const PLUS = 43;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const CLOSE_BRACKET = 93;

/** String bytes the scan passes over: not a quote, backslash, comma (flagged) or control character. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) if (c !== QUOTE && c !== 92 && c !== COMMA) PLAIN[c] = 1;
const DIGIT = new Uint8Array(256);
for (let c = ZERO; c <= NINE; c++) DIGIT[c] = 1;

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const HEAD = bytes('{"input":{"');
const USER = bytes('userId":"');
const ITEM = bytes('itemId":"');
const MID = bytes('},"output":{"recommendedItems":[');
const SCORES = bytes(',"scores":[');
const TAIL = bytes('},"error":null}');
/** The shortest line of the shape: empty key, no ids, no scores. */
const SHORTEST = HEAD.length + USER.length + 1 + MID.length + 1 + TAIL.length;

/** A literal (4 bytes or more) as little-endian 32-bit words: at 0, 4, 8, ... and one ending it (it may overlap). */
function wordsOf(lit: Uint8Array): Uint32Array {
  const v = new DataView(lit.buffer, lit.byteOffset, lit.byteLength);
  const n = lit.length >> 2;
  const w = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) w[i] = v.getUint32(i * 4, true);
  w[n] = v.getUint32(lit.length - 4, true);
  return w;
}
const HEAD_W = wordsOf(HEAD);
const USER_W = wordsOf(USER);
const ITEM_W = wordsOf(ITEM);
const MID_W = wordsOf(MID);
const SCORES_W = wordsOf(SCORES);
const TAIL_W = wordsOf(TAIL);

/**
 * Whether the literal of `length` bytes (as wordsOf's words) is at p, compared 4 bytes at a time:
 * the literals are a sixth of a usual line. The caller makes sure p + length is within the view.
 */
function at(v: DataView, p: number, length: number, w: Uint32Array): boolean {
  const n = length >> 2;
  for (let i = 0; i < n; i++) if (v.getUint32(p + i * 4, true) !== w[i]) return false;
  return v.getUint32(p + length - 4, true) === w[n];
}

/** What scan() found, named as OutLineParser's fields so either feeds DeltaKeys. */
export class KeyScan {
  readonly kind = KIND_RECOMMENDATIONS;
  keyField = KEY_NONE;
  keyStart = 0;
  keyEnd = 0;
  /** Always false: a key with escapes is refused. */
  readonly keyEscaped = false;
  /** Recommended ids (start, end, SPAN_COMMA or 0). */
  readonly ids = new Spans();
  /** Scores as printed (start, end, 0), or undefined when the line has none or they are not kept. */
  scores: Spans | undefined;
  private readonly scoreSpans = new Spans();
  private scoreCount = 0;
  /** The buffer of the last scan and a DataView of it, for the literals' word compares. */
  private viewed: Uint8Array | undefined;
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  /** keepScores false: scores are checked and counted, not kept (a tenth of the scan's time). */
  constructor(private readonly keepScores = true) {}

  /** buf[start, end) (one line without its break): true when the line is of the known shape, the fields set. */
  scan(buf: Uint8Array, start: number, end: number): boolean {
    // The tables as locals: a module binding is read through its cell at every use (15% more instructions).
    const plain = PLAIN;
    if (buf !== this.viewed) {
      this.viewed = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const v = this.view;
    if (end - start < SHORTEST || !at(v, start, HEAD.length, HEAD_W)) return false;
    let p = start + HEAD.length;
    if (at(v, p, USER.length, USER_W)) this.keyField = KEY_USER;
    else if (at(v, p, ITEM.length, ITEM_W)) this.keyField = KEY_ITEM;
    else return false;
    p += USER.length;
    this.keyStart = p;
    let c = buf[p] as number;
    while (plain[c] === 1 || c === COMMA) c = buf[++p] as number;
    if (c !== QUOTE) return false;
    this.keyEnd = p;
    if (p + 1 + MID.length > end || !at(v, p + 1, MID.length, MID_W)) return false;
    p = this.idList(buf, p + 1 + MID.length);
    if (p < 0) return false;
    this.scores = undefined;
    if (buf[p] === COMMA) {
      if (p + SCORES.length > end || !at(v, p, SCORES.length, SCORES_W)) return false;
      p = this.scoreList(buf, p + SCORES.length);
      if (p < 0 || this.scoreCount > this.ids.n) return false;
      if (this.keepScores) this.scores = this.scoreSpans;
    }
    return p + TAIL.length === end && at(v, p, TAIL.length, TAIL_W);
  }

  /** Strings from after `[` to past `]`: the place after it, or -1. */
  private idList(buf: Uint8Array, from: number): number {
    const plain = PLAIN;
    const ids = this.ids;
    let data = ids.data;
    let k = 0;
    let p = from;
    if (buf[p] === CLOSE_BRACKET) {
      ids.n = 0;
      return p + 1;
    }
    for (;;) {
      if (buf[p] !== QUOTE) return -1;
      const s = ++p;
      let flags = 0;
      let c = buf[p] as number;
      for (;;) {
        while (plain[c] === 1) c = buf[++p] as number;
        if (c !== COMMA) break;
        flags = SPAN_COMMA;
        c = buf[++p] as number;
      }
      if (c !== QUOTE) return -1;
      if (k + 3 > data.length) {
        ids.n = k / 3;
        ids.grow();
        data = ids.data;
      }
      data[k] = s;
      data[k + 1] = p;
      data[k + 2] = flags;
      k += 3;
      c = buf[++p] as number;
      p++;
      if (c === COMMA) continue;
      if (c === CLOSE_BRACKET) break;
      return -1;
    }
    ids.n = k / 3;
    return p;
  }

  /** JSON numbers (the grammar's every rule) from after `[` to past `]`: the place after it, or -1. */
  private scoreList(buf: Uint8Array, from: number): number {
    const digit = DIGIT;
    const into = this.scoreSpans;
    const keep = this.keepScores;
    into.n = 0;
    this.scoreCount = 0;
    let p = from;
    if (buf[p] === CLOSE_BRACKET) return p + 1;
    for (let n = 1; ; n++) {
      const s = p;
      let c = buf[p] as number;
      if (c === MINUS) c = buf[++p] as number;
      if (c === ZERO) c = buf[++p] as number;
      else if (c > ZERO && c <= NINE) {
        do c = buf[++p] as number;
        while (digit[c] === 1);
      } else return -1;
      if (c === DOT) {
        c = buf[++p] as number;
        if (digit[c] !== 1) return -1;
        do c = buf[++p] as number;
        while (digit[c] === 1);
      }
      if (c === 101 || c === 69) {
        c = buf[++p] as number;
        if (c === PLUS || c === MINUS) c = buf[++p] as number;
        if (digit[c] !== 1) return -1;
        do c = buf[++p] as number;
        while (digit[c] === 1);
      }
      if (keep) into.push(s, p, 0);
      p++;
      if (c === COMMA) continue;
      if (c !== CLOSE_BRACKET) return -1;
      this.scoreCount = n;
      return p;
    }
  }
}

/** key-scan.wat's memory layout: the window, then a record of 16 i32s a line, then group()'s counts, ends and lines. */
const CAP = 0x200000;
const RECS = 0x210000;
const MAX_RECS = 0x4000;
const COUNTS = 0x310000;
const ENDS = 0x310400;
const OUT = 0x311000;
const OUT_END = 0x565000;

interface WasmKeys {
  memory: WebAssembly.Memory;
  keys(len: number, atEnd: number, top: number, maxRecs: number, lazy: number): number;
  strict(i: number, top: number): number;
  group(from: number, to: number, type: number, n0: number): number;
}

/** group()'s result: partition i's lines are src[ends[i - 1], ends[i]), recs[i] of them (PartitionSet.writeGrouped). */
export interface GroupedLines {
  readonly src: Uint8Array;
  readonly ends: Int32Array;
  readonly recs: Int32Array;
}

let wasmModule: WebAssembly.Module | undefined;

/**
 * The same scan over every line of a piece at once, in WebAssembly
 * (key-scan.wat), with what `export --since` then needs of an accepted
 * line: its key's hash (byteset.ts hashBytes) and the digest of its first
 * `top` ids (delta.ts ListDigest, two words before hexInto). In JavaScript
 * the scan and the digest cost about 20 instructions a byte, two thirds of
 * the keys' pass. Lines it refuses are records too, for the parser; the
 * ids' spans and the scores are not kept (--since-scores takes KeyScan).
 */
export class KeyScanLines {
  private readonly wasm: WasmKeys;
  private readonly mem: Uint8Array;
  /** Record i is rec[16 i ...]: start, end, next, key start, key end, field, digest a, b, key hash, lazy. */
  private readonly rec: Int32Array;
  /** The window's place in the piece: records hold offsets into the window. */
  private base = 0;
  private readonly grouped: GroupedLines;

  constructor(private readonly top: number) {
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as WasmKeys;
    // Fixed size (its maximum is its minimum), so these views never go stale.
    const buf = this.wasm.memory.buffer;
    this.mem = new Uint8Array(buf);
    this.rec = new Int32Array(buf, RECS, MAX_RECS * 16);
    this.grouped = {
      src: new Uint8Array(buf, OUT, OUT_END - OUT),
      ends: new Int32Array(buf, ENDS, 256),
      recs: new Int32Array(buf, COUNTS, 256),
    };
  }

  /**
   * Records [from, to) of the last scan, each accepted (field() not
   * KEY_NONE), as `export --since`'s partition lines (delta/keys.ts: key,
   * TAB, `type`, the digest's words, n0 + the record's place in the run),
   * grouped by partition of 256 (the key hash's, seed 0), in record order
   * within each. The views are valid until the next scan or group.
   */
  group(from: number, to: number, type: number, n0: number): GroupedLines {
    this.wasm.group(from, to, type, n0);
    return this.grouped;
  }

  /**
   * Scans the lines of piece[from, end of piece) that fit a window: returns
   * how many (0: the line at `from` alone is longer than a window; scan it
   * with KeyScan), each read with the methods below; next(count - 1) is
   * where the next call starts. `lazy`: the scores counted, not read (see
   * lazy()); 'checked': a plain score list (digits, dots, commas) checked
   * by masks, any other read as numbers, the same records as a full scan.
   */
  scan(piece: Uint8Array, from: number, lazy: boolean | 'checked' = false): number {
    const len = Math.min(CAP, piece.length - from);
    this.mem.set(piece.subarray(from, from + len), 0);
    // No rule of the shape takes a 0 byte: the scan stops at the window's end.
    this.mem[len] = 0;
    this.base = from;
    const mode = lazy === 'checked' ? 2 : lazy ? 1 : 0;
    return this.wasm.keys(len, from + len === piece.length ? 1 : 0, this.top, MAX_RECS, mode);
  }

  /**
   * Whether record i of a `lazy` scan was taken with its scores counted
   * but not read as numbers (a run of number bytes and commas): a line
   * then taken that KeyScan would refuse is no valid line (its scores are
   * not JSON numbers). strict(i) reads them.
   */
  lazy(i: number): boolean {
    return this.rec[i * 16 + 9] === 1;
  }

  /** Whether KeyScan takes record i too (before the next scan): for a record lazy() took, its scores read. */
  strict(i: number): boolean {
    return this.wasm.strict(i, this.top) === 1;
  }

  /**
   * The window the last scan copied its lines into, and the piece offset of
   * its first byte: key i's bytes are window[keyStart(i) - base, keyEnd(i) - base).
   */
  get window(): Uint8Array {
    return this.mem;
  }
  get windowBase(): number {
    return this.base;
  }

  /** The line's first byte in the piece. */
  start(i: number): number {
    return (this.rec[i * 16] as number) + this.base;
  }
  /** Past its last byte, CR of CRLF left out. */
  end(i: number): number {
    return (this.rec[i * 16 + 1] as number) + this.base;
  }
  /** The next line's first byte. */
  next(i: number): number {
    return (this.rec[i * 16 + 2] as number) + this.base;
  }
  keyStart(i: number): number {
    return (this.rec[i * 16 + 3] as number) + this.base;
  }
  keyEnd(i: number): number {
    return (this.rec[i * 16 + 4] as number) + this.base;
  }
  /** KEY_USER or KEY_ITEM when the line is of the shape (KeyScan.scan would take it), else KEY_NONE. */
  field(i: number): number {
    return this.rec[i * 16 + 5] as number;
  }
  /** The digest's words, as ListDigest.hexInto writes them. */
  digestA(i: number): number {
    return (this.rec[i * 16 + 6] as number) >>> 0;
  }
  digestB(i: number): number {
    return (this.rec[i * 16 + 7] as number) >>> 0;
  }
  /** hashBytes of the key's bytes. */
  keyHash(i: number): number {
    return (this.rec[i * 16 + 8] as number) >>> 0;
  }
}

/** What DeltaKeys reads of a line: OutLineParser's fields after LINE_OK or LINE_ERROR, or KeyScan's. */
export interface KeyedLine {
  readonly kind: number;
  readonly keyField: number;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly keyEscaped: boolean;
  readonly ids: Spans;
  readonly scores: Spans | undefined;
}
