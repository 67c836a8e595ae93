import type { BatchInput, RowBuilder } from '../../core/build.js';
import { checkRecord, legacyPopularityLine } from '../../core/validate.js';
import { PbError } from '../../errors.js';
import type { Deduper, Grouper } from '../../io/dedupe.js';
import type { Row, RowSource } from '../../io/rows.js';
import type { PrepareProgress, ResolvedPrepareOptions } from './options.js';
import type { RejectWriter } from './rejects.js';
import type { PrepareSummary } from './summary.js';

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

/**
 * The work on rows, source after source: build each record, validate it, dedupe or group it,
 * counting in the summary. A bad row stops the run, or with `onInvalid: 'skip'` goes to the rejects.
 */
export class RecordPass {
  /** Rows were grouped by user (personalized-ranking from rows): drain() writes the groups. */
  private grouped = false;
  /** Popularity-Count lines without a userId, written as they are. */
  legacy = 0;
  private lastProgress = Date.now();

  constructor(
    private readonly opts: ResolvedPrepareOptions,
    readonly s: PrepareSummary,
    private readonly rejects: RejectWriter | undefined,
    readonly dedupe: Deduper | undefined,
    readonly grouper: Grouper | undefined,
    private readonly progress: ((p: PrepareProgress) => void) | undefined,
  ) {}

  async invalid(
    file: string,
    line: number | undefined,
    field: string,
    reason: string,
    row: unknown,
  ): Promise<void> {
    const rejects = this.rejects;
    if (this.opts.onInvalid === 'fail' || !rejects)
      throw new PbError('PB_INVALID_RECORD', reason, { file, line, field });
    this.s.rejected++;
    await rejects.add({ file, line, field, reason, row });
  }

  /** The line to write, or null when the record was rejected (and went to the rejects file). */
  emitRecord(
    rec: BatchInput,
    file: string,
    line: number | undefined,
    row: () => unknown,
    sourceField: (field: string) => string = (f) => f,
  ): string | Promise<string | null> | null {
    const problem = checkRecord(rec, this.opts.family, this.opts.limits, this.opts.policy);
    if (problem) {
      return this.invalid(file, line, sourceField(problem.field), problem.reason, row()).then(() => null);
    }
    return serializeRecord(rec);
  }

  /**
   * The general per-row path: the --where test, then build, validate, dedupe or group; returns
   * the output lines. A row the test leaves out is only counted: it is never rejected or a duplicate.
   */
  async processRows(
    batch: Row[],
    src: Pick<RowSource, 'file' | 'fullRow'>,
    build: RowBuilder,
    legacyOk: boolean,
    where?: (values: Row['values'], line?: number) => boolean,
  ): Promise<string> {
    const { s, dedupe, grouper } = this;
    const name = src.file;
    let chunk = '';
    for (const row of batch) {
      if (row.error) {
        await this.invalid(name, row.line, row.error.field ?? '(row)', row.error.reason, src.fullRow(row));
        continue;
      }
      if (where && !where(row.values, row.line)) {
        s.filteredOut++;
        continue;
      }
      if (legacyOk) {
        const line = legacyPopularityLine(row.values);
        if (line !== null) {
          this.legacy++;
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
        await this.invalid(name, row.line, b.field, b.reason, src.fullRow(row));
        continue;
      }
      if (b.kind === 'pair') {
        this.grouped = true;
        if (b.item.length > 256) {
          const reason = 'an item id is longer than 256 characters (service limit)';
          await this.invalid(name, row.line, 'itemList', reason, src.fullRow(row));
          continue;
        }
        const w = (grouper as Grouper).add(b.key, b.item, b.filterValues);
        if (w) await w;
        continue;
      }
      let out = this.emitRecord(b.record, name, row.line, () => src.fullRow(row), build.sourceField);
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
  }

  showProgress(): void {
    if (this.progress && Date.now() - this.lastProgress > 250) {
      this.lastProgress = Date.now();
      this.progress({
        recordsRead: this.s.recordsRead,
        written: this.s.written,
        bytesRead: this.s.bytesRead,
      });
    }
  }

  /** After the last source: the records grouped by user, then the lines the dedupe holds. */
  async *drain(): AsyncGenerator<string | Buffer> {
    const { grouper, dedupe } = this;
    if (grouper && this.grouped) {
      for await (const rec of grouper.drain()) {
        // A grouped record's position is its user, not one line: report the key.
        let out = this.emitRecord(rec, this.opts.sources.join(','), undefined, () => rec);
        if (typeof out !== 'string' && out !== null) out = await out;
        if (out === null) continue;
        this.s.written++;
        yield out;
      }
    }
    if (dedupe) {
      for await (const out of dedupe.drain()) {
        this.s.written += out.lines;
        yield out.chunk;
      }
    }
  }
}
