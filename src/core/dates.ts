/**
 * Timestamps read strictly: epoch seconds, epoch milliseconds, or ISO 8601
 * calendar dates and times. Nothing else, because a lenient reader turns
 * `05.01.2026` (5 January to a European) into 1 May without a word, and
 * Date.parse reads a time without an offset in the machine's time zone.
 */

/** Numbers above this are epoch milliseconds (1e11 seconds is the year 5138). */
const MS_ABOVE = 1e11;

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** The forms accepted, for messages. */
export const TIME_FORMS =
  'epoch seconds (1767571200), epoch milliseconds (1767571200000) or ISO 8601 (2026-01-05, 2026-01-05T10:00:00Z)';

/**
 * Epoch seconds from a cell or option value, or undefined when it is none
 * of the accepted forms. Numbers above 1e11 are milliseconds. An ISO date
 * or time without an offset is UTC. Impossible dates (2026-02-30, 25:00)
 * are refused rather than rolled over.
 */
export function parseTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? (Math.abs(v) > MS_ABOVE ? v / 1000 : v) : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (s === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    return Math.abs(n) > MS_ABOVE ? n / 1000 : n;
  }
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
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
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
  if (typeof v === 'string' && /^\s*\d{8}\s*$/.test(v)) {
    const s = v.trim();
    const iso = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
    if (parseTimestamp(iso) !== undefined) {
      return {
        problem: `--since ${s} could be the date ${iso} or epoch seconds in 1970; write ${iso} for the date`,
      };
    }
  }
  const t = parseTimestamp(v);
  if (t !== undefined) return { seconds: t };
  const text = String(v).trim();
  let hint = '';
  const dotted = /^(\d{1,2})\.(\d{1,2})\.(\d{4})/.exec(text);
  const slashed = /^(\d{1,2})\/(\d{1,2})\/(\d{4})/.exec(text);
  const iso = (y: string, m: string, d: string) => `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  if (dotted) {
    const [, d, m, y] = dotted as unknown as [string, string, string, string];
    hint = ` (day.month.year? write ${iso(y, m, d)})`;
  } else if (slashed) {
    const [, a, b, y] = slashed as unknown as [string, string, string, string];
    hint = ` (write ${iso(y, a, b)} if it is month/day, ${iso(y, b, a)} if day/month)`;
  }
  return { problem: `--since must be ${TIME_FORMS}, got ${JSON.stringify(text)}${hint}` };
}
