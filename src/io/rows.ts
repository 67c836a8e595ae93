import { Readable } from 'node:stream';
import { parse as csvParse } from 'csv-parse';
import split2 from 'split2';
import { PbError } from '../errors.js';

/** Input formats `prepare` reads; `auto` sniffs the first line. */
export type Format = 'plain' | 'csv' | 'tsv' | 'jsonl';
export const FORMATS: readonly (Format | 'auto')[] = ['auto', 'plain', 'csv', 'tsv', 'jsonl'];

/** One input row: positional fields (plain, CSV, TSV) or a parsed object (JSON Lines). */
export interface Row {
  /** 1-based line where the row starts. */
  line: number;
  values: string[] | Record<string, unknown>;
  /** Set when the row itself is unusable (bad JSON, wrong field count); values may be partial. */
  error?: PbError;
}

export interface RowSource {
  file: string;
  format: Format;
  /** Column names: the CSV/TSV header, or the keys of the first JSON object; null for plain text. */
  header(): Promise<string[] | null>;
  rows: AsyncIterable<Row>;
  /** Blank lines skipped so far (final once `rows` is drained). */
  blankLines(): number;
}

export interface RowOptions {
  format: Format | 'auto';
  /** Longest line (or CSV record) accepted, in bytes; longer is a PB_PARSE error. */
  maxLineLength: number;
  /** Column names that make a one-column file read as CSV with a header rather than plain ids. */
  headerNames: readonly string[];
}

const SNIFF_LIMIT = 64 * 1024;
const BOM = '\uFEFF';

/**
 * Parses one decoded byte stream into rows. The format is sniffed from the
 * first non-blank line: `{` means JSON Lines, a tab TSV, a comma (or a lone
 * well-known column name such as `user_id`) CSV with a header, else plain ids.
 */
export async function readRows(
  file: string,
  bytes: AsyncIterable<Buffer>,
  opts: RowOptions,
): Promise<RowSource> {
  const it = bytes[Symbol.asyncIterator]();
  const headChunks: Buffer[] = [];
  let headLen = 0;
  let sniffText = '';
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    headChunks.push(r.value);
    headLen += r.value.length;
    sniffText = Buffer.concat(headChunks).toString('utf8');
    if (/\S[^\n]*\n/.test(sniffText) || headLen >= SNIFF_LIMIT) break;
  }
  const format = opts.format === 'auto' ? detectFormat(sniffText, opts.headerNames) : opts.format;
  const replay = (async function* () {
    for (const c of headChunks) yield c;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  })();
  const source = Readable.from(replay, { objectMode: false });
  if (format === 'csv' || format === 'tsv') return csvRows(file, format, source, opts);
  return lineRows(file, format, source, opts);
}

/** Guesses the format from the start of a file (BOM allowed). Exported for tests and `--format auto`. */
export function detectFormat(text: string, headerNames: readonly string[]): Format {
  const body = text.startsWith(BOM) ? text.slice(1) : text;
  const first = body.split('\n').find((l) => l.trim() !== '');
  if (first === undefined) return 'plain';
  const line = first.replace(/\r$/, '').trim();
  if (line.startsWith('{')) return 'jsonl';
  if (line.includes('\t')) return 'tsv';
  if (line.includes(',') || line.startsWith('"')) return 'csv';
  if (headerNames.includes(line)) return 'csv';
  return 'plain';
}

