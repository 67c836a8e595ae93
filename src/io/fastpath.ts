import { hashBytes } from '../core/byteset.js';
import { Utf8Check } from '../core/encoding.js';
import { RecordSplitter } from '../core/lines.js';
import type { OptionNames } from '../core/option-names.js';
import { NULL_MARKERS } from '../core/validate.js';
import { PbError } from '../errors.js';
import type { Deduper } from './dedupe.js';
import { wholeLines } from './input.js';
import { notUtf8, type Row, type RowShape, type RowSource, rowShapeOf, toRows } from './rows.js';

/**
 * The byte-level path for the most common job: one id column of a CSV, TSV
 * or plain-text list, no filters, into `{"userId":"..."}` lines. It finds
 * the column in one scan of each line and writes output bytes directly,
 * never decoding the input into strings. A line it cannot handle byte-wise
 * (a quote anywhere in its chunk, an id outside printable ASCII or needing
 * JSON escapes, a bad field count, an empty or over-long id) is handed to
 * the general path as a Row, in place, so output order and errors are the
 * same either way; test/stages/prepare/fastpath.test.ts holds it to a csv-parse oracle.
 * An `@` in an id goes the general way too unless e-mail ids are allowed,
 * and every piece is checked to be UTF-8 before it is scanned.
 */

export interface FastPlan {
  /** The source as the row reader opened it: format, delimiter, header records, shape. */
  src: RowSource;
  /** Index of the id column. */
  column: number;
  field: 'userId' | 'itemId';
  maxLineLength: number;
  /** Ids with an `@` may pass (else they take the general path, which refuses them). */
  allowEmailIds: boolean;
  /** Option names for messages. */
  names: OptionNames;
}

export interface FastCounts {
  recordsRead: number;
  written: number;
  blankLines: number;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const AT = 64;
const APOSTROPHE = 39;
const HASH = 35;
const PLUS = 43;
const ZERO = 48;
const DOT = 46;

/** The null markers idDamage refuses, by length, as bytes. */
const MARKERS: Buffer[][] = [];
for (const m of NULL_MARKERS) {
  const list = MARKERS[m.length] ?? [];
  list.push(Buffer.from(m));
  MARKERS[m.length] = list;
}

/**
 * Bytes an id may hold on the byte path: printable ASCII but `"` and `\\`
 * (JSON escapes) and `+` (6,78901E+09); `@` only where e-mail ids are
 * allowed. One table load a byte: six comparisons a byte cost 0.1 s a
 * million lines here.
 */
const ID_OK = new Uint8Array(256);
for (let c = 32; c <= 126; c++) ID_OK[c] = 1;
for (const c of [QUOTE, BACKSLASH, PLUS, AT]) ID_OK[c] = 0;
const ID_OK_WITH_AT = Uint8Array.from(ID_OK);
ID_OK_WITH_AT[AT] = 1;

/**
 * Whether an id the byte loop passed must still go to the general path (to
 * be refused or checked there): a spreadsheet's `'` or `#` first, a null
 * marker (NULL, None, nan, -), a whole number written as a decimal (1001.0),
 * the header's own name (files joined with cat).
 */
function rareLook(seg: Buffer, fs: number, fe: number, headerId: Buffer | undefined): boolean {
  const first = seg[fs] as number;
  if (first === APOSTROPHE || first === HASH) return true;
  if (isNullMarker(seg, fs, fe)) return true;
  if (seg[fe - 1] === ZERO) {
    let k = fe - 1;
    while (k > fs && seg[k] === ZERO) k--;
    if (seg[k] === DOT) return true;
  }
  return headerId !== undefined && fe - fs === headerId.length && sameBytes(seg, fs, headerId);
}

function isNullMarker(seg: Buffer, fs: number, fe: number): boolean {
  const list = MARKERS[fe - fs];
  return list?.some((m) => sameBytes(seg, fs, m)) === true;
}

/** Whether `seg` holds `b` at `at`: a byte loop, as Buffer.equals on a subarray cost 0.07 s a million lines here. */
function sameBytes(seg: Buffer, at: number, b: Buffer): boolean {
  let k = 0;
  while (k < b.length && seg[at + k] === b[k]) k++;
  return k === b.length;
}
const MAX_ID = 256;

function lineTooLong(maxLine: number, file: string, line: number): PbError {
  return new PbError('PB_PARSE', `line longer than ${maxLine} characters (--max-line-length)`, {
    file,
    line,
  });
}

/** Whether the fast path can serve a source of this shape. */
export function fastPathApplies(src: RowSource): boolean {
  return (
    (src.format === 'plain' || src.format === 'csv' || src.format === 'tsv') &&
    src.simpleHeader &&
    !src.crOnly &&
    (src.delimiter === null || src.delimiter.charCodeAt(0) < 128)
  );
}

/** Why scan() stopped before the end of the segment. */
const DONE = 0;
const SLOW_LINE = 1;
const WAIT = 2;

/**
 * The per-line loop, synchronous so V8 optimises it as a plain function (in
 * the async generator it ran at half the speed). It stops, with its place
 * kept, when a line needs the general path or the dedupe has to wait for disk.
 */
class Scanner {
  out: Buffer = Buffer.allocUnsafe(256 * 1024);
  at = 0;
  pos = 0;
  line = 1;
  /** Records still to skip: the header, and a `sep=` line before it. */
  skipHeader: number;
  /** Set on SLOW_LINE: the line's bounds and number. */
  slowStart = 0;
  slowEnd = 0;
  slowLine = 0;
  /** Set on WAIT. */
  wait: Promise<boolean> | undefined;
  waitLen = 0;
  private readonly delim: number;
  /** Which bytes an id may hold on this path (`@` only when e-mail ids are allowed). */
  private readonly idOk: Uint8Array;
  /** The id column's name in the header: a row holding it may be the header again. */
  private readonly headerId: Buffer | undefined;
  private readonly width: number;
  private readonly prefix: Buffer;
  private readonly suffix: Buffer;

