import { once } from 'node:events';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes, partitionOf } from '../core/byteset.js';
import { makeTempDir, trackTemporary } from './output.js';
import { eachLine, type ReadScratch, readFiles } from './spill-read.js';

export { eachLine, type ReadScratch, readPartition } from './spill-read.js';
// The rule lives in core: the conversion workers pick a line's partition with it too.
export { partitionOf };

/**
 * Hash partitions on disk for exact, bounded-memory dedupe and grouping.
 * Each line is `<key>\t<payload>\n`, where the key is JSON string content
 * (no raw tab or newline) and the payload a JSON line without its newline.
 * Per-partition counters estimate what reloading it will cost, so an
 * over-full partition is split again with another hash seed instead of
 * blowing the memory budget.
 */

// 256 partitions keep each one's hash table within a core's L2 cache when it
// is reloaded (at 64, a 10M-row drain spent 270 ns a key on cache misses).
const PARTITIONS = 256;
/** How many partitions a set has by default (a set written in memory must split as one on disk would). */
export const PARTITION_COUNT = PARTITIONS;
const MAX_DEPTH = 4;
const FLUSH = 32 * 1024;
const SPARE = 64;
const TAB = 9;
const LF = 10;
const EMPTY = Buffer.alloc(0);

/** Memory to hold a partition's keys in a ByteSet: arena and table, with their growth slack. */
export function reloadCost(keyBytes: number, entries: number): number {
  return 2 * (keyBytes + 4 * entries) + 32 * entries;
}

/**
 * What one line costs in memory when its partition is reloaded, for lines
 * whose payload is held (not just the key): given, cost() is the sum of
 * the weights instead of reloadCost. Splits keep it.
 */
export type Weigh = (payload: Uint8Array, ps: number, pe: number) => number;

export class PartitionSet {
  readonly paths: string[];
  readonly keyBytes: number[];
  readonly entries: number[];
  readonly weights: number[];
  /** Opened at a partition's first flush: a small input touches few of 256, and opening all cost 0.2 s a set. */
  private readonly streams: (WriteStream | undefined)[];
  /** Lines gathered per partition and written 32 KiB at a time: one write per line costs more than the line. */
  private readonly bufs: Buffer[];
  private readonly fill: number[];
  /** Per file: the wait for its drain, while it is backed up, and what ends it early (see drained). */
  private readonly draining: (Promise<void> | undefined)[];
  private readonly giveUp: ((() => void) | undefined)[];
  readonly seed: number;
  /** Flushed buffers written and free again (at most SPARE). */
  private readonly spare: Buffer[] = [];
  /** Set by close(): the files are complete and the buffers let go. */
  closed = false;
  /** Bytes handed to the files and not yet written, and the wait for them to fall (see maxInFlight). */
  private inFlight = 0;
  private lowered: Promise<void> | undefined;
  private release = () => {};

  constructor(
    dir: string,
    prefix: string,
    seed: number,
    count = PARTITIONS,
    readonly weigh?: Weigh,
    /** Flushed buffers a file may queue before write() asks to wait (two threads' sets use fewer). */
    private readonly queued = 4,
    /** Bytes the set may have handed its files unwritten before write() waits (till half are): else a fast
     * writer with a slower disk queues `queued` buffers in each of 256 files, 24 MiB and more a set. */
    private readonly maxInFlight = Number.POSITIVE_INFINITY,
  ) {
    this.seed = seed;
    this.weights = new Array(count).fill(0);
    this.paths = Array.from({ length: count }, (_, i) => join(dir, `${prefix}-${i}.part`));
    this.keyBytes = new Array(count).fill(0);
    this.entries = new Array(count).fill(0);
    this.streams = new Array(count).fill(undefined);
    // Empty until the partition's first line (see flush): 256 buffers up front were 8 MiB a set.
    this.bufs = new Array(count).fill(EMPTY);
    this.fill = new Array(count).fill(0);
    this.draining = new Array(count).fill(undefined);
    this.giveUp = new Array(count).fill(undefined);
  }

  cost(i: number): number {
    if (this.weigh) return this.weights[i] as number;
    return reloadCost(this.keyBytes[i] as number, this.entries[i] as number);
  }

