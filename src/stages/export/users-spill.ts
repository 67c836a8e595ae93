import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hashBytes } from '../../core/byteset.js';
import type { Catalog } from '../../core/catalog.js';
import { type Layout, layoutMismatch, sniffLayout, type UserGroupPass } from '../../core/out-convert.js';
import {
  decodeString,
  KEY_USER,
  LINE_BLANK,
  LINE_ERROR,
  LINE_INVALID,
  OutLineParser,
} from '../../core/out-lines.js';
import type { TableScanner } from '../../core/table-scan.js';
import { readOutItems } from '../../io/out-reader.js';
import {
  eachLine,
  type PartitionSet,
  partitionOf,
  type ReadScratch,
  readPartition,
  type SpillDir,
} from '../../io/spill.js';
import { eachUserRow, newUsersTable } from './catalog.js';
import type { LineKeep } from './delta/keep.js';
import { checkJoinLayout, invalidRecord } from './line-checks.js';
import type { ExportOptions, ResolvedExportOptions } from './options.js';
import type { UsersOverBudget } from './users-load.js';
import { plainKey, RowCells, RowRecord, readRecord, utf16Units } from './users-rows.js';
import { type UsersRangeDone, usersSplitFor } from './users-split.js';

/**
 * The users join past --memory-budget: both sides partitioned to disk by
 * the user key's hash, then joined a partition at a time. The users file's
 * rows go to 256 fine partitions (key, then the CRM line and the values as
 * bytes, see users-rows.ts); neighbouring fine partitions are grouped so that each
 * group's table fits the budget (sized from what the in-memory attempt
 * measured); the `.out` lines go, as read, to one file per group. The
 * export then reads the group files as its sources, loading each group's
 * users as its file starts. Lines that cannot be exported (invalid, blank)
 * are settled here, in file order, so that their line numbers stay right.
 */

const FINE = 256;

/** What JSON.stringify escapes in a string: quotes, backslashes, control characters, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes the control characters, so they are what is looked for.
export const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/u;

/** A set of fine partitions; its rows' lines are numbered from `offset` (a worker's part of the file). */
interface FineParts {
  paths: readonly string[];
  entries: readonly number[];
  offset: number;
}

/** What the users file held, as the in-memory table would have told it. */
export interface UsersStats {
  size: number;
  duplicates: number;
  /** The first few lines (by file order) of rows whose key an earlier row had. */
  duplicateLines: number[];
  withoutId: number;
  lines: number[];
  /** Partitions the join was split into; 0: held in memory. */
  partitions: number;
  /** Only the outputs' users were read (see loadUsers): `size` counts rows with a key, not distinct users. */
  filtered?: boolean;
}

/** What splitting the `.out` lines found and left. */
export interface OutSplit {
  /** One file per group, in group order: the export's sources. */
  paths: string[];
  /** The layout and width of the first piece with an exported line, as a single pass would sniff them. */
  first: { layout: Layout; width: number } | undefined;
  /** Lines settled here: blank ones and invalid ones (skipped), with the bytes read. */
  blank: number;
  invalid: number;
  bytesRead: number;
  /** The rejects records of the invalid lines, in order, for each writing pass to copy. */
  rejects: string | undefined;
}

export class UsersSpill {
  private readonly groups: number[][];
  private readonly groupOf = new Uint16Array(FINE);
  private readonly seen: boolean[];
  readonly stats: UsersStats;

  private constructor(
    private readonly o: ResolvedExportOptions,
    private readonly spill: SpillDir,
    /** Each set of fine partitions in file order: this thread's, a worker's part (its lines from `offset`), ... */
    private readonly fine: FineParts[],
    private readonly names: readonly string[],
    readonly columns: string[],
    cost: number[],
    dataBudget: number,
    read: { withoutId: number; lines: number[]; rowsWithKey: number | undefined },
    table: Catalog,
  ) {
    // The in-memory attempt's table, emptied by the first load: its memory taken at once (Catalog's
    // room), now the size of the budget, is used again, not left beside a new table until a collection.
    this.table = table;
    this.groups = [];
    let current: number[] = [];
    let sum = 0;
    for (let f = 0; f < FINE; f++) {
      const c = cost[f] as number;
      if (current.length > 0 && sum + c > dataBudget) {
        this.groups.push(current);
        current = [];
        sum = 0;
      }
      current.push(f);
      sum += c;
      this.groupOf[f] = this.groups.length;
    }
    this.groups.push(current);
    this.seen = this.groups.map(() => false);
    const { rowsWithKey, ...rest } = read;
    const filtered = rowsWithKey !== undefined;
    this.stats = {
      size: rowsWithKey ?? 0,
      duplicates: 0,
      duplicateLines: [],
      ...rest,
      partitions: this.groups.length,
    };
    if (filtered) this.stats.filtered = true;
  }

