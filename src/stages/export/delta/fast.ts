import { checkMapped } from '../../../core/delta.js';
import type { OutItem } from '../../../core/json-values.js';
import { writeOutput, writeTarget } from '../../../io/output.js';
import { isS3Uri } from '../../../io/s3.js';
import { reloadCost } from '../../../io/spill.js';
import { NO_RECOMMENDATIONS } from '../line-checks.js';
import type { ExportOptions, ResolvedExportOptions } from '../options.js';
import type { ExportSummary } from '../summary.js';
import type { DeltaCounts } from './decide.js';
import {
  CHANGED,
  ENTRIES,
  type FilterSetup,
  freshCount,
  GAVE_UP,
  GAVE_UP_FRESH,
  GAVE_UP_READ,
  GAVE_UP_SPLIT,
  GAVE_UP_TWICE,
  KEPT_BYTES,
  KEY_BYTES,
  LineFilter,
  MARKED_OK,
  NEW,
  ROW,
  resetCounts,
  STATE_WORDS,
  UNCHANGED,
} from './filter.js';
import type { KeptItem, LineKeep } from './keep.js';
import type { ResolvedSince } from './options.js';
import type { PrevRead } from './prev.js';
import { readPrevTable } from './prev-table.js';
import { removedHeader, removedKeyLines, withBom } from './removed-users.js';
import { eachEntry, PrevTable, SEEN_ERROR, SEEN_OK, type SharedTable, tableKeys } from './table.js';

/**
 * `export --since`'s table path: when PREV's keys and digests fit
 * --memory-budget in memory (table.ts), PREV is read into the table, then
 * the export itself cuts each piece to the new and changed lines where it
 * converts it (filter.ts), and REMOVED comes from the keys no line marked.
 * No partitions, and the sources are read once instead of twice. Whatever
 * the partition path would decide otherwise or stop at sends --since there
 * (sinceByTable returns undefined, nothing written): PREV's mistakes, a key
 * twice, an invalid line, a partition the partition path would split
 * (REMOVED's order within it would differ). Memory: the table, and 8 bytes
 * a new key, within the budget.
 */

/** Whether --since tries the table first (the tests turn it off to hold the two paths to the same bytes). */
export const SINCE_TABLE = { enabled: true, taken: 0 };

/** The export's own failure when the table path gave up: --since then goes the partition way. */
class GaveUp extends Error {}

/** Whether the table path may take this export: a plain one to a local file that is written only once it succeeded. */
export async function tableFits(o: ResolvedExportOptions): Promise<boolean> {
  if (!SINCE_TABLE.enabled || o.users || o.map || o.part || o.maxFileSize > 0) return false;
  const out = o.output;
  // Bytes already sent (stdout, a device, a FIFO) could not be taken back if the table path gives up.
  if (out === '-' || isS3Uri(out) || out.endsWith('.gz')) return false;
  const target = await writeTarget(out).catch(() => undefined);
  return target !== undefined && !target.inPlace && !target.path.endsWith('.gz');
}

/** Export's own options for the export that writes the kept lines: these sources, --since's own left out (both paths). */
export function plainOptions(options: ExportOptions, sources: string[]): ExportOptions {
  return {
    ...options,
    sources,
    stdin: undefined,
    since: undefined,
    removed: undefined,
    sinceScores: undefined,
    memoryBudget: undefined,
  };
}

