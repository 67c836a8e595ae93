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
  /** Rows in batches (one per input chunk): a batch costs one await, not one per row. */
  batches: AsyncIterable<Row[]>;
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

/**
 * Parses one decoded byte stream into batches of rows. The format is sniffed
 * from the first non-blank line: `{` means JSON Lines, a tab TSV, a comma (or
 * a lone well-known column name such as `user_id`) CSV with a header, else
 * plain ids. The header (or first JSON object) is read before this resolves.
 */
export async function readRows(
  file: string,
  bytes: AsyncIterable<Buffer>,
  opts: RowOptions,
): Promise<RowSource> {
  const it = bytes[Symbol.asyncIterator]();
  const decoder = new StringDecoder('utf8');
  let splitter: RecordSplitter | undefined;
  let format: Format | undefined = opts.format === 'auto' ? undefined : opts.format;
  let sniff = '';
  let crOnly = false;
  const queue: ParsedRow[][] = [];
  let ended = false;

  const makeSplitter = (f: Format) =>
    new RecordSplitter({
      delimiter: f === 'csv' ? ',' : f === 'tsv' ? '\t' : null,
      maxRecordLength: opts.maxLineLength,
      file,
    });

  /** Reads one more chunk into the queue; false at the end of input. */
  const pull = async (): Promise<boolean> => {
    if (ended) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await it.next();
    } catch (err) {
      throw err instanceof PbError
        ? err
        : new PbError('PB_IO', `cannot read: ${(err as Error).message}`, { file });
    }
    let text: string;
    if (r.done) {
      ended = true;
      text = decoder.end();
    } else text = decoder.write(r.value);
    if (!splitter) {
      // Hold text back until the first non-blank line is complete, then pick the format.
      sniff += text;
      if (!ended && !/\S[^\n]*\n/.test(sniff) && sniff.length < 64 * 1024) return true;
      format ??= detectFormat(sniff, opts.headerNames);
      splitter = makeSplitter(format);
      // Classic Mac line ends (CR only, as Excel's "CSV (Macintosh)" writes):
      // read them as LF. Decided once, from the first 64 KiB.
      crOnly = sniff.includes('\r') && !sniff.includes('\n');
      text = sniff;
      sniff = '';
    }
    if (crOnly) text = text.replace(/\r/g, '\n');
    const rows = splitter.push(text);
    if (rows.length > 0) queue.push(rows);
    if (ended) {
      const last = splitter.end();
      if (last.length > 0) queue.push(last);
    }
    return !ended || queue.length > 0;
  };

  // Read up to the first record so the header is known before any row is built.
  while (queue.length === 0 && (await pull())) {
    if (ended) break;
  }
  const fmt = format ?? 'plain';
  let header: string[] | null = null;
  const takeFirst = (): ParsedRow | undefined => {
    const b = queue[0];
    if (!b) return undefined;
    const first = b.shift();
    if (b.length === 0) queue.shift();
    return first;
  };
  if (fmt === 'csv' || fmt === 'tsv') {
    const h = takeFirst();
    header = h ? h.fields.map((x) => x.trim()) : [];
  } else if (fmt === 'jsonl') {
    // The first line that is a JSON object names the usual columns; a broken
    // first line is left for the row loop to reject.
    header = [];
    for (const p of queue[0] ?? []) {
      const parsed = parseJson(p.fields[0] as string);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        header = Object.keys(parsed);
        break;
      }
    }
  }
  const width = header?.length ?? 1;

  const convert = (batch: ParsedRow[]): Row[] => {
    const rows: Row[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as ParsedRow;
      if (fmt === 'jsonl') rows[i] = jsonRow(file, p.line, p.fields[0] as string);
      else {
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
    }
    return rows;
  };

  return {
    file,
    format: fmt,
    header,
    batches: {
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const b = queue.shift();
            if (b) {
              yield convert(b);
              continue;
            }
            if (!(await pull())) return;
          }
        } finally {
          await it.return?.();
        }
      },
    },
    blankLines: () => splitter?.blankLines ?? 0,
    keepFields: (n) => splitter?.keepFields(n),
    fullRow: (row) => (row.text !== undefined ? row.text.split(fmt === 'tsv' ? '\t' : ',') : row.values),
  };
}

/** Guesses the format from the start of a file (BOM allowed). */
export function detectFormat(text: string, headerNames: readonly string[]): Format {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const first = body.split(/\r\n|\n|\r/).find((l) => l.trim() !== '');
  if (first === undefined) return 'plain';
  const line = first.replace(/\r$/, '').trim();
  if (line.startsWith('{')) return 'jsonl';
  if (line.includes('\t')) return 'tsv';
  if (line.includes(',') || line.startsWith('"')) return 'csv';
  if (headerNames.includes(line)) return 'csv';
  return 'plain';
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
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', 'expected one JSON object per line', { file, line }),
    };
  }
  return { line, values: value as Record<string, unknown> };
}
