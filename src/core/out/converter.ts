import type { Catalog } from '../catalog.js';
import { type PageCodec, RowGroupBuilder } from '../parquet/row-group.js';
import type { ConvertConfig, Layout } from './convert-config.js';
import { type ConvertCounts, type ConvertResult, emptyCounts, type InvalidLine } from './convert-result.js';
import { writeLongRows } from './csv-long.js';
import { writeWideRow } from './csv-wide.js';
import { type RowKeep, WasmRows } from './export-rows.js';
import { writeJsonLine } from './jsonl.js';
import { OutLineParser } from './line-parser.js';
import {
  KEY_NAMES,
  KEY_NONE,
  KIND_NAMES,
  KIND_SEGMENT,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
} from './line-shapes.js';
import { RowWriter, viewOf } from './row-writer.js';
import { parsedGroup, scannedGroup, type UserGroupPass } from './user-groups.js';

/**
 * Batch-output lines to export rows, on bytes: convert() takes a piece of
 * whole lines and returns the output bytes, the error lines and counts.
 * No stream code; the same class runs on the main thread and in the
 * conversion worker. Cells are copied from the line (scores exactly as
 * printed); only strings with JSON escapes are decoded. CSV is written by
 * hand (RFC 4180; formula neutralising as csv-stringify's `escape_formulas`)
 * because per-row arrays for csv-stringify cost several times the parse;
 * test/stages/export/export.test.ts holds the bytes to csv-parse and to an oracle writer.
 */

const LF = 10;
const CR = 13;
const INVALID_TEXT_MAX = 64 * 1024;
const LINE_TOO_LONG = -1;

/** Converts pieces of whole lines; keeps its buffers between calls. */
export class Converter {
  private readonly parser = new OutLineParser();
  private readonly rows: RowWriter;
  /** A users join on disk: the group of users this pass converts (see user-groups.ts). */
  private pass: UserGroupPass | undefined;
  /** The piece's error lines so far (a buffer of its own per piece). */
  private errors: Buffer | undefined;
  private errorsAt = 0;
  /** cfg.parquet: the piece's row group. */
  private readonly group: RowGroupBuilder | undefined;
  /** The service's usual lines to rows in WebAssembly, when this export's rows are ones it writes. */
  private readonly wasmRows: WasmRows | undefined;

  constructor(
    readonly cfg: ConvertConfig,
    catalog?: Catalog,
    users?: Catalog,
    /** cfg.parquet: how pages are compressed. */
    pages?: PageCodec,
    /** false: every line through the JavaScript path (the tests' reference for the WebAssembly one). */
    wasm = true,
  ) {
    this.rows = new RowWriter(cfg, this.parser, catalog, users);
    if (cfg.parquet && cfg.layout && pages) this.group = new RowGroupBuilder(cfg.layout, pages);
    if (wasm && WasmRows.usable(cfg, catalog)) this.wasmRows = new WasmRows(cfg, catalog);
  }

  /** Whether lines taken whole are written in WebAssembly (where convert()'s `keep` costs no second scan). */
  get wasm(): boolean {
    return this.wasmRows !== undefined;
  }

