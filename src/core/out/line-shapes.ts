/**
 * What the line parser tells of a line: its status, its kind, which input
 * field holds its key, and the flags of the spans it keeps (see
 * line-parser.ts).
 */

export const LINE_OK = 0;
/** `error` is not null: the record failed; nothing to export, the line goes to errors.jsonl. */
export const LINE_ERROR = 1;
export const LINE_BLANK = 2;
export const LINE_INVALID = 3;

export const KIND_RECOMMENDATIONS = 0;
export const KIND_RANKING = 1;
export const KIND_THEMES = 2;
export const KIND_SEGMENT = 3;
export const KIND_NAMES = ['recommendations', 'ranking', 'themes', 'segment'] as const;
export type OutKind = (typeof KIND_NAMES)[number];

/** Span flags: the string has JSON escapes (its bytes are not its value); it holds a comma. */
export const SPAN_ESCAPED = 1;
export const SPAN_COMMA = 2;

export const KEY_NONE = 0;
export const KEY_USER = 1;
export const KEY_ITEM = 2;
export const KEY_ATTRIBUTES = 3;
export const KEY_NAMES = ['', 'userId', 'itemId', 'itemAttributes'] as const;
export type OutKeyField = 'userId' | 'itemId' | 'itemAttributes';

/** A growable list of int spans: (start, end, flag) triples. */
export class Spans {
  data = new Int32Array(3 * 64);
  n = 0;

  push(a: number, b: number, c: number): void {
    if (this.n * 3 + 3 > this.data.length) this.grow();
    const i = this.n * 3;
    this.data[i] = a;
    this.data[i + 1] = b;
    this.data[i + 2] = c;
    this.n++;
  }

  grow(): void {
    const next = new Int32Array(this.data.length * 2);
    next.set(this.data);
    this.data = next;
  }
}

/** The data of a list that is absent: a loop over it sees no span. */
export const NO_SPANS = new Int32Array(0);
