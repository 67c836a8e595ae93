import { tmpdir } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { BuildOptions, FilterSpec } from '../../core/build.js';
import { parseSince } from '../../core/dates.js';
import { encodingProblem } from '../../core/encoding.js';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { CLI_OPTION_NAMES, type OptionNames, parseDelimiter } from '../../core/sniff.js';
import { notOneOf } from '../../core/suggest.js';
import { DEFAULT_LIMITS, type Limits, type RecordPolicy } from '../../core/validate.js';
import { parseWhere, type WhereExpr } from '../../core/where.js';
import { usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';
import { FORMATS, type Format } from '../../io/rows.js';

export type OnInvalid = 'fail' | 'skip';

/** Options of `prepare`. Everything but `recipe` has a default. */
export interface PrepareOptions extends CallOptions {
  /** A family (`user-personalization`, ...) or an AWS recipe name (`aws-sims`, ...). */
  recipe: string;
  /** Paths, or `-` for stdin; concatenated in order. Default `['-']`. */
  sources?: string[];
  /** Path (atomic write; `.gz` compresses) or `-` for stdout. Default `-`. */
  output?: string;
  /** Input format; `auto` (default) detects it from each source's first lines (README). */
  format?: Format | 'auto';
  /** Field delimiter of CSV sources (`,` `;` TAB `|` ...); default: detected per source. */
  delimiter?: string;
  /** Text encoding of the sources (a TextDecoder label such as `windows-1252`); default UTF-8. A byte order mark decides first. */
  encoding?: string;
  /** Let ids that look like e-mail addresses through (default: refused, as a wrong column is the usual cause). */
  allowEmailIds?: boolean;
  /** Lines to skip at the start of each source, before the header (a report's title lines). Default 0. */
  skipLines?: number;
  /** false: CSV sources have no header; columns are named by number (`column: '2'`). Default true. */
  header?: boolean;
  /** Option names the messages point at (default the CLI's flags). */
  optionNames?: OptionNames;
  column?: string;
  itemColumn?: string;
  itemListColumn?: string;
  /** Separator inside an itemList cell. Default `|`. */
  listSeparator?: string;
  attributes?: string[];
  /** `NAME=COLUMN` strings or parsed specs. */
  filters?: (string | FilterSpec)[];
  /** `NAME=VALUE[|VALUE...]` strings: the same filter values on every line. */
  filterConstants?: string[];
  /** Separator of several values in one filter cell or constant. Default `|`. */
  valueSeparator?: string;
  /** Keep rows at or after this time (epoch seconds or milliseconds, or ISO 8601); needs a timestamp column. */
  since?: string | number;
  timestampColumn?: string;
  /**
   * Keep only the rows that match, e.g. `country in ('DE','AT') and last_login >= 2026-01-01`
   * (README, "Row filters"); needs named columns. Checked before the record is built.
   */
  where?: string;
  /** Remove duplicate keys (first occurrence kept). Default true. */
  dedupe?: boolean;
  /** Bytes of keys held in memory before spilling to disk. Default 64 MiB. */
  memoryBudget?: number;
  /** Folder for spill partitions. Default the OS temp folder. */
  tmpDir?: string;
  /** Spilled bytes from which the dedupe drain uses a second thread. Default 32 MiB. */
  parallelDrainMinBytes?: number;
  /**
   * Local files from which the byte path scans on two threads when every record goes to disk
   * (a file over 4 memory budgets). Default 32 MiB.
   */
  parallelScanMinBytes?: number;
  /** Where that cut falls, as a fraction of the file (the first line end from there). Default 0.5. */
  parallelScanAt?: number;
  /** `fail` (default): stop at the first bad record. `skip`: write it to `rejects` and go on. */
  onInvalid?: OnInvalid;
  /** Where skipped records go, one JSON object per line with file, line, field, reason and the row. */
  rejects?: string;
  /** Longest input line or CSV record in bytes. Default 1 MiB. */
  maxLineLength?: number;
  /** Longest itemList (personalized-ranking). Default 500. */
  maxItemList?: number;
  /** Write shards and a manifest into this folder instead of one output (see shard()). */
  shardOut?: string;
  shardMaxBytes?: number;
  shardMaxRecords?: number;
  /** With shardOut: shard()'s maxRecordsPerFile and maxFilesPerShard. */
  shardMaxRecordsPerFile?: number;
  shardMaxFilesPerShard?: number;
  /** With shardOut: exactly this many shards by key hash. */
  shards?: number;
  /** With shardOut: replace what the folder holds. */
  force?: boolean;
  /** What a source `-` reads: needed for `-`, as the library never reads the process's own stdin. */
  stdin?: Readable;
  /** What an output (or rejects file) `-` writes to: needed for `-`, as with `stdin`. */
  stdout?: Writable;
  /** Called about every 250 ms with running counts (onEvent's progress event without its type). */
  onProgress?: (p: PrepareProgress) => void;
  /** `{ type: 'progress', recordsRead, written, bytesRead }` about every 250 ms. */
  onEvent?: (e: PrepareEvent) => void;
}

/** About every 250 ms while records are read. */
export type PrepareEvent = { type: 'progress' } & PrepareProgress;

export interface PrepareProgress {
  recordsRead: number;
  written: number;
  bytesRead: number;
}

/** Options resolved once, with every default filled in. */
export interface ResolvedPrepareOptions {
  family: FamilyInfo;
  sources: string[];
  output: string;
  format: Format | 'auto';
  delimiter: string | undefined;
  encoding: string | undefined;
  skipLines: number;
  header: boolean;
  names: OptionNames;
  policy: RecordPolicy;
  build: BuildOptions;
  /** The --where expression, parsed; resolved against each source's header. */
  where: WhereExpr | undefined;
  dedupe: boolean;
  memoryBudget: number;
  tmpDir: string;
  onInvalid: OnInvalid;
  rejects: string | undefined;
  maxLineLength: number;
  limits: Limits;
}

export const PREPARE_DEFAULTS = {
  memoryBudget: 64 * 1024 * 1024,
  maxLineLength: 1024 * 1024,
  listSeparator: '|',
  valueSeparator: '|',
} as const;

export function resolvePrepareOptions(input: PrepareOptions): ResolvedPrepareOptions {
  const o = { ...input };
  const family = resolveFamily(o.recipe);
  const format = o.format ?? 'auto';
  if (!FORMATS.includes(format)) {
    throw notOneOf('--format', String(format), FORMATS);
  }
  const onInvalid = o.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`--on-invalid must be fail or skip, got "${onInvalid}"`);
  if (onInvalid === 'skip' && !o.rejects) {
    throw usage('--on-invalid skip needs --rejects FILE, so that no record is lost silently');
  }
  const valueSeparator = o.valueSeparator ?? PREPARE_DEFAULTS.valueSeparator;
  const filters = filtersOf(o, valueSeparator);
  const optNames: OptionNames = { ...CLI_OPTION_NAMES, ...o.optionNames };
  let since: number | undefined;
  if (o.since !== undefined) {
    const r = parseSince(o.since);
    if ('problem' in r) throw usage(r.problem);
    since = r.seconds;
  }
  const delimiter = checkReading(o, family, format, optNames);
  const where = o.where === undefined ? undefined : parseWhere(o.where, optNames.where);
  const positive = (v: number | undefined, name: string, dflt: number) => {
    if (v === undefined) return dflt;
    if (!Number.isFinite(v) || v <= 0) throw usage(`${name} must be a positive number, got ${v}`);
    return v;
  };
  return {
    family,
    sources: o.sources && o.sources.length > 0 ? [...o.sources] : ['-'],
    output: o.output ?? '-',
    format,
    delimiter,
    encoding: o.encoding,
    skipLines: o.skipLines ?? 0,
    header: o.header ?? true,
    names: optNames,
    policy: {
      allowEmailIds: o.allowEmailIds ?? false,
      emailHint: `pick the id column with ${optNames.column}, or allow them with ${optNames.allowEmailIds} if the ids really are e-mail addresses`,
    },
    build: {
      family,
      column: o.column,
      columnOption: optNames.column,
      noHeaderOption: optNames.noHeader,
      names: optNames,
      itemColumn: o.itemColumn,
      itemListColumn: o.itemListColumn,
      listSeparator: o.listSeparator ?? PREPARE_DEFAULTS.listSeparator,
      attributes: o.attributes ? [...o.attributes] : undefined,
      filters,
      valueSeparator,
      since,
      timestampColumn: o.timestampColumn,
    },
    where,
    dedupe: o.dedupe ?? true,
    memoryBudget: positive(o.memoryBudget, '--memory-budget', PREPARE_DEFAULTS.memoryBudget),
    tmpDir: o.tmpDir ?? tmpdir(),
    onInvalid,
    rejects: o.rejects,
    maxLineLength: positive(o.maxLineLength, '--max-line-length', PREPARE_DEFAULTS.maxLineLength),
    limits: {
      ...DEFAULT_LIMITS,
      maxItemList: positive(o.maxItemList, '--max-item-list', DEFAULT_LIMITS.maxItemList),
    },
  };
}

