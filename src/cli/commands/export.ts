import type { Writable } from 'node:stream';
import { parseRenames } from '../../core/email-files.js';
import { EXPORT_FORMATS, PARQUET_FORMATS } from '../../core/out-convert.js';
import { count, grouped, noun, parseBytes, parseCount } from '../../core/units.js';
import { PbError, usage } from '../../errors.js';
import {
  type ConcatOptions,
  concatParts,
  EXPORT_DEFAULTS,
  type ExportOptions,
  type ExportSummary,
  exportOutputs,
} from '../../stages/export/index.js';
import { AWS_OPTIONS, awsConnections, type CliIO, nameList, parse, progressLine, write } from '../common.js';

export const EXPORT_HELP = `Usage: personalize-batch export SOURCE... [options]

Turns batch-job output (.out JSON Lines, any job kind) into CSV or per-key JSON Lines.
SOURCE: .out files (gzip detected), folders and s3://bucket/prefix/ (their *.out files;
_CHECK and anything else ignored), or - for stdin. Lines are read in any order.
One file reached twice (named twice, X.out beside X.out.gz) is refused; a key repeated in
different files is exported as it comes (collect keeps one line per key).

Formats:
  csv-long   one row per recommendation: KEY,rank,itemId|userId[,score][,reason][,theme][,catalog columns]
  csv-wide   one row per key: KEY[,theme],item_1..N|user_1..N[,score_1..N][,reason_1..N][,COL_1..N];
             N is --top, or else the widest line (found in a first pass; stdin is spooled to disk)
  jsonl      one record per key: {"userId":"...","items":[{"itemId":"...","score":...},...]}
             (segments: {"itemId":"...","users":[{"userId":"..."},...]})
KEY is the echoed userId (user recommendations, ranking), itemId or itemAttributes (segments),
or source_item for related items and themes, whose rows also hold the recommended itemId. A
catalog column named like one of these columns gets a catalog_ prefix.
Scores are copied exactly as the job printed them. Score, reason and theme columns appear when
the first exported lines have them. CSV follows RFC 4180; text cells starting with = + - @ TAB
or CR get a leading ' so spreadsheets do not run them as formulas (numbers are left alone, and
a sign and a number such as -8234567890123456789 or +4915112345; a file that goes straight to
the e-mail tool with ids or phones such as @zoe or +49 30 1234: --no-escape-formulas).

Lines whose error is not null are counted and written as they are to --errors, whatever their
input and output hold (a number id, no userId). A line is malformed when it is not JSON, has
neither input nor error, or has no error but cannot be exported: it stops the export (file:line:
reason), or with --on-invalid skip goes to --rejects.
Objects spread over several lines, or several on one line, are read too (more slowly).

Options:
  -o, --output FILE          where to write (default -, stdout); written under a temporary name and
                             renamed at the end; .gz compresses; s3://bucket/key uploads
      --format F             ${[...EXPORT_FORMATS, ...PARQUET_FORMATS].join('|')} (default ${EXPORT_DEFAULTS.format});
                             parquet: csv-long's rows, score as DOUBLE plus score_text as printed,
                             rank INT32, the rest strings; Snappy; a row group per MiB of .out built
                             by the conversion workers (with --catalog, --users, --max-cell-bytes
                             or --max-file-size: by DuckDB from a csv-long file in --tmp-dir, row
                             groups of 100,000 rows or ~8 MiB); parquet-wide: csv-wide's rows so
                             (DuckDB), each score_i DOUBLE plus score_i_text
      --partition-by K=V     parquet(-wide): -o OUT is a folder (local or s3://) and the rows go to
                             OUT/K=V/part-00000.parquet, the Hive layout Glue and Athena read;
                             K=V,K2=V2 nests folders; e.g. --partition-by run_date=2026-12-06
      --top N                at most N ids per key (csv-wide: also the number of columns)
      --catalog FILE         Items CSV (or TSV, JSON Lines) whose columns are joined to every
                             recommended item; held in memory, at most 5,000,000 items; ids
                             missing from it are counted and their columns left empty
      --catalog-columns A,B  the catalog columns to join, in order (default: all but the id)
      --catalog-id-column C  the catalog's item id column (default ITEM_ID, item_id, itemId, ...)
      --catalog-delimiter C  the catalog's field delimiter (default detected, as for prepare)
      --catalog-encoding E   the catalog's encoding, e.g. windows-1252 (default UTF-8)
      --users FILE           users file (a CRM export: CSV, TSV or JSON Lines) whose columns are
                             added to every row of each user (after the catalog's; JSON Lines:
                             fields after the key); read as prepare reads its inputs; only for
                             outputs keyed by user id; a repeated key keeps its first row
      --user-key C           the users file's user id column (default userId, user_id, customer_id, ...)
      --user-fields A,B      its columns to join, in order (default: all but the key); a name the
                             export already has gets a user_ prefix
      --users-delimiter C    its field delimiter (default detected, as for prepare)
      --users-encoding E     its encoding, e.g. windows-1252 (default UTF-8; a BOM decides first)
      --users-required       drop (and count) the recommendations of users not in the file,
                             and stop (exit 2, no file) when none is in it: the wrong --user-key;
                             by default they are kept with empty user columns (counted, warned)
      --memory-budget SIZE   memory for the users table (default 64MiB); past it both sides
                             are partitioned on disk (--tmp-dir) and joined a part at a time; with
                             --map-users also for the related-items lists (past it they are
                             joined on disk too) and each interactions partition (there the
                             users table must fit it); with --since for PREV's keys (past it both
                             sides' keys are partitioned on disk, one partition held)
      --map-users FILE       related items per user: FILE lists what users touched (CSV, TSV or
                             JSON Lines: user, item, time); rows per user in any --format, each
                             item with its source_item (csv-long: USER,source_item,rank,itemId,
                             score); the file is partitioned on disk by user (--tmp-dir)
      --map-user-column C    its user id column (default USER_ID, user_id, customer_id, ...)
      --map-item-column C    its item id column (default ITEM_ID, item_id, sku, ...)
      --map-pick P           latest (default: the item of the latest time), most-frequent (ties:
                             the latest), or all (every item; lists merged, best rank wins)
      --map-time-column C    its time column: epoch seconds, milliseconds or ISO 8601 (default
                             TIMESTAMP, event_time, ts); a time that does not parse goes to
                             --rejects with file:line, or stops the export without --rejects
      --exclude-seen         drop recommended items the user touched
      --no-escape-formulas   write text cells as they are
      --line-ending E        crlf (RFC 4180, default) or lf
      --bom                  CSV: start with a UTF-8 byte order mark, so Excel shows Zoë right
      --rename A=B,C=D       CSV: header names of your own, e.g. userId=external_id (Braze);
                             a name the export lacks is an error that lists its columns
      --max-file-size SIZE   split a local output into parts of at most SIZE, e.g. 500MB (Braze):
                             recs.csv -> recs-00001.csv, recs-00002.csv, ...; each CSV part has the
                             header; a key's rows never straddle two parts; parquet(-wide): parts of about
                             SIZE (a new file starts past it, between row groups), s3:// too
      --max-cell-bytes N     CSV: cut text cells (reason, theme, catalog columns; never ids or
                             scores) to N UTF-8 bytes on a character boundary, e.g. 255 (Mailchimp)
      --errors FILE          where error lines go (default OUTPUT.errors.jsonl, or errors.jsonl
                             for stdout); written only when there are some; a stale default
                             OUTPUT.errors.jsonl is removed; to stdout, an errors.jsonl already
                             there is replaced only by error lines, with a warning
      --on-invalid fail|skip fail (default) stops at the first invalid line; skip writes it to --rejects
      --rejects FILE         invalid lines with file, line, reason and text (JSON Lines)
      --max-line-length SIZE longest line (default 128MiB: a segment line can list millions of users)
      --threads N            conversion threads besides the main one, 0 to 2 (default 2)
      --tmp-dir DIR          where csv-wide spools stdin and a --users join past the budget
                             partitions (default the OS temp folder)
      --region R, --endpoint-url URL, --profile P
                             for s3:// sources and outputs
      --since PREV           write only keys whose ids (in order) are new or changed against PREV,
                             a previous export (csv-long, csv-wide, jsonl; .gz) or its .out files;
                             its header read back through --rename; written in parts: its -o name;
                             with --map-users, the previous --map-users export (users compared)
      --removed FILE         with --since (required): the keys PREV has and SOURCE lacks (CSV;
                             with --users, their users file columns too, else PREV's; with
                             --users-required, also the keys the users file lacks now)
      --since-scores         with --since: a change of scores alone counts as changed too
      --part K/N             export only the K-th of N slices of the sources (1 <= K <= N), so N
                             workers write N parts; whole files dealt out by size when there are at
                             least N and none is over T/N bytes (T: all sources), else byte ranges
                             cut at line ends; csv-wide needs --top; e.g. --part 3/7
      --concat               join part files (the SOURCEs, in order) into -o: CSV keeps the first
                             header (the others must equal it), JSON Lines are joined as they are
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch export s3://my-bucket/batch/output/ -o recommendations.csv
  personalize-batch export job-out/ --format csv-wide --top 10 -o wide.csv
  personalize-batch export users.json.out --format jsonl --catalog items.csv \\
      --catalog-columns TITLE,URL,IMAGE -o recs.jsonl.gz
  personalize-batch export users.json.out --users CRM.csv --user-key customer_id \\
      --user-fields email,first_name --users-required -o recs.csv
  personalize-batch export related.out --on-invalid skip --rejects bad-lines.jsonl -o related.csv
  gunzip -c part.out.gz | personalize-batch export - --top 5 > top5.csv
  personalize-batch export similar-items.out --map-users VIEWS.csv --map-user-column USER_ID \\
      --map-item-column ITEM_ID --map-time-column TIMESTAMP --map-pick latest --exclude-seen \\
      --top 5 --rejects bad-views.jsonl -o braze.csv
  personalize-batch export similar-items.out --map-users VIEWS.csv --map-pick all --format jsonl \\
      -o per-user.jsonl
  personalize-batch export job-out/ --format csv-wide --top 5 --rename userId=external_id \\
      --bom --max-file-size 500MB -o braze.csv
  personalize-batch export job-out/ --format parquet -o recs.parquet
  personalize-batch export job-out/ --format parquet --partition-by run_date=2026-12-06 \\
      --max-file-size 256MB -o s3://lake/recommendations/
  personalize-batch export job-out/ --format parquet-wide --top 10 -o wide.parquet
  personalize-batch export job-out/ --since last/recs.csv --removed removed.csv -o changed.csv
  personalize-batch export s3://my-bucket/batch/output/ --part 3/7 -o s3://my-bucket/recs/part-3.csv
  personalize-batch export --concat part-1.csv part-2.csv part-3.csv -o recs.csv`;

