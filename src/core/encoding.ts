import { isAscii, isUtf8 } from 'node:buffer';

/**
 * Text encodings, with no stream code: checking that bytes are UTF-8
 * (chunk by chunk, a character may straddle two chunks) and decoding other
 * encodings through TextDecoder. Nothing here decodes by hand; the one
 * table below works around a Node bug, and only where it shows.
 */

/**
 * Checks chunks of one stream for UTF-8. isUtf8 (simdutf) reads about
 * 15 GB/s here, so the check costs nothing next to parsing; the slow scan
 * that finds the bad byte runs only once a chunk has failed.
 */
export class Utf8Check {
  /** Some chunk that passed held characters past ASCII (text with accents, read as UTF-8). */
  nonAscii = false;
  /** The bytes of a character cut off at the end of the last chunk (at most 3). */
  private carry: Buffer = Buffer.alloc(0);
  /** Bytes checked so far. */
  private seen = 0;

  /**
   * -1 when `chunk` (with what the last one left) is UTF-8 so far, else the
   * offset in `chunk` of the first byte that is not (0 when the fault began
   * in the carried bytes).
   */
  push(chunk: Uint8Array): number {
    let from = 0;
    if (this.carry.length > 0) {
      // Complete the carried character from the head of this chunk and check just that.
      const need = seqLength(this.carry[0] as number) - this.carry.length;
      const take = Math.min(need, chunk.length);
      const joined = Buffer.concat([this.carry, chunk.subarray(0, take)]);
      if (take < need) {
        if (!isPrefixValid(joined)) return 0;
        this.carry = joined;
        return -1;
      }
      this.carry = Buffer.alloc(0);
      if (!isUtf8(joined)) return 0;
      from = take;
    }
    const end = completeEnd(chunk, from);
    if (!isUtf8(chunk.subarray(from, end))) return from + firstInvalid(chunk.subarray(from, end));
    if (!this.nonAscii && !isAscii(this.seen === 0 ? withoutBom(chunk) : chunk)) this.nonAscii = true;
    this.seen += chunk.length;
    if (end < chunk.length) {
      const tail = chunk.subarray(end);
      if (!isPrefixValid(tail)) return end;
      this.carry = Buffer.from(tail);
    }
    return -1;
  }

  /** True when the stream ended inside a character. */
  get truncated(): boolean {
    return this.carry.length > 0;
  }
}

/** The bytes after a UTF-8 byte order mark, if they start with one. */
export function withoutBom(b: Uint8Array): Uint8Array {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
}

/** Length of the sequence a lead byte starts (1 for a byte that cannot lead one). */
function seqLength(b: number): number {
  return b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 ? (b <= 0xef ? 3 : 1) : b >= 0xc2 && b <= 0xdf ? 2 : 1;
}

/** The end of the last complete character: a lead byte in the last 3 bytes whose sequence runs past the end is cut off. */
function completeEnd(chunk: Uint8Array, from: number): number {
  const n = chunk.length;
  for (let i = n - 1; i >= Math.max(from, n - 3); i--) {
    const b = chunk[i] as number;
    if (b < 0x80) return n;
    if (b >= 0xc0) return i + seqLength(b) > n ? i : n;
  }
  return n;
}

/** Whether bytes can begin a valid character (a lead byte and continuation bytes). */
function isPrefixValid(b: Uint8Array): boolean {
  const len = seqLength(b[0] as number);
  if (len === 1 || b.length >= len) return false;
  for (let i = 1; i < b.length; i++) if (((b[i] as number) & 0xc0) !== 0x80) return false;
  // The second byte's narrower ranges (no overlongs, no surrogates, nothing past U+10FFFF).
  const b0 = b[0] as number;
  const b1 = b[1];
  if (b1 === undefined) return true;
  if (b0 === 0xe0 && b1 < 0xa0) return false;
  if (b0 === 0xed && b1 > 0x9f) return false;
  if (b0 === 0xf0 && b1 < 0x90) return false;
  if (b0 === 0xf4 && b1 > 0x8f) return false;
  return true;
}

/** Offset of the first byte that does not start a valid UTF-8 character (bytes known to be invalid). */
export function firstInvalid(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    const len = seqLength(c);
    if (len === 1 || i + len > n || !isUtf8(b.subarray(i, i + len))) return i;
    i += len;
  }
  return n;
}

/**
 * Weighs whether bytes said to be in a one-byte encoding (windows-1252,
 * ISO-8859-x) are really UTF-8: counts the multi-byte UTF-8 characters and
 * the high bytes that are not part of one. Real one-byte text makes a
 * valid pair now and then by chance (Cyrillic `Пё` in windows-1251, `É»` in
 * windows-1252), but it always has high bytes that are not UTF-8; UTF-8
 * text has none. push() returns the offset in the chunk where the first
 * valid character began, the first time one is seen (else -1).
 */
