import { readFile } from 'node:fs/promises';
import type { BatchInput } from '../core/build.js';
import { ByteSet, hashBytes } from '../core/byteset.js';
import { DrainTable } from '../core/drain.js';
import {
  eachLine,
  eachPartition,
  joinSets,
  type PartitionSet,
  type SpillDir,
  type SpilledParts,
  type WrittenParts,
} from './spill.js';
import { startWorker } from './workers.js';

/** What drain-worker.ts is given, and what it posts back (here, so the two files do not import each other). */
export interface DrainJob {
  /** Per partition, its files in write order (a worker's part of the input scanned on its own). */
  paths: string[][];
  /** Per partition, its lines. */
  lines: number[];
  derive: { prefix: Uint8Array; suffix: Uint8Array } | undefined;
}

export type DrainMessage =
  | { kind: 'chunk'; chunk: Uint8Array; lines: number; duplicates: number }
  | { kind: 'done' };

/**
 * A one-byte payload meaning "the line is prefix + key + suffix": the fast
 * path's records, whose line follows from the key. It halves what a spilled
 * record costs on disk. No JSON line starts with this byte.
 */
const DERIVED = Buffer.from([1]);

/**
 * Exact dedupe with a memory budget. Keys (the JSON string content of the
 * id, as UTF-8 bytes) live in a ByteSet until it is full; then its keys are
 * written to disk partitions as "seen" markers and every later record goes
 * to its key's partition. At the end each partition is replayed into a
 * fresh ByteSet, markers first, so the first occurrence of every key is kept.
 * Records that arrive before the spill are emitted at once, in input order.
 */

export class Deduper {
  duplicates = 0;
  /** How a DERIVED line is rebuilt: set by the fast path (one field name per run). */
  derive: { prefix: Buffer; suffix: Buffer } | undefined;
  private set: ByteSet | undefined;
  private parts: PartitionSet | undefined;
  /** Partition files written before `parts` (this thread's, then a worker's), read before it. */
  private readonly earlier: WrittenParts[] = [];
  private scratch = Buffer.allocUnsafe(1024);

  /**
   * `spillFirst` skips the in-memory phase and sends every record to the
   * partitions: for an input known to be many times the budget it is faster
   * (10M rows: about 6 s instead of 7.5 s), because filling a budget-sized
   * table touches memory at random while the partitions are written in order
   * and reloaded one cache-sized table at a time.
   */
  constructor(
    private readonly spill: SpillDir,
    private readonly budget: number,
    spillFirst = false,
    /** Spilled bytes from which the drain uses a second thread (tests set 0 to exercise it). */
    private readonly parallelDrainMinBytes = 32 * 1024 * 1024,
  ) {
    this.set = spillFirst ? undefined : new ByteSet(budget);
  }

  get spilled(): boolean {
    return this.parts !== undefined;
  }

  /** Every record goes to the partitions (spillFirst): a worker may write some of them for it (adopt). */
  get diskOnly(): boolean {
    return this.set === undefined;
  }

  /**
   * Partition files a worker wrote for the records after this thread's so
   * far, with the same seed and derived payloads: read after this thread's
   * files and before its later ones, as if written here in input order.
   */
  async adopt(files: WrittenParts): Promise<void> {
    if (this.set)
      throw new Error('personalize-batch: partitions adopted by a dedupe that holds keys in memory');
    const mine = this.parts ?? (await this.spill.partitions());
    await mine.close();
    this.earlier.push(mine, files);
    this.parts = await this.spill.partitions();
  }