const EXPORT_ARGS = {
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  'partition-by': { type: 'string' },
  top: { type: 'string' },
  catalog: { type: 'string' },
  'catalog-columns': { type: 'string' },
  'catalog-id-column': { type: 'string' },
  'catalog-delimiter': { type: 'string' },
  'catalog-encoding': { type: 'string' },
  users: { type: 'string' },
  'user-key': { type: 'string' },
  'user-fields': { type: 'string' },
  'users-delimiter': { type: 'string' },
  'users-encoding': { type: 'string' },
  'users-required': { type: 'boolean' },
  'memory-budget': { type: 'string' },
  'escape-formulas': { type: 'boolean', default: true },
  'line-ending': { type: 'string' },
  bom: { type: 'boolean', default: false },
  rename: { type: 'string' },
  'max-file-size': { type: 'string' },
  'max-cell-bytes': { type: 'string' },
  errors: { type: 'string' },
  'on-invalid': { type: 'string' },
  rejects: { type: 'string' },
  'max-line-length': { type: 'string' },
  threads: { type: 'string' },
  'tmp-dir': { type: 'string' },
  since: { type: 'string' },
  removed: { type: 'string' },
  'since-scores': { type: 'boolean' },
  'map-users': { type: 'string' },
  'map-user-column': { type: 'string' },
  'map-item-column': { type: 'string' },
  'map-pick': { type: 'string' },
  'map-time-column': { type: 'string' },
  'exclude-seen': { type: 'boolean' },
  part: { type: 'string' },
  concat: { type: 'boolean', default: false },
  ...AWS_OPTIONS,
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type ExportValues = ReturnType<typeof parse<typeof EXPORT_ARGS>>['values'];

export async function runExport(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('export', args, EXPORT_ARGS);
  if (v.help) {
    write(io.stdout, `${EXPORT_HELP}\n`);
    return 0;
  }
  if (positionals.length === 0) {
    throw new PbError(
      'PB_USAGE',
      'export needs at least one SOURCE (a .out file, folder, s3:// prefix or -); see export --help',
    );
  }
  if (v.concat) return runConcat(v, positionals, io);
  const threads = v.threads === undefined ? undefined : Number(v.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0 && threads <= 2)) {
    throw new PbError('PB_USAGE', `--threads must be 0, 1 or 2, got "${v.threads}"`);
  }
  const progress = makeProgress(io.stderr);
  const summary = await exportOutputs({
    ...exportOptionsOf(v, positionals, io, threads),
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onProgress: progress?.update,
  }).finally(() => progress?.clear());
  for (const w of summary.warnings) write(io.stderr, `personalize-batch: warning: ${w}\n`);
  const toStdout = (v.output ?? '-') === '-';
  if (v.json) write(toStdout ? io.stderr : io.stdout, `${JSON.stringify(summary)}\n`);
  else write(io.stderr, `${describeExport(summary, v.output ?? '-', v.rejects)}\n`);
  return 0;
}

