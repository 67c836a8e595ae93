/**
 * Hash sharding of one chunk of whole lines, with no I/O: every line goes to
 * the shard its record key hashes to, and the chunk comes back regrouped,
 * shard by shard, in one buffer. Chunks of lines as prepare writes them go
 * through a WebAssembly loop (hashcut.wat: 24 ns a line against 60 in
 * JavaScript); any other chunk through the same cut in JavaScript.
 */
import { PbError } from '../errors.js';
import { hashBytes } from './byteset.js';
import { WASM_BASE64 } from './hashcut-wasm.js';

const LF = 10;
const CR = 13;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const ITEM_ATTRIBUTES = Buffer.from('itemAttributes');

/** One chunk, regrouped: shard t's lines are out[ends[t-1], ends[t]). */
export interface CutResult {
  /** Valid until the next cut: one buffer serves every chunk (shard writes or copies each result first). */
  out: Buffer;
  ends: Int32Array;
  recs: Int32Array;
  /** Lines seen, blank ones included: the next chunk's line numbers start after them. */
  lines: number;
  blank: number;
  records: number;
  bytes: number;
}

/** hashcut.wat's memory layout (byte offsets). */
const CAP = 0x80000;
const OUT = 0x81000;
const ENDS = 0x16e000;
const RECS = 0x1ae000;
const HIST_RECS = 0x22e000;
const HIST_BYTES = 0x236000;
const HIST_BUCKETS = 4096;

interface WasmCut {
  memory: WebAssembly.Memory;
  cut(len: number, n: number, maxBytes: number): number;
}

let wasmModule: WebAssembly.Module | undefined;

export class HashCut {
  readonly histogram: HashHistogram;
  /** Chunks cut by the WebAssembly loop (the rest went through cutInJs). */
  wasmChunks = 0;
  /** Each HashCut has its own instance: the module's memory holds its histogram and scratch space. */
  private readonly wasm: WasmCut;
  /** The module's memory (fixed size, so the views never go stale). */
  private readonly mem: Uint8Array;
  private readonly wasmEnds: Int32Array;
  private readonly wasmRecs: Int32Array;
  private starts = new Int32Array(1024);
  private stops = new Int32Array(1024);
  private targets = new Uint16Array(1024);

  private spare: Buffer | undefined;

  constructor(
    readonly n: number,
    readonly maxBytes: number,
  ) {
    if (n > 65535) throw new PbError('PB_USAGE', '--shards is at most 65535');
    wasmModule ??= new WebAssembly.Module(Buffer.from(WASM_BASE64, 'base64'));
    this.wasm = new WebAssembly.Instance(wasmModule).exports as unknown as WasmCut;
    const buf = this.wasm.memory.buffer;
    this.mem = new Uint8Array(buf);
    this.wasmEnds = new Int32Array(buf, ENDS, n);
    this.wasmRecs = new Int32Array(buf, RECS, n);
    this.histogram = new HashHistogram(
      new Float64Array(buf, HIST_RECS, HIST_BUCKETS),
      new Float64Array(buf, HIST_BYTES, HIST_BUCKETS),
    );
  }

  /**
   * Splits `seg` (whole lines; the last may lack its newline). `first` marks
   * the start of the input, where a BOM is skipped. Errors are PbErrors whose
   * line is relative to the chunk (1 = its first line) and with no file: the
   * caller, which knows both, rewrites them.
   */
  cut(seg: Buffer, first: boolean): CutResult {
    const len = seg.length;
    if (len <= CAP) {
      this.mem.set(seg, 0);
      const count = this.wasm.cut(len, this.n, Math.min(this.maxBytes, 0xffffffff));
      if (count >= 0) {
        this.wasmChunks++;
        const sum = this.n > 0 ? (this.wasmEnds[this.n - 1] as number) : 0;
        return {
          out: Buffer.from(this.wasm.memory.buffer, OUT, sum),
          ends: this.wasmEnds.slice(),
          recs: this.wasmRecs.slice(),
          lines: count,
          blank: 0,
          records: count,
          bytes: sum,
        };
      }
    }
    return this.cutInJs(seg, first);
  }

