import { ByteIndex, hashBytes } from '../../core/byteset.js';
import { eachLine, eachPartition, type PartitionSet, type SpillDir } from '../../io/spill.js';

const COMMA = 44;
/** A key's bytes besides its own, at most: 8 in the arena, a table slot at 3/4 full (11), two counters (8). */
const PER_KEY = 27;
/** The key length the table is sized for; longer keys fill the arena first and spill sooner. */
const KEY_GUESS = 16;

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
  /** Times the table went to disk. */
  spills = 0;
  /**
   * Counters (`a` only) of ids that are whole numbers below DIRECT_MAX
   * written without a leading zero, indexed by their value: no hash, no
   * compare. Item ids are often so, and a slot costs a third of the hashed
   * path's time. Grown by doubling up to the value seen.
   */
  private direct = new Uint32Array(0);

  constructor(
    private readonly spill: SpillDir,
    private readonly budget: number,
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
    const room = (this.budget * 3) / 4;
    let slots = 1024;
    while (slots * 2 * (8 + 0.75 * (PER_KEY - 11 + KEY_GUESS)) <= room) slots *= 2;
    this.capKeys = Math.max(
      16,
      Math.min(Math.floor((slots * 3) / 4) - 1, Math.floor(room / (PER_KEY + KEY_GUESS))),
    );
    this.capBytes = this.capKeys * (8 + KEY_GUESS) + 1;
    this.index = new ByteIndex({ keys: this.capKeys, keyBytes: this.capKeys * KEY_GUESS });
    this.a = new Uint32Array(this.capKeys + 1);
    this.b = new Uint32Array(this.capKeys + 1);
    this.keyBytes = 0;
  }

  get spilled(): boolean {
    return this.spills > 0;
  }

  /**
   * Adds to a key's counters; returns a promise only when the table went to
   * disk and a partition file is backed up (await it before the next add).
   */
  add(buf: Uint8Array, s: number, e: number, da: number, db: number): Promise<void> | undefined {
    let size = this.index.size;
    // Full (of keys, or of bytes for one more): to disk first, so the table never grows.
    let wait: Promise<void> | undefined;
    if (size >= this.capKeys || this.keyBytes + 8 * size + (e - s) + 8 >= this.capBytes) {
      wait = this.toDisk();
      size = 0;
    }
    const id = this.index.add(buf, s, e, hashBytes(buf, s, e));
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
      // The direct counters take at most a quarter of the budget; larger values go the hashed way.
      if (i === e && (v < this.direct.length || this.growDirect(v))) {
        this.direct[v]++;
        return undefined;
      }
    }
    return this.add(buf, s, e, 1, 0);
  }

  private growDirect(v: number): boolean {
    let n = Math.max(1024, this.direct.length);
    while (n <= v) n *= 2;
    if (4 * n > this.budget / 4) return false;
    const d = new Uint32Array(n);
    d.set(this.direct);
    this.direct = d;
    return true;
  }

  /** The table so far handed to the partitions; a fresh one takes the next adds at once (the caller's loop is synchronous). */
  private toDisk(): Promise<void> {
    const { index, a, b } = this;
    this.fresh();
    this.spills++;
    this.parts ??= this.spill.partitions(101);
    return this.parts.then((parts) => {
      const waits: Promise<void>[] = [];
      index.each((id, arena, s, e) => {
        const n = this.counters(a[id] as number, b[id] as number);
        const w = parts.write(arena, s, e, hashBytes(arena, s, e, parts.seed), this.text, 0, n);
        if (w) waits.push(w);
      });
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
  async each(fn: (buf: Buffer, s: number, e: number, a: number, b: number) => void): Promise<void> {
    const text = Buffer.allocUnsafe(8);
    const direct = this.direct;
    for (let v = 0; v < direct.length; v++) {
      const c = direct[v] as number;
      if (c > 0) fn(text, 0, writeWhole(text, 0, v), c, 0);
    }
    if (!this.parts) {
      const { a, b } = this;
      this.index.each((id, arena, s, e) => fn(arena, s, e, a[id] as number, b[id] as number));
      return;
    }
    await this.toDisk();
    const parts = await this.parts;
    await parts.close();
    for await (const [pieces] of eachPartition(this.spill, parts, this.budget)) {
      const index = new ByteIndex();
      let a = new Uint32Array(1024);
      let b = new Uint32Array(1024);
      for await (const seg of pieces) {
        eachLine(seg, (ks, ke, ps, pe) => {
          const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
          if (id >= a.length) {
            const na = new Uint32Array(a.length * 2);
            na.set(a);
            a = na;
            const nb = new Uint32Array(b.length * 2);
            nb.set(b);
            b = nb;
          }
          let v = 0;
          let i = ps;
          for (; i < pe && seg[i] !== COMMA; i++) v = v * 10 + ((seg[i] as number) - 48);
          a[id] += v;
          v = 0;
          for (i++; i < pe; i++) v = v * 10 + ((seg[i] as number) - 48);
          b[id] += v;
        });
      }
      index.each((id, arena, s, e) => fn(arena, s, e, a[id] as number, b[id] as number));
    }
  }
}

function writeWhole(t: Buffer, at: number, v: number): number {
  const s = String(v);
  for (let i = 0; i < s.length; i++) t[at + i] = s.charCodeAt(i);
  return at + s.length;
}
