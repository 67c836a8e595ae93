/**
 * The report's figures from tallies (no I/O): exposure concentration (Gini,
 * the top 1%'s share, the top items) from item counts given one at a time,
 * list lengths' median, score bins, Jaccard of two id lists, and the shape
 * of report.json (schemas/report.schema.json).
 */

import { sortFloat64 } from './radix-sort.js';

/** Rank positions whose scores are summarised: 1, 5, 10 and each list's last. */
export const REPORT_RANKS = ['1', '5', '10', 'last'] as const;
export type ReportRank = (typeof REPORT_RANKS)[number];

/** The quantiles report.json gives per rank (t-digest estimates). */
export const REPORT_QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

/** How many items the top list holds. */
export const TOP_ITEMS = 20;

export interface TopItem {
  id: string;
  count: number;
  /** Share of all recommendation slots. */
  share: number;
  /** The catalog's title (or first column), when a catalog was given and holds the item. */
  title?: string;
}

export interface Bin {
  /** Lower bound (inclusive); null: everything below the next bin. */
  from: number | null;
  /** Upper bound (exclusive); null: everything from `from` up. */
  to: number | null;
  count: number;
}

export interface RankScores {
  rank: ReportRank;
  count: number;
  min: number;
  max: number;
  mean: number;
  /** p01 ... p99 from a t-digest (estimates; exact min and max beside them). */
  quantiles: Record<string, number>;
  histogram: Bin[];
}

export interface ReportJson {
  version: 1;
  /** What produced it: `personalize-batch report` and the package version. */
  tool: string;
  /** The `.out` files read, in order. */
  sources: string[];
  /** `userId`, `itemId` or `itemAttributes`: what each line is for (the first keyed line's). */
  keyField: string | null;
  /** `itemId`, or `userId` for batch segment output (users recommended for items). */
  idField: 'itemId' | 'userId';
  counts: {
    lines: number;
    blank: number;
    invalid: number;
    /** Lines with recommendations. */
    okLines: number;
    errorLines: number;
    /** Distinct keys over every keyed line (recommendations and errors). */
    keys: number;
    /** Keyed lines whose key an earlier line had. */
    repeatedKeyLines: number;
    /** Lines without a key (Popularity-Count's `{}`, error lines without a string key). */
    keylessLines: number;
    /** Recommendation slots: the ids over all lines with recommendations. */
    slots: number;
    itemsPerLine: { min: number; median: number; max: number; mean: number } | null;
    distinctItems: number;
    /** The distinct counts went through partitions on disk (past --memory-budget). */
    spilled: boolean;
  };
  errors: { message: string; count: number }[];
  invalidSamples: { file: string; line: number; reason: string }[];
  missing: { input: string[]; inputKeys: number; missingKeys: number; sample: string[] } | null;
  catalog: {
    file: string;
    items: number;
    /** Catalog items recommended to anyone. */
    recommended: number;
    coverage: number;
    /** Recommended ids the catalog does not hold, and the first few of them. */
    notInCatalog: number;
    notInCatalogSample: string[];
  } | null;
  concentration: {
    top: TopItem[];
    /** ceil(1% of the distinct items). */
    top1PercentItems: number;
    top1PercentShare: number;
    /** Gini coefficient of exposure over the items recommended (0: even, towards 1: a few take all). */
    gini: number;
    /** The same over the whole catalog, never-recommended items counting 0 (with a catalog). */
    giniCatalog: number | null;
  };
  scores: { method: string; ranks: RankScores[] } | null;
  since: {
    prev: string;
    k: number;
    prevKeys: number;
    newKeys: number;
    goneKeys: number;
    changedKeys: number;
    unchangedKeys: number;
    /** Mean over keys in both of |A∩B| / |A∪B| of the first k ids. */
    meanJaccard: number | null;
    jaccardHistogram: Bin[];
  } | null;
  shards: { file: string; lines: number; okLines: number; errorLines: number; invalid: number }[];
}

/**
 * Exposure figures from each item's count, given one item at a time in
 * any order: memory is the counts' distinct values (at most about
 * sqrt(2 x slots) of them, whatever the items) and the top list.
 */
export class Exposure {
  /** count -> how many items have it. */
  private readonly ofCount = new Map<number, number>();
  private readonly top: { id: string; count: number }[] = [];
  items = 0;
  slots = 0;

  constructor(private readonly topN = TOP_ITEMS) {}

