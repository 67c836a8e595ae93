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
  return { line, values: value as Record<string, unknown> };
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