  /**
   * Appends key[ks, ke) TAB payload[ps, pe) LF to the key's partition.
   * Returns a promise only when that partition's file is backed up (await it).
   */
  write(
    key: Uint8Array,
    ks: number,
    ke: number,
    hash: number,
    payload: Uint8Array,
    ps: number,
    pe: number,
  ): Promise<void> | undefined {
    const i = partitionOf(hash, this.paths.length);
    const n = ke - ks + pe - ps + 2;
    this.keyBytes[i] += ke - ks;
    this.entries[i]++;
    if (this.weigh) this.weights[i] += this.weigh(payload, ps, pe);
    let buf = this.bufs[i] as Buffer;
    let at = this.fill[i] as number;
    let waited: Promise<void> | undefined;
    if (at + n > buf.length) {
      waited = this.flush(i);
      buf = this.bufs[i] as Buffer;
      at = 0;
      if (n > buf.length) {
        buf = Buffer.allocUnsafe(n);
        this.bufs[i] = buf;
      }
    }
    // Byte loops: subarray()+set() allocate and check more than these few bytes cost.
    for (let k = ks; k < ke; k++) buf[at++] = key[k] as number;
    buf[at++] = TAB;
    for (let k = ps; k < pe; k++) buf[at++] = payload[k] as number;
    buf[at++] = LF;
    this.fill[i] = at;
    return waited;
  }

  /**
   * Appends buf[s, e) LF, a whole line without a key, to partition i (the
   * caller picked it). Returns a promise only when that file is backed up.
   */
  append(i: number, buf: Uint8Array, s: number, e: number): Promise<void> | undefined {
    const n = e - s + 1;
    this.keyBytes[i] += n;
    this.entries[i]++;
    if (this.weigh) this.weights[i] += this.weigh(buf, s, e);
    let b = this.bufs[i] as Buffer;
    let at = this.fill[i] as number;
    let waited: Promise<void> | undefined;
    if (at + n > b.length) {
      waited = this.flush(i);
      b = this.bufs[i] as Buffer;
      at = 0;
      if (n > b.length) {
        b = Buffer.allocUnsafe(n);
        this.bufs[i] = b;
      }
    }
    for (let k = s; k < e; k++) b[at++] = buf[k] as number;
    b[at++] = LF;
    this.fill[i] = at;
    return waited;
  }

  /**
   * Records already cut and grouped by partition (core/idcut.ts, or
   * key-scan.ts's group()): partition i's are src[ends[i - 1], ends[i]),
   * recs[i] of them, each a key, TAB, `payload` bytes (one for idcut's) and
   * LF. One copy a partition instead of one write a line. Returns a promise
   * only when a file is backed up.
   */
  writeGrouped(src: Uint8Array, ends: Int32Array, recs: Int32Array, payload = 1): Promise<void> | undefined {
    if (this.weigh || ends.length !== this.paths.length)
      throw new Error('personalize-batch: grouped records for a weighed or differently cut set');
    const waits: Promise<void>[] = [];
    let from = 0;
    for (let i = 0; i < ends.length; i++) {
      const to = ends[i] as number;
      const r = recs[i] as number;
      if (r === 0) continue;
      this.entries[i] += r;
      this.keyBytes[i] += to - from - (payload + 2) * r;
      while (from < to) {
        if ((this.fill[i] as number) === (this.bufs[i] as Buffer).length) {
          const w = this.flush(i);
          if (w) waits.push(w);
        }
        const buf = this.bufs[i] as Buffer;
        const at = this.fill[i] as number;
        const n = Math.min(buf.length - at, to - from);
        // A few lines a partition (a small window): subarray()+set() cost more than the bytes.
        if (n <= 64) for (let k = 0; k < n; k++) buf[at + k] = src[from + k] as number;
        else buf.set(src.subarray(from, from + n), at);
        this.fill[i] = at + n;
        from += n;
      }
    }
    return waits.length === 0 ? undefined : Promise.all(waits).then(() => undefined);
  }

  /** write() for string key and payload (the payload without its newline). */
  writeString(key: string, payload: string): Promise<void> | undefined {
    const k = Buffer.from(key);
    const p = Buffer.from(payload);
    return this.write(k, 0, k.length, hashBytes(k, 0, k.length, this.seed), p, 0, p.length);
  }

  private fresh(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafe(FLUSH);
  }

