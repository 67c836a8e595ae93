import { Utf8Check } from '../core/encoding.js';
import { RecordSplitter } from '../core/lines.js';
import type { OptionNames } from '../core/option-names.js';
import type { PbError } from '../errors.js';
import type { Deduper } from './dedupe.js';
import { type RangeDone, type SplitPlan, splitScan } from './fast-parallel.js';
import { DONE, type FastCounts, lineTooLong, Scanner, type ScanPlan, SLOW_LINE } from './fast-scan.js';
import { wholeLines } from './input.js';
import { notUtf8, type Row, type RowShape, type RowSource, rowShapeOf, toRows } from './rows.js';

/**
 * The byte-level path for the most common job: one id column of a CSV, TSV
 * or plain-text list, no filters, into `{"userId":"..."}` lines. It finds
 * the column in one scan of each line and writes output bytes directly,
 * never decoding the input into strings. A line it cannot handle byte-wise
 * (a quote anywhere in its chunk, an id outside printable ASCII or needing
 * JSON escapes, a bad field count, an empty or over-long id) is handed to
 * the general path as a Row, in place, so output order and errors are the
 * same either way; test/stages/prepare/fastpath.test.ts holds it to a csv-parse oracle.
 * An `@` in an id goes the general way too unless e-mail ids are allowed,
 * and every piece is checked to be UTF-8 before it is scanned.
 */

export interface FastPlan {
  /** The source as the row reader opened it: format, delimiter, header records, shape. */
  src: RowSource;
  /** Index of the id column. */
  column: number;
  field: 'userId' | 'itemId';
  maxLineLength: number;
  /** Ids with an `@` may pass (else they take the general path, which refuses them). */
  allowEmailIds: boolean;
  /** Option names for messages. */
  names: OptionNames;
}

export type { FastCounts } from './fast-scan.js';

const QUOTE = 34;

/** The Scanner's plan for a source, as plain data. */
export function scanPlanOf(plan: FastPlan): ScanPlan {
  const src = plan.src;
  const name = src.namedHeader ? src.header?.[plan.column] : undefined;
  return {
    file: src.file,
    delim: src.delimiter === null ? -1 : src.delimiter.charCodeAt(0),
    column: plan.column,
    width: src.shape.count,
    field: plan.field,
    maxLineLength: plan.maxLineLength,
    allowEmailIds: plan.allowEmailIds,
    headerId: name === undefined ? undefined : name.trim(),
    headerRecords: src.headerRecords,
    firstLine: src.firstLine,
  };
}

/** Whether the fast path can serve a source of this shape. */
export function fastPathApplies(src: RowSource): boolean {
  return (
    (src.format === 'plain' || src.format === 'csv' || src.format === 'tsv') &&
    src.simpleHeader &&
    !src.crOnly &&
    (src.delimiter === null || src.delimiter.charCodeAt(0) < 128)
  );
}

/**
 * One source on the byte path: chunks with no quote go through the Scanner,
 * the lines it hands over and chunks with a quote through the record
 * splitter and `slow`, each in its place so the output keeps the input order.
 */
class FastSource {
  private readonly sc: Scanner;
  private readonly splitter: RecordSplitter;
  private readonly shape: RowShape;
  private readonly file: string;

  constructor(
    private readonly plan: FastPlan,
    dedupe: Deduper | undefined,
    private readonly counts: FastCounts,
    private readonly slow: (rows: Row[]) => Promise<string>,
  ) {
    this.file = plan.src.file;
    this.shape = rowShapeOf(plan.src);
    this.sc = new Scanner(scanPlanOf(plan), dedupe, counts);
    this.splitter = new RecordSplitter({
      delimiter: plan.src.delimiter,
      maxRecordLength: plan.maxLineLength,
      file: this.file,
    });
    this.splitter.keepFields(plan.column + 1);
  }

  /** The error for a line past the limit; none inside an open quote. */
  overlong(): PbError | undefined {
    // A record inside an open quote may run on; the splitter bounds it itself.
    return this.splitter.hasPending
      ? undefined
      : lineTooLong(this.plan.maxLineLength, this.file, this.sc.line);
  }

  /** Whether the next byte may be inside a record (an open quote) or the header is still to come. */
  midRecord(): boolean {
    return this.splitter.hasPending || this.sc.skipHeader > 0;
  }

