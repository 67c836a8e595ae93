/**
 * What one cell holds, read for a record: an id (text, or a number exactly
 * as written), the items of an item-list cell, several filter values.
 */

/** undefined for a missing/null cell, null for something that cannot be an id (object, array, boolean). */
export function toText(v: unknown): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  // JSON.parse has already rounded an integer past 2^53; its digits are not the id any more.
  if (typeof v === 'number' && Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v))) {
    return String(v);
  }
  if (typeof v === 'bigint') return String(v);
  return null;
}

/** Why a cell toText refused is not an id. */
export function notText(v: unknown): string {
  return typeof v === 'number' && Number.isInteger(v)
    ? 'a number too large to read exactly (over 2^53): write it as a string in the source'
    : 'must be text or a number';
}

/**
 * The items of one item-list cell: split on the separator, or a JSON list
 * (`["a","b"]`) read as one. A Python list (`['a', 'b']`) or commas with no
 * separator in sight would come out as one odd item: refused with the fix.
 */
export function listCell(text: string, sep: string): { items: string[] } | { problem: string } {
  const t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      return {
        problem: `${JSON.stringify(t.slice(0, 40))} looks like a Python list; write the items separated by ${JSON.stringify(sep)} (or as a JSON list)`,
      };
    }
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
      return { items: v.map((x) => String(x).trim()).filter((x) => x !== '') };
    return { problem: 'a JSON list in the cell must hold item ids (strings or numbers)' };
  }
  if (sep !== ',' && t.includes(',') && !t.includes(sep)) {
    return {
      problem: `${JSON.stringify(t.slice(0, 40))} has commas but no ${JSON.stringify(sep)}: if the items are separated by commas, pass --list-separator ','`,
    };
  }
  return { items: splitValues(t, sep) };
}

/** Values separated by `sep`, trimmed, the empty ones left out. */
export function splitValues(text: string, sep: string): string[] {
  return text
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** What databases, pandas and spreadsheets write for "no value". */
export const NULL_MARKERS: ReadonlySet<string> = new Set([
  'NULL',
  'null',
  'Null',
  '\\N',
  'None',
  'none',
  'NaN',
  'nan',
  'NA',
  'N/A',
  'n/a',
  '(null)',
  'nil',
  'undefined',
  '-',
]);
