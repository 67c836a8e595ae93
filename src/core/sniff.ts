import { PbError } from '../errors.js';
import { normalizeName } from './columns.js';
import { RecordSplitter } from './lines.js';

/**
 * What an input file is, decided from its first bytes and lines by fixed,
 * documented rules (README, "How inputs are read"), with no stream code.
 * Where the content could mean two things the functions here throw a usage
 * error that names the option that settles it, rather than guess.
 */

/** The delimiters tried, in this order, when none is given. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;

/** How many records the delimiter and header rules look at. */
export const SNIFF_RECORDS = 50;

/**
 * First lines that mark a one-column file as having a header: the id column
 * names prepare looks for (README), `id`, and the usual e-mail column names,
 * compared after normalizeName (no case, spaces, `_`, `-` or `.`).
 */
export const HEADER_WORDS: readonly string[] = [
  'id',
  'userid',
  'user',
  'customerid',
  'itemid',
  'item',
  'productid',
  'sku',
  'itemattributes',
  'email',
  'emailaddress',
  'mail',
];

/** Words header names are made of: a first line built of them, over ids, may be a header. */
const HEADERISH_WORDS: readonly string[] = [
  'user',
  'users',
  'username',
  'name',
  'names',
  'id',
  'ids',
  'mail',
  'email',
  'customer',
  'customers',
  'kunde',
  'kunden',
  'kundennummer',
  'client',
  'clients',
  'item',
  'items',
  'product',
  'products',
  'sku',
  'skus',
  'member',
  'members',
  'account',
  'contact',
  'login',
  'handle',
  'number',
  'nummer',
  'nr',
  'no',
  'code',
];

/** Names the options a message points at (the CLI's flags by default; the pipeline file has its own). */
export interface OptionNames {
  delimiter: string;
  encoding: string;
  column: string;
  format: string;
  allowEmailIds: string;
  skipLines: string;
  noHeader: string;
  itemColumn: string;
  itemListColumn: string;
  timestampColumn: string;
  attributes: string;
  since: string;
  /** A filter placeholder filled from a column. */
  filterColumn: (name: string, column?: string) => string;
}

export const CLI_OPTION_NAMES: OptionNames = {
  delimiter: '--delimiter',
  encoding: '--encoding',
  column: '--column',
  format: '--format',
  allowEmailIds: '--allow-email-ids',
  skipLines: '--skip-lines',
  noHeader: '--no-header',
  itemColumn: '--item-column',
  itemListColumn: '--item-list-column',
  timestampColumn: '--timestamp-column',
  attributes: '--attributes',
  since: '--since',
  filterColumn: (name, column) => `--filter-value ${name}=${column ?? 'COLUMN'}`,
};

/** A file type that is not text, found by its signature: refused with what to do instead. */
export interface BinaryKind {
  /** What the file is, as a noun phrase ("an Excel workbook (.xlsx)"). */
  what: string;
  /** What to do instead. */
  fix: string;
}

const SAVE_AS_CSV = 'open it in Excel (or LibreOffice) and save it as "CSV UTF-8", then pass that file';

