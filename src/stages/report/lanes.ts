import { SlotRing } from '../../core/pool.js';
import { prefetch } from '../../io/input.js';
import { type OutItem, readOutItems } from '../../io/out-reader.js';
import { PieceLane } from '../../io/piece-lane.js';
import type { LaneTables, TallyReply, TallyRequest, TallySetup } from '../../io/report-worker.js';
import { checkAborted } from '../../io/scope.js';
import type { SpillDir } from '../../io/spill.js';
import type { PartJoiner } from './joined.js';
import type { ReportEvent, ResolvedReportOptions } from './options.js';
import type { PieceResult, PieceTally, Tally } from './scan.js';
import { SharedKeys } from './shared-keys.js';

export type { LaneTables } from '../../io/report-worker.js';

/** Pieces in flight at once: enough to keep both lanes busy, few enough to bound memory (as export). */
const IN_FLIGHT = 4;
/** Shared piece slots: the pieces in flight, the one being filled and the read-ahead. */
const SLOTS = IN_FLIGHT + 4;
/** Pieces tallied on this thread before the lanes start: a small input costs no worker start. */
const COLD = 2;
/** Pieces tallied here at most, past COLD, while no lane has started yet (then they wait in the lanes' queues). */
const WARM = 64;

type Entry =
  | { bad: Extract<OutItem, { kind: 'bad' }> }
  | { lines: readonly number[] | undefined; result: Promise<PieceResult> };

/**
 * One lane of the report's pass on a worker (io/report-worker.ts), a
 * PieceLane with a tally instead of export's conversion; end() asks for
 * the lane's tables.
 */
class ReportLane extends PieceLane<PieceResult> implements PartJoiner {
  private ended: { resolve: (t: LaneTables) => void; reject: (e: unknown) => void } | undefined;
  private readonly joins = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private nextJoin = 0;
  /** The worker has started: until then its pieces would only wait in its queue. */
  ready = false;

  constructor(setup: TallySetup, ring: SlotRing) {
    super('report-worker', setup, ring, {
      failed: 'report worker failed',
      stopped: 'a report worker stopped',
    });
  }

  protected override other(m: TallyReply): boolean {
    if ('ready' in m) {
      this.ready = true;
      return true;
    }
    if ('joined' in m) {
      const w = this.joins.get(m.joined);
      this.joins.delete(m.joined);
      if ('joinError' in m) w?.reject(this.error(m.joinError));
      else w?.resolve();
      return true;
    }
    if (!('ended' in m || 'endError' in m)) return false;
    if ('ended' in m) this.ended?.resolve(m.ended);
    else this.ended?.reject(this.error(m.endError));
    this.ended = undefined;
    return true;
  }

  protected override failed(err: unknown): void {
    this.ended?.reject(err);
    this.ended = undefined;
    for (const w of this.joins.values()) w.reject(err);
    this.joins.clear();
  }

  /** Tallies a piece in the worker. A plain buffer's memory moves there (do not touch it after). */
  tally(bytes: Buffer): Promise<PieceResult> {
    return this.post(bytes).result;
  }

  /** The lane's tables on disk and its list lengths, once every piece posted is tallied. */
  end(): Promise<LaneTables> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<LaneTables>((resolve, reject) => {
      this.ended = { resolve, reject };
    });
    this.worker.postMessage({ end: true } satisfies TallyRequest);
    return p;
  }

  /** A partition joined in the worker (after end()); the files are removed there. */
  join(files: readonly (string | Buffer)[], into: SharedArrayBuffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextJoin++;
    const p = new Promise<void>((resolve, reject) => this.joins.set(id, { resolve, reject }));
    // A held piece is a view of a whole dump, whose every byte a message would copy: its own bytes only.
    const held = files.map((f) => (typeof f === 'string' ? f : new Uint8Array(f)));
    this.worker.postMessage({ join: id, files: held, into } satisfies TallyRequest);
    return p;
  }
}

export interface PassContext {
  o: ResolvedReportOptions;
  spill: SpillDir;
  /** Worker lanes once the input is past COLD pieces; 0: every piece on this thread (--since). */
  workers: number;
  /** The lanes add the keys to one shared table (only presence is read: no --input). */
  shareKeys: boolean;
  onEvent: ((e: ReportEvent) => void) | undefined;
}

/** The pass's worker lanes once it is done: their tables, the lanes to join partitions on, and their stop. */
export interface PassLanes {
  tables: LaneTables[];
  /** The keys' table the lanes shared, when they started with one. */
  sharedKeys: SharedKeys | undefined;
  joiners: PartJoiner[];
  close(): Promise<void>;
}