/** The filter placeholders, from columns and constants; a name given twice is refused. */
function filtersOf(o: PrepareOptions, valueSeparator: string): FilterSpec[] {
  const filters: FilterSpec[] = [];
  for (const f of o.filters ?? [])
    filters.push(typeof f === 'string' ? parseFilterSpec(f, false, valueSeparator) : { ...f });
  for (const f of o.filterConstants ?? []) filters.push(parseFilterSpec(f, true, valueSeparator));
  const names = new Set<string>();
  for (const f of filters) {
    if (names.has(f.name)) throw usage(`filter placeholder ${f.name} is given twice`);
    names.add(f.name);
  }
  return filters;
}

/** The options that say how sources are read, checked against each other and the family; the delimiter. */
function checkReading(
  o: PrepareOptions,
  family: FamilyInfo,
  format: Format | 'auto',
  optNames: OptionNames,
): string | undefined {
  const delimiter = o.delimiter === undefined ? undefined : parseDelimiter(o.delimiter, optNames.delimiter);
  const badEncoding = o.encoding === undefined ? undefined : encodingProblem(o.encoding);
  if (badEncoding) throw usage(`${optNames.encoding} ${badEncoding}`);
  if (delimiter !== undefined && (format === 'plain' || format === 'jsonl' || format === 'json')) {
    throw usage(`${optNames.delimiter} is for CSV sources, not --format ${format}`);
  }
  if (o.skipLines !== undefined && (!Number.isInteger(o.skipLines) || o.skipLines < 0))
    throw usage(`--skip-lines must be a whole number of lines, got ${o.skipLines}`);
  if (o.header === false && (format === 'jsonl' || format === 'json'))
    throw usage('--no-header is for CSV and TSV sources: JSON objects name their fields');
  if (family.family !== 'personalized-ranking' && (o.itemColumn || o.itemListColumn)) {
    throw usage('--item-column and --item-list-column are for --recipe personalized-ranking');
  }
  if (o.itemColumn && o.itemListColumn) throw usage('give --item-column or --item-list-column, not both');
  if (o.attributes && o.attributes.length > 0 && family.family !== 'item-attribute-affinity') {
    throw usage('--attributes is for --recipe item-attribute-affinity');
  }
  return delimiter;
}

/** `NAME=COLUMN` (or, for constants, `NAME=V1|V2`); a leading `$` on the name is dropped. */
export function parseFilterSpec(text: string, constant: boolean, sep: string): FilterSpec {
  const eq = text.indexOf('=');
  const opt = constant ? '--filter-const' : '--filter-value';
  if (eq <= 0) throw usage(`${opt} takes NAME=${constant ? 'VALUE' : 'COLUMN'}, got "${text}"`);
  const name = text.slice(0, eq).trim().replace(/^\$/, '');
  if (!/^[A-Za-z0-9_]{1,256}$/.test(name)) {
    throw usage(`${opt}: filter parameter names are letters, digits and _ (without the $), got "${name}"`);
  }
  const rest = text.slice(eq + 1);
  if (!constant) {
    if (rest.trim() === '') throw usage(`${opt} ${name}= needs a column name`);
    return { name, column: rest.trim() };
  }
  const values = rest
    .split(sep)
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 0) throw usage(`${opt} ${name}= needs at least one value`);
  return { name, constant: values };
}