  /**
   * Key bytes kbuf[ks, ke) with their hash (hashBytes, seed 0), and the
   * record's line lbuf[ls, le) without its newline. Whether to emit the line
   * now (false: a duplicate, or held on disk until drain()); a promise when
   * the call had to wait for the disk.
   */
  add(
    kbuf: Uint8Array,
    ks: number,
    ke: number,
    hash: number,
    lbuf: Uint8Array,
    ls: number,
    le: number,
  ): boolean | Promise<boolean> {
    if (this.set) {
      const r = this.set.add(kbuf, ks, ke, hash);
      if (r === true) return true;
      if (r === false) {
        this.duplicates++;
        return false;
      }
    }
    // The set is full, or there never was one (spillFirst): partitions from here on.
    if (!this.parts) return this.startSpill().then(() => this.toDisk(kbuf, ks, ke, hash, lbuf, ls, le));
    return this.toDisk(kbuf, ks, ke, hash, lbuf, ls, le);
  }

  /**
   * add() for a fast-path record whose line is derive.prefix + key +
   * derive.suffix: on disk it takes one byte instead of the whole line.
   */
  addDerived(kbuf: Uint8Array, ks: number, ke: number, hash: number): boolean | Promise<boolean> {
    return this.add(kbuf, ks, ke, hash, DERIVED, 0, 1);
  }

  /** Records of the fast path's lines cut and grouped in WebAssembly (PartitionSet.writeGrouped), every record on disk. */
  addGrouped(src: Uint8Array, ends: Int32Array, recs: Int32Array): Promise<void> | undefined {
    if (!this.parts)
      return this.startSpill().then(() => (this.parts as PartitionSet).writeGrouped(src, ends, recs));
    return this.parts.writeGrouped(src, ends, recs);
  }

  /** add() for a key and line given as strings (the line without its newline). */
  addString(key: string, line: string): boolean | Promise<boolean> {
    const klen = Buffer.byteLength(key);
    const llen = Buffer.byteLength(line);
    if (this.scratch.length < klen + llen) this.scratch = Buffer.allocUnsafe(2 * (klen + llen));
    const buf = this.scratch;
    buf.write(key, 0);
    buf.write(line, klen);
    return this.add(buf, 0, klen, hashBytes(buf, 0, klen), buf, klen, klen + llen);
  }

  private toDisk(
    kbuf: Uint8Array,
    ks: number,
    ke: number,
    hash: number,
    lbuf: Uint8Array,
    ls: number,
    le: number,
  ): boolean | Promise<boolean> {
    const w = (this.parts as PartitionSet).write(kbuf, ks, ke, hash, lbuf, ls, le);
    return w ? w.then(() => false) : false;
  }

  private async startSpill(): Promise<void> {
    const parts = await this.spill.partitions();
    const set = this.set;
    this.set = undefined;
    this.parts = parts;
    if (!set) return;
    for (const [buf, s, e] of set.keys()) {
      const w = parts.write(buf, s, e, hashBytes(buf, s, e), buf, e, e);
      if (w) await w;
    }
  }

  /** Lines held back on disk, deduplicated, as newline-terminated chunks; nothing if the budget was never reached. */
  async *drain(): AsyncGenerator<{ chunk: Buffer; lines: number }> {
    if (!this.parts) return;
    await this.parts.close();
    const parts = joinSets([...this.earlier, this.parts], this.parts.seed);
    let spilledBytes = 0;
    let fits = true;
    for (let i = 0; i < parts.files.length; i++) {
      spilledBytes += (parts.keyBytes[i] as number) + 3 * (parts.entries[i] as number);
      if (parts.cost(i) > this.budget) fits = false;
    }
    const count = (d: number) => {
      this.duplicates += d;
    };
    if (fits && spilledBytes >= this.parallelDrainMinBytes) {
      yield* drainTwoWays(parts, this.derive, count);
      return;
    }
    for await (const [part, unbounded, expect] of eachPartition(this.spill, parts, this.budget)) {
      const seen = new ByteSet(unbounded ? Number.MAX_SAFE_INTEGER : this.budget, expect);
      for await (const seg of part) {
        const r = drainPiece(seg, seen, this.derive);
        this.duplicates += r.duplicates;
        if (r.lines > 0) yield r;
      }
    }
  }
}

/**
 * One partition's files (`lines` lines in all), read whole and drained as
 * one in WebAssembly (core/drain.ts): the first line of each key, its
 * payload or prefix + key + suffix, in write order.
 */
