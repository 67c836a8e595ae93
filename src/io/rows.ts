import { isAscii } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { asWindows1252, Utf8Check, withoutBom } from '../core/encoding.js';
import { ConcatenatedJson, type OutItem, parseJsonExact } from '../core/json-values.js';
import { type ParsedRow, RecordSplitter } from '../core/lines.js';
import {
  CLI_OPTION_NAMES,
  checkNotAligned,
  type Delimited,
  type FieldShape,
  fieldsFit,
  type JsonLayout,
  jsonLayout,
  type OptionNames,
  oneColumnHasHeader,
  SNIFF_RECORDS,
  sepLineOf,
  shapeOf,
  sniffDelimiter,
} from '../core/sniff.js';
import { PbError } from '../errors.js';

/**
 * Input formats `prepare` reads; `auto` detects. `csv` is any delimited
 * text with a header (`tsv` is the same with TAB); `json` is JSON that is
 * not one object per line: a top-level array, pretty-printed objects, or
 * several objects on one line.
 */
export type Format = 'plain' | 'csv' | 'tsv' | 'jsonl' | 'json';
export const FORMATS: readonly (Format | 'auto')[] = ['auto', 'plain', 'csv', 'tsv', 'jsonl', 'json'];

/** One input row: positional fields (plain, CSV, TSV) or a parsed object (JSON). */
export interface Row {
  /** 1-based line where the row starts. */
  line: number;
  values: string[] | Record<string, unknown>;
  /** Set when the row itself is unusable (bad JSON, wrong field count); values may be partial. */
  error?: PbError;
  /** The line's text when only some fields were split out (see RowSource.keepFields). */
  text?: string;
}

/** What was detected (or given) about a source, as the summaries print it. */
export interface Detection {
  format: Format;
  /** The field delimiter of a csv/tsv source; null otherwise. */
  delimiter: string | null;
  /** Where the delimiter came from: the option, Excel's `sep=` line, or the detection rule. */
  delimiterFrom: 'option' | 'sep-line' | 'detected' | null;
  /** The first line (after any `sep=` line) is a header. */
  header: boolean;
  /** Lines skipped before the data (--skip-lines, or PowerShell's #TYPE line). */
  skippedLines?: number;
  /** JSON sources: how values were laid out. */
  jsonLayout?: Exclude<JsonLayout, 'lines'>;
}

export interface RowSource {
  file: string;
  format: Format;
  /** The field delimiter (csv, tsv); null for plain text and JSON. */
  delimiter: string | null;
  /** Rows are objects read by key (JSON Lines, JSON objects) rather than by position. */
  keyed: boolean;
  /** Column names: the header, or the keys of the first JSON object; null for plain text. */
  header: string[] | null;
  /** The header's names came from the file (not numbered for --no-header, not JSON keys). */
  namedHeader: boolean;
  /** Records before the data: the header, and Excel's `sep=` line before it. */
  headerRecords: number;
  /** The line the reading starts on: 1, or one past the lines skipped. */
  firstLine: number;
  /** The header's field counts (see fieldsFit). */
  shape: FieldShape;
  detection: Detection;
  /** The header record was one line without quotes (a precondition of the byte fast path). */
  simpleHeader: boolean;
  /** The file uses CR alone as line end (read as LF). */
  crOnly: boolean;
  /** Rows in batches (one per input chunk): a batch costs one await, not one per row. */
  batches: AsyncIterable<Row[]>;
  /**
   * The undecoded bytes from the start (the header included; a byte order
   * mark and lines skipped left out), for readers that work on bytes. Use
   * either this or `batches`, not both.
   */
  raw: AsyncIterable<Buffer>;
  /** Blank lines skipped so far (final once `batches` is drained). */
  blankLines(): number;
  /** Split out only the first n fields of each CSV/TSV line from now on; the rest are only counted. */
  keepFields(n: number): void;
  /** A row's full contents, for a rejects file, even when fields were projected. */
  fullRow(row: Row): string[] | Record<string, unknown>;
  /** The source holds nothing but blank lines (or nothing at all). */
  empty: boolean;
  /** What the detection took with some doubt (a delimiter most rows, not all, fit). */
  warnings: string[];
  /** Lets go of the source without reading it (when the detection says it is not wanted). */
  close(): Promise<void>;
}

