import type { Writable } from 'node:stream';
import { FAMILIES } from '../core/families.js';
import { alternatives, closest } from '../core/suggest.js';
import { parseBytes, parseCount } from '../core/units.js';
import { isPbError, PbError } from '../errors.js';
import { removeTemporaryFiles } from '../io/output.js';
import { FORMATS, type Format } from '../io/rows.js';
import type { PrepareSummary } from '../stages/prepare/index.js';
import { AWS_OPTIONS, type CliIO, configureAws, outputOption, parse, progressLine, write } from './common.js';
import { describeInputs } from './inputs.js';

export type { CliIO };

const VERSION = '0.1.0';

const MAIN_HELP = `personalize-batch: prepare, validate, shard, run and export Amazon Personalize batch jobs.

Usage: personalize-batch <command> [options]

Commands:
  prepare    turn user lists, catalogs and interaction files into batch-input JSON Lines
  validate   check batch-input JSON Lines against the schema and the service limits
  shard      split batch input into shards that each fit one batch job, with a manifest
  submit     create one batch job per shard (at most 5 at once), resumable after a crash
  status     print the jobs of a state file: shard, job, status, records, age, failure
  wait       block until every job of a state file is ACTIVE or CREATE FAILED
  collect    merge all shard outputs, drop duplicate keys, list missing and failed input records
  export     turn batch output (.out files, folders, s3:// prefixes) into CSV or per-key JSON Lines
  run        the whole job from a pipeline file: prepare, shard, upload, jobs, collect, export;
             resumable after any interruption
  demo       run the main job on a generated sample (no AWS account needed)
  emulate    a local stand-in for Personalize batch jobs and S3, for dry runs and tests

Run \`personalize-batch <command> --help\` for a command's options and examples.
Exit codes: 0 success, 1 invalid data or a failed step, 2 usage error.

Examples:
  personalize-batch demo
  personalize-batch run pipeline.json --dry-run
  personalize-batch prepare --recipe user-personalization emails.csv -o batch.jsonl
  personalize-batch validate --recipe user-personalization batch.jsonl`;

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
  personalize-batch prepare --recipe item-attribute-affinity --attributes genre,audience items.csv
  personalize-batch prepare --recipe user-personalization --filter-value GENRES=fav_genres \\
      --on-invalid skip --rejects rejects.jsonl users.csv -o batch.jsonl`;

const VALIDATE_HELP = `Usage: personalize-batch validate --recipe FAMILY [options] FILE...

Checks batch-input JSON Lines against schemas/ and the service limits: ids of 1 to 256
characters, itemList length, item-attribute queries, filterValues, records per file
(50 million; 500 Item-Affinity and 10 Item-Attribute-Affinity queries) and 1 GB per job.
Prints each problem as file:line: field: reason (the first --max-reported), counts them all.

Options:
      --recipe FAMILY        as for prepare
      --max-reported N       problems printed (default 100)
      --max-item-list N      longest itemList (default 500)
      --max-bytes SIZE       bytes one job may take (default 1GB)
      --allow-email-ids      ids that look like e-mail addresses are not problems
      --region R, --endpoint-url URL, --profile P
                             for s3:// files (s3://bucket/prefix/ checks every object under it)
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch validate --recipe user-personalization batch.jsonl
  personalize-batch validate --recipe item-affinity --json shard-*.jsonl
  personalize-batch validate --recipe user-personalization s3://my-bucket/batch/input/`;

/**
 * The whole CLI as a function: parses argv, runs a command, returns the exit
 * code. Only bin.ts touches process.exit.
 */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        write(io.stdout, `${MAIN_HELP}\n`);
        return command === undefined ? 2 : 0;
      case '--version':
      case '-v':
        write(io.stdout, `${VERSION}\n`);
        return 0;
      case 'prepare':
        return await runPrepare(rest, io);
      case 'validate':
        return await runValidate(rest, io);
      case 'shard':
        return await runShard(rest, io);
      case 'submit':
      case 'status':
      case 'wait': {
        const jobs = await import('./commands/jobs.js');
        const fn =
          command === 'submit' ? jobs.runSubmit : command === 'status' ? jobs.runStatus : jobs.runWait;
        return await fn(rest, io);
      }
      case 'export':
        return await (await import('./commands/export.js')).runExport(rest, io);
      case 'collect':
        return await (await import('./commands/collect.js')).runCollect(rest, io);
      case 'run':
        return await (await import('./commands/run.js')).runRun(rest, io);
      case 'demo': {
        const { runDemo } = await import('./commands/demo.js');
        return await runDemo(rest, io);
      }
      case 'emulate':
        return await (await import('./commands/emulate.js')).runEmulate(rest, io);
      default:
        throw new PbError('PB_USAGE', unknownCommand(command));
    }
  } catch (err) {
    return reportError(err, io);
  }
}