function csvRows(file: string, format: 'csv' | 'tsv', source: Readable, opts: RowOptions): RowSource {
  const parser = csvParse({
    delimiter: format === 'tsv' ? '\t' : ',',
    bom: true,
    info: true,
    relax_column_count: true,
    skip_empty_lines: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    max_record_size: opts.maxLineLength,
  });
  let blank = 0;
  let headerValue: string[] | null = null;
  let resolveHeader: (h: string[] | null) => void = () => {};
  const headerPromise = new Promise<string[] | null>((r) => {
    resolveHeader = r;
  });
  const it = source.pipe(parser)[Symbol.asyncIterator]();
  source.on('error', (err) => parser.destroy(err));
  let started = false;
  // header() has to pull the first data row to learn the header; it is kept here for rows().
  let pending: IteratorResult<Row> | undefined;

  async function* rows(): AsyncGenerator<Row> {
    let prevEnd = 0;
    let prevEmpty = 0;
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        const { record, info } = r.value as {
          record: string[];
          info: { lines: number; empty_lines: number };
        };
        const start = prevEnd + 1 + (info.empty_lines - prevEmpty);
        prevEnd = info.lines;
        prevEmpty = info.empty_lines;
        blank = info.empty_lines;
        if (headerValue === null) {
          headerValue = record.map((h) => h.trim());
          resolveHeader(headerValue);
          continue;
        }
        if (record.length === 1 && record[0] === '' && headerValue.length > 1) {
          blank++;
          continue;
        }
        const row: Row = { line: start, values: record };
        if (record.length !== headerValue.length) {
          row.error = new PbError(
            'PB_INVALID_RECORD',
            `expected ${headerValue.length} fields as in the header, got ${record.length}`,
            { file, line: start },
          );
        }
        yield row;
      }
      if (headerValue === null) resolveHeader([]);
    } catch (err) {
      throw csvError(file, err, prevEnd + 1);
    } finally {
      source.destroy();
    }
  }
  const gen = rows();
  return {
    file,
    format,
    header: async () => {
      if (!started) {
        // The header is the first record: pull it by starting the generator lazily.
        started = true;
        pending = await gen.next();
      }
      return headerPromise;
    },
    rows: {
      [Symbol.asyncIterator]: () => {
        started = true;
        return withPending(gen);
      },
    },
    blankLines: () => blank,
  };
  function withPending(g: AsyncGenerator<Row>): AsyncIterator<Row> {
    return {
      next: async () => {
        if (pending) {
          const p = pending;
          pending = undefined;
          return p;
        }
        return g.next();
      },
      return: async () => g.return(undefined),
    };
  }
}

function csvError(file: string, err: unknown, line: number): PbError {
  if (err instanceof PbError) return err;
  const e = err as { code?: string; message: string; lines?: number };
  const at = typeof e.lines === 'number' ? e.lines : line;
  if (e.code === 'CSV_MAX_RECORD_SIZE') {
    return new PbError('PB_PARSE', 'record longer than --max-line-length (an unclosed quote?)', {
      file,
      line: at,
    });
  }
  if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
    return new PbError('PB_PARSE', e.message.replace(/ at line \d+$/, ''), { file, line: at });
  }
  return new PbError('PB_IO', `cannot read: ${e.message}`, { file }, { cause: err });
}

function lineRows(file: string, format: 'plain' | 'jsonl', source: Readable, opts: RowOptions): RowSource {
  let blank = 0;
  let firstObject: Record<string, unknown> | null | undefined;
  const lines = source.pipe(split2({ maxLength: opts.maxLineLength }));
  source.on('error', (err) => lines.destroy(err));
  const buffered: Row[] = [];
  let lineNo = 0;
  const it = lines[Symbol.asyncIterator]() as AsyncIterator<string>;

  async function nextRow(): Promise<Row | undefined> {
    for (;;) {
      let r: IteratorResult<string>;
      try {
        r = await it.next();
      } catch (err) {
        if ((err as Error).message === 'maximum buffer reached') {
          throw new PbError('PB_PARSE', `line longer than --max-line-length (${opts.maxLineLength} bytes)`, {
            file,
            line: lineNo + 1,
          });
        }
        throw new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file }, { cause: err });
      }
      if (r.done) return undefined;
      lineNo++;
      let text = r.value;
      if (lineNo === 1 && text.startsWith(BOM)) text = text.slice(1);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.trim() === '') {
        blank++;
        continue;
      }
      if (Buffer.byteLength(text) > opts.maxLineLength) {
        throw new PbError('PB_PARSE', `line longer than --max-line-length (${opts.maxLineLength} bytes)`, {
          file,
          line: lineNo,
        });
      }
      if (format === 'plain') return { line: lineNo, values: [text.trim()] };
      return parseJsonRow(file, lineNo, text);
    }
  }

  return {
    file,
    format,
    header: async () => {
      if (format === 'plain') return null;
      if (firstObject === undefined) {
        const row = await nextRow();
        if (row) buffered.push(row);
        firstObject = row && !row.error ? (row.values as Record<string, unknown>) : null;
      }
      return firstObject ? Object.keys(firstObject) : [];
    },
    rows: {
      async *[Symbol.asyncIterator]() {
        try {
          while (buffered.length > 0) yield buffered.shift() as Row;
          for (let row = await nextRow(); row; row = await nextRow()) yield row;
        } finally {
          source.destroy();
        }
      },
    },
    blankLines: () => blank,
  };
}

function parseJsonRow(file: string, line: number, text: string): Row {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', `not valid JSON (${(err as Error).message})`, { file, line }),
    };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', 'expected one JSON object per line', { file, line }),
    };
  }
  return { line, values: value as Record<string, unknown> };
}
