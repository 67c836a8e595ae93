/**
 * The report's score quantiles (core/score-digest.ts): the buckets' path
 * held to the sorted batches' path it replaced and to the exact quantiles,
 * on random scores in random chunkings; the buckets' centroids; and the
 * digest worker's batches end to end (their buffers sent back and used
 * again).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import tdigest from 'tdigest';
import { REPORT_QUANTILES } from '../../src/core/report.js';
import {
  BUCKET_BITS,
  BUCKETS_FROM,
  BUCKETS_TO,
  bucketCentroids,
  pushBatch,
  SCORE_BATCH,
  ScoreDigest,
} from '../../src/core/score-digest.js';
import { ScoreDigests } from '../../src/stages/report/digests.js';
import { prng } from '../out-fixtures.js';

/** A bucket's width against its values, at most. */
const WIDTH = 2 ** -BUCKET_BITS;
const QS = [...REPORT_QUANTILES];

type Kind = 'scores' | 'wide' | 'edge' | 'repeats' | 'narrow' | 'negative';

/**
 * n scores of a kind: service-like (6 digits, falling), wide (outside the buckets too), about the
 * buckets' lower edge (half taking the batches' path), repeats, one narrow band, below zero.
 */
function scores(r: () => number, kind: Kind, n: number): Float64Array {
  const odd = [0, -0, 5e-324, 1e-300, 2 ** -40, 2 ** 8, 1e300, -1, 0.1];
  return Float64Array.from({ length: n }, () => {
    const y = r();
    if (kind === 'scores') return Number((r() ** 3 * 0.2).toPrecision(6));
    if (kind === 'wide')
      return y < 0.01
        ? (odd[Math.floor(r() * odd.length)] as number)
        : 10 ** (r() * 40 - 20) * (y < 0.1 ? -1 : 1);
    if (kind === 'edge') return BUCKETS_FROM * (y < 0.25 ? 2 ** -r() : 2 ** (r() * 40));
    if (kind === 'repeats') return Math.floor(y * 5) * 0.25 + 0.125;
    if (kind === 'narrow') return Number((0.5 + r() * 0.0004).toPrecision(7));
    return -Number((r() * 0.3).toPrecision(6));
  });
}

/** xs in pieces of random lengths (some past a batch), as the lanes' pieces come. */
function chunks(r: () => number, xs: Float64Array): Float64Array[] {
  const out: Float64Array[] = [];
  for (let at = 0; at < xs.length; ) {
    const len = Math.min(xs.length - at, 1 + Math.floor(r() ** 4 * 1.5 * SCORE_BATCH));
    out.push(xs.slice(at, at + len));
    at += len;
  }
  return out;
}

/** The path before the buckets: every 65,536 scores sorted and pushed as centroids. */
function batchesPath(xs: Float64Array): number[] {
  const d = new tdigest.TDigest();
  for (let at = 0; at < xs.length; at += SCORE_BATCH) pushBatch(d, xs.slice(at, at + SCORE_BATCH));
  d.compress();
  return d.percentile(QS) as number[];
}

function bucketsPath(parts: Float64Array[]): number[] {
  const d = new ScoreDigest();
  for (const p of parts) d.add(p);
  return d.quantiles(QS);
}

/**
 * Where an estimate of quantile p may lie: between the sorted scores 1% of
 * the ranks (and two) either side of p, as report.test.ts holds the
 * t-digest; `widen`, a bucket's width beyond that in value.
 */
function within(sorted: Float64Array, p: number, est: number, widen: number): boolean {
  const n = sorted.length;
  const slack = Math.ceil(0.01 * n);
  const lo = sorted[Math.max(0, Math.floor(p * n) - 2 - slack)] as number;
  const hi = sorted[Math.min(n - 1, Math.ceil(p * n) + 1 + slack)] as number;
  return est >= lo - Math.abs(lo) * widen && est <= hi + Math.abs(hi) * widen;
}

/** Math.random from a seed while f runs: the digest shuffles its centroids. */
function seeded<T>(seed: number, f: () => T): T {
  const random = Math.random;
  Math.random = prng(seed);
  try {
    return f();
  } finally {
    Math.random = random;
  }
}

