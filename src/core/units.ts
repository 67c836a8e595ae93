import { usage } from '../errors.js';

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size: `1000`, `500MB` and `1GB` are decimal (the service
 * quotas are decimal), `64MiB`/`64M` binary.
 */
export function parseBytes(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const mult = m ? BYTE_UNITS[(m[2] as string).toLowerCase()] : undefined;
  if (!m || mult === undefined)
    throw usage(`${option} takes a size such as 500MB, 64MiB or 1000000, got "${text}"`);
  const n = Math.floor(Number(m[1]) * mult);
  if (n <= 0) throw usage(`${option} must be more than 0, got "${text}"`);
  return n;
}

/** Parses a count: `500`, `10K`, `10M`, `1.5M` (decimal). */
export function parseCount(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$/.exec(text);
  if (!m) throw usage(`${option} takes a whole number such as 500 or 10M, got "${text}"`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[(m[2] as string).toLowerCase()] as number;
  const n = Number(m[1]) * mult;
  if (!Number.isInteger(n) || n <= 0) throw usage(`${option} must be a whole number above 0, got "${text}"`);
  return n;
}

const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** The longest timer Node runs as asked: setTimeout fires at once (with a warning) past 2^31-1 ms. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Parses a duration to milliseconds: `60s`, `2m`, `500ms`, `1h`; a bare number
 * is seconds. 0 is refused unless `allowZero` (the emulator's "no delay"); at
 * most 2^31-1 ms (about 24 days), since longer timers would fire at once.
 */
export function parseDuration(text: string, option: string, opts: { allowZero?: boolean } = {}): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const mult = m ? TIME_UNITS[(m[2] as string).toLowerCase()] : undefined;
  if (!m || mult === undefined)
    throw usage(`${option} takes a duration such as 60s, 2m or 500ms, got "${text}"`);
  const n = Math.round(Number(m[1]) * mult);
  if (n <= 0 && !(opts.allowZero && n === 0)) throw usage(`${option} must be more than 0, got "${text}"`);
  if (n > MAX_DURATION_MS)
    throw usage(`${option} must be at most ${MAX_DURATION_MS} ms (about 24 days), got "${text}"`);
  return n;
}

/** The noun for a count: `1 key` but `2 keys`, `0 keys` (`many` for irregular plurals). */
export function noun(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/**
 * A count and its noun, for the lines people read: `count(1, 'key')` is `1 key`, `count(1884121,
 * 'line')` is `1,884,121 lines` (grouped as the progress lines and run's summary are; --json keeps
 * plain numbers).
 */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${grouped(n)} ${noun(n, one, many)}`;
}

/** A number as count() writes it: `1,884,121`. */
export function grouped(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 20 });
}