export interface RowOptions {
  format: Format | 'auto';
  /** Longest line (or CSV record) accepted, in characters; longer is a PB_PARSE error. */
  maxLineLength: number;
  /** The field delimiter, given: skips the delimiter rule. */
  delimiter?: string;
  /** The id column asked for: in a one-column file, a first line with this name is the header. */
  column?: string;
  /** Lines to skip before the data (a report's title lines). Default 0. */
  skipLines?: number;
  /** false: the first line is data and columns are numbered 1, 2, ... Default: a header (by the rules). */
  header?: boolean;
  /** Option names for messages. Default the CLI's flags. */
  names?: OptionNames;
}

const SNIFF_LIMIT = 64 * 1024;
const LF = 10;

/**
 * Opens one stream of UTF-8 bytes (see openText) for reading rows. The
 * format is decided from the first lines (README, "How inputs are read"):
 * `{` or `[` is JSON (JSON Lines when the first line is one value), else
 * the delimiter rule (sniffDelimiter) gives CSV with a header, or one
 * column, whose first line is a header by the header rule
 * (oneColumnHasHeader) or else an id. The sniff only peeks: the bytes are
 * replayed from the start to whichever reader (`batches` or `raw`) is used.
 * Bytes that are not UTF-8 stop the reading with the line they are on.
 */
