import type { Layout } from '../../core/out-convert.js';
import { isParquetFormat, outputHeader } from '../../core/out-convert.js';
import { PbError, usage } from '../../errors.js';
import { withCall } from '../../io/clients.js';
import { checkDocKind } from '../../io/doc-kind.js';
import { expandOutSources } from '../../io/out-reader.js';
import { isS3Uri } from '../../io/s3.js';
import { SpillDir } from '../../io/spill.js';
import { type LoadedCatalog, loadCatalog } from './catalog.js';
import { exportSince, resolveSince } from './delta/index.js';
import type { LineKeep } from './delta/keep.js';
import { ExportRun } from './export-run.js';
import { keyOnlyLayout } from './line-checks.js';
import { mapUsers } from './map-users/index.js';
import { finishMappedSince, openMappedSince } from './map-users/since.js';
import { summarizeMapUsers } from './map-users/summary.js';
import { type ExportOptions, type ResolvedExportOptions, resolveExportOptions } from './options.js';
import { ParquetExport } from './parquet.js';
import { PartSlice } from './part.js';
import { runPasses } from './passes.js';
import { checkExportPaths } from './paths.js';
import { dropStaleErrors, stdoutErrorsThere } from './side-file.js';
import { type ExportSummary, summarizeExport } from './summary.js';
import { type LoadedUsers, loadUsers, type UsersOverBudget } from './users-load.js';
import { stopWhenNoUserMatched } from './users-none.js';
import { UsersSpill, type UsersStats } from './users-spill.js';

export {
  type CatalogOptionNames,
  type CatalogSettings,
  checkCatalog,
  checkUsers,
  type UsersSettings,
} from './catalog.js';
export { type ConcatOptions, type ConcatSummary, concatParts } from './concat.js';
export { SINCE_DEFAULTS, type SinceSummary } from './delta/index.js';
export { checkInteractions, type MapUsersNames } from './map-users/interactions.js';
export { type MapUsersOptions, resolveMapUsers } from './map-users/options.js';
export {
  defaultErrorsPath,
  EXPORT_DEFAULTS,
  type ExportOptions,
  type ResolvedExportOptions,
  resolveExportOptions,
} from './options.js';
export type { PartSummary } from './part.js';
export type { PartOptions } from './part-options.js';
export {
  type OutputItem,
  type OutputRecord,
  type OutputSource,
  type ReadOutputEvent,
  type ReadOutputOptions,
  type ReadOutputSummary,
  readOutput,
} from './read-output.js';
export { SideFile } from './side-file.js';
export type { ExportSummary } from './summary.js';

/**
 * Exports batch outputs to CSV (one row per recommendation or per key) or
 * JSON Lines (one record per key), in one pass. csv-wide without --top
 * guesses the width from the first lines; if a later line is wider (or has
 * a column the first lines lacked), that pass is dropped, a pass measures
 * every line, and a last one writes. To stdout, where nothing can be taken
 * back, it measures first. Stdin is spooled to disk for these passes.
 * Memory: a few 1 MiB pieces and their outputs in flight per thread, the
 * longest line (bounded by maxLineLength), the catalog and the users table
 * (within memoryBudget), if any.
 */
export function exportOutputs(options: ExportOptions): Promise<ExportSummary> {
  return withCall(options, () => exportOutputsNow(options));
}

async function exportOutputsNow(options: ExportOptions): Promise<ExportSummary> {
  if (options.since !== undefined && isParquetFormat(options.format))
    throw usage(`--format ${options.format} writes a plain export: --since writes CSV or JSON Lines`);
  const errorsThere = await stdoutErrorsThere(options.output, options.errors);
  const since = resolveSince(options);
  // --map-users writes rows per user: its own --since compares them (map-users/since.ts).
  const summary =
    since && options.mapUsers === undefined
      ? await exportSince(options, since, exportKept)
      : await exportKept(options);
  // What the summary says of the errors file is then true of the file on disk.
  const stale = await dropStaleErrors(options.output, options.errors, summary.errorLines);
  if (stale) summary.warnings.push(stale);
  if (errorsThere && summary.errorLines > 0)
    summary.warnings.push(
      "replaced ./errors.jsonl, which was already there (a run's, collect's or an earlier export's): give --errors FILE to keep both",
    );
  return summary;
}