export async function drainFiles(
  files: readonly string[],
  lines: number,
  table: DrainTable,
): Promise<{ chunk: Buffer; lines: number; duplicates: number }> {
  const segs: Buffer[] = [];
  for (const f of files) segs.push(await readFile(f));
  return table.drain(segs, lines);
}

/**
 * The drain on two cores: a worker thread takes every other partition while
 * this thread does the rest, their outputs yielded in partition order (the
 * same bytes every run). Used when no partition needs re-splitting and there
 * is enough to win back the worker's start-up (10M rows: the drain went
 * from about 1.9 s to 1 s).
 */
async function* drainTwoWays(
  parts: SpilledParts & { files: string[][] },
  derive: { prefix: Buffer; suffix: Buffer } | undefined,
  count: (duplicates: number) => void,
): AsyncGenerator<{ chunk: Buffer; lines: number }> {
  const order: number[] = [];
  for (let i = 0; i < parts.files.length; i++) if ((parts.entries[i] as number) > 0) order.push(i);
  const theirs = order.filter((_, k) => k % 2 === 1);
  const job: DrainJob = {
    paths: theirs.map((i) => parts.files[i] as string[]),
    lines: theirs.map((i) => parts.entries[i] as number),
    derive: derive && { prefix: new Uint8Array(derive.prefix), suffix: new Uint8Array(derive.suffix) },
  };
  const worker = startWorker('drain-worker', job);
  const inbox: DrainMessage[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  let finished = false;
  worker.on('message', (m: DrainMessage) => {
    inbox.push(m);
    wake?.();
  });
  worker.on('error', (err) => {
    failure = err;
    wake?.();
  });
  worker.on('exit', () => {
    finished = true;
    wake?.();
  });
  /** The worker's next partition, in its order (which is the partitions' order). */
  const next = async (): Promise<{ chunk: Buffer; lines: number; duplicates: number }> => {
    for (;;) {
      if (failure) throw failure;
      const m = inbox.shift();
      if (m?.kind === 'chunk') {
        worker.postMessage('ack');
        return { ...m, chunk: Buffer.from(m.chunk.buffer, m.chunk.byteOffset, m.chunk.byteLength) };
      }
      if (m || finished) throw new Error('personalize-batch: the drain worker stopped before it was done');
      await new Promise<void>((res) => {
        wake = res;
      });
      wake = undefined;
    }
  };
  const table = new DrainTable(derive);
  try {
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number;
      const r =
        k % 2 === 1
          ? await next()
          : await drainFiles(parts.files[i] as string[], parts.entries[i] as number, table);
      count(r.duplicates);
      if (r.lines > 0) yield { chunk: r.chunk, lines: r.lines };
    }
  } finally {
    await worker.terminate();
  }
}

/**
 * One piece of a partition: keeps each record whose key was not seen (a
 * marker line, with an empty payload, only marks its key).
 */
export function drainPiece(
  seg: Buffer,
  seen: ByteSet,
  derive: { prefix: Buffer; suffix: Buffer } | undefined,
): { chunk: Buffer; lines: number; duplicates: number } {
  // A derived line (key TAB 0x01) grows from key+3 to key+14 bytes: at most 4x.
  const r = { chunk: Buffer.allocUnsafe(seg.length * 4 + 64), lines: 0, duplicates: 0, at: 0 };
  drainInto(seg, seen, derive, r);
  return { chunk: r.chunk.subarray(0, r.at), lines: r.lines, duplicates: r.duplicates };
}

/**
 * drainPiece's loop, writing at `r.at` in `r.chunk` (room for 4 times the
 * piece) and counting in `r`. A plain function with the loop inline: it runs
 * once per spilled record.
 */
