import { ByteIndex, hashBytes, partitionOf } from '../../core/byteset.js';
import {
  eachLine,
  eachPartition,
  joinSets,
  PARTITION_COUNT,
  reloadCost,
  type SpillDir,
  type SpilledParts,
  type WrittenParts,
} from '../../io/spill.js';

export const COMMA = 44;
/** A key's bytes besides its own, at most: 8 in the arena, a table slot at 3/4 full (11), two counters (8). */
const PER_KEY = 27;
/** The key length a table is sized for; longer keys fill the arena first and spill sooner. */
export const KEY_GUESS = 16;
/** The partitions' seed: every lane's table writes with it, so their sets join partition by partition. */
export const SEED = 101;

/** Where a table's partitions are made: the run's SpillDir, or a lane's own prefix in its folder. */
export type PartitionMaker = Pick<SpillDir, 'partitions'>;

export type EachCount = (buf: Buffer, s: number, e: number, a: number, b: number) => void;

/** A table's keys in memory as partition lines (`key TAB a,b LF`), handed from a lane in one buffer. */
export interface Dump {
  lines: Buffer;
  keys: number;
  keyBytes: number;
  /** Set when the lines are grouped by partition of the tables' seed (each group in the table's order). */
  groups?: DumpGroups;
}

/** Where a grouped dump's partitions end (PARTITION_COUNT + 1 offsets from 0), their keys and key bytes. */
export interface DumpGroups {
  ends: Uint32Array;
  entries: Uint32Array;
  keyBytes: Uint32Array;
}

const EMPTY = Buffer.alloc(0);

/** A table at its end: its partitions on disk if it went there, the rest in a buffer, its direct counters. */
export interface TableParts {
  parts: WrittenParts | undefined;
  dump: Dump | undefined;
  direct: Uint32Array;
}

/** Keys and arena bytes a table of `budget` takes before it goes to disk. */
export function capacity(budget: number): { capKeys: number; capBytes: number } {
  const room = (budget * 3) / 4;
  let slots = 1024;
  while (slots * 2 * (8 + 0.75 * (PER_KEY - 11 + KEY_GUESS)) <= room) slots *= 2;
  const capKeys = Math.max(
    16,
    Math.min(Math.floor((slots * 3) / 4) - 1, Math.floor(room / (PER_KEY + KEY_GUESS))),
  );
  return { capKeys, capBytes: capKeys * (8 + KEY_GUESS) + 1 };
}

/** What report.json's figures read of the distinct counts: one table, or lanes' tables joined. */
export interface Counted {
  each(fn: EachCount): Promise<void>;
  /** Past the budget one table of it would hold (read after each() or distinct()). */
  readonly spilled: boolean;
  /** The keys with `a` above 0, in place of each() when nothing else is read (no --input): no call per key. */
  distinct?(): Promise<number>;
}

/**
 * The tables of a pass split over lanes, as one: this thread's (the first
 * pieces, the batch input's keys) and each worker lane's. `spilled` is what
 * one table of the budget would have said: past it, by the distinct keys
 * and their bytes (exactly so but for a table within one key of full).
 */
export class JoinedCounts implements Counted {
  spilled = false;

  constructor(
    private readonly spill: PartitionMaker,
    private readonly budget: number,
    private readonly local: { handOver(): Promise<TableParts>; readonly spilled: boolean },
    private readonly lanes: readonly TableParts[],
    /** The lanes, to join the partitions on (none: all on this thread). */
    private readonly joiners: readonly PartJoiner[] = [],
  ) {}

  async each(fn: EachCount): Promise<void> {
    const own = await this.local.handOver();
    const seen = await eachTables(this.spill, this.budget, [own, ...this.lanes], fn, this.joiners);
    const { capKeys, capBytes } = capacity(this.budget);
    this.spilled = this.local.spilled || seen.keys > capKeys || seen.keyBytes + 8 * seen.keys >= capBytes;
  }
}