export class Utf8Evidence {
  valid = 0;
  invalid = 0;
  /** The start of a character cut off at the end of the last chunk. */
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): number {
    const b = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const shift = this.pending.length;
    this.pending = Buffer.alloc(0);
    let first = -1;
    const n = b.length;
    for (let i = 0; i < n; ) {
      const c = b[i] as number;
      if (c < 0x80) {
        i++;
        continue;
      }
      const len = seqLength(c);
      if (len > 1 && i + len > n && isPrefixValid(b.subarray(i))) {
        this.pending = Buffer.from(b.subarray(i));
        break;
      }
      if (len > 1 && isUtf8(b.subarray(i, i + len))) {
        if (this.valid === 0) first = Math.max(0, i - shift);
        this.valid++;
        i += len;
      } else {
        this.invalid++;
        i++;
      }
    }
    return first;
  }

  /** At the end: a cut-off character counts against UTF-8. */
  end(): void {
    if (this.pending.length > 0) this.invalid++;
    this.pending = Buffer.alloc(0);
  }

  /** UTF-8 and nothing else: the text is UTF-8. */
  get onlyUtf8(): boolean {
    return this.valid > 0 && this.invalid === 0;
  }

  /** Mostly UTF-8 with some bytes that are not: a file of two encodings. */
  get mixed(): boolean {
    return this.valid >= 8 && this.valid > 4 * this.invalid && this.invalid > 0;
  }
}

/** Encodings with one byte per character (TextDecoder's names), where UTF-8 text shows as mojibake. */
export function isSingleByte(encoding: string): boolean {
  return /^(windows-12\d\d|windows-874|iso-8859-\d+|macintosh|x-mac-cyrillic|koi8-[ru]|ibm866)$/.test(
    encoding,
  );
}

/** The 32 characters windows-1252 has at 0x80-0x9F (WHATWG Encoding index; 5 unassigned map to C1). */
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/**
 * Node 20.18.3+ and 22.13+ decode `windows-1252` (and its `latin1` labels)
 * as ISO-8859-1: 0x80 becomes U+0080, not the euro sign (nodejs/node#56542,
 * #60888). Checked once at load, so a fixed Node needs no repair.
 */
const CP1252_BROKEN = new TextDecoder('windows-1252').decode(Uint8Array.of(0x80)) !== '\u20ac';

/**
 * Decodes one stream in a given encoding (any label TextDecoder knows:
 * windows-1252, iso-8859-15, utf-16le, shift_jis, ...), fatal on bytes
 * the encoding cannot have. push() returns the text so far; end() the rest.
 */
export class Transcoder {
  readonly encoding: string;
  private readonly decoder: TextDecoder;
  private readonly repair: boolean;

  /** Throws RangeError for a label TextDecoder does not know. */
  constructor(label: string) {
    this.decoder = new TextDecoder(label, { fatal: true });
    this.encoding = this.decoder.encoding;
    this.repair = CP1252_BROKEN && this.encoding === 'windows-1252';
  }

  push(chunk: Uint8Array): string {
    return this.fix(this.decoder.decode(chunk, { stream: true }));
  }

  end(): string {
    return this.fix(this.decoder.decode());
  }

  private fix(s: string): string {
    if (!this.repair) return s;
    return s.replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80] as string);
  }
}

/** Names Python and Windows use that the WHATWG labels lack. */
const ALIASES: Record<string, string> = {
  cp932: 'shift_jis',
  ms932: 'shift_jis',
  cp936: 'gbk',
  cp949: 'euc-kr',
  cp950: 'big5',
  cp65001: 'utf-8',
  'utf-8-sig': 'utf-8',
  mac_roman: 'macintosh',
  macroman: 'macintosh',
  'mac-roman': 'macintosh',
};

/** The label TextDecoder should get for a name users write (`cp932`, `utf_16_le`, `latin-1`). */
export function encodingLabel(name: string): string {
  const n = name.trim().toLowerCase();
  return ALIASES[n] ?? ALIASES[n.replace(/_/g, '-')] ?? n.replace(/_/g, '-').replace(/^latin-1$/, 'latin1');
}

/**
 * Why an encoding option cannot be used (`"latin-9" is not an encoding ...`),
 * or undefined when TextDecoder knows it; callers put the option's name in front.
 */
export function encodingProblem(label: string): string | undefined {
  if (encodingName(label) !== undefined) return undefined;
  return `${JSON.stringify(label)} is not an encoding this tool knows (try utf-8, windows-1252, iso-8859-15, utf-16le, utf-16be, shift_jis, gb18030)`;
}

/** Whether TextDecoder knows an encoding label (or an alias); its canonical name, or undefined. */
export function encodingName(label: string): string | undefined {
  for (const l of [label, encodingLabel(label)]) {
    try {
      return new TextDecoder(l).encoding;
    } catch {
      // try the next spelling
    }
  }
  return undefined;
}

/** Shows a line with a bad byte as windows-1252 would read it, for the message. */
export function asWindows1252(bytes: Uint8Array): string {
  return new Transcoder('windows-1252').push(bytes);
}
