import { ByteIndex, hashBytes, partitionOf } from '../../core/byteset.js';
import { eachLine, PARTITION_COUNT, type PartitionSet, type WrittenParts } from '../../io/spill.js';
import {
  COMMA,
  capacity,
  type Dump,
  type EachCount,
  eachDirect,
  eachTables,
  KEY_GUESS,
  type PartitionMaker,
  SEED,
  type TableParts,
  writeWhole,
} from './joined.js';

const TAB = 9;
const LF = 10;

/**
 * Exact counts per distinct key (byte strings), two counters each (`a`:
 * lines or slots in the outputs, `b`: lines in the batch input), within a
 * memory budget. Past it, as prepare's dedupe does, the table so far goes to
 * hash partitions on disk as `key TAB a,b` lines and starts again empty;
 * each(), at the end, reloads one partition at a time and adds a key's
 * counts up. Memory: the budget, plus one partition's keys when reloading.
 */
export class CountTable {
  private index!: ByteIndex;
  private a!: Uint32Array;
  private b!: Uint32Array;
  /** Keys the table takes before it goes to disk, and arena bytes (set by fresh()). */
  private capKeys = 0;
  private capBytes = 0;
  private keyBytes = 0;
  private parts: Promise<PartitionSet> | undefined;
  private readonly text = Buffer.allocUnsafe(24);
  /**
   * A table written out, kept for the next fresh() to clear and reuse: a
   * lane whose scan makes almost no garbage ran no collection for minutes,
   * and every table it had let go (13 MB each on 1 GB) stayed in memory.
   */
  private spare: { index: ByteIndex; a: Uint32Array; b: Uint32Array } | undefined;
  /** Times the table went to disk. */
  spills = 0;
  /**
   * Counters (`a` only) of ids that are whole numbers below DIRECT_MAX
   * written without a leading zero, indexed by their value: no hash, no
   * compare. Item ids are often so, and a slot costs a third of the hashed
   * path's time. Grown by doubling up to the value seen.
   */
  private direct = new Uint32Array(0);
  /**
   * The direct counts' low 8 bits, carried into `direct` at 256: a quarter
   * of the memory each slot touches (100,000 ids: 128 KiB, not 512), so
   * they stay in the core's cache beside the parser's. Measured on one
   * thread: about a tenth of a lane's time per piece.
   */
  private low = new Uint8Array(0);

  constructor(
    private readonly spill: PartitionMaker,
    private readonly budget: number,
    /**
     * The budget whose quarter bounds the direct counters: one for every
     * table of a kind (a lane's table has a smaller budget), so an id is
     * counted directly in all of them or in none, never both ways.
     */
    private readonly directBudget = budget,
  ) {
    this.fresh();
  }

  /**
   * An empty table sized once for three quarters of the budget (the direct
   * counters may take the rest): it goes to disk before it would grow, so
   * no doubling ever holds an old and a new copy at once. Untouched pages of
   * the allocation cost no memory until keys fill them.
   */
  private fresh(): void {
    const cap = capacity(this.budget);
    this.capKeys = cap.capKeys;
    this.capBytes = cap.capBytes;
    const spare = this.spare;
    this.spare = undefined;
    if (spare) {
      spare.index.clear();
      spare.a.fill(0);
      spare.b.fill(0);
      ({ index: this.index, a: this.a, b: this.b } = spare);
    } else {
      this.index = new ByteIndex({ keys: this.capKeys, keyBytes: this.capKeys * KEY_GUESS });
      this.a = new Uint32Array(this.capKeys + 1);
      this.b = new Uint32Array(this.capKeys + 1);
    }
    this.keyBytes = 0;
  }

  /** The keys' mean length in the table now (16 when it is empty): a guess at the rest's. */
  get meanKeyLength(): number {
    return this.index.size > 0 ? this.keyBytes / this.index.size : KEY_GUESS;
  }

  get spilled(): boolean {
    return this.spills > 0;
  }