  constructor(
    private readonly plan: FastPlan,
    private readonly dedupe: Deduper | undefined,
    private readonly counts: FastCounts,
  ) {
    this.delim = plan.src.delimiter === null ? -1 : plan.src.delimiter.charCodeAt(0);
    this.idOk = plan.allowEmailIds ? ID_OK_WITH_AT : ID_OK;
    const name = plan.src.namedHeader ? plan.src.header?.[plan.column] : undefined;
    this.headerId = name === undefined ? undefined : Buffer.from(name.trim());
    this.width = plan.src.shape.count;
    this.prefix = Buffer.from(`{"${plan.field}":"`);
    this.suffix = Buffer.from('"}\n');
    this.skipHeader = plan.src.headerRecords;
    this.line = plan.src.firstLine;
    if (dedupe) dedupe.derive = { prefix: this.prefix, suffix: this.suffix };
  }

  /** Makes room for len more output bytes. */
  ensure(len: number): void {
    if (this.at + len <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(this.out.length * 2 + len);
    this.out.copy(bigger, 0, 0, this.at);
    this.out = bigger;
  }

  scan(seg: Buffer): number {
    const n = seg.length;
    const { delim, width, idOk, headerId, prefix, suffix, dedupe, counts } = this;
    const col = this.plan.column;
    const maxLine = this.plan.maxLineLength;
    this.ensure(n + prefix.length * 64 + 4096);
    let out = this.out;
    let at = this.at;
    let p = this.pos;
    while (p < n) {
      const start = p;
      let f = 0;
      let fs = start;
      let fe = -1;
      let i = start;
      for (; i < n; i++) {
        const c = seg[i] as number;
        if (c === LF) break;
        if (c === delim) {
          if (f === col) fe = i;
          f++;
          if (f === col) fs = i + 1;
        }
      }
      let end = i;
      if (end > start && seg[end - 1] === CR) end--;
      if (fe === -1) fe = f === col ? end : fs;
      const lineNo = this.line++;
      p = i + 1;
      let b = start;
      while (b < end && (seg[b] === SPACE || seg[b] === TAB || seg[b] === CR)) b++;
      if (b === end) {
        counts.blankLines++;
        continue;
      }
      if (end - start > maxLine) throw lineTooLong(maxLine, this.plan.src.file, lineNo);
      if (this.skipHeader > 0) {
        this.skipHeader--;
        continue;
      }
      counts.recordsRead++;
      while (fs < fe && (seg[fs] === SPACE || seg[fs] === TAB)) fs++;
      while (fe > fs && (seg[fe - 1] === SPACE || seg[fe - 1] === TAB)) fe--;
      let plain = f + 1 === width && fe > fs && fe - fs <= MAX_ID;
      for (let k = fs; plain && k < fe; k++) if (idOk[seg[k] as number] === 0) plain = false;
      // The rarer looks, out of the loop and only for ids that could need them (see rareLook).
      if (
        plain &&
        (MARKERS[fe - fs] !== undefined ||
          seg[fe - 1] === ZERO ||
          seg[fs] === APOSTROPHE ||
          seg[fs] === HASH ||
          (headerId !== undefined && fe - fs === headerId.length && seg[fs] === headerId[0]))
      )
        plain = !rareLook(seg, fs, fe, headerId);
      if (!plain) return this.stopForSlowLine(at, p, start, end, lineNo);
      const len = prefix.length + (fe - fs) + suffix.length;
      if (at + len > out.length) out = this.grow(at, len);
      // Byte loops: Buffer.copy's argument checks cost more than these few bytes.
      let o = at;
      for (let k = 0; k < prefix.length; k++) out[o++] = prefix[k] as number;
      for (let k = fs; k < fe; k++) out[o++] = seg[k] as number;
      for (let k = 0; k < suffix.length; k++) out[o++] = suffix[k] as number;
      if (dedupe) {
        const keep = dedupe.addDerived(seg, fs, fe, hashBytes(seg, fs, fe));
        if (keep === false) continue;
        if (keep !== true) return this.stopToWait(at, p, keep, len);
      }
      at += len;
      counts.written++;
    }
    this.at = at;
    this.pos = p;
    return DONE;
  }

  /** The output buffer grown for len more bytes after `at` (the scan's own place, kept in a local, is saved first). */
  private grow(at: number, len: number): Buffer {
    this.at = at;
    this.ensure(len);
    return this.out;
  }

  /** Keeps the scan's place and the bounds of a line for the general path. */
  private stopForSlowLine(at: number, pos: number, start: number, end: number, line: number): number {
    this.at = at;
    this.pos = pos;
    this.slowStart = start;
    this.slowEnd = end;
    this.slowLine = line;
    return SLOW_LINE;
  }

  /** Keeps the scan's place while the dedupe looks a key up on disk; the line's `len` output bytes stay written past `at`. */
  private stopToWait(at: number, pos: number, wait: Promise<boolean>, len: number): number {
    this.at = at;
    this.pos = pos;
    this.wait = wait;
    this.waitLen = len;
    return WAIT;
  }

  /** The output so far, handed over; a new buffer takes its place (the old may still be queued for writing). */
  take(): Buffer | undefined {
    if (this.at === 0) return undefined;
    const done = this.out.subarray(0, this.at);
    this.out = Buffer.allocUnsafe(this.out.length);
    this.at = 0;
    return done;
  }
}

/**
 * One source on the byte path: chunks with no quote go through the Scanner,
 * the lines it hands over and chunks with a quote through the record
 * splitter and `slow`, each in its place so the output keeps the input order.
 */
class FastSource {
  private readonly sc: Scanner;
  private readonly splitter: RecordSplitter;
  private readonly shape: RowShape;
  private readonly file: string;

