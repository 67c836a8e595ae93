import { parseRenames } from '../../core/email-files.js';
import { count, noun, parseBytes } from '../../core/units.js';
import { PbError } from '../../errors.js';
import type { ReportJson } from '../../stages/report/index.js';
import { AWS_OPTIONS, awsConnections, type CliIO, megabytes, parse, progressLine, write } from '../common.js';

export const REPORT_HELP = `Usage: personalize-batch report SOURCE... -o report.html [--catalog ITEMS.csv]
                                [--since PREV] [--input MANIFEST]...

A report of batch outputs to look at before sending: report.html, one self-contained page
(charts as inline SVG, each with its numbers in a table; no network; phone and print), and
report.json beside it (schemas/report.schema.json). One pass over the outputs.
SOURCE: .out files, folders and s3://bucket/prefix/ (their *.out files); one file reached
twice (named twice, X.out beside X.out.gz) is refused.

- counts: lines, distinct keys, error lines, ids per line (min, median, max), distinct items
  recommended (exact: within --memory-budget, then partitions on disk);
- concentration: the top 20 items (titles from --catalog), the top 1% of items' share of all
  slots, the Gini coefficient of item exposure;
- scores at ranks 1, 5, 10 and last: exact bins, min, max, mean, and quantiles from t-digests;
- --catalog: the share of catalog items recommended, recommended ids not in the catalog;
- --input: input keys with no output line; --since: keys new, gone and changed, and the mean
  Jaccard overlap of the first k ids;
- per .out file (each shard's output): lines, errors, invalid lines.

Options:
  -o, --output FILE            the page (report.json is written beside it: FILE's name, .json)
      --catalog ITEMS          items CSV with a header, as export's --catalog
      --catalog-id-column C    its item id column (default: ITEM_ID, item_id, itemId, ...)
      --catalog-title-column C the column shown as the title (default TITLE, title, name, ...)
      --catalog-delimiter C    the catalog's field delimiter (default detected, as export's)
      --catalog-encoding E     the catalog's encoding, e.g. windows-1252 (default UTF-8)
      --since PREV             a previous run's .out files or export (csv-long, csv-wide, jsonl)
      --rename A=B,C=D         with --since: the --rename PREV was exported with (its header is
                               read back through it, as export --since reads it)
      --k N                    how many first ids the overlap compares (default 10; with --since)
      --input FILE             batch input (JSON Lines or manifest.json), repeatable
      --memory-budget SIZE     memory for the distinct counts (default 64MiB)
      --max-line-length SIZE   longest output line (default 128MiB)
      --tmp-dir DIR            where partitions go past the budget (default the OS temp folder)
      --locale TAG             the page's number format (default en-US; e.g. de-DE, fr-FR)
      --title TEXT             the page's title (default "Batch output report")
      --json                   print report.json's counts on stdout when done
      --region R, --endpoint-url URL, --profile P
  -h, --help

Examples:
  personalize-batch report out/ -o report.html
  personalize-batch report s3://my-bucket/batch/out/ --catalog items.csv -o week-49.html
  personalize-batch report out/ --since last-week/out/ --k 20 --input shards/manifest.json -o report.html
  personalize-batch report job.out --locale de-DE --title "Newsletter KW 49" -o bericht.html`;

export async function runReport(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('report', args, {
    output: { type: 'string', short: 'o' },
    catalog: { type: 'string' },
    'catalog-id-column': { type: 'string' },
    'catalog-title-column': { type: 'string' },
    'catalog-delimiter': { type: 'string' },
    'catalog-encoding': { type: 'string' },
    since: { type: 'string' },
    rename: { type: 'string' },
    k: { type: 'string' },
    input: { type: 'string', multiple: true },
    'memory-budget': { type: 'string' },
    'max-line-length': { type: 'string' },
    'tmp-dir': { type: 'string' },
    locale: { type: 'string' },
    title: { type: 'string' },
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${REPORT_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0)
    throw new PbError(
      'PB_USAGE',
      'report needs SOURCE: .out files, a folder or an s3:// prefix (see report --help)',
    );
  if (v.output === undefined) throw new PbError('PB_USAGE', 'report needs -o report.html');
  let k: number | undefined;
  if (v.k !== undefined) {
    k = Number(v.k);
    if (!/^\d+$/.test(v.k)) throw new PbError('PB_USAGE', `--k ${v.k}: give a whole number, such as --k 10`);
  }
  const { report } = await import('../../stages/report/index.js');
  const progress = progressLine(io.stderr);
  const started = Date.now();
  const s = await report({
    sources: positionals,
    output: v.output,
    catalog: v.catalog,
    catalogIdColumn: v['catalog-id-column'],
    catalogTitleColumn: v['catalog-title-column'],
    catalogDelimiter: v['catalog-delimiter'],
    catalogEncoding: v['catalog-encoding'],
    since: v.since,
    rename: v.rename === undefined ? undefined : parseRenames(v.rename),
    k,
    inputs: v.input,
    memoryBudget:
      v['memory-budget'] === undefined ? undefined : parseBytes(v['memory-budget'], '--memory-budget'),
    maxLineLength:
      v['max-line-length'] === undefined ? undefined : parseBytes(v['max-line-length'], '--max-line-length'),
    tmpDir: v['tmp-dir'],
    locale: v.locale,
    title: v.title,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onEvent:
      progress &&
      ((e) => {
        if (e.type === 'progress')
          progress.show(`report: ${e.lines.toLocaleString('en-US')} lines, ${megabytes(e.bytesRead)} read`);
      }),
  }).finally(() => progress?.clear());
  if (v.json) write(io.stdout, `${JSON.stringify(s.report.counts)}\n`);
  write(io.stderr, `${describeReport(s.report, s.html, s.json, (Date.now() - started) / 1000)}\n`);
  return 0;
}

export function describeReport(r: ReportJson, html: string, json: string, seconds: number): string {
  const c = r.counts;
  const n = (x: number) => x.toLocaleString('en-US');
  const parts = [
    `${n(c.lines)} ${noun(c.lines, 'line')} from ${count(r.sources.length, 'file')}`,
    `${n(c.keys)} ${noun(c.keys, 'key')}`,
    `${n(c.errorLines)} error ${noun(c.errorLines, 'line')}`,
    `${n(c.distinctItems)} distinct ${noun(c.distinctItems, 'id')}`,
  ];
  if (c.invalid > 0) parts.push(`${n(c.invalid)} invalid ${noun(c.invalid, 'line')}`);
  if (r.missing)
    parts.push(`${n(r.missing.missingKeys)} input ${noun(r.missing.missingKeys, 'key')} missing`);
  return `report: ${parts.join(', ')}; ${html} and ${json} in ${seconds.toFixed(1)} s`;
}