const COMMANDS = [
  'prepare',
  'validate',
  'shard',
  'submit',
  'status',
  'wait',
  'collect',
  'export',
  'run',
  'demo',
  'emulate',
  'help',
];

function unknownCommand(command: string): string {
  if (command.startsWith('-')) {
    const near = closest(command.replace(/^--?/, ''), ['help', 'version']);
    if (near.length > 0) return `unknown option ${command}; did you mean --${near[0]}?`;
    // Any other option here is most likely one of a command's, given without the command.
    return `unknown option ${command}; a command comes first, as in personalize-batch prepare --recipe FAMILY (see personalize-batch --help)`;
  }
  const near = closest(command, COMMANDS);
  const hint = near.length > 0 ? `did you mean ${alternatives(near)}?` : 'run personalize-batch --help';
  return `unknown command "${command}"; ${hint}`;
}

export function reportError(err: unknown, io: CliIO): number {
  if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') {
    // The reader of stdout went away: the command stops there, and what it was writing beside
    // stdout (rejects, errors.jsonl) is removed rather than left half-written.
    removeTemporaryFiles();
    return 0;
  }
  if (isPbError(err)) {
    write(io.stderr, `personalize-batch: ${err.message}\n`);
    return err.code === 'PB_USAGE' ? 2 : 1;
  }
  write(io.stderr, `personalize-batch: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}

/** The options `shard` and `prepare --shard-out` share. */
const SHARD_OPTIONS = {
  'max-bytes': { type: 'string' },
  'max-records': { type: 'string' },
  'max-records-per-file': { type: 'string' },
  'max-files-per-shard': { type: 'string' },
  shards: { type: 'string' },
  force: { type: 'boolean', default: false },
} as const;

/** The SHARD_OPTIONS limits parsed, for shard and for prepare --shard-out. */
function shardLimits(v: {
  'max-bytes'?: string;
  'max-records'?: string;
  'max-records-per-file'?: string;
  'max-files-per-shard'?: string;
  shards?: string;
}) {
  const count = (x: string | undefined, name: string) => (x === undefined ? undefined : parseCount(x, name));
  return {
    maxBytes: v['max-bytes'] === undefined ? undefined : parseBytes(v['max-bytes'], '--max-bytes'),
    maxRecords: count(v['max-records'], '--max-records'),
    maxRecordsPerFile: count(v['max-records-per-file'], '--max-records-per-file'),
    maxFilesPerShard: count(v['max-files-per-shard'], '--max-files-per-shard'),
    shards: count(v.shards, '--shards'),
  };
}

async function runPrepare(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('prepare', args, {
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
  });
  if (v.help) {
    write(io.stdout, `${PREPARE_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'prepare needs --recipe FAMILY (see prepare --help)');
  configureAws(v);
  const progress = makeProgress(io.stderr);
  const limits = shardLimits(v);
  // Each command loads its modules when it runs: loading all of them took 0.3 s of every start.
  const { prepare } = await import('../stages/prepare/index.js');
  const summary = await prepare({
    recipe: v.recipe,
    sources: positionals,
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
    attributes: v.attributes
      ?.split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
    filters: v['filter-value'],
    filterConstants: v['filter-const'],
    valueSeparator: v['value-separator'],
    since: v.since,
    timestampColumn: v['timestamp-column'],
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
    stdin: io.stdin,
    stdout: io.stdout,
    onProgress: progress?.update,
  }).finally(() => progress?.clear());
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
  return 0;
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
  if (s.blankLines > 0) parts.push(`${n(s.blankLines, 'blank line', 'blank lines')} skipped`);
  if (s.spilled) parts.push('dedupe spilled to disk');
  const shards = s.shard ? `; ${s.shard.shards} shard(s), manifest ${s.shard.manifest}` : '';
  return `prepare (${s.family}): ${parts.join(', ')} in ${s.seconds.toFixed(1)} s${shards}`;
}

