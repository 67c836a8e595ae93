import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { csvCell, csvCellCut } from '../../../core/csv-cell.js';
import { cellValue } from '../../../core/delta.js';
import { RecordSplitter } from '../../../core/lines.js';
import { userColumnNames } from '../../../core/out/layout.js';
import { UTF8_BOM } from '../../../core/sniff-bytes.js';
import { count } from '../../../core/units.js';
import { writeOutput } from '../../../io/output.js';
import { checkUsers, eachUserRow } from '../catalog.js';
import type { ResolvedExportOptions } from '../options.js';
import type { ExportSummary } from '../summary.js';
import type { ResolvedSince } from './options.js';
import { prevColumns } from './prev-columns.js';

/** REMOVED's line end: the export's (--line-ending). */
export function removedEol(o: ResolvedExportOptions): string {
  return o.crlf ? '\r\n' : '\n';
}

/** REMOVED's header: the key column under the name the export gave it (--rename userId=external_id: external_id). */
export function removedHeader(key: string, o: ResolvedExportOptions): string {
  return `${csvCell(o.rename?.[key] ?? key, false)}${removedEol(o)}`;
}

/** REMOVED: the header, then each key as a CSV cell, 64 KiB or so at a time. */
export async function* removedKeyLines(
  header: string,
  keys: Iterable<string>,
  o: ResolvedExportOptions,
): AsyncGenerator<string> {
  yield header;
  const eol = removedEol(o);
  let chunk = '';
  for (const key of keys) {
    chunk += `${csvCell(key, o.escapeFormulas)}${eol}`;
    if (chunk.length >= 65536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** What the users file gave REMOVED: its keys without a row there, and how many of those PREV had the columns of. */
export interface RemovedUsers {
  missing: number;
  /** Of the missing keys, those whose columns came from PREV (an export written with them); the rest are empty. */
  fromPrev: number;
  /** The users file's columns added to REMOVED, as its header names them (after --rename). */
  columns: string[];
}

/**
 * Writes REMOVED (its header and key cells in `lines`), with `--users` the
 * users file's columns joined (removedWithUsers); a warning in `summary`
 * for removed keys the file lacks.
 */
export async function writeRemoved(
  d: ResolvedSince,
  o: ResolvedExportOptions,
  stdout: Writable | undefined,
  lines: AsyncIterable<Buffer | string>,
  summary: ExportSummary,
  dir: string,
): Promise<RemovedUsers | undefined> {
  // With --users, REMOVED names the gone users as the users file does (their e-mail address, say).
  const users: RemovedUsers | undefined = o.users ? { missing: 0, fromPrev: 0, columns: [] } : undefined;
  await writeOutput(
    d.removed,
    stdout,
    withBom(o, users ? removedWithUsers(lines, o, summary.columns, dir, users, d.since) : lines),
  );
  if (users && users.missing > 0) summary.warnings.push(missingWarning(users, d, o));
  return users;
}

function missingWarning(users: RemovedUsers, d: ResolvedSince, o: ResolvedExportOptions): string {
  const { missing, fromPrev } = users;
  const what = `${count(missing, 'removed key')} ${missing === 1 ? 'is' : 'are'} not in the users file (${o.users})`;
  if (fromPrev === 0) return `${what}: ${missing === 1 ? 'its' : 'their'} columns in ${d.removed} are empty`;
  if (fromPrev === missing)
    return `${what}: ${missing === 1 ? 'its' : 'their'} columns in ${d.removed} are PREV's (${d.since})`;
  return `${what}: in ${d.removed}, ${fromPrev} with PREV's columns (${d.since}), ${missing - fromPrev} with empty ones`;
}

/** REMOVED's bytes: with --bom the BOM first, as the export's files start, so that Excel reads its names (Zoë) as it reads theirs. */
export async function* withBom(
  o: ResolvedExportOptions,
  lines: AsyncIterable<Buffer | string>,
): AsyncGenerator<Buffer | string> {
  if (o.bom) yield UTF8_BOM;
  yield* lines;
}

/** Per key and per value held in a round: a string's UTF-16 bytes plus a Map entry's and an array's overhead. */
const ENTRY_BYTES = 96;

/**
 * REMOVED with the users file's columns (`--since` with `--users`): the
 * users gone since PREV by their e-mail address and name too, not only by
 * their key, for tools that unsubscribe by address (Mailchimp) and for
 * anyone reading the file. REMOVED's lines (a header, then one key cell a
 * line, in REMOVED's order) are spooled to `dir`, then read back in rounds
 * of keys that fit a quarter of --memory-budget: each round reads the users file
 * once, for its keys only (the byte path skips the others on sight), and
 * writes its rows in REMOVED's order. The first row of a repeated key wins,
 * as in the export; a key the file lacks keeps empty cells and is counted.
 * Cells are written as the export writes the users' columns: the formula
 * guard and --max-cell-bytes apply. A key cell `'=x` is read back as `=x`
 * with the guard on, as a PREV cell is.
 */
export async function* removedWithUsers(
  lines: AsyncIterable<Buffer | string>,
  o: ResolvedExportOptions,
  exported: readonly string[],
  dir: string,
  out: RemovedUsers,
  /** PREV, for the columns of keys the users file lacks. */
  prev: string,
): AsyncGenerator<string> {
  const spooled = join(dir, 'removed-keys.csv');
  await pipeline(Readable.from(lines), createWriteStream(spooled));
  const raw = await checkUsers(o);
  // Named as the export named them: a CSV export's last columns (prefixed on a clash, renamed), else as in JSON Lines.
  out.columns =
    exported.length >= raw.length
      ? exported.slice(-raw.length)
      : userColumnNames(raw, ['userId', 'theme', 'items']);
  let header = true;
  let round: string[] = [];
  let bytes = 0;
  for await (const cell of spooledCells(spooled)) {
    if (header) {
      header = false;
      yield `${[cell, ...out.columns].map((n) => csvCell(n, false)).join(',')}${removedEol(o)}`;
      continue;
    }
    round.push(cell);
    bytes += 2 * cell.length + ENTRY_BYTES;
    if (bytes >= o.memoryBudget / 4) {
      yield await joinRound(round, o, out, prev);
      round = [];
      bytes = 0;
    }
  }
  if (round.length > 0) yield await joinRound(round, o, out, prev);
}

/** One round: the users file read for these keys, then their REMOVED rows. */
async function joinRound(
  cells: string[],
  o: ResolvedExportOptions,
  out: RemovedUsers,
  prev: string,
): Promise<string> {
  const keys = new Set(cells.map((c) => cellValue(c, o.escapeFormulas)));
  const found = new Map<string, string[]>();
  await eachUserRow(
    o,
    (key, values) => {
      if (!found.has(key)) found.set(key, values);
      return undefined;
    },
    (buf, s, e) => keys.has(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('utf8')),
  );
  // A key the file lacks (a contact the CRM deleted): its columns as PREV wrote them, when it did.
  const lacking = new Set([...keys].filter((k) => !found.has(k)));
  const before = new Map<string, string[]>();
  if (lacking.size > 0) await prevColumns(prev, out.columns, lacking, before, o);
  let text = '';
  for (const cell of cells) {
    const key = cellValue(cell, o.escapeFormulas);
    let values = found.get(key);
    if (!values) {
      out.missing++;
      values = before.get(key);
      if (values) out.fromPrev++;
    }
    const rest = values
      ? values.map((v) => csvCellCut(v, o.escapeFormulas, o.maxCellBytes).cell)
      : out.columns.map(() => '');
    text += `${[csvCell(cell, false), ...rest].join(',')}${removedEol(o)}`;
  }
  return text;
}

/** REMOVED's spooled rows' cells (the header's, then each key's) as written, quoting undone (a formula guard kept). */
async function* spooledCells(path: string): AsyncGenerator<string> {
  const split = new RecordSplitter({ delimiter: ',', maxRecordLength: 1 << 20, file: path });
  const decoder = new StringDecoder('utf8');
  for await (const chunk of createReadStream(path)) {
    for (const r of split.push(decoder.write(chunk as Buffer))) yield r.fields[0] ?? '';
  }
  for (const r of split.push(decoder.end())) yield r.fields[0] ?? '';
  for (const r of split.end()) yield r.fields[0] ?? '';
}
