import { rm } from 'node:fs/promises';
import { ByteIndex, hashBytes } from '../../core/byteset.js';
import {
  eachLine,
  eachPartition,
  type PartitionSet,
  readPartition,
  reloadCost,
  type SpillDir,
} from '../../io/spill.js';
import { setBit } from './bits.js';
import type { CollectProgress } from './events.js';
import type { Bitsets, Decision, JoinedPart } from './key-worker.js';
import { TYPE_ERROR, TYPE_OK, WORKER_TYPE } from './keyer.js';
import type { Keyed } from './keys.js';
import type { CollectSummary } from './summary.js';

/** What step 2 decided: bits by line number, this thread's lines and the worker's (numbered apart). */
export interface Decided {
  main: Bitsets;
  worker: Bitsets | undefined;
}

/**
 * Step 2: decides per key, one partition at a time (lines without a key are
 * kept already), and adds the counts to the summary. With a worker thread,
 * partition i is this thread's file i then the worker's (its lines come
 * after this thread's), and the worker decides every other partition that
 * needs no split, setting bits in the same shared arrays.
 */
export async function decideKeys(
  spill: SpillDir,
  { keyer, worker }: Keyed,
  hasInput: boolean,
  budget: number,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<Decided> {
  const shared = worker !== undefined;
  const main = bitsets(
    keyer.keepOut.sized(keyer.ordinal),
    keyer.keepError.sized(keyer.ordinal),
    keyer.inputOrdinal,
    shared,
  );
  const theirs = worker && bitsets(worker.keepOut, worker.keepError, worker.inputOrdinal, true);
  const groups = theirs ? [main, theirs] : [main];
  const parts = joined(keyer.parts, worker?.parts);
  // Half the budget for the reload estimate (eachPartition's), half for the per-key state arrays.
  const limit = budget / 2;
  const keyed = parts.reduce((a, p) => a + p.keys, 0);
  let decided = 0;
  const count = (r: Decision) => {
    s.duplicates += r.duplicates;
    s.failedKeys += r.failedKeys;
    s.recovered += r.recovered;
    s.missing += r.missing;
    s.inputDuplicates += r.inputDuplicates;
    s.unexpected += r.unexpected;
  };
  let mine = parts;
  let elsewhere: Promise<Decision> | undefined;
  if (worker) {
    const fit = parts.filter((p) => reloadCost(p.keyBytes, p.keys) <= limit);
    const given = new Set(fit.filter((_, i) => i % 2 === 1));
    mine = parts.filter((p) => !given.has(p));
    elsewhere = worker.thread.decide({ parts: [...given], hasInput, groups }, (keys) => {
      decided += keys;
      progress.decided(decided, keyed);
    });
    // Settled below; a failure meanwhile must not go unhandled.
    elsewhere.catch(() => {});
  }
  for await (const [part, expect] of eachJoined(spill, mine, limit)) {
    count(await decidePartition(part, expect, groups, hasInput));
    decided += expect.keys;
    progress.decided(decided, keyed);
  }
  if (elsewhere) count(await elsewhere);
  return { main, worker: theirs };
}

/** Bit arrays for one thread's lines; in shared memory when two threads set them. */
function bitsets(keepOut: Uint8Array, keepError: Uint8Array, inputs: number, shared: boolean): Bitsets {
  const make = (n: number) => new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  if (!shared) return { keepOut, keepError, missing: make(Math.ceil(inputs / 8)) };
  const out = make(keepOut.length);
  out.set(keepOut);
  const err = make(keepError.length);
  err.set(keepError);
  return { keepOut: out, keepError: err, missing: make(Math.ceil(inputs / 8)) };
}

/** Partition i of each thread, together (this thread's file first); empty ones left out. */
function joined(
  a: PartitionSet,
  b: { paths: string[]; entries: number[]; keyBytes: number[] } | undefined,
): JoinedPart[] {
  const parts: JoinedPart[] = [];
  for (let i = 0; i < a.paths.length; i++) {
    const p: JoinedPart = { paths: [], keys: 0, keyBytes: 0 };
    for (const set of b ? [a, b] : [a]) {
      if (set.entries[i] === 0) continue;
      p.paths.push(set.paths[i] as string);
      p.keys += set.entries[i] as number;
      p.keyBytes += set.keyBytes[i] as number;
    }
    if (p.keys > 0) parts.push(p);
  }
  return parts;
}

/** A joined partition's lines, file after file. */
export async function* readJoined(paths: string[]): AsyncGenerator<Buffer> {
  for (const path of paths) yield* readPartition(path);
}

/**
 * The partitions' lines, one partition at a time; one over the limit is
 * first split again (both threads' files into one new set, in order).
 */
async function* eachJoined(
  spill: SpillDir,
  parts: JoinedPart[],
  limit: number,
): AsyncGenerator<[AsyncIterable<Buffer>, { keys: number; keyBytes: number }]> {
  for (const p of parts) {
    if (reloadCost(p.keyBytes, p.keys) <= limit) {
      yield [readJoined(p.paths), { keys: p.keys, keyBytes: p.keyBytes }];
      await Promise.all(p.paths.map((path) => rm(path, { force: true })));
      continue;
    }
    const pieces = Math.min(256, Math.max(2, Math.ceil((2 * reloadCost(p.keyBytes, p.keys)) / limit)));
    const sub = await spill.partitions(7919, pieces);
    for await (const seg of readJoined(p.paths)) {
      const waits: Promise<void>[] = [];
      eachLine(seg, (ks, ke, ps, pe) => {
        const w = sub.write(seg, ks, ke, hashBytes(seg, ks, ke, sub.seed), seg, ps, pe);
        if (w) waits.push(w);
      });
      await Promise.all(waits);
    }
    await sub.close();
    await Promise.all(p.paths.map((path) => rm(path, { force: true })));
    for await (const [part, , expect] of eachPartition(spill, sub, limit, 2)) yield [part, expect];
  }
}

/**
 * Step 2 for one partition: per key, which line is kept, which error
 * reported, which input missing. A line's place is its number times two
 * plus its thread (1: the worker's), so the first line read wins whichever
 * thread numbered it.
 */
export async function decidePartition(
  part: AsyncIterable<Buffer>,
  expect: { keys: number; keyBytes: number },
  groups: Bitsets[],
  hasInput: boolean,
): Promise<Decision> {
  const index = new ByteIndex(expect);
  // Entries bound the keys from above.
  const ok = new Float64Array(expect.keys).fill(-1);
  const err = new Float64Array(expect.keys).fill(-1);
  const inp = new Float64Array(expect.keys).fill(-1);
  const d: Decision = {
    duplicates: 0,
    failedKeys: 0,
    recovered: 0,
    missing: 0,
    inputDuplicates: 0,
    unexpected: 0,
  };
  for await (const seg of part) {
    eachLine(seg, (ks, ke, ps, pe) => {
      const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      let ord = 0;
      for (let i = ps + 1; i < pe; i++) ord = ord * 10 + ((seg[i] as number) - 48);
      const tag = seg[ps] as number;
      const type = tag & ~WORKER_TYPE;
      const at = 2 * ord + (tag & WORKER_TYPE ? 1 : 0);
      if (type === TYPE_OK) {
        if (ok[id] === -1) ok[id] = at;
        else d.duplicates++;
      } else if (type === TYPE_ERROR) {
        // A second error line of a key (a rerun failed it again) is a repeat too: every line is counted.
        if (err[id] === -1) err[id] = at;
        else d.duplicates++;
      } else if (inp[id] === -1) inp[id] = at;
      else d.inputDuplicates++;
    });
  }
  const set = groups.length > 1 ? setShared : setBit;
  for (let id = 0; id < index.size; id++) {
    const o = ok[id] as number;
    const e = err[id] as number;
    const i = inp[id] as number;
    if (o >= 0) {
      set((groups[o % 2] as Bitsets).keepOut, Math.floor(o / 2));
      if (e >= 0) d.recovered++;
    } else if (e >= 0) {
      set((groups[e % 2] as Bitsets).keepError, Math.floor(e / 2));
      d.failedKeys++;
    } else if (i >= 0) {
      set((groups[i % 2] as Bitsets).missing, Math.floor(i / 2));
      d.missing++;
    }
    if (hasInput && i < 0 && (o >= 0 || e >= 0)) d.unexpected++;
  }
  return d;
}

/** Two threads set bits in the same bytes: an atomic or, so neither loses the other's. */
function setShared(bits: Uint8Array, n: number): void {
  Atomics.or(bits, Math.floor(n / 8), 1 << (n % 8));
}
