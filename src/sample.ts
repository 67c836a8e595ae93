/**
 * Deterministic sample data: an e-mail list like the ones marketing tools
 * export, with duplicates and a few broken rows, for the demo, the tests and
 * the benchmarks. Same seed, same bytes.
 */

export interface EmailListOptions {
  /** Data rows, duplicates and bad rows included. */
  rows: number;
  /** Share of rows that repeat an earlier user (0 to 1). Default 0.05. */
  duplicateRate?: number;
  /** Rows made invalid on purpose: an empty id, a missing field, an id over 256 characters. Default 0. */
  badRows?: number;
  seed?: number;
  /**
   * Adds an `opt_in` column (true or false), as CRM exports have: about one user in ten has opted
   * out in a given week, a different tenth each week, so two weeks' lists differ in who may be sent to.
   */
  optInWeek?: number;
}

/** Whether the n-th user has opted in, in the given week. */
function optedIn(n: number, week: number): boolean {
  return ((Math.imul(n + 1, 0x85ebca6b) ^ Math.imul(week, 0x27d4eb2f)) >>> 0) % 10 !== 0;
}

const FIRST = [
  'Ana',
  'Bo',
  'Chloé',
  'Dmitri',
  'Eve',
  'Farah',
  'Gus',
  'Hiro',
  'Ines',
  'José',
  'Kai',
  'Léa',
  'Mia',
  'Noor',
];

/** mulberry32: tiny, fast, good enough for shuffling sample ids. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Yields the CSV in ~64 KiB chunks: `email,user_id,first_name,signup_date` (and `opt_in`).
 * Ids are a random permutation-like mapping of row numbers, so they arrive
 * unsorted; duplicates reuse an id seen earlier.
 */
export function* emailListCsv(opts: EmailListOptions): Generator<string> {
  const rand = prng(opts.seed ?? 42);
  const dupRate = opts.duplicateRate ?? 0.05;
  const bad = opts.badRows ?? 0;
  const badEvery = bad > 0 ? Math.max(1, Math.floor(opts.rows / (bad + 1))) : 0;
  const week = opts.optInWeek;
  const optIn = (n: number) => (week === undefined ? '' : optedIn(n, week) ? ',true' : ',false');
  let chunk = `email,user_id,first_name,signup_date${week === undefined ? '' : ',opt_in'}\n`;
  let unique = 0;
  let badDone = 0;
  for (let i = 1; i <= opts.rows; i++) {
    let line: string;
    if (badEvery > 0 && badDone < bad && i % badEvery === 0) {
      badDone++;
      const kind = badDone % 3;
      line =
        kind === 1
          ? `broken${i}@example.com,,Nobody,2026-01-01${optIn(i)}`
          : kind === 2
            ? `short${i}@example.com`
            : `long${i}@example.com,${'x'.repeat(300)},Long,2026-01-01${optIn(i)}`;
    } else {
      let n: number;
      if (unique > 0 && rand() < dupRate) n = Math.floor(rand() * unique);
      else n = unique++;
      // Multiplying by a large odd constant mod 2^32 scrambles the order while staying unique.
      const id = `u${(Math.imul(n + 1, 0x9e3779b1) >>> 0).toString(36)}`;
      const name = FIRST[n % FIRST.length] as string;
      const day = String(1 + (n % 28)).padStart(2, '0');
      line = `${name.toLowerCase()}.${id}@example.com,${id},${name},2025-${String(1 + (n % 12)).padStart(2, '0')}-${day}${optIn(n)}`;
    }
    chunk += `${line}\n`;
    if (chunk.length >= 65536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}
