/**
 * `export --part K/N`: which bytes of the sources part K owns. Every worker
 * computes its slice alone from the same listing (names in expandOutSources'
 * order and sizes), so the rule is a pure function of that listing.
 *
 * The sources are laid end to end as one stream of T bytes; the fair share
 * is T/N.
 * - Whole files: when there are at least N files and none is larger than a
 *   fair share, each file goes whole to the part whose range
 *   [floor((K-1)T/N), floor(KT/N)) holds the file's middle byte
 *   (offset + floor(size/2)). Parts stay in source order, so the parts
 *   joined in order give the rows of one process, in its order.
 * - Byte ranges otherwise (one big file, fewer files than N, a file past a
 *   fair share): part K owns exactly the bytes [floor((K-1)T/N), floor(KT/N))
 *   of the stream, and of a file cut there the lines that start in its
 *   share. A gzipped file (named `.gz`) cannot be cut: it goes whole to the
 *   part holding its middle byte, as above.
 */

export interface PartFile {
  size: number;
  /** Named `.gz`: read only from its start. */
  gz: boolean;
}

/** The bytes [start, end) of file `index` that the part owns; whole when they are the whole file. */
export interface PartRange {
  index: number;
  start: number;
  end: number;
  whole: boolean;
}

export interface PartPlan {
  mode: 'files' | 'bytes';
  ranges: PartRange[];
  /** The part's share of the stream: [from, to) of `total`. */
  from: number;
  to: number;
  total: number;
}

/** `K/N` with 1 <= K <= N, or undefined when the text is not that. */
export function parsePartSpec(text: string): { k: number; n: number } | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!Number.isSafeInteger(n) || k < 1 || n < 1 || k > n) return undefined;
  return { k, n };
}

/** The bytes of part k (1-based) of n. */
export function planPart(files: readonly PartFile[], k: number, n: number): PartPlan {
  const total = files.reduce((s, f) => s + f.size, 0);
  // In BigInt: i * total can pass 2^53 (10 TB and a thousand parts).
  const cut = (i: number) => Number((BigInt(i) * BigInt(total)) / BigInt(n));
  const from = cut(k - 1);
  const to = cut(k);
  const largest = files.reduce((m, f) => Math.max(m, f.size), 0);
  const mode = files.length >= n && largest * n <= total ? 'files' : 'bytes';
  const ranges: PartRange[] = [];
  let offset = 0;
  for (const [index, f] of files.entries()) {
    const at = offset;
    offset += f.size;
    if (mode === 'files' || f.gz) {
      const middle = at + Math.floor(f.size / 2);
      // An empty file has no middle byte: it goes with the part where it starts.
      if (middle >= from && (middle < to || (k === n && middle === total)))
        ranges.push({ index, start: 0, end: f.size, whole: true });
      continue;
    }
    const start = Math.max(from, at) - at;
    const end = Math.min(to, at + f.size) - at;
    if (start < end || (f.size === 0 && at >= from && (at < to || k === n)))
      ranges.push({ index, start, end, whole: start === 0 && end === f.size });
  }
  return { mode, ranges, from, to, total };
}
