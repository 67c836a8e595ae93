import { StringDecoder } from 'node:string_decoder';
import { type ParsedRow, RecordSplitter } from '../core/lines.js';
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
  /** The line's text when only some fields were split out (see RowSource.keepFields). */
  text?: string;
}

export interface RowSource {
  file: string;
  format: Format;
  /** Column names: the CSV/TSV header, or the keys of the first JSON object; null for plain text. */
  header: string[] | null;
  /** The header record was one line without quotes (a precondition of the byte fast path). */
  simpleHeader: boolean;
  /** The file uses CR alone as line end (read as LF). */
  crOnly: boolean;
  /** Rows in batches (one per input chunk): a batch costs one await, not one per row. */
  batches: AsyncIterable<Row[]>;
  /**
   * The undecoded bytes from the very start (BOM and header included), for
   * readers that work on bytes. Use either this or `batches`, not both.
   */
  raw: AsyncIterable<Buffer>;
  /** Blank lines skipped so far (final once `batches` is drained). */
  blankLines(): number;
  /** Split out only the first n fields of each CSV/TSV line from now on; the rest are only counted. */
  keepFields(n: number): void;
  /** A row's full contents, for a rejects file, even when fields were projected. */
  fullRow(row: Row): string[] | Record<string, unknown>;
}

export interface RowOptions {
  format: Format | 'auto';
  /** Longest line (or CSV record) accepted, in characters; longer is a PB_PARSE error. */
  maxLineLength: number;
  /** Column names that make a one-column file read as CSV with a header rather than plain ids. */
  headerNames: readonly string[];
}

const SNIFF_LIMIT = 64 * 1024;

/**
 * Opens one decoded byte stream for reading rows. The format is sniffed
 * from the first non-blank line: `{` means JSON Lines, a tab TSV, a comma (or
 * a lone well-known column name such as `user_id`) CSV with a header, else
 * plain ids. The sniff only peeks: the bytes are replayed from the start to
 * whichever reader (`batches` or `raw`) is used.
 */
