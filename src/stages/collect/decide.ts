import { ByteIndex, hashBytes } from '../../core/byteset.js';
import { FirstLines } from '../../core/firsts.js';
import { eachLine, eachPartition, joinSets, type ReadScratch, type SpillDir } from '../../io/spill.js';
import { setBit } from './bits.js';
import type { CollectProgress } from './events.js';
import { TYPE_ERROR, TYPE_OK, WORKER_TYPE } from './keyer.js';
import type { Keyed } from './keys.js';
import type { CollectSummary } from './summary.js';

/** Decision bits of one thread's lines. */
export interface Bitsets {
  keepOut: Uint8Array;
  keepError: Uint8Array;
  missing: Uint8Array;
}

/** Counts of step 2, per partition added up. */
export interface Decision {
  duplicates: number;
  failedKeys: number;
  recovered: number;
  missing: number;
  inputDuplicates: number;
  unexpected: number;
}

/** What step 2 decided: bits by line number, this thread's lines and the worker's (numbered apart). */
export interface Decided {
  main: Bitsets;
  worker: Bitsets | undefined;
}

/**
 * Step 2: decides per key, one partition at a time (lines without a key are
 * kept already), and adds the counts to the summary. With a worker in step
 * 1, partition i is this thread's file i then the worker's (its lines come
 * after this thread's). Step 2 is this thread's alone: with the worker
 * reconciling every other partition beside it, the peak RSS at 50 M keys
 * was 341 MB against 263 MB, for no CPU saved (benchmarks/README.md).
 */
export async function decideKeys(
  spill: SpillDir,
  { keyer, worker }: Keyed,
  hasInput: boolean,
  budget: number,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<Decided> {
  const main = {
    keepOut: keyer.keepOut.take(keyer.ordinal),
    keepError: keyer.keepError.take(keyer.ordinal),
    missing: new Uint8Array(Math.ceil(keyer.inputOrdinal / 8)),
  };
  const theirs = worker && {
    keepOut: worker.keepOut,
    keepError: worker.keepError,
    missing: new Uint8Array(Math.ceil(worker.inputOrdinal / 8)),
  };
  const groups = theirs ? [main, theirs] : [main];
  // Partition i is this thread's file then the worker's.
  const parts = joinSets(worker ? [keyer.parts, worker.parts] : [keyer.parts], keyer.parts.seed);
  const keyed = parts.entries.reduce((a, n) => a + n, 0);
  let decided = 0;
  const state = new PartitionState();
  const firsts = new FirstLines();
  // Half the budget for the reload estimate, half for the per-key state arrays.
  for await (const [part, , expect] of eachPartition(spill, parts, budget / 2, 1, state.scratch)) {
    const r = firsts.start(expect.keys, expect.keyBytes)
      ? await decideFirsts(part, firsts, groups, hasInput)
      : await decidePartition(part, state.take(expect), groups, hasInput);
    decided += expect.keys;
    progress.decided(decided, keyed);
    s.duplicates += r.duplicates;
    s.failedKeys += r.failedKeys;
    s.recovered += r.recovered;
    s.missing += r.missing;
    s.inputDuplicates += r.inputDuplicates;
    s.unexpected += r.unexpected;
  }
  return { main, worker: theirs };
}

/** Counts of a partition, none yet. */
function noDecision(): Decision {
  return { duplicates: 0, failedKeys: 0, recovered: 0, missing: 0, inputDuplicates: 0, unexpected: 0 };
}

/** Step 2 for one partition in WebAssembly (core/firsts.ts): the same decisions as decidePartition. */
export async function decideFirsts(
  part: AsyncIterable<Buffer>,
  firsts: FirstLines,
  groups: Bitsets[],
  hasInput: boolean,
): Promise<Decision> {
  for await (const seg of part) firsts.add(seg);
  const r = firsts.result();
  const d = noDecision();
  d.duplicates = r.duplicates;
  d.inputDuplicates = r.inputDuplicates;
  settle(r.places, r.keys, groups, hasInput, d);
  return d;
}

/**
 * Step 2 for one partition: per key, which line is kept, which error
 * reported, which input missing. A line's place is its number times two
 * plus its thread (1: the worker's), so the first line read wins whichever
 * thread numbered it. The JavaScript way, for a partition too large for
 * the WebAssembly module's memory.
 */
export async function decidePartition(
  part: AsyncIterable<Buffer>,
  { index, places }: { index: ByteIndex; places: Float64Array },
  groups: Bitsets[],
  hasInput: boolean,
): Promise<Decision> {
  const d = noDecision();
  for await (const seg of part) {
    eachLine(seg, (ks, ke, ps, pe) => {
      // Per key: ok, error, input places at 4 id + 1, 2, 3 (as core/firsts.ts lays them out).
      const id = 4 * index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      let ord = 0;
      for (let i = ps + 1; i < pe; i++) ord = ord * 10 + ((seg[i] as number) - 48);
      const tag = seg[ps] as number;
      const type = tag & ~WORKER_TYPE;
      const at = 2 * ord + (tag & WORKER_TYPE ? 1 : 0);
      const k = type === TYPE_OK ? 1 : type === TYPE_ERROR ? 2 : 3;
      if (places[id + k] === -1) places[id + k] = at;
      // A second error line of a key (a rerun failed it again) is a repeat too: every line is counted.
      else if (k < 3) d.duplicates++;
      else d.inputDuplicates++;
    });
  }
  settle(places, index.size, groups, hasInput, d);
  return d;
}

/** Each key's decision from its places (ok, error, input at 4 id + 1, 2, 3; -1 none): bits set, counts added. */
function settle(places: Float64Array, keys: number, groups: Bitsets[], hasInput: boolean, d: Decision): void {
  for (let id = 0; id < keys; id++) {
    const o = places[4 * id + 1] as number;
    const e = places[4 * id + 2] as number;
    const i = places[4 * id + 3] as number;
    if (o >= 0) {
      setBit((groups[o % 2] as Bitsets).keepOut, Math.floor(o / 2));
      if (e >= 0) d.recovered++;
    } else if (e >= 0) {
      setBit((groups[e % 2] as Bitsets).keepError, Math.floor(e / 2));
      d.failedKeys++;
    } else if (i >= 0) {
      setBit((groups[i % 2] as Bitsets).missing, Math.floor(i / 2));
      d.missing++;
    }
    if (hasInput && i < 0 && (o >= 0 || e >= 0)) d.unexpected++;
  }
}

/**
 * Step 2's memory, used again from one partition to the next (grown to the
 * largest): the file's bytes, the index of its keys, the first line of each
 * kind per key. Fresh ones a partition (about 30 MB at 50 M keys) waited for
 * a garbage collection, several at a time, at the peak RSS.
 */
export class PartitionState {
  readonly scratch: ReadScratch = { buf: Buffer.alloc(0) };
  private index: ByteIndex | undefined;
  private places = new Float64Array(0);

  /** The index, empty, and 4 places a key (3 used), each -1 (entries bound the keys from above). */
  take(expect: { keys: number; keyBytes: number }): { index: ByteIndex; places: Float64Array } {
    if (this.index) this.index.clear();
    else this.index = new ByteIndex(expect);
    const n = 4 * expect.keys;
    if (this.places.length < n) this.places = new Float64Array(Math.ceil(1.25 * n));
    return { index: this.index, places: this.places.subarray(0, n).fill(-1) };
  }
}