/** The export; with `keep` (export --since), of the kept lines of the sources only. */
async function exportKept(options: ExportOptions, keep?: LineKeep): Promise<ExportSummary> {
  const o = resolveExportOptions(options);
  const started = process.hrtime.bigint();
  // A file named directly is read whatever its name, so its content must be output.
  for (const src of o.sources) await checkDocKind(src, 'out');
  const sources = await expandOutSources(o.sources);
  await checkExportPaths(o, sources);
  const loaded = o.catalog ? await loadCatalog(o) : undefined;
  // With --map-users the users are the interactions file's, not the outputs': no filter by the outputs' keys.
  const users = o.users ? await loadUsers(o, o.map ? undefined : sources) : undefined;
  if (o.map) {
    if (users && !('catalog' in users))
      throw new PbError(
        'PB_LIMIT',
        'with --map-users the users file is joined in memory: it needs more than --memory-budget; raise --memory-budget, or keep only the users and --user-fields you need',
        { file: o.users },
      );
    const d = resolveSince(options);
    const since = d && (await openMappedSince(d, o, [...sources, o.map.file]));
    const r = await mapUsers(o, o.map, options, sources, { catalog: loaded, users }, since);
    const stats = users && usersStats(users);
    const summary = summarizeMapUsers(o, sources.length, r, { catalog: loaded, users: stats }, started);
    return since ? finishMappedSince(summary, since, o, options.stdout) : summary;
  }
  if (users && !('catalog' in users)) {
    if (o.part)
      throw new PbError(
        'PB_LIMIT',
        '--part with a users file past --memory-budget: the join on disk reads every source whole; raise --memory-budget, or keep only the --user-fields you need',
        { file: o.users },
      );
    return exportPartitioned(o, options, sources, loaded, users, started, keep);
  }
  const slice = o.part && (await PartSlice.open(sources, o.part, o.maxLineLength));
  const beforeCommit = stopWhenNoUserMatched(o, sources);
  const usersTable = users && { table: users.catalog, columns: users.columns, beforeCommit };
  const { run, passes } = await withParquet(o, options, async (eo) => {
    const run = new ExportRun(eo, options, loaded?.catalog, usersTable, keep);
    run.slice = slice;
    if (keep) run.sourcesShape = () => sourcesShape(eo, options, slice ? slice.sources : sources);
    return { run, passes: await runPasses(run, eo, options, slice ? slice.sources : sources) };
  });
  const stats = users && usersStats(users);
  const read = slice ? slice.sources.length : sources.length;
  const summary = summarizeExport(o, read, run, { catalog: loaded, users: stats }, passes, started);
  return slice ? { ...summary, part: slice.summary } : summary;
}

/**
 * export --since whose delta converts no line with recommendations: the columns the whole export
 * would have (its layout, and csv-wide's width without --top), measured over every line of the
 * sources, so that the header is the same every week and --rename finds its columns. One more read
 * of the sources, only for such a delta.
 */
async function sourcesShape(
  eo: ResolvedExportOptions,
  options: ExportOptions,
  sources: string[],
): Promise<{ layout: Layout | undefined; width: number }> {
  const m = await new ExportRun(eo, options, undefined, undefined).measure(sources);
  return { layout: m.layout, width: eo.top > 0 ? eo.top : Math.max(1, m.maxWidth) };
}

