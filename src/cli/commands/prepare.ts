import type { Writable } from 'node:stream';
import { FAMILIES } from '../../core/families.js';
import { count, parseBytes, parseCount } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { FORMATS, type Format } from '../../io/rows.js';
import type { PrepareOptions, PrepareSummary } from '../../stages/prepare/index.js';
import { AWS_OPTIONS, awsConnections, type CliIO, nameList, parse, progressLine, write } from '../common.js';
import { describeInputs } from '../inputs.js';
import { SHARD_OPTIONS, shardLimits } from './shard.js';

const PREPARE_HELP = `Usage: personalize-batch prepare --recipe FAMILY [options] [SOURCE...]

Reads SOURCEs (paths, or - for stdin; default stdin), concatenated, and writes one
batch-input JSON object per line. Each source is read by documented rules (README, "How
inputs are read"), and what was found is printed: JSON Lines or JSON (arrays, pretty-printed,
several objects a line); else the delimiter among , ; TAB | that splits the first 50 lines
evenly (or Excel's sep= line); one column has a header when its first line is a usual name
(user_id, Customer ID, sku, Email, ...) or the --column given. UTF-8 (a byte order mark
for UTF-16), gzip by its magic bytes. What could be read two ways is refused, naming the
option that settles it; workbooks, zips, PDFs and bytes that are not UTF-8 are refused too.

FAMILY: ${FAMILIES.join(', ')}, or an AWS recipe name (aws-user-personalization-v2, aws-sims,
  aws-similar-items, aws-popularity-count, aws-personalized-ranking-v2, aws-item-affinity, ...).

Options:
  -o, --output FILE          where to write (default -, stdout); written atomically, .gz compresses
      --format F             ${FORMATS.join('|')} (default auto)
      --delimiter C          the CSV field delimiter: , ; | tab ... (default detected)
      --encoding E           the text encoding, e.g. windows-1252 (Excel's "CSV" on Windows),
                             iso-8859-15, utf-16le (default UTF-8; a byte order mark decides)
      --allow-email-ids      let ids that look like e-mail addresses through (refused by
                             default: that is usually the wrong column)
      --skip-lines N         skip N lines before the header (a report's title lines)
      --no-header            the first line is data; name columns by number (--column 2)
      --column NAME          the id column (user id, item id, or ready-made item-attribute queries);
                             default: the usual names (user_id, USER_ID, userId, item_id, ITEM_ID, ...)
      --item-column NAME     personalized-ranking: group (user, item) rows, in any order
      --item-list-column NAME  personalized-ranking: a column holding the items of one user
      --list-separator S     separator inside an item-list cell (default |)
      --attributes A,B       item-attribute-affinity: build ITEMS.A = "..." AND ITEMS.B = "..." from columns
      --filter-value NAME=COLUMN  fill the filter placeholder $NAME from a column (repeatable)
      --filter-const NAME=V1|V2   the same filter values on every line (repeatable)
      --value-separator S    separator of several values in one filter cell or constant (default |)
      --since DATE           interactions: keep rows at or after DATE: ISO 8601 (2026-01-05,
                             2026-01-05T10:00:00Z; UTC without an offset), epoch seconds or ms
      --timestamp-column NAME  default TIMESTAMP/timestamp
      --where EXPR           keep only the rows that match, e.g. "opt_in = true" or
                             "country in ('DE','AT') and last_login >= 2026-01-01":
                             = != < <= > >=, in (...), is [not] empty, and, or, not, ( ); a column
                             on the left ("quoted" if it has spaces), a value on the right
                             ('quoted' is always text); numbers and ISO dates compare as such
                             when the cell is one too, else as text, case-sensitive (README)
      --no-dedupe            keep duplicate ids (default: exact dedupe, first occurrence kept)
      --memory-budget SIZE   memory for dedupe keys before spilling to disk (default 64MiB)
      --tmp-dir DIR          where spill partitions go (default the OS temp folder)
      --on-invalid fail|skip fail (default) stops at the first bad record; skip writes it to --rejects
      --rejects FILE         bad records with file, line, field and reason (JSON Lines)
      --max-line-length SIZE longest input line or CSV record (default 1MiB)
      --max-item-list N      longest itemList (default 500)
      --region R, --endpoint-url URL, --profile P
                             for s3:// paths (SOURCE, -o); s3://bucket/prefix/ reads every object
                             under it; otherwise the AWS SDK's default chain and AWS_ENDPOINT_URL_S3
      --shard-out DIR        write job-sized shards and a manifest instead of one output, as
                             \`shard\` does (with its --max-bytes, --max-records,
                             --max-records-per-file, --max-files-per-shard, --shards, --force)
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch prepare --recipe user-personalization emails.csv -o users.jsonl
  personalize-batch prepare --recipe user-personalization --column 'Customer ID' \
      --encoding windows-1252 excel-export.csv -o users.jsonl
  personalize-batch prepare --recipe user-personalization emails.csv --shard-out shards/
  personalize-batch prepare --recipe aws-sims items.csv.gz -o items.jsonl
  personalize-batch prepare --recipe user-personalization s3://crm/exports/ -o s3://work/batch.jsonl.gz
  cat ids.txt | personalize-batch prepare --recipe popular-items - > batch.jsonl
  personalize-batch prepare --recipe personalized-ranking --item-column ITEM_ID interactions.csv
  personalize-batch prepare --recipe user-personalization --since 2026-01-01 interactions.csv
  personalize-batch prepare --recipe user-personalization crm.csv -o users.jsonl \\
      --where "opt_in = true and country in ('DE','AT') and last_login >= 2026-01-01"
  personalize-batch prepare --recipe item-attribute-affinity --attributes genre,audience items.csv
  personalize-batch prepare --recipe user-personalization --filter-value GENRES=fav_genres \\
      --on-invalid skip --rejects rejects.jsonl users.csv -o batch.jsonl`;

