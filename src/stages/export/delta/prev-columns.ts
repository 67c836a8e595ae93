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
    if (kind === 'text') await fromCsv(file, columns, keys, found, o);
    else if (kind === 'batch-input') await fromJsonl(file, columns, keys, found, o);
    else return;
  }
}

async function fromCsv(
  file: string,
  columns: readonly string[],
  keys: ReadonlySet<string>,
  found: Map<string, string[]>,
  o: Pick<ResolvedExportOptions, 'escapeFormulas' | 'maxLineLength'>,
): Promise<void> {
  const splitter = new RecordSplitter({ delimiter: ',', maxRecordLength: o.maxLineLength, file });
  // PREV was read as UTF-8 already; the BOM an export may start with is dropped here.
  const decoder = new TextDecoder('utf-8');
  let at: number[] | undefined;
  const take = (rows: { fields: string[] }[]): boolean => {
    for (const { fields } of rows) {
      if (!at) {
        at = columns.map((c) => fields.indexOf(c));
        if (at.every((i) => i < 0)) return true;
        continue;
      }
      const key = cellValue(fields[0] ?? '', o.escapeFormulas);
      if (!keys.has(key) || found.has(key)) continue;
      found.set(
        key,
        at.map((i) => (i < 0 ? '' : cellValue(fields[i] ?? '', o.escapeFormulas))),
      );
      if (found.size >= keys.size) return true;
    }
    return false;
  };
  for await (const chunk of openSource(file)) {
    if (take(splitter.push(decoder.decode(chunk, { stream: true })))) return;
  }
  if (take(splitter.push(decoder.decode()))) return;
  take(splitter.end());
}

async function fromJsonl(
  file: string,
  columns: readonly string[],
  keys: ReadonlySet<string>,
  found: Map<string, string[]>,
  o: Pick<ResolvedExportOptions, 'maxLineLength'>,
): Promise<void> {
  const splitter = new RecordSplitter({ delimiter: null, maxRecordLength: o.maxLineLength, file });
  const decoder = new TextDecoder('utf-8');
  const take = (rows: { fields: string[] }[]): boolean => {
    for (const { fields } of rows) {
      const text = (fields[0] ?? '').trim();
      if (text === '') continue;
      const rec = JSON.parse(text) as Record<string, unknown>;
      const key = rec[Object.keys(rec)[0] ?? ''];
      if (typeof key !== 'string' || !keys.has(key) || found.has(key)) continue;
      found.set(
        key,
        columns.map((c) => (rec[c] === undefined || rec[c] === null ? '' : String(rec[c]))),
      );
      if (found.size >= keys.size) return true;
    }
    return false;
  };
  for await (const chunk of openSource(file)) {
    if (take(splitter.push(decoder.decode(chunk, { stream: true })))) return;
  }
  if (take(splitter.push(decoder.decode()))) return;
  take(splitter.end());
}