/** The direct counters of several tables added up, visited by value (as one table's each() does). */
export function eachDirect(directs: readonly Uint32Array[], fn: EachCount): void {
  const text = Buffer.allocUnsafe(8);
  const n = Math.max(0, ...directs.map((d) => d.length));
  for (let v = 0; v < n; v++) {
    let c = 0;
    for (const d of directs) c += d[v] ?? 0;
    if (c > 0) fn(text, 0, writeWhole(text, 0, v), c, 0);
  }
}

/**
 * Several tables as one: the direct counters added up, then the keys, a
 * key's counts summed over every table that holds it. Held in one index
 * when no table went to disk and they fit `budget`; else each buffer's
 * lines go to partitions of the tables' seed, joined with those on disk,
 * and reloaded one partition at a time within `budget`.
 */
export async function eachTables(
  spill: PartitionMaker,
  budget: number,
  tables: readonly TableParts[],
  fn: EachCount,
  joiners: readonly PartJoiner[] = [],
): Promise<{ keys: number; keyBytes: number }> {
  eachDirect(
    tables.map((t) => t.direct),
    fn,
  );
  const seen = { keys: 0, keyBytes: 0 };
  const sets = tables.flatMap((t) => (t.parts ? [t.parts] : []));
  const dumps = tables.flatMap((t) => (t.dump ? [t.dump] : []));
  const keys = dumps.reduce((n, d) => n + d.keys, 0);
  const keyBytes = dumps.reduce((n, d) => n + d.keyBytes, 0);
  if (sets.length === 0 && reloadCost(keyBytes, keys) <= budget) {
    await reload(
      dumps.map((d) => d.lines),
      seen,
      fn,
    );
    return seen;
  }
  const parts = withHeld(joinSets(sets, SEED), dumps);
  if (joiners.length > 0 && fitsAhead(parts, budget)) {
    await joinAhead(parts, joiners, seen, fn);
    return seen;
  }
  for await (const [pieces] of eachPartition(spill, parts, budget)) {
    await reload(pieces, seen, fn);
  }
  return seen;
}

/**
 * Whether JOINS_AHEAD partitions and the one being visited fit the budget
 * together: then none is one eachPartition would split, and the joiners'
 * order (partition by partition) is its order.
 */
function fitsAhead(parts: SpilledParts, budget: number): boolean {
  for (let i = 0; i < parts.paths.length; i++)
    if ((parts.entries[i] as number) > 0 && (JOINS_AHEAD + 1) * parts.cost(i) > budget) return false;
  return true;
}

/** eachPartition's visit with the partitions joined by the joiners in turn, JOINS_AHEAD of them asked ahead. */
async function joinAhead(
  parts: SpilledParts,
  joiners: readonly PartJoiner[],
  seen: { keys: number; keyBytes: number },
  fn: EachCount,
): Promise<void> {
  const todo: number[] = [];
  for (let i = 0; i < parts.paths.length; i++) if ((parts.entries[i] as number) > 0) todo.push(i);
  // JOINS_AHEAD shared slots, each one a partition's join at most, taken in turn: a result transferred
  // per partition was 40 MB of garbage on 1 GB that no collection freed before the page was written.
  let size = 4;
  for (const i of todo)
    size = Math.max(size, joinedSize(parts.entries[i] as number, parts.keyBytes[i] as number));
  const slots = Array.from({ length: Math.min(JOINS_AHEAD, todo.length) }, () => new SharedArrayBuffer(size));
  const asked: Promise<void>[] = [];
  let next = 0;
  const ask = () => {
    const i = todo[next] as number;
    const p = (joiners[next % joiners.length] as PartJoiner).join(
      parts.files?.[i] ?? [parts.paths[i] as string],
      slots[next % slots.length] as SharedArrayBuffer,
    );
    // Awaited in order below; one that fails meanwhile must not be an unhandled rejection.
    p.catch(() => {});
    asked.push(p);
    next++;
  };
  while (next < todo.length && asked.length < slots.length) ask();
  for (let k = 0; asked.length > 0; k++) {
    await asked.shift();
    visit(readJoined(slots[k % slots.length] as SharedArrayBuffer), seen, fn);
    // The slot is free again only now.
    if (next < todo.length) ask();
  }
}

