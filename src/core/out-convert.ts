import type { Catalog } from './catalog.js';

import { csvCell } from './csv-cell.js';

// Exported here as before; it lives in its own module since the catalog renders its cells with it too.
export { csvCell };

import {
  canonicalString,
  decodeString,
  KEY_NAMES,
  KEY_NONE,
  KIND_NAMES,
  KIND_SEGMENT,
  KIND_THEMES,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  type OutKeyField,
  type OutKind,
  OutLineParser,
  SPAN_ESCAPED,
  type Spans,
} from './out-lines.js';

/**
 * Batch-output lines to export rows, on bytes: convert() takes a piece of
 * whole lines and returns the output bytes, the error lines and counts.
 * No stream code; the same class runs on the main thread and in the
 * conversion worker. Cells are copied from the line (scores exactly as
 * printed); only strings with JSON escapes are decoded. CSV is written by
 * hand (RFC 4180; formula neutralising as csv-stringify's `escape_formulas`)
 * because per-row arrays for csv-stringify cost several times the parse;
 * test/export.test.ts holds the bytes to csv-parse and to an oracle writer.
 */

export const EXPORT_FORMATS = ['csv-long', 'csv-wide', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The columns of an export, fixed by the first exported line (see sniffLayout). */
export interface Layout {
  kind: OutKind;
  keyField: OutKeyField;
  /** The recommended ids are users (segments), not items. */
  users: boolean;
  score: boolean;
  reason: boolean;
  theme: boolean;
}

export interface ConvertConfig {
  format: ExportFormat;
  layout: Layout | undefined;
  /** Ids per key, at most (0: all). */
  top: number;
  /** csv-wide: the number of item_i columns. */
  width: number;
  /** Neutralise text cells starting with = + - @ TAB CR (and their full-width forms) with a leading '. */
  escapeFormulas: boolean;
  /** CSV rows end in CRLF (RFC 4180) or LF. */
  crlf: boolean;
  /** Only validate and measure (csv-wide's first pass): no output. */
  measure: boolean;
  /** Stop at the first invalid line (on-invalid fail). */
  failFast: boolean;
  /** Catalog column names, joined per recommended item. */
  catalogColumns: string[];
  /** Longest line in bytes; a longer one is invalid. */
  maxLineLength: number;
  /**
   * csv-wide with a width guessed from the first lines: a wider line, or
   * one with a column the layout lacks, stops the piece with `overflow`
   * (the export then measures every line and starts again).
   */
  optimistic: boolean;
}

/** An invalid line: its 0-based index in the piece, the reason and (the start of) its text. */
export interface InvalidLine {
  index: number;
  reason: string;
  text: string;
  /** Only the first bytes of a long line are kept in `text`. */
  cut: boolean;
}

export interface ConvertCounts {
  /** Lines consumed, blank ones included. */
  lines: number;
  blank: number;
  /** Keys exported (lines with output). */
  records: number;
  /** Exported lines without a key (an empty input): their key cell is empty, null in jsonl. */
  withoutKey: number;
  /** Rows (csv-long: one per id; otherwise one per key). */
  rows: number;
  errorLines: number;
  catalogMissing: number;
  /** Lines with data the layout has no column for (scores, reasons, theme). */
  droppedScores: number;
  droppedReasons: number;
  droppedThemes: number;
  /** csv-wide measure: widest line, and what any line carried. */
  maxWidth: number;
  sawScores: boolean;
  sawReasons: boolean;
  sawTheme: boolean;
  /** The key field (KEY_*) of the first error line, for a header when no line has recommendations. */
  errorKey: number;
}

export interface ConvertResult extends ConvertCounts {
  out: Buffer;
  /** Error lines (error not null), each byte for byte as read, ending in LF (a CRLF source's CR dropped). */
  errors: Buffer;
  invalid: InvalidLine[];
  /** failFast and invalid[0] stopped the piece. */
  failed: boolean;
  /** optimistic, and a line did not fit the guessed width or layout. */
  overflow: boolean;
}

export function emptyCounts(): ConvertCounts {
  return {
    lines: 0,
    blank: 0,
    records: 0,
    withoutKey: 0,
    rows: 0,
    errorLines: 0,
    catalogMissing: 0,
    droppedScores: 0,
    droppedReasons: 0,
    droppedThemes: 0,
    maxWidth: 0,
    sawScores: false,
    sawReasons: false,
    sawTheme: false,
    errorKey: 0,
  };
}

/** Adds b's counts into a (max and or for the measures). */
export function addCounts(a: ConvertCounts, b: ConvertCounts): void {
  a.lines += b.lines;
  a.blank += b.blank;
  a.records += b.records;
  a.withoutKey += b.withoutKey;
  a.rows += b.rows;
  a.errorLines += b.errorLines;
  a.catalogMissing += b.catalogMissing;
  a.droppedScores += b.droppedScores;
  a.droppedReasons += b.droppedReasons;
  a.droppedThemes += b.droppedThemes;
  a.maxWidth = Math.max(a.maxWidth, b.maxWidth);
  a.sawScores ||= b.sawScores;
  a.sawReasons ||= b.sawReasons;
  a.sawTheme ||= b.sawTheme;
  if (a.errorKey === 0) a.errorKey = b.errorKey;
}

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;
const APOSTROPHE = 39;
const INVALID_TEXT_MAX = 64 * 1024;
const LINE_TOO_LONG = -1;

/** Whether raw UTF-8 bytes start like a formula: = + - @, or the full-width ＝ ＋ － ＠ (EF BC 9D/8B/8D/A0). */
function formulaStart(b: Uint8Array, s: number, e: number): boolean {
  if (s >= e) return false;
  const c = b[s] as number;
  if (c === 61 || c === 43 || c === 45 || c === 64) return true;
  if (c === 0xef && s + 2 < e && b[s + 1] === 0xbc) {
    const d = b[s + 2] as number;
    return d === 0x9d || d === 0x8b || d === 0x8d || d === 0xa0;
  }
  return false;
}

/**
 * The CSV header row (without its line end) for a layout. Every name is
 * distinct: related items and themes echo an `itemId` and recommend items,
 * so their key column is `source_item` (in csv-long and csv-wide alike), and
 * a catalog column named like one of ours gets a `catalog_` prefix.
 */
export function csvHeader(cfg: ConvertConfig, layout: Layout): string[] {
  const key = keyColumn(layout);
  const id = layout.users ? 'userId' : 'itemId';
  if (cfg.format === 'csv-long') {
    const h = [key, 'rank', id];
    if (layout.score) h.push('score');
    if (layout.reason) h.push('reason');
    if (layout.theme) h.push('theme');
    const taken = new Set(h);
    for (const c of cfg.catalogColumns) {
      let name = c;
      while (taken.has(name)) name = `catalog_${name}`;
      taken.add(name);
      h.push(name);
    }
    return h;
  }
  const n = cfg.width;
  const h: string[] = [key];
  if (layout.theme) h.push('theme');
  const numbered = (name: string) => {
    for (let i = 1; i <= n; i++) h.push(`${name}_${i}`);
  };
  numbered(layout.users ? 'user' : 'item');
  if (layout.score) numbered('score');
  if (layout.reason) numbered('reason');
  const taken = new Set(h);
  const clashes = (name: string) => {
    for (let i = 1; i <= n; i++) if (taken.has(`${name}_${i}`)) return true;
    return false;
  };
  for (const c of cfg.catalogColumns) {
    let name = c;
    while (clashes(name)) name = `catalog_${name}`;
    numbered(name);
    for (let i = 1; i <= n; i++) taken.add(`${name}_${i}`);
  }
  return h;
}

/** The key column's name: the echoed input field, except `source_item` where the rows also hold an itemId. */
function keyColumn(layout: Layout): string {
  return layout.keyField === 'itemId' && !layout.users ? 'source_item' : layout.keyField;
}

export function headerBytes(cfg: ConvertConfig, layout: Layout): Buffer {
  if (cfg.format === 'jsonl') return Buffer.alloc(0);
  const cells = csvHeader(cfg, layout).map((c) => csvCell(c, cfg.escapeFormulas));
  return Buffer.from(cells.join(',') + (cfg.crlf ? '\r\n' : '\n'));
}

/**
 * The layout from the exported lines (error null, output present) of a
 * piece: key column and id kind from the first such line; score, reason and
 * theme columns when any of them has one; and the widest of those lines.
 * Undefined when there is none. A line without a key (the empty input of
 * Popularity-Count) leaves the key column to the first line with one;
 * userId when the piece has none.
 */
export function sniffLayout(
  piece: Uint8Array,
  parser = new OutLineParser(),
): { layout: Layout; width: number } | undefined {
  let layout: Layout | undefined;
  let keyed = false;
  let width = 0;
  let p = 0;
  const n = piece.length;
  while (p < n) {
    let nl = piece.indexOf(LF, p);
    if (nl === -1) nl = n;
    const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
    if (parser.parse(piece, p, e) === 0) {
      const key = parser.keyField;
      const users = parser.kind === KIND_SEGMENT;
      if (!layout) {
        layout = {
          kind: KIND_NAMES[parser.kind] as OutKind,
          keyField: key === KEY_NONE ? 'userId' : (KEY_NAMES[key] as OutKeyField),
          users,
          score: false,
          reason: false,
          theme: false,
        };
        keyed = key !== KEY_NONE;
      } else if (!keyed && key !== KEY_NONE && users === layout.users) {
        layout.keyField = KEY_NAMES[key] as OutKeyField;
        keyed = true;
      }
      if ((key === KEY_NONE || KEY_NAMES[key] === layout.keyField) && users === layout.users) {
        layout.score ||= parser.scores !== undefined;
        layout.reason ||= parser.reasons !== undefined;
        layout.theme ||= parser.kind === KIND_THEMES;
        width = Math.max(width, parser.ids.n);
      }
    }
    p = nl + 1;
  }
  return layout && { layout, width };
}

/** Converts pieces of whole lines; keeps its buffers between calls. */
export class Converter {
  private readonly parser = new OutLineParser();
  private out: Buffer = Buffer.allocUnsafe(0);
  private outView: DataView = new DataView(new ArrayBuffer(0));
  /** The piece being converted, for word reads. */
  private srcView: DataView = new DataView(new ArrayBuffer(0));
  private keyView: DataView;
  private at = 0;
  private keyCell: Buffer = Buffer.allocUnsafe(1024);
  private keyLen = 0;
  private themeCell: Buffer = Buffer.allocUnsafe(1024);
  private themeLen = 0;
  private readonly eol: Buffer;
  private readonly idName: Buffer;
  private readonly idNameLength: number;
  private readonly idNameView: DataView;

  constructor(
    readonly cfg: ConvertConfig,
    private readonly catalog?: Catalog,
  ) {
    this.eol = Buffer.from(cfg.crlf ? '\r\n' : '\n');
    this.keyView = viewOf(this.keyCell);
    // Padded: copyWords reads up to 3 bytes past what it copies.
    this.idName = Buffer.alloc(16);
    this.idNameLength = this.idName.write(cfg.layout?.users ? '{"userId":"' : '{"itemId":"');
    this.idNameView = viewOf(this.idName);
  }

  /** Converts every line of the piece (whole lines; the last may lack its LF). */
  convert(piece: Buffer): ConvertResult {
    const cfg = this.cfg;
    const counts = emptyCounts();
    const invalid: InvalidLine[] = [];
    let errors: Buffer | undefined;
    let errorsAt = 0;
    // csv-long at 25 ids a line writes about 1.7 bytes per input byte; the
    // buffer grows if a line needs more (ensure()).
    this.setOut(this.outBuffer(cfg.measure ? 0 : piece.length * 2 + 4096));
    this.at = 0;
    this.srcView = viewOf(piece);
    const parser = this.parser;
    const layout = cfg.layout;
    const n = piece.length;
    let p = 0;
    let failed = false;
    let overflow = false;
    while (p < n) {
      let nl = piece.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
      const index = counts.lines++;
      const status = e - p > cfg.maxLineLength ? LINE_TOO_LONG : parser.parse(piece, p, e);
      if (status === LINE_BLANK) counts.blank++;
      else if (status === LINE_ERROR) {
        counts.errorLines++;
        if (counts.errorKey === 0) counts.errorKey = parser.keyField;
        if (!cfg.measure) {
          const len = e - p + 1;
          if (!errors || errorsAt + len > errors.length) {
            const bigger = Buffer.allocUnsafeSlow(Math.max(64 * 1024, 2 * (errorsAt + len)));
            if (errors) errors.copy(bigger, 0, 0, errorsAt);
            errors = bigger;
          }
          piece.copy(errors, errorsAt, p, e);
          errors[errorsAt + len - 1] = LF;
          errorsAt += len;
        }
      } else {
        let reason =
          status === LINE_INVALID
            ? parser.problem
            : status === LINE_TOO_LONG
              ? `line longer than ${cfg.maxLineLength} bytes (--max-line-length)`
              : '';
        if (!reason && layout) reason = this.mismatch(layout);
        if (!reason && !layout) reason = 'internal: no layout for an exported line';
        if (reason) {
          const cut = e - p > INVALID_TEXT_MAX;
          invalid.push({
            index,
            reason,
            text: piece.toString('utf8', p, cut ? p + INVALID_TEXT_MAX : e),
            cut,
          });
          if (cfg.failFast) {
            failed = true;
            break;
          }
        } else if (!this.line(piece, p, e, layout as Layout, counts)) {
          overflow = true;
          break;
        }
      }
      p = nl + 1;
    }
    return {
      ...counts,
      out: this.out.subarray(0, this.at),
      errors: errors ? errors.subarray(0, errorsAt) : Buffer.alloc(0),
      invalid,
      failed,
      overflow,
    };
  }

  /** Why an exported line does not fit the layout, or ''. */
  private mismatch(layout: Layout): string {
    const p = this.parser;
    const key = KEY_NAMES[p.keyField];
    if (p.keyField !== KEY_NONE && key !== layout.keyField) {
      return `input has ${key}, but this export's key column is ${layout.keyField} (from the first exported line)`;
    }
    if ((p.kind === KIND_SEGMENT) !== layout.users) {
      return `a ${KIND_NAMES[p.kind]} line among ${layout.kind} lines (the first exported line)`;
    }
    return '';
  }

  private ensure(len: number): void {
    if (this.at + len <= this.out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.out.length * 2, this.at + len + 64 * 1024));
    this.out.copy(bigger, 0, 0, this.at);
    this.setOut(bigger);
  }

  /** Output buffers that were written and handed back (see recycle()). */
  private readonly spare: ArrayBuffer[] = [];

  /**
   * Gives an output buffer back once its bytes are written, so the next
   * piece reuses its memory instead of touching fresh pages.
   */
  recycle(b: ArrayBuffer): void {
    if (this.spare.length < 4 && b.byteLength > 0) this.spare.push(b);
  }

  private outBuffer(size: number): Buffer {
    if (size === 0) return Buffer.alloc(0);
    for (let i = 0; i < this.spare.length; i++) {
      const ab = this.spare[i] as ArrayBuffer;
      if (ab.byteLength >= size) {
        this.spare.splice(i, 1);
        return Buffer.from(ab);
      }
    }
    return Buffer.allocUnsafeSlow(Math.max(64 * 1024, size));
  }

  private setOut(b: Buffer): void {
    this.out = b;
    this.outView = viewOf(b);
  }

  /** Writes one exported line; false when an optimistic csv-wide layout does not fit it. */
  private line(src: Buffer, s: number, e: number, layout: Layout, c: ConvertCounts): boolean {
    const p = this.parser;
    const cfg = this.cfg;
    const ids = p.ids;
    const count = cfg.top > 0 && ids.n > cfg.top ? cfg.top : ids.n;
    if (
      cfg.optimistic &&
      (count > cfg.width ||
        (p.scores !== undefined && !layout.score) ||
        (p.reasons !== undefined && !layout.reason) ||
        (p.themeStart >= 0 && !layout.theme))
    )
      return false;
    c.records++;
    if (p.keyField === KEY_NONE) c.withoutKey++;
    if (p.scores !== undefined) {
      c.sawScores = true;
      if (!layout.score) c.droppedScores++;
    }
    if (p.reasons !== undefined) {
      c.sawReasons = true;
      if (!layout.reason) c.droppedReasons++;
    }
    if (p.themeStart >= 0) {
      c.sawTheme = true;
      if (!layout.theme) c.droppedThemes++;
    }
    if (count > c.maxWidth) c.maxWidth = count;
    if (cfg.measure) return true;
    // One bound for everything the line writes, so no writer grows the
    // buffer mid-row: a decoded or canonical string is never longer than
    // its escaped JSON form, and a CSV cell adds at most 3 bytes (quotes and
    // the formula guard) to it; the line's own bytes (e - s) bound all ids,
    // scores, reasons and the theme together.
    const lineLen = e - s;
    const catalog = this.catalog;
    if (cfg.format === 'jsonl') {
      c.rows++;
      this.ensure(3 * lineLen + count * (48 + (catalog?.maxJsonBytes ?? 0)) + 128);
      this.jsonLine(src, layout, count, c);
      return true;
    }
    this.renderKey(src);
    if (layout.theme) this.renderTheme(src);
    const perRow =
      this.keyLen + this.themeLen + 32 + (catalog ? catalog.maxRecordBytes + catalog.columns : 0);
    if (cfg.format === 'csv-long') {
      c.rows += count;
      this.ensure(count * perRow + 3 * lineLen + 1024);
      this.longRows(src, layout, count, c);
    } else {
      c.rows++;
      this.ensure(perRow + cfg.width * (8 + (catalog?.columns ?? 0)) + count * perRow + 3 * lineLen + 1024);
      this.wideRow(src, layout, count, c);
    }
    return true;
  }

  /** The key as a CSV cell, rendered once per line into keyCell. */
  private renderKey(src: Buffer): void {
    const p = this.parser;
    const need = p.keyEnd - p.keyStart + 8;
    if (this.keyCell.length < need) {
      this.keyCell = Buffer.allocUnsafe(2 * need);
      this.keyView = viewOf(this.keyCell);
    }
    this.keyLen = this.cellInto(this.keyCell, 0, src, p.keyStart, p.keyEnd, p.keyEscaped);
  }

  private renderTheme(src: Buffer): void {
    const p = this.parser;
    if (p.themeStart < 0) {
      this.themeLen = 0;
      return;
    }
    const need = p.themeEnd - p.themeStart + 8;
    if (this.themeCell.length < need) this.themeCell = Buffer.allocUnsafe(2 * need);
    this.themeLen = this.cellInto(this.themeCell, 0, src, p.themeStart, p.themeEnd, p.themeEscaped);
  }

  /** Writes the JSON string content src[s, e) as a CSV text cell at dst[at]; returns the new end. */
  private cellInto(dst: Buffer, at: number, src: Uint8Array, s: number, e: number, escaped: boolean): number {
    if (escaped) {
      const text = csvCell(decodeString(src, s, e), this.cfg.escapeFormulas);
      return at + dst.write(text, at);
    }
    let o = at;
    if (this.cfg.escapeFormulas && formulaStart(src, s, e)) dst[o++] = APOSTROPHE;
    // Without escapes the bytes hold no quote, CR or LF: only a comma needs quoting.
    let comma = false;
    for (let k = s; k < e; k++) {
      const b = src[k] as number;
      if (b === COMMA) comma = true;
      dst[o++] = b;
    }
    if (comma) {
      dst.copyWithin(at + 1, at, o);
      dst[at] = QUOTE;
      o++;
      dst[o++] = QUOTE;
    }
    return o;
  }

  private longRows(src: Buffer, layout: Layout, count: number, c: ConvertCounts): void {
    const p = this.parser;
    const ids = p.ids.data;
    const scores = layout.score ? p.scores : undefined;
    const reasons = layout.reason ? p.reasons : undefined;
    const eol = this.eol;
    const key = this.keyCell;
    const klen = this.keyLen;
    const catalog = this.catalog;
    if (!reasons && !layout.reason && !layout.theme && !catalog) {
      this.longRowsPlain(src, count, layout.score, scores);
      return;
    }
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < count; i++) {
      const is = ids[i * 3] as number;
      const ie = ids[i * 3 + 1] as number;
      const escaped = ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
      // Byte loops: Buffer.copy's argument checks cost more than these short cells.
      for (let k = 0; k < klen; k++) out[at++] = key[k] as number;
      out[at++] = COMMA;
      at = writeInt(out, at, i + 1);
      out[at++] = COMMA;
      at = this.cellInto(out, at, src, is, ie, escaped);
      if (layout.score) {
        out[at++] = COMMA;
        if (scores && i < scores.n) {
          const ss = scores.data[i * 3] as number;
          const se = scores.data[i * 3 + 1] as number;
          for (let k = ss; k < se; k++) out[at++] = src[k] as number;
        }
      }
      if (layout.reason) {
        out[at++] = COMMA;
        if (reasons && i < reasons.n) at = this.reasonCell(out, at, src, reasons.data, i);
      }
      if (layout.theme) {
        out[at++] = COMMA;
        for (let k = 0; k < this.themeLen; k++) out[at++] = this.themeCell[k] as number;
      }
      if (catalog) {
        const item = layout.users ? -1 : catalog.lookup(src, is, ie, escaped);
        if (item < 0) c.catalogMissing++;
        for (let col = 0; col < catalog.columns; col++) {
          out[at++] = COMMA;
          if (item >= 0) at = catalog.copyCell(item, col, out, at);
        }
      }
      for (let k = 0; k < eol.length; k++) out[at++] = eol[k] as number;
    }
    this.at = at;
  }

  /**
   * longRows for the common layout (key, rank, id, score), every step
   * inline: this loop writes most of the bytes of a csv-long export.
   */
  private longRowsPlain(src: Buffer, count: number, withScore: boolean, scores: Spans | undefined): void {
    const ids = this.parser.ids.data;
    const sd = scores ? scores.data : NO_SPANS;
    const sn = scores ? scores.n : 0;
    const klen = this.keyLen;
    const guard = this.cfg.escapeFormulas;
    const crlf = this.cfg.crlf;
    const out = this.out;
    const dst = this.outView;
    const sv = this.srcView;
    const kv = this.keyView;
    // Spans ending this close to the end of the source view are copied byte by byte.
    const wordLimit = sv.byteLength - 3;
    let at = this.at;
    for (let i = 0; i < count; i++) {
      // Copies 4 bytes at a time (DataView, unaligned), running up to 3 bytes
      // past a cell into room the next cell overwrites: about 3x faster than
      // byte loops, and this loop writes most of a csv-long export.
      for (let k = 0; k < klen; k += 4) dst.setUint32(at + k, kv.getUint32(k, true), true);
      at += klen;
      // ",rank," as one 32-bit word for ranks under 100.
      if (i < 99) {
        dst.setUint32(at, RANK_WORDS[i] as number, true);
        at += i < 9 ? 3 : 4;
      } else {
        out[at++] = COMMA;
        at = writeInt(out, at, i + 1);
        out[at++] = COMMA;
      }
      const is = ids[i * 3] as number;
      const ie = ids[i * 3 + 1] as number;
      const flags = ids[i * 3 + 2] as number;
      if (flags !== 0) at = this.cellInto(out, at, src, is, ie, (flags & SPAN_ESCAPED) !== 0);
      else {
        if (guard && FORMULA_FIRST[src[is] as number] === 1 && formulaStart(src, is, ie))
          out[at++] = APOSTROPHE;
        if (ie <= wordLimit) {
          for (let k = is; k < ie; k += 4) dst.setUint32(at + k - is, sv.getUint32(k, true), true);
          at += ie - is;
        } else for (let k = is; k < ie; k++) out[at++] = src[k] as number;
      }
      if (withScore) {
        out[at++] = COMMA;
        if (i < sn) {
          const ss = sd[i * 3] as number;
          const se = sd[i * 3 + 1] as number;
          if (se <= wordLimit) {
            for (let k = ss; k < se; k += 4) dst.setUint32(at + k - ss, sv.getUint32(k, true), true);
            at += se - ss;
          } else for (let k = ss; k < se; k++) out[at++] = src[k] as number;
        }
      }
      if (crlf) {
        dst.setUint16(at, 0x0a0d, true);
        at += 2;
      } else out[at++] = LF;
    }
    this.at = at;
  }

  /** The reasons of id i as one cell: the strings joined with |. */
  private reasonCell(out: Buffer, at: number, src: Buffer, data: Int32Array, i: number): number {
    const rs = data[i * 3] as number;
    if (rs < 0) return at;
    const list = JSON.parse(src.toString('utf8', rs, data[i * 3 + 1] as number)) as string[];
    return at + out.write(csvCell(list.join('|'), this.cfg.escapeFormulas), at);
  }

  private wideRow(src: Buffer, layout: Layout, count: number, c: ConvertCounts): void {
    const p = this.parser;
    const width = this.cfg.width;
    const ids = p.ids.data;
    const catalog = this.catalog;
    const out = this.out;
    const dst = this.outView;
    const sv = this.srcView;
    const wordLimit = sv.byteLength - 3;
    const guard = this.cfg.escapeFormulas;
    let at = copyWords(
      out,
      dst,
      this.at,
      this.keyCell,
      this.keyView,
      0,
      this.keyLen,
      this.keyCell.length - 3,
    );
    if (layout.theme) {
      out[at++] = COMMA;
      for (let k = 0; k < this.themeLen; k++) out[at++] = this.themeCell[k] as number;
    }
    for (let i = 0; i < width; i++) {
      out[at++] = COMMA;
      if (i >= count) continue;
      const is = ids[i * 3] as number;
      const ie = ids[i * 3 + 1] as number;
      const flags = ids[i * 3 + 2] as number;
      if (flags !== 0) at = this.cellInto(out, at, src, is, ie, (flags & SPAN_ESCAPED) !== 0);
      else {
        if (guard && FORMULA_FIRST[src[is] as number] === 1 && formulaStart(src, is, ie))
          out[at++] = APOSTROPHE;
        at = copyWords(out, dst, at, src, sv, is, ie, wordLimit);
      }
    }
    if (layout.score) {
      const scores = p.scores;
      const sd = scores ? scores.data : NO_SPANS;
      const sn = scores ? Math.min(scores.n, count) : 0;
      for (let i = 0; i < width; i++) {
        out[at++] = COMMA;
        if (i < sn)
          at = copyWords(out, dst, at, src, sv, sd[i * 3] as number, sd[i * 3 + 1] as number, wordLimit);
      }
    }
    if (layout.reason) {
      const reasons = p.reasons;
      for (let i = 0; i < width; i++) {
        out[at++] = COMMA;
        if (reasons && i < count && i < reasons.n) at = this.reasonCell(out, at, src, reasons.data, i);
      }
    }
    if (catalog) {
      const items: number[] = [];
      for (let i = 0; i < count; i++) {
        const item = layout.users
          ? -1
          : catalog.lookup(
              src,
              ids[i * 3] as number,
              ids[i * 3 + 1] as number,
              ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0,
            );
        if (item < 0) c.catalogMissing++;
        items.push(item);
      }
      for (let col = 0; col < catalog.columns; col++) {
        for (let i = 0; i < width; i++) {
          out[at++] = COMMA;
          const item = i < count ? (items[i] as number) : -1;
          if (item >= 0) at = catalog.copyCell(item, col, out, at);
        }
      }
    }
    for (let k = 0; k < this.eol.length; k++) out[at++] = this.eol[k] as number;
    this.at = at;
  }

  /** One JSON Lines record for the line: {"<key>":"...","items":[{"itemId":"...","score":...},...]}. */
  private jsonLine(src: Buffer, layout: Layout, count: number, c: ConvertCounts): void {
    const p = this.parser;
    const catalog = this.catalog;
    // No key (an empty input) is null, not "": no record has the empty id.
    if (p.keyField === KEY_NONE) this.ascii(`{"${layout.keyField}":null`);
    else {
      this.ascii(`{"${layout.keyField}":"`);
      this.jsonString(src, p.keyStart, p.keyEnd, p.keyEscaped);
      this.ascii('"');
    }
    if (layout.theme) {
      if (p.themeStart >= 0) {
        this.ascii(',"theme":"');
        this.jsonString(src, p.themeStart, p.themeEnd, p.themeEscaped);
        this.ascii('"');
      } else this.ascii(',"theme":null');
    }
    this.ascii(layout.users ? ',"users":[' : ',"items":[');
    const ids = p.ids.data;
    const scores = p.scores;
    const sd = scores ? scores.data : NO_SPANS;
    const sn = scores ? scores.n : 0;
    const reasons = p.reasons;
    const idName = this.idName;
    const idView = this.idNameView;
    const out = this.out;
    const dst = this.outView;
    const sv = this.srcView;
    const wordLimit = sv.byteLength - 3;
    for (let i = 0; i < count; i++) {
      const is = ids[i * 3] as number;
      const ie = ids[i * 3 + 1] as number;
      const escaped = ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
      let at = this.at;
      if (i > 0) out[at++] = COMMA;
      at = copyWords(out, dst, at, idName, idView, 0, this.idNameLength, idName.length - 3);
      if (escaped) {
        this.at = at;
        this.jsonString(src, is, ie, true);
        at = this.at;
      } else at = copyWords(out, dst, at, src, sv, is, ie, wordLimit);
      out[at++] = QUOTE;
      if (layout.score) {
        at = copyWords(out, dst, at, SCORE_KEY, SCORE_KEY_VIEW, 0, SCORE_KEY_LENGTH, SCORE_KEY.length - 3);
        const ss = i < sn ? (sd[i * 3] as number) : -1;
        if (ss < 0) at = copyWords(out, dst, at, NULL_BYTES, NULL_VIEW, 0, 4, NULL_BYTES.length - 3);
        else at = copyWords(out, dst, at, src, sv, ss, sd[i * 3 + 1] as number, wordLimit);
      }
      this.at = at;
      if (layout.reason) {
        this.ascii(',"reasons":');
        const rs = reasons && i < reasons.n ? (reasons.data[i * 3] as number) : -1;
        if (rs < 0) this.ascii('null');
        else {
          const re = (reasons as { data: Int32Array }).data[i * 3 + 1] as number;
          this.at += out.write(JSON.stringify(JSON.parse(src.toString('utf8', rs, re))), this.at);
        }
      }
      if (catalog) {
        const item = layout.users ? -1 : catalog.lookup(src, is, ie, escaped);
        if (item < 0) c.catalogMissing++;
        this.at = catalog.copyJson(item, out, this.at);
      }
      out[this.at++] = 125; // }
    }
    this.ascii(']}\n');
  }

  private ascii(s: string): void {
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** JSON string content, canonical (as JSON.stringify writes it), without the quotes. */
  private jsonString(src: Uint8Array, s: number, e: number, escaped: boolean): void {
    if (escaped) {
      const canon = canonicalString(src, s, e, true);
      canon.copy(this.out, this.at);
      this.at += canon.length;
      return;
    }
    const out = this.out;
    let at = this.at;
    for (let k = s; k < e; k++) out[at++] = src[k] as number;
    this.at = at;
  }
}