/** export --concat PART... -o OUT: only the output, --format and --json go with it. */
async function runConcat(v: ExportValues, parts: string[], io: CliIO): Promise<number> {
  const allowed = new Set(['concat', 'output', 'format', 'json', 'help', ...Object.keys(AWS_OPTIONS)]);
  // The boolean options with defaults are set whether given or not: only a change of them counts.
  const defaults: Record<string, unknown> = { 'escape-formulas': true, bom: false };
  for (const [name, value] of Object.entries(v))
    if (value !== undefined && !allowed.has(name) && defaults[name] !== value)
      throw new PbError(
        'PB_USAGE',
        `--concat joins finished parts: --${name} goes with the exports that wrote them`,
      );
  const output = v.output ?? '-';
  const s = await concatParts({
    parts,
    output,
    format: v.format as ConcatOptions['format'],
    stdout: io.stdout,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
  });
  if (v.json) write(output === '-' ? io.stderr : io.stdout, `${JSON.stringify(s)}\n`);
  else
    write(
      io.stderr,
      `export --concat (${s.format}): ${count(s.parts, 'part')} joined into ${output === '-' ? 'stdout' : output}, ${s.bytesWritten} bytes${s.format === 'csv' ? `, ${count(s.headersDropped, 'header')} dropped` : ''}\n`,
    );
  return 0;
}