  /**
   * The same cut in JavaScript, for any chunk: cut() takes it when the
   * WebAssembly loop declines a chunk (CRLF, a BOM, blank lines, escapes,
   * another key first, no final newline, over 512 KiB). Public for the tests
   * that hold the two to each other.
   */
  cutInJs(seg: Buffer, first: boolean): CutResult {
    const len = seg.length;
    const n = this.n;
    const perShard = new Int32Array(n);
    const recs = new Int32Array(n);
    let count = 0;
    let lines = 0;
    let blank = 0;
    let bytes = 0;
    let p = 0;
    while (p < len) {
      let s = p;
      if (first && lines === 0 && seg[p] === 0xef && seg[p + 1] === 0xbb && seg[p + 2] === 0xbf) s += 3;
      let h = 0;
      let known = false;
      let i = s;
      // A line written by prepare starts with its key: hash the value while
      // scanning it, with hashBytes' function, so no byte is visited twice.
      if (seg[i] === 0x7b && seg[i + 1] === QUOTE) {
        // The key is userId or itemId (6 bytes) or itemAttributes (14): test
        // where its closing quote would be instead of scanning for it.
        const k = seg[i + 8] === QUOTE ? i + 8 : i + 16;
        if (seg[k] === QUOTE && seg[k + 1] === 0x3a && seg[k + 2] === QUOTE && isKeyName(seg, i + 2, k)) {
          let v = k + 3;
          let f = FNV_OFFSET;
          while (v < len) {
            const c = seg[v] as number;
            if (c === QUOTE || c === BACKSLASH || c === LF) break;
            f ^= c;
            f = Math.imul(f, FNV_PRIME);
            v++;
          }
          if (seg[v] === QUOTE) {
            f ^= f >>> 16;
            f = Math.imul(f, 0x85ebca6b);
            f ^= f >>> 13;
            f = Math.imul(f, 0xc2b2ae35);
            f ^= f >>> 16;
            h = f >>> 0;
            known = true;
            i = v + 1;
          }
        }
      }
      let nl = i;
      while (nl < len && seg[nl] !== LF) nl++;
      let e = nl;
      if (e > s && seg[e - 1] === CR) e--;
      lines++;
      p = nl + 1;
      if (!known) {
        if (isBlank(seg, s, e)) {
          blank++;
          continue;
        }
        h = parsedKeyHash(seg, s, e, lines);
      }
      const size = e - s + 1;
      if (size > this.maxBytes) throw lineTooLarge(size, this.maxBytes, lines);
      const t = Math.floor((h / 4294967296) * n);
      this.histogram.add(h, size);
      if (count === this.starts.length) this.grow();
      this.starts[count] = s;
      this.stops[count] = e;
      this.targets[count] = t;
      count++;
      perShard[t] = (perShard[t] as number) + size;
      recs[t] = (recs[t] as number) + 1;
      bytes += size;
    }
    const { out, ends } = this.regroup(seg, count, perShard);
    return { out, ends, recs, lines, blank, records: count, bytes };
  }

  /** The second pass: each of the `count` lines the first pass found copied to its shard's place in one buffer. */
  private regroup(seg: Buffer, count: number, perShard: Int32Array): { out: Buffer; ends: Int32Array } {
    const n = this.n;
    const ends = new Int32Array(n);
    const at = new Int32Array(n);
    let sum = 0;
    for (let t = 0; t < n; t++) {
      at[t] = sum;
      sum += perShard[t] as number;
      ends[t] = sum;
    }
    if (!this.spare || this.spare.length < sum) this.spare = Buffer.allocUnsafe(Math.max(sum, 1024 * 1024));
    const out = this.spare.subarray(0, sum);
    const starts = this.starts;
    const stops = this.stops;
    const targets = this.targets;
    // Four bytes at a time through DataViews (unaligned is fine): 13 ns for
    // a 21-byte line against 30 for a byte loop and 45 for Buffer.copy.
    const sv = new DataView(seg.buffer, seg.byteOffset, seg.length);
    const ov = new DataView(out.buffer, out.byteOffset, out.length);
    for (let j = 0; j < count; j++) {
      const t = targets[j] as number;
      let o = at[t] as number;
      const e = stops[j] as number;
      let q = starts[j] as number;
      for (; q + 4 <= e; q += 4, o += 4) ov.setUint32(o, sv.getUint32(q, true), true);
      for (; q < e; q++, o++) out[o] = seg[q] as number;
      out[o++] = LF;
      at[t] = o;
    }
    return { out, ends };
  }

