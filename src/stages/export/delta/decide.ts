import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { ByteIndex, hashBytes } from '../../../core/byteset.js';
import { csvCell } from '../../../core/csv-cell.js';
import { ListDigest } from '../../../core/delta.js';
import { decodeString } from '../../../core/out-lines.js';
import { PbError } from '../../../errors.js';
import { eachPartition, type SpillDir, type SpilledParts } from '../../../io/spill.js';
import {
  PAYLOAD,
  payloadA,
  payloadB,
  payloadNumber,
  TYPE_ERROR,
  TYPE_OK,
  TYPE_PREV,
  TYPE_USER,
} from './keys.js';

const TAB = 9;
const LF = 10;

/** Keys by what --since found. */
export interface DeltaCounts {
  new: number;
  changed: number;
  unchanged: number;
  removed: number;
  /** Keys in PREV whose current line is an error: kept, not removed (the errors file lists them). */
  failed: number;
}

export interface DecideSettings {
  prev: string;
  /** PREV is csv-long, which writes no row for a key with no ids: such a key is not new. */
  prevLong: boolean;
  budget: number;
  escapeFormulas: boolean;
  /** REMOVED's line end: the export's (--line-ending). */
  eol: string;
  /**
   * --users with --users-required: the users file's keys are in the
   * partitions too, and a PREV key the file lacks now is removed, as the
   * full export would drop it.
   */
  usersRequired: boolean;
}

/** Where each partition's removed keys lie in one thread's removed file: [partition, start, end). */
export type RemovedSegments = [number, number, number][];

/** One thread's share of step 2: its counts and where its partitions' removed keys are in its file. */
export interface DecidedShare {
  counts: DeltaCounts;
  segments: RemovedSegments;
}

/**
 * Step 2, one partition at a time: per key, new, changed, unchanged or
 * removed. A new or changed key's current line gets its bit; a removed
 * key's name goes to `removedPath` (one CSV cell a line, no header). Only
 * the partitions `mine` takes (two threads share the partitions, each
 * with its own removed file; an error says which partition it met).
 */
