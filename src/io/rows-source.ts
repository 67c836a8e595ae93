import type { FieldShape, JsonLayout, OptionNames } from '../core/sniff.js';
import type { PbError } from '../errors.js';

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
  /**
   * A JSON object's top-level numbers as written, by key, when one is not as JavaScript would
   * write it (`2.50`, `1e3`, `-0`): a join copies values byte for byte (see jsonRow).
   */
  numbers?: Map<string, string>;
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
  /** Where `raw` starts in the source's (decoded) bytes: after the byte order mark and lines skipped. */
  rawFrom: number;
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
