import type { OutItem } from '../../../core/json-values.js';
import { usage } from '../../../errors.js';
import { isBlank } from '../../collect/reading.js';

const LF = 10;

/** A piece the keeper let through uncut: the thread that converts it cuts it (LineKeep.lanes). */
export type KeptItem = OutItem & { raw?: boolean };

/** What the export's reading asks of `export --since`'s kept lines: KeptLines, or the table path's (fast.ts). */
export interface LineKeep {
  /** Bytes of the kept lines in the pass (what the export reports as read). */
  readonly bytes: number;
  begin(): void;
  /** `raw`: whether a piece may now go uncut, to be cut where it is converted. */
  items(
    src: AsyncIterable<OutItem>,
    give: (b: Buffer) => void,
    raw?: () => boolean,
  ): AsyncGenerator<KeptItem>;
  /** Once a whole pass has been read: its checks; the bytes kept. */
  end(): number;
  /** The table path: this thread's cut, and each worker's setup for its own (undefined: pieces come cut). */
  readonly lanes?: {
    cut(piece: Buffer): Buffer;
    setup(thread: number): import('./filter.js').FilterSetup;
  };
}

/**
 * The lines `export --since` keeps, applied to the export's own reading of
 * the sources: each piece is compacted in place to its kept lines (each
 * ending in LF, blank lines dropped), so the conversion sees exactly the
 * bytes a file of the kept lines would give, without writing or reading
 * such a file. Lines are numbered as current.ts numbers them: non-blank
 * lines in source order, across the sources of one pass.
 */
export class KeptLines implements LineKeep {
  private ord = 0;
  /** Bytes of the kept lines in the pass (what the export reports as read). */
  bytes = 0;

  constructor(
    private readonly bits: Uint8Array,
    /** Lines current.ts numbered: a pass must find as many. */
    private readonly lines: number,
  ) {}

  /** A new pass over the sources. */
  begin(): void {
    this.ord = 0;
    this.bytes = 0;
  }

  /**
   * The items of one source, compacted. `give` takes back a piece's buffer
   * when none of its lines is kept (the item is then not yielded).
   */
  async *items(src: AsyncIterable<OutItem>, give: (b: Buffer) => void): AsyncGenerator<OutItem> {
    for await (const item of src) {
      // The keys' pass stopped at any such line: the sources changed since.
      if (item.kind === 'bad') throw changed();
      const bytes = this.compact(item.bytes);
      if (bytes.length === 0) {
        give(item.bytes);
        continue;
      }
      if (bytes.buffer !== item.bytes.buffer) give(item.bytes);
      this.bytes += bytes.length;
      // The kept lines are numbered as a file of them would be: by the converter, from 1.
      yield { kind: 'lines', bytes };
    }
  }

  /** Once a whole pass has been read: every line numbered before was met again. */
  end(): number {
    if (this.ord !== this.lines) throw changed();
    return this.bytes;
  }

  private compact(piece: Buffer): Buffer {
    const bits = this.bits;
    let w = 0;
    let p = 0;
    let ord = this.ord;
    let extra: Buffer | undefined;
    while (p < piece.length) {
      let nl = piece.indexOf(LF, p);
      const hasLf = nl !== -1;
      if (!hasLf) nl = piece.length;
      if (!isBlank(piece, p, nl)) {
        const n = ord++;
        if (n >= this.lines) throw changed();
        if (((bits[n >>> 3] as number) & (1 << (n & 7))) !== 0) {
          if (hasLf) {
            if (w !== p) piece.copyWithin(w, p, nl + 1);
            w += nl + 1 - p;
          } else {
            // The source's last line has no LF; the piece has no room for one.
            extra = Buffer.allocUnsafeSlow(w + nl - p + 1);
            piece.copy(extra, 0, 0, w);
            piece.copy(extra, w, p, nl);
            extra[extra.length - 1] = LF;
          }
        }
      }
      p = nl + 1;
    }
    this.ord = ord;
    return extra ?? piece.subarray(0, w);
  }
}

function changed(): Error {
  return usage('the sources changed while --since read them: run it again');
}
