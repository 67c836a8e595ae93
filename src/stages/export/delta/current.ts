import { type Recipe, recipeOf } from '../../../core/delta.js';
import {
  KEY_NAMES,
  KEY_NONE,
  type KeyedLine,
  KeyScan,
  type KeyScanLines,
  KIND_SEGMENT,
  LINE_BLANK,
  LINE_ERROR,
  LINE_OK,
  type OutKeyField,
  OutLineParser,
} from '../../../core/out-lines.js';
import { PbError } from '../../../errors.js';
import { prefetch } from '../../../io/input.js';
import { Bits } from '../../collect/bits.js';
import { numbered, PiecePool } from '../../collect/reading.js';
import { type DeltaKeys, TYPE_ERROR, TYPE_OK } from './keys.js';

/** What step 1 found in the current outputs. */
export interface CurrentRead {
  recipe: Recipe | undefined;
  /** Lines numbered (blank ones aside): the second reading must find as many. */
  lines: number;
  /** Lines written whatever PREV holds: error lines and lines without a key. */
  always: Bits;
}

/**
 * Step 1 for the current outputs: every non-blank line is numbered (as
 * collect numbers them); a line with output writes `O digest number` under
 * its key, an error line `E`. An invalid line stops here with its place:
 * past this pass, its line number would be the temporary file's.
 */
export async function keyCurrent(
  sources: readonly string[],
  keys: DeltaKeys,
  o: { top: number; maxLineLength: number; pieceSize: number },
): Promise<CurrentRead> {
  const keyer = new CurrentKeyer(keys, o);
  // Pieces used again: a fresh 1 MiB buffer a piece was a page fault every 4 KiB of it (system time).
  const pool = new PiecePool(o.pieceSize);
  for (const source of sources) {
    // The next piece is read while this one is keyed.
    for await (const { item, lineOf } of prefetch(numbered(source, { ...o, pool }), 2)) {
      if (item.kind === 'bad') throw new PbError('PB_PARSE', item.reason, { file: source, line: lineOf(0) });
      const waits = keyer.piece(item.bytes, source, lineOf);
      // The partitions copied what they keep.
      pool.recycle(item.bytes);
      await Promise.all(waits);
    }
  }
  return keyer.r;
}

/** keyCurrent's per-line work: the piece's lines by the batch scan where it takes them, else one by one. */
class CurrentKeyer {
  readonly r: CurrentRead = { recipe: undefined, lines: 0, always: new Bits() };
  private readonly parser = new OutLineParser();
  private readonly scan: KeyScan;
  private readonly lines: KeyScanLines | undefined;
  private waits: Promise<void>[] = [];

  constructor(
    private readonly keys: DeltaKeys,
    private readonly o: { top: number; maxLineLength: number },
  ) {
    this.scan = new KeyScan(keys.scores);
    this.lines = keys.lineScanner(o.top);
  }

  /** Keys a piece's lines; what to await before the next piece. */
  piece(piece: Buffer, source: string, lineOf: (i: number) => number): Promise<void>[] {
    this.waits = [];
    const lines = this.lines;
    let p = 0;
    let index = 0;
    while (p < piece.length) {
      const n = lines ? lines.scan(piece, p) : 0;
      if (n === 0) {
        // One line by itself: no batch scan, or the line is longer than its window.
        let nl = piece.indexOf(10, p);
        if (nl === -1) nl = piece.length;
        this.line(piece, p, nl > p && piece[nl - 1] === 13 ? nl - 1 : nl, source, lineOf, index++);
        p = nl + 1;
        continue;
      }
      const ls = lines as KeyScanLines;
      // Runs of accepted lines go to the partitions in one grouped write; a
      // refused line first ends the run, so each partition keeps line order.
      let run = 0;
      let runOrd = this.r.lines;
      for (let i = 0; i < n; i++) {
        const field = ls.field(i);
        if (field === KEY_NONE || ls.end(i) - ls.start(i) > this.o.maxLineLength) {
          this.wait(this.keys.putRun(ls, run, i, TYPE_OK, runOrd));
          this.line(piece, ls.start(i), ls.end(i), source, lineOf, index++);
          run = i + 1;
          runOrd = this.r.lines;
        } else {
          index++;
          this.r.lines++;
          this.r.recipe ??= recipeOf(KEY_NAMES[field] as OutKeyField, false);
        }
      }
      this.wait(this.keys.putRun(ls, run, n, TYPE_OK, runOrd));
      p = ls.next(n - 1);
    }
    return this.waits;
  }

  private wait(w: Promise<void> | undefined): void {
    if (w) this.waits.push(w);
  }

  /** One line, piece[s, e), by the key scan or the parser (its verdict and message). */
  private line(
    piece: Buffer,
    s: number,
    e: number,
    source: string,
    lineOf: (i: number) => number,
    at: number,
  ): void {
    const { parser, scan, keys, r, o } = this;
    let got: KeyedLine = scan;
    let status = LINE_OK;
    if (e - s > o.maxLineLength) status = -1;
    else if (!scan.scan(piece, s, e)) {
      status = parser.parse(piece, s, e);
      got = parser;
    }
    if (status === LINE_BLANK) return;
    if (status !== LINE_OK && status !== LINE_ERROR)
      throw new PbError(
        'PB_PARSE',
        `${status === -1 ? `line longer than ${o.maxLineLength} bytes (--max-line-length)` : parser.problem}: --since reads every line first, so --on-invalid skip does not apply; fix or remove the line`,
        { file: source, line: lineOf(at) },
      );
    const ord = r.lines++;
    if (status === LINE_OK) keys.outLine(got, piece, o.top);
    const w = keys.outKey(got, piece, status === LINE_OK ? TYPE_OK : TYPE_ERROR, status === LINE_OK, ord);
    if (w === false || status === LINE_ERROR) r.always.set(ord);
    if (w) this.waits.push(w);
    if (status === LINE_OK && got.keyField !== KEY_NONE)
      // The first keyed line sets the recipe; export itself decides what mixed sources mean.
      r.recipe ??= recipeOf(KEY_NAMES[got.keyField] as OutKeyField, got.kind === KIND_SEGMENT);
  }
}