export async function readRows(
  file: string,
  bytes: AsyncIterable<Buffer>,
  opts: RowOptions,
): Promise<RowSource> {
  const names = opts.names ?? CLI_OPTION_NAMES;
  const it = bytes[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let ended = false;
  const next = async (): Promise<IteratorResult<Buffer>> => {
    try {
      return await it.next();
    } catch (err) {
      throw err instanceof PbError
        ? err
        : new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file });
    }
  };

  // Peek at the first records (or 64 KiB) to decide.
  let headBytes = 0;
  let headLines = 0;
  while (!ended && headBytes < SNIFF_LIMIT && headLines <= SNIFF_RECORDS + 1) {
    const r = await next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    headBytes += r.value.length;
    for (
      let i = r.value.indexOf(LF);
      i !== -1 && headLines <= SNIFF_RECORDS + 1;
      i = r.value.indexOf(LF, i + 1)
    )
      headLines++;
  }
  const headBuf = Buffer.concat(head);
  // The file uses CR alone as line end (an old Mac's): read as LF.
  const crOnly = !headBuf.includes(LF) && /\r[^\n]/.test(headBuf.toString('latin1'));
  // A bad byte in what was peeked is reported before any guess made from it.
  const bad = new Utf8Check().push(headBuf);
  if (bad >= 0) throw notUtf8(file, headBuf, bad, 1, names, { crOnly });
  // A byte order mark is dropped here, once, for every reader (replay() skips its bytes).
  const bomBytes = withoutBom(headBuf).length === headBuf.length ? 0 : 3;
  let text = headBuf.toString('utf8', bomBytes);
  if (!ended) {
    // Only complete lines count: the last one may go on in the next chunk
    // (unless there is no line end at all, as in a minified JSON array).
    const cut = text.lastIndexOf('\n');
    if (cut >= 0) text = text.slice(0, cut + 1);
  }
  if (crOnly) text = text.replace(/\r/g, '\n');
  // Lines before the data: --skip-lines, or PowerShell's `#TYPE ...` line (Export-Csv before 6.0).
  let skip = opts.skipLines ?? 0;
  if (skip === 0 && /^#TYPE [^\n]*\n/.test(text)) skip = 1;
  let skipChars = 0;
  for (let k = 0; k < skip; k++) {
    const nl = text.indexOf('\n', skipChars);
    if (nl === -1) {
      if (!ended)
        throw new PbError(
          'PB_USAGE',
          `the first ${skip} lines are longer than ${SNIFF_LIMIT} bytes together; skip fewer`,
          { file },
        );
      skipChars = text.length;
      break;
    }
    skipChars = nl + 1;
  }
  const skipBytes = bomBytes + Buffer.byteLength(text.slice(0, skipChars), 'utf8');
  text = text.slice(skipChars);
  const firstLine = skip + 1;
  // The first JSON value of the sample, parsed once for the format rule and the header.
  let firstJson: { value: unknown } | undefined;
  const firstValue = () => {
    if (firstJson === undefined) firstJson = { value: firstJsonValue(text) };
    return firstJson.value;
  };
  const d = decide(file, text, ended, opts, names, firstLine, firstValue);
  const { format, delimiter } = d;

  let header: string[] | null = null;
  let simpleHeader = true;
  let keyed = format === 'jsonl';
  const layout = d.jsonLayout;
  if (format === 'csv' || format === 'tsv') {
    const probe = new RecordSplitter({ delimiter, maxRecordLength: Number.MAX_SAFE_INTEGER, file });
    const rows = ended ? [...probe.push(text), ...safeEnd(probe)] : probe.push(text);
    const first = rows[d.sepLine ? 1 : 0];
    header = first ? first.fields.map((x) => x.trim()) : [];
    // No header: the first line is data, and columns go by number (1, 2, ...).
    if (opts.header === false) header = header.map((_, i) => String(i + 1));
    const firstLineText = text.split('\n').find((l) => l.trim() !== '') ?? '';
    simpleHeader =
      first !== undefined &&
      !d.sepLine &&
      !first.fields.some((f) => /["\r\n]/.test(f)) &&
      !firstLineText.includes('"');
  } else if (format === 'jsonl') {
    // The first line that is an object names the usual columns; a broken first line is left for the row loop.
    const probe = new RecordSplitter({ delimiter: null, maxRecordLength: Number.MAX_SAFE_INTEGER, file });
    const rows = ended ? [...probe.push(text), ...safeEnd(probe)] : probe.push(text);
    const obj = rows.map((p) => parseJson(p.fields[0] as string)).find((v) => isObject(v));
    header = obj ? Object.keys(obj as object) : [];
    const first = rows[0];
    if (!obj && first) {
      // Not one line of the first ones is an object: say why the first is not, rather than look for columns.
      const bad = jsonRow(file, first.line, first.fields[0] as string, false);
      throw new PbError(
        'PB_PARSE',
        `not JSON Lines: ${bad.error?.reason ?? 'not an object'}; JSON Lines hold one object per line, with nothing after it`,
        { file, line: first.line },
      );
    }
  } else if (format === 'json') {
    const first = firstValue();
    keyed = isObject(first) || first === undefined;
    header = keyed ? (isObject(first) ? Object.keys(first as object) : []) : null;
  }
  const headerRecords = header !== null && !keyed ? (d.sepLine ? 1 : 0) + (opts.header === false ? 0 : 1) : 0;
  const shape = shapeOf(header && !keyed ? header : ['(line)']);

  let used = false;
  const replay = async function* (): AsyncGenerator<Buffer> {
    if (used) throw new Error('personalize-batch: a RowSource can be read once');
    used = true;
    let left = skipBytes;
    for (const c of head) {
      if (left >= c.length) {
        left -= c.length;
        continue;
      }
      yield left > 0 ? c.subarray(left) : c;
      left = 0;
    }
    if (ended) return;
    for (let r = await next(); !r.done; r = await next()) yield r.value;
  };

  const splitter = new RecordSplitter({ delimiter, maxRecordLength: opts.maxLineLength, file });
  splitter.nextLine = firstLine;
  const namedHeader = !keyed && header !== null && opts.header !== false;
  const detection: Detection = {
    format,
    delimiter,
    delimiterFrom: delimiter === null ? null : d.delimiterFrom,
    header: namedHeader,
  };
  if (skip > 0) detection.skippedLines = skip;
  if (format === 'json' && layout !== undefined && layout !== 'lines') detection.jsonLayout = layout;

  const source: RowSource = {
    file,
    format,
    delimiter,
    keyed,
    header,
    namedHeader,
    headerRecords,
    firstLine,
    shape,
    detection,
    simpleHeader,
    crOnly,
    raw: { [Symbol.asyncIterator]: replay },
    batches: {
      [Symbol.asyncIterator]: () =>
        format === 'json'
          ? jsonBatches(file, replay(), rowShapeOf(source), opts.maxLineLength, names, it, firstLine)
          : textBatches(file, replay(), rowShapeOf(source), splitter, headerRecords, crOnly, names, it),
    },
    blankLines: () => splitter.blankLines,
    keepFields: (n) => splitter.keepFields(n),
    fullRow: (row) => (row.text !== undefined && delimiter !== null ? row.text.split(delimiter) : row.values),
    empty: ended && text.trim() === '',
    warnings: d.warning === undefined ? [] : [d.warning],
    close: async () => {
      await it.return?.();
    },
  };
  return source;
}

interface Decision {
  format: Format;
  delimiter: string | null;
  delimiterFrom: Detection['delimiterFrom'];
  sepLine: boolean;
  jsonLayout?: JsonLayout;
  warning?: string;
}

/** The format rule, on the first complete lines of decoded text. */
function decide(
  file: string,
  body: string,
  ended: boolean,
  opts: RowOptions,
  names: OptionNames,
  startLine: number,
  firstValue: () => unknown,
): Decision {
  const firstLine = body.split('\n').find((l) => l.trim() !== '');
  const given = opts.delimiter;
  const sep = firstLine === undefined ? null : sepLineOf(firstLine);
  const delimited = (fallback: string): Decision => {
    if (sep !== null) {
      // Excel's `sep=` line is never the header, whoever names the delimiter.
      const delimiter = given ?? sep;
      return {
        format: fmtOf(delimiter),
        delimiter,
        delimiterFrom: given ? 'option' : 'sep-line',
        sepLine: true,
      };
    }
    if (given !== undefined)
      return { format: fmtOf(given), delimiter: given, delimiterFrom: 'option', sepLine: false };
    const s = sniffDelimiter(body, ended, file, names, startLine);
    if (s.delimiter === null)
      return { format: 'csv', delimiter: fallback, delimiterFrom: 'detected', sepLine: false };
    return sniffed(s);
  };
  switch (opts.format) {
    case 'plain':
      return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
    case 'jsonl':
      return { format: 'jsonl', delimiter: null, delimiterFrom: null, sepLine: false };
    case 'json':
      return {
        format: 'json',
        delimiter: null,
        delimiterFrom: null,
        sepLine: false,
        jsonLayout: firstLine === undefined ? undefined : jsonLayout(firstLine),
      };
    case 'tsv':
      return { format: 'tsv', delimiter: '\t', delimiterFrom: 'option', sepLine: false };
    case 'csv':
      return delimited(',');
    default:
      break;
  }
  if (firstLine === undefined)
    return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
  const trimmed = firstLine.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const layout = jsonLayout(trimmed);
    // A first object that runs past its line is pretty-printed JSON only if it ends as one value;
    // otherwise it is a broken line of JSON Lines, which the row reader reports with its number.
    const spreadOk = layout !== 'spread' || isObject(firstValue());
    if (layout === 'lines' || !spreadOk)
      return { format: 'jsonl', delimiter: null, delimiterFrom: null, sepLine: false };
    return { format: 'json', delimiter: null, delimiterFrom: null, sepLine: false, jsonLayout: layout };
  }
  if (given !== undefined || sep !== null) return delimited(',');
  const s = sniffDelimiter(body, ended, file, names, startLine);
  if (s.delimiter !== null) return sniffed(s);
  // One column: a header by the header rule, else a list of ids.
  checkNotAligned(body, file, names);
  if (opts.header !== false && oneColumnHasHeader(body, ended, opts.column, file, names, startLine))
    return { format: 'csv', delimiter: ',', delimiterFrom: 'detected', sepLine: false };
  return { format: 'plain', delimiter: null, delimiterFrom: null, sepLine: false };
}

function sniffed(s: Delimited): Decision {
  const d = s.delimiter as string;
  const out: Decision = {
    format: fmtOf(d),
    delimiter: d,
    delimiterFrom: s.sepLine ? 'sep-line' : 'detected',
    sepLine: s.sepLine,
  };
  if (s.warning !== undefined) out.warning = s.warning;
  return out;
}

function fmtOf(delimiter: string): Format {
  return delimiter === '\t' ? 'tsv' : 'csv';
}

/** The first value of JSON text that is not JSON Lines (undefined when the sample holds none whole). */
function firstJsonValue(text: string): unknown {
  const concat = new ConcatenatedJson({
    pieceSize: 1 << 20,
    maxLineLength: Number.MAX_SAFE_INTEGER,
    unwrapArray: true,
  });
  let value: unknown;
  const take = (x: OutItem) => {
    if (value === undefined && x.kind === 'lines') {
      const first = x.bytes.toString('utf8', 0, x.bytes.indexOf(LF));
      value = parseJson(first);
    }
  };
  concat.push(text, take);
  // Values cut off by the end of the sample come out as bad items, which are ignored here.
  concat.end(take);
  return value;
}

export interface RowShape {
  format: Format;
  keyed: boolean;
  /** The CSV/TSV header (null otherwise): a row equal to it is the header again. */
  header: readonly string[] | null;
  /** No header: plain ids (or a JSON array of ids). */
  plain: boolean;
  shape: FieldShape;
  delimiter: string | null;
}

/** The line a bad byte is on, and a message that names the fix. */
export function notUtf8(
  file: string,
  chunk: Uint8Array,
  offset: number,
  lineAtChunk: number,
  names: OptionNames,
  context: { utf8Before?: boolean; crOnly?: boolean } = {},
): PbError {
  // Line ends: LF, or CR alone in a file that uses CR (an old Mac's).
  const breakAt = (i: number) => chunk[i] === LF || (context.crOnly === true && chunk[i] === 13);
  let line = lineAtChunk;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (breakAt(i)) {
      line++;
      lineStart = i + 1;
    }
  }
  const start = Math.max(lineStart, offset - 40);
  let end = offset;
  while (end < chunk.length && end < offset + 40 && !breakAt(end)) end++;
  const bytes = chunk.subarray(start, end);
  const text = (start > lineStart ? '…' : '') + asWindows1252(bytes).replace(/\r$/, '');
  const shownAs = end < chunk.length && !breakAt(end) && chunk[end] !== 13 ? `${text}…` : text;
  const byte = `byte 0x${(chunk[offset] as number).toString(16).toUpperCase().padStart(2, '0')}`;
  // Accents read as UTF-8 before this line: the file holds two encodings, and no one option reads it.
  const mixed = context.utf8Before === true || !isAscii(withoutBom(chunk.subarray(0, lineStart)));
  let fix: string;
  if (mixed)
    fix = `the lines before it hold UTF-8 text with accents, so the file mixes two encodings: fix this line (as windows-1252 it reads ${JSON.stringify(shownAs)}) or save the file in one encoding`;
  else if (names.encoding === '')
    fix = `save the file as UTF-8 (if Excel saved it on Windows it is windows-1252, which reads this line as ${JSON.stringify(shownAs)})`;
  else
    fix = `if the file was saved by Excel on Windows it is windows-1252, which ${names.encoding} windows-1252 reads (this line as ${JSON.stringify(shownAs)}); if that is not the text, name the file's encoding with ${names.encoding} (windows-1250, windows-1251, shift_jis, gb18030, ...)${context.crOnly ? '; a file with CR line ends from an old Mac is macintosh' : ''}`;
  return new PbError('PB_PARSE', `not UTF-8: ${byte} cannot be read as text; ${fix}`, { file, line });
}

