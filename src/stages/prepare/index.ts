import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Duplex, PassThrough, Readable, type Writable } from 'node:stream';
import {
  type BatchInput,
  type BuildOptions,
  type FilterSpec,
  makeRowBuilder,
  type RowBuilder,
} from '../../core/build.js';
import { parseSince } from '../../core/dates.js';
import { docKindOfKeys, wrongKind } from '../../core/doc-kind.js';
import { encodingProblem } from '../../core/encoding.js';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { CLI_OPTION_NAMES, type OptionNames, parseDelimiter } from '../../core/sniff.js';
import { notOneOf } from '../../core/suggest.js';
import {
  checkRecord,
  DEFAULT_LIMITS,
  type Limits,
  legacyPopularityLine,
  type RecordPolicy,
} from '../../core/validate.js';
import { PbError, usage } from '../../errors.js';
import { Deduper, Grouper } from '../../io/dedupe.js';
import { expandBatchInputs } from '../../io/doc-kind.js';
import { type FastPlan, fastLines, fastPathApplies } from '../../io/fastpath.js';
import { batchLines, checkNotAnInput, writeOutput } from '../../io/output.js';
import { type Detection, FORMATS, type Format, type Row, type RowSource, readRows } from '../../io/rows.js';
import { SpillDir } from '../../io/spill.js';
import { openText, type TextInfo } from '../../io/text.js';
import { type ShardSummary, shard } from '../shard/index.js';

export type OnInvalid = 'fail' | 'skip';

/** Options of `prepare`. Everything but `recipe` has a default. */
export interface PrepareOptions {
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
  /** Remove duplicate keys (first occurrence kept). Default true. */
  dedupe?: boolean;
  /** Bytes of keys held in memory before spilling to disk. Default 64 MiB. */
  memoryBudget?: number;
  /** Folder for spill partitions. Default the OS temp folder. */
  tmpDir?: string;
  /** Spilled bytes from which the dedupe drain uses a second thread. Default 32 MiB. */
  parallelDrainMinBytes?: number;
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
  stdin?: Readable;
  stdout?: Writable;
  /** Called about every 250 ms with running counts. */
  onProgress?: (p: PrepareProgress) => void;
}

export interface PrepareProgress {
  recordsRead: number;
  written: number;
  bytesRead: number;
}

/** One source as it was read: what detection found (or the options said). */
export interface InputDetection extends Detection {
  file: string;
  encoding: string;
  encodingFrom: TextInfo['encodingFrom'];
  gzip: boolean;
  /** The header's column names (CSV/TSV), or the first object's keys (JSON); absent for plain ids. */
  columns?: string[];
  /** The column the ids came from; absent for plain ids. */
  idColumn?: string;
}

/** Sources listed one by one in a summary; past this only counted. */
const INPUTS_LISTED = 100;

