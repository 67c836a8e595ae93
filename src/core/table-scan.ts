/**
 * The byte loop of a join table's rows (the users file of `export
 * --users`): each line of a CSV or TSV split into fields by scanning its
 * bytes, the key trimmed and offered to a filter before any string is made.
 * Most rows of a CRM file are users the outputs never name, and strings per
 * row cost 6 µs a row through the general row reader. Rows with anything the
 * loop does not settle byte-wise (a field count unlike the header's, text
 * after a closing quote, a key with a character past ASCII at its edge, the
 * header's first name again) are handed back for the general row logic, in
 * place; a quoted field with a line break in it hands the rest of the piece
 * to the record splitter. test/io/table-rows.test.ts holds the loop to the
 * general path on random files.
 */

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const WANTED = -2;

/** Why scan() stopped before the end of the piece. */
export const SCAN_DONE = 0;
/** A line for the general path: its bounds and number are in slowStart, slowEnd, slowLine. */
export const SCAN_SLOW_LINE = 1;
/** A quoted line break: the piece from slowStart on goes through the record splitter. */
export const SCAN_SPLIT = 2;
/** A row to take: key bounds in keyStart/keyEnd, line in rowLine; fieldText(c) reads a column. */
export const SCAN_ROW = 3;
/** A row without a key (empty once trimmed), on rowLine. */
export const SCAN_NO_KEY = 4;

export interface TableScanPlan {
  /** The delimiter's byte (ASCII). */
  delimiter: number;
  /** Fields a row has in the header. */
  width: number;
  /** The key's field. */
  key: number;
  /** The fields to read, in output order. */
  columns: readonly number[];
  /** The header's first name, trimmed, as bytes: a row starting with it may be the header again. */
  headerFirst: Buffer | undefined;
  /** Records to skip first (the header, and Excel's `sep=` line before it). */
  headerRecords: number;
  /** The first line's number. */
  firstLine: number;
  /** A longer line goes to the general path (which counts characters, not bytes). */
  maxLineLength: number;
}

export class TableScanner {
  pos = 0;
  line: number;
  skipHeader: number;
  blankLines = 0;
  rows = 0;
  slowStart = 0;
  slowEnd = 0;
  slowLine = 0;
  /** Past the slow line's LF (or the piece's end): its raw text is [slowStart, slowRawEnd). */
  slowRawEnd = 0;
  keyStart = 0;
  keyEnd = 0;
  rowLine = 0;
  /** Where the line of the row (or keyless row) just returned starts in the piece. */
  rowStart = 0;
  /** Each field's bounds in the piece (quoted fields: inside the quotes), and whether it holds `""`. */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly doubled: Uint8Array;
  private seg: Buffer = Buffer.alloc(0);
  /** The piece has no quote: a line's key can be found without splitting the line. */
  private noQuote = false;

  constructor(
    readonly plan: TableScanPlan,
    /** Whether a key (its bytes) is one to read. */
    private readonly want: (buf: Uint8Array, start: number, end: number) => boolean,
  ) {
    this.line = plan.firstLine;
    this.skipHeader = plan.headerRecords;
    this.starts = new Int32Array(plan.width);
    this.ends = new Int32Array(plan.width);
    this.doubled = new Uint8Array(plan.width);
  }

  /** The text of field `f` of the row just returned (SCAN_ROW). */
  fieldText(f: number): string {
    const s = this.seg.toString('utf8', this.starts[f], this.ends[f]);
    return this.doubled[f] === 1 ? s.replaceAll('""', '"') : s;
  }

  /**
   * Copies field `f` of the row just returned (SCAN_ROW) to out[at] as the
   * UTF-8 of fieldText(f) (`""` made `"`), with no string; returns the new
   * end. out needs room for the field's bytes in the piece.
   */
  copyField(f: number, out: Uint8Array, at: number): number {
    const seg = this.seg;
    const e = this.ends[f] as number;
    let o = at;
    if (this.doubled[f] === 1) {
      // Inside a quoted field every quote is one of a pair.
      for (let k = this.starts[f] as number; k < e; k++) {
        const b = seg[k] as number;
        out[o++] = b;
        if (b === QUOTE) k++;
      }
    } else for (let k = this.starts[f] as number; k < e; k++) out[o++] = seg[k] as number;
    return o;
  }