describe('score quantiles', () => {
  test('the buckets against the sorted batches and the exact quantiles, random scores in random chunkings', () => {
    const r = prng(Number(process.env.SEED ?? 31));
    for (const kind of ['scores', 'wide', 'edge', 'repeats', 'narrow', 'negative'] as const) {
      for (const n of [1, 5, 3000, 150_000]) {
        const xs = scores(r, kind, n);
        const sorted = xs.slice().sort();
        // The digest shuffles: a seeded Math.random, so that a run's outcome is the next run's.
        const old = seeded(n, () => batchesPath(xs));
        const got = seeded(n, () => bucketsPath(chunks(r, xs)));
        // Five values repeated: the digest interpolates between their runs either way (no rank
        // bound), and a bucket a value makes the same centroids as the sorted runs did.
        if (kind === 'repeats') assert.deepEqual(got, old, `${kind}, ${n} scores`);
        else
          for (const [j, p] of QS.entries()) {
            const at = `${kind}, ${n} scores, p${p}`;
            assert.ok(within(sorted, p, old[j] as number, 0), `${at}: the batches' ${old[j]}`);
            assert.ok(within(sorted, p, got[j] as number, WIDTH), `${at}: the buckets' ${got[j]}`);
          }
      }
    }
  });

  test("over a hundred quantiles of scores half in the buckets, the mean error in ranks about the batches'", () => {
    const ps = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
    const r = prng(17);
    const xs = scores(r, 'wide', 150_000);
    const sorted = xs.slice().sort();
    const rankError = (est: number[]) => {
      let sum = 0;
      for (const [j, p] of ps.entries()) {
        const x = est[j] as number;
        // The ranks x takes among the sorted scores: from the first not below it to the last not above.
        let a = sorted.findIndex((v) => v >= x);
        if (a < 0) a = sorted.length;
        let z = a;
        while (z < sorted.length && (sorted[z] as number) <= x) z++;
        a /= sorted.length;
        z = (z - 1) / sorted.length;
        sum += p < a ? a - p : p > z ? p - z : 0;
      }
      return sum / ps.length;
    };
    // Measured (three seeds of the shuffles): the batches' 0.025 to 0.030%, the buckets' 0.036 to
    // 0.039%; with the buckets' centroids pushed after the others' instead of in one order with
    // them, 0.13%.
    const old = seeded(5, () => {
      const d = new tdigest.TDigest();
      for (let at = 0; at < xs.length; at += SCORE_BATCH) pushBatch(d, xs.slice(at, at + SCORE_BATCH));
      d.compress();
      return d.percentile(ps) as number[];
    });
    const got = seeded(5, () => {
      const d = new ScoreDigest();
      for (const part of chunks(r, xs)) d.add(part);
      return d.quantiles(ps);
    });
    assert.ok(rankError(old) < 0.001, `the batches' ${rankError(old)}`);
    assert.ok(rankError(got) < 0.001, `the buckets' ${rankError(got)}`);
  });

  test('the same quantiles in any chunking (the buckets hold the scores in order), and none for no scores', () => {
    const r = prng(7);
    for (const kind of ['scores', 'wide'] as const) {
      const xs = scores(r, kind, 200_000);
      const once = seeded(3, () => bucketsPath([xs]));
      for (let k = 0; k < 3; k++)
        assert.deepEqual(
          seeded(3, () => bucketsPath(chunks(r, xs))),
          once,
          kind,
        );
    }
    assert.ok(new ScoreDigest().quantiles(QS).every(Number.isNaN));
  });

  test("one score alone is every quantile, at the buckets' edges and outside them", () => {
    const below = (x: number) => x * (1 - 2 ** -52);
    for (const x of [
      BUCKETS_FROM,
      below(BUCKETS_FROM),
      BUCKETS_TO,
      below(BUCKETS_TO),
      0.0511705,
      0,
      -0.5,
      5e-324,
      1e300,
    ]) {
      const d = new ScoreDigest();
      d.add(Float64Array.of(x));
      assert.deepEqual(
        d.quantiles(QS),
        QS.map(() => x),
        `${x}`,
      );
    }
  });

  test("the buckets' centroids: ascending, every score once, each within the bound or one bucket", () => {
    const r = prng(5);
    const xs = scores(r, 'scores', 100_000).filter((x) => x >= BUCKETS_FROM && x < BUCKETS_TO);
    const sorted = xs.slice().sort();
    const counts = new Float64Array((48 << BUCKET_BITS) + 1);
    const sums = new Float64Array(counts.length);
    for (const x of xs) {
      counts[bucketOf(x)]++;
      sums[bucketOf(x)] += x;
    }
    const c = bucketCentroids(counts, sums, xs.length);
    assert.equal(
      c.counts.reduce((a, b) => a + b, 0),
      xs.length,
    );
    let at = 0;
    for (const [i, k] of c.counts.entries()) {
      const group = sorted.subarray(at, at + k);
      assert.ok((c.means[i] as number) >= (group[0] as number) * (1 - 1e-12), `centroid ${i} low`);
      assert.ok((c.means[i] as number) <= (group[k - 1] as number) * (1 + 1e-12), `centroid ${i} high`);
      const q = (at + k / 2) / xs.length;
      const oneBucket = bucketOf(group[0] as number) === bucketOf(group[k - 1] as number);
      assert.ok(oneBucket || k <= Math.max(1, 4 * xs.length * 0.01 * q * (1 - q)), `centroid ${i}: ${k}`);
      at += k;
    }
    assert.ok(c.means.length > 50 && c.means.length < xs.length / 20, `${c.means.length} centroids`);
  });

  test("the worker's batches: more than a batch a rank, buffers used again, quantiles as exact as the digest", async () => {
    const r = prng(11);
    const xs = [scores(r, 'scores', 5 * SCORE_BATCH + 17), scores(r, 'wide', 2 * SCORE_BATCH + 3)];
    const d = new ScoreDigests(2, QS);
    for (const [rank, x] of xs.entries()) {
      for (const part of chunks(r, x)) {
        if (r() < 0.5) d.addAll(rank, part);
        else for (const v of part) d.add(rank, v);
        await d.behind();
      }
    }
    const got = await d.finish();
    for (const [rank, x] of xs.entries()) {
      const sorted = x.slice().sort();
      for (const [j, p] of QS.entries())
        assert.ok(
          within(sorted, p, got[rank]?.[j] as number, WIDTH),
          `rank ${rank} p${p}: ${got[rank]?.[j]}`,
        );
    }
  });
});

/** The module's bucket of x, from its double's high word. */
function bucketOf(x: number): number {
  const f = new Float64Array([x]);
  const hi = new Uint32Array(f.buffer)[1] as number;
  return (hi >>> (20 - BUCKET_BITS)) - ((1023 - 40) << BUCKET_BITS);
}