  /** Partitions the users file; `over` is what the in-memory attempt measured when it gave up. */
  static async create(o: ResolvedExportOptions, spill: SpillDir, over: UsersOverBudget): Promise<UsersSpill> {
    let fine = await spill.partitions(0, FINE);
    const sets: FineParts[] = [{ paths: fine.paths, entries: fine.entries, offset: 0 }];
    const text = new Array<number>(FINE).fill(0);
    const record = new RowRecord();
    const filter = over.filter;
    let rowsWithKey = 0;
    const want =
      filter &&
      ((buf: Uint8Array, s: number, e: number) => {
        rowsWithKey++;
        return filter.has(buf, s, e);
      });
    try {
      const onRow = (key: string, values: string[], line: number) => {
        const raw = Buffer.from(key);
        const h = hashBytes(raw, 0, raw.length);
        let n = key.length;
        for (const v of values) n += v.length;
        text[partitionOf(h, FINE)] += n;
        // The key as JSON string content: no raw tab or newline reaches the file (most keys need no escape).
        const k = NEEDS_ESCAPE.test(key) ? Buffer.from(JSON.stringify(key).slice(1, -1)) : raw;
        const p = record.encode(line, values);
        return fine.write(k, 0, k.length, h, p, 0, record.length);
      };
      // A row of the byte path: no string for the key or the values (strings were most of this read's time).
      const onBytes = (piece: Buffer, sc: TableScanner, columns: readonly number[]) => {
        const ks = sc.keyStart;
        const ke = sc.keyEnd;
        const p = plainKey(piece, ks, ke) ? record.encodeScanned(sc.rowLine, sc, columns) : undefined;
        if (!p)
          return onRow(
            piece.toString('utf8', ks, ke),
            columns.map((c) => sc.fieldText(c)),
            sc.rowLine,
          );
        const h = hashBytes(piece, ks, ke);
        text[partitionOf(h, FINE)] += utf16Units(piece, ks, ke) + record.units;
        return fine.write(piece, ks, ke, h, p, 0, record.length);
      };
      // A second thread's part: its counts added, and this thread's rows after it in a set of their own.
      const adopt = async (done: UsersRangeDone, before: number, more: boolean) => {
        for (let f = 0; f < FINE; f++) text[f] += done.text[f] as number;
        rowsWithKey += done.asked;
        sets.push({ paths: done.paths, entries: done.entries, offset: before });
        if (!more) return;
        await fine.close();
        fine = await spill.partitions(0, FINE);
        sets.push({ paths: fine.paths, entries: fine.entries, offset: 0 });
      };
      const shared = { filter: filter?.shared(), fine: FINE, spill };
      const split = (opened: Parameters<typeof usersSplitFor>[0]) => usersSplitFor(opened, shared, adopt);
      const read = await eachUserRow(o, onRow, want, onBytes, split);
      await fine.close();
      // Table bytes per byte of row text, as measured; the rest of the file is taken to be alike.
      const ratio = over.rowText > 0 ? Math.max(1, (over.tableBytes - over.emptyBytes) / over.rowText) : 2;
      const cost = text.map((t) => t * ratio);
      const dataBudget = o.memoryBudget - over.emptyBytes;
      const counts = { ...read, rowsWithKey: filter ? rowsWithKey : undefined };
      return new UsersSpill(o, spill, sets, read.names, read.columns, cost, dataBudget, counts, over.table);
    } catch (err) {
      await fine.destroy();
      throw err;
    }
  }

  private table: Catalog | undefined;
  /**
   * One buffer every partition file of every load is read into: a fresh one a file (a few hundred KB,
   * 128 a group at 1 GB) was freed only by a collection, which the main thread's small heap rarely
   * runs, and glibc's heap kept growing under them through the passes.
   */
  private readonly scratch: ReadScratch = { buf: Buffer.alloc(0) };

