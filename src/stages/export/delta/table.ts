import { hashBytes } from '../../../core/byteset.js';
import { decodeString, type KeyScanLines } from '../../../core/out-lines.js';
import { LineKeys } from './keys.js';

/**
 * PREV's keys and list digests in memory, for `export --since` when they
 * fit the budget (fast.ts): entries appended back to back in one
 * SharedArrayBuffer as PREV is read, each placed at once in an
 * open-addressing table of slots sized for as many keys as the budget can
 * hold (the threads that read PREV place theirs side by side, Atomics), so
 * that the conversion workers look each current line's key up in the same
 * memory and mark it seen while they export.
 *
 * An entry is 4 words, the key's hash (byteset.ts hashBytes), the digest's
 * two words, the key's length with the seen flags on top, then the key's
 * canonical bytes padded to a word: 24 bytes for an 8-byte user id. The
 * table is a word a slot (the entry's word offset + 1, its key hash's top 4
 * bits on top; 0 empty), at most 7/10 full, linear probing.
 */

export const SEEN_OK = 1 << 28;
export const SEEN_ERROR = 1 << 29;
const LEN = SEEN_OK - 1;
const HEAD = 4;
/**
 * A slot's top 4 bits are its key hash's (the entry's word offset + 1 takes
 * 28 bits at most: MAX_TABLE): most probes past another key then read no
 * entry, each a cache miss anywhere in the arena.
 */
const TAG = 0xf0000000 | 0;
/** Keys whose slots are read ahead of their adds (TableWriter.touch). */
const TOUCH = 64;
/** Keys a writer reserves at a time (TableWriter.reserve). */
const RESERVE = 4096;

/** What another thread needs to look keys up: the memory, and the regions' word spans [start, top). */
export interface SharedTable {
  arena: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  mask: number;
  regions: [number, number][];
  keys: number;
}

/** The table's memory before PREV is read: slots for as many keys as `budget` bytes hold, the arena the rest. */
export interface TableMemory {
  arena: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  /** Int32: the keys placed so far, by every writer; then the arena's words taken in blocks (TableWriter.blocks). */
  placed: SharedArrayBuffer;
}

/** The smallest entry (a key of 1 to 4 bytes) and its share of slots 7/10 full. */
const MIN_KEY_COST = 4 * HEAD + 4 + (4 * 10) / 7;

export function tableMemory(budget: number): TableMemory {
  const slots = slotCount(Math.floor(budget / MIN_KEY_COST));
  const arena = Math.max(0, Math.floor((budget - 4 * slots) / 4) * 4);
  return {
    arena: new SharedArrayBuffer(arena),
    slots: new SharedArrayBuffer(4 * slots),
    placed: new SharedArrayBuffer(8),
  };
}

/**
 * Entries appended to words [start, end) of the arena, in PREV's order,
 * each placed in the slots as it comes; or, several writers at once
 * (blocks()), to blocks they take in turn from the arena's start, as each
 * fills, so that no writer's words depend on where its part of PREV lies.
 */
export class TableWriter {
  private readonly w: Int32Array;
  private readonly b: Uint8Array;
  private readonly slots: Int32Array;
  private readonly placed: Int32Array;
  private readonly mask: number;
  /** Keys the slots take (7/10 of them). */
  private readonly most: number;
  /** Keys this writer may still place before it reserves more from `placed`. */
  private reserved = 0;
  /** Words a block takes (0: one region, [start, end)). */
  private block = 0;
  /** The regions this writer filled before its current one, [start, top, tag] each, in its order. */
  private readonly filled: [number, number, number][] = [];
  /** The current region's tag (part()). */
  private tag = 0;
  start: number;
  top: number;
  keys = 0;
  /** What touch() read (kept, so that its reads are not dropped as unused). */
  touched = 0;
  /** Set when an entry did not fit (the table is given up), or a key came twice (the partitions say where). */
  full = false;
  twice = false;

  constructor(
    m: TableMemory,
    start: number,
    private end: number,
  ) {
    this.w = new Int32Array(m.arena);
    this.b = new Uint8Array(m.arena);
    this.slots = new Int32Array(m.slots);
    this.placed = new Int32Array(m.placed);
    this.mask = this.slots.length - 1;
    this.most = Math.floor((this.slots.length * 7) / 10);
    this.start = start;
    this.top = start;
  }

  /**
   * From now on, entries go to blocks of `words` taken from the count in
   * TableMemory.placed that every such writer shares; the first is taken
   * at the first add.
   */
  blocks(words: number): void {
    this.block = words;
    this.start = this.top = this.end = 0;
  }

  /**
   * Entries from now on start a new region, tagged `tag` (where a part of
   * PREV starts: the threads' regions sorted by tag, each writer's in its
   * own order, are in PREV's order), in the same block.
   */
  part(tag: number): void {
    this.close();
    this.start = this.top;
    this.tag = tag;
  }

