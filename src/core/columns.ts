import { PbError } from '../errors.js';

/** Reads one field of a row: by index for CSV/TSV/plain, by key for JSON Lines. */
export type Accessor = (values: string[] | Record<string, unknown>) => unknown;

/** Column names tried, after lower-casing and dropping `_`, `-`, `.` and spaces. */
export const USER_COLUMNS = ['userid', 'user', 'customerid'] as const;
export const ITEM_COLUMNS = ['itemid', 'item', 'productid', 'sku'] as const;
export const ITEM_LIST_COLUMNS = ['itemlist', 'items'] as const;
export const TIMESTAMP_COLUMNS = ['timestamp', 'eventtime', 'ts'] as const;
export const ATTRIBUTES_COLUMNS = ['itemattributes'] as const;

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[\s_.-]/g, '');
}

/**
 * Finds a column in a header. An explicit name must match exactly (or, failing
 * that, case-insensitively and uniquely). Otherwise the usual names are
 * tried, and none or several matches is a usage error that lists the header,
 * because guessing wrong (say, exporting e-mail addresses as user ids) is worse.
 */
export function findColumn(
  header: readonly string[],
  explicit: string | undefined,
  candidates: readonly string[],
  role: string,
  option: string,
  file: string,
  /** The names are a JSON object's keys, not a header's (for the messages). */
  keys = false,
  /** The option that says a file has no header, named when the "header" looks like data. */
  noHeader = '--no-header',
): number {
  const shown = `${keys ? "the first object's keys are" : 'the header has'} ${header.map((h) => JSON.stringify(h)).join(', ')}`;
  if (explicit !== undefined) {
    // Exact first; then without case; then without case, spaces and _ - . ("Customer ID" for customer_id).
    for (const same of [
      (h: string) => h === explicit,
      (h: string) => h.toLowerCase() === explicit.toLowerCase(),
      (h: string) => normalizeName(h) === normalizeName(explicit),
    ]) {
      const hits = header.flatMap((h, i) => (same(h) ? [i] : []));
      if (hits.length === 1) return hits[0] as number;
      if (hits.length > 1) {
        throw new PbError(
          'PB_USAGE',
          `${option} ${JSON.stringify(explicit)}: the header has ${hits.map((i) => JSON.stringify(header[i])).join(' and ')} (columns ${hits.map((i) => i + 1).join(' and ')}); rename one in the file`,
          { file },
        );
      }
    }
    throw new PbError('PB_USAGE', `no column "${explicit}" for ${option}; ${shown}`, { file });
  }
  const hits = header.flatMap((h, i) =>
    (candidates as readonly string[]).includes(normalizeName(h)) ? [i] : [],
  );
  if (hits.length === 1) return hits[0] as number;
  if (header.length === 0) {
    throw new PbError(
      'PB_USAGE',
      `cannot find the ${role} column: the first record has no fields at all; name the column with ${option}`,
      { file },
    );
  }
  if (hits.length > 1 && hits.every((i) => header[i] === header[hits[0] as number])) {
    throw new PbError(
      'PB_USAGE',
      `the header has ${JSON.stringify(header[hits[0] as number])} ${hits.length} times (columns ${hits.map((i) => i + 1).join(' and ')}), so the ${role} column is ambiguous; rename one in the file`,
      { file },
    );
  }
  if (hits.length === 0) {
    const data = !keys && header.some((h) => /^-?\d+(?:[.,]\d+)?$|@|^\d{4}-\d{2}-\d{2}/.test(h));
    const hint = data
      ? `, or, if that first line is data and the file has no header, pass ${noHeader} and ${option} N (1 is the first column)`
      : '';
    throw new PbError('PB_USAGE', `cannot find the ${role} column; ${shown}: name it with ${option}${hint}`, {
      file,
    });
  }
  throw new PbError(
    'PB_USAGE',
    `the ${role} column is ambiguous: ${hits.map((i) => JSON.stringify(header[i])).join(' and ')} both fit; pick one with ${option}`,
    { file },
  );
}

/** Like findColumn, but returns -1 instead of throwing when no usual name is present. */
export function findOptionalColumn(header: readonly string[], candidates: readonly string[]): number {
  const hits = header.flatMap((h, i) =>
    (candidates as readonly string[]).includes(normalizeName(h)) ? [i] : [],
  );
  return hits.length === 1 ? (hits[0] as number) : -1;
}

export function accessor(index: number, header: readonly string[] | null, keyed: boolean): Accessor {
  if (keyed) {
    const key = (header as readonly string[])[index] as string;
    return (v) => (v as Record<string, unknown>)[key];
  }
  return (v) => (v as string[])[index];
}
