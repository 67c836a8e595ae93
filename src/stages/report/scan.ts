import {
  canonicalString,
  KEY_NAMES,
  KEY_NONE,
  KIND_SEGMENT,
  LINE_BLANK,
  LINE_ERROR,
  LINE_OK,
  OutLineParser,
  SPAN_ESCAPED,
  type Spans,
} from '../../core/out-lines.js';
import { Lengths, parseNumber, ScoreBins } from '../../core/report.js';
import { ReportScanLines } from '../../core/report-scan.js';
import type { CountTable } from './counts.js';
import type { ScoreDigests } from './digests.js';
import { SharedKeyCounts } from './shared-keys.js';
import type { SinceKeys } from './since.js';

const LF = 10;
const CR = 13;
/** Distinct error messages kept; the rest count as one "other". */
const MAX_MESSAGES = 1000;
const MAX_SAMPLES = 5;
/** The rank positions summarised (1, 5, 10, last) as list indexes; -1 is the last. */
const RANK_AT = [0, 4, 9, -1] as const;

export interface ShardTally {
  file: string;
  lines: number;
  okLines: number;
  errorLines: number;
  invalid: number;
}

/**
 * What one piece's lines gave, in the piece's order, for the Tally to add
 * up in the pieces' order: whatever a lane tallied is the same, on
 * whichever thread it ran, as one thread's pass over the lines.
 */
export interface PieceResult {
  lines: number;
  blank: number;
  okLines: number;
  errorLines: number;
  keyedLines: number;
  keylessLines: number;
  slots: number;
  invalid: number;
  /** The piece's first invalid lines (index in the piece, reason). */
  invalidAt: { index: number; reason: string }[];
  /** Error messages and their counts, in the order each first came. */
  messages: [string, number][];
  /** The first keyed line's key field (KEY_NONE when no line had a key), and whether it was segment output. */
  keyField: number;
  segment: boolean;
  /** Per rank position, its scores in line order. */
  scores: Float64Array[];
}

/**
 * A lane's part of the report's pass: a piece at a time, on the parser's
 * spans (no object per line), keys and items counted in the lane's own
 * tables, list lengths, and with --since each line's key and first ids to
 * the partitions; the rest (counts, messages, invalid lines, scores) goes
 * back in a PieceResult.
 */
export class PieceTally<K extends CountTable | SharedKeyCounts = CountTable> {
  readonly lengths = new Lengths();
  private readonly parser = new OutLineParser();
  private r: PieceResult = emptyResult();
  private scoreFill = [0, 0, 0, 0];
  private scoreBufs = RANK_AT.map(() => new Float64Array(4096));
  private messages = new Map<string, number>();
  private waits: Promise<unknown>[] = [];
  /** The usual lines' tally in WebAssembly; without it (--since, which reads the ids' spans) every line is parsed here. */
  private readonly scan: ReportScanLines | undefined;

  constructor(
    readonly keys: K,
    readonly items: CountTable,
    readonly since: SinceKeys | undefined,
    /** The WebAssembly tally (the tests turn it off to hold it to the parser's). */
    scan = since === undefined,
  ) {
    // A lane's keys to the shared table from the scan itself: no JavaScript per key.
    const adder = keys instanceof SharedKeyCounts ? keys.shared.adder() : undefined;
    this.scan = scan ? new ReportScanLines(items.directLimit, adder) : undefined;
  }

  /** A piece of whole lines: its result, once any table or partition on disk that backed up has drained. */
  piece(buf: Buffer): PieceResult | Promise<PieceResult> {
    const r = emptyResult();
    this.r = r;
    this.scoreFill = [0, 0, 0, 0];
    this.messages = new Map();
    this.waits = [];
    const scan = this.scan;
    let index = 0;
    for (let p = 0; p < buf.length; ) {
      const n = scan ? scan.scan(buf, p) : 0;
      if (n === 0) {
        // One line by itself: no scan, or the line is longer than its window.
        let nl = buf.indexOf(LF, p);
        if (nl === -1) nl = buf.length;
        this.line(buf, p, nl > p && buf[nl - 1] === CR ? nl - 1 : nl, index++);
        p = nl + 1;
        continue;
      }
      this.scanned(buf, scan as ReportScanLines, n, index);
      index += n;
      p = (scan as ReportScanLines).next(n - 1);
    }
    r.messages = [...this.messages];
    r.scores = this.scoreBufs.map((b, i) => b.slice(0, this.scoreFill[i] as number));
    const waits = this.waits;
    return waits.length > 0 ? Promise.all(waits).then(() => r) : r;
  }