  /** Where field `f` of the row just returned starts in the piece, when those bytes are its text (no `""` to undo); else -1. */
  fieldStart(f: number): number {
    return this.doubled[f] === 1 ? -1 : (this.starts[f] as number);
  }

  /** Where that field ends in the piece. */
  fieldEnd(f: number): number {
    return this.ends[f] as number;
  }

  /** The bytes field `f` of the row just returned takes in the piece. */
  fieldBytes(f: number): number {
    return (this.ends[f] as number) - (this.starts[f] as number);
  }

  /** Starts on a new piece (whole lines). */
  begin(seg: Buffer): void {
    this.seg = seg;
    this.pos = 0;
    this.noQuote = seg.indexOf(QUOTE) === -1;
  }

  /**
   * Scans the piece from `pos` until a row to take, a line for the general
   * path, or the end; call again to go on.
   */
  scan(): number {
    const seg = this.seg;
    const n = seg.length;
    const { width } = this.plan;
    const { starts, ends, doubled } = this;
    let p = this.pos;
    while (p < n) {
      let asked = false;
      if (this.noQuote && this.skipHeader === 0) {
        const next = this.skipUnwanted(seg, p, n);
        if (next >= 0) {
          p = next;
          continue;
        }
        asked = next === WANTED;
      }
      const start = p;
      const i = this.splitFields(seg, start, n);
      if (i < 0) {
        // A quoted line break (or an unclosed quote at the end): the splitter's work.
        this.slowStart = start;
        this.pos = start;
        return SCAN_SPLIT;
      }
      const f = this.fields;
      const bad = this.bad;
      let end = i;
      if (end > start && seg[end - 1] === CR) end--;
      const lineNo = this.line++;
      p = i + 1;
      this.pos = p;
      let b = start;
      while (b < end && (seg[b] === SPACE || seg[b] === TAB || seg[b] === CR)) b++;
      if (b === end) {
        this.blankLines++;
        continue;
      }
      if (this.skipHeader > 0) {
        this.skipHeader--;
        continue;
      }
      this.rows++;
      // A CR ending the last line without its LF: the general path's own rule for it.
      const crAtEnd = i >= n && end < i;
      if (bad || crAtEnd || f !== width || end - start > this.plan.maxLineLength || this.mayBeHeader(seg))
        return this.slow(start, end, lineNo);
      const k = this.plan.key;
      let ks = starts[k] as number;
      let ke = ends[k] as number;
      while (ks < ke && (seg[ks] === SPACE || seg[ks] === TAB)) ks++;
      while (ke > ks && (seg[ke - 1] === SPACE || seg[ke - 1] === TAB)) ke--;
      if (ks === ke) {
        this.rowLine = lineNo;
        this.rowStart = start;
        return SCAN_NO_KEY;
      }
      // Other white space at an edge (JavaScript's trim takes it, and NBSP), or `""` in the key: the general path.
      const first = seg[ks] as number;
      const last = seg[ke - 1] as number;
      if (first < 33 || first > 126 || last < 33 || last > 126 || doubled[k] === 1)
        return this.slow(start, end, lineNo);
      // skipUnwanted asked already.
      if (!asked && !this.want(seg, ks, ke)) continue;
      this.keyStart = ks;
      this.keyEnd = ke;
      this.rowLine = lineNo;
      this.rowStart = start;
      return SCAN_ROW;
    }
    this.pos = p;
    return SCAN_DONE;
  }

  /** Fields of the last splitFields line, and whether text followed a closing quote. */
  private fields = 0;
  private bad = false;

