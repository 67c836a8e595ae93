import { hashBytes } from '../../../core/byteset.js';
import { digestHexInto, ListDigest, scoreText } from '../../../core/delta.js';
import {
  canonicalString,
  KEY_NONE,
  type KeyedLine,
  KeyScanLines,
  SPAN_ESCAPED,
} from '../../../core/out-lines.js';
import type { PartitionSet } from '../../../io/spill.js';

/** Payload types in the partitions: a PREV key, a current line with output, a current error line. */
export const TYPE_PREV = 80; // 'P'
export const TYPE_OK = 79; // 'O'
export const TYPE_ERROR = 69; // 'E'

/**
 * Writes `key TAB type digest number` lines to the partitions: the key's
 * canonical bytes, the digest of its ordered list (16 hex digits), and a
 * line number (PREV's, for messages) or ordinal (the current line's, for
 * its bit).
 */
export class DeltaKeys {
  private readonly payload = Buffer.allocUnsafe(64);
  readonly digest = new ListDigest();

  constructor(
    readonly parts: PartitionSet,
    /** Scores count too (--since-scores). */
    readonly scores: boolean,
  ) {}

  /** Writes the key with the digest mixed so far (or, `digest` false, zeros: an error line) and n. */
  put(
    key: Uint8Array,
    ks: number,
    ke: number,
    type: number,
    n: number,
    digest = true,
  ): Promise<void> | undefined {
    const p = this.payload;
    if (digest) this.digest.hexInto(p, 1);
    else p.fill(48, 1, 17);
    return this.parts.write(key, ks, ke, hashBytes(key, ks, ke), p, 0, this.typeAndNumber(type, n));
  }

  /**
   * KeyScanLines for this writer's lines, when its digest is theirs: the
   * ids alone (undefined when scores count, or a subclass mixes more).
   */
  lineScanner(top: number): KeyScanLines | undefined {
    return this.scores ? undefined : new KeyScanLines(top);
  }

  /** put() for line i of a KeyScanLines scan that took it: the key, its hash and the digest are the scan's. */
  putScanned(
    lines: KeyScanLines,
    i: number,
    src: Uint8Array,
    type: number,
    n: number,
  ): Promise<void> | undefined {
    const p = this.payload;
    digestHexInto(lines.digestA(i), lines.digestB(i), p, 1);
    const len = this.typeAndNumber(type, n);
    return this.parts.write(src, lines.keyStart(i), lines.keyEnd(i), lines.keyHash(i), p, 0, len);
  }

  /** The payload's type byte and, after the digest, n's digits: the payload's length. */
  private typeAndNumber(type: number, n: number): number {
    const p = this.payload;
    p[0] = type;
    // The number's digits, least significant first, then turned round (n is whole, below 2^53).
    let len = 17;
    let m = n;
    do {
      p[len++] = 48 + (m % 10);
      m = Math.floor(m / 10);
    } while (m > 0);
    for (let i = 17, j = len - 1; i < j; i++, j--) {
      const t = p[i] as number;
      p[i] = p[j] as number;
      p[j] = t;
    }
    return len;
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