  /** The scan's direct counts into the items' table: once, after the last piece. */
  finish(): void {
    if (this.scan) this.items.addDirect(this.scan.counts());
  }

  /** One line, buf[s, e), through the parser. */
  private line(buf: Buffer, s: number, e: number, index: number): void {
    const r = this.r;
    const parser = this.parser;
    r.lines++;
    const status = parser.parse(buf, s, e);
    if (status === LINE_OK) this.okLine(buf);
    else if (status === LINE_ERROR) this.errorLine(buf);
    else if (status === LINE_BLANK) r.blank++;
    else {
      r.invalid++;
      if (r.invalidAt.length < MAX_SAMPLES) r.invalidAt.push({ index, reason: parser.problem });
    }
  }

  /** A scan's n records, lines index... of the piece: the ones it tallied added up, the rest parsed. */
  private scanned(buf: Buffer, scan: ReportScanLines, n: number, index: number): void {
    const r = this.r;
    const items = this.items;
    let other = 0;
    for (let i = 0; i < n; i++) {
      const field = scan.field(i);
      if (field === KEY_NONE) {
        this.line(buf, scan.start(i), scan.end(i), index + i);
        continue;
      }
      r.lines++;
      r.okLines++;
      r.keyedLines++;
      if (r.keyField === KEY_NONE) r.keyField = field;
      if (!scan.keyShared(i)) {
        const w = this.keys.addHashed(buf, scan.keyStart(i), scan.keyEnd(i), scan.keyHash(i), 1, 0);
        if (w) this.waits.push(w);
      }
      const ids = scan.ids(i);
      this.lengths.add(ids);
      r.slots += ids;
      // The ids not counted directly, in the line's order: a table's keys come in the order one thread adds them.
      for (const end = other + scan.othersOf(i); other < end; other++) {
        const w = items.add(buf, scan.otherStart(other), scan.otherEnd(other), 1, 0);
        if (w) this.waits.push(w);
      }
      for (let slot = 0; slot < RANK_AT.length; slot++) {
        const x = scan.scoreAt(i, slot);
        if (!Number.isNaN(x)) this.pushScore(slot, x);
      }
    }
  }

  private key(buf: Buffer): void {
    const p = this.parser;
    const r = this.r;
    if (p.keyField === KEY_NONE) {
      r.keylessLines++;
      return;
    }
    r.keyedLines++;
    if (r.keyField === KEY_NONE) {
      r.keyField = p.keyField;
      r.segment = p.kind === KIND_SEGMENT;
    }
    let w: Promise<void> | undefined;
    if (!p.keyEscaped) w = this.keys.add(buf, p.keyStart, p.keyEnd, 1, 0);
    else {
      const canon = canonicalString(buf, p.keyStart, p.keyEnd, true);
      w = this.keys.add(canon, 0, canon.length, 1, 0);
    }
    if (w) this.waits.push(w);
  }