  /** One distinct item's count; `id` is only read when the item makes the top list. */
  add(count: number, id: () => string): void {
    if (count <= 0) return;
    this.items++;
    this.slots += count;
    this.ofCount.set(count, (this.ofCount.get(count) ?? 0) + 1);
    const top = this.top;
    if (top.length < this.topN || count >= (top[top.length - 1] as { count: number }).count) {
      const entry = { id: id(), count };
      if (top.length === this.topN) {
        const last = top[top.length - 1] as { id: string; count: number };
        if (count === last.count && entry.id > last.id) return;
        top.pop();
      }
      let i = top.length;
      while (i > 0 && before(entry, top[i - 1] as { id: string; count: number })) i--;
      top.splice(i, 0, entry);
    }
  }

  /** The top items, most recommended first; ties by id (byte order of the text). */
  topItems(): TopItem[] {
    return this.top.map((t) => ({
      id: t.id,
      count: t.count,
      share: this.slots > 0 ? t.count / this.slots : 0,
    }));
  }

  /** Items with count 0 (a catalog's never recommended) added for a Gini over the catalog. */
  gini(zeros = 0): number {
    const n = this.items + zeros;
    if (n === 0 || this.slots === 0) return 0;
    const values = [...this.ofCount.keys()].sort((a, b) => a - b);
    // Sorted ascending, item i (1-based) weighs 2i - n - 1; the zeros come first and weigh nothing.
    let i0 = zeros + 1;
    let sum = 0;
    for (const v of values) {
      const m = this.ofCount.get(v) as number;
      sum += v * (m * (2 * i0 - n - 1) + m * (m - 1));
      i0 += m;
    }
    return sum / (n * this.slots);
  }

  /** How many items the top 1% is (at least one), and their share of all slots. */
  topShare(fraction = 0.01): { items: number; share: number } {
    if (this.items === 0) return { items: 0, share: 0 };
    const want = Math.max(1, Math.ceil(this.items * fraction));
    const values = [...this.ofCount.keys()].sort((a, b) => b - a);
    let left = want;
    let taken = 0;
    for (const v of values) {
      const m = Math.min(left, this.ofCount.get(v) as number);
      taken += m * v;
      left -= m;
      if (left === 0) break;
    }
    return { items: want, share: taken / this.slots };
  }
}

function before(a: { id: string; count: number }, b: { id: string; count: number }): boolean {
  return a.count > b.count || (a.count === b.count && a.id < b.id);
}

/** Counts per whole value (list lengths): min, median (lower), max, mean, exactly. */
export class Lengths {
  private readonly counts = new Map<number, number>();
  n = 0;
  private sum = 0;

  add(v: number): void {
    this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
    this.n++;
    this.sum += v;
  }

  /** The counts as pairs (value, count), to send to another thread. */
  pairs(): number[] {
    return [...this.counts].flat();
  }

  /** Adds another Lengths' pairs: whole numbers, so the sum is exact in any order. */
  addPairs(pairs: readonly number[]): void {
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      const v = pairs[i] as number;
      const c = pairs[i + 1] as number;
      this.counts.set(v, (this.counts.get(v) ?? 0) + c);
      this.n += c;
      this.sum += v * c;
    }
  }

  summary(): { min: number; median: number; max: number; mean: number } | null {
    if (this.n === 0) return null;
    const values = [...this.counts.keys()].sort((a, b) => a - b);
    const half = Math.floor((this.n - 1) / 2);
    let seen = 0;
    let median = values[0] as number;
    for (const v of values) {
      seen += this.counts.get(v) as number;
      if (seen > half) {
        median = v;
        break;
      }
    }
    return {
      min: values[0] as number,
      median,
      max: values[values.length - 1] as number,
      mean: this.sum / this.n,
    };
  }
}

/**
 * Score bins: exact counts on a fine log grid, 100 bins a decade from 1e-9
 * to 1 (each 2.3% wide), one below and one from 1 up; bins() merges
 * neighbours into at most DISPLAY_BINS of equal width over the range the
 * scores cover, so a narrow range (rank 1's scores within a factor of 3)
 * still shows its shape. Fixed edges: runs compare bin by bin.
 */