/**
 * The sets on disk and the dumps' lines as one set of partitions, the
 * dumps' lines of partition i last (in the dumps' order) as a set of them
 * written last would hold them, but in memory: 256 files made, written
 * and read back cost 0.5 s of CPU for 115,000 keys on 1 GB. A lane's dump
 * comes grouped by partition (its lane hashed it): its lines of partition
 * i are one slice of it. Another's lines are hashed here and copied once.
 */
function withHeld(joined: SpilledParts & { files: string[][] }, dumps: readonly Dump[]): SpilledParts {
  if (dumps.length === 0) return joined;
  const count = joined.files.length || PARTITION_COUNT;
  const files: (string | Buffer)[][] = Array.from({ length: count }, (_, i) => [...(joined.files[i] ?? [])]);
  const entries = [...joined.entries, ...new Array<number>(count - joined.entries.length).fill(0)];
  const keyBytes = [...joined.keyBytes, ...new Array<number>(count - joined.keyBytes.length).fill(0)];
  for (const dump of dumps) {
    const held = dump.groups?.ends.length === count + 1 ? slices(dump) : hashed(dump, count);
    for (let i = 0; i < count; i++) {
      const h = held[i];
      if (!h) continue;
      (files[i] as (string | Buffer)[]).push(h.lines);
      entries[i] += h.entries;
      keyBytes[i] += h.keyBytes;
    }
  }
  return {
    paths: files.map((f) => (typeof f[0] === 'string' ? f[0] : '')),
    files,
    entries,
    keyBytes,
    seed: SEED,
    cost: (i) => reloadCost(keyBytes[i] as number, entries[i] as number),
  };
}

type Held = { lines: Buffer; entries: number; keyBytes: number } | undefined;

/** A grouped dump's lines of each partition, as views (a worker's dump arrives as a Uint8Array: no Buffer methods). */
function slices(dump: Dump): Held[] {
  const g = dump.groups as DumpGroups;
  const { buffer, byteOffset } = dump.lines;
  return Array.from({ length: g.ends.length - 1 }, (_, i) => {
    const from = g.ends[i] as number;
    const to = g.ends[i + 1] as number;
    if (to === from) return undefined;
    const lines = Buffer.from(buffer, byteOffset + from, to - from);
    return { lines, entries: g.entries[i] as number, keyBytes: g.keyBytes[i] as number };
  });
}

/** A dump's lines of each partition, found by their keys' hashes, each partition's copied into a buffer. */
function hashed(dump: Dump, count: number): Held[] {
  const seg = dump.lines;
  const at: number[][] = Array.from({ length: count }, () => []);
  const held: Held[] = new Array(count).fill(undefined);
  const bytes = new Array<number>(count).fill(0);
  eachLine(seg, (ks, ke, _ps, pe) => {
    const i = partitionOf(hashBytes(seg, ks, ke, SEED), count);
    (at[i] as number[]).push(ks, pe + 1);
    bytes[i] += pe + 1 - ks;
    let h = held[i];
    if (!h) {
      h = { lines: EMPTY, entries: 0, keyBytes: 0 };
      held[i] = h;
    }
    h.entries++;
    h.keyBytes += ke - ks;
  });
  for (let i = 0; i < count; i++) {
    const h = held[i];
    if (!h) continue;
    h.lines = Buffer.allocUnsafe(bytes[i] as number);
    const spans = at[i] as number[];
    let n = 0;
    for (let k = 0; k < spans.length; k += 2) {
      const from = spans[k] as number;
      const e = spans[k + 1] as number;
      h.lines.set(seg.subarray(from, e), n);
      n += e - from;
    }
  }
  return held;
}

/**
 * One partition's keys, each once, with their counters summed: key i is
 * bytes[ends[i - 1], ends[i]) (from 0 for the first), in the order the
 * partition's lines first named them. Plain arrays of their own, so a lane
 * that joined a partition transfers them whole.
 */
export interface JoinedPart {
  bytes: Uint8Array;
  ends: Uint32Array;
  a: Uint32Array;
  b: Uint32Array;
}

/**
 * Joins partitions on other threads: the lanes, idle once the pass is
 * done, each reloading partitions while this thread visits the keys of
 * those before (on 1 GB, 1.9 M keys were 1.6 s of CPU here with the other
 * core idle).
 */