function startsWith(head: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (head.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (head[at + i] !== sig[i]) return false;
  return true;
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}

function contains(head: Uint8Array, text: string): boolean {
  return Buffer.from(head.buffer, head.byteOffset, head.length).includes(text, 0, 'latin1');
}

/**
 * Recognises files that are not text by their signatures (after gzip has
 * been undone): office documents, archives, PDF, Parquet, images, other
 * compressions, UTF-32. Returns null for anything else.
 */
export function sniffBinary(head: Uint8Array): BinaryKind | null {
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) {
    // Office files are zip archives; their part names sit in the first local headers.
    if (contains(head, 'xl/') || contains(head, 'xl\\'))
      return { what: 'an Excel workbook (.xlsx)', fix: SAVE_AS_CSV };
    if (contains(head, 'opendocument.spreadsheet'))
      return { what: 'an OpenDocument spreadsheet (.ods)', fix: SAVE_AS_CSV };
    if (contains(head, 'word/')) return { what: 'a Word document (.docx)', fix: 'export the list as CSV' };
    return {
      what: 'a zip archive (an .xlsx workbook is one too)',
      fix: 'unzip it and pass the CSV inside, or save the workbook as "CSV UTF-8"',
    };
  }
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]))
    return { what: 'an Excel 97-2003 workbook (.xls) or another old Office file', fix: SAVE_AS_CSV };
  if (startsWith(head, ascii('%PDF-')))
    return { what: 'a PDF document', fix: 'export the list from where it came from as CSV' };
  if (startsWith(head, ascii('PAR1')))
    return {
      what: 'a Parquet file',
      fix: `write it as CSV or JSON Lines first (duckdb -c "COPY (FROM 'file.parquet') TO 'file.csv'")`,
    };
  if (startsWith(head, ascii('SQLite format 3\u0000')))
    return {
      what: 'an SQLite database',
      fix: 'export the table as CSV (sqlite3 -csv -header db "SELECT ...")',
    };
  if (startsWith(head, [0x42, 0x5a, 0x68]) && startsWith(head, [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], 4))
    return { what: 'bzip2-compressed', fix: 'decompress it (bunzip2), or compress with gzip, which is read' };
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
    return { what: 'xz-compressed', fix: 'decompress it (unxz), or compress with gzip, which is read' };
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd]))
    return { what: 'zstd-compressed', fix: 'decompress it (unzstd), or compress with gzip, which is read' };
  if (startsWith(head, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))
    return { what: 'a 7-Zip archive', fix: 'extract it and pass the CSV inside' };
  if (
    startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) ||
    startsWith(head, [0xff, 0xd8, 0xff]) ||
    startsWith(head, ascii('GIF8'))
  )
    return { what: 'an image', fix: 'pass the CSV, TSV, text or JSON file that holds the ids' };
  if (startsWith(head, [0xff, 0xfe, 0x00, 0x00]) || startsWith(head, [0x00, 0x00, 0xfe, 0xff]))
    return { what: 'UTF-32 text', fix: 'save it as UTF-8 (or UTF-16), which are read' };
  // Markup: Excel's "Web Page" and XML spreadsheet formats, or an HTML table saved as .xls.
  const start = Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, 512))
    .toString('latin1')
    .replace(/^\xef\xbb\xbf/, '')
    .trimStart()
    .toLowerCase();
  if (start.startsWith('<?xml') && start.includes('excel.sheet'))
    return { what: 'an Excel 2003 XML spreadsheet', fix: SAVE_AS_CSV };
  if (start.startsWith('<!doctype html') || start.startsWith('<html') || start.startsWith('<table'))
    return { what: 'an HTML page (a web page or an HTML table saved as .xls)', fix: SAVE_AS_CSV };
  if (start.startsWith('<?xml')) return { what: 'an XML file', fix: 'export the list as CSV or JSON' };
  return null;
}

/** Byte order marks: the encoding they announce and their length. */
export function sniffBom(
  head: Uint8Array,
): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; length: number } | null {
  if (startsWith(head, [0xef, 0xbb, 0xbf])) return { encoding: 'utf-8', length: 3 };
  if (startsWith(head, [0xff, 0xfe])) return { encoding: 'utf-16le', length: 2 };
  if (startsWith(head, [0xfe, 0xff])) return { encoding: 'utf-16be', length: 2 };
  return null;
}

/**
 * Text with NUL bytes (no byte order mark): UTF-16 without its BOM when the
 * NULs sit at every other byte, else a binary file. Null when there is no NUL.
 */
export function sniffNul(head: Uint8Array): { utf16: 'utf-16le' | 'utf-16be' | null; offset: number } | null {
  const n = Math.min(head.length, 4096);
  let first = -1;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i++) {
    if (head[i] !== 0) continue;
    if (first < 0) first = i;
    if (i % 2 === 0) even++;
    else odd++;
  }
  if (first < 0) return null;
  const pairs = Math.floor(n / 2);
  // ASCII text in UTF-16 has a NUL in (nearly) every pair, always on the same side.
  if (odd >= pairs * 0.6 && even === 0) return { utf16: 'utf-16le', offset: first };
  if (even >= pairs * 0.6 && odd === 0) return { utf16: 'utf-16be', offset: first };
  return { utf16: null, offset: first };
}

