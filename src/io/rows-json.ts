import { StringDecoder } from 'node:string_decoder';
import { Utf8Check } from '../core/encoding.js';
import { ConcatenatedJson, type OutItem, parseJsonExact } from '../core/json-values.js';
import type { OptionNames } from '../core/sniff.js';
import { PbError } from '../errors.js';
import { notUtf8 } from './not-utf8.js';
import type { Row, RowShape } from './rows-source.js';

const LF = 10;

/** Rows of JSON that is not JSON Lines: values cut out by ConcatenatedJson, each with its line. */
export async function* jsonBatches(
  file: string,
  chunks: AsyncIterable<Buffer>,
  rs: RowShape,
  maxLineLength: number,
  names: OptionNames,
  source: AsyncIterator<Buffer>,
  firstLine: number,
): AsyncGenerator<Row[]> {
  const decoder = new StringDecoder('utf8');
  const check = new Utf8Check();
  const concat = new ConcatenatedJson({ pieceSize: 1 << 20, maxLineLength, unwrapArray: true, firstLine });
  let lines = firstLine;
  let rows: Row[] = [];
  const take = (x: OutItem) => {
    if (x.kind === 'bad') {
      // The reader goes on after a bad value only with --on-invalid skip; the reason says what was bad.
      const reason = x.reason.replace(/; skipped to the next line that starts with \{$/, '');
      rows.push({
        line: x.line ?? lines,
        values: { $raw: x.text },
        error: new PbError('PB_INVALID_RECORD', reason, { file, line: x.line ?? lines }),
      });
      return;
    }
    let at = 0;
    x.lineNumbers?.forEach((line) => {
      const end = x.bytes.indexOf(LF, at);
      rows.push(jsonRow(file, line, x.bytes.toString('utf8', at, end), rs.plain, false));
      at = end + 1;
    });
  };
  try {
    for await (const chunk of chunks) {
      const bad = check.push(chunk);
      if (bad >= 0) throw notUtf8(file, chunk, bad, lines, names, { utf8Before: check.nonAscii });
      for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) lines++;
      concat.push(decoder.write(chunk), take);
      if (rows.length > 0) {
        yield rows;
        rows = [];
      }
    }
    concat.push(decoder.end(), take);
    concat.end(take);
    if (rows.length > 0) yield rows;
  } finally {
    await source.return?.();
  }
}

/** One JSON value as a row: an object by key, or (a JSON array of ids) a plain id. */
export function jsonRow(file: string, line: number, text: string, plainIds: boolean, lines = true): Row {
  let value: unknown;
  try {
    value = parseJsonExact(text);
  } catch (err) {
    return {
      line,
      values: { $raw: text },
      error: new PbError('PB_INVALID_RECORD', `not valid JSON (${(err as Error).message})`, { file, line }),
    };
  }
  if (plainIds && (typeof value === 'string' || typeof value === 'number')) {
    // A number is the id as printed: JSON.parse has rounded 12345678901234567890 already.
    // An integer as printed (past 2^53 too); any other number as JavaScript writes it (1e3 is 1000).
    const id =
      typeof value === 'number' ? (/^-?\d+$/.test(text.trim()) ? text.trim() : String(value)) : value;
    return { line, values: [id] };
  }
  if (!isObject(value)) {
    return {
      line,
      values: { $raw: text },
      error: new PbError(
        'PB_INVALID_RECORD',
        plainIds
          ? 'expected an id (a string or number) like the first value'
          : lines
            ? 'expected one JSON object per line'
            : 'expected a JSON object',
        { file, line },
      ),
    };
  }
  const row: Row = { line, values: value as Record<string, unknown> };
  if (NOT_AS_WRITTEN.test(text)) row.numbers = topLevelNumbers(text);
  return row;
}

/**
 * A number JavaScript would write otherwise: a fraction ending in 0, an exponent, -0, or more
 * digits than a double keeps. It may match inside a string too: topLevelNumbers then finds none.
 */
const NOT_AS_WRITTEN = /\d\.\d*0(?![\d.])|\d[eE]|-0(?![\d.])|\d{16}/;

/** The top-level numbers of a JSON object's text as written, by key (the text is valid JSON). */
export function topLevelNumbers(text: string): Map<string, string> {
  const numbers = new Map<string, string>();
  let depth = 0;
  let key: string | undefined;
  let afterColon = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && !afterColon) key = JSON.parse(text.slice(i, j + 1)) as string;
      i = j;
      afterColon = false;
    } else if (c === '{' || c === '[') {
      depth++;
      afterColon = false;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ':') afterColon = depth === 1;
    else if (c === ',') afterColon = false;
    else if (afterColon && (c === '-' || (c >= '0' && c <= '9'))) {
      let j = i + 1;
      while (j < text.length && /[-+0-9.eE]/.test(text[j] as string)) j++;
      if (key !== undefined) numbers.set(key, text.slice(i, j));
      i = j - 1;
      afterColon = false;
    }
  }
  return numbers;
}

export function isObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