export async function decideDelta(
  spill: SpillDir,
  parts: SpilledParts,
  write: Uint8Array,
  removedPath: string,
  s: DecideSettings,
  mine: (i: number) => boolean = () => true,
): Promise<DecidedShare> {
  const counts: DeltaCounts = { new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 };
  const segments: RemovedSegments = [];
  const out = createWriteStream(removedPath);
  let at = 0;
  try {
    for (let i = 0; i < parts.paths.length; i++) {
      if (parts.entries[i] === 0 || !mine(i)) continue;
      const start = at;
      try {
        // A quarter of the budget for the reload estimate: the digests, line numbers and PREV's key names take the rest.
        for await (const [part, , expect] of eachPartition(spill, onlyPartition(parts, i), s.budget / 4)) {
          const removed = (await decidePartition(part, expect, write, counts, s)).join('');
          at += Buffer.byteLength(removed);
          if (removed.length > 0 && !out.write(removed)) await once(out, 'drain');
        }
      } catch (err) {
        throw Object.assign(err as Error, { partition: i });
      }
      if (at > start) segments.push([i, start, at]);
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { counts, segments };
}

/** Partition i of `parts` alone (the others read as empty, their files left to whoever takes them). */
function onlyPartition(parts: SpilledParts, i: number): SpilledParts {
  const entries = parts.entries.map((n, j) => (j === i ? n : 0));
  return { ...parts, entries, cost: (j) => parts.cost(j) };
}

async function decidePartition(
  part: AsyncIterable<Buffer>,
  expect: { keys: number; keyBytes: number },
  write: Uint8Array,
  counts: DeltaCounts,
  s: DecideSettings,
): Promise<string[]> {
  const index = new ByteIndex(expect);
  const prevLine = new Float64Array(expect.keys).fill(-1);
  const cur = new Float64Array(expect.keys).fill(-1);
  const failed = new Uint8Array(expect.keys);
  // Keys of the users file (--users-required only): 1 when it has a row for the key.
  const inUsers = s.usersRequired ? new Uint8Array(expect.keys) : undefined;
  // Digests as two 32-bit halves each; REMOVED's key names come from the index's arena at the end.
  const prevD = new Uint32Array(2 * expect.keys);
  const curD = new Uint32Array(2 * expect.keys);
  for await (const seg of part) {
    eachEntry(seg, (ks, ke, ps) => {
      const id = index.add(seg, ks, ke, hashBytes(seg, ks, ke));
      const type = seg[ps];
      const n = payloadNumber(seg, ps);
      if (type === TYPE_ERROR) failed[id] = 1;
      else if (type === TYPE_USER) {
        if (inUsers) inUsers[id] = 1;
      } else if (type === TYPE_PREV) {
        if (prevLine[id] !== -1) throw twiceInPrev(s.prev, seg, ks, ke, prevLine[id] as number, n);
        prevLine[id] = n;
        prevD[2 * id] = payloadA(seg, ps);
        prevD[2 * id + 1] = payloadB(seg, ps);
      } else if (type === TYPE_OK) {
        if (cur[id] !== -1) throw twiceNow(seg, ks, ke);
        cur[id] = n;
        curD[2 * id] = payloadA(seg, ps);
        curD[2 * id + 1] = payloadB(seg, ps);
      }
    });
  }
  const gone = new Uint8Array(index.size);
  let anyGone = false;
  for (let id = 0; id < index.size; id++) {
    const c = cur[id] as number;
    if (c >= 0 && inUsers && inUsers[id] === 0) {
      // Not in the users file: the full export drops its rows, so it is as if the sources lacked it
      // (in PREV: removed, the tool must drop it too; else nothing to write).
      if (prevLine[id] !== -1) {
        counts.removed++;
        gone[id] = 1;
        anyGone = true;
      }
    } else if (c >= 0) {
      const same = prevD[2 * id] === curD[2 * id] && prevD[2 * id + 1] === curD[2 * id + 1];
      if (
        prevLine[id] === -1 &&
        !(s.prevLong && curD[2 * id] === EMPTY[0] && curD[2 * id + 1] === EMPTY[1])
      ) {
        counts.new++;
        setShared(write, c);
      } else if (prevLine[id] !== -1 && !same) {
        counts.changed++;
        setShared(write, c);
      } else counts.unchanged++;
    } else if (prevLine[id] !== -1) {
      if (failed[id] === 1) counts.failed++;
      else {
        counts.removed++;
        gone[id] = 1;
        anyGone = true;
      }
    }
  }
  const removed: string[] = [];
  if (anyGone)
    index.each((id, arena, ks, ke) => {
      if (gone[id] === 1) removed.push(`${csvCell(keyText(arena, ks, ke), s.escapeFormulas)}${s.eol}`);
    });
  return removed;
}

/**
 * Calls fn(keyStart, keyEnd, payloadStart) for each `key TAB payload LF`
 * line of a partition piece: spill.ts eachLine for the payload's fixed
 * width, which is stepped over instead of searched (its bytes were most
 * of eachLine's).
 */
function eachEntry(seg: Buffer, fn: (ks: number, ke: number, ps: number) => void): void {
  const n = seg.length;
  let p = 0;
  while (p < n) {
    let tab = p;
    // Keys are JSON string content: no raw TAB in them.
    while (tab < n && seg[tab] !== TAB) tab++;
    const pe = tab + 1 + PAYLOAD;
    if (pe >= n || seg[pe] !== LF)
      throw new Error('personalize-batch: a --since partition line is not whole');
    fn(p, tab, tab + 1);
    p = pe + 1;
  }
}

/** Bit n set with Atomics: two threads decide partitions whose lines share the bytes. */
function setShared(bits: Uint8Array, n: number): void {
  Atomics.or(bits, n >>> 3, 1 << (n & 7));
}

/** The digest of an empty list, as its two words. */
const EMPTY = (() => {
  const d = new ListDigest();
  return [d.wordA(), d.wordB()];
})();

function keyText(seg: Buffer, ks: number, ke: number): string {
  return decodeString(seg, ks, ke);
}

function twiceInPrev(
  prev: string,
  seg: Buffer,
  ks: number,
  ke: number,
  first: number,
  again: number,
): PbError {
  const [a, b] = first < again ? [first, again] : [again, first];
  return new PbError(
    'PB_INVALID_RECORD',
    `--since: the key ${JSON.stringify(keyText(seg, ks, ke))} is here and at line ${a} too, with other keys in between: PREV must hold each key once (give the export as it was written, or its .out files)`,
    { file: prev, line: b },
  );
}

function twiceNow(seg: Buffer, ks: number, ke: number): PbError {
  return new PbError(
    'PB_INVALID_RECORD',
    `--since: the key ${JSON.stringify(keyText(seg, ks, ke))} has more than one line with output in the sources: collect them first (collect keeps one line per key), then export --since`,
  );
}
