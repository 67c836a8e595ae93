import { hashBytes } from '../../core/byteset.js';
import {
  canonicalString,
  KEY_ATTRIBUTES,
  KEY_NONE,
  KEY_USER,
  KeyScanLines,
  LINE_BLANK,
  LINE_ERROR,
  LINE_OK,
  OutLineParser,
} from '../../core/out-lines.js';
import type { PartitionSet } from '../../io/spill.js';
import { Bits } from './bits.js';
import { KeyScan, UNKNOWN } from './key-scan.js';
import { isBlank, LF } from './reading.js';

export const TYPE_OK = 79; // 'O'
export const TYPE_ERROR = 69; // 'E'
export const TYPE_INPUT = 73; // 'I'
/**
 * The worker thread's lines carry their type in lower case: its lines are
 * numbered apart (from 0, in its own files), and decide tells them apart by it.
 */
export const WORKER_TYPE = 32;
/**
 * Bytes a thread's partition set may have on their way to disk: without a cap, once keying
 * outran the disk (input lines, six times as many keys a megabyte), each of 256 files queued
 * its buffers, about 30 MB a thread at the peak RSS. 64 flushes of 32 KiB, as many as a set
 * keeps spare: no buffer is made anew.
 */
export const PARTS_IN_FLIGHT = 2 * 1024 * 1024;
const KEY_TAGS = [0, 117, 105, 97]; // '', 'u', 'i', 'a' for KEY_USER, KEY_ITEM, KEY_ATTRIBUTES

/** What outputs() gathers over a piece's lines. */
interface OutputsResult {
  lines: number;
  blank: number;
  problems: { index: number; reason: string; text: string }[];
  waits: Promise<void>[];
}

/**
 * Step 1's per-line work, synchronous over a piece: number every non-blank
 * line and write `tag+key TAB type+number` to its partition.
 */
export class Keyer {
  ordinal = 0;
  inputOrdinal = 0;
  blankLines = 0;
  errorLines = 0;
  inputWithoutKey = 0;
  withoutKey = 0;
  errorsWithoutKey = 0;
  /**
   * Lines without a key skip the partitions: with nothing to join or
   * deduplicate them by, each is kept, so its bit is set here.
   */
  readonly keepOut = new Bits();
  readonly keepError = new Bits();
  private readonly parser = new OutLineParser();
  private readonly scan = new KeyScan();
  /** The usual recommendation lines of a piece at once, in WebAssembly (top 0: the digest is not read). */
  private readonly lines = new KeyScanLines(0);
  private key = Buffer.allocUnsafe(1024);
  private readonly payload = Buffer.allocUnsafe(32);

  readonly typeOk: number;
  readonly typeError: number;
  private readonly typeInput: number;

  constructor(
    readonly parts: PartitionSet,
    private readonly maxLineLength: number,
    worker = false,
  ) {
    const t = worker ? WORKER_TYPE : 0;
    this.typeOk = TYPE_OK | t;
    this.typeError = TYPE_ERROR | t;
    this.typeInput = TYPE_INPUT | t;
  }

  outputs(piece: Buffer): {
    lines: number;
    blank: number;
    problems: { index: number; reason: string; text: string }[];
    wait: Promise<unknown> | undefined;
  } {
    const r: OutputsResult = { lines: 0, blank: 0, problems: [], waits: [] };
    const ls = this.lines;
    let p = 0;
    while (p < piece.length) {
      const n = ls.scan(piece, p);
      if (n === 0) {
        // A line longer than the scan's window, by itself.
        let nl = piece.indexOf(LF, p);
        if (nl === -1) nl = piece.length;
        this.line(piece, p, nl > p && piece[nl - 1] === 13 ? nl - 1 : nl, r);
        p = nl + 1;
        continue;
      }
      for (let i = 0; i < n; i++) {
        const s = ls.start(i);
        const e = ls.end(i);
        const field = ls.field(i);
        if (field === KEY_NONE || e - s > this.maxLineLength) this.line(piece, s, e, r);
        else {
          // A recommendation line of the usual shape, as the parser would judge it (core/out/key-scan.ts).
          r.lines++;
          const klen = this.setKey(field, piece, ls.keyStart(i), ls.keyEnd(i), false);
          const w = this.put(klen, this.typeOk, this.ordinal++);
          if (w) r.waits.push(w);
        }
      }
      p = ls.next(n - 1);
    }
    const { lines, blank, problems, waits } = r;
    return { lines, blank, problems, wait: waits.length > 0 ? Promise.all(waits) : undefined };
  }

  /** One line, piece[p, e): collect's quick scan (error lines too), else the full parser. */
  private line(piece: Buffer, p: number, e: number, r: OutputsResult): void {
    const index = r.lines++;
    const long = e - p > this.maxLineLength;
    const scan = this.scan;
    const quick = long ? UNKNOWN : scan.scan(piece, p, e);
    if (quick !== UNKNOWN) {
      const ord = this.ordinal++;
      if (quick === LINE_ERROR) this.errorLines++;
      const klen = this.setKey(scan.keyField, piece, scan.keyStart, scan.keyEnd, false);
      const w = this.put(klen, quick === LINE_OK ? this.typeOk : this.typeError, ord);
      if (w) r.waits.push(w);
      return;
    }
    const parser = this.parser;
    const status = long ? (isBlank(piece, p, e) ? LINE_BLANK : -1) : parser.parse(piece, p, e);
    if (status === LINE_BLANK) {
      r.blank++;
      this.blankLines++;
      return;
    }
    const ord = this.ordinal++;
    if (status === LINE_OK || status === LINE_ERROR) {
      if (status === LINE_ERROR) this.errorLines++;
      if (parser.keyField === KEY_NONE) this.keepWithoutKey(ord, status === LINE_ERROR);
      else {
        const klen = this.setKey(parser.keyField, piece, parser.keyStart, parser.keyEnd, parser.keyEscaped);
        const w = this.put(klen, status === LINE_OK ? this.typeOk : this.typeError, ord);
        if (w) r.waits.push(w);
      }
      return;
    }
    const reason =
      status === -1 ? `line longer than ${this.maxLineLength} bytes (--max-line-length)` : parser.problem;
    r.problems.push({ index, reason, text: piece.toString('utf8', p, Math.min(e, p + 65536)) });
  }