const PER_DECADE = 100;
const DECADES = 9;
export const SCORE_EDGES: readonly number[] = Array.from(
  { length: PER_DECADE * DECADES + 1 },
  (_, i) => 10 ** ((i - PER_DECADE * DECADES) / PER_DECADE),
);
export const DISPLAY_BINS = 20;
const EDGES = Float64Array.from(SCORE_EDGES);
const LAST_EDGE = EDGES.length;

/**
 * The fine bin of x: how many edges are at or below it. The logarithm
 * guesses, the edges themselves decide (a step either way at most), so the
 * bin is the one a binary search over the edges finds, for a third of its
 * time.
 */
export function binOf(x: number): number {
  const edges = EDGES;
  if (!(x >= (edges[0] as number))) return x < (edges[0] as number) ? 0 : LAST_EDGE;
  if (x >= (edges[LAST_EDGE - 1] as number)) return LAST_EDGE;
  let b = Math.floor(Math.log10(x) * PER_DECADE) + PER_DECADE * DECADES + 1;
  if (b < 1) b = 1;
  else if (b > LAST_EDGE - 1) b = LAST_EDGE - 1;
  while (x < (edges[b - 1] as number)) b--;
  while (x >= (edges[b] as number)) b++;
  return b;
}

/**
 * binOf's guess without a logarithm, for addAll: a double's high word
 * shifted by GUESS_SHIFT keeps its exponent and 7 bits of its fraction,
 * 1/128 of an octave (0.5%, a fifth of a bin's 2.3%), and GUESS holds the
 * bin of each such bucket's least value; the edges decide from there, as
 * in binOf. On 1 GB the logarithms were 0.1 s of the main thread's time.
 */
const GUESS_SHIFT = 13;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
function highWord(x: number): number {
  const f = new Float64Array([x]);
  return new Uint32Array(f.buffer)[HI] as number;
}
const GUESS_FROM = highWord(EDGES[0] as number) >>> GUESS_SHIFT;
const GUESS = Uint16Array.from(
  { length: (highWord(EDGES[LAST_EDGE - 1] as number) >>> GUESS_SHIFT) - GUESS_FROM + 1 },
  (_, i) => {
    const f = new Float64Array(1);
    new Uint32Array(f.buffer)[HI] = (GUESS_FROM + i) << GUESS_SHIFT;
    return Math.min(LAST_EDGE - 1, Math.max(1, binOf(f[0] as number)));
  },
);

export class ScoreBins {
  readonly counts = new Float64Array(SCORE_EDGES.length + 1);
  n = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  sum = 0;

  add(x: number): void {
    this.n++;
    this.sum += x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.counts[binOf(x)]++;
  }

  /** add() for each of xs, in order; the bins guessed by GUESS (the same bins as binOf's). */
  addAll(xs: Float64Array): void {
    const counts = this.counts;
    const edges = EDGES;
    const lo = edges[0] as number;
    const hi = edges[LAST_EDGE - 1] as number;
    // A Float64Array starts at a multiple of 8: its high words are every other u32.
    const words = new Uint32Array(xs.buffer, xs.byteOffset, xs.length * 2);
    let { n, sum, min, max } = this;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      n++;
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
      let b: number;
      if (LITTLE_ENDIAN && x >= lo && x < hi) {
        b = GUESS[((words[2 * i + 1] as number) >>> GUESS_SHIFT) - GUESS_FROM] as number;
        while (x >= (edges[b] as number)) b++;
        while (x < (edges[b - 1] as number)) b--;
      } else b = binOf(x);
      counts[b]++;
    }
    Object.assign(this, { n, sum, min, max });
  }

  /** Fine bin i as a Bin: 0 is everything below 1e-9, the last everything from 1 up. */
  private fine(i: number, j = i): Bin {
    let count = 0;
    for (let k = i; k <= j; k++) count += this.counts[k] as number;
    return {
      from: i === 0 ? null : (SCORE_EDGES[i - 1] as number),
      to: j === SCORE_EDGES.length ? null : (SCORE_EDGES[j] as number),
      count,
    };
  }

  /** At most DISPLAY_BINS bins (plus the open-ended ones when used) from the first non-empty to the last. */
  bins(): Bin[] {
    const last = SCORE_EDGES.length;
    const out: Bin[] = [];
    if ((this.counts[0] as number) > 0) out.push(this.fine(0));
    let a = 1;
    while (a < last && this.counts[a] === 0) a++;
    let z = last - 1;
    while (z >= a && this.counts[z] === 0) z--;
    if (a <= z) {
      const width = Math.ceil((z - a + 1) / DISPLAY_BINS);
      for (let i = a; i <= z; i += width) out.push(this.fine(i, Math.min(z, i + width - 1)));
    }
    if ((this.counts[last] as number) > 0) out.push(this.fine(last));
    return out;
  }
}

