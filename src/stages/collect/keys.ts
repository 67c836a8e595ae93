import { hashBytes } from '../../core/byteset.js';
import { docKindOf, wrongKind } from '../../core/doc-kind.js';
import {
  canonicalString,
  KEY_ATTRIBUTES,
  KEY_NONE,
  KEY_USER,
  LINE_BLANK,
  LINE_ERROR,
  LINE_OK,
  OutLineParser,
} from '../../core/out-lines.js';
import type { PartitionSet, SpillDir } from '../../io/spill.js';
import { Bits } from './bits.js';
import type { CollectProgress } from './events.js';
import type { InvalidLines } from './invalid.js';
import type { ResolvedCollectOptions } from './options.js';
import { inputPieces, isBlank, LF, numbered } from './reading.js';
import type { CollectSummary } from './summary.js';

export const TYPE_OK = 79; // 'O'
export const TYPE_ERROR = 69; // 'E'
const TYPE_INPUT = 73; // 'I'
const KEY_TAGS = [0, 117, 105, 97]; // '', 'u', 'i', 'a' for KEY_USER, KEY_ITEM, KEY_ATTRIBUTES

/** What step 1 found, for the steps after it. */
export interface Keyed {
  keyer: Keyer;
  /** The partitions, written and closed. */
  parts: PartitionSet;
  /** Non-blank lines per source and per input file: a second reading must find as many. */
  linesPerSource: number[];
  inputLines: number[];
}

/**
 * Step 1: every output line (then every input line) is numbered and its key
 * written, with the line's number and type, to hash partitions on disk.
 */
export async function partitionKeys(
  files: { sources: string[]; inputs: string[] },
  spill: SpillDir,
  o: ResolvedCollectOptions,
  invalid: InvalidLines,
  s: CollectSummary,
  progress: CollectProgress,
): Promise<Keyed> {
  const readOpts = { stdin: o.stdin, pieceSize: o.pieceSize, maxLineLength: o.maxLineLength };
  const parts = await spill.partitions();
  const keyer = new Keyer(parts, o.maxLineLength);
  const linesPerSource: number[] = [];
  for (const source of files.sources) {
    const before = keyer.ordinal;
    progress.file(source, 'output');
    for await (const { item, lineOf } of numbered(source, readOpts)) {
      if (item.kind === 'bad') {
        await invalid.report(source, lineOf(0), item.reason, item.text);
        continue;
      }
      const ordinal = keyer.ordinal;
      const r = keyer.outputs(item.bytes);
      progress.read(keyer.ordinal - ordinal, item.bytes.length);
      s.blankLines += r.blank;
      for (const p of r.problems) await invalid.report(source, lineOf(p.index), p.reason, p.text);
      if (r.wait) await r.wait;
    }
    linesPerSource.push(keyer.ordinal - before);
  }
  s.outputLines = keyer.ordinal;
  s.errorLines = keyer.errorLines;
  s.outputWithoutKey = keyer.withoutKey;
  s.invalid = invalid.count;
  s.failedKeys = keyer.errorsWithoutKey;
  const inputLines: number[] = [];
  for (const file of files.inputs) {
    const before = keyer.inputOrdinal;
    let first = true;
    progress.file(file, 'input');
    for await (const seg of inputPieces(file, o.stdin, o.maxLineLength)) {
      if (first) {
        // Read by content: an .out file in an input folder is not batch input.
        const wrong = wrongKind(docKindOf(seg), 'batch-input', file);
        if (wrong) throw wrong;
        first = false;
      }
      const ordinal = keyer.inputOrdinal;
      const w = keyer.inputs(seg);
      progress.read(keyer.inputOrdinal - ordinal, seg.length);
      if (w) await w;
    }
    inputLines.push(keyer.inputOrdinal - before);
  }
  s.inputRecords = keyer.inputOrdinal;
  s.inputWithoutKey = keyer.inputWithoutKey;
  await parts.close();
  return { keyer, parts, linesPerSource, inputLines };
}

/**
 * Step 1's per-line work, synchronous over a piece: number every non-blank
 * line and write `tag+key TAB type+number` to its partition.
 */
export class Keyer {
  ordinal = 0;
  inputOrdinal = 0;
  errorLines = 0;
  inputWithoutKey = 0;
  withoutKey = 0;
  errorsWithoutKey = 0;
  /**
   * Lines without a key skip the partitions: with nothing to join or
   * deduplicate them by, each is kept, so its bit is set here.
   */
  readonly keepOut = new Bits();
  readonly keepError = new Bits();
  private readonly parser = new OutLineParser();
  private key = Buffer.allocUnsafe(1024);
  private readonly payload = Buffer.allocUnsafe(32);

  constructor(
    private readonly parts: PartitionSet,
    private readonly maxLineLength: number,
  ) {}

