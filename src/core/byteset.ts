/**
 * An exact set of byte strings with a hard memory cap, for dedupe.
 *
 * Keys live back to back in one arena Buffer and are found through an
 * open-addressing table (linear probing, at most 3/4 full) of (offset, hash)
 * pairs in one Int32Array. Compared
 * with a JS Set<string> of the same keys this holds about a third of the
 * memory, and the garbage collector never walks millions of small strings:
 * on 1M e-mail-list rows the Set spent more time in GC than in parsing.
 */

const EMPTY = 0;

/** FNV-1a over bytes plus murmur3's finaliser, so every bit depends on every byte. */
export function hashBytes(buf: Uint8Array, start: number, end: number, seed = 0): number {
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= buf[i] as number;
    h = Math.imul(h, 0x01000193);
  }
  return fmix(h);
}

/**
 * A hash's partition of `count`. The high bits pick it: the ByteSet that
 * later reloads a partition indexes its table with the low bits, which must
 * still vary there.
 */
export function partitionOf(hash: number, count: number): number {
  return Math.floor(((hash >>> 0) / 4294967296) * count);
}

/** murmur3's 32-bit finaliser: every bit of the result depends on every bit of `x`. */
export function fmix(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class ByteSet {
  /** Keys stored. */
  size = 0;
  private arena: Buffer;
  private top = 1; // offset 0 means an empty slot
  private table: Int32Array; // [offset, hash] pairs
  private mask: number;
  private readonly maxBytes: number;

  /**
   * `maxBytes` caps arena plus table; add() reports 'full' instead of growing
   * past it. `expect` sizes both up front when the keys are known in advance
   * (a spill partition), which saves the rehashes of growing.
   */
  constructor(maxBytes: number, expect?: { keys: number; keyBytes: number }) {
    this.maxBytes = Math.max(1024, maxBytes);
    let arena = Math.min(1 << 20, Math.floor(this.maxBytes / 2));
    let slots = 16;
    while (slots < 4096 && slots * 32 <= this.maxBytes) slots *= 2;
    if (expect) {
      while (slots * 3 < (expect.keys + 1) * 4 && arena + slots * 16 <= this.maxBytes) slots *= 2;
      arena = Math.max(arena, Math.min(expect.keyBytes + 4 * expect.keys + 1, this.maxBytes - slots * 8));
    }
    this.arena = Buffer.allocUnsafe(arena);
    this.table = new Int32Array(slots * 2);
    this.mask = slots - 1;
  }

  /** Bytes held by the arena and the table. */
  get bytes(): number {
    return this.arena.length + this.table.byteLength;
  }

  /**
   * Adds buf[start, end). Returns true when it was new, false when already
   * present, and 'full' when it would not fit in the cap (nothing added).
   */
  add(buf: Uint8Array, start: number, end: number, hash: number): boolean | 'full' {
    const len = end - start;
    const table = this.table;
    const arena = this.arena;
    let i = hash & this.mask;
    for (;;) {
      const off = table[i * 2] as number;
      if (off === EMPTY) break;
      if ((table[i * 2 + 1] as number) === (hash | 0) && readU32(arena, off) === len) {
        let same = true;
        const k = off + 4;
        for (let j = 0; j < len; j++) {
          if (arena[k + j] !== buf[start + j]) {
            same = false;
            break;
          }
        }
        if (same) return false;
      }
      i = (i + 1) & this.mask;
    }
    if (!this.reserve(len + 4)) return 'full';
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) {
      if (!this.grow()) return 'full';
      return this.add(buf, start, end, hash);
    }
    const off = this.top;
    const a = this.arena;
    // Byte loops: Buffer methods' argument checks cost more than a short key.
    a[off] = len & 0xff;
    a[off + 1] = (len >>> 8) & 0xff;
    a[off + 2] = (len >>> 16) & 0xff;
    a[off + 3] = len >>> 24;
    for (let j = 0; j < len; j++) a[off + 4 + j] = buf[start + j] as number;
    this.top += len + 4;
    this.table[i * 2] = off;
    this.table[i * 2 + 1] = hash | 0;
    this.size++;
    return true;
  }

  /** Every key as [buffer, start, end], in insertion order (for spilling). */
  *keys(): Generator<[Buffer, number, number]> {
    let off = 1;
    while (off < this.top) {
      const len = readU32(this.arena, off);
      yield [this.arena, off + 4, off + 4 + len];
      off += len + 4;
    }
  }

  private reserve(n: number): boolean {
    if (this.top + n <= this.arena.length) return true;
    let cap = this.arena.length;
    while (this.top + n > cap) cap *= 2;
    if (cap + this.table.byteLength > this.maxBytes) {
      cap = this.maxBytes - this.table.byteLength;
      if (this.top + n > cap) return false;
    }
    const next = Buffer.allocUnsafe(cap);
    this.arena.copy(next, 0, 0, this.top);
    this.arena = next;
    return true;
  }

  private grow(): boolean {
    const slots = (this.mask + 1) * 2;
    if (this.arena.length + slots * 8 > this.maxBytes) return false;
    const old = this.table;
    const table = new Int32Array(slots * 2);
    const mask = slots - 1;
    for (let i = 0; i < old.length; i += 2) {
      const off = old[i] as number;
      if (off === EMPTY) continue;
      const h = old[i + 1] as number;
      let j = h & mask;
      while (table[j * 2] !== EMPTY) j = (j + 1) & mask;
      table[j * 2] = off;
      table[j * 2 + 1] = h;
    }
    this.table = table;
    this.mask = mask;
    return true;
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 16777216
  );
}

