import { hashBytes } from '../core/byteset.js';
import { RecordSplitter } from '../core/lines.js';
import { PbError } from '../errors.js';
import type { Deduper } from './dedupe.js';
import { type Format, type Row, toRows } from './rows.js';

/**
 * The byte-level path for the most common job: one id column of a CSV, TSV
 * or plain-text list, no filters, into `{"userId":"..."}` lines. It finds
 * the column with Buffer.indexOf and writes output bytes directly, never
 * decoding the input into strings. A line it cannot handle byte-wise (a
 * quote anywhere in its chunk, an id outside printable ASCII or needing JSON
 * escapes, a bad field count, an empty or over-long id) is handed to the
 * general path as a Row, so results and errors are the same either way;
 * test/fastpath.test.ts holds the two paths equal.
 */

export interface FastPlan {
  file: string;
  format: Format;
  /** Index of the id column. */
  column: number;
  /** Fields per line (the header width). */
  width: number;
  field: 'userId' | 'itemId';
  maxLineLength: number;
}

export interface FastCounts {
  recordsRead: number;
  written: number;
  blankLines: number;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const MAX_ID = 256;

/** Whether the fast path can serve this source and these options. */
export function fastPathApplies(format: Format, simpleHeader: boolean, crOnly: boolean): boolean {
  return format !== 'jsonl' && simpleHeader && !crOnly;
}

/**
 * Yields output chunks (Buffers from the fast path, strings from `slow`).
 * `slow` runs the general per-row logic (build, validate, dedupe, rejects).
 */
export async function* fastLines(
  raw: AsyncIterable<Buffer>,
  plan: FastPlan,
  dedupe: Deduper | undefined,
  counts: FastCounts,
  slow: (rows: Row[]) => Promise<string>,
): AsyncGenerator<Buffer | string> {
  const delimChar = plan.format === 'csv' ? ',' : plan.format === 'tsv' ? '\t' : null;
  const delim = delimChar === null ? -1 : delimChar.charCodeAt(0);
  const col = plan.column;
  const width = plan.width;
  const prefix = Buffer.from(`{"${plan.field}":"`);
  const suffix = Buffer.from('"}\n');
  const splitter = new RecordSplitter({
    delimiter: delimChar,
    maxRecordLength: plan.maxLineLength,
    file: plan.file,
  });
  splitter.keepFields(col + 1);
  let skipHeader = plan.format === 'csv' || plan.format === 'tsv';
  let line = 1;
  let carry: Buffer | undefined;
  let first = true;
  let out = Buffer.allocUnsafe(256 * 1024);

  // Whole lines of text through the general path (quotes can span lines).
  const viaSplitter = async (seg: Buffer, final: boolean): Promise<string> => {
    splitter.nextLine = line;
    const before = splitter.blankLines;
    const parsed = splitter.push(seg.toString('utf8'));
    if (final) parsed.push(...splitter.end());
    counts.blankLines += splitter.blankLines - before;
    line = splitter.nextLine;
    if (skipHeader && parsed.length > 0) {
      parsed.shift();
      skipHeader = false;
    }
    counts.recordsRead += parsed.length;
    return parsed.length > 0 ? slow(toRows(parsed, plan.format, width, plan.file)) : '';
  };

  async function* segment(seg: Buffer, final: boolean): AsyncGenerator<Buffer | string> {
    if (splitter.hasPending || seg.indexOf(QUOTE) !== -1) {
      const text = await viaSplitter(seg, final);
      if (text !== '') yield text;
      return;
    }
    if (out.length < seg.length + 4096) out = Buffer.allocUnsafe(Math.max(out.length * 2, seg.length + 4096));
    let at = 0;
    const n = seg.length;
    let p = 0;
    while (p < n) {
      // One pass over the line's bytes finds its end and the id column: a
      // JS loop over a Uint8Array beats a Buffer.indexOf call per field.
      const start = p;
      let f = 0;
      let fs = start;
      let fe = -1;
      let i = start;
      for (; i < n; i++) {
        const c = seg[i] as number;
        if (c === LF) break;
        if (c === delim) {
          if (f === col) fe = i;
          f++;
          if (f === col) fs = i + 1;
        }
      }
      const nl = i;
      let end = nl;
      if (end > start && seg[end - 1] === CR) end--;
      if (fe === -1) fe = f === col ? end : fs;
      const count = f + 1;
      const lineNo = line++;
      p = nl + 1;
      let b = start;
      while (b < end && (seg[b] === SPACE || seg[b] === TAB || seg[b] === CR)) b++;
      if (b === end) {
        counts.blankLines++;
        continue;
      }
      if (end - start > plan.maxLineLength) {
        throw new PbError(
          'PB_PARSE',
          `line longer than ${plan.maxLineLength} characters (--max-line-length)`,
          {
            file: plan.file,
            line: lineNo,
          },
        );
      }
      if (skipHeader) {
        skipHeader = false;
        continue;
      }
      counts.recordsRead++;
      // Trim ASCII blanks; anything else unusual goes the general way.
      while (fs < fe && (seg[fs] === SPACE || seg[fs] === TAB)) fs++;
      while (fe > fs && (seg[fe - 1] === SPACE || seg[fe - 1] === TAB)) fe--;
      let plain = count === width && fe > fs && fe - fs <= MAX_ID;
      for (let i = fs; plain && i < fe; i++) {
        const c = seg[i] as number;
        if (c < SPACE || c > 126 || c === QUOTE || c === BACKSLASH) plain = false;
      }
      if (!plain) {
        // In place, so the output keeps the input order.
        const text = seg.toString('utf8', start, end);
        const fields = delimChar === null ? [text] : text.split(delimChar);
        const lines = await slow(
          toRows([{ line: lineNo, fields, count: fields.length }], plan.format, width, plan.file),
        );
        if (lines !== '') {
          ensure(at, Buffer.byteLength(lines));
          at += out.write(lines, at);
        }
        continue;
      }
      const len = prefix.length + (fe - fs) + suffix.length;
      ensure(at, len);
      // Byte loops: Buffer.copy's argument checks cost more than these few bytes.
      let o = at;
      for (let k = 0; k < prefix.length; k++) out[o++] = prefix[k] as number;
      for (let k = fs; k < fe; k++) out[o++] = seg[k] as number;
      for (let k = 0; k < suffix.length; k++) out[o++] = suffix[k] as number;
      if (dedupe) {
        let keep = dedupe.add(seg, fs, fe, hashBytes(seg, fs, fe), out, at, at + len - 1);
        if (typeof keep !== 'boolean') keep = await keep;
        if (!keep) continue;
      }
      at += len;
      counts.written++;
    }
    // Hand the filled part over and start a new buffer: the chunk may still
    // be queued for writing while the next segment is parsed.
    if (at > 0) {
      const done = out.subarray(0, at);
      out = Buffer.allocUnsafe(out.length);
      yield done;
    }
  }

  function ensure(at: number, len: number): void {
    if (at + len <= out.length) return;
    const bigger = Buffer.allocUnsafe(out.length * 2 + len);
    out.copy(bigger, 0, 0, at);
    out = bigger;
  }

  for await (const chunk of raw) {
    let buf = chunk;
    if (carry) {
      // Join only the partial line with the start of the chunk, not the whole
      // chunk: concatenating every 256 KiB chunk copied the input once more.
      const firstNl = first ? -1 : chunk.indexOf(LF);
      if (firstNl === -1) buf = Buffer.concat([carry, chunk]);
      else {
        carry = Buffer.concat([carry, chunk.subarray(0, firstNl + 1)]);
        yield* segment(carry, false);
        carry = undefined;
        buf = chunk.subarray(firstNl + 1);
      }
    }
    if (first) {
      // The BOM may come split over tiny chunks (stdin): look once 3 bytes are in.
      if (buf.length < 3) {
        carry = Buffer.from(buf);
        continue;
      }
      first = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    const last = buf.lastIndexOf(LF);
    if (last === -1) {
      carry = Buffer.from(buf);
      if (carry.length > plan.maxLineLength && !splitter.hasPending) {
        throw new PbError(
          'PB_PARSE',
          `line longer than ${plan.maxLineLength} characters (--max-line-length)`,
          {
            file: plan.file,
            line,
          },
        );
      }
      continue;
    }
    carry = last + 1 < buf.length ? Buffer.from(buf.subarray(last + 1)) : undefined;
    yield* segment(buf.subarray(0, last + 1), false);
  }
  yield* segment(carry ?? Buffer.alloc(0), true);
}