const PREPARE_OPTIONS = {
  recipe: { type: 'string' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  delimiter: { type: 'string' },
  encoding: { type: 'string' },
  'allow-email-ids': { type: 'boolean', default: false },
  'skip-lines': { type: 'string' },
  header: { type: 'boolean', default: true },
  column: { type: 'string' },
  'item-column': { type: 'string' },
  'item-list-column': { type: 'string' },
  'list-separator': { type: 'string' },
  attributes: { type: 'string' },
  'filter-value': { type: 'string', multiple: true },
  'filter-const': { type: 'string', multiple: true },
  'value-separator': { type: 'string' },
  since: { type: 'string' },
  'timestamp-column': { type: 'string' },
  where: { type: 'string' },
  dedupe: { type: 'boolean', default: true },
  'memory-budget': { type: 'string' },
  'tmp-dir': { type: 'string' },
  'on-invalid': { type: 'string' },
  rejects: { type: 'string' },
  'max-line-length': { type: 'string' },
  'max-item-list': { type: 'string' },
  'shard-out': { type: 'string' },
  ...SHARD_OPTIONS,
  ...AWS_OPTIONS,
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type PrepareValues = ReturnType<typeof parse<typeof PREPARE_OPTIONS>>['values'];

export async function runPrepare(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('prepare', args, PREPARE_OPTIONS);
  if (v.help) {
    write(io.stdout, `${PREPARE_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'prepare needs --recipe FAMILY (see prepare --help)');
  const progress = makeProgress(io.stderr);
  // Each command loads its modules when it runs: loading all of them took 0.3 s of every start.
  const { prepare } = await import('../../stages/prepare/index.js');
  const summary = await prepare({
    ...prepareOptionsOf(v, v.recipe, positionals),
    stdin: io.stdin,
    stdout: io.stdout,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onProgress: progress?.update,
  }).finally(() => progress?.clear());
  report(v, summary, io);
  return 0;
}

/** The command line as prepare's options. */
function prepareOptionsOf(v: PrepareValues, recipe: string, sources: string[]): PrepareOptions {
  const limits = shardLimits(v);
  return {
    recipe,
    sources,
    output: v.output,
    format: v.format as Format | 'auto' | undefined,
    delimiter: v.delimiter,
    encoding: v.encoding,
    allowEmailIds: v['allow-email-ids'],
    skipLines: v['skip-lines'] === undefined ? undefined : Number(v['skip-lines']),
    header: v.header,
    column: v.column,
    itemColumn: v['item-column'],
    itemListColumn: v['item-list-column'],
    listSeparator: v['list-separator'],
    attributes: nameList(v.attributes),
    filters: v['filter-value'],
    filterConstants: v['filter-const'],
    valueSeparator: v['value-separator'],
    since: v.since,
    timestampColumn: v['timestamp-column'],
    where: v.where,
    dedupe: v.dedupe,
    memoryBudget:
      v['memory-budget'] === undefined ? undefined : parseBytes(v['memory-budget'], '--memory-budget'),
    tmpDir: v['tmp-dir'],
    onInvalid: v['on-invalid'] as 'fail' | 'skip' | undefined,
    rejects: v.rejects,
    maxLineLength:
      v['max-line-length'] === undefined ? undefined : parseBytes(v['max-line-length'], '--max-line-length'),
    maxItemList:
      v['max-item-list'] === undefined ? undefined : parseCount(v['max-item-list'], '--max-item-list'),
    shardOut: v['shard-out'],
    shardMaxBytes: limits.maxBytes,
    shardMaxRecords: limits.maxRecords,
    shardMaxRecordsPerFile: limits.maxRecordsPerFile,
    shardMaxFilesPerShard: limits.maxFilesPerShard,
    shards: limits.shards,
    force: v.force,
  };
}

/** Warnings, and the summary (JSON, or how each source was read and what was written). */
function report(v: PrepareValues, summary: PrepareSummary, io: CliIO): void {
  for (const w of summary.warnings) write(io.stderr, `personalize-batch: warning: ${w}\n`);
  if (
    !v['shard-out'] &&
    (v['max-bytes'] ||
      v['max-records'] ||
      v['max-records-per-file'] ||
      v['max-files-per-shard'] ||
      v.shards ||
      v.force)
  ) {
    write(
      io.stderr,
      'personalize-batch: warning: --max-bytes, --max-records, --max-records-per-file, --max-files-per-shard, --shards and --force apply to --shard-out\n',
    );
  }
  const toStdout = (v.output ?? '-') !== '-' || v['shard-out'] !== undefined;
  if (v.json) write(toStdout ? io.stdout : io.stderr, `${JSON.stringify(summary)}\n`);
  else {
    for (const line of describeInputs(summary)) write(io.stderr, `prepare: ${line}\n`);
    write(io.stderr, `${describePrepare(summary, v['shard-out'] ?? v.output ?? '-', v.rejects)}\n`);
  }
}

export function describePrepare(s: PrepareSummary, output: string, rejects: string | undefined): string {
  const n = (count: number, one: string, many: string) => `${count} ${count === 1 ? one : many}`;
  const parts = [
    `${n(s.recordsRead, 'row', 'rows')} read`,
    `${n(s.written, 'record', 'records')} written to ${output === '-' ? 'stdout' : output}`,
    `${n(s.duplicates, 'duplicate', 'duplicates')} removed`,
  ];
  if (s.rejected > 0) parts.push(`${s.rejected} rejected (see ${rejects})`);
  if (s.inactive > 0) parts.push(`${n(s.inactive, 'row', 'rows')} before --since left out`);
  if (s.filteredOut > 0) parts.push(`${n(s.filteredOut, 'row', 'rows')} left out by --where`);
  if (s.blankLines > 0) parts.push(`${n(s.blankLines, 'blank line', 'blank lines')} skipped`);
  if (s.spilled) parts.push('dedupe spilled to disk');
  const shards = s.shard ? `; ${count(s.shard.shards, 'shard')}, manifest ${s.shard.manifest}` : '';
  return `prepare (${s.family}): ${parts.join(', ')} in ${s.seconds.toFixed(1)} s${shards}`;
}
/** The prepare progress line (see progressLine). */
function makeProgress(
  stderr: Writable,
): { update: (p: { recordsRead: number; bytesRead: number }) => void; clear: () => void } | undefined {
  const line = progressLine(stderr);
  return (
    line && {
      update: (p) =>
        line.show(
          `prepare: ${p.recordsRead.toLocaleString('en-US')} rows, ${(p.bytesRead / 1e6).toFixed(0)} MB read`,
        ),
      clear: line.clear,
    }
  );
}
