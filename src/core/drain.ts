/**
 * One spill partition deduplicated in WebAssembly (drain.wat), with no I/O:
 * its lines `key TAB payload LF` in, the first line of each key out, in
 * input order. The same rule as the Deduper's ByteSet drain, and the same
 * bytes; the keys are looked up where they lie in the partition's bytes,
 * never copied into an arena.
 */
import { WASM_BASE64 } from './drain-wasm.js';

/** drain.wat's fixed layout (byte offsets). */
const LINES = 0;
const DUPS = 4;
const PREFIX = 64;
const SUFFIX = 128;
const AFFIX_MAX = 56;
const IN = 256;
/** What the 8-byte copies may read or write past a region's end, and then some. */
const SLACK = 16;
const PAGE = 65536;

interface WasmDrain {
  memory: WebAssembly.Memory;
  drain(
    input: number,
    len: number,
    table: number,
    mask: number,
    out: number,
    preLen: number,
    sufLen: number,
  ): number;
}

let wasmModule: WebAssembly.Module | undefined;

export interface Drained {
  /** The kept lines, a Buffer of their own (not a view of the module's memory). */
  chunk: Buffer;
  lines: number;
  duplicates: number;
}

/**
 * A module instance whose memory serves one partition after another: it
 * grows to the largest partition's bytes, table and output (a partition is
 * drained whole only once it fits the memory budget) and is kept for the
 * next.
 */
export class DrainTable {
  private readonly wasm: WasmDrain;
  private readonly preLen: number;
  private readonly sufLen: number;

  /** `derive`: a payload of the one byte 0x01 stands for prefix + key + suffix (the fast path's lines). */
  constructor(derive: { prefix: Uint8Array; suffix: Uint8Array } | undefined) {
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as WasmDrain;
    const mem = new Uint8Array(this.wasm.memory.buffer);
    if (derive && (derive.prefix.length > AFFIX_MAX || derive.suffix.length > AFFIX_MAX))
      throw new Error('DrainTable: a derived line prefix or suffix over 56 bytes');
    this.preLen = derive ? derive.prefix.length : -1;
    this.sufLen = derive ? derive.suffix.length : 0;
    if (derive) {
      mem.set(derive.prefix, PREFIX);
      mem.set(derive.suffix, SUFFIX);
    }
  }

  /** Bytes of the module's memory (it only grows). */
  get bytes(): number {
    return this.wasm.memory.buffer.byteLength;
  }

  /** A partition's pieces, in write order, holding `lines` lines in all, drained as one. */
  drain(pieces: readonly Uint8Array[], lines: number): Drained {
    let len = 0;
    for (const p of pieces) len += p.length;
    let slots = 16;
    while (slots * 3 < (lines + 1) * 4) slots *= 2;
    const table = align8(IN + len + SLACK);
    const out = table + slots * 8;
    const extra = this.preLen >= 0 ? this.preLen + this.sufLen : 0;
    const outCap = len + lines * extra + 64;
    const need = out + outCap + SLACK;
    const memory = this.wasm.memory;
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / PAGE));
    const mem = new Uint8Array(memory.buffer);
    let at = IN;
    for (const p of pieces) {
      mem.set(p, at);
      at += p.length;
    }
    // A sentinel TAB LF ends the search of the last line whatever its bytes (no line ending is checked after).
    mem[at] = 9;
    mem[at + 1] = 10;
    const end = this.wasm.drain(IN, len, table, slots - 1, out, this.preLen, this.sufLen);
    if (end < 0) throw new Error('personalize-batch: a spill partition line has no TAB or no final LF');
    // A wrong line count must fail, not spill over into memory nobody reads.
    if (end > out + outCap) throw new Error('personalize-batch: a drained partition outgrew its buffer');
    const view = new DataView(memory.buffer);
    const chunk = Buffer.allocUnsafe(end - out);
    chunk.set(mem.subarray(out, end));
    return {
      chunk,
      lines: view.getInt32(LINES, true),
      duplicates: view.getInt32(DUPS, true),
    };
  }
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
