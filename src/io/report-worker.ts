import { closeSync, fstatSync, openSync, readSync, rmSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { CountTable } from '../stages/report/counts.js';
import { joinPart, type PartitionMaker, type TableParts, writeJoined } from '../stages/report/joined.js';
import { type PieceResult, PieceTally } from '../stages/report/scan.js';
import { SharedKeyCounts, SharedKeys } from '../stages/report/shared-keys.js';
import { type PieceReply, type PieceRequest, pieceBytes } from './piece-lane.js';
import { PartitionSet } from './spill.js';

/**
 * Worker entry: one lane of the report's pass (stages/report/lanes.ts).
 * Pieces arrive as slots of the shared ring (or transferred buffers) and
 * are tallied in order with this lane's own count tables; each piece's
 * result goes back for the main thread to add up in the pieces' order. At
 * `end` the tables go to partition files of their own in the run's spill
 * folder (one seed for every lane), for the main thread to join; then it
 * joins the partitions the main thread asks for (`join`), one at a time.
 */

export interface TallySetup {
  slots: SharedArrayBuffer[];
  /** This lane's share of --memory-budget: half each for keys and items. */
  budget: number;
  /** What bounds the items' direct counters: half the whole budget, as on the main thread. */
  directBudget: number;
  /** The keys' table every lane adds to (SharedKeys; none: the lane's own table takes every key). */
  sharedKeys: WebAssembly.Memory | undefined;
  /** The run's spill folder and a file prefix of this lane's own. */
  dir: string;
  prefix: string;
}

export type TallyRequest =
  | PieceRequest
  | { end: true }
  /** A partition's files and held lines (stages/report/joined.ts PartJoiner), after `end`. */
  | { join: number; files: (string | Uint8Array)[]; into: SharedArrayBuffer };

export interface LaneTables {
  keys: TableParts;
  items: TableParts;
  /** The list lengths' (value, count) pairs. */
  lengths: number[];
}

export type TallyReply =
  | PieceReply<PieceResult>
  /** Sent once, when the worker can take pieces (its modules loaded, its tables made). */
  | { ready: true }
  | { ended: LaneTables }
  | { endError: string }
  | { joined: number }
  | { joined: number; joinError: string };

const port = parentPort;
if (!port) throw new Error('report-worker: not started as a worker');
const setup = workerData as TallySetup;
let sets = 0;
const maker: PartitionMaker = {
  partitions: async (seed = 0, count, weigh, queued) =>
    new PartitionSet(setup.dir, `${setup.prefix}-${sets++}`, seed, count, weigh, queued),
};
/** The lane's tally, let go once its tables are handed over (`end`). */
let tally: PieceTally<CountTable | SharedKeyCounts> | undefined = new PieceTally<
  CountTable | SharedKeyCounts
>(
  setup.sharedKeys
    ? // Past the shared table's room, a quarter of the lane's share: the shared table holds its half still.
      new SharedKeyCounts(new SharedKeys(setup.sharedKeys), new CountTable(maker, setup.budget / 4))
    : new CountTable(maker, setup.budget / 2, setup.directBudget),
  new CountTable(maker, setup.budget / 2, setup.directBudget),
  undefined,
);
const slots = setup.slots.map((s) => Buffer.from(s));

function tallying(): PieceTally<CountTable | SharedKeyCounts> {
  if (!tally) throw new Error('report-worker: a piece or end after end');
  return tally;
}

async function handle(m: TallyRequest): Promise<void> {
  if ('join' in m) return join(m.join, m.files, m.into);
  if ('end' in m) {
    try {
      const t = tallying();
      t.finish();
      const ended: LaneTables = {
        keys: await t.keys.handOver(),
        items: await t.items.handOver(),
        lengths: t.lengths.pairs(),
      };
      const transfer = [ended.keys, ended.items].flatMap((t) =>
        t.dump ? [t.direct.buffer, t.dump.lines.buffer] : [t.direct.buffer],
      ) as ArrayBuffer[];
      port?.postMessage({ ended } satisfies TallyReply, transfer);
      // The tables, spares and all, are on their way or on disk: the joins that follow need none of them.
      tally = undefined;
      collect();
    } catch (err) {
      port?.postMessage({ endError: (err as Error).stack ?? String(err) } satisfies TallyReply);
    }
    return;
  }
  try {
    const piece = pieceBytes(m, slots);
    const result = await tallying().piece(piece);
    port?.postMessage(
      { id: m.id, result } satisfies TallyReply,
      result.scores.map((x) => x.buffer as ArrayBuffer),
    );
  } catch (err) {
    port?.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) } satisfies TallyReply);
  }
}

/**
 * A full collection, once the tables are let go: nothing else would free
 * them before the joins end (a lane makes little garbage), and on 1 GB the
 * two lanes' tables, some 20 MiB, had set the run's peak during the joins.
 */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** One buffer the partition files are read into in turn (joinPart is done with each piece before the next). */
let scratch = Buffer.alloc(0);

/**
 * A partition joined. Its files read and removed by blocking calls: this
 * thread does nothing else meanwhile, and each of the thread pool's round
 * trips (stat, open, read, close, remove, for two files a partition) had
 * cost more than the read.
 */
async function join(id: number, files: (string | Uint8Array)[], into: SharedArrayBuffer): Promise<void> {
  try {
    writeJoined(await joinPart(piecesOf(files)), into);
    for (const f of files) if (typeof f === 'string') rmSync(f, { force: true });
    port?.postMessage({ joined: id } satisfies TallyReply);
  } catch (err) {
    port?.postMessage({ joined: id, joinError: (err as Error).stack ?? String(err) } satisfies TallyReply);
  }
}

function* piecesOf(files: (string | Uint8Array)[]): Generator<Buffer> {
  for (const f of files) {
    if (typeof f !== 'string') {
      yield Buffer.from(f.buffer, f.byteOffset, f.byteLength);
      continue;
    }
    const fd = openSync(f, 'r');
    try {
      const size = fstatSync(fd).size;
      if (scratch.length < size)
        scratch = Buffer.allocUnsafeSlow(Math.max(size, Math.ceil(scratch.length * 1.25)));
      let at = 0;
      while (at < size) {
        const n = readSync(fd, scratch, at, size - at, at);
        if (n === 0) break;
        at += n;
      }
      if (at > 0) yield scratch.subarray(0, at);
    } finally {
      closeSync(fd);
    }
  }
}

// One message at a time, in order: a piece that waits for a partition file holds the next one back.
let chain = Promise.resolve();
port.on('message', (m: TallyRequest) => {
  chain = chain.then(() => handle(m));
});
port.postMessage({ ready: true } satisfies TallyReply);
