import type { Layout } from './convert-config.js';
import type { ConvertCounts } from './convert-result.js';
import { NO_SPANS, SPAN_ESCAPED } from './line-shapes.js';
import { copyWords, FORMULA_FIRST, formulaStart, type RowWriter } from './row-writer.js';

/**
 * csv-wide: one row per key, the ids in numbered columns (item_1..item_n),
 * then as many score, reason and catalog columns of each, and the user's columns once.
 */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-row loops below cannot afford.
const COMMA = 44;
const APOSTROPHE = 39;

/** The parsed line's row: key, theme, then `width` cells of ids, scores, reasons and each catalog column. */
export function writeWideRow(
  w: RowWriter,
  src: Buffer,
  layout: Layout,
  count: number,
  c: ConvertCounts,
): void {
  const p = w.parser;
  const width = w.cfg.width;
  const ids = p.ids.data;
  const out = w.out;
  const dst = w.outView;
  const sv = w.srcView;
  const wordLimit = sv.byteLength - 3;
  const guard = w.cfg.escapeFormulas;
  let at = copyWords(out, dst, w.at, w.keyCell, w.keyView, 0, w.keyLen, w.keyCell.length - 3);
  if (layout.theme) {
    out[at++] = COMMA;
    for (let k = 0; k < w.themeLen; k++) out[at++] = w.themeCell[k] as number;
  }
  for (let i = 0; i < width; i++) {
    out[at++] = COMMA;
    if (i >= count) continue;
    const is = ids[i * 3] as number;
    const ie = ids[i * 3 + 1] as number;
    const flags = ids[i * 3 + 2] as number;
    if (flags !== 0) at = w.cellInto(out, at, src, is, ie, (flags & SPAN_ESCAPED) !== 0);
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
      if (reasons && i < count && i < reasons.n) at = w.reasonCell(out, at, src, reasons.data, i);
    }
  }
  at = joinedCells(w, src, layout, count, c, at);
  for (let k = 0; k < w.eol.length; k++) out[at++] = w.eol[k] as number;
  w.at = at;
}

/** The catalog's cells (each column numbered over the ids), then the user's cells once; returns the new end. */
function joinedCells(
  w: RowWriter,
  src: Buffer,
  layout: Layout,
  count: number,
  c: ConvertCounts,
  start: number,
): number {
  const catalog = w.catalog;
  const ids = w.parser.ids.data;
  const width = w.cfg.width;
  const out = w.out;
  let at = start;
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
        if (item >= 0) {
          at = catalog.copyCell(item, col, out, at);
          if (catalog.cutValues > 0 && catalog.isCut(item, col)) w.cellsCut++;
        }
      }
    }
  }
  const users = w.users;
  if (users) {
    for (let col = 0; col < users.columns; col++) {
      out[at++] = COMMA;
      if (w.userItem >= 0) {
        at = users.copyCell(w.userItem, col, out, at);
        if (users.cutValues > 0 && users.isCut(w.userItem, col)) w.cellsCut++;
      }
    }
  }
  return at;
}