export interface PrepareSummary {
  family: string;
  sources: number;
  /** How each source was read (the first 100; `inputsNotListed` counts the rest). */
  inputs: InputDetection[];
  inputsNotListed: number;
  /** Popularity-Count lines without a userId (`{}`, `{"itemId": ...}`), written as they are. */
  legacyPopularityLines?: number;
  recordsRead: number;
  written: number;
  duplicates: number;
  rejected: number;
  /** Rows left out by --since. */
  inactive: number;
  blankLines: number;
  bytesRead: number;
  bytesWritten: number;
  spilled: boolean;
  seconds: number;
  warnings: string[];
  /** With shardOut: what shard() wrote. */
  shard?: ShardSummary;
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

/**
 * One record as a JSON line. The common single-id shapes are built by hand:
 * JSON.stringify on the object cost about twice as much per line.
 */
export function serializeRecord(rec: BatchInput): string {
  if (rec.filterValues === undefined && rec.itemList === undefined) {
    if (rec.userId !== undefined) return `{"userId":${JSON.stringify(rec.userId)}}\n`;
    if (rec.itemId !== undefined) return `{"itemId":${JSON.stringify(rec.itemId)}}\n`;
  }
  return `${JSON.stringify(rec)}\n`;
}

/** A bad record, as written to the rejects file. */
export interface Reject {
  file: string;
  /** Absent for a record grouped from several rows. */
  line: number | undefined;
  field: string;
  reason: string;
  row: unknown;
}

/**
 * Turns sources into batch-input JSON Lines: parse, build, validate,
 * dedupe (or group, for ranking from rows), write. Memory: the dedupe budget
 * plus one CSV record and ~1 MiB of stream buffers, whatever the input size.
 */
export async function prepare(options: PrepareOptions): Promise<PrepareSummary> {
  let summary: PrepareSummary | undefined;
  if (options.shardOut !== undefined && options.output !== undefined && options.output !== '-') {
    throw usage('give -o OUT or --shard-out DIR, not both');
  }
  const gen = prepareChunks(options);
  async function* body(): AsyncGenerator<Buffer> {
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        summary = r.value;
        return;
      }
      yield r.value;
    }
  }
  if (options.shardOut !== undefined) {
    const sharded = await shard({
      recipe: options.recipe,
      input: '(prepare output)',
      source: body(),
      out: options.shardOut,
      maxBytes: options.shardMaxBytes,
      maxRecords: options.shardMaxRecords,
      maxRecordsPerFile: options.shardMaxRecordsPerFile,
      maxFilesPerShard: options.shardMaxFilesPerShard,
      shards: options.shards,
      force: options.force,
    });
    const s = summary as PrepareSummary;
    s.shard = sharded;
    // Sharding makes the per-file quota warnings moot.
    s.warnings = s.warnings.filter((w) => !w.includes('personalize-batch shard'));
    return s;
  }
  await writeOutput(options.output ?? '-', options.stdout ?? process.stdout, body());
  return summary as PrepareSummary;
}

/**
 * The same work as prepare() without the output: yields batch-input JSON
 * Lines in chunks and returns the summary. Rejects (with `onInvalid: 'skip'`)
 * still go to `options.rejects`.
 */
/** How readRows reads a source, the same for checkSources and the run itself. */
function rowsOptions(opts: ResolvedPrepareOptions): Parameters<typeof readRows>[2] {
  return {
    format: opts.format,
    maxLineLength: opts.maxLineLength,
    delimiter: opts.delimiter,
    column: opts.build.column,
    skipLines: opts.skipLines,
    header: opts.header,
    names: opts.names,
  };
}

/** Read by content: a manifest or an .out file (on stdin, or named .jsonl) is not a list to prepare. */
function checkSourceKind(src: RowSource, name: string): void {
  if (!src.keyed || !src.header) return;
  const wrong = wrongKind(docKindOfKeys(src.header), 'prepare-source', name);
  if (wrong) throw wrong;
}

/** The source's row builder; Popularity-Count lines as an older AWS example wrote them ({} and {"itemId": ...}) are legacyOk. */
function builderFor(
  src: RowSource,
  name: string,
  opts: ResolvedPrepareOptions,
): { build: ReturnType<typeof makeRowBuilder>; legacyOk: boolean } {
  const legacyOk =
    opts.family.family === 'popular-items' &&
    src.keyed &&
    opts.build.column === undefined &&
    (src.header ?? []).every((k) => k === 'itemId');
  const build = makeRowBuilder(
    src.header,
    src.keyed,
    name,
    legacyOk ? { ...opts.build, column: 'userId' } : opts.build,
  );
  return { build, legacyOk };
}

/**
 * Every source opened and read as far as its header (the first object for JSON): that it is there,
 * that it is a list and not another kind of file, that its format can be told, and that the columns
 * asked for are in it. Problems are returned with the index of the source given, none thrown, so `run` reports them all
 * before anything is uploaded; nothing is written. Usage errors in the options themselves throw.
 */
export async function checkSources(options: PrepareOptions): Promise<{ source: number; message: string }[]> {
  const opts = resolvePrepareOptions(options);
  const problems: { source: number; message: string }[] = [];
  let source = 0;
  const attempt = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push({ source, message: err.message });
    }
  };
  for (const [i, given] of opts.sources.entries()) {
    source = i;
    if (given === '-') continue;
    let files: string[] = [];
    await attempt(async () => {
      // Each file's kind is told below, from the first object readRows reads anyway.
      files = await expandBatchInputs([given], { manifests: 'as-is' });
    });
    for (const name of files) {
      await attempt(async () => {
        const text = await openText(name, {}, { encoding: opts.encoding, names: opts.names });
        const src = await readRows(name, text.bytes, rowsOptions(opts));
        try {
          if (src.empty) return;
          checkSourceKind(src, name);
          builderFor(src, name, opts);
        } finally {
          await src.close();
        }
      });
    }
  }
  return problems;
}