  private okLine(buf: Buffer): void {
    const p = this.parser;
    this.r.okLines++;
    this.key(buf);
    const ids = p.ids.data;
    const n = p.ids.n;
    this.lengths.add(n);
    this.r.slots += n;
    for (let i = 0; i < n; i++) {
      const s = ids[i * 3] as number;
      const e = ids[i * 3 + 1] as number;
      let w: Promise<void> | undefined;
      if (((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0) {
        const canon = canonicalString(buf, s, e, true);
        w = this.items.add(canon, 0, canon.length, 1, 0);
      } else w = this.items.addOne(buf, s, e);
      if (w) this.waits.push(w);
    }
    if (p.scores && n > 0) for (let slot = 0; slot < RANK_AT.length; slot++) this.scoreAt(buf, n, slot);
    if (this.since && p.keyField !== KEY_NONE) {
      const w = this.since.current(p, buf);
      if (w) this.waits.push(w);
    }
  }

  /** The score at a rank position (when the list is that long and the score is not null). */
  private scoreAt(buf: Buffer, n: number, slot: number): void {
    const sc = this.parser.scores as Spans;
    const at = RANK_AT[slot] as number;
    const rank = at < 0 ? n - 1 : at;
    if (rank >= n || rank >= sc.n) return;
    const s = sc.data[rank * 3] as number;
    if (s < 0) return;
    const x = parseNumber(buf, s, sc.data[rank * 3 + 1] as number);
    if (Number.isFinite(x)) this.pushScore(slot, x);
  }

  private pushScore(slot: number, x: number): void {
    let b = this.scoreBufs[slot] as Float64Array;
    const f = this.scoreFill[slot] as number;
    if (f === b.length) {
      const g = new Float64Array(b.length * 2);
      g.set(b);
      b = g;
      this.scoreBufs[slot] = g;
    }
    b[f] = x;
    this.scoreFill[slot] = f + 1;
  }

  private errorLine(buf: Buffer): void {
    const p = this.parser;
    this.r.errorLines++;
    const message = p.errorStart < 0 ? '(no message)' : buf.toString('utf8', p.errorStart, p.errorEnd);
    this.messages.set(message, (this.messages.get(message) ?? 0) + 1);
    this.key(buf);
  }
}

function emptyResult(): PieceResult {
  return {
    lines: 0,
    blank: 0,
    okLines: 0,
    errorLines: 0,
    keyedLines: 0,
    keylessLines: 0,
    slots: 0,
    invalid: 0,
    invalidAt: [],
    messages: [],
    keyField: KEY_NONE,
    segment: false,
    scores: [],
  };
}

/**
 * The report's pass added up: the pieces' results taken in the pieces'
 * order (whichever lane tallied them), lines numbered per file, the first
 * invalid lines and error messages as one thread reading in order finds
 * them, the scores' exact bins here and their quantiles on the digests'
 * worker (fed in line order).
 */
export class Tally {
  lines = 0;
  blank = 0;
  invalid = 0;
  okLines = 0;
  errorLines = 0;
  keyedLines = 0;
  keylessLines = 0;
  slots = 0;
  keyField: string | null = null;
  segment = false;
  /** The list lengths: every lane's added at the end (addLengths). */
  readonly lengths = new Lengths();
  readonly bins = RANK_AT.map(() => new ScoreBins());
  readonly messages = new Map<string, number>();
  otherMessages = 0;
  readonly invalidSamples: { file: string; line: number; reason: string }[] = [];
  readonly shards: ShardTally[] = [];
  private shard: ShardTally = { file: '', lines: 0, okLines: 0, errorLines: 0, invalid: 0 };
  private nextLine = 1;

  constructor(readonly digests: ScoreDigests) {}

  startFile(file: string): void {
    this.shard = { file, lines: 0, okLines: 0, errorLines: 0, invalid: 0 };
    this.shards.push(this.shard);
    this.nextLine = 1;
  }

  /** A line the reader could not hold (longer than the limit, or JSON it could not read). */
  bad(line: number | undefined, reason: string): void {
    this.lines++;
    this.shard.lines++;
    this.invalid++;
    this.shard.invalid++;
    this.invalidLine(line ?? this.nextLine++, reason);
  }

  private invalidLine(line: number, reason: string): void {
    if (this.invalidSamples.length < MAX_SAMPLES)
      this.invalidSamples.push({ file: this.shard.file, line, reason });
  }

  /** The next piece's result (pieces in order); `lineNumbers`: the reader's, when it gave them. */
  add(r: PieceResult, lineNumbers: readonly number[] | undefined): void {
    const sh = this.shard;
    this.lines += r.lines;
    sh.lines += r.lines;
    this.blank += r.blank;
    this.okLines += r.okLines;
    sh.okLines += r.okLines;
    this.errorLines += r.errorLines;
    sh.errorLines += r.errorLines;
    this.keyedLines += r.keyedLines;
    this.keylessLines += r.keylessLines;
    this.slots += r.slots;
    this.invalid += r.invalid;
    sh.invalid += r.invalid;
    for (const { index, reason } of r.invalidAt)
      this.invalidLine(lineNumbers ? (lineNumbers[index] as number) : this.nextLine + index, reason);
    if (!lineNumbers) this.nextLine += r.lines;
    if (this.keyField === null && r.keyField !== KEY_NONE) {
      this.keyField = KEY_NAMES[r.keyField] as string;
      this.segment = r.segment;
    }
    for (const [message, count] of r.messages) {
      const had = this.messages.get(message);
      if (had !== undefined) this.messages.set(message, had + count);
      else if (this.messages.size < MAX_MESSAGES) this.messages.set(message, count);
      else this.otherMessages += count;
    }
    for (const [slot, xs] of r.scores.entries()) {
      (this.bins[slot] as ScoreBins).addAll(xs);
      this.digests.addAll(slot, xs);
    }
  }
}