  /** The most rows and bytes one group's partitions hold. */
  private async largestGroup(): Promise<{ items: number; bytes: number }> {
    let most = { items: 0, bytes: 0 };
    for (const group of this.groups) {
      let items = 0;
      let bytes = 0;
      for (const f of group)
        for (const set of this.fine) {
          items += set.entries[f] as number;
          // A partition without a row has no file.
          if (set.entries[f] !== 0) bytes += (await stat(set.paths[f] as string)).size;
        }
      most = { items: Math.max(most.items, items), bytes: Math.max(most.bytes, bytes) };
    }
    return most;
  }

  /** The users table of a group, read from its fine partitions in file order (the first row of a key wins). */
  async load(group: number): Promise<Catalog> {
    // One table for every group, sized once for the largest (rows and their bytes: keys, values and
    // JSON quoting): a new table per group kept the last one's shared memory until a collection.
    if (this.table) this.table.clear();
    else this.table = newUsersTable(this.o, this.names, await this.largestGroup());
    const table = this.table;
    const first = !this.seen[group];
    this.seen[group] = true;
    const dups: number[] = [];
    const cells = new RowCells(this.names.length);
    const add = (seg: Buffer, ks: number, ke: number, ps: number, pe: number, offset: number) => {
      // Most keys need no unescaping: JSON.parse per key was a tenth of the load.
      let plain = true;
      for (let k = ks; k < ke && plain; k++) plain = seg[k] !== 92;
      let added: ReturnType<Catalog['add']>;
      let line: number;
      if (plain && RowCells.isBytes(seg, ps)) {
        line = cells.read(seg, ps, pe);
        added = table.addBytes(seg, ks, ke, seg, cells.starts, cells.ends);
      } else {
        const rec = readRecord(seg, ps, pe, cells);
        const key = plain ? seg.toString('utf8', ks, ke) : decodeString(seg, ks, ke);
        line = rec[0];
        added = table.add(key, rec.slice(1) as string[]);
      }
      if (first && added === 'duplicate') dups.push(line + offset);
    };
    for (const f of this.groups[group] as number[])
      for (const set of this.fine) {
        if (set.entries[f] === 0) continue;
        for await (const seg of readPartition(set.paths[f] as string, this.scratch))
          eachLine(seg, (ks, ke, ps, pe) => add(seg, ks, ke, ps, pe, set.offset));
      }
    if (first) {
      const s = this.stats;
      if (!s.filtered) s.size += table.size;
      s.duplicates += table.duplicates;
      s.duplicateLines = [...s.duplicateLines, ...dups].sort((a, b) => a - b).slice(0, 5);
    }
    return table;
  }

  /** The group whose table forPass loaded last. */
  private passGroup = -1;

  /** Groups of users: passes over the sources (local files) or files of split lines. */
  get groupCount(): number {
    return this.groups.length;
  }

  /**
   * A group's table and pass, for the export to read the sources once per
   * group (local files): each pass converts its group's lines only, the
   * first one checks every line (see core/out/user-groups.ts). Splitting
   * the lines to files first took a parse of every line on one thread and a
   * write and read of every byte, while the workers waited.
   */
  async forPass(group: number, keyScanMisses: number): Promise<{ table: Catalog; pass: UserGroupPass }> {
    // Each source of a pass has the same group: its table is loaded once.
    const table = group === this.passGroup && this.table ? this.table : await this.load(group);
    this.passGroup = group;
    const groupOf = Array.from(this.groupOf);
    return { table, pass: { groupOf, group, first: group === 0, scan: keyScanMisses === 0 } };
  }

