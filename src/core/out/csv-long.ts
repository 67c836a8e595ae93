import type { Layout } from './convert-config.js';
import type { ConvertCounts } from './convert-result.js';
import { NO_SPANS, SPAN_ESCAPED, type Spans } from './line-shapes.js';
import { FORMULA_FIRST, formulaStart, type RowWriter } from './row-writer.js';

/** csv-long: one row per recommended id (key, rank, id, then score, reason, theme, catalog and user cells). */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-row loops below cannot afford.
const LF = 10;
const COMMA = 44;
const APOSTROPHE = 39;

/** The rows of the parsed line, one per id, up to `count`. */
export function writeLongRows(
  w: RowWriter,
  src: Buffer,
  layout: Layout,
  count: number,
  c: ConvertCounts,
): void {
  const p = w.parser;
  const ids = p.ids.data;
  const scores = layout.score ? p.scores : undefined;
  const reasons = layout.reason ? p.reasons : undefined;
  const eol = w.eol;
  const key = w.keyCell;
  const klen = w.keyLen;
  const catalog = w.catalog;
  const users = w.users;
  const user = w.userItem;
  if (!reasons && !layout.reason && !layout.theme && !catalog) {
    // The user's cells are the same on every row of the line: rendered once, copied as words.
    if (users) {
      w.renderUserCells();
      w.cellsCut += w.userCellsCut * count;
    }
    longRowsPlain(w, src, count, layout.score, scores, users ? w.userCellsLen : 0);
    return;
  }
  const out = w.out;
  let at = w.at;
  for (let i = 0; i < count; i++) {
    const is = ids[i * 3] as number;
    const ie = ids[i * 3 + 1] as number;
    const escaped = ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
    // Byte loops: Buffer.copy's argument checks cost more than these short cells.
    for (let k = 0; k < klen; k++) out[at++] = key[k] as number;
    out[at++] = COMMA;
    at = writeInt(out, at, i + 1);
    out[at++] = COMMA;
    at = w.cellInto(out, at, src, is, ie, escaped);
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
      if (reasons && i < reasons.n) at = w.reasonCell(out, at, src, reasons.data, i);
    }
    if (layout.theme) {
      out[at++] = COMMA;
      for (let k = 0; k < w.themeLen; k++) out[at++] = w.themeCell[k] as number;
    }
    if (catalog) {
      const item = layout.users ? -1 : catalog.lookup(src, is, ie, escaped);
      if (item < 0) c.catalogMissing++;
      for (let col = 0; col < catalog.columns; col++) {
        out[at++] = COMMA;
        if (item >= 0) {
          at = catalog.copyCell(item, col, out, at);
          if (catalog.cutValues > 0 && catalog.isCut(item, col)) w.cellsCut++;
        }
      }
    }
    if (users) {
      for (let col = 0; col < users.columns; col++) {
        out[at++] = COMMA;
        if (user >= 0) {
          at = users.copyCell(user, col, out, at);
          if (users.cutValues > 0 && users.isCut(user, col)) w.cellsCut++;
        }
      }
    }
    for (let k = 0; k < eol.length; k++) out[at++] = eol[k] as number;
  }
  w.at = at;
}

/**
 * writeLongRows for the common layout (key, rank, id, score), every step
 * inline: this loop writes most of the bytes of a csv-long export.
 */
function longRowsPlain(
  w: RowWriter,
  src: Buffer,
  count: number,
  withScore: boolean,
  scores: Spans | undefined,
  /** Bytes of w.userCells ending each row (0: no users join). */
  userLen: number,
): void {
  const ids = w.parser.ids.data;
  const uv = w.userCellsView;
  const sd = scores ? scores.data : NO_SPANS;
  const sn = scores ? scores.n : 0;
  const klen = w.keyLen;
  const guard = w.cfg.escapeFormulas;
  const crlf = w.cfg.crlf;
  const out = w.out;
  const dst = w.outView;
  const sv = w.srcView;
  const kv = w.keyView;
  // Spans ending this close to the end of the source view are copied byte by byte.
  const wordLimit = sv.byteLength - 3;
  let at = w.at;
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
    if (flags !== 0) at = w.cellInto(out, at, src, is, ie, (flags & SPAN_ESCAPED) !== 0);
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
    if (userLen > 0) {
      for (let k = 0; k < userLen; k += 4) dst.setUint32(at + k, uv.getUint32(k, true), true);
      at += userLen;
    }
    if (crlf) {
      dst.setUint16(at, 0x0a0d, true);
      at += 2;
    } else out[at++] = LF;
  }
  w.at = at;
}

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
