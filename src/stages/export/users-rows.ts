import type { TableScanner } from '../../core/table-scan.js';

/**
 * A users row in a fine partition of the join on disk (users-spill.ts):
 * 0xFF, its line in decimal, then each value after a 0xFE. UTF-8 holds
 * neither byte, so no value needs escaping, a row the byte path read is
 * written with no string, and a load copies the values' bytes (a JSON array
 * per row, stringified here and parsed there, was most of a load). A value
 * with a line break (the partition's line end) or a lone surrogate (which
 * UTF-8 would not keep) is written as that JSON array instead.
 */

const MARK = 0xff;
const SEP = 0xfe;
const LF = 10;
const NOT_BYTES = /[\n\ud800-\udfff]/u;

export class RowRecord {
  private buf = Buffer.allocUnsafe(1024);
  /** The record's bytes in buf. */
  length = 0;
  /** The values' length in UTF-16 code units (what string lengths would sum to), after encodeScanned. */
  units = 0;

  /** The row's record in a buffer the next call reuses (its first `length` bytes). */
  encode(line: number, values: readonly string[]): Buffer {
    let need = 16;
    for (const v of values) {
      if (NOT_BYTES.test(v)) return this.json(line, values);
      need += 1 + 3 * v.length;
    }
    const buf = this.room(need);
    let at = this.head(line);
    for (const v of values) {
      buf[at++] = SEP;
      at += buf.write(v, at);
    }
    this.length = at;
    return buf;
  }

  /**
   * The record of the row the scanner just returned, from the piece's bytes
   * (`columns`: its fields in output order); undefined when a value holds a
   * line break (encode() then takes the strings).
   */
  encodeScanned(line: number, sc: TableScanner, columns: readonly number[]): Buffer | undefined {
    let need = 16;
    for (const c of columns) need += 1 + sc.fieldBytes(c);
    const buf = this.room(need);
    let at = this.head(line);
    let units = 0;
    for (const c of columns) {
      buf[at++] = SEP;
      const s = at;
      at = sc.copyField(c, buf, at);
      const u = utf16Units(buf, s, at);
      if (u < 0) return undefined;
      units += u;
    }
    this.length = at;
    this.units = units;
    return buf;
  }

  private room(need: number): Buffer {
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need * 2);
    return this.buf;
  }

  /** MARK and the line's digits; returns where the values start. */
  private head(line: number): number {
    const buf = this.buf;
    buf[0] = MARK;
    // The digits written back to front, no string per row.
    let end = 2;
    for (let t = line; t >= 10; t = Math.floor(t / 10)) end++;
    let t = line;
    for (let k = end - 1; k >= 1; k--, t = Math.floor(t / 10)) buf[k] = 48 + (t % 10);
    return end;
  }

  private json(line: number, values: readonly string[]): Buffer {
    const b = Buffer.from(JSON.stringify([line, ...values]));
    this.length = b.length;
    return b;
  }
}

/**
 * The values of the row the scanner just returned where they lie in the
 * piece (`columns`: its fields in output order), their bounds into `cells`;
 * returns their UTF-16 length, or -1 when a value is not its bytes (a
 * doubled quote) or holds a line break: RowRecord then copies them. A
 * table load then copies each value once, not into a record and out again.
 */
export function cellsInPlace(
  piece: Buffer,
  sc: TableScanner,
  columns: readonly number[],
  cells: RowCells,
): number {
  let units = 0;
  for (let i = 0; i < columns.length; i++) {
    const f = columns[i] as number;
    const s = sc.fieldStart(f);
    if (s < 0) return -1;
    const e = sc.fieldEnd(f);
    const u = utf16Units(piece, s, e);
    if (u < 0) return -1;
    cells.starts[i] = s;
    cells.ends[i] = e;
    units += u;
  }
  return units;
}

/** Whether a key's bytes are their own JSON string content (no quote, backslash or control character). */
export function plainKey(buf: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const b = buf[k] as number;
    if (b < 0x20 || b === 34 || b === 92) return false;
  }
  return true;
}

/**
 * The UTF-16 code units of valid UTF-8 bytes buf[s, e): one for each byte
 * that starts a character, two for a four-byte one (as String.length
 * counts); -1 when they hold a line feed.
 */
export function utf16Units(buf: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let k = s; k < e; k++) {
    const b = buf[k] as number;
    if (b === LF) return -1;
    if ((b & 0xc0) !== 0x80) n++;
    if (b >= 0xf0) n++;
  }
  return n;
}

/** The bounds of a record's values in a partition's bytes (one row at a time). */
export class RowCells {
  readonly starts: Int32Array;
  readonly ends: Int32Array;

  constructor(readonly count: number) {
    this.starts = new Int32Array(count);
    this.ends = new Int32Array(count);
  }

  /** Whether seg[ps, pe) is a record of bytes (not a JSON array). */
  static isBytes(seg: Buffer, ps: number): boolean {
    return seg[ps] === MARK;
  }

  /** Reads the record seg[ps, pe) (of bytes); returns its line. */
  read(seg: Buffer, ps: number, pe: number): number {
    let p = ps + 1;
    let line = 0;
    while (p < pe && seg[p] !== SEP) line = line * 10 + (seg[p++] as number) - 48;
    for (let c = 0; c < this.count; c++) {
      const s = p + 1;
      p = s;
      while (p < pe && seg[p] !== SEP) p++;
      this.starts[c] = s;
      this.ends[c] = p;
    }
    return line;
  }
}

/** A record in either form as [line, ...values]. */
export function readRecord(seg: Buffer, ps: number, pe: number, cells: RowCells): [number, ...string[]] {
  if (seg[ps] !== MARK) return JSON.parse(seg.toString('utf8', ps, pe)) as [number, ...string[]];
  const rec: [number, ...string[]] = [cells.read(seg, ps, pe)];
  for (let c = 0; c < cells.count; c++) rec.push(seg.toString('utf8', cells.starts[c], cells.ends[c]));
  return rec;
}
