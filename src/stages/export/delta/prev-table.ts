import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout } from 'node:timers/promises';
import { sameRecipe } from '../../../core/delta.js';
import { docKindOf } from '../../../core/doc-kind.js';
import { peekHead } from '../../../io/doc-kind.js';
import { fileBytes, findCut } from '../../../io/fast-parallel.js';
import { isS3Uri } from '../../../io/s3.js';
import { startWorker } from '../../../io/workers.js';
import type { ResolvedExportOptions } from '../options.js';
import type { ResolvedSince } from './options.js';
import { type PrevRead, type PrevReadOptions, prevReadOptions, readPrev } from './prev.js';
import { type SharedTable, TableKeys, type TableMemory, TableWriter, tableMemory } from './table.js';

/** A larger table than this is not tried (its word offsets must stay below 2^28: a slot holds one in 28 bits, table.ts TAG). */
const MAX_TABLE = 1 << 30;

/**
 * PREV's `.out` file from this size on is read on two threads (the tests
 * split small ones). The tests' `head`: this thread says it is that far in,
 * then waits for the worker's cut, or for it to decline; `split` counts the
 * reads a worker's part was taken into.
 */
export const PREV_SPLIT = { from: 8 * 1024 * 1024, head: -1, split: 0 };

/**
 * Where the two threads meet, BigInt64 words: AHEAD, the place this thread
 * has read to and a little more; CUT, 0 until one thread settles it: the
 * worker's cut (a line start), or -1 when this thread takes PREV whole.
 */
const AHEAD = 0;
const CUT = 1;
/** How far past its place this thread says it is (it reads 256 KiB at a time). */
const MARGIN = 1 << 20;

/** What io/prev-worker.ts is given: PREV, the table's memory, where the threads meet. */
export interface HalfJob {
  half: true;
  since: string;
  size: number;
  memory: TableMemory;
  meet: SharedArrayBuffer;
  scores: boolean;
  o: PrevReadOptions;
}

/** The worker's reply: its entries' start and end, how many, what PREV's part was; none (it declined); or it failed. */
export type HalfReply =
  | { start: number; top: number; keys: number; full: boolean; read: PrevRead }
  | { none: true }
  | { failed: true };

/** The arena word where the worker's entries start, for a cut at byte `cut`: the arena shared as the bytes are. */
function arenaCut(m: TableMemory, cut: number, size: number): number {
  return Math.floor((m.arena.byteLength / 4) * (cut / size));
}

/**
 * The worker's part of PREV into the table, once it runs: half of what the
 * main thread has not yet read (it started first: a thread takes 0.2 to
 * 0.3 s to start, and a fixed half left that thread idle while the worker
 * caught up), from the next line start; none when the main thread took it all.
 */
export async function readTheirHalf(h: HalfJob): Promise<HalfReply> {
  const meet = new BigInt64Array(h.meet);
  const ahead = Number(Atomics.load(meet, AHEAD));
  const cut = ahead < h.size ? findCut(h.since, h.size, (ahead + (h.size - ahead) / 2) / h.size) : -1;
  if (cut <= ahead || Atomics.compareExchange(meet, CUT, 0n, BigInt(cut)) !== 0n) {
    Atomics.compareExchange(meet, CUT, 0n, -1n);
    return { none: true };
  }
  const start = arenaCut(h.memory, cut, h.size);
  const writer = new TableWriter(h.memory, start, h.memory.arena.byteLength / 4);
  const read = await readHalf(h.since, writer, h.scores, h.o, cut, h.size);
  if (!read || writer.twice) return { failed: true };
  return { start, top: writer.top, keys: writer.keys, full: writer.full, read };
}

/**
 * This thread's bytes of PREV: from its start to the worker's cut once it is
 * known (the writer's arena then ends where the worker's starts), or to
 * PREV's end, taken whole when no cut came first. Throws (the table path
 * gives up) in the unlikely case that it read past a cut set after it.
 */
function untilCut(h: HalfJob, writer: TableWriter): (f: string) => AsyncGenerator<Buffer> {
  const meet = new BigInt64Array(h.meet);
  const end = (at: number) => {
    let cut = Number(Atomics.load(meet, CUT));
    if (cut === 0 && at >= h.size) cut = Number(Atomics.compareExchange(meet, CUT, 0n, -1n)) || -1;
    if (cut <= 0) {
      Atomics.store(meet, AHEAD, BigInt(at + MARGIN));
      return h.size;
    }
    if (at > cut) throw new Error('PREV read past the cut');
    writer.limit(arenaCut(h.memory, cut, h.size));
    return cut;
  };
  return (f) => fileBytes(f, 0, end);
}

type Settings = HalfJob['o'];

