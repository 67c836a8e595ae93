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
import { checkAborted } from '../../io/scope.js';
import type { CountTable } from './counts.js';
import type { ScoreDigests } from './digests.js';
import type { SinceKeys } from './since.js';

const LF = 10;
const CR = 13;
/** Distinct error messages kept; the rest count as one "other". */
const MAX_MESSAGES = 1000;
const MAX_SAMPLES = 5;

export interface ShardTally {
  file: string;
  lines: number;
  okLines: number;
  errorLines: number;
  invalid: number;
}

/**
 * The report's one pass over the outputs' lines, a piece at a time, on
 * the parser's spans (no object per line): keys and items counted in their
 * tables, list lengths, the scores at ranks 1, 5, 10 and last (exact bins
 * here, the quantiles on the digests' worker), error messages, invalid
 * lines, and with --since each line's key and first ids to the partitions.
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
  readonly lengths = new Lengths();
  readonly bins = [new ScoreBins(), new ScoreBins(), new ScoreBins(), new ScoreBins()];
  readonly messages = new Map<string, number>();
  otherMessages = 0;
  readonly invalidSamples: { file: string; line: number; reason: string }[] = [];
  readonly shards: ShardTally[] = [];
  private readonly parser = new OutLineParser();
  private shard: ShardTally = { file: '', lines: 0, okLines: 0, errorLines: 0, invalid: 0 };
  private nextLine = 1;

  constructor(
    readonly keys: CountTable,
    readonly items: CountTable,
    readonly digests: ScoreDigests,
    readonly since: SinceKeys | undefined,
  ) {}

  startFile(file: string): void {
    this.shard = { file, lines: 0, okLines: 0, errorLines: 0, invalid: 0 };
    this.shards.push(this.shard);
    this.nextLine = 1;
  }

  /** A line the reader could not hold (longer than the limit, or JSON it could not read). */
  bad(line: number | undefined, reason: string): void {
    this.lines++;
    this.shard.lines++;
    this.invalidLine(line ?? this.nextLine++, reason);
  }

  private invalidLine(line: number, reason: string): void {
    this.invalid++;
    this.shard.invalid++;
    if (this.invalidSamples.length < MAX_SAMPLES)
      this.invalidSamples.push({ file: this.shard.file, line, reason });
  }

  /** A piece of whole lines; a promise when a table or partition on disk must be waited for. */
  piece(buf: Buffer, lineNumbers: readonly number[] | undefined): Promise<unknown> | undefined {
    checkAborted();
    const waits: Promise<unknown>[] = [];
    const parser = this.parser;
    let index = 0;
    for (let p = 0; p < buf.length; index++) {
      let nl = buf.indexOf(LF, p);
      if (nl === -1) nl = buf.length;
      const e = nl > p && buf[nl - 1] === CR ? nl - 1 : nl;
      this.lines++;
      this.shard.lines++;
      const status = parser.parse(buf, p, e);
      if (status === LINE_OK) {
        const w = this.okLine(buf);
        if (w) waits.push(w);
      } else if (status === LINE_ERROR) {
        const w = this.errorLine(buf);
        if (w) waits.push(w);
      } else if (status === LINE_BLANK) this.blank++;
      else
        this.invalidLine(
          lineNumbers ? (lineNumbers[index] as number) : this.nextLine + index,
          parser.problem,
        );
      p = nl + 1;
    }
    if (!lineNumbers) this.nextLine += index;
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  private key(buf: Buffer, da: number): Promise<void> | undefined {
    const p = this.parser;
    if (p.keyField === KEY_NONE) {
      this.keylessLines++;
      return undefined;
    }
    this.keyedLines++;
    if (this.keyField === null) {
      this.keyField = KEY_NAMES[p.keyField] as string;
      this.segment = p.kind === KIND_SEGMENT;
    }
    if (!p.keyEscaped) return this.keys.add(buf, p.keyStart, p.keyEnd, da, 0);
    const canon = canonicalString(buf, p.keyStart, p.keyEnd, true);
    return this.keys.add(canon, 0, canon.length, da, 0);
  }

  private okLine(buf: Buffer): Promise<unknown> | undefined {
    const p = this.parser;
    this.okLines++;
    this.shard.okLines++;
    const waits: Promise<unknown>[] = [];
    const wk = this.key(buf, 1);
    if (wk) waits.push(wk);
    const ids = p.ids.data;
    const n = p.ids.n;
    this.lengths.add(n);
    this.slots += n;
    for (let i = 0; i < n; i++) {
      const s = ids[i * 3] as number;
      const e = ids[i * 3 + 1] as number;
      let w: Promise<void> | undefined;
      if (((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0) {
        const canon = canonicalString(buf, s, e, true);
        w = this.items.add(canon, 0, canon.length, 1, 0);
      } else w = this.items.addOne(buf, s, e);
      if (w) waits.push(w);
    }
    if (p.scores && n > 0) this.scores(buf, n);
    if (this.since && p.keyField !== KEY_NONE) {
      const w = this.since.current(p, buf);
      if (w) waits.push(w);
    }
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  /** Ranks 1, 5, 10 and last (when the list is that long and the score is not null). */
  private scores(buf: Buffer, n: number): void {
    this.scoreAt(buf, n, 0, 0);
    this.scoreAt(buf, n, 4, 1);
    this.scoreAt(buf, n, 9, 2);
    this.scoreAt(buf, n, n - 1, 3);
  }

  private scoreAt(buf: Buffer, n: number, rank: number, slot: number): void {
    const sc = this.parser.scores as Spans;
    if (rank >= n || rank >= sc.n) return;
    const s = sc.data[rank * 3] as number;
    if (s < 0) return;
    const x = parseNumber(buf, s, sc.data[rank * 3 + 1] as number);
    if (!Number.isFinite(x)) return;
    (this.bins[slot] as ScoreBins).add(x);
    this.digests.add(slot, x);
  }

  private errorLine(buf: Buffer): Promise<void> | undefined {
    const p = this.parser;
    this.errorLines++;
    this.shard.errorLines++;
    const message = p.errorStart < 0 ? '(no message)' : buf.toString('utf8', p.errorStart, p.errorEnd);
    const had = this.messages.get(message);
    if (had !== undefined) this.messages.set(message, had + 1);
    else if (this.messages.size < MAX_MESSAGES) this.messages.set(message, 1);
    else this.otherMessages++;
    return this.key(buf, 1);
  }
}