export interface PartJoiner {
  /**
   * The partition whose lines are in these files and buffers, in order,
   * joined (joinPart) and written into `into` (writeJoined); the files are removed.
   */
  join(files: readonly (string | Buffer)[], into: SharedArrayBuffer): Promise<void>;
}

/** Partitions asked of the joiners and not yet visited, at most: each holds a partition's keys twice at worst. */
const JOINS_AHEAD = 4;

/** Partition lines of one partition (or of tables that fit together) into one index, each key once. */
async function reload(
  pieces: AsyncIterable<Buffer> | Iterable<Buffer>,
  seen: { keys: number; keyBytes: number },
  fn: EachCount,
): Promise<void> {
  visit(await joinPart(pieces), seen, fn);
}

/** Bytes a partition's join takes in writeJoined's layout, at most (each line a new key). */
export function joinedSize(entries: number, keyBytes: number): number {
  return 4 + 12 * entries + keyBytes;
}

/** A JoinedPart into shared memory: its key count, then ends, a and b, then the key bytes. */
export function writeJoined(part: JoinedPart, into: SharedArrayBuffer): void {
  const n = part.ends.length;
  const words = new Uint32Array(into, 0, 1 + 3 * n);
  words[0] = n;
  words.set(part.ends, 1);
  words.set(part.a, 1 + n);
  words.set(part.b, 1 + 2 * n);
  new Uint8Array(into, 4 + 12 * n, part.bytes.length).set(part.bytes);
}

/** writeJoined's JoinedPart, as views of the shared memory. */
export function readJoined(from: SharedArrayBuffer): JoinedPart {
  const n = new Uint32Array(from, 0, 1)[0] as number;
  const ends = new Uint32Array(from, 4, n);
  const bytes = n > 0 ? (ends[n - 1] as number) : 0;
  return {
    ends,
    a: new Uint32Array(from, 4 + 4 * n, n),
    b: new Uint32Array(from, 4 + 8 * n, n),
    bytes: new Uint8Array(from, 4 + 12 * n, bytes),
  };
}

/** A JoinedPart's keys to fn, in its order. */
function visit(part: JoinedPart, seen: { keys: number; keyBytes: number }, fn: EachCount): void {
  const { ends, a, b } = part;
  const bytes = Buffer.from(part.bytes.buffer, part.bytes.byteOffset, part.bytes.byteLength);
  let s = 0;
  for (let i = 0; i < ends.length; i++) {
    const e = ends[i] as number;
    seen.keys++;
    seen.keyBytes += e - s;
    fn(bytes, s, e, a[i] as number, b[i] as number);
    s = e;
  }
}

/** Partition lines (`key TAB a,b`) into one index, each key once with its counters summed (the lanes run it too). */
export async function joinPart(pieces: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<JoinedPart> {
  const index = new ByteIndex();
  let a = new Uint32Array(1024);
  let b = new Uint32Array(1024);
  let keyBytes = 0;
  let known = 0;
  for await (const seg of pieces) {
    eachLine(seg, (ks, ke, ps, pe) => {
      const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      if (id >= a.length) {
        a = grown(a);
        b = grown(b);
      }
      // A new key takes the next id.
      if (id === known) {
        known++;
        keyBytes += ke - ks;
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
  const n = index.size;
  const bytes = new Uint8Array(keyBytes);
  const ends = new Uint32Array(n);
  let at = 0;
  index.each((id, arena, s, e) => {
    for (let i = s; i < e; i++) bytes[at++] = arena[i] as number;
    ends[id] = at;
  });
  return { bytes, ends, a: a.slice(0, n), b: b.slice(0, n) };
}

function grown(x: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const n = new Uint32Array(x.length * 2);
  n.set(x);
  return n;
}

/** A whole number's decimal digits into t at `at`; returns where they end. Digit by digit: a string per count was a garbage string per key spilled. */
export function writeWhole(t: Buffer, at: number, v: number): number {
  let digits = 1;
  for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
  let x = v;
  for (let i = at + digits - 1; i >= at; i--) {
    t[i] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return at + digits;
}
