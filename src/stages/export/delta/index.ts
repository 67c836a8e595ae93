import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRecipe, sameRecipe } from '../../../core/delta.js';
import { usage } from '../../../errors.js';
import { checkDocKind } from '../../../io/doc-kind.js';
import { expandOutSources } from '../../../io/out-reader.js';
import { checkNotAnInput, trackTemporary, writeOutput } from '../../../io/output.js';
import { SpillDir } from '../../../io/spill.js';
import { StdinSpool } from '../../collect/sources.js';
import type { ExportOptions } from '../options.js';
import { resolveExportOptions } from '../options.js';
import type { ExportSummary } from '../summary.js';
import { keyCurrent } from './current.js';
import { decideDelta } from './decide.js';
import { KeptLines } from './keep.js';
import { DeltaKeys } from './keys.js';
import type { ResolvedSince } from './options.js';
import { joinPartitions, readPrevBeside } from './prev-thread.js';

export { resolveSince, SINCE_DEFAULTS, type SinceOptions, type SinceSummary } from './options.js';

/**
 * `export --since PREV --removed FILE`: a delta pass, then the plain export
 * over its result. PREV's keys and the sources' keys (each with a digest of
 * its ordered ids) go to hash partitions on disk; each partition alone says
 * per key new, changed, unchanged or removed; the ordinary export then
 * reads the sources and converts only the new and changed lines (and every
 * error line), skipping the others as it reads (keep.ts); REMOVED is
 * written last, once the export has succeeded. Memory: one partition (the
 * budget) and a bit per source line.
 */
export async function exportSince(
  options: ExportOptions,
  d: ResolvedSince,
  exportPlain: (o: ExportOptions, keep: KeptLines) => Promise<ExportSummary>,
): Promise<ExportSummary> {
  const o = resolveExportOptions(options);
  const spill = new SpillDir(o.tmpDir);
  const spool = new StdinSpool(o.tmpDir, options.stdin);
  const dir = await mkdtemp(join(o.tmpDir, 'personalize-batch-since-'));
  const tracked = trackTemporary(dir);
  try {
    const spooled = await Promise.all(o.sources.map((s) => spool.spool(s)));
    for (const src of spooled) await checkDocKind(src, 'out');
    const sources = await expandOutSources(spooled);
    // Over PREV, the output would hold only the changes: the next --since would find every key new.
    await checkNotAnInput(o.output, [...sources, d.since]);
    await checkNotAnInput(d.removed, [...sources, d.since]);
    const parts = await spill.partitions();
    const prevRead = readPrevBeside(
      {
        since: d.since,
        dir,
        scores: d.sinceScores,
        o: { top: o.top, escapeFormulas: o.escapeFormulas, maxLineLength: o.maxLineLength },
      },
      o,
    );
    const curRead = keyCurrent(sources, new DeltaKeys(parts, d.sinceScores), o);
    const [p, c] = await Promise.allSettled([prevRead, curRead]);
    // PREV's mistakes first, as when it was read first.
    if (p.status === 'rejected') throw p.reason;
    if (c.status === 'rejected') throw c.reason;
    const prev = p.value.read;
    const cur = c.value;
    await parts.close();
    const joined = joinPartitions(p.value, parts);
    if (prev.recipe && cur.recipe && !sameRecipe(prev.recipe, cur.recipe))
      throw usage(
        `--since ${d.since} is an export of another recipe (${describeRecipe(prev.recipe)}), the sources are ${describeRecipe(cur.recipe)}: give the previous export of the same recipe`,
      );
    const write = cur.always.sized(cur.lines);
    const removedTmp = join(dir, 'removed.csv');
    const counts = await decideDelta(spill, joined, write, removedTmp, {
      prev: d.since,
      prevLong: prev.format === 'csv-long',
      budget: d.memoryBudget,
      escapeFormulas: o.escapeFormulas,
    });
    const summary = await exportPlain(
      {
        ...options,
        sources,
        stdin: undefined,
        since: undefined,
        removed: undefined,
        sinceScores: undefined,
        memoryBudget: undefined,
      },
      new KeptLines(write, cur.lines),
    );
    const header = `${cur.recipe?.keyColumn ?? prev.recipe?.keyColumn ?? 'userId'}\r\n`;
    await writeOutput(d.removed, options.stdout, removedLines(header, removedTmp));
    return {
      ...summary,
      sources: sources.length,
      since: { ...counts, prev: d.since, prevFormat: prev.format, removedFile: d.removed },
    };
  } finally {
    await spill.dispose();
    await spool.dispose();
    await rm(dir, { recursive: true, force: true });
    tracked.done();
  }
}

async function* removedLines(header: string, path: string): AsyncGenerator<Buffer | string> {
  yield header;
  yield* createReadStream(path);
}