/** The library's options from the parsed command line. */
function exportOptionsOf(
  v: ExportValues,
  positionals: string[],
  io: CliIO,
  threads: number | undefined,
): ExportOptions {
  return {
    sources: positionals,
    output: v.output,
    format: v.format as ExportOptions['format'],
    partitionBy: v['partition-by'] === undefined ? undefined : parsePartitions(v['partition-by']),
    top: v.top === undefined ? undefined : parseCount(v.top, '--top'),
    catalog: v.catalog,
    catalogColumns: nameList(v['catalog-columns']),
    catalogIdColumn: v['catalog-id-column'],
    catalogDelimiter: v['catalog-delimiter'],
    catalogEncoding: v['catalog-encoding'],
    users: v.users,
    userKey: v['user-key'],
    userFields: nameList(v['user-fields']),
    usersDelimiter: v['users-delimiter'],
    usersEncoding: v['users-encoding'],
    usersRequired: v['users-required'],
    memoryBudget:
      v['memory-budget'] === undefined ? undefined : parseBytes(v['memory-budget'], '--memory-budget'),
    escapeFormulas: v['escape-formulas'],
    lineEnding: v['line-ending'] as 'crlf' | 'lf' | undefined,
    bom: v.bom,
    rename: v.rename === undefined ? undefined : parseRenames(v.rename),
    maxFileSize:
      v['max-file-size'] === undefined ? undefined : parseBytes(v['max-file-size'], '--max-file-size'),
    maxCellBytes:
      v['max-cell-bytes'] === undefined ? undefined : parseCount(v['max-cell-bytes'], '--max-cell-bytes'),
    errors: v.errors,
    onInvalid: v['on-invalid'] as 'fail' | 'skip' | undefined,
    rejects: v.rejects,
    maxLineLength:
      v['max-line-length'] === undefined ? undefined : parseBytes(v['max-line-length'], '--max-line-length'),
    workers: threads,
    tmpDir: v['tmp-dir'],
    since: v.since,
    removed: v.removed,
    sinceScores: v['since-scores'],
    mapUsers: v['map-users'],
    mapUserColumn: v['map-user-column'],
    mapItemColumn: v['map-item-column'],
    mapPick: v['map-pick'] as ExportOptions['mapPick'],
    mapTimeColumn: v['map-time-column'],
    excludeSeen: v['exclude-seen'],
    part: v.part,
    stdin: io.stdin,
    stdout: io.stdout,
  };
}

