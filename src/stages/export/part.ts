import { createHash } from 'node:crypto';
import { type PartPlan, planPart } from '../../core/part-split.js';
import {
  checkCuttable,
  lineStartFrom,
  linesBefore,
  openBytes,
  readRange,
  sourceSizes,
} from '../../io/out-range.js';
import { type OutItem, type OutReadOptions, readOutItems } from '../../io/out-reader.js';
import { isS3Uri } from '../../io/s3.js';

/**
 * `export --part K/N`: the sources this part reads, each a whole file or a
 * byte range cut on line ends (see core/part-split.ts for the rule). A
 * range is named by its file, and its lines numbered as in the whole file:
 * the lines before it are counted (local files: LFs before the range, read
 * at disk speed). An `s3://` range that starts past byte 0 is not counted
 * (that would download what other parts read): it is named `URI@START`, and
 * its line 1 is the first line that starts at or after byte START.
 */

/** What the summary says of the part. */
export interface PartSummary {
  k: number;
  n: number;
  /** Whole files dealt out, or byte ranges of the sources laid end to end. */
  mode: PartPlan['mode'];
  /** This part's share of the sources laid end to end: bytes [from, to) of total. */
  from: number;
  to: number;
  total: number;
  /** The files (or ranges of files) it read: [start, end) are the bytes of the lines it owns. */
  ranges: { file: string; start: number; end: number }[];
  /** SHA-256 of the listing (each file's name and size, in order): equal in every part when all saw the same sources. */
  listing: string;
}

interface Range {
  file: string;
  size: number;
  /** Line starts: the part reads [start, end). */
  start: number;
  end: number;
  whole: boolean;
  firstLine: number;
}

/** A part's sources: names for the export's passes, each read and numbered its own way. */
export class PartSlice {
  private constructor(
    private readonly ranges: Map<string, Range>,
    readonly summary: PartSummary,
  ) {}

  /** What the passes read, in order. */
  get sources(): string[] {
    return [...this.ranges.keys()];
  }

  static async open(
    sources: string[],
    part: { k: number; n: number },
    maxLineLength: number,
  ): Promise<PartSlice> {
    const sizes = await sourceSizes(sources);
    const files = sources.map((s, i) => ({ size: sizes[i] as number, gz: s.endsWith('.gz') }));
    const plan = planPart(files, part.k, part.n);
    const ranges = new Map<string, Range>();
    for (const r of plan.ranges) {
      const file = sources[r.index] as string;
      // A file given twice is read twice, as one process would.
      const unique = (label: string) => (ranges.has(label) ? `${label}#${r.index}` : label);
      if (r.whole) {
        ranges.set(unique(file), { file, size: r.end, start: 0, end: r.end, whole: true, firstLine: 1 });
        continue;
      }
      const cut = await cutAtLines(file, files[r.index]?.size ?? 0, r.start, r.end, maxLineLength);
      // A line that starts before the range and ends after it leaves the part nothing of this file.
      if (cut.start >= cut.end) continue;
      ranges.set(unique(cut.counted || cut.start === 0 ? file : `${file}@${r.start}`), cut);
    }
    const listing = createHash('sha256');
    for (const [i, s] of sources.entries()) listing.update(`${s}\t${sizes[i]}\n`);
    const summary: PartSummary = {
      ...part,
      mode: plan.mode,
      from: plan.from,
      to: plan.to,
      total: plan.total,
      ranges: [...ranges.values()].map((x) => ({ file: x.file, start: x.start, end: x.end })),
      listing: listing.digest('hex'),
    };
    return new PartSlice(ranges, summary);
  }

  /** The number of a source's first line. */
  firstLine(source: string): number {
    return this.ranges.get(source)?.firstLine ?? 1;
  }

  /** readOutItems for a part's source. */
  read = (source: string, opts: OutReadOptions): AsyncGenerator<OutItem> => {
    const r = this.ranges.get(source);
    if (!r || r.whole) return readOutItems(r?.file ?? source, opts);
    return readCut(r, opts);
  };
}

async function* readCut(r: Range, opts: OutReadOptions): AsyncGenerator<OutItem> {
  const src = await openBytes(r.file, r.size);
  try {
    yield* readRange(src, r.start, r.end, opts);
  } finally {
    await src.close();
  }
}

/** A file's range moved to line starts, and the number of its first line. */
async function cutAtLines(
  file: string,
  size: number,
  start: number,
  end: number,
  maxLineLength: number,
): Promise<Range & { counted: boolean }> {
  const src = await openBytes(file, size);
  try {
    await checkCuttable(src, maxLineLength);
    const from = await lineStartFrom(src, start);
    const to = end >= size ? size : await lineStartFrom(src, end);
    const counted = !isS3Uri(file) && from > 0;
    const firstLine = counted ? (await linesBefore(src, from)) + 1 : 1;
    return { file, size, start: from, end: to, whole: false, firstLine, counted };
  } finally {
    await src.close();
  }
}