/** What the summary says of a users table held in memory. */
function usersStats(users: LoadedUsers): UsersStats {
  return {
    size: users.rowsWithKey ?? users.catalog.size,
    ...(users.rowsWithKey !== undefined && { filtered: true }),
    duplicates: users.catalog.duplicates,
    duplicateLines: users.duplicateLines,
    withoutId: users.withoutId,
    lines: users.lines,
    partitions: 0,
  };
}

/**
 * Up to this many groups of users, local sources are read once per group
 * (a read and a key scan of every line, on the workers); past it, their
 * lines are split to a file per group first (a parse of every line on the
 * main thread, and every byte written and read once more).
 */
const MAX_GROUP_PASSES = 8;

/**
 * The users join past --memory-budget: both sides partitioned on disk, the
 * export reading one partition of lines after another, each with its users'
 * table (see users-spill.ts). Rows come out in partition order.
 */
async function exportPartitioned(
  o: ResolvedExportOptions,
  options: ExportOptions,
  sources: string[],
  loaded: LoadedCatalog | undefined,
  over: UsersOverBudget,
  started: bigint,
  keep: LineKeep | undefined,
): Promise<ExportSummary> {
  const spill = new SpillDir(o.tmpDir);
  const beforeCommit = stopWhenNoUserMatched(o, sources);
  try {
    const join = await UsersSpill.create(o, spill, over);
    if (!keep && join.groupCount <= MAX_GROUP_PASSES && !sources.some((s) => s === '-' || isS3Uri(s))) {
      // Local sources are read once per group of users: the first pass checks and counts every line.
      const reads = Array.from({ length: join.groupCount }, () => sources).flat();
      const n = sources.length;
      const forSource = (i: number, misses: number) => join.forPass(Math.floor(i / n), misses);
      const users = { table: undefined, columns: join.columns, forSource, beforeCommit };
      const { run, passes } = await withParquet(o, options, async (eo) => {
        const run = new ExportRun(eo, options, loaded?.catalog, users);
        return { run, passes: await runPasses(run, eo, options, reads) };
      });
      return summarizeExport(o, sources.length, run, { catalog: loaded, users: join.stats }, passes, started);
    }
    const split = await join.splitOutputs(sources, options, loaded !== undefined, keep);
    const forSource = async (i: number) => ({ table: await join.load(i) });
    const users = { table: undefined, columns: join.columns, forSource, beforeCommit };
    const { run, passes } = await withParquet(o, options, async (eo) => {
      const run = new ExportRun(eo, options, loaded?.catalog, users);
      return { run, passes: await runPasses(run, eo, options, split.paths, split) };
    });
    // What the split settled never reached the passes: the counts are the input's.
    run.counts.lines += split.blank + split.invalid;
    run.counts.blank += split.blank;
    run.invalid += split.invalid;
    run.bytesRead = split.bytesRead;
    return summarizeExport(o, sources.length, run, { catalog: loaded, users: join.stats }, passes, started);
  } finally {
    await spill.dispose();
  }
}

/**
 * Runs the export as asked, or for --format parquet (parquet-wide) to a
 * temporary csv-long (csv-wide) file that then becomes the Parquet file(s)
 * (see parquet.ts).
 */
async function withParquet(
  o: ResolvedExportOptions,
  options: ExportOptions,
  pass: (eo: ResolvedExportOptions) => Promise<{ run: ExportRun; passes: number }>,
): Promise<{ run: ExportRun; passes: number }> {
  if (!o.parquet) return pass(o);
  const pq = await ParquetExport.open(o, o.parquet);
  try {
    const done = await pass(pq.csv);
    const run = done.run;
    const layout = run.layout ?? keyOnlyLayout(run.firstErrorKey);
    const written = await pq.finish(
      outputHeader(run.cfg(run.width), layout),
      { layout, width: run.width },
      run.counts.rows,
      run.bytesWritten,
      options.stdout,
    );
    run.parquet = written;
    run.files = written.files;
    run.leftOverPart = written.leftOver;
    run.bytesWritten = written.bytes;
    return done;
  } finally {
    await pq.dispose();
  }
}
