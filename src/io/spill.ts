import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { type ParsedRow, RecordSplitter } from '../core/lines.js';

/**
 * Hash partitions on disk for exact, bounded-memory dedupe and grouping.
 * Each line is `<key as JSON>\t<payload>`; JSON never holds a raw tab, so the
 * first tab splits key from payload. Per-partition counters estimate how much
 * memory reloading it will take, so an over-full partition is split again
 * (with another hash seed) instead of blowing the budget.
 */

/** Estimated heap bytes for one key held in a Set/Map: V8 string (2 bytes a char, worst case) plus entry overhead. */
export function keyCost(key: string): number {
  return 2 * key.length + 80;
}

const PARTITIONS = 64;
const MAX_DEPTH = 4;

export function hash32(s: string, seed: number): number {
  // FNV-1a over UTF-16 code units, then murmur3's finaliser: plain FNV's low
  // bits barely change with the seed, so a partition re-split with a new
  // seed used only 32, then 16 of its 64 files.
  let h = (0x811c9dc5 ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class PartitionSet {
  readonly paths: string[];
  /** Estimated reload cost per partition, in bytes. */
  readonly cost: number[];
  private readonly streams: WriteStream[];
  /** Lines gathered per partition and written 64 KiB at a time: one write per line costs more than the line. */
  private readonly pending: string[];
  private readonly seed: number;

  constructor(dir: string, prefix: string, seed: number, count = PARTITIONS) {
    this.seed = seed;
    this.paths = Array.from({ length: count }, (_, i) => join(dir, `${prefix}-${i}.part`));
    this.cost = new Array(count).fill(0);
    this.streams = this.paths.map((p) => createWriteStream(p, { highWaterMark: 64 * 1024 }));
    this.pending = new Array(count).fill('');
  }

  /** Appends a line; resolves once the partition's buffer has room again (backpressure). */
  write(keyJson: string, payload: string): Promise<void> | undefined {
    const i = hash32(keyJson, this.seed) % this.paths.length;
    this.cost[i] += keyCost(keyJson) + payload.length;
    const buf = `${this.pending[i]}${keyJson}\t${payload}\n`;
    if (buf.length < 64 * 1024) {
      this.pending[i] = buf;
      return undefined;
    }
    this.pending[i] = '';
    const s = this.streams[i] as WriteStream;
    if (!s.write(buf)) {
      return new Promise((resolve, reject) => {
        const onDrain = () => {
          s.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          s.off('drain', onDrain);
          reject(err);
        };
        s.once('drain', onDrain);
        s.once('error', onError);
      });
    }
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.streams.map(
        (s, i) =>
          new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.end(this.pending[i], () => resolve());
            this.pending[i] = '';
          }),
      ),
    );
  }
}

/** A scratch folder for partitions, removed by `dispose()` whatever happened. */
export class SpillDir {
  private dir: string | undefined;
  private counter = 0;
  constructor(private readonly parent: string) {}

  async partitions(seed = 0): Promise<PartitionSet> {
    this.dir ??= await mkdtemp(join(this.parent, 'personalize-batch-spill-'));
    return new PartitionSet(this.dir, `p${this.counter++}`, seed);
  }

  get used(): boolean {
    return this.dir !== undefined;
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** A partition's lines as (key JSON, payload) pairs, in batches of one read chunk. */
export async function* readPartition(path: string): AsyncGenerator<[string, string][]> {
  const splitter = new RecordSplitter({
    delimiter: null,
    maxRecordLength: Number.MAX_SAFE_INTEGER,
    file: path,
  });
  const decoder = new StringDecoder('utf8');
  const pairs = (rows: ParsedRow[]): [string, string][] =>
    rows.map((r) => {
      const line = r.fields[0] as string;
      const tab = line.indexOf('\t');
      return [line.slice(0, tab), line.slice(tab + 1)];
    });
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    yield pairs(splitter.push(decoder.write(chunk as Buffer)));
  }
  splitter.push(decoder.end());
  yield pairs(splitter.end());
}

/**
 * Visits every partition's lines, in write order within each partition,
 * first splitting any partition whose estimated reload cost exceeds the budget.
 */
export async function* eachPartition(
  spill: SpillDir,
  parts: PartitionSet,
  budget: number,
  depth = 1,
): AsyncGenerator<AsyncIterable<[string, string][]>> {
  for (let i = 0; i < parts.paths.length; i++) {
    const path = parts.paths[i] as string;
    if ((parts.cost[i] as number) > budget && depth < MAX_DEPTH) {
      // Identical keys always hash together, so depth is capped: a partition
      // of one repeated key is cheap to reload even though it counts as big.
      const sub = await spill.partitions(depth * 7919);
      for await (const batch of readPartition(path)) {
        for (const [k, payload] of batch) {
          const w = sub.write(k, payload);
          if (w) await w;
        }
      }
      await sub.close();
      await rm(path, { force: true });
      yield* eachPartition(spill, sub, budget, depth + 1);
    } else {
      yield readPartition(path);
      await rm(path, { force: true });
    }
  }
}
