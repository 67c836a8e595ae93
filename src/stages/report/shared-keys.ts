import { hashBytes } from '../../core/byteset.js';
import { type KeyAdder, keyAdder } from '../../core/report-keys.js';
import type { CountTable } from './counts.js';
import {
  type Counted,
  capacity,
  type EachCount,
  JoinedCounts,
  type PartitionMaker,
  type PartJoiner,
  SEED,
  type TableParts,
} from './joined.js';

/**
 * Header words: arena bytes taken, keys and their bytes (in batches),
 * sealed, slots, arena size, keys taken at most, bits of an offset, and
 * the masks of an offset and a tag (core/report-keys.wat reads them all).
 */
const USED = 0;
const COUNT = 1;
const BYTES = 2;
const SEALED = 3;
const SLOTS = 4;
const ARENA = 5;
const MAX_KEYS = 6;
const OFF_BITS = 7;
const OFF_MASK = 8;
const TAG_MASK = 9;
const HEADER = 64;
/** Slots filled at most: linear probing's misses stay a few neighbours of one cache line. */
const LOAD = 0.8;
/** A key's length is one byte in the arena: longer keys go to the lane's own table (every thread alike). */
const MAX_KEY = 254;
const ONE_ZERO = Buffer.from('1,0');

/**
 * The outputs' distinct keys in one table of shared memory that every
 * lane adds to at once (compare-and-swap on the slots; a key's bytes are
 * written before the swap publishes them), so no key goes to partitions on
 * disk, is read back and hashed again to join the lanes' sets: on 1 GB,
 * 1.9 M keys. A slot holds a key's arena offset and some bits of its
 * hash, so a probe seldom reads the arena. Only presence is kept, not
 * counts: it serves when the figures ask only whether a key was seen (no
 * --input). Full (of slots or arena), it is sealed: the lanes' own tables
 * take the keys it has not, and the end joins it with them on disk. It is
 * a WebAssembly memory, so a lane's scan adds to it too (adder()).
 */
export class SharedKeys {
  private readonly header: Int32Array;
  private readonly slots: Int32Array;
  readonly arena: Buffer;
  private readonly size: number;
  private readonly offBits: number;
  private readonly offMask: number;
  private readonly tagMask: number;
  readonly buffer: SharedArrayBuffer;

  /** A table of at most `budget` bytes in all (in whole 64 KiB pages), sized for keys of about `keyGuess` bytes. */
  static create(budget: number, keyGuess: number): SharedKeys {
    const perKey = keyGuess + 1 + 4 / LOAD;
    // A WebAssembly memory holds 4 GiB at most: past 2 GiB the table seals and the lanes' own tables go on.
    const room = Math.max(0, Math.min(budget, 2 ** 31) - HEADER);
    const slots = Math.max(16, Math.ceil(room / perKey / LOAD));
    const arena = Math.max(0, Math.min(2 ** 30, room - 4 * slots));
    const pages = Math.ceil((HEADER + 4 * slots + arena) / 65536);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const h = new Int32Array(memory.buffer, 0, HEADER / 4);
    h[SLOTS] = slots;
    h[ARENA] = arena;
    h[MAX_KEYS] = Math.min(Math.floor(slots * LOAD), slots - 8);
    const offBits = Math.max(1, Math.ceil(Math.log2(arena + 2)));
    h[OFF_BITS] = offBits;
    h[OFF_MASK] = offBits >= 31 ? 0x7fffffff : (1 << offBits) - 1;
    h[TAG_MASK] = offBits >= 31 ? 0 : (1 << (31 - offBits)) - 1;
    return new SharedKeys(memory);
  }

