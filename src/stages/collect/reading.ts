import type { Readable } from 'node:stream';
import { countRegularLines } from '../../core/linecount.js';
import { PbError } from '../../errors.js';
import { openLinesReusing, openSource, wholeLines } from '../../io/input.js';
import { type OutItem, readOutItems } from '../../io/out-reader.js';

// Both readings of a source (keys, then the lines kept) go through here, so they number lines alike.

const TAB = 9;
export const LF = 10;

/**
 * Piece buffers used again once their lines are done with (give back with
 * recycle): a fresh 1 MiB buffer a piece is freed only at the next garbage
 * collection, and tens of them waited for it per thread at the peak RSS.
 */
export class PiecePool {
  private readonly free: Buffer[] = [];
  constructor(private readonly size: number) {}

  take = (): Buffer => this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);

  give = (b: Buffer): void => {
    if (this.free.length < 8) this.free.push(b);
  };

  /** The whole buffer of a piece (a piece is its start) goes back, if it is one of ours in size. */
  recycle(piece: Buffer): void {
    if (piece.byteOffset === 0 && piece.buffer.byteLength === this.size)
      this.give(Buffer.from(piece.buffer, 0, this.size));
  }
}

/** A source's items in order, each with the line numbers of its lines. */
export async function* numbered(
  source: string,
  opts: { stdin?: Readable; pieceSize: number; maxLineLength: number; pool?: PiecePool },
): AsyncGenerator<{ item: OutItem; lineOf: (i: number) => number }> {
  let next = 1;
  for await (const item of readOutItems(source, opts)) {
    if (item.kind === 'bad') {
      const line = item.line ?? next;
      if (item.line === undefined) next++;
      yield { item, lineOf: () => line };
      continue;
    }
    const numbers = item.lineNumbers;
    const base = next;
    if (!numbers) next += linesIn(item.bytes);
    yield { item, lineOf: (i) => (numbers ? (numbers[i] as number) : base + i) };
  }
}

/** Lines in a piece of whole lines (the last may lack its LF). */
function linesIn(b: Buffer): number {
  // Counted 16 bytes a step in WebAssembly when every line is plain (the usual piece): a native
  // indexOf a line cost more than step 3's own work on the line.
  const regular = countRegularLines(b);
  if (regular >= 0) return regular;
  let n = 0;
  for (let i = b.indexOf(LF); i !== -1; i = b.indexOf(LF, i + 1)) n++;
  return b.length > 0 && b[b.length - 1] !== LF ? n + 1 : n;
}

/**
 * Input files as pieces of whole lines (a line over the limit is a PB_PARSE error).
 * With `reuse`, a local file is read into two buffers used in turn (openLinesReusing):
 * a piece is overwritten by the read after the next, so the caller must be done with
 * it by then. A fresh 1 MiB stream chunk a read was freed only by the next garbage
 * collection: in step 1 tens of them waited for it on each thread, the peak RSS.
 */
export function inputPieces(
  file: string,
  stdin: Readable | undefined,
  maxLineLength: number,
  reuse = false,
): AsyncGenerator<Buffer> {
  const tooLong = () =>
    new PbError('PB_PARSE', `an input line longer than ${maxLineLength} bytes (--max-line-length)`, {
      file,
    });
  if (reuse) return openLinesReusing(file, { stdin }, maxLineLength, tooLong);
  return wholeLines(openSource(file, { stdin }), maxLineLength, tooLong);
}

export function isBlank(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== TAB && c !== 13 && c !== LF) return false;
  }
  return true;
}
