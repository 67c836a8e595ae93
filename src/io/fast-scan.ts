import { hashBytes } from '../core/byteset.js';
import { NULL_MARKERS } from '../core/cell-values.js';
import { IdCut } from '../core/idcut.js';
import { PbError } from '../errors.js';

/**
 * The fast path's per-line loop over whole lines of bytes, on its own so a
 * worker thread can run it over a byte range of a file (fast-parallel.ts)
 * with the same rules, byte for byte, as the main thread.
 */

/** What the Scanner needs of a source, as plain data (a worker gets a copy). */
export interface ScanPlan {
  file: string;
  /** The delimiter's byte, -1 for a plain list. */
  delim: number;
  /** Index of the id column, and the fields a line must have. */
  column: number;
  width: number;
  field: 'userId' | 'itemId';
  maxLineLength: number;
  /** Ids with an `@` may pass (else they take the general path, which refuses them). */
  allowEmailIds: boolean;
  /** The id column's name in the header: a row holding it may be the header again. */
  headerId: string | undefined;
  /** Records to skip first (the header, a `sep=` line), and the first line's number. */
  headerRecords: number;
  firstLine: number;
}

export interface FastCounts {
  recordsRead: number;
  written: number;
  blankLines: number;
}

/** Where the Scanner sends each plain id: the Deduper, or a worker's partitions. */
export interface KeySink {
  derive: { prefix: Buffer; suffix: Buffer } | undefined;
  /** Every key goes to disk: addDerived never answers true (nor a promise of true). */
  readonly diskOnly: boolean;
  addDerived(kbuf: Uint8Array, ks: number, ke: number, hash: number): boolean | Promise<boolean>;
  /** Records cut and grouped by partition in WebAssembly (core/idcut.ts), when every key goes to disk. */
  addGrouped?(src: Uint8Array, ends: Int32Array, recs: Int32Array): Promise<void> | undefined;
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

/** Whether rareLook must look: a cheap first test on the id's length, first and last byte. */
function mayLookRare(seg: Buffer, fs: number, fe: number, headerId: Buffer | undefined): boolean {
  return (
    MARKERS[fe - fs] !== undefined ||
    seg[fe - 1] === ZERO ||
    seg[fs] === APOSTROPHE ||
    seg[fs] === HASH ||
    (headerId !== undefined && fe - fs === headerId.length && seg[fs] === headerId[0])
  );
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

export function lineTooLong(maxLine: number, file: string, line: number): PbError {
  return new PbError('PB_PARSE', `line longer than ${maxLine} characters (--max-line-length)`, {
    file,
    line,
  });
}

/** Why scan() stopped before the end of the segment. */
export const DONE = 0;
export const SLOW_LINE = 1;
export const WAIT = 2;

/**
 * The per-line loop, synchronous so V8 optimises it as a plain function (in
 * the async generator it ran at half the speed). It stops, with its place
 * kept, when a line needs the general path or the dedupe has to wait for disk.
 */
export class Scanner {
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
  /** The WebAssembly cut for held records, made on first use, and the piece it holds. */
  private cut: IdCut | undefined;
  private loaded: Buffer | undefined;

  constructor(
    private readonly plan: ScanPlan,
    private readonly dedupe: KeySink | undefined,
    private readonly counts: FastCounts,
  ) {
    this.delim = plan.delim;
    this.idOk = plan.allowEmailIds ? ID_OK_WITH_AT : ID_OK;
    this.headerId = plan.headerId === undefined ? undefined : Buffer.from(plan.headerId);
    this.width = plan.width;
    this.prefix = Buffer.from(`{"${plan.field}":"`);
    this.suffix = Buffer.from('"}\n');
    this.skipHeader = plan.headerRecords;
    this.line = plan.firstLine;
    if (dedupe) dedupe.derive = { prefix: this.prefix, suffix: this.suffix };
  }

  /** Makes room for len more output bytes. */
  ensure(len: number): void {
    if (this.at + len <= this.out.length) return;
    const bigger = Buffer.allocUnsafe(this.out.length * 2 + len);
    this.out.copy(bigger, 0, 0, this.at);
    this.out = bigger;
  }

  /** Scans from `pos` to the end of `seg` (whole lines); DONE there, or why it stopped first. */
  scan(seg: Buffer): number {
    const sink = this.dedupe;
    if (sink?.diskOnly === true && sink.addGrouped) return this.scanHeld(seg, sink);
    return this.scanLines(seg, seg.length);
  }

  /**
   * scan() when every record goes to disk: the lines the cut takes in
   * WebAssembly (core/idcut.ts), grouped by partition, and each line it
   * leaves through scanLines alone, so every record reaches its partition
   * in input order either way.
   */
  private scanHeld(seg: Buffer, sink: KeySink): number {
    this.cut ??= new IdCut({
      delim: this.delim,
      column: this.plan.column,
      width: this.width,
      maxLineLength: this.plan.maxLineLength,
      idOk: this.idOk,
      markers: MARKERS.flat(),
      headerId: this.headerId,
    });
    const cut = this.cut;
    // The caller starts each new piece at 0; after a wait it passes the same piece again.
    if (seg !== this.loaded || this.pos === 0) {
      cut.load(seg);
      this.loaded = seg;
    }
    const n = seg.length;
    while (this.pos < n) {
      if (this.skipHeader === 0) {
        const stop = cut.cut(this.pos);
        this.line += cut.lines;
        this.counts.recordsRead += cut.lines;
        this.pos = stop;
        const w = cut.lines > 0 ? sink.addGrouped?.(cut.records, cut.ends, cut.recs) : undefined;
        if (w)
          return this.stopToWait(
            this.at,
            stop,
            w.then(() => false),
            0,
          );
        if (stop >= n) break;
      }
      const lf = seg.indexOf(LF, this.pos);
      const status = this.scanLines(seg, lf === -1 ? n : lf + 1);
      if (status !== DONE) return status;
    }
    return DONE;
  }

  /** The per-line loop over seg[pos, limit), limit a line's end. */
  private scanLines(seg: Buffer, limit: number): number {
    const n = limit;
    const { delim, width, idOk, headerId, prefix, suffix, dedupe, counts } = this;
    const col = this.plan.column;
    const maxLine = this.plan.maxLineLength;
    const held = dedupe?.diskOnly === true;
    if (!held) this.ensure(n + prefix.length * 64 + 4096);
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
      if (end - start > maxLine) {
        // Where it is, for a worker that leaves the line to the main thread.
        this.slowStart = start;
        this.slowLine = lineNo;
        throw lineTooLong(maxLine, this.plan.file, lineNo);
      }
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
      if (plain && mayLookRare(seg, fs, fe, headerId)) plain = !rareLook(seg, fs, fe, headerId);
      if (!plain) return this.stopForSlowLine(at, p, start, end, lineNo);
      if (held) {
        // Every record goes to disk and its line is rebuilt from the key later: nothing to write now.
        const kept = (dedupe as KeySink).addDerived(seg, fs, fe, hashBytes(seg, fs, fe));
        if (kept !== false) return this.stopToWait(at, p, kept as Promise<boolean>, 0);
        continue;
      }
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
