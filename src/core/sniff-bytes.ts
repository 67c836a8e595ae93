/**
 * What a file's first bytes say before any of it is read as text: a file
 * type that is not text (by its signature), a byte order mark, or UTF-16
 * without one (NULs at every other byte).
 */

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
/** The UTF-8 byte order mark: what Excel needs to read a CSV file as UTF-8, and what readers skip. */
export const UTF8_BOM: Buffer = Buffer.from([0xef, 0xbb, 0xbf]);

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
