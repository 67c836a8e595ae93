/**
 * Counting the lines of a chunk four bytes at a time, for the size-mode
 * shard path that writes whole chunks: a byte loop ran at 0.4-0.6 GB/s,
 * this at 1.3-1.7 GB/s, near the speed of the SHA-256 that follows.
 */

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const EMPTY = new Int32Array(0);

/**
 * The number of lines in `seg` when every line is "regular": the chunk
 * starts a line, no CR anywhere, no blank or whitespace-led line, and the
 * last byte is LF. Otherwise -1, and the caller takes the line-by-line path
 * that handles CRLF, blank lines and the missing final newline.
 */
export function countRegularLines(seg: Uint8Array): number {
  const len = seg.length;
  if (len === 0 || seg[len - 1] !== LF || !startsLine(seg[0] as number)) return -1;
  const off = seg.byteOffset;
  const head = Math.min(len, (4 - (off & 3)) & 3);
  let n = 0;
  let i = 0;
  for (; i < head; i++) {
    const c = seg[i] as number;
    if (c === CR) return -1;
    if (c === LF) {
      n++;
      if (i + 1 < len && !startsLine(seg[i + 1] as number)) return -1;
    }
  }
  const words = ((off + i) & 3) === 0 ? (len - i) >> 2 : 0;
  const u = words > 0 ? new Int32Array(seg.buffer, off + i, words) : EMPTY;
  for (let w = 0; w < words; w++) {
    const v = u[w] as number;
    if (zeroBytes(v ^ 0x0d0d0d0d) !== 0) return -1;
    let z = zeroBytes(v ^ 0x0a0a0a0a);
    if (z === 0) continue;
    const base = i + (w << 2);
    while (z !== 0) {
      const bit = 31 - Math.clz32(z);
      n++;
      const next = base + (bit >> 3) + 1;
      if (next < len && !startsLine(seg[next] as number)) return -1;
      z &= ~(1 << bit);
    }
  }
  for (i += words << 2; i < len; i++) {
    const c = seg[i] as number;
    if (c === CR) return -1;
    if (c === LF) {
      n++;
      if (i + 1 < len && !startsLine(seg[i + 1] as number)) return -1;
    }
  }
  return n;
}

/** A byte that may begin a non-blank line (JSON Lines never start with whitespace in practice). */
function startsLine(c: number): boolean {
  return c !== LF && c !== CR && c !== SPACE && c !== TAB;
}

/** The high bit of each byte of v that is zero, exactly (no false positives from borrows). */
function zeroBytes(v: number): number {
  const t = ((v & 0x7f7f7f7f) + 0x7f7f7f7f) | v;
  return ~(t | 0x7f7f7f7f);
}
