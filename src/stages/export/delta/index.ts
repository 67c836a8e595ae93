import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkMapped, checkSameRecipe } from '../../../core/delta.js';
import { checkDocKind } from '../../../io/doc-kind.js';
import { expandOutSources } from '../../../io/out-reader.js';
import { makeTempDir, trackTemporary } from '../../../io/output.js';
import { SpillDir, type SpilledParts } from '../../../io/spill.js';
import { StdinSpool } from '../../collect/sources.js';
import type { ExportOptions } from '../options.js';
import { resolveExportOptions } from '../options.js';
import { checkExportPaths } from '../paths.js';
import type { ExportSummary } from '../summary.js';
import { stopWhenNoKeyKept } from '../users-none.js';
import { type CurrentRead, keyCurrent } from './current.js';
import { type DecidedShare, type DecideSettings, type DeltaCounts, decideDelta } from './decide.js';
import { plainOptions, quietWhenUnchanged, sinceByTable, tableFits } from './fast.js';
import { KeptLines, type LineKeep } from './keep.js';
import { DeltaKeys } from './keys.js';
import type { ResolvedSince } from './options.js';
import { prevReadOptions } from './prev.js';
import { joinPartitions, openPrevSide, type PrevSide } from './prev-thread.js';
import { removedEol, removedHeader, writeRemoved } from './removed-users.js';
import { keyUsersFile } from './required.js';

export { resolveSince, SINCE_DEFAULTS, type SinceOptions, type SinceSummary } from './options.js';

/**
 * `export --since PREV --removed FILE`: a delta pass, then the plain export
 * over its result. PREV's keys and the sources' keys (each with a digest of
 * its ordered ids) go to hash partitions on disk; each partition alone says
 * per key new, changed, unchanged or removed; the ordinary export then
 * reads the sources and converts only the new and changed lines (and every
 * error line), skipping the others as it reads (keep.ts); REMOVED is
 * written last, once the export has succeeded. Memory: a partition on
 * each of two threads (half the budget each) and a bit per source line.
 */
export async function exportSince(
  options: ExportOptions,
  d: ResolvedSince,
  exportPlain: (o: ExportOptions, keep: LineKeep) => Promise<ExportSummary>,
): Promise<ExportSummary> {
  const o = resolveExportOptions(options);
  const spill = new SpillDir(o.tmpDir);
  const spool = new StdinSpool(o.tmpDir, options.stdin);
  const dir = await makeTempDir(o.tmpDir, 'personalize-batch-since-');
  const tracked = trackTemporary(dir);
  let prevSide: PrevSide | undefined;
  try {
    const spooled = await Promise.all(o.sources.map((s) => spool.spool(s)));
    for (const src of spooled) await checkDocKind(src, 'out');
    const sources = await expandOutSources(spooled);
    // Over PREV, the output would hold only the changes: the next --since would find every key new.
    await checkExportPaths(o, sources, d);
    const byTable = (await tableFits(o)) && (await sinceByTable(options, d, o, sources, exportPlain));
    if (byTable) return byTable;
    const parts = await spill.partitions();
    prevSide = await openPrevSide(
      {
        since: d.since,
        dir,
        scores: d.sinceScores,
        o: prevReadOptions(o),
      },
      o,
    );
    const prevRead = prevSide.read();
    const curKeys = new DeltaKeys(parts, d.sinceScores);
    const usersRequired = o.users !== undefined && o.usersRequired;
    // The users file's keys after the sources' (one writer at a time into the partitions).
    const curRead = keyCurrent(sources, curKeys, o).then(async (cur) => {
      if (usersRequired) await keyUsersFile(o, curKeys);
      return cur;
    });
    const [p, c] = await Promise.allSettled([prevRead, curRead]);
    // PREV's mistakes first, as when it was read first.
    if (p.status === 'rejected') throw p.reason;
    if (c.status === 'rejected') throw c.reason;
    const [prev, cur] = [p.value.read, c.value];
    await parts.close();
    const joined = joinPartitions(p.value, parts);
    checkMapped(d.since, prev.recipe, false);
    checkSameRecipe(d.since, prev.recipe, cur.recipe);
    const { write, counts, removed } = await decideBoth(prevSide, spill, joined, cur, dir, {
      prev: d.since,
      prevLong: prev.format === 'csv-long',
      budget: d.memoryBudget,
      escapeFormulas: o.escapeFormulas,
      eol: removedEol(o),
      usersRequired,
    });
    await prevSide.close();
    prevSide = undefined;
    await stopWhenNoKeyKept(o, sources, cur, counts);
    const summary = await exportPlain(plainOptions(options, sources), new KeptLines(write, cur.lines));
    const key = cur.recipe?.keyColumn ?? prev.recipe?.keyColumn ?? 'userId';
    const users = await writeRemoved(d, o, options.stdout, removed(removedHeader(key, o)), summary, dir);
    return {
      ...summary,
      warnings: quietWhenUnchanged(summary.warnings, counts),
      sources: sources.length,
      since: {
        ...counts,
        prev: d.since,
        prevFormat: prev.format,
        removedFile: d.removed,
        ...(users && { removedUsers: users }),
      },
    };
  } finally {
    await prevSide?.close();
    await spill.dispose();
    await spool.dispose();
    await rm(dir, { recursive: true, force: true });
    tracked.done();
  }
}

