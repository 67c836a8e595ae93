import { PbError } from '../errors.js';

/** One parsed row and the 1-based line it starts on. */
export interface ParsedRow {
  line: number;
  /** The fields; only the first `keepFields` when the splitter was told to project. */
  fields: string[];
  /** How many fields the record has (may exceed fields.length when projected). */
  count: number;
  /** The record's text when fields were projected, so a rejected row can still be shown whole. */
  text?: string;
  /** Set when the row is malformed (text after a closing quote); fields are what could be read. */
  problem?: string;
}

export interface SplitterOptions {
  /** Field delimiter for CSV/TSV; null for line-oriented formats (plain text, JSON Lines). */
  delimiter: string | null;
  /** Longest record in characters; a longer one (often an unclosed quote) is a PB_PARSE error. */
  maxRecordLength: number;
  file: string;
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/**
 * Splits decoded text into records, with no stream code: feed chunks with
 * push(), then end(). Lines end in LF or CRLF; blank lines are skipped and
 * counted. With a delimiter it reads RFC 4180 CSV: quoted fields may hold
 * delimiters, doubled quotes and line breaks. A quote inside an unquoted
 * field is kept as text (e-mail exports are full of them).
 *
 * Written by hand rather than with csv-parse: with `info` (needed for line
 * numbers) csv-parse spent 6 of 10 seconds per million rows in our profile,
 * while lines without quotes, the vast majority, need only indexOf and split.
 * test/core/csv-oracle.test.ts checks it against csv-parse on random input.
 */
export class RecordSplitter {
  blankLines = 0;
  private pending = '';
  /** Line number of the start of `pending`. */
  private line = 1;
  private first = true;
  private readonly delim: string | null;
  private keep = Number.POSITIVE_INFINITY;

  constructor(private readonly opts: SplitterOptions) {
    this.delim = opts.delimiter;
  }

  /** The line number the next record starts on; settable when another reader took over for a while. */
  get nextLine(): number {
    return this.line;
  }

  set nextLine(n: number) {
    this.line = n;
  }

  /** True while a record is incomplete (a quoted field spanning chunks). */
  get hasPending(): boolean {
    return this.pending !== '';
  }

  /** Line breaks in the text pushed but not yet read as a record (for a message about what comes next). */
  get pendingLines(): number {
    let n = 0;
    for (let i = this.pending.indexOf('\n'); i !== -1; i = this.pending.indexOf('\n', i + 1)) n++;
    return n;
  }

  /**
   * From now on, materialise only the first n fields of quote-free lines and
   * just count the rest. Splitting a whole e-mail-list line to use one
   * column cost 5x more than finding that column (benchmarks/README.md).
   */
  keepFields(n: number): void {
    this.keep = Math.max(1, n);
  }

  /** Parses every complete record in `chunk` (plus what was left over) and returns them. */
  push(chunk: string): ParsedRow[] {
    let text = this.pending === '' ? chunk : this.pending + chunk;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const out: ParsedRow[] = [];
    const end = this.scan(text, out, false);
    this.pending = text.slice(end);
    if (this.pending.length > this.opts.maxRecordLength) {
      throw new PbError(
        'PB_PARSE',
        this.delim !== null && this.pending.includes('"')
          ? `record longer than ${this.opts.maxRecordLength} characters: an unclosed quote?`
          : `line longer than ${this.opts.maxRecordLength} characters (--max-line-length)`,
        { file: this.opts.file, line: this.line },
      );
    }
    return out;
  }

  /** Parses what is left once the input has ended (a last line without a line break). */
  end(): ParsedRow[] {
    const out: ParsedRow[] = [];
    if (this.pending !== '') {
      const text = this.pending;
      this.pending = '';
      const end = this.scan(text, out, true);
      if (end < text.length) {
        throw new PbError('PB_PARSE', 'unclosed quote at the end of the file', {
          file: this.opts.file,
          line: this.line,
        });
      }
    }
    return out;
  }