export async function readRows(
  file: string,
  bytes: AsyncIterable<Buffer>,
  opts: RowOptions,
): Promise<RowSource> {
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

  // Peek until the format and the header are known.
  let format: Format | undefined = opts.format === 'auto' ? undefined : opts.format;
  let header: string[] | null = null;
  let simpleHeader = true;
  let crOnly = false;
  let headBytes = 0;
  for (;;) {
    const r = ended ? undefined : await next();
    if (r && !r.done) {
      head.push(r.value);
      headBytes += r.value.length;
    } else ended = true;
    let text = Buffer.concat(head).toString('utf8');
    // A line is complete at LF, or at a CR followed by something else (a lone
    // CR just before a chunk boundary may still be half of a CRLF).
    if (!ended && !/\S[^\r\n]*(\n|\r[^\n])/.test(text) && headBytes < SNIFF_LIMIT) continue;
    format ??= detectFormat(text, opts.headerNames);
    crOnly = /\r[^\n]/.test(text) && !text.includes('\n');
    if (crOnly) text = text.replace(/\r/g, '\n');
    if (format === 'plain') break;
    const probe = new RecordSplitter({
      delimiter: delimiterOf(format),
      maxRecordLength: Number.MAX_SAFE_INTEGER,
      file,
    });
    const rows = ended ? [...probe.push(text), ...safeEnd(probe)] : probe.push(text);
    if (format === 'csv' || format === 'tsv') {
      const first = rows[0];
      if (!first && !ended && headBytes < SNIFF_LIMIT) continue;
      header = first ? first.fields.map((x) => x.trim()) : [];
      simpleHeader =
        first !== undefined &&
        !first.fields.some((f) => /["\r\n]/.test(f)) &&
        !text.slice(0, text.indexOf('\n')).includes('"');
      break;
    }
    // JSON Lines: the first line that is an object names the usual columns;
    // a broken first line is left for the row loop to reject.
    const obj = rows.map((p) => parseJson(p.fields[0] as string)).find((v) => isObject(v));
    if (!obj && !ended && headBytes < SNIFF_LIMIT) continue;
    header = obj ? Object.keys(obj as object) : [];
    break;
  }
  const fmt = format ?? 'plain';
  if (fmt === 'plain') header = null;
  const width = header?.length ?? 1;

  let used = false;
  const replay = async function* (): AsyncGenerator<Buffer> {
    if (used) throw new Error('personalize-batch: a RowSource can be read once');
    used = true;
    for (const c of head) yield c;
    if (ended) return;
    for (let r = await next(); !r.done; r = await next()) yield r.value;
  };

  const splitter = new RecordSplitter({
    delimiter: delimiterOf(fmt),
    maxRecordLength: opts.maxLineLength,
    file,
  });
  const skipHeader = fmt === 'csv' || fmt === 'tsv';

  return {
    file,
    format: fmt,
    header,
    simpleHeader,
    crOnly,
    raw: { [Symbol.asyncIterator]: replay },
    batches: {
      async *[Symbol.asyncIterator]() {
        const decoder = new StringDecoder('utf8');
        let skip = skipHeader;
        const emit = (parsed: ParsedRow[]): Row[] => {
          if (skip && parsed.length > 0) {
            parsed.shift();
            skip = false;
          }
          return toRows(parsed, fmt, width, file);
        };
        try {
          for await (const chunk of replay()) {
            let text = decoder.write(chunk);
            if (crOnly) text = text.replace(/\r/g, '\n');
            const rows = emit(splitter.push(text));
            if (rows.length > 0) yield rows;
          }
          let tail = decoder.end();
          if (crOnly) tail = tail.replace(/\r/g, '\n');
          const rows = emit([...splitter.push(tail), ...splitter.end()]);
          if (rows.length > 0) yield rows;
        } finally {
          await it.return?.();
        }
      },
    },
    blankLines: () => splitter.blankLines,
    keepFields: (n) => splitter.keepFields(n),
    fullRow: (row) => (row.text !== undefined ? row.text.split(fmt === 'tsv' ? '\t' : ',') : row.values),
  };
}

export function delimiterOf(format: Format): string | null {
  return format === 'csv' ? ',' : format === 'tsv' ? '\t' : null;
}

/** Parsed records to rows: JSON parsed, field counts checked against the header width. */
export function toRows(batch: readonly ParsedRow[], fmt: Format, width: number, file: string): Row[] {
  const rows: Row[] = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i] as ParsedRow;
    if (fmt === 'jsonl') {
      rows[i] = jsonRow(file, p.line, p.fields[0] as string);
      continue;
    }
    const row: Row = { line: p.line, values: p.fields };
    if (p.text !== undefined) row.text = p.text;
    if (p.problem) row.error = new PbError('PB_INVALID_RECORD', p.problem, { file, line: p.line });
    else if (fmt !== 'plain' && p.count !== width) {
      row.error = new PbError(
        'PB_INVALID_RECORD',
        `expected ${width} fields as in the header, got ${p.count}`,
        {
          file,
          line: p.line,
        },
      );
    }
    rows[i] = row;
  }
  return rows;
}

/** Guesses the format from the start of a file (BOM allowed). */
export function detectFormat(text: string, headerNames: readonly string[]): Format {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = body.split(/\r\n|\n|\r/).find((l) => l.trim() !== '');
  if (first === undefined) return 'plain';
  const line = first.trim();
  if (line.startsWith('{')) return 'jsonl';
  if (line.includes('\t')) return 'tsv';
  if (line.includes(',') || line.startsWith('"')) return 'csv';
  if (headerNames.includes(line)) return 'csv';
  return 'plain';
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

function jsonRow(file: string, line: number, text: string): Row {
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
  if (!isObject(value)) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', 'expected one JSON object per line', { file, line }),
    };
  }
  return { line, values: value as Record<string, unknown> };
}