export async function* prepareChunks(options: PrepareOptions): AsyncGenerator<Buffer, PrepareSummary> {
  const opts = resolvePrepareOptions(options);
  const started = process.hrtime.bigint();
  const s: PrepareSummary = {
    family: opts.family.family,
    sources: opts.sources.length,
    inputs: [],
    inputsNotListed: 0,
    recordsRead: 0,
    written: 0,
    duplicates: 0,
    rejected: 0,
    inactive: 0,
    blankLines: 0,
    bytesRead: 0,
    bytesWritten: 0,
    spilled: false,
    seconds: 0,
    warnings: [],
  };
  if (opts.sources.filter((x) => x === '-').length > 1) throw usage('stdin (-) can be given only once');
  // s3://bucket/prefix/ stands for every object under it, each a source of its own (own header).
  opts.sources = await expandBatchInputs(opts.sources, { manifests: 'refuse', want: 'prepare-source' });
  await checkNotAnInput(opts.output, opts.sources);
  if (opts.rejects) await checkNotAnInput(opts.rejects, opts.sources);
  s.sources = opts.sources.length;
  const spill = new SpillDir(opts.tmpDir);
  const rejects = opts.rejects ? new RejectWriter(opts.rejects, options.stdout) : undefined;
  const dedupe = opts.dedupe
    ? new Deduper(
        spill,
        opts.memoryBudget,
        await knownLarger(opts.sources, SPILL_FIRST_FACTOR * opts.memoryBudget),
        options.parallelDrainMinBytes,
      )
    : undefined;
  const grouper =
    opts.family.family === 'personalized-ranking' ? new Grouper(spill, opts.memoryBudget) : undefined;
  let lastProgress = Date.now();
  const progress = options.onProgress;

  const invalid = async (
    file: string,
    line: number | undefined,
    field: string,
    reason: string,
    row: unknown,
  ) => {
    if (opts.onInvalid === 'fail' || !rejects)
      throw new PbError('PB_INVALID_RECORD', reason, { file, line, field });
    s.rejected++;
    await rejects.add({ file, line, field, reason, row });
  };
  /** The line to write, or null when the record was rejected (and went to the rejects file). */
  const emitRecord = (
    rec: BatchInput,
    file: string,
    line: number | undefined,
    row: () => unknown,
    sourceField: (field: string) => string = (f) => f,
  ): string | Promise<string | null> | null => {
    const problem = checkRecord(rec, opts.family, opts.limits, opts.policy);
    if (problem) {
      return invalid(file, line, sourceField(problem.field), problem.reason, row()).then(() => null);
    }
    return serializeRecord(rec);
  };

  let grouped = false;
  let legacy = 0;

  /** The general per-row path: build, validate, dedupe or group; returns the output lines. */
  const processRows = async (
    batch: Row[],
    src: RowSource,
    build: RowBuilder,
    legacyOk: boolean,
  ): Promise<string> => {
    const name = src.file;
    let chunk = '';
    for (const row of batch) {
      if (row.error) {
        await invalid(name, row.line, row.error.field ?? '(row)', row.error.reason, src.fullRow(row));
        continue;
      }
      if (legacyOk) {
        const line = legacyPopularityLine(row.values);
        if (line !== null) {
          legacy++;
          if (dedupe) {
            let keep = dedupe.addString(line, line);
            if (typeof keep !== 'boolean') keep = await keep;
            if (!keep) continue;
          }
          s.written++;
          chunk += `${line}\n`;
          continue;
        }
      }
      const b = build(row.values);
      if (b.kind === 'skip') {
        s.inactive++;
        continue;
      }
      if (b.kind === 'invalid') {
        await invalid(name, row.line, b.field, b.reason, src.fullRow(row));
        continue;
      }
      if (b.kind === 'pair') {
        grouped = true;
        if (b.item.length > 256) {
          const reason = 'an item id is longer than 256 characters (service limit)';
          await invalid(name, row.line, 'itemList', reason, src.fullRow(row));
          continue;
        }
        const w = (grouper as Grouper).add(b.key, b.item, b.filterValues);
        if (w) await w;
        continue;
      }
      let out = emitRecord(b.record, name, row.line, () => src.fullRow(row), build.sourceField);
      if (typeof out !== 'string' && out !== null) out = await out;
      if (out === null) continue;
      if (dedupe) {
        let keep = dedupe.addString(JSON.stringify(b.key).slice(1, -1), out.slice(0, -1));
        if (typeof keep !== 'boolean') keep = await keep;
        if (!keep) continue;
      }
      s.written++;
      chunk += out;
    }
    return chunk;
  };

  const showProgress = () => {
    if (progress && Date.now() - lastProgress > 250) {
      lastProgress = Date.now();
      progress({ recordsRead: s.recordsRead, written: s.written, bytesRead: s.bytesRead });
    }
  };

  async function* lines(): AsyncGenerator<string | Buffer> {
    for (const name of opts.sources) {
      const text = await openText(
        name,
        { stdin: options.stdin },
        {
          encoding: opts.encoding,
          names: opts.names,
          onBytes: (n) => {
            s.bytesRead += n;
          },
        },
      );
      const src = await readRows(name, text.bytes, rowsOptions(opts));
      if (src.empty) {
        // Nothing to read a column from: no format or column can be wrong, and no record comes of it.
        s.warnings.push(`${name}: empty: no record`);
        await src.close();
        continue;
      }
      try {
        checkSourceKind(src, name);
      } catch (err) {
        await src.close();
        throw err;
      }
      const { build, legacyOk } = builderFor(src, name, opts);
      src.keepFields(build.fieldsNeeded);
      detected(src, text.info, build);
      for (const w of src.warnings) s.warnings.push(`${name}: ${w}`);
      const fast = fastPlan(src, build);
      if (fast) {
        for await (const chunk of fastLines(src.raw, fast, dedupe, s, (rows) =>
          processRows(rows, src, build, false),
        )) {
          showProgress();
          yield chunk;
        }
        continue;
      }
      for await (const batch of src.batches) {
        s.recordsRead += batch.length;
        const chunk = await processRows(batch, src, build, legacyOk);
        showProgress();
        if (chunk !== '') yield chunk;
      }
      s.blankLines += src.blankLines();
    }
    if (grouper && grouped) {
      for await (const rec of grouper.drain()) {
        // A grouped record's position is its user, not one line: report the key.
        let out = emitRecord(rec, opts.sources.join(','), undefined, () => rec);
        if (typeof out !== 'string' && out !== null) out = await out;
        if (out === null) continue;
        s.written++;
        yield out;
      }
    }
    if (dedupe) {
      for await (const out of dedupe.drain()) {
        s.written += out.lines;
        yield out.chunk;
      }
    }
  }

  /** Records how a source is read, for the summary. */
  const detected = (src: RowSource, info: TextInfo, build: RowBuilder) => {
    if (s.inputs.length >= INPUTS_LISTED) {
      s.inputsNotListed++;
      return;
    }
    const d: InputDetection = {
      file: src.file,
      ...src.detection,
      encoding: info.encoding,
      encodingFrom: info.encodingFrom,
      gzip: info.gzip,
    };
    if (src.header !== null) d.columns = [...src.header];
    if (build.idColumn !== undefined) d.idColumn = build.idColumn;
    s.inputs.push(d);
  };

  /** The byte fast path serves one plain id column with no filters, time window or grouping. */
  const fastPlan = (src: RowSource, build: RowBuilder): FastPlan | undefined => {
    const b = opts.build;
    if (!fastPathApplies(src)) return undefined;
    if (b.filters.length > 0 || b.since !== undefined || build.keyColumn === undefined) return undefined;
    if (opts.family.key !== 'userId' && opts.family.key !== 'itemId') return undefined;
    if (opts.family.family === 'personalized-ranking') return undefined;
    return {
      src,
      column: build.keyColumn,
      field: opts.family.key,
      maxLineLength: opts.maxLineLength,
      allowEmailIds: opts.policy.allowEmailIds === true,
      names: opts.names,
    };
  };

  try {
    for await (const chunk of batchLines(lines())) {
      s.bytesWritten += chunk.length;
      yield chunk;
    }
  } finally {
    // Rejected records are data the user must not lose: they are kept even
    // when the run stops early or fails.
    await rejects?.close();
    await spill.dispose();
  }
  s.duplicates = (dedupe?.duplicates ?? 0) + (grouper?.duplicates ?? 0);
  if (s.written === 0) {
    s.warnings.push(
      s.rejected > 0
        ? 'no records written: every row was rejected'
        : s.inactive > 0
          ? `no records written: every row was before ${opts.names.since}`
          : 'no records written: the sources hold no data rows',
    );
  }
  if (legacy > 0) {
    s.legacyPopularityLines = legacy;
    s.warnings.push(
      `${legacy} Popularity-Count line${legacy === 1 ? ' has' : 's have'} no userId ({} or {"itemId": ...}, as an older AWS example shows): written as they are, though the service's current docs show {"userId": "..."} lines`,
    );
  }
  s.spilled = Boolean(dedupe?.spilled || grouper?.spilled);
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (s.written > opts.family.maxRecordsPerFile) {
    s.warnings.push(
      `${s.written} records exceed the ${opts.family.family} quota of ${opts.family.maxRecordsPerFile} per input file: split them with \`personalize-batch shard\``,
    );
  }
  if (s.bytesWritten > opts.limits.maxBytesPerJob) {
    s.warnings.push(
      `${s.bytesWritten} bytes exceed the 1 GB input quota of one job: split them with \`personalize-batch shard\``,
    );
  }
  return s;
}

