import { cellValue } from '../../../core/delta.js';
import { docKindOf } from '../../../core/doc-kind.js';
import { RecordSplitter } from '../../../core/lines.js';
import { peekHead } from '../../../io/doc-kind.js';
import { openSource } from '../../../io/input.js';
import type { ResolvedExportOptions } from '../options.js';
import { partsOf } from './prev.js';

/**
 * REMOVED's columns of keys the users file no longer has, from PREV when
 * PREV is an export written with them (csv-long, csv-wide or jsonl, its
 * parts, `.gz`): a contact the CRM deleted leaves the sync's REMOVED
 * (`--users-required`), and the tool that must drop it (Mailchimp) knows it
 * by its e-mail address, which only last week's export still holds.
 * Columns are matched by name as the export names them (so PREV written
 * with the same --rename); one PREV lacks stays empty. The first row of a
 * key wins, as in the users file. Adds to `found`; stops reading once every
 * key is found. `.out` PREV holds no such column: nothing is read.
 */
export async function prevColumns(
  prev: string,
  columns: readonly string[],
  keys: ReadonlySet<string>,
  found: Map<string, string[]>,
  o: Pick<ResolvedExportOptions, 'escapeFormulas' | 'maxLineLength'>,
): Promise<void> {
  for (const file of (await partsOf(prev)) ?? [prev]) {
    if (found.size >= keys.size) return;
    const head = await peekHead(file).catch(() => undefined);
    const kind = head === undefined ? undefined : docKindOf(head);
    if (kind === 'text') await eachRecord(file, ',', o.maxLineLength, csvRows(columns, keys, found, o));
    else if (kind === 'batch-input')
      await eachRecord(file, null, o.maxLineLength, jsonlRows(columns, keys, found));
    else return;
  }
}

/** Each record's fields, CSV (`,`) or lines (null), until `take` says it has all it wants. */
async function eachRecord(
  file: string,
  delimiter: ',' | null,
  maxRecordLength: number,
  take: (fields: string[]) => boolean,
): Promise<void> {
  const splitter = new RecordSplitter({ delimiter, maxRecordLength, file });
  // PREV was read as UTF-8 already; the BOM an export may start with is dropped here.
  const decoder = new TextDecoder('utf-8');
  const all = (rows: { fields: string[] }[]) => rows.some((r) => take(r.fields));
  for await (const chunk of openSource(file)) {
    if (all(splitter.push(decoder.decode(chunk, { stream: true })))) return;
  }
  if (all(splitter.push(decoder.decode()))) return;
  all(splitter.end());
}

/** A CSV export's rows: its header names the columns; true once every key is found (or none is there). */
function csvRows(
  columns: readonly string[],
  keys: ReadonlySet<string>,
  found: Map<string, string[]>,
  o: Pick<ResolvedExportOptions, 'escapeFormulas'>,
): (fields: string[]) => boolean {
  let at: number[] | undefined;
  return (fields) => {
    if (!at) {
      at = columns.map((c) => fields.indexOf(c));
      return at.every((i) => i < 0);
    }
    const key = cellValue(fields[0] ?? '', o.escapeFormulas);
    if (!keys.has(key) || found.has(key)) return false;
    found.set(
      key,
      at.map((i) => (i < 0 ? '' : cellValue(fields[i] ?? '', o.escapeFormulas))),
    );
    return found.size >= keys.size;
  };
}

/** A jsonl export's records: the key first, the columns as fields; true once every key is found. */
function jsonlRows(
  columns: readonly string[],
  keys: ReadonlySet<string>,
  found: Map<string, string[]>,
): (fields: string[]) => boolean {
  return (fields) => {
    const text = (fields[0] ?? '').trim();
    if (text === '') return false;
    const rec = JSON.parse(text) as Record<string, unknown>;
    const key = rec[Object.keys(rec)[0] ?? ''];
    if (typeof key !== 'string' || !keys.has(key) || found.has(key)) return false;
    found.set(
      key,
      columns.map((c) => (rec[c] === undefined || rec[c] === null ? '' : String(rec[c]))),
    );
    return found.size >= keys.size;
  };
}
