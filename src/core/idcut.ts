/**
 * The fast path's scan for records bound for the spill partitions, in
 * WebAssembly (idcut.wat), with no I/O: a chunk of whole lines in, each
 * plain id's record `id TAB 0x01 LF` out, regrouped partition by partition
 * (256 of them, by the id's hashBytes as partitionOf picks). It takes only
 * lines the byte path takes as they are and stops at any other, which the
 * Scanner (io/fast-scan.ts) then reads by its own rules: the same records in
 * the same partitions, in the same order, either way.
 */
import { WASM_BASE64 } from './idcut-wasm.js';

/** idcut.wat's fixed layout (byte offsets). */
const LINES = 0;
const IDOK = 64;
const MARKLEN = 320;
const HEADER = 768;
const RECS = 1024;
const ENDS = 2048;
const MARKERS = 4096;
const MARKERS_END = 8192;
const IN = 8192;
/** What the 8-byte copies may read or write past a region's end, and then some. */
const SLACK = 16;
const PAGE = 65536;
/** The partitions the records are grouped into: spill.ts's count. */
export const IDCUT_PARTITIONS = 256;

interface WasmCut {
  memory: WebAssembly.Memory;
  cut(
    len: number,
    pos: number,
    lines: number,
    out: number,
    delim: number,
    col: number,
    width: number,
    maxLine: number,
    headerLen: number,
  ): number;
}

/** What the cut must know of the source and the id rules (fast-scan.ts's). */
export interface IdCutPlan {
  /** The delimiter's byte, -1 for a plain list. */
  delim: number;
  column: number;
  width: number;
  maxLineLength: number;
  /** 1 where an id may hold the byte. */
  idOk: Uint8Array;
  /** The null markers the Scanner refuses as ids. */
  markers: readonly Uint8Array[];
  /** The id column's name in the header, as bytes. */
  headerId: Uint8Array | undefined;
}

let wasmModule: WebAssembly.Module | undefined;

export class IdCut {
  /** After cut(): the records taken, partition by partition, a view of the module's memory valid until the next load or cut. */
  records: Uint8Array = new Uint8Array(0);
  /** Partition t's records are records[ends[t - 1], ends[t]) (from 0 for t = 0), recs[t] of them. */
  readonly ends = new Int32Array(IDCUT_PARTITIONS);
  readonly recs = new Int32Array(IDCUT_PARTITIONS);
  /** Lines taken by the last cut. */
  lines = 0;
  private readonly wasm: WasmCut;
  private readonly headerLen: number;
  private len = 0;
  private linesAt = 0;
  private outAt = 0;

  constructor(private readonly plan: IdCutPlan) {
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as WasmCut;
    const mem = new Uint8Array(this.wasm.memory.buffer);
    mem.set(plan.idOk.subarray(0, 256), IDOK);
    let at = MARKERS;
    for (const m of plan.markers) {
      if (m.length === 0 || m.length > 255 || at + 1 + m.length >= MARKERS_END)
        throw new Error('IdCut: a null marker of no byte, over 255 bytes, or too many of them');
      mem[MARKLEN + m.length] = 1;
      mem[at] = m.length;
      mem.set(m, at + 1);
      at += 1 + m.length;
    }
    mem[at] = 0;
    // A longer name than any id the cut takes needs no look.
    const header = plan.headerId && plan.headerId.length <= 256 ? plan.headerId : undefined;
    if (header) mem.set(header, HEADER);
    this.headerLen = header ? header.length : -1;
  }

  /** A chunk of whole lines (the last may lack its LF) copied in, for cuts at any place in it. */
  load(seg: Uint8Array): void {
    const len = seg.length;
    this.len = len;
    this.linesAt = align8(IN + len + SLACK);
    // A line taken is 2 bytes at least (an id and its LF): one (start, length) pair each.
    this.outAt = this.linesAt + 8 * (Math.floor(len / 2) + 1);
    const need = this.outAt + 2 * len + 64 + SLACK;
    const memory = this.wasm.memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const mem = new Uint8Array(memory.buffer);
    mem.set(seg, IN);
    // A sentinel LF ends the last line's search.
    mem[IN + len] = 10;
  }

  /** Takes lines from `pos` of the loaded chunk; where it stopped (the chunk's length when it took them all). */
  cut(pos: number): number {
    const p = this.plan;
    const stop = this.wasm.cut(
      this.len,
      pos,
      this.linesAt,
      this.outAt,
      p.delim,
      p.column,
      p.width,
      Math.min(p.maxLineLength, 0x7fffffff),
      this.headerLen,
    );
    const buf = this.wasm.memory.buffer;
    const view = new Int32Array(buf, 0, (ENDS >> 2) + IDCUT_PARTITIONS);
    this.lines = view[LINES >> 2] as number;
    const out = this.outAt;
    for (let t = 0; t < IDCUT_PARTITIONS; t++) {
      this.recs[t] = view[(RECS >> 2) + t] as number;
      this.ends[t] = (view[(ENDS >> 2) + t] as number) - out;
    }
    this.records = new Uint8Array(buf, out, this.ends[IDCUT_PARTITIONS - 1] as number);
    return stop;
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