  private keepWithoutKey(ord: number, error: boolean): void {
    this.withoutKey++;
    if (error) {
      this.errorsWithoutKey++;
      this.keepError.set(ord);
    } else this.keepOut.set(ord);
  }

  /** Input lines: their key by a quick look at lines prepare writes, else JSON.parse. */
  inputs(seg: Buffer): Promise<unknown> | undefined {
    const waits: Promise<void>[] = [];
    let p = 0;
    const n = seg.length;
    while (p < n) {
      const quick = this.quickInput(seg, p, n, waits);
      if (quick >= 0) {
        p = quick + 1;
        continue;
      }
      let nl = seg.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && seg[nl - 1] === 13 ? nl - 1 : nl;
      if (!isBlank(seg, p, e)) {
        const ord = this.inputOrdinal++;
        const klen = this.inputKey(seg, p, e);
        if (klen < 0) this.inputWithoutKey++;
        else {
          const w = this.put(klen, this.typeInput, ord);
          if (w) waits.push(w);
        }
      }
      p = nl + 1;
    }
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  /**
   * A line as prepare writes it (`{"userId":"K"`, K with no escape), keyed before its end is
   * looked for: returns the index of its LF (or the piece's end), or -1 for any other line (left
   * to inputKey, which reads it the same way). An indexOf a line was most of an input line's cost.
   */
  private quickInput(seg: Buffer, s: number, n: number, waits: Promise<void>[]): number {
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const prefix = INPUT_PREFIXES[f] as Buffer;
      // Bytes past the line's end (LF, CR, or past the piece) never match the prefix.
      if (!startsWith(seg, s, prefix)) continue;
      let i = s + prefix.length;
      while (i < n && seg[i] !== 34 && seg[i] !== 92 && (seg[i] as number) >= 32) i++;
      if (i >= n || seg[i] !== 34) return -1;
      let nl = i + 1;
      while (nl < n && seg[nl] !== LF) nl++;
      const ord = this.inputOrdinal++;
      const w = this.put(this.setKey(f, seg, s + prefix.length, i, false), this.typeInput, ord);
      if (w) waits.push(w);
      return nl;
    }
    return -1;
  }

  private inputKey(seg: Buffer, s: number, e: number): number {
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const prefix = INPUT_PREFIXES[f] as Buffer;
      if (e - s <= prefix.length || !startsWith(seg, s, prefix)) continue;
      let i = s + prefix.length;
      while (i < e && seg[i] !== 34 && seg[i] !== 92 && (seg[i] as number) >= 32) i++;
      if (i < e && seg[i] === 34) return this.setKey(f, seg, s + prefix.length, i, false);
      break;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(seg.toString('utf8', s, e));
    } catch {
      return -1;
    }
    if (!obj || typeof obj !== 'object') return -1;
    const r = obj as Record<string, unknown>;
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const v = r[['', 'userId', 'itemId', 'itemAttributes'][f] as string];
      if (typeof v === 'string') {
        const canon = Buffer.from(JSON.stringify(v).slice(1, -1));
        return this.setKey(f, canon, 0, canon.length, false);
      }
    }
    return -1;
  }

  /** key = tag byte + canonical key bytes; returns its length. */
  private setKey(field: number, buf: Uint8Array, s: number, e: number, escaped: boolean): number {
    const bytes = escaped ? canonicalString(buf, s, e, true) : undefined;
    const len = (bytes ? bytes.length : e - s) + 1;
    if (this.key.length < len) this.key = Buffer.allocUnsafe(2 * len);
    this.key[0] = KEY_TAGS[field] as number;
    if (bytes) bytes.copy(this.key, 1);
    else for (let i = 0; i < e - s; i++) this.key[1 + i] = buf[s + i] as number;
    return len;
  }

  private put(klen: number, type: number, ordinal: number): Promise<void> | undefined {
    const payload = this.payload;
    payload[0] = type;
    // Digits by hand: String() and a latin1 write were a tenth of step 1.
    let digits = 1;
    for (let v = ordinal; v >= 10; v = Math.floor(v / 10)) digits++;
    let v = ordinal;
    for (let i = digits; i >= 1; i--) {
      payload[i] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
    const plen = 1 + digits;
    return this.parts.write(this.key, 0, klen, hashBytes(this.key, 0, klen), this.payload, 0, plen);
  }
}

const INPUT_PREFIXES = [
  Buffer.alloc(0),
  Buffer.from('{"userId":"'),
  Buffer.from('{"itemId":"'),
  Buffer.from('{"itemAttributes":"'),
];

/** A byte loop: Buffer.compare's checks cost more than these few bytes. */
function startsWith(buf: Uint8Array, s: number, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (buf[s + i] !== prefix[i]) return false;
  return true;
}
