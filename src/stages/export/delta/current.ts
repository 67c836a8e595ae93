import { type Recipe, recipeOf } from '../../../core/delta.js';
import {
  KEY_NAMES,
  KEY_NONE,
  type KeyedLine,
  KeyScan,
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
import { numbered } from '../../collect/reading.js';
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
  const parser = new OutLineParser();
  const scan = new KeyScan(keys.scores);
  const r: CurrentRead = { recipe: undefined, lines: 0, always: new Bits() };
  for (const source of sources) {
    // The next piece is read while this one is keyed.
    for await (const { item, lineOf } of prefetch(numbered(source, o), 2)) {
      if (item.kind === 'bad') throw new PbError('PB_PARSE', item.reason, { file: source, line: lineOf(0) });
      const piece = item.bytes;
      const waits: Promise<void>[] = [];
      let p = 0;
      let index = 0;
      while (p < piece.length) {
        let nl = piece.indexOf(10, p);
        if (nl === -1) nl = piece.length;
        const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
        // The service's usual lines by the key scan, any other by the parser (its verdict and message).
        let got: KeyedLine = scan;
        let status = LINE_OK;
        if (e - p > o.maxLineLength) status = -1;
        else if (!scan.scan(piece, p, e)) {
          status = parser.parse(piece, p, e);
          got = parser;
        }
        const line = index++;
        p = nl + 1;
        if (status === LINE_BLANK) continue;
        if (status !== LINE_OK && status !== LINE_ERROR)
          throw new PbError(
            'PB_PARSE',
            `${status === -1 ? `line longer than ${o.maxLineLength} bytes (--max-line-length)` : parser.problem}: --since reads every line first, so --on-invalid skip does not apply; fix or remove the line`,
            { file: source, line: lineOf(line) },
          );
        const ord = r.lines++;
        if (status === LINE_OK) keys.outLine(got, piece, o.top);
        const w = keys.outKey(got, piece, status === LINE_OK ? TYPE_OK : TYPE_ERROR, status === LINE_OK, ord);
        if (w === false || status === LINE_ERROR) r.always.set(ord);
        if (w) waits.push(w);
        if (status === LINE_OK && got.keyField !== KEY_NONE) noteRecipe(r, got);
      }
      await Promise.all(waits);
    }
  }
  return r;
}

function noteRecipe(r: CurrentRead, parser: KeyedLine): void {
  // The first keyed line sets the recipe; export itself decides what mixed sources mean.
  r.recipe ??= recipeOf(KEY_NAMES[parser.keyField] as OutKeyField, parser.kind === KIND_SEGMENT);
}
