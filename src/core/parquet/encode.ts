/**
 * Parquet's value encodings on bytes, for row groups built straight from
 * the line parser's spans: PLAIN values, RLE runs of definition levels and
 * dictionary indices, bit-packed indices, and JSON numbers read as doubles.
 * Hot loops on plain arrays: the library's ByteWriter (a DataView call and
 * a bounds check per byte) cost more than the parse here.
 */

/** A growable byte buffer with a cursor. */
export class Bytes {
  buf: Uint8Array;
  view: DataView;
  at = 0;

  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    b.set(this.buf.subarray(0, this.at));
    this.buf = b;
    this.view = new DataView(b.buffer);
  }

  varint(v: number): void {
    this.ensure(5);
    const b = this.buf;
    let x = v;
    while (x > 0x7f) {
      b[this.at++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    b[this.at++] = x;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }

  /** src[s, e) as they are. */
  bytes(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    this.ensure(n);
    const b = this.buf;
    let at = this.at;
    // Short ids and scores: a byte loop beats set()'s call and checks.
    if (n < 32) for (let k = s; k < e; k++) b[at++] = src[k] as number;
    else {
      b.set(src.subarray(s, e), at);
      at += n;
    }
    this.at = at;
  }

  /** A PLAIN BYTE_ARRAY value: its length, then its bytes. */
  value(src: Uint8Array, s: number, e: number): void {
    this.u32(e - s);
    this.bytes(src, s, e);
  }

  written(): Uint8Array {
    return this.buf.subarray(0, this.at);
  }
}

/**
 * Definition levels of an optional column (bit width 1: 1 a value, 0 a
 * NULL) as RLE runs, appended as they come: a column without NULLs is one run.
 */
export class Levels {
  readonly out = new Bytes(256);
  private value = -1;
  private run = 0;
  nulls = 0;

  add(v: 0 | 1, count: number): void {
    if (count <= 0) return;
    if (v === 0) this.nulls += count;
    if (v === this.value) this.run += count;
    else {
      this.flush();
      this.value = v;
      this.run = count;
    }
  }

  private flush(): void {
    if (this.run === 0) return;
    this.out.varint(this.run << 1);
    this.out.ensure(1);
    this.out.buf[this.out.at++] = this.value;
    this.run = 0;
  }

  /** Appends the runs to `to` as a data page v1 holds them: their byte length (4 bytes LE) first. */
  writeTo(to: Bytes): void {
    this.flush();
    const runs = this.out.written();
    to.u32(runs.length);
    to.bytes(runs, 0, runs.length);
  }

  reset(): void {
    this.out.at = 0;
    this.value = -1;
    this.run = 0;
    this.nulls = 0;
  }
}

/** The bit width of dictionary indices below n. */
export function bitWidth(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/** An RLE_DICTIONARY data page's values: indices (below 2^24) as one bit-packed run after their width. */
export function packIndices(out: Bytes, idx: Int32Array, n: number, width: number): void {
  out.ensure(1);
  out.buf[out.at++] = width;
  if (n === 0) return;
  const groups = (n + 7) >>> 3;
  out.varint((groups << 1) | 1);
  if (width === 0) return;
  out.ensure(groups * width + 8);
  const b = out.buf;
  let at = out.at;
  let acc = 0;
  let bits = 0;
  const total = groups * 8;
  for (let i = 0; i < total; i++) {
    acc |= (i < n ? (idx[i] as number) : 0) << bits;
    bits += width;
    while (bits >= 8) {
      b[at++] = acc & 255;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) b[at++] = acc & 255;
  out.at = at;
}

/**
 * A column whose value is the same on every row of a line (the key, the
 * theme): a dictionary entry per line and its index as one RLE run.
 */
export class LineValues {
  readonly dict = new Bytes(1 << 14);
  entries = 0;
  private runs = new Int32Array(256);
  private nRuns = 0;
  readonly levels = new Levels();

  /** The line's value src[s, e) on `count` rows. */
  add(src: Uint8Array, s: number, e: number, count: number): void {
    this.dict.value(src, s, e);
    this.push(this.entries++, count);
    this.levels.add(1, count);
  }

  /** `count` NULLs. */
  none(count: number): void {
    this.levels.add(0, count);
  }

  private push(id: number, count: number): void {
    if (count <= 0) return;
    if (this.nRuns * 2 + 2 > this.runs.length) {
      const r = new Int32Array(this.runs.length * 2);
      r.set(this.runs);
      this.runs = r;
    }
    this.runs[this.nRuns * 2] = id;
    this.runs[this.nRuns * 2 + 1] = count;
    this.nRuns++;
  }

  reset(): void {
    this.dict.at = 0;
    this.entries = 0;
    this.nRuns = 0;
    this.levels.reset();
  }

  /** Appends the data page's values to `o`: the bit width, then one RLE run per line. */
  writeIndices(o: Bytes): void {
    const width = bitWidth(this.entries);
    const bytes = (width + 7) >>> 3;
    o.ensure(1 + this.nRuns * (5 + bytes));
    o.buf[o.at++] = width;
    for (let i = 0; i < this.nRuns; i++) {
      o.varint((this.runs[i * 2 + 1] as number) << 1);
      let v = this.runs[i * 2] as number;
      for (let k = 0; k < bytes; k++) {
        o.buf[o.at++] = v & 255;
        v >>>= 8;
      }
    }
  }
}

const POW10 = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
  1e20, 1e21, 1e22,
];
const latin1 = new TextDecoder('latin1');

/**
 * A JSON number's bytes as the double Number() reads: with at most 15
 * significant digits and a power of ten up to 22 both the digits and the
 * power are exact doubles, so one multiplication or division rounds
 * correctly (Clinger's fast path); anything else goes through Number().
 */
export function parseNumber(src: Uint8Array, s: number, e: number): number {
  let p = s;
  const neg = src[p] === 45;
  if (neg) p++;
  let m = 0;
  let digits = 0;
  let scale = 0;
  let c = src[p] as number;
  while (p < e && c >= 48 && c <= 57) {
    if (digits > 0 || c !== 48) {
      m = m * 10 + (c - 48);
      digits++;
    }
    c = src[++p] as number;
  }
  if (p < e && c === 46) {
    c = src[++p] as number;
    while (p < e && c >= 48 && c <= 57) {
      if (digits > 0 || c !== 48) {
        m = m * 10 + (c - 48);
        digits++;
      }
      scale--;
      c = src[++p] as number;
    }
  }
  if (p < e && (c === 101 || c === 69)) {
    c = src[++p] as number;
    const eneg = c === 45;
    if (eneg || c === 43) p++;
    let x = 0;
    while (p < e && x < 1000) x = x * 10 + ((src[p++] as number) - 48);
    scale += eneg ? -x : x;
  }
  if (digits <= 15 && p === e && scale >= -22 && scale <= 22) {
    const v = m === 0 ? 0 : scale >= 0 ? m * (POW10[scale] as number) : m / (POW10[-scale] as number);
    return neg ? -v : v;
  }
  return Number(latin1.decode(src.subarray(s, e)));
}