/** `run_date=2026-12-06,region=eu`: KEY=VALUE pairs in order (resolveExportOptions checks the names). */
function parsePartitions(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || eq === part.length - 1)
      throw usage(
        `--partition-by takes KEY=VALUE pairs separated by commas (run_date=2026-12-06), got "${part}"`,
      );
    const k = part.slice(0, eq).trim();
    if (Object.hasOwn(out, k)) throw usage(`--partition-by names ${k} twice`);
    out[k] = part.slice(eq + 1).trim();
  }
  return out;
}

export function describeExport(s: ExportSummary, output: string, rejects: string | undefined): string {
  if (s.mapUsers) return describeMapUsers(s, output, rejects);
  // With --max-file-size the files are the parts; OUTPUT only names them.
  const where = s.parts
    ? `in ${count(s.parts.length, 'part')}: ${s.parts.join(', ')}`
    : `to ${output === '-' ? 'stdout' : output}`;
  const parts = [
    // With --since the lines counted are the kept ones; the unchanged are said after.
    `${count(s.lines, s.since ? 'new or changed line' : 'line')} from ${count(s.sources, 'file')}`,
    count(s.records, 'key'),
    `${count(s.rows, s.format === 'jsonl' ? 'record' : 'row')} written ${where}`,
  ];
  if (s.part)
    parts.push(
      `part ${s.part.k}/${s.part.n} (${s.part.mode === 'files' ? 'whole files' : 'byte ranges'}: bytes ${s.part.from} to ${s.part.to} of ${s.part.total})`,
    );
  if (s.cellsCut > 0) parts.push(`${grouped(s.cellsCut)} text ${noun(s.cellsCut, 'cell')} cut`);
  parts.push(...linesSkipped(s, rejects), ...joinsMissing(s));
  if (s.since) parts.push(describeSince(s.since));
  return `export (${s.format}): ${parts.join(', ')} in ${s.seconds.toFixed(1)} s`;
}

/** Both summary lines' error and invalid lines, when there are any. */
function linesSkipped(s: ExportSummary, rejects: string | undefined): string[] {
  const parts: string[] = [];
  if (s.errorLines > 0)
    parts.push(`${grouped(s.errorLines)} error ${noun(s.errorLines, 'line')} (see ${s.errorsFile})`);
  if (s.invalid > 0)
    parts.push(`${grouped(s.invalid)} invalid ${noun(s.invalid, 'line')} skipped (see ${rejects})`);
  return parts;
}