  /** Returns how far it got: the start of the first incomplete record. */
  private scan(text: string, out: ParsedRow[], final: boolean): number {
    const delim = this.delim;
    let pos = 0;
    const n = text.length;
    // Next quote at or after pos, found once and reused: searching from every
    // line start would rescan a quote-free chunk once per line.
    let nextQuote = delim === null ? n : -1;
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nl === -1) {
        if (!final) return pos;
        nl = n;
      }
      const lineEnd = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      if (nextQuote !== n && nextQuote < pos) {
        nextQuote = text.indexOf('"', pos);
        if (nextQuote === -1) nextQuote = n;
      }
      if (nextQuote >= lineEnd) {
        const s = text.slice(pos, lineEnd);
        if (isBlank(s)) this.blankLines++;
        else if (s.length > this.opts.maxRecordLength) {
          throw new PbError(
            'PB_PARSE',
            `line longer than ${this.opts.maxRecordLength} characters (--max-line-length)`,
            {
              file: this.opts.file,
              line: this.line,
            },
          );
        } else if (delim === null) out.push({ line: this.line, fields: [s], count: 1 });
        else if (this.keep === Number.POSITIVE_INFINITY) {
          const fields = s.split(delim);
          out.push({ line: this.line, fields, count: fields.length });
        } else out.push(this.project(s, delim));
        this.line++;
        pos = nl + 1;
        continue;
      }
      const r = this.quoted(text, pos, final);
      if (r === null) return pos;
      out.push(r.row);
      this.line += 1 + r.breaks;
      pos = r.next;
    }
    return n;
  }

  private project(s: string, delim: string): ParsedRow {
    const fields: string[] = [];
    const keep = this.keep;
    let count = 0;
    let p = 0;
    for (;;) {
      const c = s.indexOf(delim, p);
      if (c === -1) {
        if (count < keep) fields.push(s.slice(p));
        count++;
        break;
      }
      if (count < keep) fields.push(s.slice(p, c));
      count++;
      p = c + 1;
    }
    return { line: this.line, fields, count, text: s };
  }

  /** Parses one record that has a quote somewhere; null when it runs past the text (needs more input). */
  private quoted(
    text: string,
    start: number,
    final: boolean,
  ): { row: ParsedRow; next: number; breaks: number } | null {
    const delim = this.delim as string;
    const dc = delim.charCodeAt(0);
    const n = text.length;
    const fields: string[] = [];
    let problem: string | undefined;
    let breaks = 0;
    let i = start;
    for (;;) {
      // One field starting at i.
      if (i < n && text.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        let j = from;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q === -1) return null;
          if (q + 1 >= n && !final) return null;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(from, q + 1);
            j = q + 2;
            from = j;
            continue;
          }
          value += text.slice(from, q);
          i = q + 1;
          break;
        }
        for (let k = value.indexOf('\n'); k !== -1; k = value.indexOf('\n', k + 1)) breaks++;
        // After the closing quote: a delimiter, a line end, or (malformed) more text up to one.
        let k = i;
        while (k < n && text.charCodeAt(k) !== dc && text.charCodeAt(k) !== LF) k++;
        if (k === n && !final) return null;
        let tail = text.slice(i, k);
        if (tail.endsWith('\r') && text.charCodeAt(k) === LF) tail = tail.slice(0, -1);
        if (tail !== '') {
          problem ??= `text after the closing quote of field ${fields.length + 1}`;
          value += tail;
        }
        fields.push(value);
        i = k;
      } else {
        let k = i;
        while (k < n && text.charCodeAt(k) !== dc && text.charCodeAt(k) !== LF) k++;
        if (k === n && !final) return null;
        let v = text.slice(i, k);
        if (text.charCodeAt(k) === LF && v.endsWith('\r')) v = v.slice(0, -1);
        fields.push(v);
        i = k;
      }
      if (i >= n) return { row: { line: this.line, fields, count: fields.length, problem }, next: n, breaks };
      if (text.charCodeAt(i) === LF)
        return { row: { line: this.line, fields, count: fields.length, problem }, next: i + 1, breaks };
      i++; // the delimiter
      if (i >= n) {
        if (!final) return null;
        fields.push('');
        return { row: { line: this.line, fields, count: fields.length, problem }, next: n, breaks };
      }
    }
  }
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== CR) return false;
  }
  return true;
}