async function runValidate(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('validate', args, {
    recipe: { type: 'string' },
    'max-reported': { type: 'string' },
    'max-item-list': { type: 'string' },
    'max-bytes': { type: 'string' },
    'allow-email-ids': { type: 'boolean', default: false },
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${VALIDATE_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'validate needs --recipe FAMILY (see validate --help)');
  configureAws(v);
  const { validateFiles } = await import('../stages/validate/index.js');
  const summary = await validateFiles({
    recipe: v.recipe,
    files: positionals,
    maxReported:
      v['max-reported'] === undefined ? undefined : parseCount(v['max-reported'], '--max-reported'),
    maxItemList:
      v['max-item-list'] === undefined ? undefined : parseCount(v['max-item-list'], '--max-item-list'),
    maxBytesPerJob: v['max-bytes'] === undefined ? undefined : parseBytes(v['max-bytes'], '--max-bytes'),
    allowEmailIds: v['allow-email-ids'],
    stdin: io.stdin,
    onProblem: (msg) => write(io.stderr, `${msg}\n`),
  });
  for (const w of summary.warnings) write(io.stderr, `personalize-batch: warning: ${w}\n`);
  if (v.json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else {
    const more =
      summary.problems > summary.reported ? ` (${summary.problems - summary.reported} not shown)` : '';
    write(
      io.stderr,
      `validate (${summary.family}): ${plural(summary.records, 'record')} in ${plural(summary.files, 'file')}, ${summary.invalidRecords} invalid, ${plural(summary.problems, 'problem')}${more}\n`,
    );
  }
  return summary.problems > 0 ? 1 : 0;
}

const SHARD_HELP = `Usage: personalize-batch shard --recipe FAMILY INPUT -o DIR [options]

Splits batch-input JSON Lines (a path or -, gzip detected) into shards that each fit one
batch job, each in its own folder (DIR/shard-00000/input.jsonl, ...), and writes
DIR/manifest.json (records, bytes, SHA-256 and files per shard; schema in
schemas/manifest.schema.json). When a file takes fewer records than a job (item-affinity 500
queries per file, item-attribute-affinity 10, themes 100), a shard is several files
(DIR/shard-00000/input-00000.jsonl, input-00001.jsonl, ...) read by one job.
Lines are never split and each lands in exactly one shard. DIR is written under a temporary
name and renamed at the end.

Options:
      --recipe FAMILY        as for prepare; recorded in the manifest
  -o, --output DIR           the folder to create (must not exist or be empty, unless --force);
                             --out, its old name, still works
      --max-bytes SIZE       bytes per shard, all its files (default 1GB, the job input quota)
      --max-records N        records per shard, all its files (default 50M)
      --max-records-per-file N
                             records per input file (default the family's quota: 50M; 500
                             item-affinity, 10 item-attribute-affinity; use 100 for themes)
      --max-files-per-shard N
                             files per shard when shards are several files (default 1000, the
                             job quota)
      --shards N             exactly N shards by a stable hash of the key (userId, itemId or
                             itemAttributes), so a user lands in the same shard on every run
      --force                replace what DIR holds
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch shard --recipe user-personalization batch.jsonl -o shards/
  personalize-batch shard --recipe user-personalization batch.jsonl.gz -o shards/ --max-bytes 500MB
  personalize-batch shard --recipe aws-sims items.jsonl -o shards/ --shards 8
  personalize-batch shard --recipe aws-item-affinity items.jsonl -o s3://bucket/segments/in/`;

async function runShard(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('shard', args, {
    recipe: { type: 'string' },
    output: { type: 'string', short: 'o' },
    out: { type: 'string' },
    ...SHARD_OPTIONS,
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${SHARD_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'shard needs --recipe FAMILY (see shard --help)');
  configureAws(v);
  const out = outputOption(v);
  if (!out) throw new PbError('PB_USAGE', 'shard needs -o DIR (see shard --help)');
  if (positionals.length !== 1) throw new PbError('PB_USAGE', 'shard takes one INPUT (a path or -)');
  const { shard } = await import('../stages/shard/index.js');
  const summary = await shard({
    recipe: v.recipe,
    input: positionals[0] as string,
    out,
    ...shardLimits(v),
    force: v.force,
    stdin: io.stdin,
  });
  if (v.json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else {
    write(
      io.stderr,
      `shard: ${summary.records} records, ${summary.bytes} bytes in ${summary.shards} shard(s); manifest ${summary.manifest} (${summary.seconds.toFixed(1)} s)\n`,
    );
  }
  if (summary.records === 0)
    write(
      io.stderr,
      'personalize-batch: warning: no records: no shard was written, and submit refuses this manifest (a batch job needs at least one record)\n',
    );
  return 0;
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

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