/** Both summary lines' catalog and users joins: what they lacked. */
function joinsMissing(s: ExportSummary): string[] {
  const parts: string[] = [];
  if (s.catalogItems !== null)
    parts.push(
      `${count(s.catalogMissing, 'recommendation')} not in the catalog of ${count(s.catalogItems, 'item')}`,
    );
  if (s.usersInFile !== null)
    parts.push(
      `${count(s.usersMissing, 'user')} not in the users file${s.usersDropped > 0 ? ` (${grouped(s.usersDropped)} dropped)` : ''}, which holds ${usersHeld(s)}`,
    );
  return parts;
}

/** What --since found, for both summary lines. */
function describeSince(d: NonNullable<ExportSummary['since']>): string {
  const users = d.removedUsers ? `, with ${d.removedUsers.columns.join(', ')}` : '';
  const failed = d.failed > 0 ? `, ${grouped(d.failed)} failed now (kept)` : '';
  const g = grouped;
  return `since ${d.prev}: ${g(d.new)} new, ${g(d.changed)} changed, ${g(d.unchanged)} unchanged (not written), ${g(d.removed)} removed (in ${d.removedFile}${users})${failed}`;
}

/** The summary line of export --map-users. */
function describeMapUsers(s: ExportSummary, output: string, rejects: string | undefined): string {
  const m = s.mapUsers as NonNullable<ExportSummary['mapUsers']>;
  const parts = [
    `${count(m.interactions, 'interaction')} of ${count(m.users, 'user')}`,
    `${m.sourceItems} related-items ${noun(m.sourceItems, 'list')} from ${count(s.lines, 'line')}${m.listsOnDisk ? ' (joined on disk: past --memory-budget)' : ''}`,
    // With --since the count is of the users written (new or changed), the unchanged ones said after.
    s.since
      ? `${count(m.usersMapped, 'user')} mapped (${m.pick}) with a new or changed list`
      : `${count(m.usersMapped, 'user')} mapped (${m.pick})`,
    `${count(s.rows, 'row')} written to ${output === '-' ? 'stdout' : output}`,
  ];
  if (m.usersWithoutRecommendations > 0)
    parts.push(
      `${count(m.usersWithoutRecommendations, 'user')} without a picked item that has recommendations`,
    );
  if (m.seenDropped > 0) parts.push(`${m.seenDropped} seen ${noun(m.seenDropped, 'item')} dropped`);
  if (m.interactionsRejected > 0)
    parts.push(`${count(m.interactionsRejected, 'interaction')} rejected (see ${rejects})`);
  parts.push(...joinsMissing(s), ...linesSkipped(s, rejects));
  if (s.since) parts.push(describeSince(s.since));
  return `export (map users): ${parts.join(', ')} in ${s.seconds.toFixed(1)} s`;
}

/** The export progress line (see progressLine). */
function makeProgress(
  stderr: Writable,
): { update: (p: { lines: number; bytesRead: number }) => void; clear: () => void } | undefined {
  const line = progressLine(stderr);
  return (
    line && {
      update: (p) =>
        line.show(
          `export: ${p.lines.toLocaleString('en-US')} lines, ${(p.bytesRead / 1e6).toFixed(0)} MB read`,
        ),
      clear: line.clear,
    }
  );
}

/** How the users join went past --memory-budget, if it did: read for the export's users only, on disk. */
/** The users file's count: users, or with the Bloom filter its rows with a key (it saw no other key's repeats). */
function usersHeld(s: ExportSummary): string {
  const n = s.usersInFile as number;
  return `${grouped(n)}${s.usersFiltered ? '' : ` ${noun(n, 'user')}`}${usersRoute(s)}`;
}

function usersRoute(s: ExportSummary): string {
  const how: string[] = [];
  if (s.usersFiltered) how.push("read for this export's users only");
  if (s.usersPartitions > 0) how.push(`joined in ${count(s.usersPartitions, 'partition')} on disk`);
  if (how.length === 0) return '';
  return `${s.usersFiltered ? ' rows with a key' : ''} (${how.join(', ')}: past --memory-budget)`;
}