/**
 * Step 2 in two shares: PREV's side (its worker, or this thread for a
 * small PREV) decides the odd partitions, this thread the even ones, each
 * with a removed file of its own and the bits shared (set with Atomics). What the export keeps, the counts, and
 * REMOVED's lines in partition order.
 */
async function decideBoth(
  prev: PrevSide,
  spill: SpillDir,
  joined: SpilledParts,
  cur: CurrentRead,
  dir: string,
  settings: DecideSettings,
): Promise<{
  write: Uint8Array;
  counts: DeltaCounts;
  removed: (header: string) => AsyncGenerator<Buffer | string>;
}> {
  const write = new Uint8Array(new SharedArrayBuffer(Math.ceil(cur.lines / 8)));
  write.set(cur.always.sized(cur.lines));
  const mine = join(dir, 'removed-even.csv');
  const theirs = join(dir, 'removed-odd.csv');
  const { paths, entries, keyBytes, seed, files } = joined;
  // Two partitions in memory at once: half the budget each, so that the two stay within it.
  const half = { ...settings, budget: settings.budget / 2 };
  const shares = await Promise.allSettled([
    decideDelta(spill, joined, write, mine, half, (i) => i % 2 === 0),
    prev.decide({
      parts: { paths, entries, keyBytes, seed, files },
      write,
      removedPath: theirs,
      settings: half,
    }),
  ]);
  const [even, odd] = settled(shares) as [DecidedShare, DecidedShare];
  return {
    write,
    counts: sumCounts(even.counts, odd.counts),
    removed: (header) => removedLines(header, [mine, even], [theirs, odd]),
  };
}

/** Both shares' failures: the one of the lower partition, as one thread deciding them in order would have met first. */
function settled(shares: PromiseSettledResult<DecidedShare>[]): DecidedShare[] {
  const failed = shares
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as Error & { partition?: number })
    .sort((a, b) => (a.partition ?? -1) - (b.partition ?? -1));
  if (failed[0]) throw failed[0];
  return shares.map((r) => (r as PromiseFulfilledResult<DecidedShare>).value);
}

function sumCounts(a: DeltaCounts, b: DeltaCounts): DeltaCounts {
  return {
    new: a.new + b.new,
    changed: a.changed + b.changed,
    unchanged: a.unchanged + b.unchanged,
    removed: a.removed + b.removed,
    failed: a.failed + b.failed,
  };
}

/** REMOVED: the header, then each partition's removed keys in partition order, from whichever share decided it. */
async function* removedLines(
  header: string,
  ...shares: [string, DecidedShare][]
): AsyncGenerator<Buffer | string> {
  yield header;
  const segments = shares
    .flatMap(([path, share]) => share.segments.map(([i, start, end]) => ({ i, path, start, end })))
    .sort((a, b) => a.i - b.i);
  for (const { path, start, end } of segments) yield* createReadStream(path, { start, end: end - 1 });
}
