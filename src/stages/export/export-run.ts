import type { Catalog } from '../../core/catalog.js';
import {
  addCounts,
  type ConvertConfig,
  type ConvertCounts,
  Converter,
  emptyCounts,
  headerBytes,
  type Layout,
  sniffLayout,
  type UserGroupPass,
} from '../../core/out-convert.js';
import { KEY_NAMES, KEY_NONE } from '../../core/out-lines.js';
import type { PlacedRowGroup } from '../../core/parquet/footer.js';
import type { RowGroupMeta } from '../../core/parquet/row-group.js';
import { SlotRing } from '../../core/pool.js';
import { UTF8_BOM } from '../../core/sniff-bytes.js';
import { prefetch } from '../../io/input.js';
import { type OutItem, readOutItems } from '../../io/out-reader.js';
import { writeOutput, writeTarget } from '../../io/output.js';
import { pageCodec } from '../../io/parquet.js';
import { isS3Uri } from '../../io/s3.js';
import type { UsersTable } from './catalog.js';
import type { KeptItem, LineKeep } from './delta/keep.js';
import { checkJoinLayout, invalidRecord, keyOnlyLayout } from './line-checks.js';
import type { ExportOptions, ResolvedExportOptions } from './options.js';
import { parquetFooterOf } from './parquet.js';
import { OneFile, type OutputFiles, PartFiles } from './parts.js';
import type { SideFile } from './side-file.js';
import { type LaneResult, WorkerLane } from './worker-lane.js';

/** What a writing pass starts from: a layout and width measured or given, or guessed (optimistic). */
export interface PassPlan {
  layout: Layout | undefined;
  width: number;
  optimistic: boolean;
}

/** Thrown when an optimistic csv-wide pass meets a line its guessed layout does not fit. */
export class Restart extends Error {}

/** Pieces in flight at once: enough to keep both workers busy, few enough to bound memory. */
const IN_FLIGHT = 4;

/** Shared piece slots: the pieces in flight, the one being filled and the read-ahead fit. */
const SLOTS = IN_FLIGHT + 4;

/**
 * Output in order: bytes here (the header, pieces converted on this thread, or output sent back by
 * a worker), or the length of an output a worker holds and will write itself at the offset given.
 */
type Chunk = (
  | { buf: Buffer; release: (() => void) | undefined; held?: undefined; header?: boolean }
  | { held: { lane: WorkerLane; id: number; length: number }; buf?: undefined; header?: undefined }
) & { rowGroup?: RowGroupMeta };

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
export class ExportRun {
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
  /** Workers keep their outputs and write them to local files themselves. */
  private held = false;
  /** The local files written (the output, or its parts). */
  files: string[] = [];
  parquet: import('./parquet.js').ParquetFiles | undefined; // --format parquet's files, columns, bytes
  rowGroups: PlacedRowGroup[] = []; // cfg.parquet: the row groups written and their offsets, for the footer
  /** Parquet's parts: the next part's name, when an earlier export left a file there; CSV's: those it left, removed. */
  leftOverPart: string | undefined;
  removedParts: string[] = [];
  /** The key of the first error line: the header's when no line had recommendations (keyOnlyLayout). */
  firstErrorKey: Layout['keyField'] | undefined;
  slice: import('./part.js').PartSlice | undefined; // export --part: its sources read and numbered there
  sourcesShape: (() => Promise<{ layout: Layout | undefined; width: number }>) | undefined; // see exportKept
  private lastProgress = Date.now();
  private readonly ring: SlotRing;
  /** A users join on disk: the group of users the current source's pass converts. */
  private userPass: UserGroupPass | undefined;

  constructor(
    private readonly o: ResolvedExportOptions,
    private readonly options: ExportOptions,
    private readonly catalog: Catalog | undefined,
    /** The users table and its columns as the file names them. */
    private readonly users?: UsersTable,
    /** export --since: only these lines of the sources are converted. */
    private readonly keep?: LineKeep,
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
      rename: this.o.rename,
      maxCellBytes: this.o.maxCellBytes,
      measure,
      failFast: this.o.onInvalid === 'fail',
      catalogColumns: this.catalog ? [...this.catalog.names] : [],
      userColumns: this.users ? [...this.users.columns] : [],
      usersRequired: this.o.usersRequired,
      maxLineLength: this.o.maxLineLength,
      optimistic: this.optimistic && !measure,
      parquet: this.o.parquetRowGroups === true,
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
    this.held = false;
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
    this.reset();
    return { layout, maxWidth: c.maxWidth };
  }