  private flush(i: number, last = false): Promise<void> | undefined {
    const fill = this.fill[i] as number;
    if (fill === 0) {
      if (!last && this.bufs[i]?.length === 0) this.bufs[i] = this.fresh();
      return undefined;
    }
    // A queue of a few buffers per file: with the default 16 KiB every write
    // waited for the disk, and the profile showed the thread idle 10% of the time.
    let s = this.streams[i];
    if (!s) {
      s = createWriteStream(this.paths[i] as string, { highWaterMark: this.queued * FLUSH });
      this.streams[i] = s;
    }
    const buf = this.bufs[i] as Buffer;
    this.inFlight += fill;
    const ok = s.write(buf.subarray(0, fill), (err) => {
      this.inFlight -= fill;
      if (this.lowered && this.inFlight <= this.maxInFlight / 2) this.release();
      // Written: the buffer serves again. A fresh one a flush was freed only
      // by the next garbage collection, and tens of MB of them waited for it.
      if (!err && !this.closed && buf.length === FLUSH && this.spare.length < SPARE) this.spare.push(buf);
    });
    // The buffer now belongs to the stream until written; take another,
    // unless this is the last flush: a closed set kept 8 MiB of fresh buffers,
    // and a split of every partition (a small budget) kept 256 such sets.
    this.bufs[i] = last ? EMPTY : this.fresh();
    this.fill[i] = 0;
    const file = ok ? undefined : this.drained(i, s);
    if (this.inFlight <= this.maxInFlight) return file;
    // Settled when the set's writes fall to half of maxInFlight, or the set is destroyed.
    this.lowered ??= new Promise<void>((resolve) => {
      this.release = () => {
        this.lowered = undefined;
        resolve();
      };
    });
    return file ? Promise.all([file, this.lowered]).then(() => undefined) : this.lowered;
  }

  /**
   * One wait per backed-up file, however many flushes find it so: a piece's
   * lines may flush one partition ten times before anyone awaits (a listener
   * each was node's MaxListenersExceededWarning on the user's screen). It
   * settles when the file drains or fails, or when the set is destroyed (the
   * run gave up: nobody may be left waiting on it, nor on its error).
   */
  private drained(i: number, s: WriteStream): Promise<void> {
    const pending = this.draining[i];
    if (pending) return pending;
    const p = new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        s.off('drain', onDrain);
        s.off('error', onError);
        this.draining[i] = undefined;
        this.giveUp[i] = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onError = (err: Error) => done(err);
      s.once('drain', onDrain);
      s.once('error', onError);
      this.giveUp[i] = () => done();
    });
    this.draining[i] = p;
    return p;
  }

  /** Closes every file without flushing (the run failed); resolves once all are closed. */
  async destroy(): Promise<void> {
    this.bufs.fill(EMPTY);
    this.spare.length = 0;
    this.closed = true;
    this.release();
    for (const release of this.giveUp) release?.();
    await Promise.all(
      this.streams.map((st) => {
        if (!st || st.closed) return undefined;
        const closed = once(st, 'close').catch(() => {});
        st.destroy();
        return closed;
      }),
    );
  }

  /**
   * Flushes and closes the files. Only partitions that hold a line have a
   * file (entries[i] > 0), unless `withEmpty`: then every path exists.
   */
  async close(withEmpty = false): Promise<void> {
    for (let i = 0; i < this.paths.length; i++) await this.flush(i, true);
    this.bufs.fill(EMPTY);
    // A partition with no line has no file unless asked for: creating a file
    // took 5 ms on a busy disk, 1.2 s for a set of 256 that a small input barely touches.
    if (withEmpty)
      for (let i = 0; i < this.paths.length; i++)
        if (!this.streams[i]) closeSync(openSync(this.paths[i] as string, 'w'));
    await Promise.all(
      this.streams.map(
        (s) =>
          s &&
          new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.end(() => resolve());
          }),
      ),
    );
    this.closed = true;
    this.spare.length = 0;
  }
}

/** What eachPartition needs of a set of partitions written (a PartitionSet closed, or files joined). */
export type SpilledParts = Pick<PartitionSet, 'paths' | 'entries' | 'keyBytes' | 'seed' | 'cost'> & {
  readonly weigh?: Weigh;
  /**
   * Partition i's files, read in this order, when several writers' sets are
   * joined (joinSets); else paths[i]. A Buffer is a file's lines held in memory.
   */
  readonly files?: readonly (readonly (string | Buffer)[])[];
};

/** Partitions as written: their files and counters (a PartitionSet, or a worker's reply). */
export type WrittenParts = Pick<PartitionSet, 'paths' | 'entries' | 'keyBytes'>;

/**
 * Sets of one seed and count, written by several writers (threads, or
 * PREV and the sources), taken as one: partition i is each set's file i in
 * the order given, those that hold a line only, counters added up. Nothing
 * is copied: appending 256 files one after the other took 0.6 to 1.3 s of
 * a 100 MB run on a busy machine.
 */