function drainInto(
  seg: Buffer,
  seen: ByteSet,
  derive: { prefix: Buffer; suffix: Buffer } | undefined,
  r: { chunk: Buffer; lines: number; duplicates: number; at: number },
): void {
  const out = r.chunk;
  const n = seg.length;
  let at = r.at;
  let lines = 0;
  let duplicates = 0;
  let p = 0;
  while (p < n) {
    let tab = -1;
    let i = p;
    for (; i < n; i++) {
      const c = seg[i] as number;
      if (c === 10) break;
      if (c === 9 && tab === -1) tab = i;
    }
    const added = seen.add(seg, p, tab, hashBytes(seg, p, tab));
    if (added === 'full')
      throw new Error('personalize-batch: dedupe partition over budget after re-splitting');
    if (i > tab + 1) {
      if (!added) duplicates++;
      else if (derive && i === tab + 2 && seg[tab + 1] === 1) {
        const { prefix, suffix } = derive;
        for (let k = 0; k < prefix.length; k++) out[at++] = prefix[k] as number;
        for (let k = p; k < tab; k++) out[at++] = seg[k] as number;
        for (let k = 0; k < suffix.length; k++) out[at++] = suffix[k] as number;
        lines++;
      } else {
        for (let k = tab + 1; k < i; k++) out[at++] = seg[k] as number;
        out[at++] = 10;
        lines++;
      }
    }
    p = i + 1;
  }
  r.at = at;
  r.lines += lines;
  r.duplicates += duplicates;
}

interface Group {
  items: Set<string>;
  filterValues: Record<string, string> | undefined;
}

/** Estimated heap bytes for one string held in a Set or Map. */
function stringCost(s: string): number {
  return 2 * s.length + 80;
}

/**
 * Groups unsorted (user, item) rows into one personalized-ranking record per
 * user, items in first-seen order without repeats. Past the budget the
 * groups are spilled to hash partitions and merged per partition at the end.
 */
export class Grouper {
  duplicates = 0;
  private groups = new Map<string, Group>();
  private cost = 0;
  private parts: PartitionSet | undefined;

  constructor(
    private readonly spill: SpillDir,
    private readonly budget: number,
  ) {}

  get spilled(): boolean {
    return this.parts !== undefined;
  }

  add(user: string, item: string, fv: Record<string, string> | undefined): Promise<void> | undefined {
    let g = this.groups.get(user);
    if (!g) {
      g = { items: new Set(), filterValues: fv };
      this.groups.set(user, g);
      this.cost += stringCost(user) + 120;
    }
    if (g.items.has(item)) this.duplicates++;
    else {
      g.items.add(item);
      this.cost += stringCost(item);
    }
    return this.cost > this.budget ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    this.parts ??= await this.spill.partitions();
    for (const [user, g] of this.groups) {
      const key = JSON.stringify(user).slice(1, -1);
      const w = this.parts.writeString(key, JSON.stringify([[...g.items], g.filterValues ?? null]));
      if (w) await w;
    }
    this.groups = new Map();
    this.cost = 0;
  }

  async *drain(): AsyncGenerator<BatchInput> {
    if (!this.parts) {
      for (const [user, g] of this.groups) yield record(user, g);
      this.groups = new Map();
      return;
    }
    await this.flush();
    await this.parts.close();
    for await (const [part] of eachPartition(this.spill, this.parts, this.budget)) {
      const merged = new Map<string, Group>();
      for await (const seg of part) {
        eachLine(seg, (ks, ke, ps, pe) => {
          const k = seg.toString('utf8', ks, ke);
          const [items, fv] = JSON.parse(seg.toString('utf8', ps, pe)) as [
            string[],
            Record<string, string> | null,
          ];
          const g = merged.get(k);
          if (!g) {
            merged.set(k, { items: new Set(items), filterValues: fv ?? undefined });
            return;
          }
          for (const it of items) {
            if (g.items.has(it)) this.duplicates++;
            else g.items.add(it);
          }
        });
      }
      for (const [k, g] of merged) yield record(JSON.parse(`"${k}"`) as string, g);
    }
  }
}

function record(user: string, g: Group): BatchInput {
  const r: BatchInput = { userId: user, itemList: [...g.items] };
  if (g.filterValues) r.filterValues = g.filterValues;
  return r;
}
