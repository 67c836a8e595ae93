import { PbError } from '../errors.js';
import { RecordSplitter } from './lines.js';
import type { OptionNames } from './option-names.js';

/**
 * The delimiter rule and what goes with it: whether records fit a header's
 * field count, Excel's `sep=` line, the --delimiter value, and the refusal
 * of columns lined up with spaces.
 */

/** The delimiters tried, in this order, when none is given. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** How many records the delimiter and header rules look at. */
export const SNIFF_RECORDS = 50;

/** The outcome of the delimiter rule. */
export interface Delimited {
  /** null: one column (no candidate splits any line). */
  delimiter: string | null;
  /** Excel's `sep=X` first line was there (and named the delimiter). */
  sepLine: boolean;
  /** Said when the delimiter was taken though some sampled rows do not fit it. */
  warning?: string;
}

/** Whether a record of `count` fields fits a header of `header` names (see fieldsFit). */
export interface FieldShape {
  /** Names in the header. */
  count: number;
  /** Names up to the last non-empty one: fewer fields than `count` are fine down to this. */
  minimum: number;
}

export function shapeOf(header: readonly string[]): FieldShape {
  let minimum = header.length;
  while (minimum > 1 && (header[minimum - 1] as string).trim() === '') minimum--;
  return { count: header.length, minimum };
}

/**
 * A record fits the header when it has as many fields, or more where the
 * extra ones are empty (a trailing delimiter, as some exports write), or
 * fewer where the missing ones have no name in the header (the header had
 * the trailing delimiter). `extraEmpty` says whether fields past the header are empty.
 */
export function fieldsFit(shape: FieldShape, count: number, extraEmpty: () => boolean): boolean {
  if (count === shape.count) return true;
  if (count < shape.count) return count >= shape.minimum;
  return extraEmpty();
}

export interface Sample {
  fields: string[];
  line: number;
}

/** The first SNIFF_RECORDS records of `text` split by `delimiter` (null: whole lines). */
export function sampleRecords(
  text: string,
  ended: boolean,
  delimiter: string | null,
  file: string,
  firstLine: number,
): Sample[] {
  const splitter = new RecordSplitter({ delimiter, maxRecordLength: Number.MAX_SAFE_INTEGER, file });
  splitter.nextLine = firstLine;
  let rows = splitter.push(text);
  if (ended) {
    try {
      rows = rows.concat(splitter.end());
    } catch {
      // An unclosed quote at the end: the records before it are the sample.
    }
  }
  return rows.slice(0, SNIFF_RECORDS).map((r) => ({ fields: r.fields, line: r.line }));
}

function shown(d: string): string {
  return d === '\t' ? 'TAB' : `"${d}"`;
}

/**
 * The blank line a report's footer starts at: `line`, the first record
 * that does not fit, comes after one, and every record from it on is one
 * field; undefined otherwise.
 */
function footerFrom(recs: readonly Sample[], line: number): number | undefined {
  const at = recs.findIndex((r) => r.line === line);
  const before = recs[at - 1];
  if (at <= 0 || !before || line <= before.line + 1) return undefined;
  return recs.slice(at).every((r) => r.fields.length === 1) ? before.line + 1 : undefined;
}

/**
 * The delimiter rule. Excel's `sep=X` first line names it. Otherwise each of
 * `,` `;` TAB `|` splits the first records (quotes respected); one that
 * gives the header more than one field and every record a count that fits
 * it (fieldsFit) wins. Two winners are a usage error naming the delimiter
 * option. With no winner, the only candidate that splits the header is
 * taken if at least half the records fit it (the others are bad rows, to
 * be rejected one by one; a warning names the first); no candidate
 * splitting any line means one column; anything else is a usage error.
 */