export function joinSets(sets: readonly WrittenParts[], seed: number): SpilledParts & { files: string[][] } {
  const files: string[][] = [];
  const entries: number[] = [];
  const keyBytes: number[] = [];
  for (let i = 0; i < (sets[0]?.paths.length ?? 0); i++) {
    const held = sets.filter((set) => (set.entries[i] as number) > 0);
    files.push(held.map((set) => set.paths[i] as string));
    entries.push(held.reduce((n, set) => n + (set.entries[i] as number), 0));
    keyBytes.push(held.reduce((n, set) => n + (set.keyBytes[i] as number), 0));
  }
  return {
    paths: files.map((f) => f[0] ?? ''),
    files,
    entries,
    keyBytes,
    seed,
    cost: (i) => reloadCost(keyBytes[i] as number, entries[i] as number),
  };
}

/** A scratch folder for partitions, removed by `dispose()` whatever happened. */
export class SpillDir {
  private dir: Promise<string> | undefined;
  private tracked: { done: () => void } | undefined;
  private counter = 0;
  private readonly sets: PartitionSet[] = [];
  constructor(private readonly parent: string) {}

  /** The folder, made on first use: a worker thread may write partitions of its own there. */
  folder(): Promise<string> {
    // The promise is kept, not the name: two callers must not make two folders.
    this.dir ??= makeTempDir(this.parent, 'personalize-batch-spill-').then((dir) => {
      // Removed on the way out of an interrupted or cut-off (EPIPE) process too.
      this.tracked = trackTemporary(dir);
      return dir;
    });
    return this.dir;
  }

  async partitions(
    seed = 0,
    count = PARTITIONS,
    weigh?: Weigh,
    queued?: number,
    maxInFlight?: number,
  ): Promise<PartitionSet> {
    const { dir, prefix } = await this.reserve();
    const set = new PartitionSet(dir, prefix, seed, count, weigh, queued, maxInFlight);
    // Closed sets need no dispose(): holding on to them (256 write streams
    // each) grew memory with every partition split.
    for (let i = this.sets.length - 1; i >= 0; i--) if (this.sets[i]?.closed) this.sets.splice(i, 1);
    this.sets.push(set);
    return set;
  }

  /** The folder and a prefix of its own for one set of partition files (a worker's, made there). */
  async reserve(): Promise<{ dir: string; prefix: string }> {
    return { dir: await this.folder(), prefix: `p${this.counter++}` };
  }

  /**
   * Closes any partition file still open (a failed run leaves some), then
   * removes the folder: removing it while a file is still being opened
   * could leave the folder behind.
   */
  async dispose(): Promise<void> {
    await Promise.all(this.sets.map((set) => set.destroy()));
    this.sets.length = 0;
    if (this.dir) await rm(await this.dir, { recursive: true, force: true });
    this.tracked?.done();
    this.tracked = undefined;
    this.dir = undefined;
  }
}

/**
 * Visits every partition's lines, in write order within each partition,
 * first splitting any partition whose reload cost exceeds the budget.
 * The second value says whether the budget may be ignored (the depth cap
 * was reached: a partition of one repeated key is cheap however it counts).
 */
export async function* eachPartition(
  spill: Pick<SpillDir, 'partitions'>,
  parts: SpilledParts,
  budget: number,
  depth = 1,
  /** One buffer the partitions are read into in turn (the consumer is done with each piece as it takes the next). */
  scratch?: ReadScratch,
): AsyncGenerator<[AsyncIterable<Buffer>, boolean, { keys: number; keyBytes: number }]> {
  for (let i = 0; i < parts.paths.length; i++) {
    // An empty partition has no file: awaiting 256 removals one by one was most of a small run's drain.
    if (parts.entries[i] === 0) continue;
    const files = parts.files?.[i] ?? [parts.paths[i] as string];
    const drop = () => Promise.all(files.map((f) => typeof f === 'string' && rm(f, { force: true })));
    if (parts.cost(i) > budget && depth < MAX_DEPTH) {
      // As many pieces as it takes for each to cost about half the budget,
      // not always 256: a partition a little over budget became 256 tiny files.
      const count = Math.min(PARTITIONS, Math.max(2, Math.ceil((2 * parts.cost(i)) / budget)));
      const sub = await spill.partitions(parts.seed + depth * 7919, count, parts.weigh);
      for await (const seg of readFiles(files, scratch)) {
        const waits: Promise<void>[] = [];
        eachLine(seg, (ks, ke, ps, pe) => {
          const w = sub.write(seg, ks, ke, hashBytes(seg, ks, ke, sub.seed), seg, ps, pe);
          if (w) waits.push(w);
        });
        await Promise.all(waits);
      }
      await sub.close();
      await drop();
      yield* eachPartition(spill, sub, budget, depth + 1, scratch);
    } else {
      yield [
        readFiles(files, scratch),
        depth >= MAX_DEPTH,
        { keys: parts.entries[i] as number, keyBytes: parts.keyBytes[i] as number },
      ];
      await drop();
    }
  }
}