/** Rows of plain text, CSV/TSV and JSON Lines: decoded, split, checked. */
async function* textBatches(
  file: string,
  chunks: AsyncIterable<Buffer>,
  rs: RowShape,
  splitter: RecordSplitter,
  headerRecords: number,
  crOnly: boolean,
  names: OptionNames,
  source: AsyncIterator<Buffer>,
): AsyncGenerator<Row[]> {
  const decoder = new StringDecoder('utf8');
  const check = new Utf8Check();
  let skip = headerRecords;
  const emit = (parsed: ParsedRow[]): Row[] => {
    while (skip > 0 && parsed.length > 0) {
      parsed.shift();
      skip--;
    }
    return toRows(parsed, rs, file);
  };
  try {
    for await (const chunk of chunks) {
      const bad = check.push(chunk);
      if (bad >= 0)
        throw notUtf8(file, chunk, bad, splitter.nextLine + splitter.pendingLines, names, {
          utf8Before: check.nonAscii,
          crOnly,
        });
      let text = decoder.write(chunk);
      if (crOnly) text = text.replace(/\r/g, '\n');
      const rows = emit(splitter.push(text));
      if (rows.length > 0) yield rows;
    }
    if (check.truncated) {
      throw new PbError('PB_PARSE', 'not UTF-8: the file ends inside a character (cut off?)', {
        file,
        line: splitter.nextLine + splitter.pendingLines,
      });
    }
    let tail = decoder.end();
    if (crOnly) tail = tail.replace(/\r/g, '\n');
    const rows = emit([...splitter.push(tail), ...splitter.end()]);
    if (rows.length > 0) yield rows;
  } finally {
    await source.return?.();
  }
}