  /**
   * Converts every line of the piece (whole lines; the last may lack its
   * LF); with `keep`, only the lines it keeps, as if the piece held no other.
   */
  convert(piece: Buffer, keep?: RowKeep): ConvertResult {
    const cfg = this.cfg;
    const counts = emptyCounts();
    const invalid: InvalidLine[] = [];
    const rows = this.begin(piece);
    const parser = this.parser;
    const layout = cfg.layout;
    const n = piece.length;
    let p = 0;
    let failed = false;
    let overflow = false;
    const pass = this.pass;
    // A later pass of a users join on disk: the first one counted and checked every line.
    const later = pass !== undefined && !pass.first;
    // A users join too, when the module takes its rows (see WasmRows.join).
    const fast =
      layout !== undefined && this.wasmRows?.join(rows.users, pass, layout, rows, counts)
        ? this.wasmRows
        : undefined;
    fast?.begin();
    fast?.keep(keep);
    while (p < n) {
      if (fast !== undefined) {
        p = fast.run(piece, p, rows, counts, layout as Layout);
        if (p >= n) break;
      }
      let nl = piece.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
      if (this.skip(piece, p, e, nl, keep, later ? pass : undefined)) {
        p = nl + 1;
        continue;
      }
      const index = counts.lines++;
      const status = e - p > cfg.maxLineLength ? LINE_TOO_LONG : parser.parse(piece, p, e);
      if (status === LINE_BLANK) counts.blank++;
      else if (pass && status === LINE_ERROR && this.otherGroup(pass, piece, p, e, counts)) {
        // another group's error line: written in its group's pass
      } else if (status === LINE_ERROR) {
        counts.errorLines++;
        if (counts.errorKey === 0) counts.errorKey = parser.keyField;
        if (!cfg.measure) this.keepError(piece, p, e);
      } else {
        const reason = this.problem(status, layout);
        if (reason && later) {
          // recorded by the first pass
        } else if (reason) {
          invalid.push(invalidLine(piece, p, e, index, reason));
          if (cfg.failFast) {
            failed = true;
            break;
          }
        } else if (pass && this.otherGroup(pass, piece, p, e, counts)) {
          // another group's line: converted in its group's pass
        } else if (!this.line(piece, p, e, layout as Layout, counts)) {
          overflow = true;
          break;
        }
      }
      p = nl + 1;
    }
    keep?.done();
    counts.cellsCut = rows.cellsCut;
    if (later) {
      // The first pass counted every line and every blank one.
      counts.lines = 0;
      counts.blank = 0;
    }
    const group = this.group?.finish((n) => rows.outBuffer(n));
    return {
      ...counts,
      out: group ? group.bytes : rows.out.subarray(0, rows.at),
      ...(group && group.meta.rows > 0 && { rowGroup: group.meta }),
      errors: this.errorsAt > 0 ? this.takeErrors() : Buffer.alloc(0),
      invalid,
      failed,
      overflow,
    };
  }

  /**
   * Whether the line piece[p, e) is passed over uncounted: --since drops it
   * (`keep`), or a later pass of a users join on disk converts another
   * group, found by the key's bytes.
   */
  private skip(
    piece: Buffer,
    p: number,
    e: number,
    nl: number,
    keep?: RowKeep,
    later?: UserGroupPass,
  ): boolean {
    if (keep && !keep.line(piece, p, e, nl === piece.length ? nl : nl + 1)) return true;
    if (!later?.scan) return false;
    const g = scannedGroup(later, piece, p, e);
    return g >= 0 && g !== later.group;
  }

  /** The row writer, set for a piece. */
  private begin(piece: Buffer): RowWriter {
    this.errorsAt = 0;
    // csv-long at 25 ids a line writes about 1.7 bytes per input byte; the
    // buffer grows if a line needs more (ensure()).
    const rows = this.rows;
    rows.setOut(rows.outBuffer(this.cfg.measure || this.group ? 0 : piece.length * 2 + 4096));
    rows.at = 0;
    rows.cellsCut = 0;
    rows.srcView = viewOf(piece);
    return rows;
  }