  /** The words this writer's entries fill, [start, top, tag] each, in the order it added them. */
  regions(): [number, number, number][] {
    this.close();
    this.start = this.top;
    return [...this.filled];
  }

  private close(): void {
    if (this.top > this.start) this.filled.push([this.start, this.top, this.tag]);
  }

  add(key: Uint8Array, ks: number, ke: number, hash: number, a: number, b: number): void {
    const len = ke - ks;
    const words = HEAD + ((len + 3) >> 2);
    if (
      len > LEN ||
      (this.top + words > this.end && !this.nextBlock(words)) ||
      (this.reserved === 0 && !this.reserve())
    ) {
      this.full = true;
      return;
    }
    this.reserved--;
    const o = this.top;
    const w = this.w;
    w[o] = hash;
    w[o + 1] = a;
    w[o + 2] = b;
    w[o + 3] = len;
    const bytes = this.b;
    const at = (o + HEAD) * 4;
    for (let j = 0; j < len; j++) bytes[at + j] = key[ks + j] as number;
    this.top = o + words;
    this.keys++;
    this.place(o, hash | 0, at, len);
  }

  /** A new block with room for an entry of `words`; false when blocks are not in use or the arena is taken. */
  private nextBlock(words: number): boolean {
    if (this.block === 0) return false;
    const arena = this.w.length;
    const s = Atomics.add(this.placed, 1, this.block);
    const e = Math.min(arena, s + this.block);
    if (s + words > e) return false;
    this.close();
    this.start = this.top = s;
    this.end = e;
    return true;
  }

  /**
   * Reads the slot each hash starts at, so that the adds after find it in
   * the cache: these reads do not wait for each other, where each add's
   * did (a slot anywhere in the table is a cache miss); a key's place cost
   * 130 to 150 ns alone, 50 to 60 after its batch's reads (64 a batch).
   */
  touch(hashes: (i: number) => number, from: number, to: number): void {
    const { slots, mask } = this;
    let any = 0;
    for (let i = from; i < to; i++) any |= slots[hashes(i) & mask] as number;
    this.touched |= any;
  }

  /**
   * Room for RESERVE more keys from the count both writers share, or what
   * is left of the 7/10: one Atomics.add a key, on a word both threads
   * write, cost about as much as placing the key.
   */
  private reserve(): boolean {
    const got = Atomics.add(this.placed, 0, RESERVE);
    this.reserved = Math.max(0, Math.min(RESERVE, this.most - got));
    return this.reserved > 0;
  }

  /** Entry o in the slots: its bytes are written before the compare-and-swap shows it to the other writer. */
  private place(o: number, h: number, at: number, len: number): void {
    const { slots, w, b, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      let v = Atomics.load(slots, i);
      if (v === 0) {
        v = Atomics.compareExchange(slots, i, 0, (o + 1) | (h & TAG));
        if (v === 0) return;
      }
      if ((v & TAG) !== (h & TAG)) continue;
      const e = (v & ~TAG) - 1;
      if (w[e] !== h || ((w[e + 3] as number) & LEN) !== len) continue;
      let p = (e + HEAD) * 4;
      let j = at;
      while (j < at + len && b[p] === b[j]) {
        p++;
        j++;
      }
      if (j === at + len) {
        this.twice = true;
        return;
      }
    }
  }
}

/** LineKeys for readPrev: each key goes to the table (line numbers aside: PREV's errors send --since back to the partitions). */
export class TableKeys extends LineKeys {
  constructor(
    readonly writer: TableWriter,
    scores: boolean,
  ) {
    super(scores);
  }

  put(key: Uint8Array, ks: number, ke: number): undefined {
    this.writer.add(key, ks, ke, hashBytes(key, ks, ke), this.digest.wordA(), this.digest.wordB());
    return undefined;
  }

  putRun(lines: KeyScanLines, from: number, to: number): undefined {
    const win = lines.window;
    const base = lines.windowBase;
    const w = this.writer;
    const hash = (i: number) => lines.keyHash(i);
    for (let b = from; b < to; b += TOUCH) {
      const end = Math.min(to, b + TOUCH);
      w.touch(hash, b, end);
      for (let i = b; i < end; i++)
        w.add(
          win,
          lines.keyStart(i) - base,
          lines.keyEnd(i) - base,
          lines.keyHash(i),
          lines.digestA(i),
          lines.digestB(i),
        );
    }
    return undefined;
  }
}

/** Slots for n keys: a power of two, at most 7/10 full. */
export function slotCount(n: number): number {
  let slots = 16;
  while (slots * 7 < n * 10) slots *= 2;
  return slots;
}