/** Rows of JSON that is not JSON Lines: values cut out by ConcatenatedJson, each with its line. */
async function* jsonBatches(
  file: string,
  chunks: AsyncIterable<Buffer>,
  rs: RowShape,
  maxLineLength: number,
  names: OptionNames,
  source: AsyncIterator<Buffer>,
  firstLine: number,
): AsyncGenerator<Row[]> {
  const decoder = new StringDecoder('utf8');
  const check = new Utf8Check();
  const concat = new ConcatenatedJson({ pieceSize: 1 << 20, maxLineLength, unwrapArray: true, firstLine });
  let lines = firstLine;
  let rows: Row[] = [];
  const take = (x: OutItem) => {
    if (x.kind === 'bad') {
      // The reader goes on after a bad value only with --on-invalid skip; the reason says what was bad.
      const reason = x.reason.replace(/; skipped to the next line that starts with \{$/, '');
      rows.push({
        line: x.line ?? lines,
        values: { $raw: x.text },
        error: new PbError('PB_INVALID_RECORD', reason, { file, line: x.line ?? lines }),
      });
      return;
    }
    let at = 0;
    x.lineNumbers?.forEach((line) => {
      const end = x.bytes.indexOf(LF, at);
      rows.push(jsonRow(file, line, x.bytes.toString('utf8', at, end), rs.plain, false));
      at = end + 1;
    });
  };
  try {
    for await (const chunk of chunks) {
      const bad = check.push(chunk);
      if (bad >= 0) throw notUtf8(file, chunk, bad, lines, names, { utf8Before: check.nonAscii });
      for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) lines++;
      concat.push(decoder.write(chunk), take);
      if (rows.length > 0) {
        yield rows;
        rows = [];
      }
    }
    concat.push(decoder.end(), take);
    concat.end(take);
    if (rows.length > 0) yield rows;
  } finally {
    await source.return?.();
  }
}