  /** The table `create` made, on any thread (its memory never grows: the views stay). */
  constructor(readonly memory: WebAssembly.Memory) {
    const buffer = memory.buffer as unknown as SharedArrayBuffer;
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER / 4);
    this.size = this.header[SLOTS] as number;
    this.slots = new Int32Array(buffer, HEADER, this.size);
    this.arena = Buffer.from(buffer, HEADER + 4 * this.size, this.header[ARENA] as number);
    this.offBits = this.header[OFF_BITS] as number;
    this.offMask = this.header[OFF_MASK] as number;
    this.tagMask = this.header[TAG_MASK] as number;
  }

  /** This thread's adder in WebAssembly (report-scan.wat's imports), made once; flush() flushes it too. */
  adder(): KeyAdder {
    this.wasmAdder ??= keyAdder(this.memory);
    return this.wasmAdder;
  }
  private wasmAdder: KeyAdder | undefined;

  /** It took no key at some point: some keys are in the lanes' tables instead. */
  get sealed(): boolean {
    return Atomics.load(this.header, SEALED) !== 0;
  }

  /**
   * This thread's run of the arena, taken a block at a time, and its keys
   * not yet added to the shared count: an atomic add on the header for
   * every key made the two lanes pass its cache line to and fro (1.7 s a
   * lane on 1 GB, the table's adds a third of it).
   */
  private at = 0;
  private end = 0;
  private pending = 0;
  private pendingBytes = 0;

  /**
   * The key buf[s, e) (its hashBytes `hash`) in the table: true when it is
   * there now (added or found), false when the lane's own table must take it.
   */
  add(buf: Uint8Array, s: number, e: number, hash: number): boolean {
    const len = e - s;
    if (len > MAX_KEY) return false;
    const { slots, arena, size } = this;
    const tag = ((hash & this.tagMask) << this.offBits) >>> 0;
    let i = Math.floor(((hash >>> 0) / 4294967296) * size);
    let off = -1;
    for (let probes = 0; probes < size; probes++) {
      let v = Atomics.load(slots, i);
      if (v === 0) {
        if (off < 0) {
          if (this.end - this.at < len + 1 ? !this.reserve(len + 1) : this.sealedHere()) return this.seal();
          off = this.at;
          arena[off] = len;
          for (let k = 0; k < len; k++) arena[off + 1 + k] = buf[s + k] as number;
        }
        v = Atomics.compareExchange(slots, i, 0, tag | (off + 1));
        if (v === 0) {
          this.at = off + len + 1;
          this.pendingBytes += len;
          if (++this.pending === this.batch) this.count();
          return true;
        }
      }
      // Another key, or this key from another thread (its bytes written before its swap).
      if ((v & ~this.offMask) >>> 0 === tag && this.equal(v, buf, s, len)) return true;
      if (++i === size) i = 0;
    }
    // Every slot taken (the count's batches ran past the bound): no room.
    return this.seal();
  }

  /** Sealed, as this thread last saw the header (read every 64 keys: each read of it, written by the others, can miss the cache). */
  private sealedHere(): boolean {
    if ((this.pending & 63) === 0) this.wasSealed = Atomics.load(this.header, SEALED) !== 0;
    return this.wasSealed;
  }
  private wasSealed = false;

  /** Keys counted a batch at a time: at most a sixty-fourth of the slots left free, so a few threads' batches stay within them. */
  private get batch(): number {
    return Math.max(1, Math.min(256, (this.size - (this.header[MAX_KEYS] as number)) >> 6));
  }

  /** This thread's keys into the shared count; sealed once it reaches the bound. */
  private count(): void {
    const n = this.addPending();
    if (n >= (this.header[MAX_KEYS] as number)) this.seal();
  }

  /**
   * This thread's keys not yet counted into the shared count, its adder's
   * too (it adds no more: every thread that added flushes before totals are
   * read). No seal here: whether the table was sealed stays what the adds
   * decided.
   */
  flush(): void {
    this.wasmAdder?.flush();
    this.addPending();
  }

  /** This thread's JavaScript adds into the shared count: the count after them. */
  private addPending(): number {
    const n = Atomics.add(this.header, COUNT, this.pending) + this.pending;
    Atomics.add(this.header, BYTES, this.pendingBytes);
    this.pending = 0;
    this.pendingBytes = 0;
    return n;
  }

  /** A new run of the arena of at least `need` bytes, unless the table is sealed or the arena taken. */
  private reserve(need: number): boolean {
    if (Atomics.load(this.header, SEALED) !== 0) return false;
    const block = Math.max(need, Math.min(65536, this.arena.length >> 6));
    const off = Atomics.add(this.header, USED, block);
    if (off + need > this.arena.length) return false;
    this.at = off;
    this.end = Math.min(off + block, this.arena.length);
    return true;
  }

  /** Whether the key is in the table (after the lanes are done). */
  has(buf: Uint8Array, s: number, e: number, hash = hashBytes(buf, s, e)): boolean {
    const len = e - s;
    if (len > MAX_KEY) return false;
    const tag = ((hash & this.tagMask) << this.offBits) >>> 0;
    for (let i = Math.floor(((hash >>> 0) / 4294967296) * this.size); ; ) {
      const v = this.slots[i] as number;
      if (v === 0) return false;
      if ((v & ~this.offMask) >>> 0 === tag && this.equal(v, buf, s, len)) return true;
      if (++i === this.size) i = 0;
    }
  }

  private equal(v: number, buf: Uint8Array, s: number, len: number): boolean {
    const arena = this.arena;
    const off = (v & this.offMask) - 1;
    if (arena[off] !== len) return false;
    for (let k = 0; k < len; k++) if (arena[off + 1 + k] !== buf[s + k]) return false;
    return true;
  }

  private seal(): false {
    Atomics.store(this.header, SEALED, 1);
    return false;
  }

  /**
   * The keys and their bytes as the adders counted them, once each has
   * flushed: on 1 GB, visiting the slots for them cost the main thread
   * 0.1 s, a random read of the arena per key.
   */
  counted(): { keys: number; keyBytes: number } {
    return { keys: Atomics.load(this.header, COUNT), keyBytes: Atomics.load(this.header, BYTES) };
  }

  /** The keys and their bytes, counted over the slots (after the lanes are done; counted() should agree). */
  totals(): { keys: number; keyBytes: number } {
    let keys = 0;
    let keyBytes = 0;
    for (let i = 0; i < this.size; i++) {
      const at = this.keyAt(i);
      if (at < 0) continue;
      keys++;
      keyBytes += this.arena[at] as number;
    }
    return { keys, keyBytes };
  }

  /** Every key once, in slot order (bytes valid during the call only). */
  each(fn: (buf: Buffer, s: number, e: number) => void): void {
    for (let i = 0; i < this.size; i++) {
      const at = this.keyAt(i);
      if (at >= 0) fn(this.arena, at + 1, at + 1 + (this.arena[at] as number));
    }
  }

  /** Slot i's key (its length byte's offset in the arena), or -1 when the slot is empty. */
  keyAt(i: number): number {
    const v = this.slots[i] as number;
    return v === 0 ? -1 : (v & this.offMask) - 1;
  }

  get slotCount(): number {
    return this.size;
  }
}

