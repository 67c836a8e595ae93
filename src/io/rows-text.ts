import { StringDecoder } from 'node:string_decoder';
import { Utf8Check } from '../core/encoding.js';
import type { ParsedRow, RecordSplitter } from '../core/lines.js';
import { fieldsFit, type OptionNames } from '../core/sniff.js';
import { PbError } from '../errors.js';
import { notUtf8 } from './not-utf8.js';
import { jsonRow } from './rows-json.js';
import type { Row, RowShape } from './rows-source.js';

/** Rows of plain text, CSV/TSV and JSON Lines: decoded, split, checked. */
export async function* textBatches(
  file: string,
  chunks: AsyncIterable<Buffer>,
  rs: RowShape,
  splitter: RecordSplitter,
  headerRecords: number,
  crOnly: boolean,
  names: OptionNames,
  source: AsyncIterator<Buffer>,
): AsyncGenerator<Row[]> {
  const decoder = new StringDecoder('utf8');
  const check = new Utf8Check();
  let skip = headerRecords;
  const emit = (parsed: ParsedRow[]): Row[] => {
    while (skip > 0 && parsed.length > 0) {
      parsed.shift();
      skip--;
    }
    return toRows(parsed, rs, file);
  };
  try {
    for await (const chunk of chunks) {
      const bad = check.push(chunk);
      if (bad >= 0)
        throw notUtf8(file, chunk, bad, splitter.nextLine + splitter.pendingLines, names, {
          utf8Before: check.nonAscii,
          crOnly,
        });
      let text = decoder.write(chunk);
      if (crOnly) text = text.replace(/\r/g, '\n');
      const rows = emit(splitter.push(text));
      if (rows.length > 0) yield rows;
    }
    if (check.truncated) {
      throw new PbError('PB_PARSE', 'not UTF-8: the file ends inside a character (cut off?)', {
        file,
        line: splitter.nextLine + splitter.pendingLines,
      });
    }
    let tail = decoder.end();
    if (crOnly) tail = tail.replace(/\r/g, '\n');
    const rows = emit([...splitter.push(tail), ...splitter.end()]);
    if (rows.length > 0) yield rows;
  } finally {
    await source.return?.();
  }
}

/** Parsed records to rows: JSON parsed, field counts checked against the header. */
export function toRows(batch: readonly ParsedRow[], rs: RowShape, file: string): Row[] {
  const rows: Row[] = new Array(batch.length);
  const checkWidth = rs.format === 'csv' || rs.format === 'tsv';
  for (let i = 0; i < batch.length; i++) {
    const p = batch[i] as ParsedRow;
    if (rs.format === 'jsonl') {
      rows[i] = jsonRow(file, p.line, p.fields[0] as string, false);
      continue;
    }
    const row: Row = { line: p.line, values: p.fields };
    if (p.text !== undefined) row.text = p.text;
    if (p.problem) row.error = new PbError('PB_INVALID_RECORD', p.problem, { file, line: p.line });
    else if (rs.header !== null && headerAgain(p, rs)) {
      row.error = new PbError(
        'PB_INVALID_RECORD',
        'repeats the header (files joined with cat?); pass each file as its own source',
        { file, line: p.line },
      );
    } else if (
      checkWidth &&
      p.count !== rs.shape.count &&
      !fieldsFit(rs.shape, p.count, () => extraEmpty(p, rs))
    ) {
      row.error = new PbError(
        'PB_INVALID_RECORD',
        `expected ${rs.shape.count} fields as in the header, got ${p.count}`,
        { file, line: p.line },
      );
    }
    rows[i] = row;
  }
  return rows;
}

/** Whether a record holds the header's names again (as two exports joined with cat do). */
function headerAgain(p: ParsedRow, rs: RowShape): boolean {
  const header = rs.header as readonly string[];
  if (p.count !== header.length || (p.fields[0] ?? '').trim() !== header[0]) return false;
  const fields =
    p.fields.length < p.count && p.text !== undefined ? p.text.split(rs.delimiter as string) : p.fields;
  return header.every((h, i) => (fields[i] ?? '').trim() === h);
}

/** Whether the fields past the header's are all empty (a projected row keeps its text for this). */
function extraEmpty(p: ParsedRow, rs: RowShape): boolean {
  const n = rs.shape.count;
  if (p.text === undefined || p.fields.length >= p.count)
    return p.fields.slice(n).every((f) => f.trim() === '');
  const cells = p.text.split(rs.delimiter as string);
  return cells.slice(n).every((f) => f.trim() === '');
}
