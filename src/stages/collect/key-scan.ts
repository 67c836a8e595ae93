import { KEY_ITEM, KEY_NONE, KEY_USER, LINE_ERROR, LINE_OK } from '../../core/out-lines.js';

/**
 * Step 1's quick look at an output line: the two shapes the service writes
 * for a user or item recommendation, byte for byte and without spaces,
 *
 *   {"input":{"userId":"K"},"output":{"recommendedItems":[...],"scores":[...]},"error":null}
 *   {"input":{"userId":"K"},"output":null,"error":"..."}
 *
 * (or "itemId"; "scores" may be absent). A line it recognises is one the
 * full parser (OutLineParser) judges the same way with the same key: every
 * string is checked to hold no quote, backslash or control character, every
 * number against the JSON grammar, and no more scores than ids. Anything
 * else, however valid, returns UNKNOWN and goes to the full parser: it is
 * the one that judges, and reports problems. The full parser spent about
 * 40% of step 1's time on these lines; this scan a fifth of that.
 */

export const UNKNOWN = -2;

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const CLOSE_BRACKET = 93;

const HEAD_USER = Buffer.from('{"input":{"userId":"');
const HEAD_ITEM = Buffer.from('{"input":{"itemId":"');
const AFTER_KEY = Buffer.from('"},"output":');
const OUTPUT_NULL = Buffer.from('null,"error":"');
const OUTPUT_ITEMS = Buffer.from('{"recommendedItems":[');
const SCORES = Buffer.from(',"scores":[');
const TAIL_OK = Buffer.from('},"error":null}');

/** Bytes a plain string may hold: not a quote, backslash or control character. */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) if (c !== QUOTE && c !== BACKSLASH) PLAIN[c] = 1;
const DIGIT = new Uint8Array(256);
for (let c = 48; c <= 57; c++) DIGIT[c] = 1;

/** The result of the last scan(): the key's field and its [start, end) in the line. */
export class KeyScan {
  keyField = KEY_NONE;
  keyStart = 0;
  keyEnd = 0;

  /** LINE_OK or LINE_ERROR for a line of the two shapes above (key set), else UNKNOWN. */
  scan(buf: Uint8Array, s: number, e: number): number {
    let field: number;
    if (at(buf, s, e, HEAD_USER)) field = KEY_USER;
    else if (at(buf, s, e, HEAD_ITEM)) field = KEY_ITEM;
    else return UNKNOWN;
    const ks = s + HEAD_USER.length;
    let p = ks;
    while (p < e && PLAIN[buf[p] as number] === 1) p++;
    // An empty key is left to the parser (the scan never decides what an empty id means).
    if (p === ks || p >= e || buf[p] !== QUOTE) return UNKNOWN;
    const ke = p;
    if (!at(buf, p, e, AFTER_KEY)) return UNKNOWN;
    p += AFTER_KEY.length;
    let status: number;
    if (at(buf, p, e, OUTPUT_NULL)) {
      p += OUTPUT_NULL.length;
      while (p < e && PLAIN[buf[p] as number] === 1) p++;
      if (p + 2 !== e || buf[p] !== QUOTE || buf[p + 1] !== 125) return UNKNOWN;
      status = LINE_ERROR;
    } else if (at(buf, p, e, OUTPUT_ITEMS)) {
      p = this.okTail(buf, p + OUTPUT_ITEMS.length, e);
      if (p < 0) return UNKNOWN;
      status = LINE_OK;
    } else return UNKNOWN;
    this.keyField = field;
    this.keyStart = ks;
    this.keyEnd = ke;
    return status;
  }

  /** From inside recommendedItems' `[` to the line's end: e, or -1 if not the shape. */
  private okTail(buf: Uint8Array, p: number, e: number): number {
    let ids = 0;
    if (buf[p] === CLOSE_BRACKET) p++;
    else
      for (;;) {
        if (buf[p] !== QUOTE) return -1;
        p++;
        while (p < e && PLAIN[buf[p] as number] === 1) p++;
        if (p >= e || buf[p] !== QUOTE) return -1;
        p++;
        ids++;
        const c = buf[p++];
        if (c === CLOSE_BRACKET) break;
        if (c !== COMMA) return -1;
      }
    if (at(buf, p, e, SCORES)) {
      p += SCORES.length;
      let scores = 0;
      if (buf[p] === CLOSE_BRACKET) p++;
      else
        for (;;) {
          p = numberEnd(buf, p, e);
          if (p < 0) return -1;
          scores++;
          const c = buf[p++];
          if (c === CLOSE_BRACKET) break;
          if (c !== COMMA) return -1;
        }
      if (scores > ids) return -1;
    }
    return p + TAIL_OK.length === e && at(buf, p, e, TAIL_OK) ? e : -1;
  }
}

function at(buf: Uint8Array, p: number, e: number, what: Buffer): boolean {
  if (e - p < what.length) return false;
  for (let i = 0; i < what.length; i++) if (buf[p + i] !== what[i]) return false;
  return true;
}

/** The end of a JSON number at p (before e), or -1. */
function numberEnd(buf: Uint8Array, p: number, e: number): number {
  if (buf[p] === 45) p++;
  if (p >= e) return -1;
  if (buf[p] === 48) p++;
  else if (buf[p] !== undefined && (buf[p] as number) > 48 && (buf[p] as number) <= 57) {
    while (p < e && DIGIT[buf[p] as number] === 1) p++;
  } else return -1;
  if (p < e && buf[p] === 46) {
    p++;
    if (p >= e || DIGIT[buf[p] as number] !== 1) return -1;
    while (p < e && DIGIT[buf[p] as number] === 1) p++;
  }
  if (p < e && (buf[p] === 101 || buf[p] === 69)) {
    p++;
    if (p < e && (buf[p] === 43 || buf[p] === 45)) p++;
    if (p >= e || DIGIT[buf[p] as number] !== 1) return -1;
    while (p < e && DIGIT[buf[p] as number] === 1) p++;
  }
  return p < e ? p : -1;
}
