import { POW10 } from './report.js';
import type { KeyAdder } from './report-keys.js';
import { WASM_BASE64 } from './report-scan-wasm.js';

/** report-scan.wat's memory layout: the window, a record of 64 bytes a line, the other ids' spans, the counters. */
const CAP = 0x200000;
const RECS = 0x210000;
const MAX_RECS = 0x4000;
const OTHERS = 0x310000;
const MAX_OTHERS = 0xb0000;
const POW10_AT = 0xb50000;
const COUNTS = 0xb60000;

interface WasmTally {
  memory: WebAssembly.Memory;
  scan(len: number, atEnd: number, maxRecs: number, limit: number, keys: number): number;
  others(): number;
  counters(): number;
}

let wasmModule: WebAssembly.Module | undefined;
/** The imports of a scan that adds no key itself (never called). */
const NO_KEYS = { begin: () => 0, word: () => {}, end: () => 0, touch: () => {} };

/**
 * The report's tally of a piece's usual lines in WebAssembly
 * (report-scan.wat): out/key-scan's shape checks, then for each line it
 * accepts its key's span and hash, its ids' count, the scores at ranks 1,
 * 5, 10 and last (parseNumber's values), and its ids counted: whole
 * numbers below `limit` in counters of its own (CountTable.addOne's rule
 * for its direct counters, so an id is counted one way whichever path
 * reads it), the other ids' spans listed for the caller's table. Lines it
 * refuses are records too, with nothing counted: the caller parses them.
 * In JavaScript the tally cost about 12 instructions a byte beside the
 * parse; here the scan and the counting are one loop.
 */
export class ReportScanLines {
  private readonly wasm: WasmTally;
  private rec!: Int32Array;
  private score!: Float64Array;
  private other!: Int32Array;
  private mem!: Uint8Array;
  /** The window's place in the piece: records hold offsets into the window. */
  private base = 0;

  /** `keys`: a shared keys table's adder on this thread, which then takes the tallied lines' keys (keyShared). */
  constructor(
    private readonly limit: number,
    private readonly keys?: KeyAdder,
  ) {
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    const imports = { keys: (keys ?? NO_KEYS) as unknown as WebAssembly.ModuleImports };
    this.wasm = new WebAssembly.Instance(wasmModule, imports).exports as unknown as WasmTally;
    this.views();
    // parseNumber's own powers of ten, so the division or product is the same operation on the same values.
    new Float64Array(this.wasm.memory.buffer, POW10_AT, POW10.length).set(POW10);
  }

  /** The memory grows as id values come: views made again when it did. */
  private views(): void {
    const buf = this.wasm.memory.buffer;
    this.mem = new Uint8Array(buf);
    this.rec = new Int32Array(buf, RECS, MAX_RECS * 16);
    this.score = new Float64Array(buf, RECS, MAX_RECS * 8);
    this.other = new Int32Array(buf, OTHERS, MAX_OTHERS * 2);
  }

  /**
   * Tallies the lines of piece[from, end of piece) that fit a window:
   * returns how many (0: the line at `from` alone is longer than a window;
   * parse it), each read with the methods below; next(count - 1) is where
   * the next call starts.
   */
  scan(piece: Uint8Array, from: number): number {
    const len = Math.min(CAP, piece.length - from);
    this.mem.set(piece.subarray(from, from + len), 0);
    // No rule of the shape takes a 0 byte: the scan stops at the window's end.
    this.mem[len] = 0;
    this.base = from;
    const n = this.wasm.scan(
      len,
      from + len === piece.length ? 1 : 0,
      MAX_RECS,
      this.limit,
      this.keys ? 1 : 0,
    );
    if (this.mem.buffer !== this.wasm.memory.buffer) this.views();
    return n;
  }

  /** The line's first byte in the piece. */
  start(i: number): number {
    return (this.rec[i * 16] as number) + this.base;
  }
  /** Past its last byte, CR of CRLF left out. */
  end(i: number): number {
    return (this.rec[i * 16 + 1] as number) + this.base;
  }
  /** The next line's first byte. */
  next(i: number): number {
    return (this.rec[i * 16 + 2] as number) + this.base;
  }
  /** KEY_USER or KEY_ITEM when the line was tallied, else KEY_NONE (parse it). */
  field(i: number): number {
    return (this.rec[i * 16 + 3] as number) & 3;
  }
  /** The shared keys table has the line's key (added or found there); else the caller adds it. */
  keyShared(i: number): boolean {
    return ((this.rec[i * 16 + 3] as number) & 4) !== 0;
  }
  /** How many of OTHERS are the line's (the lines' come in order). */
  othersOf(i: number): number {
    return (this.rec[i * 16 + 3] as number) >>> 3;
  }
  keyStart(i: number): number {
    return (this.rec[i * 16 + 4] as number) + this.base;
  }
  keyEnd(i: number): number {
    return (this.rec[i * 16 + 5] as number) + this.base;
  }
  /** hashBytes of the key's bytes. */
  keyHash(i: number): number {
    return (this.rec[i * 16 + 6] as number) >>> 0;
  }
  /** How many ids the line recommends. */
  ids(i: number): number {
    return this.rec[i * 16 + 7] as number;
  }
  /** The score at rank position `slot` (1, 5, 10, last), or NaN when the line has none there. */
  scoreAt(i: number, slot: number): number {
    return this.score[i * 8 + 4 + slot] as number;
  }

  /** How many ids of the tallied lines were not counted here (line by line, in order): their spans, by otherStart and otherEnd. */
  others(): number {
    return this.wasm.others();
  }
  otherStart(k: number): number {
    return (this.other[k * 2] as number) + this.base;
  }
  otherEnd(k: number): number {
    return (this.other[k * 2 + 1] as number) + this.base;
  }

  /** The counters so far, indexed by id value (a view: read before the next scan). */
  counts(): Uint32Array {
    return new Uint32Array(this.wasm.memory.buffer, COUNTS, this.wasm.counters());
  }
}
