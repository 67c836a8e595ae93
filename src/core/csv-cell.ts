import { cutText } from './email-files.js';

/** What a cell may start a formula with (the guard's first check; core/delta.ts reads cells back by it). */
export const FORMULA_CHARS: ReadonlySet<string> = new Set([
  '=',
  '+',
  '-',
  '@',
  '\t',
  '\r',
  '\uFF1D',
  '\uFF0B',
  '\uFF0D',
  '\uFF20',
]);

/**
 * A sign and a number (`-8234567890123456789`, an mParticle id; `-1.3`; `-1,2`; `+4915112345`, a
 * phone number as E.164 writes it, an external id in Braze): a spreadsheet reads a number, not a
 * formula, so it keeps no guard (defusedcsv's rule too). A guard there broke the id: the e-mail
 * tool's import no longer matched it. `+49 30 1234` (spaces) is still guarded.
 */
const SIGNED_NUMBER = /^[-+][0-9.,]*[0-9][0-9.,]*$/;

/** Whether csvCell puts a ' before the value. */
export function guarded(value: string, escapeFormulas: boolean): boolean {
  return (
    escapeFormulas &&
    value.length > 0 &&
    FORMULA_CHARS.has(value[0] as string) &&
    !((value[0] === '-' || value[0] === '+') && SIGNED_NUMBER.test(value))
  );
}

/**
 * csvCell with the value a reader gets (the guard's ' included, quoting not)
 * cut to at most `max` UTF-8 bytes on a character boundary (0: no cut).
 */
export function csvCellCut(
  value: string,
  escapeFormulas: boolean,
  max: number,
): { cell: string; cut: boolean } {
  if (max === 0) return { cell: csvCell(value, escapeFormulas), cut: false };
  const cut = cutText(value, guarded(value, escapeFormulas) ? max - 1 : max);
  return { cell: csvCell(cut ?? value, escapeFormulas), cut: cut !== undefined };
}

/** One CSV text cell from a string: formula guard, then RFC 4180 quoting when needed. */
export function csvCell(value: string, escapeFormulas: boolean): string {
  let v = value;
  if (guarded(v, escapeFormulas)) v = `'${v}`;
  if (/[",\r\n]/.test(v)) return `"${v.replace(/"/g, '""')}"`;
  return v;
}