export function sniffDelimiter(
  text: string,
  ended: boolean,
  file: string,
  names: OptionNames,
  /** The line `text` starts on (lines skipped before it). */
  firstLine = 1,
): Delimited {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const firstText = body.split(/\r\n|\n|\r/).find((l) => l.trim() !== '') ?? '';
  const sep = sepLineOf(firstText);
  if (sep !== null) return { delimiter: sep, sepLine: true };
  const fits: string[] = [];
  const splits: { d: string; header: number; bad: Sample[]; records: number; headerSplit: boolean }[] = [];
  for (const d of DELIMITERS) {
    const recs = sampleRecords(body, ended, d, file, firstLine);
    const head = recs[0];
    if (!head) continue;
    const split = recs.some((r) => r.fields.length > 1);
    if (!split) continue;
    const shape = shapeOf(head.fields);
    const bad = recs.filter(
      (r) =>
        !fieldsFit(shape, r.fields.length, () => r.fields.slice(shape.count).every((f) => f.trim() === '')),
    );
    splits.push({ d, header: head.fields.length, bad, records: recs.length, headerSplit: shape.minimum > 1 });
    if (bad.length === 0 && shape.minimum > 1) fits.push(d);
  }
  if (fits.length === 1) return { delimiter: fits[0] as string, sepLine: false };
  if (fits.length > 1) {
    throw new PbError(
      'PB_USAGE',
      `cannot tell the delimiter: ${fits.map(shown).join(' and ')} each split the first lines into the same number of fields; pass ${names.delimiter} (one of , ; tab |)`,
      { file },
    );
  }
  if (splits.length === 0) return { delimiter: null, sepLine: false };
  const headerSplits = splits.filter((x) => x.headerSplit);
  const only = headerSplits[0];
  if (headerSplits.length === 1 && only && only.bad.length * 2 <= only.records - 1) {
    // Only one candidate could be the delimiter and most rows fit it: the rest are bad rows.
    const first = only.bad[0] as Sample;
    return {
      delimiter: only.d,
      sepLine: false,
      warning: `${only.bad.length} of the first ${only.records - 1} rows do not have the header's ${only.header} fields by ${shown(only.d)} (the first: line ${first.line}, with ${first.fields.length}); rows like these are rejected`,
    };
  }
  // Some candidate splits some line, none evenly: say where the most promising one breaks.
  const best = splits.reduce((a, b) => (b.header > a.header ? b : a));
  const bad = best.bad[0];
  let where = bad
    ? `; by ${shown(best.d)} the header has ${best.header} field${best.header === 1 ? '' : 's'} but line ${bad.line} has ${bad.fields.length}`
    : '';
  // A title over the table (a report): the first record with the widest split is where the table starts.
  const recs = sampleRecords(body, ended, best.d, file, firstLine);
  const widest = Math.max(...recs.map((r) => r.fields.length));
  const start = recs.find((r) => r.fields.length === widest);
  // A table (--users, --catalog) names no format option (no plain format, no --skip-lines), and stops at a bad row.
  const table = !names.format;
  if (start && start.line > firstLine && widest > 1)
    where += `; if the lines before line ${start.line} are a title, ${names.skipLines ? `pass ${names.skipLines} ${start.line - 1}` : 'delete them'}`;
  const footer = bad && footerFrom(recs, bad.line);
  if (footer !== undefined)
    where += `; after the blank line ${footer}, every line is one field: a report's footer (Salesforce's Printable View writes one: Copyright, Generated By)? Delete the lines from line ${footer} on, or export the report without it`;
  const choose = table
    ? `pass ${names.delimiter} to choose one (a row that does not fit it then stops the command there)`
    : `pass ${names.delimiter} to choose one (rows that do not fit are then rejected one by one), or ${names.format} plain for one id per line`;
  throw new PbError(
    'PB_USAGE',
    `cannot tell the delimiter: none of , ; TAB | splits the first lines into the same number of fields${where}; ${choose}`,
    { file },
  );
}

/**
 * The delimiter Excel's `sep=X` first line names, or null for any other
 * line (X is a literal tab for TAB; a character that cannot be a delimiter
 * makes it an ordinary line).
 */
export function sepLineOf(line: string): string | null {
  const m = /^"?sep=(.)"?\r?$/i.exec(line);
  return m && isDelimiterChar(m[1] as string) ? (m[1] as string) : null;
}

/** Single ASCII punctuation (or TAB) that a CSV could use between fields. */
export function isDelimiterChar(d: string): boolean {
  return d.length === 1 && (d === '\t' || /^[!#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]$/.test(d)) && d !== '"';
}

/** Parses a --delimiter value: the character, or a name for it (`tab`, `\t`, `semicolon`, ...). */
export function parseDelimiter(value: string, option: string): string {
  const named: Record<string, string> = {
    tab: '\t',
    '\\t': '\t',
    comma: ',',
    semicolon: ';',
    pipe: '|',
  };
  const d = named[value.toLowerCase()] ?? value;
  if (!isDelimiterChar(d)) {
    throw new PbError(
      'PB_USAGE',
      `${option} must be one character such as , ; | or tab, got ${JSON.stringify(value)}`,
    );
  }
  return d;
}

/**
 * A one-column file whose lines are mostly split by runs of two or more
 * spaces (`customer_id  name` over `101          Anna`): columns lined up
 * for printing, which no delimiter reads. Refused with the fix.
 */
export function checkNotAligned(text: string, file: string, names: OptionNames): void {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .slice(0, SNIFF_RECORDS);
  const aligned = lines.filter((l) => /\S {2,}\S/.test(l)).length;
  if (lines.length >= 2 && aligned * 5 >= lines.length * 4) {
    throw new PbError(
      'PB_USAGE',
      `the columns are lined up with runs of spaces (a printed or fixed-width report), which is not read; save the data as CSV or TSV${names.format ? `, or pass ${names.format} plain if each whole line is an id` : ''}`,
      { file },
    );
  }
}
