import type { BatchInput } from '../core/build.js';
import { eachPartition, keyCost, type PartitionSet, type SpillDir } from './spill.js';

/**
 * Exact dedupe with a memory budget. Keys live in a Set until their estimated
 * size passes the budget; then the Set is written to disk partitions as
 * "seen" markers and every later record goes to its key's partition. At the
 * end each partition is replayed with a fresh Set, markers first, so the first
 * occurrence of every key is kept and nothing is dropped that was not a duplicate.
 * Records that arrive before the spill are emitted at once, in input order.
 */
export class Deduper {
  duplicates = 0;
  private seen = new Set<string>();
  private cost = 0;
  private parts: PartitionSet | undefined;

  constructor(
    private readonly spill: SpillDir,
    private readonly budget: number,
  ) {}

  get spilled(): boolean {
    return this.parts !== undefined;
  }

  /**
   * Whether to emit the line now (false: a duplicate, or held on disk until
   * drain()). A promise when the call had to wait for disk (backpressure).
   */
  add(key: string, line: string): boolean | Promise<boolean> {
    // The JSON form is a fresh flat string: a raw key may be a V8 sliced
    // string that keeps its whole 256 KiB input chunk alive while in the Set.
    const k = JSON.stringify(key);
    if (this.parts) {
      // Partition lines are newline-terminated themselves: store the line without its own.
      const w = this.parts.write(k, line.endsWith('\n') ? line.slice(0, -1) : line);
      return w ? w.then(() => false) : false;
    }
    if (this.seen.has(k)) {
      this.duplicates++;
      return false;
    }
    this.seen.add(k);
    this.cost += keyCost(k);
    if (this.cost > this.budget) return this.startSpill().then(() => true);
    return true;
  }

  private async startSpill(): Promise<void> {
    this.parts = await this.spill.partitions();
    for (const k of this.seen) {
      const w = this.parts.write(k, '');
      if (w) await w;
    }
    this.seen = new Set();
    this.cost = 0;
  }

  /** Lines held back on disk, deduplicated, newline-terminated, in chunks; nothing when the budget was never reached. */
  async *drain(): AsyncGenerator<{ text: string; lines: number }> {
    if (!this.parts) return;
    await this.parts.close();
    for await (const part of eachPartition(this.spill, this.parts, this.budget)) {
      const seen = new Set<string>();
      for await (const batch of part) {
        let text = '';
        let lines = 0;
        for (const [k, payload] of batch) {
          if (seen.has(k)) {
            if (payload !== '') this.duplicates++;
            continue;
          }
          seen.add(k);
          if (payload !== '') {
            text += `${payload}\n`;
            lines++;
          }
        }
        if (lines > 0) yield { text, lines };
      }
    }
  }
}

interface Group {
  items: Set<string>;
  filterValues: Record<string, string> | undefined;
}

/**
 * Groups unsorted (user, item) rows into one personalized-ranking record per
 * user, items in first-seen order without repeats. Past the budget the
 * groups are spilled to hash partitions and merged per partition at the end.
 */
export class Grouper {
  duplicates = 0;
  private groups = new Map<string, Group>();
  private cost = 0;
  private parts: PartitionSet | undefined;

  constructor(
    private readonly spill: SpillDir,
    private readonly budget: number,
  ) {}

  get spilled(): boolean {
    return this.parts !== undefined;
  }

  add(user: string, item: string, fv: Record<string, string> | undefined): Promise<void> | undefined {
    let g = this.groups.get(user);
    if (!g) {
      g = { items: new Set(), filterValues: fv };
      this.groups.set(user, g);
      this.cost += keyCost(user) + 120;
    }
    if (g.items.has(item)) this.duplicates++;
    else {
      g.items.add(item);
      this.cost += keyCost(item);
    }
    return this.cost > this.budget ? this.flush() : undefined;
  }

  private async flush(): Promise<void> {
    this.parts ??= await this.spill.partitions();
    for (const [user, g] of this.groups) {
      const w = this.parts.write(
        JSON.stringify(user),
        JSON.stringify([[...g.items], g.filterValues ?? null]),
      );
      if (w) await w;
    }
    this.groups = new Map();
    this.cost = 0;
  }

  async *drain(): AsyncGenerator<BatchInput> {
    if (!this.parts) {
      for (const [user, g] of this.groups) yield record(user, g);
      this.groups = new Map();
      return;
    }
    await this.flush();
    await this.parts.close();
    for await (const part of eachPartition(this.spill, this.parts, this.budget)) {
      const merged = new Map<string, Group>();
      for await (const batch of part) {
        for (const [k, payload] of batch) {
          const [items, fv] = JSON.parse(payload) as [string[], Record<string, string> | null];
          const g = merged.get(k);
          if (!g) {
            merged.set(k, { items: new Set(items), filterValues: fv ?? undefined });
            continue;
          }
          for (const it of items) {
            if (g.items.has(it)) this.duplicates++;
            else g.items.add(it);
          }
        }
      }
      for (const [k, g] of merged) yield record(JSON.parse(k) as string, g);
    }
  }
}

function record(user: string, g: Group): BatchInput {
  const r: BatchInput = { userId: user, itemList: [...g.items] };
  if (g.filterValues) r.filterValues = g.filterValues;
  return r;
}