/**
 * An exact map from byte strings to dense ids 0, 1, 2, ... in insertion
 * order, so callers keep per-key state in typed arrays instead of objects
 * (collect's partitions, the catalog join). Same layout as ByteSet (keys
 * back to back in one arena, an open-addressing table of (offset, hash)
 * pairs); each arena entry also holds its id. No cap: its users bound the
 * keys themselves (a spill partition's size, the catalog's item limit).
 *
 * With `shared`, the arena and the table are SharedArrayBuffers, so other
 * threads can look keys up in the same memory (see share() and view()).
 */
export class ByteIndex {
  /** Keys stored; the next id. */
  size = 0;
  private arena: Buffer;
  /** The arena's size as counted (bytes): it grows by doubling, whatever `room` took at once. */
  private arenaCap: number;
  private top = 1; // offset 0 means an empty slot
  private table: Int32Array;
  private mask: number;
  /** A view of another thread's index: find only. */
  private frozen = false;

  constructor(
    expect?: { keys: number; keyBytes: number },
    private readonly shared = false,
    /**
     * Shared only: the arena's memory taken at once up to this many bytes, which the
     * system commits only as they are written. Growing by doubling left each outgrown
     * buffer to a collection that a loading thread's small heap rarely runs.
     */
    room = 0,
  ) {
    let slots = 1024;
    while (expect && slots * 3 < (expect.keys + 1) * 4) slots *= 2;
    this.arenaCap = Math.max(4096, expect ? expect.keyBytes + 8 * expect.keys + 1 : 0);
    this.arena = bytes(shared ? Math.max(this.arenaCap, room) : this.arenaCap, shared);
    this.table = ints(slots * 2, shared);
    this.mask = slots - 1;
  }

  /** Forgets every key and keeps the memory (a users join on disk loads one partition after another). */
  clear(): void {
    if (this.frozen) throw new Error('ByteIndex: a view cannot be cleared');
    this.table.fill(0);
    this.top = 1;
    this.size = 0;
  }

  /** What another thread needs to look keys up in this (shared) index; no byte is copied. */
  share(): SharedByteIndex {
    if (!this.shared) throw new Error('ByteIndex.share: not built shared');
    return {
      arena: this.arena.buffer as SharedArrayBuffer,
      table: this.table.buffer as SharedArrayBuffer,
      mask: this.mask,
      size: this.size,
      top: this.top,
    };
  }