  /**
   * Splits the line at `start` into fields (bounds in starts/ends); returns
   * where it ends (its LF, or n), or -1 for a quoted line break.
   */
  private splitFields(seg: Buffer, start: number, n: number): number {
    const { delimiter, width } = this.plan;
    const { starts, ends, doubled } = this;
    let f = 0;
    let i = start;
    let bad = false;
    // One field a turn; i ends on the delimiter, the LF or n.
    for (;;) {
      if (seg[i] === QUOTE) {
        let j = i + 1;
        let dbl = 0;
        for (;;) {
          while (j < n && seg[j] !== QUOTE && seg[j] !== LF) j++;
          if (j >= n || seg[j] === LF) return -1;
          if (seg[j + 1] === QUOTE) {
            dbl = 1;
            j += 2;
            continue;
          }
          break;
        }
        if (f < width) {
          starts[f] = i + 1;
          ends[f] = j;
          doubled[f] = dbl;
        }
        i = j + 1;
        const c = seg[i];
        if (i < n && c !== delimiter && c !== LF && !(c === CR && seg[i + 1] === LF)) bad = true;
        while (i < n && seg[i] !== delimiter && seg[i] !== LF) i++;
      } else {
        let j = i;
        while (j < n && seg[j] !== delimiter && seg[j] !== LF) j++;
        if (f < width) {
          starts[f] = i;
          ends[f] = j > i && seg[j - 1] === CR && (j >= n || seg[j] === LF) ? j - 1 : j;
          doubled[f] = 0;
        }
        i = j;
      }
      f++;
      if (i >= n || seg[i] === LF) break;
      i++; // the delimiter
      if (i >= n) {
        if (f < width) {
          starts[f] = n;
          ends[f] = n;
          doubled[f] = 0;
        }
        f++;
        break;
      }
    }
    this.fields = f;
    this.bad = bad;
    return i;
  }

  /**
   * A line of a piece without quotes whose key `want` refuses, skipped on
   * sight: its key found, its end by indexOf, no other field split. Such a
   * row is not checked either (its field count): the export never uses it.
   * Returns where the next line starts, or -1 for the full look (WANTED:
   * the same, the key asked for and wanted).
   */
  private skipUnwanted(seg: Buffer, start: number, n: number): number {
    const { delimiter, key } = this.plan;
    let i = start;
    for (let f = 0; f < key; f++) {
      while (i < n && seg[i] !== delimiter && seg[i] !== LF) i++;
      if (i >= n || seg[i] === LF) return -1;
      i++;
    }
    let ks = i;
    while (i < n && seg[i] !== delimiter && seg[i] !== LF) i++;
    let ke = i;
    if (ke > ks && seg[ke - 1] === CR) ke--;
    while (ks < ke && (seg[ks] === SPACE || seg[ks] === TAB)) ks++;
    while (ke > ks && (seg[ke - 1] === SPACE || seg[ke - 1] === TAB)) ke--;
    if (ks === ke) return -1;
    const first = seg[ks] as number;
    const last = seg[ke - 1] as number;
    if (first < 33 || first > 126 || last < 33 || last > 126) return -1;
    if (this.want(seg, ks, ke)) return WANTED;
    const nl = i < n && seg[i] === LF ? i : seg.indexOf(LF, i);
    this.line++;
    this.rows++;
    return nl === -1 ? n : nl + 1;
  }

  private slow(start: number, end: number, line: number): number {
    this.slowRawEnd = this.pos;
    this.slowStart = start;
    this.slowEnd = end;
    this.slowLine = line;
    return SCAN_SLOW_LINE;
  }

  /** Whether the first field, trimmed, is the header's first name (toRows then tells a repeated header). */
  private mayBeHeader(seg: Buffer): boolean {
    const h = this.plan.headerFirst;
    if (!h) return false;
    let s = this.starts[0] as number;
    let e = this.ends[0] as number;
    while (s < e && (seg[s] === SPACE || seg[s] === TAB)) s++;
    while (e > s && (seg[e - 1] === SPACE || seg[e - 1] === TAB)) e--;
    if (e - s !== h.length) return false;
    for (let k = 0; k < h.length; k++) if (seg[s + k] !== h[k]) return false;
    return true;
  }
}