// Padded constants: copyWords reads up to 3 bytes past what it copies.
const SCORE_KEY = Buffer.alloc(16);
const SCORE_KEY_LENGTH = SCORE_KEY.write(',"score":');
const SCORE_KEY_VIEW = viewOf(SCORE_KEY);
const NO_SPANS = new Int32Array(0);
const NULL_BYTES = Buffer.alloc(8);
NULL_BYTES.write('null');
const NULL_VIEW = viewOf(NULL_BYTES);

/**
 * Copies src[s, e) to out at `at`, 4 bytes at a time through the DataViews
 * (unaligned), when the source has 3 readable bytes past e (e <= wordLimit):
 * it writes up to 3 bytes past the copy, into room the caller's next bytes
 * overwrite (every output bound leaves that slack). Byte by byte otherwise.
 * Returns the new end. About 3x faster than a byte loop for short cells.
 */
function copyWords(
  out: Buffer,
  dst: DataView,
  at: number,
  src: Uint8Array,
  sv: DataView,
  s: number,
  e: number,
  wordLimit: number,
): number {
  if (e <= wordLimit) {
    for (let k = s; k < e; k += 4) dst.setUint32(at + k - s, sv.getUint32(k, true), true);
    return at + e - s;
  }
  let o = at;
  for (let k = s; k < e; k++) out[o++] = src[k] as number;
  return o;
}

/** A DataView over a Buffer's bytes. */
function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** First bytes that may start a formula: = + - @ (1), and 0xEF, the lead byte of the full-width forms (1, checked further). */
const FORMULA_FIRST = new Uint8Array(256);
for (const c of [61, 43, 45, 64, 0xef]) FORMULA_FIRST[c] = 1;

/** ",1," to ",99," as little-endian 32-bit words (the 3-byte ones with a spare zero byte). */
const RANK_WORDS = new Uint32Array(99);
for (let r = 1; r < 100; r++) {
  const b = Buffer.alloc(4);
  b.write(`,${r},`);
  RANK_WORDS[r - 1] = b.readUInt32LE(0);
}

/** Writes a non-negative integer in decimal at out[at]; returns the new end. */
function writeInt(out: Buffer, at: number, v: number): number {
  if (v < 10) {
    out[at] = 48 + v;
    return at + 1;
  }
  if (v < 100) {
    out[at] = 48 + ((v / 10) | 0);
    out[at + 1] = 48 + (v % 10);
    return at + 2;
  }
  const s = String(v);
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  return at + s.length;
}