  /**
   * Splits the `.out` lines by their user key into one file per group, as
   * read (lines without a user key go to the first). Invalid lines are
   * refused or recorded here, as the writing pass would, with their lines.
   */
  async splitOutputs(
    sources: string[],
    options: ExportOptions,
    catalog: boolean,
    keep?: LineKeep,
  ): Promise<OutSplit> {
    const o = this.o;
    const parts = await this.spill.partitions(0, this.groups.length);
    const split = new Splitter(o, parts, this.groupOf, catalog);
    let rejects: WriteStream | undefined;
    const result: OutSplit = {
      paths: parts.paths,
      first: undefined,
      blank: 0,
      invalid: 0,
      bytesRead: 0,
      rejects: undefined,
    };
    const reject = async (file: string, line: number, reason: string, text: string, cut: boolean) => {
      const rec = invalidRecord(o, file, line, reason, text, cut);
      result.invalid++;
      if (!rejects) {
        result.rejects = join(parts.paths[0] as string, '..', 'rejects.jsonl');
        rejects = createWriteStream(result.rejects);
      }
      if (!rejects.write(rec)) await once(rejects, 'drain');
    };
    try {
      keep?.begin();
      for (const source of sources) {
        let next = 1;
        const read = readOutItems(source, {
          stdin: options.stdin,
          pieceSize: o.pieceSize,
          maxLineLength: o.maxLineLength,
          onBytes: (n) => {
            if (!keep) result.bytesRead += n;
          },
        });
        const items = keep ? keep.items(read, () => {}) : read;
        for await (const item of items) {
          if (item.kind === 'bad') {
            const line = item.line ?? next;
            if (item.line === undefined) next++;
            await reject(source, line, item.reason, item.text, true);
            continue;
          }
          const numbers = item.lineNumbers;
          const base = next;
          const r = split.piece(item.bytes);
          if (!numbers) next += r.lines;
          for (const p of r.problems)
            await reject(
              source,
              numbers ? (numbers[p.index] as number) : base + p.index,
              p.reason,
              p.text,
              p.cut,
            );
          if (r.wait) await r.wait;
        }
      }
      if (keep) {
        keep.end();
        result.bytesRead = keep.bytes;
      }
      // Every group's file, empty or not: the passes read them as sources, group by group.
      await parts.close(true);
      if (rejects) await new Promise<void>((r) => rejects?.end(() => r()));
    } catch (err) {
      rejects?.destroy();
      await parts.destroy();
      throw err;
    }
    result.first = split.first;
    result.blank = split.blank;
    return result;
  }
}

const LF = 10;
const CR = 13;
const INVALID_TEXT_MAX = 64 * 1024;

/** The split's per-line work, synchronous over a piece, as Converter.convert sorts lines. */
class Splitter {
  first: { layout: Layout; width: number } | undefined;
  blank = 0;
  private readonly parser = new OutLineParser();

  constructor(
    private readonly o: ResolvedExportOptions,
    private readonly parts: PartitionSet,
    private readonly groupOf: Uint16Array,
    private readonly catalog: boolean,
  ) {}

  piece(piece: Buffer): {
    lines: number;
    problems: { index: number; reason: string; text: string; cut: boolean }[];
    wait: Promise<unknown> | undefined;
  } {
    if (!this.first) {
      this.first = sniffLayout(piece);
      if (this.first) checkJoinLayout(this.first.layout, this.catalog, true);
    }
    const layout = this.first?.layout;
    const problems: { index: number; reason: string; text: string; cut: boolean }[] = [];
    const waits: Promise<void>[] = [];
    const parser = this.parser;
    const max = this.o.maxLineLength;
    let lines = 0;
    let p = 0;
    const n = piece.length;
    while (p < n) {
      let nl = piece.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && piece[nl - 1] === CR ? nl - 1 : nl;
      const index = lines++;
      const status = e - p > max ? -1 : parser.parse(piece, p, e);
      let reason = '';
      if (status === LINE_BLANK) this.blank++;
      else if (status === LINE_INVALID) reason = parser.problem;
      else if (status === -1) reason = `line longer than ${max} bytes (--max-line-length)`;
      else if (status !== LINE_ERROR && layout) reason = layoutMismatch(parser, layout);
      if (reason) {
        const cut = e - p > INVALID_TEXT_MAX;
        const text = piece.toString('utf8', p, cut ? p + INVALID_TEXT_MAX : e);
        problems.push({ index, reason, text, cut });
        // With --on-invalid fail the first one stops the export: the rest need no partition.
        if (this.o.onInvalid === 'fail') break;
      } else if (status !== LINE_BLANK) {
        const w = this.parts.append(this.groupOfLine(piece), piece, p, e);
        if (w) waits.push(w);
      }
      p = nl + 1;
    }
    return { lines, problems, wait: waits.length > 0 ? Promise.all(waits) : undefined };
  }

  /** The group of the line just parsed: by its user key's bytes as the users table holds them. */
  private groupOfLine(piece: Buffer): number {
    const parser = this.parser;
    if (parser.keyField !== KEY_USER) return 0;
    let h: number;
    if (parser.keyEscaped) {
      const key = Buffer.from(decodeString(piece, parser.keyStart, parser.keyEnd));
      h = hashBytes(key, 0, key.length);
    } else h = hashBytes(piece, parser.keyStart, parser.keyEnd);
    return this.groupOf[partitionOf(h, FINE)] as number;
  }
}