/**
 * A lane's keys: into the shared table while it takes them, else into the
 * lane's own table (its partitions, as before). handOver is the own
 * table's, for the join past the shared table's room.
 */
export class SharedKeyCounts {
  constructor(
    readonly shared: SharedKeys,
    readonly own: CountTable,
  ) {}

  add(buf: Uint8Array, s: number, e: number, da: number, db: number): Promise<void> | undefined {
    return this.addHashed(buf, s, e, hashBytes(buf, s, e), da, db);
  }

  addHashed(
    buf: Uint8Array,
    s: number,
    e: number,
    hash: number,
    da: number,
    db: number,
  ): Promise<void> | undefined {
    if (this.shared.add(buf, s, e, hash)) return undefined;
    return this.own.addHashed(buf, s, e, hash, da, db);
  }

  /** The lane is done adding: its keys into the shared count first. */
  handOver(): Promise<TableParts> {
    this.shared.flush();
    return this.own.handOver();
  }
}

/**
 * The keys of a pass whose lanes shared a table, as report.json reads
 * them: presence only (each key's `a` above 0, `b` 0). When every key went to
 * the shared table or this thread's, the distinct keys are counted in
 * memory; else the shared table goes to partitions and joins the lanes'
 * tables and this thread's as before. `spilled` says what one table of
 * `budget` would have, as JoinedCounts does.
 */
export class SharedCounted implements Counted {
  spilled = false;

  constructor(
    private readonly spill: PartitionMaker,
    private readonly budget: number,
    private readonly shared: SharedKeys,
    private readonly local: CountTable,
    private readonly lanes: readonly TableParts[],
    private readonly joiners: readonly PartJoiner[],
  ) {}

  async each(fn: EachCount): Promise<void> {
    await this.visit(fn);
  }

  /** The distinct keys: in memory without a call per key (on 1 GB, 1.9 M calls after the pass, on this thread alone). */
  async distinct(): Promise<number> {
    let keys = 0;
    await this.visit(
      () => {
        keys++;
      },
      (n) => {
        keys += n;
      },
    );
    return keys;
  }

  /** Each key to fn; in memory, the shared table's keys to `shared` as one count instead, when given. */
  private async visit(fn: EachCount, sharedCount?: (n: number) => void): Promise<void> {
    const inMemory =
      !this.shared.sealed && !this.local.spilled && this.lanes.every((t) => !t.parts && !t.dump);
    if (!inMemory) {
      const own = await sharedParts(this.spill, this.shared);
      const joined = new JoinedCounts(
        this.spill,
        this.budget,
        this.local,
        [own, ...this.lanes],
        this.joiners,
      );
      await joined.each(fn);
      this.spilled = joined.spilled;
      return;
    }
    const shared = this.shared;
    let { keys, keyBytes } = shared.counted();
    if (sharedCount) sharedCount(keys);
    else shared.each((buf, s, e) => fn(buf, s, e, 1, 0));
    // This thread's first pieces: only their keys the lanes did not also see.
    await this.local.each((buf, s, e, a, b) => {
      if (shared.has(buf, s, e)) return;
      keys++;
      keyBytes += e - s;
      fn(buf, s, e, a > 0 ? 1 : 0, b > 0 ? 1 : 0);
    });
    const cap = capacity(this.budget);
    this.spilled = keys > cap.capKeys || keyBytes + 8 * keys >= cap.capBytes;
  }
}

/** The shared table as partition lines `key TAB 1,0` (a table's parts, for the join on disk). */
async function sharedParts(spill: PartitionMaker, shared: SharedKeys): Promise<TableParts> {
  const parts = await spill.partitions(SEED);
  const arena = shared.arena;
  for (let i = 0; i < shared.slotCount; i++) {
    const at = shared.keyAt(i);
    if (at < 0) continue;
    const s = at + 1;
    const e = s + (arena[at] as number);
    // A partition file backed up: its drain awaited before the next line (memory).
    const w = parts.write(arena, s, e, hashBytes(arena, s, e, parts.seed), ONE_ZERO, 0, ONE_ZERO.length);
    if (w) await w;
  }
  await parts.close();
  return {
    parts: { paths: parts.paths, entries: parts.entries, keyBytes: parts.keyBytes },
    dump: undefined,
    direct: new Uint32Array(0),
  };
}