  /**
   * The writing pass. Local files (one, or parts under --max-file-size) are written at offsets: by this
   * thread for what it converts, and by each worker for its own outputs, which never cross threads.
   * Other outputs (stdout, .gz, s3://, devices) get every byte through writeOutput.
   */
  async write(
    sources: string[],
    plan: PassPlan,
    errors: SideFile,
    rejects: SideFile | undefined,
  ): Promise<void> {
    this.reset();
    this.optimistic = plan.optimistic;
    this.width = plan.width;
    this.files = [];
    this.rowGroups = [];
    const given = this.o.output;
    if (this.o.maxFileSize > 0) {
      const parts = new PartFiles(given, this.o.maxFileSize);
      await this.writeFiles(sources, plan, errors, rejects, parts);
      this.bytesWritten += parts.extraHeaderBytes;
      this.removedParts = await parts.removeLeftOver();
      return;
    }
    // A link is written through to its target; a device or FIFO goes the sequential way.
    const target = given === '-' || isS3Uri(given) ? undefined : await writeTarget(given);
    const out = target && !target.inPlace ? target.path : given;
    if (out === '-' || out.endsWith('.gz') || isS3Uri(out) || target?.inPlace) {
      this.held = false;
      if (plan.layout) this.setLayout(plan.layout, plan.width, false);
      try {
        const self = this;
        await writeOutput(
          out,
          this.options.stdout,
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
    await this.writeFiles(sources, plan, errors, rejects, await OneFile.open(out));
  }

  /** The writing pass to local files at offsets. */
  private async writeFiles(
    sources: string[],
    plan: PassPlan,
    errors: SideFile,
    rejects: SideFile | undefined,
    files: OutputFiles,
  ): Promise<void> {
    this.held = true;
    if (plan.layout) this.setLayout(plan.layout, plan.width, false);
    const writes: Promise<void>[] = [];
    try {
      for await (const c of this.chunks(sources, errors, rejects)) {
        if (c.header && files.takesHeader(c.buf)) continue;
        const { file, at } = await files.place(c.held ? c.held.length : c.buf.length);
        if (c.held) {
          const { lane, id } = c.held;
          writes.push(
            lane
              .write(id, file.fd, at)
              .catch((e: unknown) => Promise.reject(file.failure(String((e as Error).message)))),
          );
        } else {
          await file.writeAt(c.buf, at);
          c.release?.();
        }
        // The workers write as their offsets come; wait now and then so failures surface early.
        if (writes.length >= 64) await Promise.all(writes.splice(0, 32));
      }
      await Promise.all(writes);
      await this.closeLanes();
      this.files = await files.commit();
    } catch (err) {
      // No thread may still write to a file when it is closed and removed.
      await Promise.allSettled(writes);
      await this.closeLanes();
      await files.abort();
      throw err;
    } finally {
      this.held = false;
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
      let h = headerBytes(this.cfg(this.width), this.layout ?? keyOnlyLayout(this.firstErrorKey));
      if (this.o.bom) h = Buffer.concat([UTF8_BOM, h]);
      this.bytesWritten += h.length;
      return { buf: h, release: undefined, header: true };
    };
    for await (const c of this.pass(sources, this.width, false, errors, rejects)) {
      const length = c.held ? c.held.length : c.buf.length;
      if (length === 0) {
        if (c.held) {
          // Nothing to write: the worker just drops the empty buffer.
          c.held.lane.write(c.held.id, -1, 0).catch(() => {});
        } else c.release?.();
        continue;
      }
      if (!headerDone) yield header();
      if (c.rowGroup) this.rowGroups.push({ at: this.bytesWritten, meta: c.rowGroup }); // one file: bytes so far
      this.bytesWritten += length;
      yield c;
    }
    await this.users?.beforeCommit?.(this.counts);
    const whole = !headerDone && !this.layout ? await this.sourcesShape?.() : undefined;
    if (whole?.layout) this.setLayout(whole.layout, whole.width, false);
    if (!headerDone) yield header();
    if (this.o.parquetRowGroups === true) {
      const layout = this.layout ?? keyOnlyLayout(this.firstErrorKey);
      const footer = parquetFooterOf(this.cfg(this.width), layout, this.rowGroups);
      this.bytesWritten += footer.length;
      yield { buf: footer, release: undefined };
    }
  }

  private setLayout(layout: Layout, width: number, measure: boolean): void {
    checkJoinLayout(layout, this.catalog !== undefined, this.users !== undefined);
    this.layout = layout;
    this.width = width;
    const cfg = this.cfg(width, measure);
    const pages = cfg.parquet ? pageCodec() : undefined;
    this.converter = new Converter(cfg, this.catalog, this.users?.table, pages);
    this.converter.setPass(this.userPass);
    this.laneCfg = cfg;
  }

  /** Starts the workers, once the input proves longer than two pieces (a small one is done first). */
  private startLanes(): void {
    if (this.lanes.length > 0 || !this.laneCfg) return;
    // The join tables' memory is shared: each worker reads the one copy this thread loaded.
    const catalog = this.catalog?.share();
    const users = this.users?.table?.share();
    for (let i = 0; i < this.o.workers; i++) {
      const setup = {
        cfg: this.laneCfg,
        slots: this.ring.slots,
        held: this.held,
        catalog,
        users,
        pass: this.userPass,
        // export --since's table path: each worker cuts its pieces to the kept lines itself.
        delta: this.keep?.lanes?.setup(i + 1),
      };
      this.lanes.push(new WorkerLane(setup, this.ring));
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
   * Converts every source's pieces in order, on the worker threads when there are any (two: this thread
   * only reads, dispatches and writes; one: this thread takes a share), and yields the outputs in order.
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
    this.keep?.begin();
    this.userPass = undefined;
    for (const [index, source] of sources.entries()) {
      await this.swapUsers(index);
      noLayout?.setPass(this.userPass);
      // A users join on disk reads each source once per group: the first pass counts and checks.
      const pass = this.userPass as UserGroupPass | undefined;
      const counted = pass === undefined || pass.first;
      const queue: Entry[] = [];
      const next = { line: this.slice?.firstLine(source) ?? 1 };
      for await (const item of this.items(source, counted) as AsyncGenerator<KeptItem>) {
        if (item.kind === 'bad') {
          if (counted) queue.push({ bad: item });
        } else {
          if (!this.layout) {
            const sniffed = sniffLayout(item.bytes);
            if (sniffed) {
              this.setLayout(sniffed.layout, this.optimistic ? Math.max(1, sniffed.width) : width, measure);
              noLayout = undefined;
            }
          }
          pieces++;
          const coldPieces = this.o.parquetRowGroups === true ? 1 : 2; // row groups cost more in cold code
          if (pieces > coldPieces && !item.lineNumbers) this.startLanes();
          const conv = (this.converter ?? noLayout) as Converter;
          let lane: WorkerLane | undefined;
          for (const l of this.lanes) if (!lane || l.busy < lane.busy) lane = l;
          // With one worker, this thread takes every piece it finds the worker busy with two.
          const cut = this.keep?.lanes !== undefined && item.raw !== true; // not to be cut again on a worker
          const useLane =
            lane !== undefined && !item.lineNumbers && !cut && (this.lanes.length > 1 || lane.busy < 2);
          if (useLane && lane) {
            const l = lane;
            const { id, result } = l.convert(item.bytes);
            queue.push({ lines: undefined, result, lane: l, id, release: (b) => l.recycle(b) });
          } else {
            const r = conv.convert(item.raw ? (this.keep?.lanes?.cut(item.bytes) ?? item.bytes) : item.bytes);
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
    if (this.keep) this.bytesRead = this.keep.end();
  }

  /** A source's pieces, read ahead; `counted`: its bytes count in bytesRead. */
  private items(source: string, counted: boolean): AsyncGenerator<OutItem> {
    const read = (this.slice?.read ?? readOutItems)(source, {
      stdin: this.options.stdin,
      pieceSize: this.o.pieceSize,
      maxLineLength: this.o.maxLineLength,
      pool: this.ring,
      onBytes: (n) => {
        if (!this.keep && counted) this.bytesRead += n;
      },
    });
    const raw = () => this.lanes.length > 0 && this.layout !== undefined; // the layout is sniffed from kept lines
    return prefetch(this.keep?.items(read, (b) => this.ring.give(b), raw) ?? read, 2);
  }

  /** A partitioned users join: the source's partition of users replaces the last one (never both held). */
  // The last source's pieces are all settled: each idle worker gets the new table first.
  private async swapUsers(index: number): Promise<void> {
    const u = this.users;
    if (!u?.forSource) return;
    u.table = undefined;
    this.converter?.setUsers(undefined);
    const next = await u.forSource(index, this.counts.keyScanMisses);
    u.table = next.table;
    this.userPass = next.pass;
    this.converter?.setUsers(u.table);
    this.converter?.setPass(next.pass);
    if (this.lanes.length > 0) {
      const shared = u.table.share();
      for (const lane of this.lanes) lane.setUsers(shared, next.pass);
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
    const { rowGroup } = r;
    if (r.held && entry.lane)
      return { held: { lane: entry.lane, id: entry.id, length: r.outLength }, rowGroup };
    const ab = r.out.buffer as ArrayBuffer;
    return { buf: r.out, release: r.out.byteLength > 0 ? () => entry.release(ab) : undefined, rowGroup };
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
    const rec = invalidRecord(this.o, file, line, reason, text, cut);
    if (measure) return;
    this.invalid++;
    await rejects?.write(rec);
  }

  private progress(): void {
    const { onProgress, onEvent } = this.options;
    if (!(onProgress || onEvent) || Date.now() - this.lastProgress <= 250) return;
    this.lastProgress = Date.now();
    const p = { lines: this.counts.lines, bytesRead: this.bytesRead };
    onProgress?.(p);
    onEvent?.({ type: 'progress', ...p });
  }
}