/** Inputs over this many times the dedupe budget go straight to the spill partitions (see Deduper). */
const SPILL_FIRST_FACTOR = 4;

/** Whether the sources are all files whose sizes add up to more than `bytes`. */
async function knownLarger(sources: readonly string[], bytes: number): Promise<boolean> {
  let total = 0;
  for (const name of sources) {
    if (name === '-') return false;
    try {
      const st = await stat(name);
      if (!st.isFile()) return false;
      total += st.size;
    } catch {
      return false; // reading it will report the problem
    }
  }
  return total > bytes;
}

/** Rejected records, written atomically; kept even when the run stops on a later error. */
class RejectWriter {
  private readonly pass = new PassThrough();
  private readonly done: Promise<void>;

  constructor(path: string, stdout: Writable | undefined) {
    // A multipart upload on S3 (invisible until complete), a temporary file renamed locally
    // (a device or FIFO written in place).
    this.done = writeOutput(path, stdout, this.pass);
    this.done.catch(() => {});
  }

  async add(r: Reject): Promise<void> {
    if (!this.pass.write(`${JSON.stringify(r)}\n`)) await once(this.pass, 'drain');
  }

  async close(): Promise<void> {
    this.pass.end();
    await this.done;
  }
}

/**
 * prepare() as a Duplex: write the bytes of one source (any supported
 * format, gzip or not), read batch-input JSON Lines. `summary` resolves when
 * the readable side ends.
 */
export function createPrepareStream(
  options: Omit<PrepareOptions, 'sources' | 'stdin' | 'output' | 'stdout'>,
): Duplex & { summary: Promise<PrepareSummary> } {
  let resolveSummary: (s: PrepareSummary) => void = () => {};
  let rejectSummary: (e: unknown) => void = () => {};
  const summary = new Promise<PrepareSummary>((res, rej) => {
    resolveSummary = res;
    rejectSummary = rej;
  });
  summary.catch(() => {});
  const duplex = Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const gen = prepareChunks({ ...options, sources: ['-'], stdin: Readable.from(source) });
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          resolveSummary(r.value);
          return;
        }
        yield r.value;
      }
    } catch (err) {
      rejectSummary(err);
      throw err;
    }
  });
  return Object.assign(duplex, { summary });
}