  outputs(piece: Buffer): {
    lines: number;
    blank: number;
    problems: { index: number; reason: string; text: string }[];
    wait: Promise<unknown> | undefined;
  } {
    const problems: { index: number; reason: string; text: string }[] = [];
    const waits: Promise<void>[] = [];
    let lines = 0;
    let blank = 0;
    let p = 0;
    const n = piece.length;
    const parser = this.parser;
    while (p < n) {
      let nl = piece.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && piece[nl - 1] === 13 ? nl - 1 : nl;
      const index = lines++;
      const status =
        e - p > this.maxLineLength ? (isBlank(piece, p, e) ? LINE_BLANK : -1) : parser.parse(piece, p, e);
      if (status === LINE_BLANK) blank++;
      else {
        const ord = this.ordinal++;
        if (status === LINE_OK || status === LINE_ERROR) {
          if (status === LINE_ERROR) this.errorLines++;
          if (parser.keyField === KEY_NONE) this.keepWithoutKey(ord, status === LINE_ERROR);
          else {
            const klen = this.setKey(
              parser.keyField,
              piece,
              parser.keyStart,
              parser.keyEnd,
              parser.keyEscaped,
            );
            const w = this.put(klen, status === LINE_OK ? TYPE_OK : TYPE_ERROR, ord);
            if (w) waits.push(w);
          }
        } else {
          const reason =
            status === -1
              ? `line longer than ${this.maxLineLength} bytes (--max-line-length)`
              : parser.problem;
          problems.push({ index, reason, text: piece.toString('utf8', p, Math.min(e, p + 65536)) });
        }
      }
      p = nl + 1;
    }
    return { lines, blank, problems, wait: waits.length > 0 ? Promise.all(waits) : undefined };
  }

  private keepWithoutKey(ord: number, error: boolean): void {
    this.withoutKey++;
    if (error) {
      this.errorsWithoutKey++;
      this.keepError.set(ord);
    } else this.keepOut.set(ord);
  }

  /** Input lines: their key by a quick look at lines prepare writes, else JSON.parse. */
  inputs(seg: Buffer): Promise<unknown> | undefined {
    const waits: Promise<void>[] = [];
    let p = 0;
    const n = seg.length;
    while (p < n) {
      let nl = seg.indexOf(LF, p);
      if (nl === -1) nl = n;
      const e = nl > p && seg[nl - 1] === 13 ? nl - 1 : nl;
      if (!isBlank(seg, p, e)) {
        const ord = this.inputOrdinal++;
        const klen = this.inputKey(seg, p, e);
        if (klen < 0) this.inputWithoutKey++;
        else {
          const w = this.put(klen, TYPE_INPUT, ord);
          if (w) waits.push(w);
        }
      }
      p = nl + 1;
    }
    return waits.length > 0 ? Promise.all(waits) : undefined;
  }

  private inputKey(seg: Buffer, s: number, e: number): number {
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const prefix = INPUT_PREFIXES[f] as Buffer;
      if (e - s <= prefix.length || seg.compare(prefix, 0, prefix.length, s, s + prefix.length) !== 0)
        continue;
      let i = s + prefix.length;
      while (i < e && seg[i] !== 34 && seg[i] !== 92 && (seg[i] as number) >= 32) i++;
      if (i < e && seg[i] === 34) return this.setKey(f, seg, s + prefix.length, i, false);
      break;
    }
    let obj: unknown;
    try {
      obj = JSON.parse(seg.toString('utf8', s, e));
    } catch {
      return -1;
    }
    if (!obj || typeof obj !== 'object') return -1;
    const r = obj as Record<string, unknown>;
    for (let f = KEY_USER; f <= KEY_ATTRIBUTES; f++) {
      const v = r[['', 'userId', 'itemId', 'itemAttributes'][f] as string];
      if (typeof v === 'string') {
        const canon = Buffer.from(JSON.stringify(v).slice(1, -1));
        return this.setKey(f, canon, 0, canon.length, false);
      }
    }
    return -1;
  }

  /** key = tag byte + canonical key bytes; returns its length. */
  private setKey(field: number, buf: Uint8Array, s: number, e: number, escaped: boolean): number {
    const bytes = escaped ? canonicalString(buf, s, e, true) : undefined;
    const len = (bytes ? bytes.length : e - s) + 1;
    if (this.key.length < len) this.key = Buffer.allocUnsafe(2 * len);
    this.key[0] = KEY_TAGS[field] as number;
    if (bytes) bytes.copy(this.key, 1);
    else for (let i = 0; i < e - s; i++) this.key[1 + i] = buf[s + i] as number;
    return len;
  }

  private put(klen: number, type: number, ordinal: number): Promise<void> | undefined {
    this.payload[0] = type;
    const plen = 1 + this.payload.write(String(ordinal), 1, 'latin1');
    return this.parts.write(this.key, 0, klen, hashBytes(this.key, 0, klen), this.payload, 0, plen);
  }
}

const INPUT_PREFIXES = [
  Buffer.alloc(0),
  Buffer.from('{"userId":"'),
  Buffer.from('{"itemId":"'),
  Buffer.from('{"itemAttributes":"'),
];