  /** A worker's range, scanned into its own partitions, counted as if read here. */
  adopt(r: RangeDone): void {
    this.sc.line += r.lines;
    this.counts.recordsRead += r.recordsRead;
    this.counts.blankLines += r.blankLines;
  }

  /** The line a byte at the start of the next piece is on. */
  readingLine(): number {
    const splitter = this.splitter;
    return splitter.hasPending ? splitter.nextLine + splitter.pendingLines : this.sc.line;
  }

  /** One piece of whole lines (`final`: the end of the input, which closes the splitter). */
  async *segment(seg: Buffer, final: boolean): AsyncGenerator<Buffer | string> {
    const sc = this.sc;
    if (this.splitter.hasPending || seg.indexOf(QUOTE) !== -1) {
      const text = await this.viaSplitter(seg, final);
      if (text !== '') yield text;
      return;
    }
    sc.pos = 0;
    for (;;) {
      const status = sc.scan(seg);
      if (status === DONE) break;
      if (status === SLOW_LINE) {
        await this.slowLine(seg);
        continue;
      }
      if (await sc.wait) {
        sc.at += sc.waitLen;
        this.counts.written++;
      }
    }
    const done = sc.take();
    if (done) yield done;
  }

  /** The line the Scanner stopped at, through the general path, its output written in place. */
  private async slowLine(seg: Buffer): Promise<void> {
    const sc = this.sc;
    const delimChar = this.plan.src.delimiter;
    const text = seg.toString('utf8', sc.slowStart, sc.slowEnd);
    const fields = delimChar === null ? [text] : text.split(delimChar);
    const lines = await this.slow(
      toRows([{ line: sc.slowLine, fields, count: fields.length }], this.shape, this.file),
    );
    if (lines !== '') {
      // In place, so the output keeps the input order.
      const len = Buffer.byteLength(lines);
      sc.ensure(len);
      sc.at += sc.out.write(lines, sc.at);
    }
  }

  /** Whole lines of text through the general path (quotes can span lines). */
  private async viaSplitter(seg: Buffer, final: boolean): Promise<string> {
    const { sc, splitter, counts } = this;
    splitter.nextLine = sc.line;
    const before = splitter.blankLines;
    const parsed = splitter.push(seg.toString('utf8'));
    if (final) parsed.push(...splitter.end());
    counts.blankLines += splitter.blankLines - before;
    sc.line = splitter.nextLine;
    while (sc.skipHeader > 0 && parsed.length > 0) {
      parsed.shift();
      sc.skipHeader--;
    }
    counts.recordsRead += parsed.length;
    return parsed.length > 0 ? this.slow(toRows(parsed, this.shape, this.file)) : '';
  }
}

/**
 * Yields output chunks (Buffers from the fast path, strings from `slow`).
 * `slow` runs the general per-row logic (build, validate, dedupe, rejects).
 */
export async function* fastLines(
  raw: AsyncIterable<Buffer>,
  plan: FastPlan,
  dedupe: Deduper | undefined,
  counts: FastCounts,
  slow: (rows: Row[]) => Promise<string>,
  /** A local file whose second part a worker scans meanwhile (fast-parallel.ts); needs `dedupe` spilling from the start. */
  split?: SplitPlan,
  /** Lets the source's own stream go when `split` reads the file itself. */
  close: () => Promise<void> = async () => {},
): AsyncGenerator<Buffer | string> {
  const source = new FastSource(plan, dedupe, counts, slow);
  const check = new Utf8Check();
  const bytes =
    split && dedupe
      ? splitScan(close, split, scanPlanOf(plan), () => ({
          midRecord: source.midRecord(),
          adopt: async (r) => {
            source.adopt(r);
            if (r.nonAscii) check.nonAscii = true;
            await dedupe.adopt(r.parts);
          },
        }))
      : raw;
  const pieces = wholeLines(bytes, plan.maxLineLength, () => source.overlong());
  let first = true;
  for await (let piece of pieces) {
    if (first) {
      // The first piece starts at byte 0, whole first line included, so a BOM is all there.
      first = false;
      if (piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf) piece = piece.subarray(3);
    }
    const bad = check.push(piece);
    if (bad >= 0)
      throw notUtf8(plan.src.file, piece, bad, source.readingLine(), plan.names, {
        utf8Before: check.nonAscii,
      });
    yield* source.segment(piece, false);
  }
  // Ends a record still open in the splitter (or reports its unclosed quote).
  yield* source.segment(Buffer.alloc(0), true);
}