/**
 * The report's one pass: every source's pieces, read ahead, tallied by
 * `local` on this thread for the first COLD pieces and then by the worker
 * lanes (the least busy takes each piece), their results added to `tally`
 * in the pieces' order. Returns each worker lane's tables, on disk, and
 * the lanes still running (to join partitions on): the caller closes them.
 */
export async function tallyOutputs(
  files: readonly string[],
  tally: Tally,
  local: PieceTally,
  ctx: PassContext,
): Promise<PassLanes> {
  const ring = new SlotRing(SLOTS, ctx.o.pieceSize);
  const lanes: ReportLane[] = [];
  const shared: { keys?: SharedKeys } = {};
  const close = async () => {
    await Promise.all(lanes.map((l) => l.close()));
  };
  try {
    const tables = await pass(files, tally, local, ctx, ring, lanes, shared);
    return { tables, sharedKeys: shared.keys, joiners: lanes, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function pass(
  files: readonly string[],
  tally: Tally,
  local: PieceTally,
  ctx: PassContext,
  ring: SlotRing,
  lanes: ReportLane[],
  shared: { keys?: SharedKeys },
): Promise<LaneTables[]> {
  const progress = { bytesRead: 0, last: Date.now(), pieces: 0 };
  for (const file of files) {
    ctx.onEvent?.({ type: 'source', file });
    tally.startFile(file);
    const queue: Entry[] = [];
    const read = readOutItems(file, {
      pieceSize: ctx.o.pieceSize,
      pool: ring,
      maxLineLength: ctx.o.maxLineLength,
      onBytes: (n) => {
        progress.bytesRead += n;
      },
    });
    for await (const item of prefetch(read, 2)) {
      checkAborted();
      if (item.kind === 'bad') queue.push({ bad: item });
      else {
        if (++progress.pieces > COLD && lanes.length < ctx.workers) {
          // Sized for the keys this thread has seen: 1.9 M of 8 bytes fit half of 64 MiB, not of 16.
          shared.keys ??= ctx.shareKeys
            ? SharedKeys.create(ctx.o.memoryBudget / 2, local.keys.meanKeyLength)
            : undefined;
          await startLanes(lanes, ctx, ring, shared.keys);
        }
        const early = progress.pieces <= COLD + WARM;
        queue.push(await dispatch(item.bytes, item.lineNumbers, lanes, local, ring, early));
      }
      while (queue.length >= IN_FLIGHT) await settle(queue.shift() as Entry, tally);
      if (ctx.onEvent && Date.now() - progress.last > 250) {
        progress.last = Date.now();
        ctx.onEvent({ type: 'progress', lines: tally.lines, bytesRead: progress.bytesRead });
      }
    }
    while (queue.length > 0) await settle(queue.shift() as Entry, tally);
  }
  return Promise.all(lanes.map((l) => l.end()));
}

async function startLanes(
  lanes: ReportLane[],
  ctx: PassContext,
  ring: SlotRing,
  sharedKeys: SharedKeys | undefined,
): Promise<void> {
  while (lanes.length < ctx.workers) {
    const { dir, prefix } = await ctx.spill.reserve();
    // Each lane a share of the budget: the lanes' tables are held at once.
    const budget = Math.floor(ctx.o.memoryBudget / ctx.workers);
    const directBudget = ctx.o.memoryBudget / 2;
    const setup = { slots: ring.slots, budget, directBudget, sharedKeys: sharedKeys?.memory, dir, prefix };
    lanes.push(new ReportLane(setup, ring));
  }
}

/**
 * A piece to the least busy lane that has started (`early`; later, any),
 * or tallied here when there is none (its wait for the disk awaited): a
 * worker takes some 100 ms to start, which this thread spent idle with the
 * pieces queued for it.
 */
async function dispatch(
  bytes: Buffer,
  lines: readonly number[] | undefined,
  lanes: readonly ReportLane[],
  local: PieceTally,
  ring: SlotRing,
  early: boolean,
): Promise<Entry> {
  let lane: ReportLane | undefined;
  for (const l of lanes) if ((l.ready || !early) && (!lane || l.busy < lane.busy)) lane = l;
  if (lane) {
    const result = lane.tally(bytes);
    // Awaited in order later; a lane that fails meanwhile must not be an unhandled rejection.
    result.catch(() => {});
    return { lines, result };
  }
  const r = await local.piece(bytes);
  ring.give(bytes);
  return { lines, result: Promise.resolve(r) };
}

async function settle(entry: Entry, tally: Tally): Promise<void> {
  if ('bad' in entry) tally.bad(entry.bad.line, entry.bad.reason);
  else tally.add(await entry.result, entry.lines);
  // The digest worker behind: wait rather than queue its batches (memory).
  await tally.digests.behind();
}
