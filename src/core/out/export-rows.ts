import type { Catalog } from '../catalog.js';
import type { ConvertConfig, Layout } from './convert-config.js';
import type { ConvertCounts } from './convert-result.js';
import { WASM_BASE64 } from './export-rows-wasm.js';
import type { RowWriter } from './row-writer.js';

/**
 * The service's usual lines straight to rows in WebAssembly
 * (export-rows.wat): the scan and the row loop of a conversion in one call
 * over a window of the piece, about a third of their time in JavaScript.
 * Only for exports whose rows it writes exactly as the JavaScript writers
 * do (no joins, reasons, themes or segments; see WasmRows.usable); any
 * line it does not take whole it leaves to the Converter's line loop
 * (the parser, error lines, invalid lines, escapes, spaced JSON).
 * test/core/out-lines.test.ts holds the two paths to the same bytes.
 */

/** export-rows.wat's layout. */
const CAP = 0x100000;
const STATE = 0x141000;
const OUT = 0x150000;
/** Why rows() stopped: a line it refused, the window's end, OUT full. */
const REFUSED = 0;
const WINDOW = 1;

interface RowsExports {
  memory: WebAssembly.Memory;
  setup(
    fmt: number,
    withScore: number,
    guard: number,
    crlf: number,
    top: number,
    width: number,
    keyField: number,
    maxLine: number,
    scoresOk: number,
  ): void;
  rows(len: number, atEnd: number, from: number): number;
}

let wasmModule: WebAssembly.Module | undefined;

export class WasmRows {
  private readonly wasm: RowsExports;
  private readonly mem: Uint8Array;
  private readonly state: Int32Array;
  /** The window: piece[base, base + len) at IN. */
  private piece: Uint8Array | undefined;
  private base = 0;
  private len = 0;

  /** Whether this export's rows are ones the module writes (else every line takes the JavaScript path). */
  static usable(cfg: ConvertConfig, catalog: Catalog | undefined): boolean {
    const l = cfg.layout;
    return (
      l !== undefined &&
      !cfg.measure &&
      !cfg.parquet &&
      catalog === undefined &&
      !l.users &&
      !l.reason &&
      !l.theme &&
      (l.keyField === 'userId' || l.keyField === 'itemId')
    );
  }

  constructor(cfg: ConvertConfig) {
    const layout = cfg.layout as Layout;
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as RowsExports;
    // Fixed size (its maximum is its minimum), so these views never go stale.
    this.mem = new Uint8Array(this.wasm.memory.buffer);
    this.state = new Int32Array(this.wasm.memory.buffer, STATE, 6);
    this.wasm.setup(
      cfg.format === 'csv-long' ? 0 : cfg.format === 'csv-wide' ? 1 : 2,
      layout.score ? 1 : 0,
      cfg.escapeFormulas ? 1 : 0,
      cfg.crlf ? 1 : 0,
      cfg.top,
      cfg.width,
      layout.keyField === 'userId' ? 1 : 2,
      Math.min(cfg.maxLineLength, 0x7fffffff),
      // An optimistic csv-wide without a score column stops at a line with scores: JavaScript says so.
      layout.score || !cfg.optimistic ? 1 : 0,
    );
  }

  /** A new piece (a slot's buffer is reused for the next piece: the window is stale). */
  begin(): void {
    this.piece = undefined;
  }

  /**
   * Converts the lines of piece[p, ...) the module takes, their rows
   * appended to `rows` and counted; returns the first line it left (the
   * caller converts it, then calls again past it), or the piece's end.
   */
  run(piece: Uint8Array, from: number, rows: RowWriter, c: ConvertCounts, layout: Layout): number {
    const n = piece.length;
    let p = from;
    for (;;) {
      if (piece !== this.piece || p < this.base || p >= this.base + this.len) this.load(piece, p);
      const stop = this.wasm.rows(this.len, this.base + this.len === n ? 1 : 0, p - this.base) + this.base;
      this.take(rows, c, layout);
      if (stop >= n || (this.state[5] as number) === REFUSED) return stop;
      // The window's end: a line longer than a window goes to JavaScript; else the window moves to it.
      if ((this.state[5] as number) === WINDOW) {
        if (stop === this.base) return stop;
        this.load(piece, stop);
      }
      p = stop;
    }
  }

  private load(piece: Uint8Array, p: number): void {
    const len = Math.min(CAP, piece.length - p);
    this.mem.set(piece.subarray(p, p + len), 0);
    this.mem[len] = 0;
    this.piece = piece;
    this.base = p;
    this.len = len;
  }

  /** The rows written to OUT into the row writer, and what they count. */
  private take(rows: RowWriter, c: ConvertCounts, layout: Layout): void {
    const st = this.state;
    const bytes = st[0] as number;
    const lines = st[1] as number;
    if (lines === 0) return;
    rows.ensure(bytes);
    rows.out.set(this.mem.subarray(OUT, OUT + bytes), rows.at);
    rows.at += bytes;
    c.lines += lines;
    c.records += lines;
    c.rows += st[2] as number;
    const scored = st[3] as number;
    if (scored > 0) {
      c.sawScores = true;
      if (!layout.score) c.droppedScores += scored;
    }
    if ((st[4] as number) > c.maxWidth) c.maxWidth = st[4] as number;
  }
}
