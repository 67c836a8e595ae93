import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Worker } from 'node:worker_threads';
import { CATALOG_MAX_ITEMS, Catalog } from '../../core/catalog.js';
import { accessor, findColumn, ITEM_COLUMNS } from '../../core/columns.js';
import { encodingProblem } from '../../core/encoding.js';
import {
  addCounts,
  type ConvertConfig,
  type ConvertCounts,
  Converter,
  type ConvertResult,
  csvHeader,
  EXPORT_FORMATS,
  type ExportFormat,
  emptyCounts,
  headerBytes,
  type Layout,
  sniffLayout,
} from '../../core/out-convert.js';
import { KEY_NAMES, KEY_NONE } from '../../core/out-lines.js';
import { SlotRing } from '../../core/pool.js';
import { CLI_OPTION_NAMES, type OptionNames, parseDelimiter } from '../../core/sniff.js';
import { notOneOf } from '../../core/suggest.js';
import { PbError, usage } from '../../errors.js';
import type { ConvertReply, ConvertRequest, WorkerSetup } from '../../io/convert-worker.js';
import { checkDocKind } from '../../io/doc-kind.js';
import { expandOutSources, type OutItem, readOutItems } from '../../io/out-reader.js';
import { checkNotAnInput, PositionalFile, writeOutput, writeTarget } from '../../io/output.js';
import { readRows } from '../../io/rows.js';
import { isS3Uri } from '../../io/s3.js';
import { openText } from '../../io/text.js';
import { startWorker } from '../../io/workers.js';

/** Options of `export`. Everything but `sources` has a default. */
export interface ExportOptions {
  /** `.out` files, folders and `s3://bucket/prefix/`s (their `*.out` files), or `-` for stdin. */
  sources: string[];
  /** A path (written atomically; `.gz` compresses), `s3://bucket/key`, or `-` for stdout. Default `-`. */
  output?: string;
  /** Default `csv-long`. */
  format?: ExportFormat;
  /** Ids per key, at most. Default: all. For csv-wide also the number of item_i columns. */
  top?: number;
  /** Items CSV (or TSV, JSON Lines; gzip detected) whose columns are joined to every recommended item. */
  catalog?: string;
  /** Catalog columns to join, in order. Default: every column but the id. */
  catalogColumns?: string[];
  /** The catalog's id column. Default: ITEM_ID, item_id, itemId, ... */
  catalogIdColumn?: string;
  /** The catalog's field delimiter. Default: detected (see prepare's rules). */
  catalogDelimiter?: string;
  /** The catalog's text encoding (a TextDecoder label). Default UTF-8; a byte order mark decides first. */
  catalogEncoding?: string;
  /** Most items the catalog may hold (it is kept in memory). Default 5,000,000. */
  maxCatalogItems?: number;
  /** Neutralise spreadsheet formulas in CSV text cells (a leading '). Default true. */
  escapeFormulas?: boolean;
  /** CSV line ends: `crlf` (RFC 4180, the default) or `lf`. */
  lineEnding?: 'crlf' | 'lf';
  /**
   * Where lines whose `error` is not null go, as read. Default: OUTPUT
   * (without `.gz`) + `.errors.jsonl`, or `errors.jsonl` when OUTPUT is `-`.
   * Written only when there are such lines.
   */
  errors?: string;
  /** `fail` (default): stop at the first invalid line. `skip`: write it to `rejects` and go on. */
  onInvalid?: 'fail' | 'skip';
  /** Invalid lines with file, line, reason and text (JSON Lines); required with `skip`. */
  rejects?: string;
  /** Longest line in bytes (default 128 MiB: a segment line can hold millions of users). */
  maxLineLength?: number;
  /** Conversion worker threads besides the main thread: 0, 1 or 2. Default 2 (used from the 3rd piece on). */
  workers?: number;
  /** Bytes per piece of lines handed to a converter. Default 1 MiB. */
  pieceSize?: number;
  /** Where csv-wide spools stdin for its two passes. Default the OS temp folder. */
  tmpDir?: string;
  stdin?: Readable;
  stdout?: Writable;
  /** Called about every 250 ms. */
  onProgress?: (p: { lines: number; bytesRead: number }) => void;
}

export interface ResolvedExportOptions {
  sources: string[];
  output: string;
  format: ExportFormat;
  top: number;
  catalog: string | undefined;
  catalogColumns: string[] | undefined;
  catalogIdColumn: string | undefined;
  catalogDelimiter: string | undefined;
  catalogEncoding: string | undefined;
  maxCatalogItems: number;
  escapeFormulas: boolean;
  crlf: boolean;
  errors: string;
  onInvalid: 'fail' | 'skip';
  rejects: string | undefined;
  maxLineLength: number;
  workers: number;
  pieceSize: number;
  tmpDir: string;
}

