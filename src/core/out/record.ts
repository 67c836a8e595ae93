import type { OutLineParser } from './line-parser.js';
import { KEY_NAMES, KEY_NONE, KIND_NAMES, KIND_SEGMENT, type OutKind, SPAN_ESCAPED } from './line-shapes.js';
import { decodeString } from './strings.js';

/** One recommended item: the score as a number and exactly as printed, v2's reasons. */
export interface OutputItem {
  itemId: string;
  /** Absent when the line has no score for the item (no scores list, or null). */
  score?: number;
  /** The score's JSON text as the service printed it (`3.773E-4`), for those who need every digit. */
  scoreText?: string;
  /** User-Personalization-v2's reasons for the item (`["Promoted item"]`), when the line has them. */
  reason?: string[];
}

/** One `.out` line as an object. */
export interface OutputRecord {
  /** recommendations, ranking, themes or segment (told by the line's fields). */
  kind: OutKind;
  /** The echoed key: one of the three (none for Popularity-Count's empty input `{}`). */
  userId?: string;
  itemId?: string;
  itemAttributes?: string;
  /** The recommended items (recommendations, ranking, themes); absent on error lines. */
  items?: OutputItem[];
  /** Segments: the users recommended for the item or the attributes; absent on error lines. */
  users?: { userId: string }[];
  /** Themes: the theme's name. */
  theme?: string;
  /** The record failed: the service's message (JSON text when it is not a string). */
  error?: string;
  /** Error lines: the echoed input as written (`null` when the line has none). */
  input?: unknown;
  /** Where the line came from: the file (or stream name) and its 1-based line. */
  file: string;
  line: number;
}

function text(buf: Uint8Array, start: number, end: number, escaped: boolean): string {
  if (escaped) return decodeString(buf, start, end);
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

/** The record of a line the parser found valid (LINE_OK), from its spans. */
export function okRecord(p: OutLineParser, buf: Buffer, file: string, line: number): OutputRecord {
  const rec: OutputRecord = { kind: KIND_NAMES[p.kind] as OutKind, file, line };
  if (p.keyField !== KEY_NONE)
    rec[KEY_NAMES[p.keyField] as 'userId'] = text(buf, p.keyStart, p.keyEnd, p.keyEscaped);
  if (p.themeStart >= 0) rec.theme = text(buf, p.themeStart, p.themeEnd, p.themeEscaped);
  const ids = p.ids.data;
  const n = p.ids.n;
  const idOf = (i: number) =>
    text(
      buf,
      ids[i * 3] as number,
      ids[i * 3 + 1] as number,
      ((ids[i * 3 + 2] as number) & SPAN_ESCAPED) !== 0,
    );
  if (p.kind === KIND_SEGMENT) {
    rec.users = Array.from({ length: n }, (_, i) => ({ userId: idOf(i) }));
    return rec;
  }
  const scores = p.scores;
  const reasons = p.reasons;
  const items: OutputItem[] = [];
  for (let i = 0; i < n; i++) {
    const item: OutputItem = { itemId: idOf(i) };
    const ss = scores && i < scores.n ? (scores.data[i * 3] as number) : -1;
    if (ss >= 0) {
      const t = buf.toString('utf8', ss, scores?.data[i * 3 + 1] as number);
      item.score = Number(t);
      item.scoreText = t;
    }
    const rs = reasons && i < reasons.n ? (reasons.data[i * 3] as number) : -1;
    if (rs >= 0) {
      const r = JSON.parse(buf.toString('utf8', rs, reasons?.data[i * 3 + 1] as number)) as string[] | null;
      if (r !== null) item.reason = r;
    }
    items.push(item);
  }
  rec.items = items;
  return rec;
}

/**
 * The record of an error line (LINE_ERROR): its key when it has one as a
 * string, the error and the input as written. Error lines are rare, so the
 * line is parsed whole for the input.
 */
export function errorRecord(
  p: OutLineParser,
  buf: Buffer,
  start: number,
  end: number,
  file: string,
  line: number,
): OutputRecord {
  const rec: OutputRecord = { kind: KIND_NAMES[p.kind] as OutKind, file, line };
  if (p.keyField !== KEY_NONE)
    rec[KEY_NAMES[p.keyField] as 'userId'] = text(buf, p.keyStart, p.keyEnd, p.keyEscaped);
  const whole = JSON.parse(buf.toString('utf8', start, end)) as Record<string, unknown>;
  rec.error = typeof whole.error === 'string' ? whole.error : JSON.stringify(whole.error);
  rec.input =
    whole.input ??
    (typeof whole.itemAttributes === 'string' ? { itemAttributes: whole.itemAttributes } : null);
  return rec;
}
