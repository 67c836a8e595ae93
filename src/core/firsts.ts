/**
 * collect's step 2 for one partition in WebAssembly (firsts.wat), with no
 * I/O: its lines `key TAB tag digits LF` in, per distinct key the place of
 * its first ok line, first error line and first input line out (-1: none),
 * and the repeats counted. A place is the line's number times two, plus one
 * for the worker thread's lines (tag in lower case).
 */
import { WASM_BASE64 } from './firsts-wasm.js';

/** firsts.wat's fixed layout (byte offsets). */
const KEYS = 0;
const DUPS = 4;
const IN_DUPS = 8;
const ARENA_TOP = 12;
const TABLE = 64;
const ENTRY = 32;
const PAGE = 65536;
/** Past this the module's memory is not asked for: the caller decides such a partition another way. */
const MAX_BYTES = 1024 * 1024 * 1024;

interface WasmFirsts {
  memory: WebAssembly.Memory;
  add(p: number, end: number, table: number, mask: number, entries: number, arena: number): number;
}

let wasmModule: WebAssembly.Module | undefined;

/**
 * A module instance whose memory serves one partition after another: it
 * grows to the largest partition's table, entries, keys and piece, and is
 * kept for the next.
 */
export class FirstLines {
  private readonly wasm: WasmFirsts;
  private mask = 0;
  private entries = 0;
  private arena = 0;
  private piece = 0;

  constructor() {
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as WasmFirsts;
  }

  /** Bytes of the module's memory (it only grows). */
  get bytes(): number {
    return this.wasm.memory.buffer.byteLength;
  }

  /**
   * Starts a partition of at most `lines` lines whose keys are `keyBytes`
   * bytes in all (a spill set's counters); false when its memory would pass
   * 1 GiB (a partition of one key repeated past the split depth), nothing begun.
   */
  start(lines: number, keyBytes: number): boolean {
    let slots = 16;
    while (slots * 3 < (lines + 1) * 4) slots *= 2;
    const entries = TABLE + slots * 8;
    const arena = entries + lines * ENTRY;
    const piece = align8(arena + keyBytes + 8);
    if (piece > MAX_BYTES) return false;
    this.ensure(piece);
    this.mask = slots - 1;
    this.entries = entries;
    this.arena = arena;
    this.piece = piece;
    new Uint8Array(this.wasm.memory.buffer).fill(0, 0, entries);
    new DataView(this.wasm.memory.buffer).setInt32(ARENA_TOP, arena, true);
    return true;
  }

  /** The next piece of whole lines (each ending in LF) of the partition begun. */
  add(bytes: Uint8Array): void {
    this.ensure(this.piece + bytes.length + 8);
    const mem = new Uint8Array(this.wasm.memory.buffer);
    mem.set(bytes, this.piece);
    // A sentinel LF ends the scan of a last line without one (then refused).
    mem[this.piece + bytes.length] = 10;
    const end = this.piece + bytes.length;
    const r = this.wasm.add(this.piece, end, TABLE, this.mask, this.entries, this.arena);
    if (r < 0) throw new Error('personalize-batch: a spill partition line has no TAB or no final LF');
  }

  /** What the partition's lines gave: per key (in order of first sight) its places, and the repeats. */
  result(): { keys: number; duplicates: number; inputDuplicates: number; places: Float64Array } {
    const view = new DataView(this.wasm.memory.buffer);
    const keys = view.getInt32(KEYS, true);
    // Each entry: key offset and length (one f64's room), then ok, error, input.
    const places = new Float64Array(this.wasm.memory.buffer, this.entries, keys * 4);
    return {
      keys,
      duplicates: view.getInt32(DUPS, true),
      inputDuplicates: view.getInt32(IN_DUPS, true),
      places,
    };
  }

  private ensure(bytes: number): void {
    const memory = this.wasm.memory;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  }
}

/** Arithmetic, not `& ~7`: a size past 2 GiB must stay positive to be refused. */
function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}