/** Calls fn(offset) for every entry, region by region, each in PREV's order. */
export function eachEntry(
  w: Int32Array,
  regions: readonly [number, number][],
  fn: (o: number) => void,
): void {
  for (const [start, top] of regions) {
    for (let o = start; o < top; o += HEAD + ((((w[o + 3] as number) & LEN) + 3) >> 2)) fn(o);
  }
}

/** The table's lookups and flags, on any thread. */
export class PrevTable {
  readonly w: Int32Array;
  readonly b: Uint8Array;
  private readonly slots: Int32Array;
  private readonly mask: number;
  /**
   * The entry after the last one found, tried before the slots: sources
   * keep much of PREV's order (a job's users in the same order), and the
   * next entry is then one read on from the last, where a slot is a cache
   * miss anywhere in the table. -1: none.
   */
  private guess = -1;
  private readonly ends: Int32Array;
  /** The index in `ends` of the region after() last found. */
  private region = 0;

  constructor(readonly shared: SharedTable) {
    this.w = new Int32Array(shared.arena);
    this.b = new Uint8Array(shared.arena);
    this.slots = new Int32Array(shared.slots);
    this.mask = shared.mask;
    // Where each region's entries start and end: a guess past a region's end is no entry.
    this.ends = Int32Array.from(shared.regions.flat());
  }

  /** The entry (word offset) of key buf[ks, ke) with hashBytes `hash`, or -1. */
  find(buf: Uint8Array, ks: number, ke: number, hash: number): number {
    const w = this.w;
    const len = ke - ks;
    const h = hash | 0;
    const g = this.guess;
    if (g >= 0 && w[g] === h && ((w[g + 3] as number) & LEN) === len && this.sameKey(g, buf, ks, ke)) {
      this.guess = this.after(g, len);
      return g;
    }
    const o = this.probe(buf, ks, ke, h);
    this.guess = o < 0 ? -1 : this.after(o, len);
    return o;
  }

  /** The entry after o (its key `len` bytes long), or -1 past its region's end. */
  private after(o: number, len: number): number {
    const next = o + HEAD + ((len + 3) >> 2);
    const ends = this.ends;
    // The last entry's region first: PREV read on two threads is in a score of regions, not one or two.
    let r = this.region;
    if (o < (ends[r] as number) || o >= (ends[r + 1] as number)) {
      r = 0;
      while (r < ends.length && (o < (ends[r] as number) || o >= (ends[r + 1] as number))) r += 2;
      if (r >= ends.length) return -1;
      this.region = r;
    }
    return next < (ends[r + 1] as number) ? next : -1;
  }

  private sameKey(o: number, buf: Uint8Array, ks: number, ke: number): boolean {
    const b = this.b;
    let at = (o + HEAD) * 4;
    for (let j = ks; j < ke; j++, at++) if (b[at] !== buf[j]) return false;
    return true;
  }

  private probe(buf: Uint8Array, ks: number, ke: number, h: number): number {
    const w = this.w;
    const b = this.b;
    const slots = this.slots;
    const mask = this.mask;
    const len = ke - ks;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = slots[i] as number;
      if (v === 0) return -1;
      if ((v & TAG) !== (h & TAG)) continue;
      const o = (v & ~TAG) - 1;
      if (w[o] !== h || ((w[o + 3] as number) & LEN) !== len) continue;
      let at = (o + HEAD) * 4;
      let j = ks;
      while (j < ke && b[at] === buf[j]) {
        at++;
        j++;
      }
      if (j === ke) return o;
    }
  }

  /** Sets a seen flag on entry o; the flags it had. */
  mark(o: number, flag: number): number {
    return Atomics.or(this.w, o + 3, flag);
  }

  /** Whether entry o's digest is (a, b). */
  same(o: number, a: number, b: number): boolean {
    return this.w[o + 1] === (a | 0) && this.w[o + 2] === (b | 0);
  }

  flags(o: number): number {
    return (this.w[o + 3] as number) & ~LEN;
  }

  /** Entry o's key: its bytes are b[start, end). */
  keyStart(o: number): number {
    return (o + HEAD) * 4;
  }
  keyEnd(o: number): number {
    return (o + HEAD) * 4 + ((this.w[o + 3] as number) & LEN);
  }
  hash(o: number): number {
    return (this.w[o] as number) >>> 0;
  }

  /** Every seen flag cleared: a new pass over the sources. */
  clearFlags(): void {
    const w = this.w;
    eachEntry(w, this.shared.regions, (o) => {
      w[o + 3] = (w[o + 3] as number) & LEN;
    });
  }
}

/** The keys of a table's entries, in the entries' order. */
export function* tableKeys(t: PrevTable, entries: Iterable<number>): Generator<string> {
  for (const e of entries) yield decodeString(t.b, t.keyStart(e), t.keyEnd(e));
}
