/**
 * Timestamps read strictly: epoch seconds, epoch milliseconds, or ISO 8601
 * calendar dates and times. Nothing else, because a lenient reader turns
 * `05.01.2026` (5 January to a European) into 1 May without a word, and
 * Date.parse reads a time without an offset in the machine's time zone.
 */

/** Numbers above this are epoch milliseconds (1e11 seconds is the year 5138). */
const MS_ABOVE = 1e11;

// ` UTC` is how BigQuery and Snowflake print a UTC time (2026-01-05 10:00:00 UTC): the same as Z.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z| UTC|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** The forms accepted, for messages. */
export const TIME_FORMS =
  'epoch seconds (1767571200), epoch milliseconds (1767571200000) or ISO 8601 (2026-01-05, 2026-01-05T10:00:00Z)';

/** 9999-12-31T23:59:59Z: epoch numbers past it are not seconds or milliseconds (microseconds, say). */
const LAST = 253402300799;

/**
 * Epoch seconds from a cell or option value, or undefined when it is none
 * of the accepted forms. See readTimestamp.
 */
export function parseTimestamp(v: unknown): number | undefined {
  const r = readTimestamp(v);
  return 'seconds' in r ? r.seconds : undefined;
}

/**
 * Epoch seconds, or why not. Numbers are epoch seconds, or milliseconds
 * above 1e11, and must land in 1970-9999 (a microsecond count does not);
 * eight digits that read as a date (20260105) are refused as ambiguous.
 * An ISO date or time without an offset is UTC. Impossible dates
 * (2026-02-30, 25:00) are refused rather than rolled over.
 */
export function readTimestamp(v: unknown): { seconds: number } | { problem: string } {
  const shown = typeof v === 'string' ? JSON.stringify(v.trim()) : String(v);
  const empty = v === '' || v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
  const generic = {
    problem: empty
      ? `empty, where a timestamp is needed: ${TIME_FORMS}`
      : `${shown} is not a timestamp: use ${TIME_FORMS}`,
  };
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v))) {
    const n = Number(v);
    if (!Number.isFinite(n)) return generic;
    const text = String(v).trim();
    if (/^\d{8}$/.test(text) && isoDate(text) !== undefined) {
      return {
        problem: `${shown} could be the date ${isoDate(text)} or epoch seconds in 1970; write ${isoDate(text)} for the date`,
      };
    }
    if (n >= 20000 && n < 80000) {
      // Epoch seconds in the first day of 1970: an Excel date serial (days since 1899-12-30) is likelier.
      const iso = new Date(Date.UTC(1899, 11, 30) + n * 86400000).toISOString().replace(/\.000Z$/, 'Z');
      return {
        problem: `${shown} looks like an Excel date serial (${iso}), not epoch seconds; format the column as yyyy-mm-dd hh:mm:ss before exporting, or use ${TIME_FORMS}`,
      };
    }
    const seconds = n > MS_ABOVE ? n / 1000 : n;
    if (seconds < 0 || seconds > LAST) {
      return {
        problem: `${shown} is not a timestamp: as epoch ${n > MS_ABOVE ? 'milliseconds' : 'seconds'} it falls outside 1970-9999${seconds > LAST ? ' (microseconds?)' : ''}; use ${TIME_FORMS}`,
      };
    }
    return { seconds };
  }
  if (typeof v !== 'string') return generic;
  const t = parseIso(v.trim());
  return t === undefined ? { problem: `${generic.problem}${dateHint(v.trim())}` } : { seconds: t };
}

/**
 * What to write instead of a local date form, or '': day.month.year is
 * unambiguous, a slashed date is not (US month/day, most others day/month),
 * so both readings are offered and neither is picked.
 */
function dateHint(text: string): string {
  const dotted = /^(\d{1,2})\.(\d{1,2})\.(\d{4})/.exec(text);
  const slashed = /^(\d{1,2})\/(\d{1,2})\/(\d{4})/.exec(text);
  const iso = (y: string, m: string, d: string) => `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  if (dotted) {
    const [, d, m, y] = dotted as unknown as [string, string, string, string];
    return ` (day.month.year? write ${iso(y, m, d)})`;
  }
  if (slashed) {
    const [, a, b, y] = slashed as unknown as [string, string, string, string];
    return ` (write ${iso(y, a, b)} if it is month/day, ${iso(y, b, a)} if day/month)`;
  }
  return '';
}

/** 20260105 as 2026-01-05 when it is a real date in 1900-2100, else undefined. */
function isoDate(digits: string): string | undefined {
  const iso = `${digits.slice(0, 4)}-${digits.slice(4, 6)}-${digits.slice(6, 8)}`;
  const year = Number(digits.slice(0, 4));
  return year >= 1900 && year <= 2100 && parseIso(iso) !== undefined ? iso : undefined;
}

/**
 * Epoch seconds of an ISO 8601 date or time (2026-01-05, 2026-01-05T10:00:00Z, an offset or
 * ` UTC`; without one, UTC), or undefined: no epoch numbers, nothing lenient.
 */
export function parseIsoTime(s: string): number | undefined {
  return parseIso(s);
}

function parseIso(s: string): number | undefined {
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = sec === undefined ? 0 : Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let t = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
  if (frac !== undefined) t += Number(`0.${frac}`);
  if (zone !== undefined && zone.toUpperCase() !== 'Z' && zone.toUpperCase() !== ' UTC') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!z) return undefined;
    const oh = Number(z[2]);
    const om = z[3] === undefined ? 0 : Number(z[3]);
    if (oh > 23 || om > 59) return undefined;
    t -= (z[1] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return t;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * --since: a parseTimestamp form, or a usage message that says why not.
 * Eight digits that read as a date (20260105) are refused: as epoch seconds
 * they are a day in 1970, which nobody means.
 */
export function parseSince(v: string | number): { seconds: number } | { problem: string } {
  const r = readTimestamp(v);
  if ('seconds' in r) return r;
  const text = String(v).trim();
  if (/^\d{8}$/.test(text) && isoDate(text) !== undefined) return { problem: `--since ${r.problem}` };
  return { problem: `--since must be ${TIME_FORMS}, got ${JSON.stringify(text)}${dateHint(text)}` };
}