export const EXPORT_DEFAULTS = {
  format: 'csv-long',
  maxLineLength: 128 * 1024 * 1024,
  pieceSize: 1024 * 1024,
} as const;

export interface ExportSummary {
  format: ExportFormat;
  sources: number;
  /** Lines read, blank ones included. */
  lines: number;
  /** Keys exported (lines with recommendations). */
  records: number;
  /** Exported lines with an empty input (Popularity-Count as an older AWS example shows it): no key. */
  withoutKey: number;
  /** Rows or JSON records written. */
  rows: number;
  /** Lines whose error is not null (written to errorsFile). */
  errorLines: number;
  /** Malformed, truncated or off-schema lines (skipped with on-invalid skip). */
  invalid: number;
  blankLines: number;
  bytesRead: number;
  bytesWritten: number;
  /** The columns written (CSV), or [] for JSON Lines. */
  columns: string[];
  /** What the first exported line set: key column, id kind, optional columns. */
  layout: Layout | null;
  /** csv-wide: the number of item_i columns. */
  width: number | null;
  catalogItems: number | null;
  /** Recommendations (rows) whose item is not in the catalog (their columns left empty). */
  catalogMissing: number;
  /** Catalog rows with an empty id (a gift card with no SKU): skipped. */
  catalogRowsWithoutId: number;
  errorsFile: string | null;
  /** Passes over the input: 1, or for csv-wide without --top 2 (measured first, for stdout) or 3 (a guess proved wrong). */
  passes: number;
  seconds: number;
  warnings: string[];
}

export function resolveExportOptions(input: ExportOptions): ResolvedExportOptions {
  const o = { ...input };
  const format = o.format ?? EXPORT_DEFAULTS.format;
  if (!EXPORT_FORMATS.includes(format)) {
    throw notOneOf('--format', String(format), EXPORT_FORMATS);
  }
  const onInvalid = o.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`--on-invalid must be fail or skip, got "${onInvalid}"`);
  if (onInvalid === 'skip' && !o.rejects) {
    throw usage('--on-invalid skip needs --rejects FILE, so that no line is lost silently');
  }
  const lineEnding = o.lineEnding ?? 'crlf';
  if (lineEnding !== 'crlf' && lineEnding !== 'lf')
    throw usage(`--line-ending must be crlf or lf, got "${lineEnding}"`);
  const whole = (v: number | undefined, name: string, dflt: number, min = 1) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < min)
      throw usage(`${name} must be a whole number of at least ${min}, got ${v}`);
    return v;
  };
  if (o.catalogColumns && !o.catalog) throw usage('--catalog-columns needs --catalog ITEMS.csv');
  if (o.catalogIdColumn && !o.catalog) throw usage('--catalog-id-column needs --catalog ITEMS.csv');
  if (o.catalogDelimiter && !o.catalog) throw usage('--catalog-delimiter needs --catalog ITEMS.csv');
  if (o.catalogEncoding && !o.catalog) throw usage('--catalog-encoding needs --catalog ITEMS.csv');
  const badEncoding = o.catalogEncoding === undefined ? undefined : encodingProblem(o.catalogEncoding);
  if (badEncoding) throw usage(`--catalog-encoding ${badEncoding}`);
  const sources = [...(o.sources ?? [])];
  if (sources.length === 0)
    throw usage('export needs at least one SOURCE (a .out file, folder, s3:// prefix or -)');
  if (sources.filter((s) => s === '-').length > 1) throw usage('stdin (-) can be given only once');
  const output = o.output ?? '-';
  return {
    sources,
    output,
    format,
    top: whole(o.top, '--top', 0),
    catalog: o.catalog,
    catalogColumns: o.catalogColumns ? [...o.catalogColumns] : undefined,
    catalogIdColumn: o.catalogIdColumn,
    catalogDelimiter:
      o.catalogDelimiter === undefined
        ? undefined
        : parseDelimiter(o.catalogDelimiter, '--catalog-delimiter'),
    catalogEncoding: o.catalogEncoding,
    maxCatalogItems: whole(o.maxCatalogItems, 'maxCatalogItems', CATALOG_MAX_ITEMS),
    escapeFormulas: o.escapeFormulas ?? true,
    crlf: lineEnding === 'crlf',
    errors: o.errors ?? defaultErrorsPath(output),
    onInvalid,
    rejects: o.rejects,
    maxLineLength: whole(o.maxLineLength, '--max-line-length', EXPORT_DEFAULTS.maxLineLength),
    workers: Math.min(2, whole(o.workers, 'workers', 2, 0)),
    pieceSize: whole(o.pieceSize, 'pieceSize', EXPORT_DEFAULTS.pieceSize),
    tmpDir: o.tmpDir ?? tmpdir(),
  };
}