  private grow(): void {
    const cap = this.starts.length * 2;
    const starts = new Int32Array(cap);
    starts.set(this.starts);
    const stops = new Int32Array(cap);
    stops.set(this.stops);
    const targets = new Uint16Array(cap);
    targets.set(this.targets);
    this.starts = starts;
    this.stops = stops;
    this.targets = targets;
  }
}

/** A line over --max-bytes; its number is relative to the chunk, as cut() says. */
function lineTooLarge(size: number, maxBytes: number, line: number): PbError {
  return new PbError('PB_LIMIT', `a line of ${size} bytes is larger than --max-bytes ${maxBytes}`, { line });
}

/** `userId`, `itemId` or `itemAttributes` in b[a, e). */
function isKeyName(b: Buffer, a: number, e: number): boolean {
  const n = e - a;
  if (n === 6) {
    if (b[a + 4] !== 0x49 || b[a + 5] !== 0x64) return false;
    return (
      (b[a] === 0x75 && b[a + 1] === 0x73 && b[a + 2] === 0x65 && b[a + 3] === 0x72) ||
      (b[a] === 0x69 && b[a + 1] === 0x74 && b[a + 2] === 0x65 && b[a + 3] === 0x6d)
    );
  }
  if (n === 14) {
    for (let i = 0; i < 14; i++) if (b[a + i] !== ITEM_ATTRIBUTES[i]) return false;
    return true;
  }
  return false;
}

function isBlank(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== CR) return false;
  }
  return true;
}

/**
 * The key hash through JSON.parse, for lines the in-place scan does not read
 * (escapes, another key first): the same function over the key's UTF-8
 * bytes, so a key lands in the same shard either way.
 */
function parsedKeyHash(seg: Buffer, s: number, e: number, line: number): number {
  let obj: unknown;
  try {
    obj = JSON.parse(seg.toString('utf8', s, e));
  } catch (err) {
    throw new PbError('PB_INVALID_RECORD', `not valid JSON (${(err as Error).message})`, { line });
  }
  const o = obj as Record<string, unknown> | null;
  const key = o && typeof o === 'object' ? (o.userId ?? o.itemId ?? o.itemAttributes) : undefined;
  if (typeof key !== 'string') {
    throw new PbError('PB_INVALID_RECORD', 'no userId, itemId or itemAttributes to shard by', {
      line,
      field: '(record)',
    });
  }
  const bytes = Buffer.from(key);
  return hashBytes(bytes, 0, bytes.length);
}

/**
 * Records and bytes per 1/4096 of the hash range, so that after a run whose
 * shards did not fit we can say how many shards would: a shard's share of
 * the range is known, so its load can be bounded from the buckets it
 * touches. 4096 buckets stay in cache; 65536 cost a tenth of the run.
 */
export class HashHistogram {
  private static readonly BITS = 12;

  constructor(
    readonly records = new Float64Array(1 << HashHistogram.BITS),
    readonly bytes = new Float64Array(1 << HashHistogram.BITS),
  ) {}

  add(hash: number, size: number): void {
    const b = hash >>> (32 - HashHistogram.BITS);
    this.records[b] = (this.records[b] as number) + 1;
    this.bytes[b] = (this.bytes[b] as number) + size;
  }

  merge(records: Float64Array, bytes: Float64Array): void {
    for (let b = 0; b < this.records.length; b++) {
      this.records[b] = (this.records[b] as number) + (records[b] as number);
      this.bytes[b] = (this.bytes[b] as number) + (bytes[b] as number);
    }
  }

  /** Whether n shards would all fit, counting a bucket that straddles two shards in both (an upper bound). */
  fits(n: number, maxBytes: number, maxRecords: number): boolean {
    const buckets = this.records.length;
    const recs = new Float64Array(n);
    const byts = new Float64Array(n);
    for (let b = 0; b < buckets; b++) {
      if (this.records[b] === 0) continue;
      const lo = Math.floor((b / buckets) * n);
      const hi = Math.min(n - 1, Math.floor(((b + 1) / buckets) * n - 1e-12));
      for (let i = lo; i <= hi; i++) {
        recs[i] = (recs[i] as number) + (this.records[b] as number);
        byts[i] = (byts[i] as number) + (this.bytes[b] as number);
      }
    }
    for (let i = 0; i < n; i++)
      if ((recs[i] as number) > maxRecords || (byts[i] as number) > maxBytes) return false;
    return true;
  }
}
