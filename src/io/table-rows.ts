import { Utf8Check } from '../core/encoding.js';
import { RecordSplitter } from '../core/lines.js';
import type { OptionNames } from '../core/option-names.js';
import {
  SCAN_DONE,
  SCAN_NO_KEY,
  SCAN_ROW,
  SCAN_SLOW_LINE,
  SCAN_SPLIT,
  TableScanner,
  type TableScanPlan,
} from '../core/table-scan.js';
import { PbError } from '../errors.js';
import { raceAbort } from './abort.js';
import { fileBytes } from './fast-parallel.js';
import { wholeLines } from './input.js';
import { notUtf8 } from './not-utf8.js';
import { type Row, type RowShape, type RowSource, rowShapeOf, toRows } from './rows.js';
import { scopeSignal } from './scope.js';

/**
 * A join table's rows on the byte path (core/table-scan.ts): the key and
 * the columns found in each line's bytes, and a string made only for the
 * rows `want` keeps. Lines and pieces the loop hands over go through the
 * general row logic (`general`), in file order, so either path gives the
 * same rows, errors and line numbers.
 */

export interface TableRowPlan {
  /** The key's field and the fields to read, in output order. */
  key: number;
  columns: readonly number[];
  maxLineLength: number;
  names: OptionNames;
}

export interface TableRowHandlers {
  /** Whether a key (trimmed, as UTF-8 bytes) is one to read. */
  want(buf: Uint8Array, start: number, end: number): boolean;
  /** A row the byte loop read, its key trimmed. */
  row(key: string, values: string[], line: number): Promise<void> | undefined;
  /**
   * Instead of row(), when given: the row as the scanner holds it, read with
   * no string (sc.keyStart, sc.keyEnd, sc.rowLine, sc.copyField for `columns`).
   */
  rowBytes?(piece: Buffer, sc: TableScanner, columns: readonly number[]): Promise<void> | undefined;
  /** A row whose key is empty once trimmed (`count` rows, the first on `line`: a worker's part). */
  noKey(line: number, count?: number): void;
  /** Rows for the general logic (which asks `want` itself). */
  general(rows: Row[]): Promise<void>;
}

/** Whether the byte path can read a source of this shape: a CSV or TSV with a one-line header. */
export function tableScanApplies(src: RowSource): boolean {
  return (
    (src.format === 'csv' || src.format === 'tsv') &&
    src.namedHeader &&
    src.simpleHeader &&
    !src.crOnly &&
    src.header !== null &&
    src.delimiter !== null &&
    src.delimiter.length === 1 &&
    src.delimiter.charCodeAt(0) < 128
  );
}

/**
 * What a worker that scanned a table's part from the cut on reports: where
 * it stopped (the file's end, or the first line it left to this thread),
 * the lines before that, and its rows without a key (lines numbered from 1
 * at the cut).
 */
export interface TableRangeDone {
  stop: number;
  lines: number;
  nonAscii: boolean;
  withoutKey: number;
  withoutKeyLines: number[];
}

/**
 * A local file read on two threads (see fast-parallel.ts, prepare's form
 * of it): this thread reads up to `cut` (a line start) while `start`'s
 * worker scans from there; at the cut, unless a quoted record is open
 * there, the worker's part is adopted (`linesBefore`: the lines before the
 * cut, to number its rows) and this thread reads on from where it stopped.
 */
export interface TableSplit<D extends TableRangeDone> {
  path: string;
  size: number;
  cut: number;
  start(plan: TableScanPlan): { result: Promise<D | undefined>; stop(): Promise<void> };
  adopt(done: D, linesBefore: number): Promise<void>;
}

/** Reads every row of `src` (opened, not read yet) through the byte path; returns the blank lines skipped. */
export async function scanTableRows<D extends TableRangeDone>(
  src: RowSource,
  plan: TableRowPlan,
  h: TableRowHandlers,
  split?: TableSplit<D>,
): Promise<number> {
  const reader = new TableRowReader(src, plan, h);
  const check = new Utf8Check();
  const bytes = split ? splitBytes(src, split, reader, check) : src.raw;
  let first = true;
  for await (let piece of wholeLines(bytes, plan.maxLineLength, () => reader.overlong())) {
    if (first) {
      first = false;
      if (piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf) piece = piece.subarray(3);
    }
    const bad = check.push(piece);
    if (bad >= 0)
      throw notUtf8(src.file, piece, bad, reader.sc.line, plan.names, { utf8Before: check.nonAscii });
    await reader.piece(piece);
  }
  await reader.viaSplitter('', true);
  return reader.blankLines;
}

/** The file's bytes from `src.rawFrom` with a worker's part (from the cut) left out when it is adopted. */
async function* splitBytes<D extends TableRangeDone>(
  src: RowSource,
  split: TableSplit<D>,
  reader: TableRowReader,
  check: Utf8Check,
): AsyncGenerator<Buffer> {
  // Read here, not through the source's stream: UTF-8 as it is, the same bytes.
  await src.close();
  const worker = split.start(reader.sc.plan);
  try {
    yield* fileBytes(split.path, src.rawFrom, split.cut);
    // Every line before the cut is read here now (wholeLines asks for more only then).
    let from = split.cut;
    if (!reader.midRecord()) {
      const done = await raceAbort(worker.result, scopeSignal());
      if (done) {
        const before = reader.sc.line - 1;
        await split.adopt(done, before);
        reader.adopt(done, before);
        if (done.nonAscii) check.nonAscii = true;
        from = done.stop;
      }
    }
    await worker.stop();
    yield* fileBytes(split.path, from, split.size);
  } finally {
    await worker.stop();
  }
}

