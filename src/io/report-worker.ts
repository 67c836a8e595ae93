import { parentPort, workerData } from 'node:worker_threads';
import { CountTable } from '../stages/report/counts.js';
import type { PartitionMaker, TableParts } from '../stages/report/joined.js';
import { type PieceResult, PieceTally } from '../stages/report/scan.js';
import { type PieceReply, type PieceRequest, pieceBytes } from './piece-lane.js';
import { PartitionSet } from './spill.js';

/**
 * Worker entry: one lane of the report's pass (stages/report/lanes.ts).
 * Pieces arrive as slots of the shared ring (or transferred buffers) and
 * are tallied in order with this lane's own count tables; each piece's
 * result goes back for the main thread to add up in the pieces' order. At
 * `end` the tables go to partition files of their own in the run's spill
 * folder (one seed for every lane), for the main thread to join.
 */

export interface TallySetup {
  slots: SharedArrayBuffer[];
  /** This lane's share of --memory-budget: half each for keys and items. */
  budget: number;
  /** What bounds the items' direct counters: half the whole budget, as on the main thread. */
  directBudget: number;
  /** The run's spill folder and a file prefix of this lane's own. */
  dir: string;
  prefix: string;
}

export type TallyRequest = PieceRequest | { end: true };

export interface LaneTables {
  keys: TableParts;
  items: TableParts;
  /** The list lengths' (value, count) pairs. */
  lengths: number[];
}

export type TallyReply = PieceReply<PieceResult> | { ended: LaneTables } | { endError: string };

const port = parentPort;
if (!port) throw new Error('report-worker: not started as a worker');
const setup = workerData as TallySetup;
let sets = 0;
const maker: PartitionMaker = {
  partitions: async (seed = 0, count, weigh, queued) =>
    new PartitionSet(setup.dir, `${setup.prefix}-${sets++}`, seed, count, weigh, queued),
};
const tally = new PieceTally(
  new CountTable(maker, setup.budget / 2, setup.directBudget),
  new CountTable(maker, setup.budget / 2, setup.directBudget),
  undefined,
);
const slots = setup.slots.map((s) => Buffer.from(s));

async function handle(m: TallyRequest): Promise<void> {
  if ('end' in m) {
    try {
      tally.finish();
      const ended: LaneTables = {
        keys: await tally.keys.handOver(),
        items: await tally.items.handOver(),
        lengths: tally.lengths.pairs(),
      };
      const transfer = [ended.keys, ended.items].flatMap((t) =>
        t.dump ? [t.direct.buffer, t.dump.lines.buffer] : [t.direct.buffer],
      ) as ArrayBuffer[];
      port?.postMessage({ ended } satisfies TallyReply, transfer);
    } catch (err) {
      port?.postMessage({ endError: (err as Error).stack ?? String(err) } satisfies TallyReply);
    }
    return;
  }
  try {
    const piece = pieceBytes(m, slots);
    const result = await tally.piece(piece);
    port?.postMessage(
      { id: m.id, result } satisfies TallyReply,
      result.scores.map((x) => x.buffer as ArrayBuffer),
    );
  } catch (err) {
    port?.postMessage({ id: m.id, error: (err as Error).stack ?? String(err) } satisfies TallyReply);
  }
}

// One message at a time, in order: a piece that waits for a partition file holds the next one back.
let chain = Promise.resolve();
port.on('message', (m: TallyRequest) => {
  chain = chain.then(() => handle(m));
});
