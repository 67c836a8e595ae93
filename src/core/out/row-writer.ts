import type { Catalog } from '../catalog.js';
import { csvCell, csvCellCut } from '../csv-cell.js';
import type { ConvertConfig } from './convert-config.js';
import type { OutLineParser } from './line-parser.js';
import { decodeString } from './strings.js';

/**
 * What the three format writers (csv-long.ts, csv-wide.ts, jsonl.ts) share
 * for the line the parser holds: the output buffer and its write position,
 * DataViews for the word copies, the key and theme cells rendered once per
 * line, and the CSV text cell writer.
 */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-byte loop of cellInto cannot afford.
const QUOTE = 34;
const COMMA = 44;
const APOSTROPHE = 39;

/**
 * Whether raw UTF-8 bytes start like a formula: = + - @, or the full-width ＝ ＋ － ＠ (EF BC 9D/8B/8D/A0);
 * not a sign and a number (`-8234567890123456789`, `-1.3`, `+4915112345`: csv-cell.ts's SIGNED_NUMBER).
 */
export function formulaStart(b: Uint8Array, s: number, e: number): boolean {
  if (s >= e) return false;
  const c = b[s] as number;
  if (c === 45 || c === 43) return !signedNumber(b, s, e);
  if (c === 61 || c === 64) return true;
  if (c === 0xef && s + 2 < e && b[s + 1] === 0xbc) {
    const d = b[s + 2] as number;
    return d === 0x9d || d === 0x8b || d === 0x8d || d === 0xa0;
  }
  return false;
}

/** b[s, e) is a minus or plus, then digits, dots and commas, one digit at least. */
function signedNumber(b: Uint8Array, s: number, e: number): boolean {
  let digit = false;
  for (let k = s + 1; k < e; k++) {
    const d = b[k] as number;
    if (d >= 48 && d <= 57) digit = true;
    else if (d !== 46 && d !== 44) return false;
  }
  return digit;
}

/** The output of a Converter, and the cells every row of a line repeats. */
export class RowWriter {
  out: Buffer = Buffer.allocUnsafe(0);
  outView: DataView = new DataView(new ArrayBuffer(0));
  /** The piece being converted, for word reads. */
  srcView: DataView = new DataView(new ArrayBuffer(0));
  keyView: DataView;
  at = 0;
  keyCell: Buffer = Buffer.allocUnsafe(1024);
  keyLen = 0;
  themeCell: Buffer = Buffer.allocUnsafe(1024);
  themeLen = 0;
  /** The theme cell was cut to maxCellBytes (it repeats on each row of its line). */
  themeCut = false;
  /** Cells cut to maxCellBytes in the piece so far. */
  cellsCut = 0;
  readonly eol: Buffer;
  readonly idName: Buffer;
  readonly idNameLength: number;
  readonly idNameView: DataView;
  /** The line's row in the users table, or -1 (not there, or no key). */
  userItem = -1;
  /**
   * csv-long: the user's cells as every row of the line ends (`,email,name`),
   * rendered once per line by renderUserCells, padded for word copies; and
   * how many of them were cut to maxCellBytes.
   */
  userCells: Buffer = Buffer.alloc(1024);
  userCellsView: DataView = viewOf(this.userCells);
  userCellsLen = 0;
  userCellsCut = 0;

  constructor(
    readonly cfg: ConvertConfig,
    readonly parser: OutLineParser,
    readonly catalog?: Catalog,
    /** Swapped between sources when the users join is partitioned (one table per partition). */
    public users?: Catalog,
  ) {
    this.eol = Buffer.from(cfg.crlf ? '\r\n' : '\n');
    this.keyView = viewOf(this.keyCell);
    // Padded: copyWords reads up to 3 bytes past what it copies.
    this.idName = Buffer.alloc(16);
    this.idNameLength = this.idName.write(cfg.layout?.users ? '{"userId":"' : '{"itemId":"');
    this.idNameView = viewOf(this.idName);
  }