/** PREV's bytes [from, to) into a writer; undefined when they are no table's (PREV's mistakes, a line starting with a BOM). */
export async function readHalf(
  since: string,
  writer: TableWriter,
  scores: boolean,
  o: Settings,
  from: number,
  to: number,
  open: (f: string) => AsyncIterable<Buffer> = (f) => fileBytes(f, from, to),
): Promise<PrevRead | undefined> {
  // At the file's start a BOM is dropped: past it, a line so starting is not the partition path's line.
  if (from > 0 && startsWithBom(since, from)) return undefined;
  try {
    return await readPrev(since, new TableKeys(writer, scores), o, open);
  } catch (err) {
    return aborted(err);
  }
}

/** PREV's mistakes are the partition path's to tell (with their places); an abort stops here. */
function aborted(err: unknown): undefined {
  if ((err as Error)?.name === 'AbortError') throw err;
  return undefined;
}

function startsWithBom(path: string, at: number): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(3);
    readSync(fd, b, 0, 3, at);
    return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
  } finally {
    closeSync(fd);
  }
}

/**
 * PREV read into a table, on this thread and (a large local `.out` file,
 * workers allowed) a worker reading a part of it from a cut it sets into
 * the arena's matching part, both placing their keys in the one set of
 * slots; undefined when it does not fit the budget, holds a key twice, or
 * fails (the partition path then reads it and says why).
 */
export async function readPrevTable(
  d: ResolvedSince,
  o: ResolvedExportOptions,
): Promise<{ table: SharedTable; read: PrevRead } | undefined> {
  const memory = tableMemory(Math.min(MAX_TABLE, d.memoryBudget));
  const settings = prevReadOptions(o);
  const size = o.workers > 0 ? await splitSize(d.since) : undefined;
  let got: { regions: [number, number][]; keys: number; read: PrevRead } | undefined;
  if (size === undefined) {
    const writer = new TableWriter(memory, 0, memory.arena.byteLength / 4);
    let read: PrevRead;
    try {
      read = await readPrev(d.since, new TableKeys(writer, d.sinceScores), settings);
    } catch (err) {
      return aborted(err);
    }
    if (writer.full || writer.twice) return undefined;
    got = { regions: [[0, writer.top]], keys: writer.keys, read };
  } else {
    const job: HalfJob = {
      half: true,
      since: d.since,
      size,
      memory,
      meet: new SharedArrayBuffer(16),
      scores: d.sinceScores,
      o: settings,
    };
    got = await readSplit(job);
  }
  if (!got?.read.recipe) return undefined;
  const slots = memory.slots.byteLength / 4;
  const { regions, keys, read } = got;
  return { table: { arena: memory.arena, slots: memory.slots, mask: slots - 1, regions, keys }, read };
}

/** PREV on this thread and the worker (readTheirHalf): the two parts' regions, keys and read, or undefined. */
async function readSplit(
  job: HalfJob,
): Promise<{ regions: [number, number][]; keys: number; read: PrevRead } | undefined> {
  const worker = startWorker('prev-worker', job);
  const theirs = new Promise<HalfReply>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', () => resolve({ failed: true }));
    worker.once('exit', () => resolve({ failed: true }));
  });
  const writer = new TableWriter(job.memory, 0, job.memory.arena.byteLength / 4);
  const open = untilCut(job, writer);
  if (PREV_SPLIT.head >= 0) await headThenWait(job);
  const mine = await readHalf(job.since, writer, job.scores, job.o, 0, job.size, open);
  const other: HalfReply = mine ? await theirs : { failed: true };
  await worker.terminate();
  if (!mine || 'failed' in other || writer.full || writer.twice) return undefined;
  if ('none' in other) return { regions: [[0, writer.top]], keys: writer.keys, read: mine };
  if (other.full) return undefined;
  const a = mine.recipe;
  const b = other.read.recipe;
  if (a && b && !sameRecipe(a, b)) return undefined;
  PREV_SPLIT.split++;
  return {
    regions: [
      [0, writer.top],
      [other.start, other.top],
    ],
    keys: writer.keys + other.keys,
    read: { format: 'out', recipe: a ?? b, keys: mine.keys + other.read.keys },
  };
}

/** The tests' PREV_SPLIT.head: said to be that far into PREV, this thread waits for the worker to set the cut or decline. */
async function headThenWait(job: HalfJob): Promise<void> {
  const meet = new BigInt64Array(job.meet);
  Atomics.store(meet, AHEAD, BigInt(PREV_SPLIT.head));
  while (Atomics.load(meet, CUT) === 0n) await setTimeout(1);
}

/** The size of PREV when it is a local `.out` file, not gzipped, worth two threads; else undefined. */
async function splitSize(since: string): Promise<number | undefined> {
  if (isS3Uri(since)) return undefined;
  const st = await stat(since).catch(() => undefined);
  if (!st?.isFile() || st.size < PREV_SPLIT.from) return undefined;
  const head = await peekHead(since);
  if (!head || docKindOf(head) !== 'out') return undefined;
  const fd = openSync(since, 'r');
  try {
    const b = Buffer.alloc(2);
    readSync(fd, b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b ? undefined : st.size;
  } finally {
    closeSync(fd);
  }
}
