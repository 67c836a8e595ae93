import { type ParsedRow, RecordSplitter } from '../core/lines.js';
import { type FieldShape, shapeOf } from '../core/sniff.js';
import { PbError } from '../errors.js';
import type { Decision } from './rows-format.js';
import { isObject, jsonRow, parseJson } from './rows-json.js';
import type { RowOptions } from './rows-source.js';

/** A source's columns as its sample names them, and the records before the data. */
export interface HeaderInfo {
  /** The header (numbered for --no-header), or the keys of the first JSON object; null for plain text. */
  header: string[] | null;
  /** The header record was one line without quotes (a precondition of the byte fast path). */
  simpleHeader: boolean;
  /** Rows are objects read by key. */
  keyed: boolean;
  /** Records before the data: the header, and Excel's `sep=` line before it. */
  headerRecords: number;
  shape: FieldShape;
}

/** The header (or first object's keys) of a sample whose format is decided. */
export function headerOf(
  file: string,
  text: string,
  ended: boolean,
  d: Decision,
  opts: RowOptions,
  firstValue: () => unknown,
): HeaderInfo {
  const { format, delimiter } = d;
  let header: string[] | null = null;
  let simpleHeader = true;
  let keyed = format === 'jsonl';
  if (format === 'csv' || format === 'tsv') {
    const probe = new RecordSplitter({ delimiter, maxRecordLength: Number.MAX_SAFE_INTEGER, file });
    const rows = ended ? [...probe.push(text), ...safeEnd(probe)] : probe.push(text);
    const first = rows[d.sepLine ? 1 : 0];
    header = first ? first.fields.map((x) => x.trim()) : [];
    // No header: the first line is data, and columns go by number (1, 2, ...).
    if (opts.header === false) header = header.map((_, i) => String(i + 1));
    const firstLineText = text.split('\n').find((l) => l.trim() !== '') ?? '';
    simpleHeader =
      first !== undefined &&
      !d.sepLine &&
      !first.fields.some((f) => /["\r\n]/.test(f)) &&
      !firstLineText.includes('"');
  } else if (format === 'jsonl') {
    // The first line that is an object names the usual columns; a broken first line is left for the row loop.
    const probe = new RecordSplitter({ delimiter: null, maxRecordLength: Number.MAX_SAFE_INTEGER, file });
    const rows = ended ? [...probe.push(text), ...safeEnd(probe)] : probe.push(text);
    const obj = rows.map((p) => parseJson(p.fields[0] as string)).find((v) => isObject(v));
    header = obj ? Object.keys(obj as object) : [];
    const first = rows[0];
    if (!obj && first) {
      // Not one line of the first ones is an object: say why the first is not, rather than look for columns.
      const bad = jsonRow(file, first.line, first.fields[0] as string, false);
      throw new PbError(
        'PB_PARSE',
        `not JSON Lines: ${bad.error?.reason ?? 'not an object'}; JSON Lines hold one object per line, with nothing after it`,
        { file, line: first.line },
      );
    }
  } else if (format === 'json') {
    const first = firstValue();
    keyed = isObject(first) || first === undefined;
    header = keyed ? (isObject(first) ? Object.keys(first as object) : []) : null;
  }
  const headerRecords = header !== null && !keyed ? (d.sepLine ? 1 : 0) + (opts.header === false ? 0 : 1) : 0;
  const shape = shapeOf(header && !keyed ? header : ['(line)']);
  return { header, simpleHeader, keyed, headerRecords, shape };
}

function safeEnd(s: RecordSplitter): ParsedRow[] {
  try {
    return s.end();
  } catch {
    return [];
  }
}