/** The export by the table path, or undefined when --since must go the partition way. */
export async function sinceByTable(
  options: ExportOptions,
  d: ResolvedSince,
  o: ResolvedExportOptions,
  sources: string[],
  exportPlain: (o: ExportOptions, keep: LineKeep) => Promise<ExportSummary>,
): Promise<ExportSummary | undefined> {
  const prev = await readPrevTable(d, o);
  if (!prev) return undefined;
  checkMapped(d.since, prev.read.recipe, false);
  const keep = new TableKeep(prev.table, prev.read, d, o);
  let summary: ExportSummary;
  try {
    // A kept line's scores are read first by the export (filter.ts): an invalid one must stop it, as
    // the partition path stops at it, not go to --rejects.
    const plain = { ...plainOptions(options, sources), onInvalid: 'fail' as const, rejects: undefined };
    summary = await exportPlain(plain, keep);
  } catch (err) {
    // Any failure is met again the partition way, with the message that path gives; an abort is not.
    if (options.signal?.aborted) throw err;
    return undefined;
  }
  SINCE_TABLE.taken++;
  const header = removedHeader(prev.read.recipe?.keyColumn ?? 'userId', o);
  await writeOutput(d.removed, options.stdout, withBom(o, keep.removedLines(header)));
  return {
    ...summary,
    warnings: quietWhenUnchanged(summary.warnings, keep.counts),
    sources: sources.length,
    since: { ...keep.counts, prev: d.since, prevFormat: prev.read.format, removedFile: d.removed },
  };
}

/** A delta of unchanged keys has no row by design: the export's "no line had recommendations" would mislead. */
export function quietWhenUnchanged(warnings: string[], counts: DeltaCounts): string[] {
  return counts.unchanged > 0 ? warnings.filter((w) => w !== NO_RECOMMENDATIONS) : warnings;
}

/** tableBytes: the arena's entries and the slots. */
function tableBytes(t: SharedTable): number {
  return t.regions.reduce((n, [s, e]) => n + 4 * (e - s), 0) + t.slots.byteLength;
}

/** The export's kept lines by the table: cut on this thread until the workers run, then by each worker. */
class TableKeep implements LineKeep {
  bytes = 0;
  counts: DeltaCounts = { new: 0, changed: 0, unchanged: 0, removed: 0, failed: 0 };
  readonly lanes: { cut(piece: Buffer): Buffer; setup(thread: number): FilterSetup };
  private readonly base: Omit<FilterSetup, 'thread'>;
  private readonly filter: LineFilter;
  private readonly table: PrevTable;
  private readonly state: Int32Array;
  private readonly rows: Float64Array;
  private passes = 0;
  /** The removed keys' entries, in REMOVED's order (end()). */
  private removed = new Int32Array(0);

  constructor(
    table: SharedTable,
    read: PrevRead,
    private readonly d: ResolvedSince,
    private readonly o: ResolvedExportOptions,
  ) {
    const fresh = Math.max(0, Math.floor((d.memoryBudget - tableBytes(table)) / 8));
    this.base = {
      table,
      state: new SharedArrayBuffer(STATE_WORDS * 4),
      counts: new SharedArrayBuffer((o.workers + 1) * ROW * 8),
      fresh: new SharedArrayBuffer(fresh * 8),
      top: o.top,
      scores: d.sinceScores,
      prevLong: read.format === 'csv-long',
      maxLineLength: o.maxLineLength,
      recipe: read.recipe as NonNullable<PrevRead['recipe']>,
    };
    this.table = new PrevTable(table);
    this.state = new Int32Array(this.base.state);
    this.rows = new Float64Array(this.base.counts);
    this.filter = new LineFilter({ ...this.base, thread: 0 });
    this.lanes = { cut: (p) => this.filter.apply(p), setup: (thread) => ({ ...this.base, thread }) };
  }

  begin(): void {
    // A pass that starts over (csv-wide's measuring pass) meets every key again.
    if (this.passes++ > 0) this.table.clearFlags();
    resetCounts(this.state, this.rows);
    this.bytes = 0;
  }

  async *items(
    src: AsyncIterable<OutItem>,
    give: (b: Buffer) => void,
    raw?: () => boolean,
  ): AsyncGenerator<KeptItem> {
    for await (const item of src) {
      // The partition path stops at an unreadable line, with its place: it is asked to.
      if (item.kind === 'bad') this.giveUp(GAVE_UP_READ);
      if (Atomics.load(this.state, GAVE_UP) !== 0) throw new GaveUp('--since: the partition way');
      if (raw?.() && !item.lineNumbers) {
        yield { ...item, raw: true };
        continue;
      }
      const bytes = this.filter.apply(item.bytes);
      if (bytes.length === 0) {
        give(item.bytes);
        continue;
      }
      // The kept lines are numbered as a file of them would be: by the converter, from 1.
      yield { kind: 'lines', bytes };
    }
  }

