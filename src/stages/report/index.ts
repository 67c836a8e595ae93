import { REPORT_QUANTILES, type ReportJson } from '../../core/report.js';
import { renderReportHtml } from '../../core/report-html.js';
import { withCall } from '../../io/clients.js';
import { checkDocKind } from '../../io/doc-kind.js';
import { expandOutSources } from '../../io/out-reader.js';
import { checkOutputs, checkWritableLater, type NamedPath, writeOutput } from '../../io/output.js';
import { SpillDir } from '../../io/spill.js';
import { checkWholePrev } from '../export/delta/prev.js';
import { loadReportCatalog } from './catalog.js';
import { CountTable } from './counts.js';
import { ScoreDigests } from './digests.js';
import { assembleReport } from './figures.js';
import { countInputKeys } from './input.js';
import { type Counted, JoinedCounts } from './joined.js';
import { type PassLanes, tallyOutputs } from './lanes.js';
import { type ReportOptions, type ResolvedReportOptions, resolveReportOptions } from './options.js';
import { PieceTally, Tally } from './scan.js';
import { SharedCounted } from './shared-keys.js';
import {
  checkSinceRecipe,
  decideSince,
  readSince,
  type SinceCounts,
  SinceKeys,
  sincePartitions,
} from './since.js';

export type { Bin as ReportBin, RankScores, ReportJson, TopItem } from '../../core/report.js';
export { jsonBeside, REPORT_DEFAULTS, type ReportEvent, type ReportOptions } from './options.js';

/** report's return value: where the two files went, and what report.json holds. */
export interface ReportSummary {
  html: string;
  json: string;
  report: ReportJson;
}

/**
 * A report of batch outputs: report.html (one self-contained page, inline
 * SVG charts, each with its numbers in a table) and report.json beside it
 * (schemas/report.schema.json). One pass over the outputs (any layout,
 * local, folders, s3://) on the line parser's spans; distinct items and keys
 * exact within `memoryBudget` (half each), past it in partitions on disk;
 * score quantiles from t-digests on a worker. With `since`, PREV (read
 * first, so its mistakes show before the long pass) and the outputs' keys
 * meet in partitions on disk, one partition in memory at a time.
 */
export function report(options: ReportOptions): Promise<ReportSummary> {
  return withCall(options, () => reportNow(options));
}

async function reportNow(options: ReportOptions): Promise<ReportSummary> {
  const o = resolveReportOptions(options);
  const onEvent = options.onEvent;
  const spill = new SpillDir(o.tmpDir);
  let digests: ScoreDigests | undefined;
  let lanes: PassLanes | undefined;
  try {
    const catalog = o.catalog === undefined ? undefined : await loadReportCatalog(o);
    for (const s of o.sources) await checkDocKind(s, 'out');
    const files = await expandOutSources(o.sources);
    await checkReportPaths(o, files);
    const keys = new CountTable(spill, o.memoryBudget / 2);
    const items = new CountTable(spill, o.memoryBudget / 2);
    const sinceParts = o.since === undefined ? undefined : await sincePartitions(spill);
    const sinceKeys = sinceParts && new SinceKeys(sinceParts, o.k);
    if (sinceKeys) {
      onEvent?.({ type: 'step', step: 'since' });
      await readSince(o.since as string, sinceKeys, o.maxLineLength, o.rename);
    }
    digests = new ScoreDigests(4, REPORT_QUANTILES);
    const tally = new Tally(digests);
    const local = new PieceTally(keys, items, sinceKeys);
    onEvent?.({ type: 'step', step: 'outputs' });
    // --since stays on this thread: its partitions keep each key's first line by the lines' order.
    const workers = sinceKeys ? 0 : o.workers;
    // Without --input the keys' figures ask only which keys were seen: the lanes may share one table.
    const shareKeys = o.inputs.length === 0;
    lanes = await tallyOutputs(files, tally, local, { o, spill, workers, shareKeys, onEvent });
    const tables = lanes.tables;
    local.finish();
    tally.lengths.addPairs(local.lengths.pairs());
    for (const l of tables) tally.lengths.addPairs(l.lengths);
    let input: Awaited<ReturnType<typeof countInputKeys>> | undefined;
    if (o.inputs.length > 0) {
      onEvent?.({ type: 'step', step: 'input' });
      input = await countInputKeys(o.inputs, keys, o.maxLineLength);
    }
    // The digest worker's last batches and its quantiles while this thread and the lanes join the tables.
    const quantiles = digests.finish();
    quantiles.catch(() => {});
    let since: SinceCounts | undefined;
    if (sinceParts && sinceKeys) {
      checkSinceRecipe(o.since as string, sinceKeys, tally);
      await sinceParts.close();
      since = await decideSince(spill, sinceParts, o.memoryBudget / 4);
    }
    onEvent?.({ type: 'step', step: 'distinct' });
    const json = await assembleReport({
      o,
      files,
      tally,
      keys: counted(o, spill, keys, lanes, 'keys'),
      items: counted(o, spill, items, lanes, 'items'),
      catalog,
      input,
      quantiles,
      since,
    });
    await lanes.close();
    lanes = undefined;
    onEvent?.({ type: 'step', step: 'write' });
    await writeFiles(o, json);
    return { html: o.output, json: o.json, report: json };
  } finally {
    await lanes?.close();
    await digests?.close();
    await spill.dispose();
  }
}

/**
 * A kind's distinct counts as the figures read them: this thread's table
 * alone (no lanes), the keys' table the lanes shared, or every lane's
 * table (this thread's first) joined through partitions on disk, on the lanes.
 */
function counted(
  o: ResolvedReportOptions,
  spill: SpillDir,
  local: CountTable,
  lanes: PassLanes,
  which: 'keys' | 'items',
): Counted {
  const tables = lanes.tables.map((l) => l[which]);
  if (lanes.tables.length === 0) return local;
  if (which === 'keys' && lanes.sharedKeys)
    return new SharedCounted(spill, o.memoryBudget / 2, lanes.sharedKeys, local, tables, lanes.joiners);
  return new JoinedCounts(spill, o.memoryBudget / 2, local, tables, lanes.joiners);
}

/** Neither file is one of the files read (sources, catalog, PREV, batch input), and both can be written at the end. */
async function checkReportPaths(o: ResolvedReportOptions, files: readonly string[]): Promise<void> {
  if (o.since !== undefined) await checkWholePrev(o.since);
  const inputs: NamedPath[] = [
    ...files.map((f): NamedPath => ['a source', f]),
    ['the catalog', o.catalog],
    ['PREV', o.since],
    ...(o.inputs ?? []).map((f): NamedPath => ['the batch input', f]),
  ];
  await checkOutputs(
    [
      ['the page', o.output],
      ['report.json', o.json],
    ],
    inputs,
  );
  await checkWritableLater(o.output);
  await checkWritableLater(o.json);
}

async function writeFiles(o: ResolvedReportOptions, json: ReportJson): Promise<void> {
  await writeOutput(o.json, undefined, once(`${JSON.stringify(json, null, 2)}\n`));
  await writeOutput(o.output, undefined, once(renderReportHtml(json, { locale: o.locale, title: o.title })));
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}