/** Parsed records to rows: JSON parsed, field counts checked against the header. */
export function toRows(batch: readonly ParsedRow[], rs: RowShape, file: string): Row[] {
  const rows: Row[] = new Array(batch.length);
  const checkWidth = rs.format === 'csv' || rs.format === 'tsv';
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i] as ParsedRow;
    if (rs.format === 'jsonl') {
      rows[i] = jsonRow(file, p.line, p.fields[0] as string, false);
      continue;
    }
    const row: Row = { line: p.line, values: p.fields };
    if (p.text !== undefined) row.text = p.text;
    if (p.problem) row.error = new PbError('PB_INVALID_RECORD', p.problem, { file, line: p.line });
    else if (rs.header !== null && headerAgain(p, rs)) {
      row.error = new PbError(
        'PB_INVALID_RECORD',
        'repeats the header (files joined with cat?); pass each file as its own source',
        { file, line: p.line },
      );
    } else if (
      checkWidth &&
      p.count !== rs.shape.count &&
      !fieldsFit(rs.shape, p.count, () => extraEmpty(p, rs))
    ) {
      row.error = new PbError(
        'PB_INVALID_RECORD',
        `expected ${rs.shape.count} fields as in the header, got ${p.count}`,
        { file, line: p.line },
      );
    }
    rows[i] = row;
  }
  return rows;
}