/** Exact powers of ten (up to 1e22 a double holds exactly). */
export const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A JSON number's bytes as a double, exactly as Number() reads them: with
 * at most 15 significant digits and a decimal exponent within 22, the
 * digits as a whole number (exact) times or divided by an exact power of
 * ten is one correctly rounded operation (Clinger's fast path); anything
 * else goes through Number(). Scores are printed with 6 digits, so almost
 * all take the fast path, and no string is made.
 */
export function parseNumber(buf: Uint8Array, s: number, e: number): number {
  let i = s;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
  }
  let mant = 0;
  let digits = 0;
  let scale = 0;
  let seenDot = false;
  for (; i < e; i++) {
    const c = buf[i] as number;
    if (c >= 48 && c <= 57) {
      if (mant !== 0 || c !== 48) digits++;
      mant = mant * 10 + (c - 48);
      if (seenDot) scale--;
    } else if (c === 46 && !seenDot) seenDot = true;
    else break;
  }
  if (i < e) {
    if (buf[i] !== 101 && buf[i] !== 69) return slow(buf, s, e);
    i++;
    let eneg = false;
    if (buf[i] === 45 || buf[i] === 43) eneg = buf[i++] === 45;
    let ex = 0;
    const from = i;
    for (; i < e; i++) {
      const c = (buf[i] as number) - 48;
      if (c < 0 || c > 9 || ex > 1000) return slow(buf, s, e);
      ex = ex * 10 + c;
    }
    if (i === from) return slow(buf, s, e);
    scale += eneg ? -ex : ex;
  }
  if (digits > 15 || scale < -22 || scale > 22) return slow(buf, s, e);
  const x = scale < 0 ? mant / (POW10[-scale] as number) : mant * (POW10[scale] as number);
  return neg ? -x : x;
}

function slow(buf: Uint8Array, s: number, e: number): number {
  return Number(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1'));
}

/** |A∩B| / |A∪B| of two id lists (as hashes or ids; repeats within a list count once); 1 for two empty lists. */
export function jaccard(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let both = 0;
  for (const x of sa) if (sb.has(x)) both++;
  const union = sa.size + sb.size - both;
  return union === 0 ? 1 : both / union;
}

/** Ten bins of width 0.1 over [0, 1] (1 in the last), for Jaccard values. */
export class UnitBins {
  readonly counts = new Float64Array(10);
  add(x: number): void {
    this.counts[Math.min(9, Math.floor(x * 10))]++;
  }
  bins(): Bin[] {
    return Array.from(this.counts, (count, i) => ({ from: i / 10, to: (i + 1) / 10, count }));
  }
}

/**
 * A pre-merged centroid holds at most n x BATCH_DELTA x q(1 - q) scores of
 * a batch of n at its quantile q: a quarter of what the digest itself lets
 * a centroid grow to (4 x N x delta x q(1 - q), N >= n), so the digest's
 * own merging, not this, bounds the error.
 */
const BATCH_DELTA = 0.01;

/**
 * A batch sorted, then cut into centroids of neighbouring scores, each
 * within the bound at its middle; a run of one value longer than that is
 * a centroid of its own (exact), and the tails stay single scores.
 */
export function batchCentroids(values: Float64Array): { means: number[]; counts: number[] } {
  const xs = sortFloat64(values);
  const n = xs.length;
  const means: number[] = [];
  const counts: number[] = [];
  /** The centroid being gathered: its first score's place, sum and count. */
  let from = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; ) {
    const x = xs[i] as number;
    let j = i + 1;
    while (j < n && xs[j] === x) j++;
    const run = j - i;
    // The bound at the centroid's middle with this run in it.
    const q = (from + (count + run) / 2) / n;
    if (count > 0 && count + run > n * BATCH_DELTA * q * (1 - q)) {
      means.push(sum / count);
      counts.push(count);
      sum = 0;
      count = 0;
    }
    if (count === 0) from = i;
    sum += x * run;
    count += run;
    i = j;
  }
  if (count > 0) {
    means.push(sum / count);
    counts.push(count);
  }
  return { means, counts };
}
