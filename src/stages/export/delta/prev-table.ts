import { closeSync, openSync, readSync } from 'node:fs';
import { stat } from 'node:fs/promises';
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

/** PREV's `.out` file from this size on is read on two threads, half each (the tests split small ones). */
export const PREV_SPLIT = { from: 8 * 1024 * 1024 };

/** What io/prev-worker.ts is given for the second half of PREV. */
export interface HalfJob {
  half: true;
  since: string;
  memory: TableMemory;
  /** The arena's words the worker writes: [start, end). */
  start: number;
  end: number;
  /** PREV's bytes [from, to). */
  from: number;
  to: number;
  scores: boolean;
  o: PrevReadOptions;
}

/** The worker's reply: its entries' end, how many, what PREV's part was; or nothing (it failed). */
export type HalfReply = { top: number; keys: number; full: boolean; read: PrevRead } | { failed: true };

/** The worker's half into the table; undefined for any reason to go the partition way. */
export async function readTheirHalf(h: HalfJob): Promise<HalfReply> {
  const writer = new TableWriter(h.memory, h.start, h.end);
  const read = await readHalf(h.since, writer, h.scores, h.o, h.from, h.to);
  if (!read || writer.twice) return { failed: true };
  return { top: writer.top, keys: writer.keys, full: writer.full, read };
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
): Promise<PrevRead | undefined> {
  // At the file's start a BOM is dropped: past it, a line so starting is not the partition path's line.
  if (from > 0 && startsWithBom(since, from)) return undefined;
  try {
    return await readPrev(since, new TableKeys(writer, scores), o, (f) => fileBytes(f, from, to));
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
 * workers allowed) a worker reading its second half into the arena's
 * second half, both placing their keys in the one set of slots; undefined
 * when it does not fit the budget, holds a key twice, or fails (the
 * partition path then reads it and says why).
 */
export async function readPrevTable(
  d: ResolvedSince,
  o: ResolvedExportOptions,
): Promise<{ table: SharedTable; read: PrevRead } | undefined> {
  const memory = tableMemory(Math.min(MAX_TABLE, d.memoryBudget));
  const words = memory.arena.byteLength / 4;
  const settings = prevReadOptions(o);
  const size = o.workers > 0 ? await splitSize(d.since) : undefined;
  const cut = size === undefined ? -1 : findCut(d.since, size, 0.5);
  let regions: [number, number][];
  let keys: number;
  let read: PrevRead | undefined;
  if (size === undefined || cut <= 0) {
    const writer = new TableWriter(memory, 0, words);
    try {
      read = await readPrev(d.since, new TableKeys(writer, d.sinceScores), settings);
    } catch (err) {
      return aborted(err);
    }
    if (writer.full || writer.twice) return undefined;
    regions = [[0, writer.top]];
    keys = writer.keys;
  } else {
    // The arena shared as the bytes are: each half's entries in words of its own.
    const mid = Math.floor((words * cut) / size);
    const job: HalfJob = {
      half: true,
      since: d.since,
      memory,
      start: mid,
      end: words,
      from: cut,
      to: size,
      scores: d.sinceScores,
      o: settings,
    };
    const worker = startWorker('prev-worker', job);
    const theirs = new Promise<HalfReply>((resolve) => {
      worker.once('message', resolve);
      worker.once('error', () => resolve({ failed: true }));
      worker.once('exit', () => resolve({ failed: true }));
    });
    const writer = new TableWriter(memory, 0, mid);
    const mine = await readHalf(d.since, writer, d.sinceScores, settings, 0, cut);
    const other: HalfReply = mine ? await theirs : { failed: true };
    await worker.terminate();
    if (!mine || 'failed' in other || writer.full || writer.twice || other.full) return undefined;
    const a = mine.recipe;
    const b = other.read.recipe;
    if (a && b && !sameRecipe(a, b)) return undefined;
    read = { format: 'out', recipe: a ?? b, keys: mine.keys + other.read.keys };
    regions = [
      [0, writer.top],
      [mid, other.top],
    ];
    keys = writer.keys + other.keys;
  }
  if (!read.recipe) return undefined;
  const slots = memory.slots.byteLength / 4;
  return { table: { arena: memory.arena, slots: memory.slots, mask: slots - 1, regions, keys }, read };
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