/** Whether a record holds the header's names again (as two exports joined with cat do). */
function headerAgain(p: ParsedRow, rs: RowShape): boolean {
  const header = rs.header as readonly string[];
  if (p.count !== header.length || (p.fields[0] ?? '').trim() !== header[0]) return false;
  const fields =
    p.fields.length < p.count && p.text !== undefined ? p.text.split(rs.delimiter as string) : p.fields;
  return header.every((h, i) => (fields[i] ?? '').trim() === h);
}

/** Whether the fields past the header's are all empty (a projected row keeps its text for this). */
function extraEmpty(p: ParsedRow, rs: RowShape): boolean {
  const n = rs.shape.count;
  if (p.text === undefined || p.fields.length >= p.count)
    return p.fields.slice(n).every((f) => f.trim() === '');
  const cells = p.text.split(rs.delimiter as string);
  return cells.slice(n).every((f) => f.trim() === '');
}

/** The shape the row reader gives a source, for code that builds rows itself (the byte fast path). */
export function rowShapeOf(src: RowSource): RowShape {
  return {
    format: src.format,
    keyed: src.keyed,
    header: src.namedHeader ? src.header : null,
    plain: src.header === null,
    shape: src.shape,
    delimiter: src.delimiter,
  };
}

function safeEnd(s: RecordSplitter): ParsedRow[] {
  try {
    return s.end();
  } catch {
    return [];
  }
}

function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One JSON value as a row: an object by key, or (a JSON array of ids) a plain id. */
function jsonRow(file: string, line: number, text: string, plainIds: boolean, lines = true): Row {
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', `not valid JSON (${(err as Error).message})`, { file, line }),
    };
  }
  if (plainIds && (typeof value === 'string' || typeof value === 'number')) {
    // A number is the id as printed: JSON.parse has rounded 12345678901234567890 already.
    // An integer as printed (past 2^53 too); any other number as JavaScript writes it (1e3 is 1000).
    const id =
      typeof value === 'number' ? (/^-?\d+$/.test(text.trim()) ? text.trim() : String(value)) : value;
    return { line, values: [id] };
  }
  if (!isObject(value)) {
    return {
      line,
      values: { $raw: text },
      error: new PbError(
        'PB_INVALID_RECORD',
        plainIds
          ? 'expected an id (a string or number) like the first value'
          : lines
            ? 'expected one JSON object per line'
            : 'expected a JSON object',
        { file, line },
      ),
    };
  }
  return { line, values: value as Record<string, unknown> };
}