  ensure(len: number): void {
    if (this.at + len <= this.out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.out.length * 2, this.at + len + 64 * 1024));
    this.out.copy(bigger, 0, 0, this.at);
    this.setOut(bigger);
  }

  /** Output buffers that were written and handed back (see recycle()). */
  private readonly spare = new SpareBuffers();

  /**
   * Gives an output buffer back once its bytes are written, so the next
   * piece reuses its memory instead of touching fresh pages.
   */
  recycle(b: ArrayBuffer): void {
    this.spare.recycle(b);
  }

  outBuffer(size: number): Buffer {
    return this.spare.take(size);
  }

  setOut(b: Buffer): void {
    this.out = b;
    this.outView = viewOf(b);
  }

  /** The line's user cells (userItem's, or empty ones) into userCells. */
  renderUserCells(): void {
    const users = this.users as Catalog;
    const user = this.userItem;
    const need = users.maxRecordBytes + users.columns + 8;
    if (this.userCells.length < need) {
      this.userCells = Buffer.alloc(2 * need);
      this.userCellsView = viewOf(this.userCells);
    }
    let at = 0;
    let cut = 0;
    for (let col = 0; col < users.columns; col++) {
      this.userCells[at++] = 44; // ,
      if (user >= 0) {
        at = users.copyCell(user, col, this.userCells, at);
        if (users.cutValues > 0 && users.isCut(user, col)) cut++;
      }
    }
    this.userCellsLen = at;
    this.userCellsCut = cut;
  }

  /** The key as a CSV cell, rendered once per line into keyCell. */
  renderKey(src: Buffer): void {
    const p = this.parser;
    const need = p.keyEnd - p.keyStart + 8;
    if (this.keyCell.length < need) {
      this.keyCell = Buffer.allocUnsafe(2 * need);
      this.keyView = viewOf(this.keyCell);
    }
    this.keyLen = this.cellInto(this.keyCell, 0, src, p.keyStart, p.keyEnd, p.keyEscaped);
  }

  renderTheme(src: Buffer): void {
    const p = this.parser;
    this.themeCut = false;
    if (p.themeStart < 0) {
      this.themeLen = 0;
      return;
    }
    const need = p.themeEnd - p.themeStart + 8;
    if (this.themeCell.length < need) this.themeCell = Buffer.allocUnsafe(2 * need);
    const max = this.cfg.maxCellBytes;
    if (max > 0) {
      const { cell, cut } = csvCellCut(
        decodeString(src, p.themeStart, p.themeEnd),
        this.cfg.escapeFormulas,
        max,
      );
      this.themeCut = cut;
      this.themeLen = this.themeCell.write(cell, 0);
      return;
    }
    this.themeLen = this.cellInto(this.themeCell, 0, src, p.themeStart, p.themeEnd, p.themeEscaped);
  }

  /** Writes the JSON string content src[s, e) as a CSV text cell at dst[at]; returns the new end. */
  cellInto(dst: Buffer, at: number, src: Uint8Array, s: number, e: number, escaped: boolean): number {
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

  /** The reasons of id i as one cell: the strings joined with |. */
  reasonCell(out: Buffer, at: number, src: Buffer, data: Int32Array, i: number): number {
    const rs = data[i * 3] as number;
    if (rs < 0) return at;
    const list = JSON.parse(src.toString('utf8', rs, data[i * 3 + 1] as number)) as string[];
    const { cell, cut } = csvCellCut(list.join('|'), this.cfg.escapeFormulas, this.cfg.maxCellBytes);
    if (cut) this.cellsCut++;
    return at + out.write(cell, at);
  }
}

/**
 * Copies src[s, e) to out at `at`, 4 bytes at a time through the DataViews
 * (unaligned), when the source has 3 readable bytes past e (e <= wordLimit):
 * it writes up to 3 bytes past the copy, into room the caller's next bytes
 * overwrite (every output bound leaves that slack). Byte by byte otherwise.
 * Returns the new end. About 3x faster than a byte loop for short cells.
 */
export function copyWords(
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
export function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** First bytes that may start a formula: = + - @ (1), and 0xEF, the lead byte of the full-width forms (1, checked further). */
export const FORMULA_FIRST = new Uint8Array(256);
for (const c of [61, 43, 45, 64, 0xef]) FORMULA_FIRST[c] = 1;

/**
 * Output buffers handed back once written, for the next pieces. The four
 * largest are kept: a spare smaller than the pieces' outputs would never be
 * taken, and each piece would then allocate afresh, the old buffers left to
 * a garbage collection that a worker's small heap rarely runs (RSS grew by
 * tens of MB over `--users`' passes, whose rows are twice the plain ones).
 */
export class SpareBuffers {
  private readonly spare: ArrayBuffer[] = [];

  recycle(b: ArrayBuffer): void {
    if (b.byteLength === 0) return;
    this.spare.push(b);
    if (this.spare.length > 4) {
      let min = 0;
      for (let i = 1; i < this.spare.length; i++)
        if ((this.spare[i] as ArrayBuffer).byteLength < (this.spare[min] as ArrayBuffer).byteLength) min = i;
      this.spare.splice(min, 1);
    }
  }

  /** A buffer of at least `size` bytes: a spare, or a new one an eighth larger (the next pieces then fit it). */
  take(size: number): Buffer {
    if (size === 0) return Buffer.alloc(0);
    for (let i = 0; i < this.spare.length; i++) {
      const ab = this.spare[i] as ArrayBuffer;
      if (ab.byteLength >= size) {
        this.spare.splice(i, 1);
        return Buffer.from(ab);
      }
    }
    return Buffer.allocUnsafeSlow(Math.max(64 * 1024, size + (size >> 3)));
  }
}