  private giveUp(why: number): never {
    Atomics.compareExchange(this.state, GAVE_UP, 0, why);
    throw new GaveUp('--since: the partition way');
  }

  /** The pass is done: the counts, REMOVED's keys, and the checks only the whole pass can make. */
  end(): number {
    if (Atomics.load(this.state, GAVE_UP) !== 0) this.giveUp(GAVE_UP_READ);
    const fresh = freshCount(this.state);
    const sum = (k: number) => {
      let n = 0;
      for (let t = 0; t <= this.o.workers; t++) n += this.rows[t * ROW + k] as number;
      return n;
    };
    if (fresh * 8 > this.base.fresh.byteLength) this.giveUp(GAVE_UP_FRESH);
    if (fresh > 0) {
      const fps = new Float64Array(this.base.fresh, 0, fresh).sort();
      for (let i = 1; i < fresh; i++) if (fps[i] === fps[i - 1]) this.giveUp(GAVE_UP_TWICE);
    }
    const counts: DeltaCounts = {
      new: sum(NEW),
      changed: sum(CHANGED),
      unchanged: sum(UNCHANGED),
      removed: 0,
      failed: 0,
    };
    // Every PREV key marked seen by a line with output (a key marks once, or the path gives up):
    // none removed or failed, and no partition the partition path would split (that takes two
    // removed keys in it). The pass over the table (about 0.15 s for 1.9 M keys, on this thread
    // alone at the export's end) is not needed.
    const everyKeySeen = sum(MARKED_OK) === this.base.table.keys;
    this.removed = everyKeySeen ? new Int32Array(0) : this.gone(counts, sum);
    this.counts = counts;
    this.bytes = sum(KEPT_BYTES);
    return this.bytes;
  }

  /** The removed keys' entries in REMOVED's order, counting them and the failed ones into `counts`. */
  private gone(counts: DeltaCounts, sum: (k: number) => number): Int32Array<ArrayBuffer> {
    const entries = new Float64Array(256);
    const keyBytes = new Float64Array(256);
    for (let p = 0; p < 256; p++) {
      entries[p] = sum(ENTRIES + p);
      keyBytes[p] = sum(KEY_BYTES + p);
    }
    const t = this.table;
    const gone: number[] = [];
    const gonePer = new Int32Array(257);
    eachEntry(t.w, this.base.table.regions, (e) => {
      const p = t.hash(e) >>> 24;
      entries[p] = (entries[p] as number) + 1;
      keyBytes[p] = (keyBytes[p] as number) + t.keyEnd(e) - t.keyStart(e);
      const flags = t.flags(e);
      if ((flags & SEEN_OK) !== 0) return;
      if ((flags & SEEN_ERROR) !== 0) counts.failed++;
      else {
        counts.removed++;
        gone.push(e);
        gonePer[p + 1]++;
      }
    });
    // The partition path decides each partition in memory within an eighth of the budget (a
    // half for each of two threads, a quarter of that for the keys), or splits it again: its
    // removed keys would then come in another order.
    for (let p = 0; p < 256; p++)
      if (
        (gonePer[p + 1] as number) > 1 &&
        reloadCost(keyBytes[p] as number, entries[p] as number) > this.d.memoryBudget / 8
      )
        this.giveUp(GAVE_UP_SPLIT);
    // REMOVED in partition order (the key hash's top byte), each partition's keys in PREV's order.
    for (let p = 0; p < 256; p++) gonePer[p + 1] = (gonePer[p + 1] as number) + (gonePer[p] as number);
    const ordered = new Int32Array(gone.length);
    for (const e of gone) {
      const p = t.hash(e) >>> 24;
      ordered[gonePer[p] as number] = e;
      gonePer[p] = (gonePer[p] as number) + 1;
    }
    return ordered;
  }

  /** REMOVED: the header, then each removed key, in the partition path's order. */
  removedLines(header: string): AsyncGenerator<string> {
    return removedKeyLines(header, tableKeys(this.table, this.removed), this.o);
  }
}
