import tdigest from 'tdigest';
import { batchCentroids } from './report.js';

type TDigest = InstanceType<typeof tdigest.TDigest>;

/**
 * Fraction bits a bucket keeps of a score's double: 4,096 buckets an
 * octave, each at most 2^-12 (2.4e-4) of its values wide.
 */
export const BUCKET_BITS = 12;
/** The buckets cover [2^LO_EXP, 2^HI_EXP) (about 9.1e-13 to 256); a score outside takes the batches' path. */
const LO_EXP = -40;
const HI_EXP = 8;
export const BUCKETS_FROM = 2 ** LO_EXP;
export const BUCKETS_TO = 2 ** HI_EXP;
const BUCKETS = (HI_EXP - LO_EXP) << BUCKET_BITS;
/** A double's high word shifted right by SHIFT: its exponent and BUCKET_BITS of its fraction. */
const SHIFT = 20 - BUCKET_BITS;
const FIRST = (1023 + LO_EXP) << BUCKET_BITS;
/** Scores outside the buckets gathered this many at a time, sorted and pushed as centroids. */
export const SCORE_BATCH = 65536;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The digest's own bound: a centroid at quantile q of n scores holds at
 * most 4 x n x DIGEST_DELTA x q(1 - q) of them (tdigest's default delta,
 * which the digest is made with).
 */
const DIGEST_DELTA = 0.01;

/**
 * One rank position's score quantiles: a t-digest (npm `tdigest`) fed
 * pre-merged centroids.
 *
 * Each batch used to be sorted (a radix sort) and cut into centroids of
 * neighbouring scores before the digest took them: on 1 GB of outputs
 * (7.5 M scores) the sort alone was 0.5 to 0.7 s of CPU and the pushes
 * about as much, a third of a core beside the pass. A score within
 * [BUCKETS_FROM, BUCKETS_TO) now only adds to an exact count and sum in
 * its bucket (its double's exponent and 12 fraction bits); at the end the
 * buckets, in order, are cut into centroids at the digest's own size bound
 * (as the t-digest's merging form builds them from sorted scores), and
 * those go to the digest with the other scores' centroids. Cut at a
 * quarter of that bound (batchCentroids'), the centroids were four times
 * as many, the digest's merging of them at the end took twice the time, cold,
 * on the thread the report waits for last, and its estimates were no
 * closer. What the buckets may change: a bucket's scores are one centroid
 * whatever its count, so an estimate can move by at most a bucket's width
 * (2.4e-4 of its value) beyond the digest's own error. Memory: two
 * Float64Arrays of 196,608 buckets (3 MiB), only the pages the scores fall
 * in touched, and one batch of other scores.
 */
export class ScoreDigest {
  private readonly digest: TDigest = new tdigest.TDigest();
  private counts: Float64Array | undefined;
  private sums: Float64Array | undefined;
  private bucketed = 0;
  private readonly rest = new Float64Array(SCORE_BATCH);
  private restN = 0;

  /** Scores of this rank, in any order. */
  add(xs: Float64Array): void {
    if (!LITTLE_ENDIAN) {
      this.addRest(xs, 0, xs.length);
      return;
    }
    if (!this.counts) {
      this.counts = new Float64Array(BUCKETS);
      this.sums = new Float64Array(BUCKETS);
    }
    const counts = this.counts;
    const sums = this.sums as Float64Array;
    // A Float64Array starts at a multiple of 8: its high words are every other u32.
    const words = new Uint32Array(xs.buffer, xs.byteOffset, xs.length * 2);
    let bucketed = 0;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i] as number;
      if (x >= BUCKETS_FROM && x < BUCKETS_TO) {
        const b = ((words[2 * i + 1] as number) >>> SHIFT) - FIRST;
        counts[b]++;
        sums[b] += x;
        bucketed++;
      } else this.addRest(xs, i, i + 1);
    }
    this.bucketed += bucketed;
  }

  private addRest(xs: Float64Array, from: number, to: number): void {
    for (let i = from; i < to; i++) {
      this.rest[this.restN++] = xs[i] as number;
      if (this.restN === SCORE_BATCH) this.flushRest();
    }
  }

  private flushRest(): void {
    if (this.restN > 0) pushBatch(this.digest, this.rest.subarray(0, this.restN));
    this.restN = 0;
  }

  /** The quantiles asked for (NaN each when no score came); no score may be added after. */
  quantiles(qs: readonly number[]): number[] {
    this.flushRest();
    const d = this.digest;
    if (this.counts) {
      const { means, counts } = bucketCentroids(this.counts, this.sums as Float64Array, this.bucketed);
      // With the other scores' centroids, all in one random order: pushed after them, the buckets'
      // came in the order of their values, and the digest merged near where the two sets meet as at a tail.
      for (const c of d.toArray()) {
        means.push(c.mean);
        counts.push(c.n);
      }
      d.reset();
      pushShuffled(d, means, counts);
    }
    if (d.size() === 0) return qs.map(() => Number.NaN);
    d.compress();
    return d.percentile([...qs]) as number[];
  }
}

/**
 * The buckets (ascending) as centroids of neighbouring buckets, each
 * within the digest's bound at its middle for n scores in all; a bucket
 * past that bound alone is a centroid of its own.
 */
export function bucketCentroids(
  counts: Float64Array,
  sums: Float64Array,
  n: number,
): { means: number[]; counts: number[] } {
  const means: number[] = [];
  const out: number[] = [];
  let from = 0;
  let at = 0;
  let sum = 0;
  let count = 0;
  for (let b = 0; b < counts.length; b++) {
    const run = counts[b] as number;
    if (run === 0) continue;
    const q = (from + (count + run) / 2) / n;
    if (count > 0 && count + run > 4 * n * DIGEST_DELTA * q * (1 - q)) {
      means.push(sum / count);
      out.push(count);
      sum = 0;
      count = 0;
    }
    if (count === 0) from = at;
    sum += sums[b] as number;
    count += run;
    at += run;
  }
  if (count > 0) {
    means.push(sum / count);
    out.push(count);
  }
  return { means, counts: out };
}

/** A batch of scores sorted, cut into centroids (batchCentroids), pushed in a random order. */
export function pushBatch(d: TDigest, values: Float64Array): void {
  const { means, counts } = batchCentroids(values);
  pushShuffled(d, means, counts);
}

/** In a random order, as scores come: ascending pushes each land past the digest's max and grow it. */
function pushShuffled(d: TDigest, means: number[], counts: number[]): void {
  const n = means.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  for (const i of order) d.push(means[i] as number, counts[i] as number);
}