  /** A read-only index over a shared one's memory (it must not grow meanwhile: it is complete). */
  static view(s: SharedByteIndex): ByteIndex {
    const v = new ByteIndex({ keys: 0, keyBytes: 0 });
    v.arena = Buffer.from(s.arena);
    v.arenaCap = v.arena.length;
    v.table = new Int32Array(s.table);
    v.mask = s.mask;
    v.size = s.size;
    v.top = s.top;
    v.frozen = true;
    return v;
  }

  /** Bytes held by the arena and the table. */
  get bytes(): number {
    return this.arenaCap + this.table.byteLength;
  }

  /** The id of buf[start, end), or -1 when absent. */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
    const off = this.slotOffset(buf, start, end, hash);
    return off > 0 ? readU32(this.arena, off + 4) : -1;
  }

  /** The id of buf[start, end), added with the next id when absent. */
  add(buf: Uint8Array, start: number, end: number, hash: number): number {
    const off = this.slotOffset(buf, start, end, hash);
    if (off > 0) return readU32(this.arena, off + 4);
    if (this.frozen) throw new Error('ByteIndex.add: a view is read-only');
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const len = end - start;
    if (this.top + len + 8 > this.arenaCap) {
      let cap = this.arenaCap * 2;
      while (this.top + len + 8 > cap) cap *= 2;
      this.arenaCap = cap;
      if (cap > this.arena.length) {
        const next = bytes(cap, this.shared);
        this.arena.copy(next, 0, 0, this.top);
        this.arena = next;
      }
    }
    const a = this.arena;
    const at = this.top;
    writeU32(a, at, len);
    writeU32(a, at + 4, this.size);
    for (let j = 0; j < len; j++) a[at + 8 + j] = buf[start + j] as number;
    this.top += len + 8;
    let i = hash & this.mask;
    while (this.table[i * 2] !== EMPTY) i = (i + 1) & this.mask;
    this.table[i * 2] = at;
    this.table[i * 2 + 1] = hash | 0;
    return this.size++;
  }

  /** Calls fn(id, arena, start, end) for every key, in id order: the arena holds them so. */
  each(fn: (id: number, arena: Buffer, start: number, end: number) => void): void {
    const a = this.arena;
    for (let at = 1; at < this.top; ) {
      const len = readU32(a, at);
      fn(readU32(a, at + 4), a, at + 8, at + 8 + len);
      at += 8 + len;
    }
  }

  /** Arena offset of the key's entry, or 0. */
  private slotOffset(buf: Uint8Array, start: number, end: number, hash: number): number {
    const len = end - start;
    const table = this.table;
    const arena = this.arena;
    let i = hash & this.mask;
    for (;;) {
      const off = table[i * 2] as number;
      if (off === EMPTY) return 0;
      if ((table[i * 2 + 1] as number) === (hash | 0) && readU32(arena, off) === len) {
        let same = true;
        const k = off + 8;
        for (let j = 0; j < len; j++) {
          if (arena[k + j] !== buf[start + j]) {
            same = false;
            break;
          }
        }
        if (same) return off;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const slots = (this.mask + 1) * 2;
    const old = this.table;
    const table = ints(slots * 2, this.shared);
    const mask = slots - 1;
    for (let i = 0; i < old.length; i += 2) {
      const off = old[i] as number;
      if (off === EMPTY) continue;
      const h = old[i + 1] as number;
      let j = h & mask;
      while (table[j * 2] !== EMPTY) j = (j + 1) & mask;
      table[j * 2] = off;
      table[j * 2 + 1] = h;
    }
    this.table = table;
    this.mask = mask;
  }
}

/** A ByteIndex's memory and state as another thread receives them (structured clone shares the buffers). */
export interface SharedByteIndex {
  arena: SharedArrayBuffer;
  table: SharedArrayBuffer;
  mask: number;
  size: number;
  top: number;
}

/** n bytes, uninitialised, or zeroed in a SharedArrayBuffer. */
function bytes(n: number, shared: boolean): Buffer {
  return shared ? Buffer.from(new SharedArrayBuffer(n)) : Buffer.allocUnsafe(n);
}

function ints(n: number, shared: boolean): Int32Array {
  return shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n);
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}