/** OUTPUT without `.gz`, plus `.errors.jsonl`; `errors.jsonl` for stdout. */
export function defaultErrorsPath(output: string): string {
  if (output === '-') return 'errors.jsonl';
  return `${output.replace(/\.gz$/, '')}.errors.jsonl`;
}

/**
 * Exports batch outputs to CSV (one row per recommendation or per key) or
 * JSON Lines (one record per key), in one pass. csv-wide without --top
 * guesses the width from the first lines; if a later line is wider (or has
 * a column the first lines lacked), that pass is dropped, a pass measures
 * every line, and a last one writes. To stdout, where nothing can be taken
 * back, it measures first. Stdin is spooled to disk for these passes.
 * Memory: a few 1 MiB pieces and their outputs in flight per thread, the
 * longest line (bounded by maxLineLength) and the catalog, if any.
 */
export async function exportOutputs(options: ExportOptions): Promise<ExportSummary> {
  const o = resolveExportOptions(options);
  const started = process.hrtime.bigint();
  // A file named directly is read whatever its name, so its content must be output.
  for (const src of o.sources) await checkDocKind(src, 'out');
  const sources = await expandOutSources(o.sources);
  await checkNotAnInput(o.output, sources);
  let spoolDir: string | undefined;
  let rejects: SideFile | undefined;
  try {
    const loaded = o.catalog ? await loadCatalog(o) : undefined;
    const catalog = loaded?.catalog;
    const run = new ExportRun(o, options, catalog);
    let readFrom = sources;
    const guessWidth = o.format === 'csv-wide' && o.top === 0;
    if (guessWidth && sources.includes('-')) {
      spoolDir = await mkdtemp(join(o.tmpDir, 'personalize-batch-export-'));
      const spooled = join(spoolDir, 'stdin');
      await pipeline(options.stdin ?? process.stdin, createWriteStream(spooled));
      readFrom = sources.map((s) => (s === '-' ? spooled : s));
    }
    let passes = 1;
    let plan: { layout: Layout | undefined; width: number; optimistic: boolean } = {
      layout: undefined,
      width: o.top,
      // Bytes sent to stdout cannot be taken back: there the width is measured first.
      optimistic: guessWidth && o.output !== '-',
    };
    if (guessWidth && o.output === '-') {
      const measured = await run.measure(readFrom);
      plan = { layout: measured.layout, width: Math.max(1, measured.maxWidth), optimistic: false };
      passes = 2;
    }
    for (;;) {
      rejects = o.rejects ? new SideFile(o.rejects, options.stdout) : undefined;
      const errors = new SideFile(o.errors, options.stdout);
      try {
        await run.write(readFrom, plan, errors, rejects);
        await errors.close();
        break;
      } catch (err) {
        await errors.abort();
        if (!(err instanceof Restart)) throw err;
        // Only the invalid lines of the pass that counts are kept.
        await rejects?.abort();
        rejects = undefined;
        const measured = await run.measure(readFrom);
        plan = { layout: measured.layout, width: Math.max(1, measured.maxWidth), optimistic: false };
        passes = 3;
      }
    }
    const s = run.counts;
    const finalLayout = run.layout ?? null;
    const warnings: string[] = [];
    if (s.records === 0) warnings.push('no line had recommendations to export');
    if (s.droppedScores > 0)
      warnings.push(
        `${s.droppedScores} lines had scores, but the first exported lines had none: not exported`,
      );
    if (s.droppedReasons > 0)
      warnings.push(
        `${s.droppedReasons} lines had reasons, but the first exported lines had none: not exported`,
      );
    if (s.droppedThemes > 0)
      warnings.push(`${s.droppedThemes} lines had a theme, but the export has no theme column`);
    if (loaded && loaded.withoutId > 0)
      warnings.push(
        `${loaded.withoutId} catalog row${loaded.withoutId === 1 ? ' has' : 's have'} no item id and ${loaded.withoutId === 1 ? 'was' : 'were'} skipped (line${loaded.withoutId === 1 ? '' : 's'} ${loaded.lines.join(', ')}${loaded.withoutId > loaded.lines.length ? ', ...' : ''} of ${o.catalog})`,
      );
    if (catalog && catalog.duplicates > 0)
      warnings.push(`the catalog repeats ${catalog.duplicates} item ids; the first row of each was used`);
    if (s.catalogMissing > 0 && s.catalogMissing === s.rows)
      warnings.push(
        `none of the ${s.rows} recommendations names an item in the catalog (${o.catalog}): is it the catalog of this dataset, and its id column the right one (--catalog-id-column)? Its columns are empty`,
      );
    else if (s.catalogMissing > 0)
      warnings.push(
        `${s.catalogMissing} recommendation${s.catalogMissing === 1 ? ' names an item' : 's name items'} not in the catalog; ${s.catalogMissing === 1 ? 'its' : 'their'} catalog columns are empty`,
      );
    if (s.errorLines > 0)
      warnings.push(
        `${s.errorLines} line${s.errorLines === 1 ? ' has' : 's have'} an error; written to ${o.errors}`,
      );
    if (s.withoutKey > 0)
      warnings.push(
        `${s.withoutKey} lines had an empty input ({}, Popularity-Count with no user): exported with an empty key${o.format === 'jsonl' ? ' (null)' : ''}`,
      );
    return {
      format: o.format,
      sources: sources.length,
      lines: s.lines,
      records: s.records,
      withoutKey: s.withoutKey,
      rows: s.rows,
      errorLines: s.errorLines,
      invalid: run.invalid,
      blankLines: s.blank,
      bytesRead: run.bytesRead,
      bytesWritten: run.bytesWritten,
      columns: o.format === 'jsonl' ? [] : csvHeader(run.cfg(run.width), finalLayout ?? run.fallbackLayout()),
      layout: finalLayout,
      width: o.format === 'csv-wide' ? run.width : null,
      catalogItems: catalog ? catalog.size : null,
      catalogMissing: s.catalogMissing,
      catalogRowsWithoutId: loaded?.withoutId ?? 0,
      errorsFile: s.errorLines > 0 ? o.errors : null,
      passes,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
      warnings,
    };
  } finally {
    await rejects?.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}

/** Thrown when an optimistic csv-wide pass meets a line its guessed layout does not fit. */
class Restart extends Error {}

/** Pieces in flight at once: enough to keep both workers busy, few enough to bound memory. */
const IN_FLIGHT = 4;

/** Shared piece slots: the pieces in flight, the one being filled and the read-ahead fit. */
const SLOTS = IN_FLIGHT + 4;

/**
 * Output in order: bytes here (the header, pieces converted on this thread,
 * or output sent back by a worker), or the length of an output a worker
 * holds and will write itself at the offset it is given.
 */
type Chunk =
  | { buf: Buffer; release: (() => void) | undefined; held?: undefined }
  | { held: { lane: WorkerLane; id: number; length: number }; buf?: undefined };

interface LaneResult extends ConvertResult {
  /** The output stays in the worker (positional writes); out is empty. */
  held: boolean;
  outLength: number;
}

type Entry =
  | { bad: Extract<OutItem, { kind: 'bad' }> }
  | {
      lines: number[] | undefined;
      result: Promise<LaneResult>;
      lane: WorkerLane | undefined;
      id: number;
      release: (b: ArrayBuffer) => void;
    };

/** One export's state across sources and passes. */
class ExportRun {
  counts: ConvertCounts = emptyCounts();
  invalid = 0;
  bytesRead = 0;
  bytesWritten = 0;
  layout: Layout | undefined;
  width = 0;
  private optimistic = false;
  private converter: Converter | undefined;
  private lanes: WorkerLane[] = [];
  private laneCfg: ConvertConfig | undefined;
  /** The output file's descriptor while workers write to it themselves. */
  private fd: number | undefined;
  private firstErrorKey: Layout['keyField'] | undefined;
  private lastProgress = Date.now();
  private readonly ring: SlotRing;

  constructor(
    private readonly o: ResolvedExportOptions,
    private readonly options: ExportOptions,
    private readonly catalog: Catalog | undefined,
  ) {
    this.ring = new SlotRing(SLOTS, o.pieceSize);
  }

  cfg(width: number, measure = false): ConvertConfig {
    return {
      format: this.o.format,
      layout: this.layout,
      top: this.o.top,
      width,
      escapeFormulas: this.o.escapeFormulas,
      crlf: this.o.crlf,
      measure,
      failFast: this.o.onInvalid === 'fail',
      catalogColumns: this.catalog ? [...this.catalog.names] : [],
      maxLineLength: this.o.maxLineLength,
      optimistic: this.optimistic && !measure,
    };
  }

  /** The header's layout when no line had recommendations: the key of error lines, or userId. */
  fallbackLayout(): Layout {
    return {
      kind: 'recommendations',
      keyField: this.firstErrorKey ?? 'userId',
      users: false,
      score: false,
      reason: false,
      theme: false,
    };
  }

  private reset(): void {
    this.counts = emptyCounts();
    this.invalid = 0;
    this.bytesRead = 0;
    this.bytesWritten = 0;
    this.layout = undefined;
    this.converter = undefined;
    this.laneCfg = undefined;
  }

  /** A pass that measures only: the layout (with every optional column any line has) and the widest line. */
  async measure(sources: string[]): Promise<{ layout: Layout | undefined; maxWidth: number }> {
    this.reset();
    this.optimistic = false;
    this.fd = undefined;
    try {
      for await (const _ of this.pass(sources, 0, true, undefined, undefined)) {
        // measuring writes nothing
      }
    } finally {
      await this.closeLanes();
    }
    const c = this.counts;
    const layout = this.layout && {
      ...this.layout,
      score: c.sawScores,
      reason: c.sawReasons,
      theme: this.layout.theme || c.sawTheme,
    };
    const maxWidth = c.maxWidth;
    this.reset();
    return { layout, maxWidth };
  }

  /**
   * The writing pass. A plain local file is written at offsets: by this
   * thread for what it converts, and by each worker for its own outputs,
   * which never cross threads. Other outputs (stdout, .gz, s3://) get every
   * byte through writeOutput.
   */
  async write(
    sources: string[],
    plan: { layout: Layout | undefined; width: number; optimistic: boolean },
    errors: SideFile,
    rejects: SideFile | undefined,
  ): Promise<void> {
    this.reset();
    this.optimistic = plan.optimistic;
    this.width = plan.width;
    const given = this.o.output;
    // A link is written through to its target; a device or FIFO goes the sequential way.
    const target = given === '-' || isS3Uri(given) ? undefined : await writeTarget(given);
    const out = target && !target.inPlace ? target.path : given;
    if (out === '-' || out.endsWith('.gz') || isS3Uri(out) || target?.inPlace) {
      this.fd = undefined;
      if (plan.layout) this.setLayout(plan.layout, plan.width, false);
      try {
        const self = this;
        await writeOutput(
          out,
          this.options.stdout ?? process.stdout,
          (async function* () {
            for await (const c of self.chunks(sources, errors, rejects)) {
              if (c.buf) yield c.buf;
            }
          })(),
        );
      } finally {
        await this.closeLanes();
      }
      return;
    }
    const file = await PositionalFile.open(out);
    this.fd = file.fd;
    if (plan.layout) this.setLayout(plan.layout, plan.width, false);
    const writes: Promise<void>[] = [];
    try {
      for await (const c of this.chunks(sources, errors, rejects)) {
        if (c.held) {
          const { lane, id, length } = c.held;
          writes.push(
            lane
              .write(id, file.reserve(length))
              .catch((e: unknown) => Promise.reject(file.failure(String((e as Error).message)))),
          );
        } else {
          await file.append(c.buf);
          c.release?.();
        }
        // The workers write as their offsets come; wait now and then so failures surface early.
        if (writes.length >= 64) await Promise.all(writes.splice(0, 32));
      }
      await Promise.all(writes);
      await this.closeLanes();
      await file.commit();
    } catch (err) {
      // No thread may still write to the file when it is closed and removed.
      await Promise.allSettled(writes);
      await this.closeLanes();
      await file.abort();
      throw err;
    } finally {
      this.fd = undefined;
    }
  }

  private async *chunks(
    sources: string[],
    errors: SideFile,
    rejects: SideFile | undefined,
  ): AsyncGenerator<Chunk> {
    let headerDone = this.o.format === 'jsonl';
    const header = (): Chunk => {
      headerDone = true;
      const h = headerBytes(this.cfg(this.width), this.layout ?? this.fallbackLayout());
      this.bytesWritten += h.length;
      return { buf: h, release: undefined };
    };
    for await (const c of this.pass(sources, this.width, false, errors, rejects)) {
      const length = c.held ? c.held.length : c.buf.length;
      if (length === 0) {
        if (c.held) {
          // Nothing to write: the worker just drops the empty buffer.
          c.held.lane.write(c.held.id, 0).catch(() => {});
        } else c.release?.();
        continue;
      }
      if (!headerDone) yield header();
      this.bytesWritten += length;
      yield c;
    }
    if (!headerDone) yield header();
  }

  private setLayout(layout: Layout, width: number, measure: boolean): void {
    // The catalog joins recommended items; a segment line recommends users (its item is the key).
    if (layout.users && this.catalog)
      throw new PbError(
        'PB_USAGE',
        'this is batch segment output (users for each item): --catalog joins the items a job recommends, and a segment job recommends none; export it without --catalog',
      );
    this.layout = layout;
    this.width = width;
    const cfg = this.cfg(width, measure);
    this.converter = new Converter(cfg, this.catalog);
    this.laneCfg = cfg;
  }

  /** Starts the workers, once the input proves longer than two pieces (a small one is done first). */
  private startLanes(): void {
    // The catalog lives on this thread only: with one, the main thread converts alone.
    if (this.lanes.length > 0 || !this.laneCfg || this.catalog) return;
    for (let i = 0; i < this.o.workers; i++) {
      this.lanes.push(new WorkerLane({ cfg: this.laneCfg, slots: this.ring.slots, fd: this.fd }, this.ring));
    }
  }

  private async closeLanes(): Promise<void> {
    const lanes = this.lanes;
    this.lanes = [];
    for (const l of lanes) await l.close();
    // Pieces a stopped worker had are not coming back; the readers are closed too.
    this.ring.reset();
  }

  /**
   * Converts every source's pieces in order, on the worker threads when
   * there are any (two: this thread only reads, dispatches and writes; one:
   * this thread takes a share), and yields the outputs in order.
   */
  private async *pass(
    sources: string[],
    width: number,
    measure: boolean,
    errors: SideFile | undefined,
    rejects: SideFile | undefined,
  ): AsyncGenerator<Chunk> {
    // Lines before the first one with recommendations are converted without a layout (they can only be errors).
    let noLayout = this.layout
      ? undefined
      : new Converter({ ...this.cfg(width, measure), layout: undefined });
    let pieces = 0;
    for (const source of sources) {
      const queue: Entry[] = [];
      const next = { line: 1 };
      const items = prefetch(
        readOutItems(source, {
          stdin: this.options.stdin,
          pieceSize: this.o.pieceSize,
          maxLineLength: this.o.maxLineLength,
          pool: this.ring,
          onBytes: (n) => {
            this.bytesRead += n;
          },
        }),
        2,
      );
      for await (const item of items) {
        if (item.kind === 'bad') queue.push({ bad: item });
        else {
          if (!this.layout) {
            const sniffed = sniffLayout(item.bytes);
            if (sniffed) {
              this.setLayout(sniffed.layout, this.optimistic ? Math.max(1, sniffed.width) : width, measure);
              noLayout = undefined;
            }
          }
          pieces++;
          if (pieces > 2 && !item.lineNumbers) this.startLanes();
          const conv = (this.converter ?? noLayout) as Converter;
          let lane: WorkerLane | undefined;
          for (const l of this.lanes) if (!lane || l.busy < lane.busy) lane = l;
          // With one worker, this thread takes every piece it finds the worker busy with two.
          const useLane = lane !== undefined && !item.lineNumbers && (this.lanes.length > 1 || lane.busy < 2);
          if (useLane && lane) {
            const l = lane;
            const { id, result } = l.convert(item.bytes);
            queue.push({ lines: undefined, result, lane: l, id, release: (b) => l.recycle(b) });
          } else {
            const r = conv.convert(item.bytes);
            this.ring.give(item.bytes);
            queue.push({
              lines: item.lineNumbers,
              result: Promise.resolve({ ...r, held: false, outLength: r.out.length }),
              lane: undefined,
              id: -1,
              release: (b) => conv.recycle(b),
            });
          }
        }
        while (queue.length >= IN_FLIGHT) {
          const out = await this.settle(queue.shift() as Entry, source, next, measure, errors, rejects);
          if (out) yield out;
        }
        this.progress();
      }
      while (queue.length > 0) {
        const out = await this.settle(queue.shift() as Entry, source, next, measure, errors, rejects);
        if (out) yield out;
      }
    }
  }

  /** Takes the next entry in order: counts, errors, invalid lines; returns its output. */
  private async settle(
    entry: Entry,
    source: string,
    next: { line: number },
    measure: boolean,
    errors: SideFile | undefined,
    rejects: SideFile | undefined,
  ): Promise<Chunk | undefined> {
    if ('bad' in entry) {
      const line = entry.bad.line ?? next.line;
      if (entry.bad.line === undefined) next.line++;
      this.counts.lines++;
      await this.invalidLine(source, line, entry.bad.reason, entry.bad.text, true, measure, rejects);
      return undefined;
    }
    const r = await entry.result;
    if (r.overflow) throw new Restart('a line wider than the first ones');
    const lineOf = (i: number) => (entry.lines ? (entry.lines[i] as number) : next.line + i);
    for (const inv of r.invalid) {
      await this.invalidLine(source, lineOf(inv.index), inv.reason, inv.text, inv.cut, measure, rejects);
    }
    if (!entry.lines) next.line += r.lines;
    addCounts(this.counts, r);
    if (r.errorKey !== KEY_NONE) this.firstErrorKey ??= KEY_NAMES[r.errorKey] as Layout['keyField'];
    if (errors && r.errors.length > 0) await errors.write(r.errors);
    if (r.held && entry.lane) return { held: { lane: entry.lane, id: entry.id, length: r.outLength } };
    const ab = r.out.buffer as ArrayBuffer;
    return { buf: r.out, release: r.out.byteLength > 0 ? () => entry.release(ab) : undefined };
  }

  private async invalidLine(
    file: string,
    line: number,
    reason: string,
    text: string,
    cut: boolean,
    measure: boolean,
    rejects: SideFile | undefined,
  ): Promise<void> {
    const parse = /^(not valid JSON|truncated|line longer|a JSON value longer)/.test(reason);
    if (this.o.onInvalid === 'fail')
      throw new PbError(parse ? 'PB_PARSE' : 'PB_INVALID_RECORD', reason, { file, line });
    if (measure) return;
    this.invalid++;
    const rec = cut ? { file, line, reason, text, cut: true } : { file, line, reason, text };
    await rejects?.write(Buffer.from(`${JSON.stringify(rec)}\n`));
  }

  private progress(): void {
    const cb = this.options.onProgress;
    if (cb && Date.now() - this.lastProgress > 250) {
      this.lastProgress = Date.now();
      cb({ lines: this.counts.lines, bytesRead: this.bytesRead });
    }
  }
}

/**
 * Reads ahead: up to `depth` items are requested before the consumer asks,
 * so reading overlaps with converting and writing.
 */
async function* prefetch<T>(src: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const it = src[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (queue.length < depth) {
        const p = it.next();
        // Rejections are seen when awaited below; this keeps a queued one from counting as unhandled.
        p.catch(() => {});
        queue.push(p);
      }
      const r = await (queue.shift() as Promise<IteratorResult<T>>);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await it.return?.();
  }
}

/**
 * One conversion worker: pieces are posted with an id (as a ring slot, or
 * transferred), results resolved as they come back; the caller keeps the
 * order. In fd mode it also writes its outputs where write() says.
 */
class WorkerLane {
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve: (r: LaneResult) => void; reject: (e: unknown) => void }
  >();
  private readonly writing = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private readonly slotOf = new Map<number, Buffer>();
  private nextId = 0;
  private failure: unknown;

  constructor(
    setup: WorkerSetup,
    private readonly ring: SlotRing,
  ) {
    this.worker = startWorker('convert-worker', setup);
    this.worker.on('message', (m: ConvertReply) => {
      if ('wrote' in m) {
        const w = this.writing.get(m.wrote);
        this.writing.delete(m.wrote);
        if (m.error) w?.reject(new Error(m.error));
        else w?.resolve();
        return;
      }
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      const slot = this.slotOf.get(m.id);
      this.slotOf.delete(m.id);
      if (slot) this.ring.give(slot);
      if ('error' in m) w.reject(new Error(`personalize-batch: conversion worker failed: ${m.error}`));
      else {
        const r = m.result;
        const out = r.out ? Buffer.from(r.out.buffer, r.out.byteOffset, r.out.byteLength) : Buffer.alloc(0);
        w.resolve({
          ...r,
          out,
          errors: Buffer.from(r.errors.buffer, r.errors.byteOffset, r.errors.byteLength),
          held: r.out === undefined,
        });
      }
    });
    const failAll = (err: unknown) => {
      this.failure ??= err;
      for (const w of this.waiting.values()) w.reject(this.failure);
      for (const w of this.writing.values()) w.reject(this.failure);
      this.waiting.clear();
      this.writing.clear();
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', () => failAll(new Error('personalize-batch: the conversion worker stopped')));
  }

  get busy(): number {
    return this.waiting.size;
  }

  /** Converts a piece in the worker. A plain buffer's memory moves there (do not touch it after). */
  convert(bytes: Buffer): { id: number; result: Promise<LaneResult> } {
    const id = this.nextId++;
    if (this.failure) return { id, result: Promise.reject(this.failure) };
    const result = new Promise<LaneResult>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const slot = this.ring.slotOf(bytes);
    if (slot >= 0) {
      this.slotOf.set(id, bytes);
      this.worker.postMessage({ id, slot, length: bytes.length } satisfies ConvertRequest);
    } else {
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.worker.postMessage({ id, bytes: view } satisfies ConvertRequest, [bytes.buffer as ArrayBuffer]);
    }
    return { id, result };
  }

  /** fd mode: has the worker write the output of piece `id` at file offset `at`. */
  write(id: number, at: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<void>((resolve, reject) => this.writing.set(id, { resolve, reject }));
    this.worker.postMessage({ write: id, at } satisfies ConvertRequest);
    return p;
  }

  /** Hands a written output buffer back to the worker (modes without fd). */
  recycle(b: ArrayBuffer): void {
    if (!this.failure && b.byteLength > 0)
      this.worker.postMessage({ recycle: b } satisfies ConvertRequest, [b]);
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/**
 * A side output (errors, rejects) opened on its first write, written
 * atomically like the main output: a temporary name renamed on close().
 */
export class SideFile {
  private pass: PassThrough | undefined;
  private done: Promise<void> | undefined;

  constructor(
    readonly path: string,
    private readonly stdout: Writable | undefined,
  ) {}

  get opened(): boolean {
    return this.pass !== undefined;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.pass) {
      this.pass = new PassThrough({ highWaterMark: 1024 * 1024 });
      this.done = writeOutput(this.path, this.stdout ?? process.stdout, this.pass);
      this.done.catch(() => {});
    }
    if (!this.pass.write(chunk)) await Promise.race([once(this.pass, 'drain'), this.done]);
  }

  /** Commits what was written (nothing happens if nothing was). */
  async close(): Promise<void> {
    if (!this.pass) return;
    this.pass.end();
    await this.done;
  }

  /** Drops what was written: the temporary file is removed, an S3 upload aborted. */
  async abort(): Promise<void> {
    if (!this.pass) return;
    this.pass.destroy(new Error('export failed'));
    await this.done?.catch(() => {});
  }
}

/** What catalog messages call the settings: export's flags, or a pipeline file's keys. */
export interface CatalogOptionNames {
  delimiter: string;
  encoding: string;
  idColumn: string;
  columns: string;
}

const CATALOG_FLAGS: CatalogOptionNames = {
  delimiter: '--catalog-delimiter',
  encoding: '--catalog-encoding',
  idColumn: '--catalog-id-column',
  columns: '--catalog-columns',
};

/** The catalog settings of export (and of a pipeline file's output). */
export type CatalogSettings = Partial<
  Pick<
    ResolvedExportOptions,
    'catalog' | 'catalogColumns' | 'catalogIdColumn' | 'catalogDelimiter' | 'catalogEncoding'
  >
>;

/**
 * Opens the catalog and resolves its columns: the id column and the ones to
 * join. The file is detected as prepare's inputs are (delimiter, encoding,
 * file type). Every mistake in the settings shows here, before any row.
 */
async function openCatalog(o: CatalogSettings, flags: CatalogOptionNames) {
  const file = o.catalog as string;
  const names: OptionNames = {
    ...CLI_OPTION_NAMES,
    delimiter: flags.delimiter,
    encoding: flags.encoding,
    column: flags.idColumn,
    format: flags.delimiter,
    allowEmailIds: '--allow-email-ids',
    skipLines: '--skip-lines',
    noHeader: '--no-header',
  };
  const text = await openText(file, {}, { encoding: o.catalogEncoding, names });
  const src = await readRows(file, text.bytes, {
    format: 'auto',
    maxLineLength: 1024 * 1024,
    delimiter: o.catalogDelimiter,
    column: o.catalogIdColumn,
    names,
  });
  try {
    const header = src.header;
    if (!header || header.length === 0) {
      throw new PbError('PB_USAGE', 'the catalog needs a header row (ITEM_ID,TITLE,...)', { file });
    }
    const keyed = src.keyed;
    const idCol = findColumn(header, o.catalogIdColumn, ITEM_COLUMNS, 'item id', flags.idColumn, file, keyed);
    const columns = o.catalogColumns ?? header.filter((_, i) => i !== idCol);
    if (columns.length === 0)
      throw new PbError('PB_USAGE', 'the catalog has no columns besides the item id', { file });
    const cols = columns.map((n) =>
      accessor(findColumn(header, n, [], n, flags.columns, file, keyed), header, keyed),
    );
    return { file, src, header, keyed, idCol, columns, cols };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/**
 * Checks a catalog's settings against the file (it opens, the id column and
 * the columns to join are there) without reading it: `run` does this before
 * any job is paid for, so a typo in a column name is not found after the jobs.
 */
export async function checkCatalog(
  o: CatalogSettings,
  flags: CatalogOptionNames = CATALOG_FLAGS,
): Promise<void> {
  const c = await openCatalog(o, flags);
  await c.src.close();
}

/**
 * Reads the catalog file into a Catalog, rendering values for the export
 * format; rows with an empty id are skipped and counted.
 */
async function loadCatalog(
  o: ResolvedExportOptions,
): Promise<{ catalog: Catalog; withoutId: number; lines: number[] }> {
  const { file, src, header, keyed, idCol, columns: names, cols } = await openCatalog(o, CATALOG_FLAGS);
  let withoutId = 0;
  const lines: number[] = [];
  const id = accessor(idCol, header, keyed);
  const catalog = new Catalog(names, o.format === 'jsonl', o.escapeFormulas, o.maxCatalogItems);
  for await (const batch of src.batches) {
    for (const row of batch) {
      if (row.error) throw row.error;
      const raw = id(row.values);
      const key = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
      if (key === undefined || key === null || (typeof key === 'string' && key.trim() === '')) {
        // A catalog row without an id (a gift card with no SKU) matches no recommendation.
        withoutId++;
        if (lines.length < 5) lines.push(row.line);
        continue;
      }
      if (typeof key !== 'string') {
        throw new PbError('PB_INVALID_RECORD', 'the item id must be text or a whole number', {
          file,
          line: row.line,
          field: header[idCol],
        });
      }
      const values = cols.map((get) => {
        const v = get(row.values);
        return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      });
      // Trimmed, as prepare trims ids: " i1 " in a spreadsheet is the item i1.
      if (catalog.add(key.trim(), values) === 'full') {
        throw new PbError(
          'PB_LIMIT',
          `the catalog has more than ${o.maxCatalogItems} items; the join holds it in memory (keep only the items you recommend)`,
          { file, line: row.line },
        );
      }
    }
  }
  return { catalog, withoutId, lines };
}