  /**
   * Adds to a key's counters; returns a promise only when the table went to
   * disk and a partition file is backed up (await it before the next add).
   */
  add(buf: Uint8Array, s: number, e: number, da: number, db: number): Promise<void> | undefined {
    return this.addHashed(buf, s, e, hashBytes(buf, s, e), da, db);
  }

  /** add() with the key's hashBytes already known (the WebAssembly scan makes it). */
  addHashed(
    buf: Uint8Array,
    s: number,
    e: number,
    hash: number,
    da: number,
    db: number,
  ): Promise<void> | undefined {
    let size = this.index.size;
    // Full (of keys, or of bytes for one more): to disk first, so the table never grows.
    let wait: Promise<void> | undefined;
    if (size >= this.capKeys || this.keyBytes + 8 * size + (e - s) + 8 >= this.capBytes) {
      wait = this.toDisk();
      size = 0;
    }
    const id = this.index.add(buf, s, e, hash);
    if (id === size) this.keyBytes += e - s;
    this.a[id] += da;
    this.b[id] += db;
    return wait;
  }

  /** add(..., 1, 0) for an id, through the direct counters when it is a small whole number. */
  addOne(buf: Uint8Array, s: number, e: number): Promise<void> | undefined {
    const n = e - s;
    if (n > 0 && n <= 7 && (buf[s] !== 48 || n === 1)) {
      let v = 0;
      let i = s;
      for (; i < e; i++) {
        const d = (buf[i] as number) - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      // The direct counters take at most a quarter of the budget (and their low bytes a sixteenth); larger values go the hashed way.
      if (i === e && (v < this.direct.length || this.growDirect(v))) {
        const c = (this.low[v] as number) + 1;
        if (c === 256) {
          this.low[v] = 0;
          this.direct[v] += 256;
        } else this.low[v] = c;
        return undefined;
      }
    }
    return this.add(buf, s, e, 1, 0);
  }

  /** The direct counts whole: the low bits carried in (the table takes no more adds after). */
  private directCounts(): Uint32Array {
    const { direct, low } = this;
    for (let v = 0; v < low.length; v++) direct[v] += low[v] as number;
    low.fill(0);
    return direct;
  }

  /**
   * The ids counted directly are the whole numbers below this (0: none):
   * growDirect's rule as one bound, for a scan that counts by the same rule.
   */
  get directLimit(): number {
    let n = 1024;
    if (16 * n > this.directBudget) return 0;
    while (32 * n <= this.directBudget) n *= 2;
    return n;
  }

  /** Counts made by addOne's rule elsewhere (the WebAssembly scan's), indexed by value, added in. */
  addDirect(counts: Uint32Array): void {
    if (counts.length > this.direct.length) this.resizeDirect(this.directSize(counts.length));
    const direct = this.direct;
    for (let v = 0; v < counts.length; v++) direct[v] += counts[v] as number;
  }

  private growDirect(v: number): boolean {
    const n = this.directSize(v + 1);
    if (4 * n > this.directBudget / 4) return false;
    this.resizeDirect(n);
    return true;
  }

  /** The direct counters' length to hold `atLeast` values: a power of two from 1,024. */
  private directSize(atLeast: number): number {
    let n = Math.max(1024, this.direct.length);
    while (n < atLeast) n *= 2;
    return n;
  }

  /** The direct counters and their low bytes grown to `n`, the counts kept. */
  private resizeDirect(n: number): void {
    const d = new Uint32Array(n);
    d.set(this.direct);
    this.direct = d;
    const l = new Uint8Array(n);
    l.set(this.low);
    this.low = l;
  }

  /** The table so far handed to the partitions; a fresh one takes the next adds at once (the caller's loop is synchronous). */
  private toDisk(counted = true): Promise<void> {
    const { index, a, b } = this;
    this.fresh();
    if (counted) this.spills++;
    this.parts ??= this.spill.partitions(SEED);
    return this.parts.then((parts) => {
      const waits: Promise<void>[] = [];
      index.each((id, arena, s, e) => {
        const n = this.counters(a[id] as number, b[id] as number);
        const w = parts.write(arena, s, e, hashBytes(arena, s, e, parts.seed), this.text, 0, n);
        if (w) waits.push(w);
      });
      // Its lines are in the partitions' buffers now: the memory can take the next table.
      this.spare ??= { index, a, b };
      return Promise.all(waits).then(() => undefined);
    });
  }

  private counters(a: number, b: number): number {
    const t = this.text;
    let n = writeWhole(t, 0, a);
    t[n++] = COMMA;
    n = writeWhole(t, n, b);
    return n;
  }

  /** Every distinct key once with its summed counters (key bytes valid during the call only). */
  async each(fn: EachCount): Promise<void> {
    if (!this.parts) {
      eachDirect([this.directCounts()], fn);
      const { a, b } = this;
      this.index.each((id, arena, s, e) => fn(arena, s, e, a[id] as number, b[id] as number));
      return;
    }
    await this.toDisk();
    const parts = await this.parts;
    await parts.close();
    await eachTables(this.spill, this.budget, [{ parts, direct: this.directCounts(), dump: undefined }], fn);
  }

  /**
   * The table as a lane leaves it: the partitions it went to (closed),
   * what it holds still as partition lines in one buffer (a small table
   * never touches the disk), its direct counters. It takes no more adds.
   */
  async handOver(): Promise<TableParts> {
    let parts: WrittenParts | undefined;
    if (this.parts) {
      const set = await this.parts;
      await set.close();
      parts = { paths: set.paths, entries: set.entries, keyBytes: set.keyBytes };
    }
    // A table that went to disk is joined through partitions: its dump grouped by them here, on the lane.
    const dump = this.dump();
    return { parts, dump: dump && parts ? groupDump(dump) : dump, direct: this.directCounts() };
  }

  /** The table's keys and counters as partition lines (`key TAB a,b LF`). */
  private dump(): Dump | undefined {
    const { index, a, b } = this;
    if (index.size === 0) return undefined;
    // Whole allocations of their own (never Buffer's shared pool): a lane transfers them.
    let buf = Buffer.allocUnsafeSlow(this.keyBytes + 24 * index.size);
    let at = 0;
    index.each((id, arena, s, e) => {
      const n = this.counters(a[id] as number, b[id] as number);
      if (at + (e - s) + n + 2 > buf.length) {
        const g = Buffer.allocUnsafeSlow(buf.length * 2 + (e - s) + n);
        buf.copy(g, 0, 0, at);
        buf = g;
      }
      at += arena.copy(buf, at, s, e);
      buf[at++] = TAB;
      at += this.text.copy(buf, at, 0, n);
      buf[at++] = LF;
    });
    return { lines: buf.subarray(0, at), keys: index.size, keyBytes: this.keyBytes };
  }
}

/**
 * A dump's lines grouped by their partition of the tables' seed, each
 * group in the dump's order (a stable counting sort): what the main thread
 * would otherwise hash and copy after the pass (on 1 GB about 300,000 keys,
 * a third of a second there), done on the lane that made it.
 */
export function groupDump(dump: Dump): Dump {
  const src = dump.lines;
  const part = new Uint8Array(dump.keys);
  const entries = new Uint32Array(PARTITION_COUNT);
  const keyBytes = new Uint32Array(PARTITION_COUNT);
  const ends = new Uint32Array(PARTITION_COUNT + 1);
  let k = 0;
  eachLine(src, (ks, ke, _ps, pe) => {
    const i = partitionOf(hashBytes(src, ks, ke, SEED), PARTITION_COUNT);
    part[k++] = i;
    entries[i]++;
    keyBytes[i] += ke - ks;
    ends[i + 1] += pe + 1 - ks;
  });
  for (let i = 0; i < PARTITION_COUNT; i++) ends[i + 1] += ends[i] as number;
  const at = ends.slice(0, PARTITION_COUNT);
  const lines = Buffer.allocUnsafeSlow(src.length);
  k = 0;
  eachLine(src, (ks, _ke, _ps, pe) => {
    const i = part[k++] as number;
    const n = pe + 1 - ks;
    src.copy(lines, at[i] as number, ks, ks + n);
    at[i] += n;
  });
  return { ...dump, lines, groups: { ends, entries, keyBytes } };
}