  /** An error line, byte for byte, to the piece's error lines. */
  private keepError(piece: Buffer, p: number, e: number): void {
    const len = e - p + 1;
    let errors = this.errors;
    if (!errors || this.errorsAt + len > errors.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(64 * 1024, 2 * (this.errorsAt + len)));
      if (errors) errors.copy(bigger, 0, 0, this.errorsAt);
      errors = bigger;
      this.errors = bigger;
    }
    piece.copy(errors, this.errorsAt, p, e);
    errors[this.errorsAt + len - 1] = LF;
    this.errorsAt += len;
  }

  /** The piece's error lines; their buffer leaves with them (a worker transfers it). */
  private takeErrors(): Buffer {
    const out = (this.errors as Buffer).subarray(0, this.errorsAt);
    this.errors = undefined;
    this.errorsAt = 0;
    return out;
  }

  /** Why the line just parsed (or too long) cannot be exported, or ''. */
  private problem(status: number, layout: Layout | undefined): string {
    if (status === LINE_INVALID) return this.parser.problem;
    if (status === LINE_TOO_LONG)
      return `line longer than ${this.cfg.maxLineLength} bytes (--max-line-length)`;
    return layout ? layoutMismatch(this.parser, layout) : 'internal: no layout for an exported line';
  }

  /**
   * Whether the line just parsed belongs to another group of users than the
   * pass's. The first pass also counts the lines whose key scan would say
   * otherwise than the parse: with any, the later passes parse every line.
   */
  private otherGroup(pass: UserGroupPass, piece: Buffer, p: number, e: number, c: ConvertCounts): boolean {
    const g = parsedGroup(pass, this.parser, piece);
    if (pass.first) {
      const scanned = scannedGroup(pass, piece, p, e);
      if (scanned >= 0 && scanned !== g) c.keyScanMisses++;
    }
    return g !== pass.group;
  }

  /** The group of users converted from now on (a users join on disk), or every line (undefined). */
  setPass(pass: UserGroupPass | undefined): void {
    this.pass = pass;
  }

  /** The users table lines are joined with from now on (a partitioned join has one per partition). */
  setUsers(users: Catalog | undefined): void {
    this.rows.users = users;
  }

  /**
   * Gives an output buffer back once its bytes are written, so the next
   * piece reuses its memory instead of touching fresh pages.
   */
  recycle(b: ArrayBuffer): void {
    this.rows.recycle(b);
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
    const rows = this.rows;
    const users = rows.users;
    if (users) {
      rows.userItem = p.keyField === KEY_NONE ? -1 : users.lookup(src, p.keyStart, p.keyEnd, p.keyEscaped);
      if (rows.userItem < 0) {
        c.usersMissing++;
        if (cfg.usersRequired) {
          c.usersDropped++;
          return true;
        }
      }
    }
    countLine(p, layout, count, c);
    if (cfg.measure) return true;
    if (this.group) {
      c.rows += count;
      this.group.addLine(p, src, count);
      return true;
    }
    // One bound for everything the line writes, so no writer grows the
    // buffer mid-row: a decoded or canonical string is never longer than
    // its escaped JSON form, and a CSV cell adds at most 3 bytes (quotes and
    // the formula guard) to it; the line's own bytes (e - s) bound all ids,
    // scores, reasons and the theme together.
    const lineLen = e - s;
    const catalog = rows.catalog;
    if (cfg.format === 'jsonl') {
      c.rows++;
      rows.ensure(
        3 * lineLen + count * (48 + (catalog?.maxJsonBytes ?? 0)) + (users?.maxJsonBytes ?? 0) + 128,
      );
      writeJsonLine(rows, src, layout, count, c);
      return true;
    }
    rows.renderKey(src);
    if (layout.theme) rows.renderTheme(src);
    const perRow =
      rows.keyLen +
      rows.themeLen +
      32 +
      (catalog ? catalog.maxRecordBytes + catalog.columns : 0) +
      (users ? users.maxRecordBytes + users.columns : 0);
    if (cfg.format === 'csv-long') {
      c.rows += count;
      rows.ensure(count * perRow + 3 * lineLen + 1024);
      writeLongRows(rows, src, layout, count, c);
      if (rows.themeCut) rows.cellsCut += count;
    } else {
      c.rows++;
      rows.ensure(perRow + cfg.width * (8 + (catalog?.columns ?? 0)) + count * perRow + 3 * lineLen + 1024);
      writeWideRow(rows, src, layout, count, c);
      if (rows.themeCut) rows.cellsCut++;
    }
    return true;
  }
}

/** An invalid line, its text cut to INVALID_TEXT_MAX bytes. */
function invalidLine(piece: Buffer, p: number, e: number, index: number, reason: string): InvalidLine {
  const cut = e - p > INVALID_TEXT_MAX;
  return { index, reason, text: piece.toString('utf8', p, cut ? p + INVALID_TEXT_MAX : e), cut };
}

/** Why the exported line the parser just read does not fit the layout, or ''. */
export function layoutMismatch(p: OutLineParser, layout: Layout): string {
  const key = KEY_NAMES[p.keyField];
  if (p.keyField !== KEY_NONE && key !== layout.keyField) {
    return `input has ${key}, but this export's key column is ${layout.keyField} (from the first exported line)`;
  }
  if ((p.kind === KIND_SEGMENT) !== layout.users) {
    return `a ${KIND_NAMES[p.kind]} line among ${layout.kind} lines (the first exported line)`;
  }
  return '';
}

/** A line about to be exported, counted: what it carries and what the layout drops. */
function countLine(p: OutLineParser, layout: Layout, count: number, c: ConvertCounts): void {
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
}