/** How JSON text is laid out, judged from its first non-blank line. */
export type JsonLayout = 'lines' | 'array' | 'spread' | 'packed';

/**
 * `lines`: the first line holds one value and nothing else (JSON Lines, or a
 * broken line the row reader will report); `array`: a top-level array;
 * `spread`: the first value runs past its line (pretty-printed); `packed`:
 * several values on one line (as the AWS docs' examples print them).
 * A string- and escape-aware bracket count; JSON.parse checks the values later.
 */
export function jsonLayout(firstLine: string): JsonLayout {
  const line = firstLine.trim();
  if (line.startsWith('[')) return 'array';
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) values++;
    } else if (depth === 0 && c !== 32 && c !== 9 && c !== 44 && c !== 13) {
      // A scalar between values: not something that splits into objects.
      return 'lines';
    }
  }
  if (depth > 0 || inString) return 'spread';
  return values > 1 ? 'packed' : 'lines';
}

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

interface Sample {
  fields: string[];
  line: number;
}

function sampleRecords(
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
  if (start && start.line > firstLine && widest > 1)
    where += `; if the lines before line ${start.line} are a title, pass ${names.skipLines} ${start.line - 1}`;
  throw new PbError(
    'PB_USAGE',
    `cannot tell the delimiter: none of , ; TAB | splits the first lines into the same number of fields${where}; pass ${names.delimiter} to choose one (rows that do not fit are then rejected one by one), or ${names.format} plain for one id per line`,
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
      `the columns are lined up with runs of spaces (a printed or fixed-width report), which is not read; save the data as CSV or TSV, or pass ${names.format} plain if each whole line is an id`,
      { file },
    );
  }
}

/**
 * The header rule for a one-column file. Its first line is a header when it
 * is one of HEADER_WORDS or the column asked for (both after normalizeName).
 * A first line that is a plain name (letters, spaces, `_ - .`) could be
 * either when it is made of header words (`username`, `Kunden Nr`) or sits
 * over lines that all have a digit or `@` (`Kundennummer` over `10001`): a
 * usage error. Anything else is a list of ids with no header.
 */
export function oneColumnHasHeader(
  text: string,
  ended: boolean,
  column: string | undefined,
  file: string,
  names: OptionNames,
  firstLine = 1,
): boolean {
  const recs = sampleRecords(
    text.charCodeAt(0) === 0xfeff ? text.slice(1) : text,
    ended,
    null,
    file,
    firstLine,
  );
  const first = recs[0];
  if (!first) return column !== undefined;
  const value = (first.fields[0] as string).trim();
  const unquoted = /^"(.*)"$/.exec(value)?.[1] ?? value;
  const norm = normalizeName(unquoted);
  if (column !== undefined) {
    if (norm === normalizeName(column)) return true;
    throw new PbError(
      'PB_USAGE',
      `${names.column} ${JSON.stringify(column)}: the file has one column, and its first line ${JSON.stringify(unquoted)} is not that name; leave out ${names.column} to read every line as an id, or give the header's name`,
      { file, line: first.line },
    );
  }
  if (HEADER_WORDS.includes(norm)) return true;
  const rest = recs.slice(1);
  const marked = (s: string) => /[\d@]/.test(s);
  // A name: letters, maybe with spaces, _ - . between them; not a query or a sentence.
  const nameLike = /^\p{L}[\p{L} _.-]{0,62}$/u.test(unquoted);
  // One of its words is what headers are made of (username, Kunden Nr, Login name).
  const words = unquoted
    .split(/[\s_.-]+|(?<=\p{Ll})(?=\p{Lu})/u)
    .map((w) => w.toLowerCase())
    .filter((w) => w !== '');
  const headerish = words.some((w) => HEADERISH_WORDS.includes(w));
  if (rest.length > 0 && nameLike && (headerish || rest.every((r) => marked(r.fields[0] as string)))) {
    throw new PbError(
      'PB_USAGE',
      `the first line ${JSON.stringify(unquoted)} looks like a header over the ids below it, but is not a name this tool knows; pass ${names.column} ${JSON.stringify(unquoted)} to read it as the header, or ${names.format} plain to read it as an id`,
      { file, line: first.line },
    );
  }
  return false;
}
