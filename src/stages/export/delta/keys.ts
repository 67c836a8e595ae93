import { hashBytes } from '../../../core/byteset.js';
import { ListDigest, scoreText } from '../../../core/delta.js';
import {
  canonicalString,
  KEY_NONE,
  type KeyedLine,
  KeyScanLines,
  SPAN_ESCAPED,
} from '../../../core/out-lines.js';
import type { PartitionSet } from '../../../io/spill.js';

/**
 * Payload types in the partitions: a PREV key, a current line with output,
 * a current error line, a key of the users file (--users-required).
 */
export const TYPE_PREV = 80; // 'P'
export const TYPE_OK = 79; // 'O'
export const TYPE_ERROR = 69; // 'E'
export const TYPE_USER = 85; // 'U'

/** A partition line's payload, after the key's TAB: the type, the digest's two words (5 bytes each), n (8 bytes). */
export const PAYLOAD = 19;
const WORD_A = 1;
const WORD_B = 6;
const NUMBER = 11;

/**
 * The payload's numbers in 7-bit groups, the high bit set in each byte (no
 * TAB or LF, which the partitions' lines are cut on): fixed width, read back
 * with a few shifts. As hex and decimal digits, making and parsing them was
 * about a third of step 2 and of the partition lines' cost.
 * key-scan.wat's group() writes the same bytes.
 */
function wordInto(p: Uint8Array, at: number, v: number): void {
  for (let j = 0; j < 5; j++) p[at + j] = 0x80 | ((v >>> (7 * j)) & 0x7f);
}

/** A payload's digest word at seg[at] (WORD_A or WORD_B past the type byte's place). */
function wordAt(seg: Uint8Array, at: number): number {
  return (
    (((seg[at] as number) & 0x7f) |
      (((seg[at + 1] as number) & 0x7f) << 7) |
      (((seg[at + 2] as number) & 0x7f) << 14) |
      (((seg[at + 3] as number) & 0x7f) << 21) |
      (((seg[at + 4] as number) & 0x0f) << 28)) >>>
    0
  );
}

/** The payload at seg[ps]'s digest words and number. */
export function payloadA(seg: Uint8Array, ps: number): number {
  return wordAt(seg, ps + WORD_A);
}
export function payloadB(seg: Uint8Array, ps: number): number {
  return wordAt(seg, ps + WORD_B);
}
export function payloadNumber(seg: Uint8Array, ps: number): number {
  let n = 0;
  for (let i = ps + NUMBER; i < ps + PAYLOAD; i++) n = n * 128 + ((seg[i] as number) & 0x7f);
  return n;
}

/**
 * A key and the digest of its ordered list, for each keyed line of PREV or
 * the sources, handed to put() (one line) or putRun() (a run of batch-scan
 * records): DeltaKeys writes them to the partitions, TableKeys (table.ts)
 * to the in-memory table of PREV.
 */
export abstract class LineKeys {
  readonly digest = new ListDigest();

  constructor(
    /** Scores count too (--since-scores). */
    readonly scores: boolean,
  ) {}

  /** The key with the digest mixed so far (or, `digest` false, zeros: an error line) and n. */
  abstract put(
    key: Uint8Array,
    ks: number,
    ke: number,
    type: number,
    n: number,
    digest?: boolean,
  ): Promise<void> | undefined;

  /** put() for records [from, to) of a KeyScanLines scan, each one it took, numbered n0, n0 + 1, ... */
  abstract putRun(
    lines: KeyScanLines,
    from: number,
    to: number,
    type: number,
    n0: number,
  ): Promise<void> | undefined;

  /**
   * KeyScanLines for this writer's lines, when its digest is theirs: the
   * ids alone (undefined when scores count, or a subclass mixes more).
   */
  lineScanner(top: number): KeyScanLines | undefined {
    return this.scores ? undefined : new KeyScanLines(top);
  }

  /**
   * Mixes into `digest` a parsed (or scanned) `.out` line's first `top`
   * ids (0: all), with their scores when they count.
   */
  outLine(parser: KeyedLine, src: Uint8Array, top: number): void {
    const d = this.digest;
    d.reset();
    const ids = parser.ids.data;
    const n = top > 0 ? Math.min(top, parser.ids.n) : parser.ids.n;
    const scores = this.scores ? parser.scores : undefined;
    for (let i = 0; i < n; i++) {
      const s = ids[i * 3] as number;
      const e = ids[i * 3 + 1] as number;
      if (((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0) {
        const canon = canonicalString(src, s, e, true);
        d.id(canon, 0, canon.length);
      } else d.id(src, s, e);
      if (this.scores) {
        const ss = scores && i < scores.n ? (scores.data[i * 3] as number) : -1;
        d.score(
          ss < 0
            ? 'null'
            : scoreText(
                Buffer.from(
                  src.buffer,
                  src.byteOffset + ss,
                  (scores?.data[i * 3 + 1] as number) - ss,
                ).toString('latin1'),
              ),
        );
      }
    }
  }

  /** Writes a parsed `.out` line's key with the digest outLine() mixed (none: returns false, the line has no key). */
  outKey(
    parser: KeyedLine,
    src: Uint8Array,
    type: number,
    digest: boolean,
    n: number,
  ): false | Promise<void> | undefined {
    if (parser.keyField === KEY_NONE) return false;
    if (parser.keyEscaped) {
      const canon = canonicalString(src, parser.keyStart, parser.keyEnd, true);
      return this.put(canon, 0, canon.length, type, n, digest);
    }
    return this.put(src, parser.keyStart, parser.keyEnd, type, n, digest);
  }
}

/** LineKeys whose keys go nowhere: for a line's digest alone, or readPrev's count of PREV's keys. */
export class NoKeys extends LineKeys {
  put(): undefined {
    return undefined;
  }
  putRun(): undefined {
    return undefined;
  }
}

/**
 * Writes `key TAB payload` lines to the partitions: the key's canonical
 * bytes, then the type, the digest of its ordered list and a line number
 * (PREV's, for messages) or ordinal (the current line's, for its bit).
 */
export class DeltaKeys extends LineKeys {
  private readonly payload = Buffer.allocUnsafe(64);

  constructor(
    readonly parts: PartitionSet,
    scores: boolean,
  ) {
    super(scores);
  }

  put(
    key: Uint8Array,
    ks: number,
    ke: number,
    type: number,
    n: number,
    digest = true,
  ): Promise<void> | undefined {
    const p = this.payload;
    p[0] = type;
    wordInto(p, WORD_A, digest ? this.digest.wordA() : 0);
    wordInto(p, WORD_B, digest ? this.digest.wordB() : 0);
    // n (whole, below 2^53) in 8 groups of 7 bits, most significant first.
    let m = n;
    for (let j = PAYLOAD - 1; j >= NUMBER; j--) {
      p[j] = 0x80 | (m % 128);
      m = Math.floor(m / 128);
    }
    return this.parts.write(key, ks, ke, hashBytes(key, ks, ke), p, 0, PAYLOAD);
  }

  /**
   * The lines are made and grouped by partition in WebAssembly, and go to
   * the partitions one copy a partition.
   */
  putRun(lines: KeyScanLines, from: number, to: number, type: number, n0: number): Promise<void> | undefined {
    if (from >= to) return undefined;
    const g = lines.group(from, to, type, n0);
    return this.parts.writeGrouped(g.src, g.ends, g.recs, PAYLOAD);
  }
}
