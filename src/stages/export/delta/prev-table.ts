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
 * split small ones). `part`: the least bytes a thread takes at once; the
 * tests' `alternate`: the threads take parts in turn (the worker first),
 * so that both read several, whatever their speeds; `split` counts the
 * reads a worker took parts in, `parts` the parts it took.
 */
export const PREV_SPLIT = {
  from: 8 * 1024 * 1024,
  // Each part reads PREV's head again and starts its readers (milliseconds): 32 MiB makes fewer parts than 8 did, as balanced on 1 GB.
  part: 32 * 1024 * 1024,
  alternate: false,
  split: 0,
  parts: 0,
};

/**
 * Where the threads meet, BigInt64 words: NEXT, the first byte of PREV no
 * thread has taken (a line start); TURN, in the tests' `alternate`, the
 * thread whose turn it is to take a part (0 this one, 1 the worker), or -1
 * once one of them found nothing left.
 */
const NEXT = 0;
const TURN = 1;

/** What io/prev-worker.ts is given: PREV, the table's memory, where the threads meet. */
export interface HalfJob {
  half: true;
  since: string;
  size: number;
  memory: TableMemory;
  meet: SharedArrayBuffer;
  scores: boolean;
  o: PrevReadOptions;
  /** PREV_SPLIT's part and alternate, as this thread has them (the worker's module has its own). */
  part: number;
  alternate: boolean;
}

/** What a thread read of PREV: the arena's words its entries fill ([start, top, where the part starts]), its keys, each part's read. */
export interface HalfParts {
  regions: [number, number, number][];
  keys: number;
  reads: PrevRead[];
}

/** The worker's reply: its parts (none: the main thread took them all); or it failed. */
export type HalfReply = HalfParts | { failed: true };

/**
 * Arena words a block takes: a 64th of the arena, at most 1 MiB (at least
 * 4 KiB): at most one entry's words are left unused at a block's end, and
 * a block each thread has not filled at the end.
 */
function blockWords(m: TableMemory): number {
  return Math.min(1 << 18, Math.max(1 << 10, Math.floor(m.arena.byteLength / 4 / 64)));
}

/**
 * Parts of PREV into the table, taken one after the other from where the
 * other thread's last part ends, each a quarter of what is left (at least
 * PREV_SPLIT.part, 32 MiB), until none is left; undefined when a part is no
 * table's. Run by both threads: the worker starts 0.2 to 0.3 s after this
 * one, and this one reads slower (it keeps the event loop, and a file's
 * first pages cost more on these VMs), so a fixed cut, even one the worker
 * set once it ran, left one of the two reading alone for 0.1 to 0.3 s on
 * 1 GB, the other way round under load; the last parts here are a few
 * milliseconds each.
 */
export async function readParts(h: HalfJob, thread: 0 | 1): Promise<HalfParts | undefined> {
  const meet = new BigInt64Array(h.meet);
  const writer = new TableWriter(h.memory, 0, 0);
  writer.blocks(blockWords(h.memory));
  const reads: PrevRead[] = [];
  for (;;) {
    if (h.alternate) await myTurn(meet, thread);
    const got = take(h, meet);
    if (h.alternate) passTurn(meet, thread, got !== undefined);
    if (!got) return { regions: writer.regions(), keys: writer.keys, reads };
    const [from, to] = got;
    writer.part(from);
    const read = await readHalf(h.since, writer, h.scores, h.o, from, to);
    if (!read || writer.twice || writer.full) {
      // The table path is given up: the other thread need take no more, nor wait for a turn.
      Atomics.store(meet, NEXT, BigInt(h.size));
      passTurn(meet, thread, false);
      return undefined;
    }
    reads.push(read);
  }
}

/** The next part of PREV, [from, to) from line start to line start, taken from NEXT; undefined when none is left. */
function take(h: HalfJob, meet: BigInt64Array): [number, number] | undefined {
  for (;;) {
    const from = Number(Atomics.load(meet, NEXT));
    if (from >= h.size) return undefined;
    const want = from + Math.max(h.part, Math.floor((h.size - from) / 4));
    const cut = want >= h.size ? -1 : findCut(h.since, h.size, want / h.size);
    const to = cut <= from ? h.size : cut;
    if (Atomics.compareExchange(meet, NEXT, BigInt(from), BigInt(to)) === BigInt(from)) return [from, to];
  }
}

/** The tests' turns: this thread waits for its own (on the main thread without blocking the event loop). */
async function myTurn(meet: BigInt64Array, thread: 0 | 1): Promise<void> {
  for (;;) {
    const turn = Number(Atomics.load(meet, TURN));
    if (turn === thread || turn === -1) return;
    if (thread === 1) Atomics.wait(meet, TURN, BigInt(turn), 50);
    else await setTimeout(1);
  }
}

function passTurn(meet: BigInt64Array, thread: 0 | 1, took: boolean): void {
  Atomics.store(meet, TURN, took ? BigInt(1 - thread) : -1n);
  Atomics.notify(meet, TURN);
}

/** The worker's parts (io/prev-worker.ts). */
export async function readTheirParts(h: HalfJob): Promise<HalfReply> {
  return (await readParts(h, 1)) ?? { failed: true };
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
      part: PREV_SPLIT.part,
      alternate: PREV_SPLIT.alternate,
    };
    got = await readSplit(job);
  }
  if (!got?.read.recipe) return undefined;
  const slots = memory.slots.byteLength / 4;
  const { regions, keys, read } = got;
  return { table: { arena: memory.arena, slots: memory.slots, mask: slots - 1, regions, keys }, read };
}

/** PREV on this thread and the worker (readParts on each): the parts' regions, keys and read, or undefined. */
async function readSplit(
  job: HalfJob,
): Promise<{ regions: [number, number][]; keys: number; read: PrevRead } | undefined> {
  const worker = startWorker('prev-worker', job);
  const theirs = new Promise<HalfReply>((resolve) => {
    // A worker gone no longer takes a turn (the tests' `alternate`): this thread then takes them all.
    const gone = () => {
      passTurn(new BigInt64Array(job.meet), 1, false);
      resolve({ failed: true });
    };
    worker.once('message', resolve);
    worker.once('error', gone);
    worker.once('exit', gone);
  });
  const mine = await readParts(job, 0);
  const other: HalfReply = mine ? await theirs : { failed: true };
  await worker.terminate();
  if (!mine || 'failed' in other) return undefined;
  let recipe: PrevRead['recipe'];
  let read = 0;
  for (const r of [...mine.reads, ...other.reads]) {
    if (recipe && r.recipe && !sameRecipe(recipe, r.recipe)) return undefined;
    recipe ??= r.recipe;
    read += r.keys;
  }
  if (other.reads.length > 0) PREV_SPLIT.split++;
  PREV_SPLIT.parts += other.reads.length;
  // In PREV's order: by where each part starts, each thread's regions of a part in the order it wrote them.
  const regions = [...mine.regions, ...other.regions]
    .sort((x, y) => x[2] - y[2])
    .map(([s, e]): [number, number] => [s, e]);
  return { regions, keys: mine.keys + other.keys, read: { format: 'out', recipe, keys: read } };
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
