import type { Layout } from './convert-config.js';
import type { ConvertCounts } from './convert-result.js';
import { KEY_NONE, NO_SPANS, SPAN_ESCAPED } from './line-shapes.js';
import { copyWords, type RowWriter, viewOf } from './row-writer.js';
import { canonicalString } from './strings.js';

/** jsonl: one JSON record per key (with the user's fields), its ids (with score, reasons and catalog fields) in an array. */

// Byte values, local to this module and not exported: V8 reads an exported
// or imported binding through its module cell at every use (in its own
// module too), which the per-row loops below cannot afford.
const QUOTE = 34;
const COMMA = 44;

/** One JSON Lines record for the line: {"<key>":"...","items":[{"itemId":"...","score":...},...]}. */
export function writeJsonLine(
  w: RowWriter,
  src: Buffer,
  layout: Layout,
  count: number,
  c: ConvertCounts,
): void {
  const p = w.parser;
  const catalog = w.catalog;
  // No key (an empty input) is null, not "": no record has the empty id.
  if (p.keyField === KEY_NONE) ascii(w, `{"${layout.keyField}":null`);
  else {
    // A constant per key name: a template string here was built and flattened on every line.
    ascii(w, KEY_HEAD[layout.keyField]);
    jsonString(w, src, p.keyStart, p.keyEnd, p.keyEscaped);
    ascii(w, '"');
  }
  if (layout.theme) {
    if (p.themeStart >= 0) {
      ascii(w, ',"theme":"');
      jsonString(w, src, p.themeStart, p.themeEnd, p.themeEscaped);
      ascii(w, '"');
    } else ascii(w, ',"theme":null');
  }
  // The user's fields (nulls when the user is not in the users file) before the list.
  if (w.users) w.at = w.users.copyJson(w.userItem, w.out, w.at);
  ascii(w, layout.users ? ',"users":[' : ',"items":[');
  const ids = p.ids.data;
  const scores = p.scores;
  const sd = scores ? scores.data : NO_SPANS;
  const sn = scores ? scores.n : 0;
  const reasons = p.reasons;
  const idName = w.idName;
  const idView = w.idNameView;
  const out = w.out;
  const dst = w.outView;
  const sv = w.srcView;
  const wordLimit = sv.byteLength - 3;
  for (let i = 0; i < count; i++) {
    const is = ids[i * 3] as number;
    const ie = ids[i * 3 + 1] as number;
    const escaped = ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0;
    let at = w.at;
    if (i > 0) out[at++] = COMMA;
    at = copyWords(out, dst, at, idName, idView, 0, w.idNameLength, idName.length - 3);
    if (escaped) {
      w.at = at;
      jsonString(w, src, is, ie, true);
      at = w.at;
    } else at = copyWords(out, dst, at, src, sv, is, ie, wordLimit);
    out[at++] = QUOTE;
    if (layout.score) {
      at = copyWords(out, dst, at, SCORE_KEY, SCORE_KEY_VIEW, 0, SCORE_KEY_LENGTH, SCORE_KEY.length - 3);
      const ss = i < sn ? (sd[i * 3] as number) : -1;
      if (ss < 0) at = copyWords(out, dst, at, NULL_BYTES, NULL_VIEW, 0, 4, NULL_BYTES.length - 3);
      else at = copyWords(out, dst, at, src, sv, ss, sd[i * 3 + 1] as number, wordLimit);
    }
    w.at = at;
    if (layout.reason) {
      ascii(w, ',"reasons":');
      const rs = reasons && i < reasons.n ? (reasons.data[i * 3] as number) : -1;
      if (rs < 0) ascii(w, 'null');
      else {
        const re = (reasons as { data: Int32Array }).data[i * 3 + 1] as number;
        w.at += out.write(JSON.stringify(JSON.parse(src.toString('utf8', rs, re))), w.at);
      }
    }
    if (catalog) {
      const item = layout.users ? -1 : catalog.lookup(src, is, ie, escaped);
      if (item < 0) c.catalogMissing++;
      w.at = catalog.copyJson(item, out, w.at);
    }
    out[w.at++] = 125; // }
  }
  ascii(w, ']}\n');
}

const KEY_HEAD: Record<Layout['keyField'], string> = {
  userId: '{"userId":"',
  itemId: '{"itemId":"',
  itemAttributes: '{"itemAttributes":"',
};

function ascii(w: RowWriter, s: string): void {
  const out = w.out;
  let at = w.at;
  for (let i = 0; i < s.length; i++) out[at++] = s.charCodeAt(i);
  w.at = at;
}

/** JSON string content, canonical (as JSON.stringify writes it), without the quotes. */
function jsonString(w: RowWriter, src: Uint8Array, s: number, e: number, escaped: boolean): void {
  if (escaped) {
    const canon = canonicalString(src, s, e, true);
    canon.copy(w.out, w.at);
    w.at += canon.length;
    return;
  }
  const out = w.out;
  let at = w.at;
  for (let k = s; k < e; k++) out[at++] = src[k] as number;
  w.at = at;
}

// Padded constants: copyWords reads up to 3 bytes past what it copies.
const SCORE_KEY = Buffer.alloc(16);
const SCORE_KEY_LENGTH = SCORE_KEY.write(',"score":');
const SCORE_KEY_VIEW = viewOf(SCORE_KEY);
const NULL_BYTES = Buffer.alloc(8);
NULL_BYTES.write('null');
const NULL_VIEW = viewOf(NULL_BYTES);