/** One source's scanner and record splitter, each line through one of them in file order. */
class TableRowReader {
  readonly sc: TableScanner;
  private readonly splitter: RecordSplitter;
  private readonly shape: RowShape;
  private splitBlank = 0;

  constructor(
    private readonly src: RowSource,
    private readonly plan: TableRowPlan,
    private readonly h: TableRowHandlers,
  ) {
    const header = src.header as string[];
    this.sc = new TableScanner(
      {
        delimiter: (src.delimiter as string).charCodeAt(0),
        width: src.shape.count,
        key: plan.key,
        columns: plan.columns,
        headerFirst: Buffer.from((header[0] ?? '').trim()),
        headerRecords: src.headerRecords,
        firstLine: src.firstLine,
        maxLineLength: plan.maxLineLength,
      },
      h.want,
    );
    this.splitter = new RecordSplitter({
      delimiter: src.delimiter,
      maxRecordLength: plan.maxLineLength,
      file: src.file,
    });
    this.shape = rowShapeOf(src);
  }

  get blankLines(): number {
    return this.sc.blankLines + this.splitBlank;
  }

  /** Inside a record (a quoted line break) or before the header's end: no worker's part can start here. */
  midRecord(): boolean {
    return this.splitter.hasPending || this.sc.skipHeader > 0;
  }

  /** A worker's part, read as if here: its lines counted, its keyless rows numbered on from `before`. */
  adopt(done: TableRangeDone, before: number): void {
    this.sc.line += done.lines;
    const lines = done.withoutKeyLines;
    for (let i = 0; i < lines.length; i++) {
      const rest = i === lines.length - 1 ? done.withoutKey - i : 1;
      this.h.noKey((lines[i] as number) + before, rest);
    }
  }

  /** The error for a line past the limit; none inside an open quote (the splitter bounds it). */
  overlong(): PbError | undefined {
    if (this.splitter.hasPending) return undefined;
    return new PbError(
      'PB_PARSE',
      `line longer than ${this.plan.maxLineLength} characters (--max-line-length)`,
      {
        file: this.src.file,
        line: this.sc.line,
      },
    );
  }

  async piece(piece: Buffer): Promise<void> {
    const { sc, h, plan } = this;
    if (this.splitter.hasPending) return this.viaSplitter(piece.toString('utf8'), false);
    sc.begin(piece);
    for (;;) {
      const status = sc.scan();
      if (status === SCAN_DONE) return;
      if (status === SCAN_ROW && h.rowBytes) {
        const w = h.rowBytes(piece, sc, plan.columns);
        if (w) await w;
      } else if (status === SCAN_ROW) {
        const key = piece.toString('utf8', sc.keyStart, sc.keyEnd);
        const w = h.row(
          key,
          plan.columns.map((c) => sc.fieldText(c)),
          sc.rowLine,
        );
        if (w) await w;
      } else if (status === SCAN_NO_KEY) h.noKey(sc.rowLine);
      else if (status === SCAN_SLOW_LINE) await this.slowLine(piece);
      else if (status === SCAN_SPLIT) return this.viaSplitter(piece.toString('utf8', sc.slowStart), false);
    }
  }

  /** The line the scanner handed over, through the general row logic. */
  private async slowLine(piece: Buffer): Promise<void> {
    const sc = this.sc;
    const text = piece.toString('utf8', sc.slowStart, sc.slowEnd);
    if (text.includes('"')) {
      // Quotes: the splitter's rules, on the line as it stands (its CR and LF).
      const after = sc.line;
      sc.line = sc.slowLine;
      await this.viaSplitter(piece.toString('utf8', sc.slowStart, sc.slowRawEnd), false);
      if (!this.splitter.hasPending) sc.line = after;
      return;
    }
    const fields = text.split(this.src.delimiter as string);
    await this.h.general(
      toRows([{ line: sc.slowLine, fields, count: fields.length }], this.shape, this.src.file),
    );
  }

  /** Whole lines of text through the splitter (a quoted field may hold line breaks). */
  async viaSplitter(text: string, final: boolean): Promise<void> {
    const { sc, splitter } = this;
    if (!splitter.hasPending) splitter.nextLine = sc.line;
    const before = splitter.blankLines;
    const parsed = splitter.push(text);
    if (final) parsed.push(...splitter.end());
    this.splitBlank += splitter.blankLines - before;
    sc.line = splitter.nextLine;
    while (sc.skipHeader > 0 && parsed.length > 0) {
      parsed.shift();
      sc.skipHeader--;
    }
    if (parsed.length > 0) await this.h.general(toRows(parsed, this.shape, this.src.file));
  }
}