  constructor(
    private readonly plan: FastPlan,
    dedupe: Deduper | undefined,
    private readonly counts: FastCounts,
    private readonly slow: (rows: Row[]) => Promise<string>,
  ) {
    this.file = plan.src.file;
    this.shape = rowShapeOf(plan.src);
    this.sc = new Scanner(plan, dedupe, counts);
    this.splitter = new RecordSplitter({
      delimiter: plan.src.delimiter,
      maxRecordLength: plan.maxLineLength,
      file: this.file,
    });
    this.splitter.keepFields(plan.column + 1);
  }

  /** The error for a line past the limit; none inside an open quote. */
  overlong(): PbError | undefined {
    // A record inside an open quote may run on; the splitter bounds it itself.
    return this.splitter.hasPending
      ? undefined
      : lineTooLong(this.plan.maxLineLength, this.file, this.sc.line);
  }

  /** The line a byte at the start of the next piece is on. */
  readingLine(): number {
    const splitter = this.splitter;
    return splitter.hasPending ? splitter.nextLine + splitter.pendingLines : this.sc.line;
  }

  /** One piece of whole lines (`final`: the end of the input, which closes the splitter). */
  async *segment(seg: Buffer, final: boolean): AsyncGenerator<Buffer | string> {
    const sc = this.sc;
    if (this.splitter.hasPending || seg.indexOf(QUOTE) !== -1) {
      const text = await this.viaSplitter(seg, final);
      if (text !== '') yield text;
      return;
    }
    sc.pos = 0;
    for (;;) {
      const status = sc.scan(seg);
      if (status === DONE) break;
      if (status === SLOW_LINE) {
        await this.slowLine(seg);
        continue;
      }
      if (await sc.wait) {
        sc.at += sc.waitLen;
        this.counts.written++;
      }
    }
    const done = sc.take();
    if (done) yield done;
  }

