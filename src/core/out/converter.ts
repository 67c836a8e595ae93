import type { Catalog } from '../catalog.js';
import { type PageCodec, RowGroupBuilder } from '../parquet/row-group.js';
import type { ConvertConfig, Layout } from './convert-config.js';
import { type ConvertCounts, type ConvertResult, emptyCounts, type InvalidLine } from './convert-result.js';
import { writeLongRows } from './csv-long.js';
import { writeWideRow } from './csv-wide.js';
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
  /** cfg.parquet: the piece's row group. */
  private readonly group: RowGroupBuilder | undefined;

  constructor(
    readonly cfg: ConvertConfig,
    catalog?: Catalog,
    users?: Catalog,
    /** cfg.parquet: how pages are compressed. */
    pages?: PageCodec,
  ) {
    this.rows = new RowWriter(cfg, this.parser, catalog, users);
    if (cfg.parquet && cfg.layout && pages) this.group = new RowGroupBuilder(cfg.layout, pages);
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
    const rows = this.rows;
    rows.setOut(rows.outBuffer(cfg.measure || this.group ? 0 : piece.length * 2 + 4096));
    rows.at = 0;
    rows.cellsCut = 0;
    rows.srcView = viewOf(piece);
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
    counts.cellsCut = rows.cellsCut;
    const group = this.group?.finish((n) => rows.outBuffer(n));
    return {
      ...counts,
      out: group ? group.bytes : rows.out.subarray(0, rows.at),
      ...(group && group.meta.rows > 0 && { rowGroup: group.meta }),
      errors: errors ? errors.subarray(0, errorsAt) : Buffer.alloc(0),
      invalid,
      failed,
      overflow,
    };
  }

  /** Why an exported line does not fit the layout, or ''. */
  private mismatch(layout: Layout): string {
    return layoutMismatch(this.parser, layout);
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