  /** The line the Scanner stopped at, through the general path, its output written in place. */
  private async slowLine(seg: Buffer): Promise<void> {
    const sc = this.sc;
    const delimChar = this.plan.src.delimiter;
    const text = seg.toString('utf8', sc.slowStart, sc.slowEnd);
    const fields = delimChar === null ? [text] : text.split(delimChar);
    const lines = await this.slow(
      toRows([{ line: sc.slowLine, fields, count: fields.length }], this.shape, this.file),
    );
    if (lines !== '') {
      // In place, so the output keeps the input order.
      const len = Buffer.byteLength(lines);
      sc.ensure(len);
      sc.at += sc.out.write(lines, sc.at);
    }
  }

  /** Whole lines of text through the general path (quotes can span lines). */
  private async viaSplitter(seg: Buffer, final: boolean): Promise<string> {
    const { sc, splitter, counts } = this;
    splitter.nextLine = sc.line;
    const before = splitter.blankLines;
    const parsed = splitter.push(seg.toString('utf8'));
    if (final) parsed.push(...splitter.end());
    counts.blankLines += splitter.blankLines - before;
    sc.line = splitter.nextLine;
    while (sc.skipHeader > 0 && parsed.length > 0) {
      parsed.shift();
      sc.skipHeader--;
    }
    counts.recordsRead += parsed.length;
    return parsed.length > 0 ? this.slow(toRows(parsed, this.shape, this.file)) : '';
  }
}

/**
 * Yields output chunks (Buffers from the fast path, strings from `slow`).
 * `slow` runs the general per-row logic (build, validate, dedupe, rejects).
 */
export async function* fastLines(
  raw: AsyncIterable<Buffer>,
  plan: FastPlan,
  dedupe: Deduper | undefined,
  counts: FastCounts,
  slow: (rows: Row[]) => Promise<string>,
): AsyncGenerator<Buffer | string> {
  const source = new FastSource(plan, dedupe, counts, slow);
  const pieces = wholeLines(raw, plan.maxLineLength, () => source.overlong());
  let first = true;
  const check = new Utf8Check();
  for await (let piece of pieces) {
    if (first) {
      // The first piece starts at byte 0, whole first line included, so a BOM is all there.
      first = false;
      if (piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf) piece = piece.subarray(3);
    }
    const bad = check.push(piece);
    if (bad >= 0)
      throw notUtf8(plan.src.file, piece, bad, source.readingLine(), plan.names, {
        utf8Before: check.nonAscii,
      });
    yield* source.segment(piece, false);
  }
  // Ends a record still open in the splitter (or reports its unclosed quote).
  yield* source.segment(Buffer.alloc(0), true);
}
