import { stat } from 'node:fs/promises';
import {
  type CsvShape,
  canonicalBytes,
  cellValue,
  csvShapeOf,
  describeRecipe,
  MAPPED_RECIPE,
  type Recipe,
  recipeOf,
  sameRecipe,
  scoreText,
} from '../../../core/delta.js';
import { docKindOf } from '../../../core/doc-kind.js';
import { partPath } from '../../../core/email-files.js';
import { RecordSplitter } from '../../../core/lines.js';
import {
  KEY_NAMES,
  KEY_NONE,
  type KeyedLine,
  KeyScan,
  type KeyScanLines,
  KIND_SEGMENT,
  LINE_OK,
  type OutKeyField,
  OutLineParser,
} from '../../../core/out-lines.js';
import { PbError, usage } from '../../../errors.js';
import { peekHead } from '../../../io/doc-kind.js';
import { openLinesReusing, openSource, wholeLines } from '../../../io/input.js';
import { expandOutSources } from '../../../io/out-reader.js';
import { isS3Uri } from '../../../io/s3.js';
import { type LineKeys, TYPE_PREV } from './keys.js';

/** What PREV turned out to be. */
export interface PrevRead {
  format: 'out' | 'csv-long' | 'csv-wide' | 'jsonl';
  /** Undefined when PREV holds no key (an empty export). */
  recipe: Recipe | undefined;
  keys: number;
}

/** How PREV is read: the current export's --top, formula guard, longest line and header renames. */
export interface PrevReadOptions {
  top: number;
  escapeFormulas: boolean;
  maxLineLength: number;
  /** The export's --rename (OLD=NEW): a CSV PREV's header is read back through it, NEW as OLD. */
  rename?: Record<string, string>;
}

/** PrevReadOptions taken from the export's options (which hold more): PREV read as this export writes. */
export function prevReadOptions(o: PrevReadOptions): PrevReadOptions {
  return { top: o.top, escapeFormulas: o.escapeFormulas, maxLineLength: o.maxLineLength, rename: o.rename };
}

const TAKES =
  '--since takes a previous export (csv-long, csv-wide or jsonl, as export wrote it; .gz too) or the previous .out files (a file or a folder)';

/**
 * Reads PREV into the partitions, one `P` entry per key with the digest of
 * its ordered ids: its kind by content, never by name. `.out` lines are
 * cut to --top as the current ones are; an export's lists are compared as
 * written.
 */
export async function readPrev(
  prev: string,
  keys: LineKeys,
  o: PrevReadOptions,
  /** A file's bytes (decompressed); the tests cut them into other chunks. */
  open: Open = openDefault,
): Promise<PrevRead> {
  const parts = await partsOf(prev);
  if (parts) {
    const r: PrevRead = { format: 'out', recipe: undefined, keys: 0 };
    for (const part of parts) await readPrevPart(part, keys, o, r, open);
    return r;
  }
  if (await isFolder(prev)) {
    const files = await expandOutSources([prev]);
    if (files.length === 0) throw usage(`--since ${prev}: the folder holds no .out files. ${TAKES}`);
    const r: PrevRead = { format: 'out', recipe: undefined, keys: 0 };
    for (const f of files) await readPrevOut(f, keys, o, r, open);
    return r;
  }
  const r: PrevRead = { format: 'out', recipe: undefined, keys: 0 };
  const head = await peekHead(prev);
  if (head === undefined) throw usage(`--since ${prev}: not a file or folder that can be read. ${TAKES}`);
  const kind = docKindOf(head);
  if (kind === 'out') await readPrevOut(prev, keys, o, r, open);
  else if (kind === 'batch-input') await readPrevJsonl(prev, keys, o, r, open);
  else if (kind === 'text') await readPrevCsv(prev, keys, o, r, open);
  else if (head.length === 0) r.format = 'jsonl';
  else throw usage(`--since ${prev}: this is ${kindName(kind)}, not an export. ${TAKES}`);
  return r;
}

/**
 * The parts an export with --max-file-size wrote for `-o PREV` (PREV-00001.csv, PREV-00002.csv, ...,
 * up to the first number missing), when PREV itself is not there; undefined otherwise.
 */
export async function partsOf(prev: string): Promise<string[] | undefined> {
  if (isS3Uri(prev) || (await exists(prev)) || !(await exists(partPath(prev, 1)))) return undefined;
  const parts: string[] = [];
  while (await exists(partPath(prev, parts.length + 1))) parts.push(partPath(prev, parts.length + 1));
  return parts;
}

/**
 * Refuses a PREV that is one part of an export written in parts
 * (PREV-00001.csv with PREV-00002.csv beside it): read alone, every key of
 * the other parts would count as new and be missing from REMOVED.
 */
export async function checkWholePrev(prev: string): Promise<void> {
  if (isS3Uri(prev)) return;
  const m = /^(.*)-(\d{5,})(\.[^./\\]*)?$/.exec(prev);
  if (!m || !(await exists(prev))) return;
  const whole = `${m[1]}${m[3] ?? ''}`;
  const n = Number(m[2]);
  const other = [partPath(whole, n + 1), n > 1 ? partPath(whole, n - 1) : undefined];
  const beside = (await Promise.all(other.map((f) => (f ? exists(f) : false)))).findIndex(Boolean);
  if (beside >= 0)
    throw usage(
      `--since ${prev}: this is part ${n} of an export written in parts (${other[beside]} is beside it), and the keys of the other parts would all count as new and be missing from REMOVED: give --since ${whole}, which reads every part`,
    );
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** One part of a CSV export: each starts with the header (and the BOM, if asked), the parts' shapes alike. */
async function readPrevPart(part: string, keys: LineKeys, o: PrevReadOptions, r: PrevRead, open: Open) {
  const head = await peekHead(part);
  const kind = head === undefined ? 'unreadable' : docKindOf(head);
  if (kind !== 'text')
    throw usage(
      `--since ${part}: a part of a CSV export was expected, and this is ${kindName(kind)}. ${TAKES}`,
    );
  const before = r.recipe;
  await readPrevCsv(part, keys, o, r, open);
  if (before && r.recipe && !sameRecipe(before, r.recipe))
    throw new PbError(
      'PB_USAGE',
      `--since: this part is ${describeRecipe(r.recipe)}, the parts before ${describeRecipe(before)}: PREV must be one export`,
      { file: part },
    );
}

function kindName(kind: string): string {
  const names: Record<string, string> = {
    manifest: 'a shard manifest (manifest.json)',
    'job-state': "submit's state file",
    pipeline: 'a pipeline file',
    other: 'JSON that is not one object per line',
  };
  return names[kind] ?? kind;
}

async function isFolder(name: string): Promise<boolean> {
  if (isS3Uri(name)) return name.endsWith('/');
  try {
    return (await stat(name)).isDirectory();
  } catch {
    throw usage(`--since ${name}: no such file or folder. ${TAKES}`);
  }
}

export type Open = (file: string) => AsyncIterable<Buffer>;

const openDefault: Open = (file) => openSource(file);

function lines(file: string, maxLineLength: number, open: Open): AsyncGenerator<Buffer> {
  const tooLong = () =>
    new PbError('PB_PARSE', `a line longer than ${maxLineLength} bytes (--max-line-length)`, { file });
  // A local file read into two buffers used in turn (openLinesReusing): through a read stream, a
  // GB of PREV cost its thread about 1 s more (a fresh chunk every 64 KiB, then copied again).
  // 512 KiB reads: a 128 KiB window held some 500 lines, and their grouped
  // writes to 256 partitions cost about as much per window as its lines.
  if (open === openDefault) return openLinesReusing(file, {}, maxLineLength, tooLong, 512 * 1024);
  return wholeLines(open(file), maxLineLength, tooLong);
}

/** Calls fn(start, end, lineNumber) for each line of a piece from `from` (CR of CRLF left out). */
function eachLineOf(
  piece: Buffer,
  first: number,
  fn: (s: number, e: number, line: number) => void,
  from = 0,
): number {
  let line = first;
  let p = from;
  while (p < piece.length) {
    let nl = piece.indexOf(10, p);
    if (nl === -1) nl = piece.length;
    fn(p, nl > p && piece[nl - 1] === 13 ? nl - 1 : nl, line++);
    p = nl + 1;
  }
  return line;
}

function checkRecipe(r: PrevRead, found: Recipe, file: string, line: number): void {
  if (!r.recipe) r.recipe = found;
  else if (!sameRecipe(r.recipe, found))
    throw new PbError(
      'PB_USAGE',
      `--since: this line is ${describeRecipe(found)}, the lines before ${describeRecipe(r.recipe)}: PREV must be one export`,
      { file, line },
    );
}

async function readPrevOut(
  file: string,
  keys: LineKeys,
  o: { top: number; maxLineLength: number },
  r: PrevRead,
  open: Open,
): Promise<void> {
  const parser = new OutLineParser();
  const scan = new KeyScan(keys.scores);
  const batch = keys.lineScanner(o.top);
  // The recipe is checked when a line's key field differs from the line before's (an object a line was not free).
  let field = KEY_NONE;
  let next = 1;
  for await (const piece of lines(file, o.maxLineLength, open)) {
    const waits: Promise<void>[] = [];
    // A UTF-8 BOM before the first line is no part of it (the export's reader drops it too).
    let p = next === 1 && piece[0] === 0xef && piece[1] === 0xbb && piece[2] === 0xbf ? 3 : 0;
    const one = (s: number, e: number, line: number) => {
      // The service's usual lines by the key scan, any other by the parser.
      const got: KeyedLine = scan.scan(piece, s, e) ? scan : parser;
      // PREV's error lines were no recommendations; its invalid lines were never exported.
      if ((got === parser && parser.parse(piece, s, e) !== LINE_OK) || got.keyField === KEY_NONE) return;
      checkRecipe(r, recipeOf(KEY_NAMES[got.keyField] as OutKeyField, got.kind === KIND_SEGMENT), file, line);
      field = KEY_NONE;
      keys.outLine(got, piece, o.top);
      const w = keys.outKey(got, piece, TYPE_PREV, true, line);
      r.keys++;
      if (w) waits.push(w);
    };
    while (p < piece.length) {
      const n = batch ? batch.scan(piece, p, 'checked') : 0;
      if (n === 0) {
        // One line by itself: no batch scan, or the line is longer than its window.
        let nl = piece.indexOf(10, p);
        if (nl === -1) nl = piece.length;
        one(p, nl > p && piece[nl - 1] === 13 ? nl - 1 : nl, next++);
        p = nl + 1;
        continue;
      }
      const ls = batch as KeyScanLines;
      // Runs of accepted lines go to the partitions in one grouped write; a
      // refused line first ends the run, so each partition keeps line order.
      let run = 0;
      let runLine = next;
      for (let i = 0; i < n; i++) {
        const line = next++;
        const f = ls.field(i);
        if (f === KEY_NONE) {
          const w = keys.putRun(ls, run, i, TYPE_PREV, runLine);
          if (w) waits.push(w);
          one(ls.start(i), ls.end(i), line);
          run = i + 1;
          runLine = next;
        } else {
          if (f !== field) checkRecipe(r, recipeOf(KEY_NAMES[f] as OutKeyField, false), file, line);
          field = f;
          r.keys++;
        }
      }
      const w = keys.putRun(ls, run, n, TYPE_PREV, runLine);
      if (w) waits.push(w);
      p = ls.next(n - 1);
    }
    await Promise.all(waits);
  }
}

async function readPrevJsonl(
  file: string,
  keys: LineKeys,
  o: { maxLineLength: number },
  r: PrevRead,
  open: Open,
): Promise<void> {
  r.format = 'jsonl';
  let next = 1;
  for await (const piece of lines(file, o.maxLineLength, open)) {
    const waits: Promise<void>[] = [];
    next = eachLineOf(piece, next, (s, e, line) => {
      const text = piece.toString('utf8', s, e).trim();
      if (text === '') return;
      const w = jsonlRecord(text, keys, r, file, line);
      if (w) waits.push(w);
    });
    await Promise.all(waits);
  }
}

/** One jsonl record: {"<key>": "...", "items"|"users": [{"itemId"|"userId": "...", "score": ...}, ...]}. */
function jsonlRecord(
  text: string,
  keys: LineKeys,
  r: PrevRead,
  file: string,
  line: number,
): Promise<void> | undefined {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    throw new PbError('PB_PARSE', `--since: not JSON. ${TAKES}`, { file, line });
  }
  const obj = (rec && typeof rec === 'object' ? rec : {}) as Record<string, unknown>;
  const keyColumn = Object.keys(obj)[0] ?? '';
  const list = Array.isArray(obj.items) ? obj.items : Array.isArray(obj.users) ? obj.users : undefined;
  if (!['userId', 'itemId', 'itemAttributes'].includes(keyColumn) || !list)
    throw new PbError(
      'PB_USAGE',
      `--since: a JSON record with keys ${Object.keys(obj).slice(0, 5).join(', ') || '(none)'} is not a jsonl export record. ${TAKES}`,
      { file, line },
    );
  const users = Array.isArray(obj.users);
  // --map-users writes each item's source_item; an empty list tells nothing, so it is taken as the lines before.
  const first = list[0] as Record<string, unknown> | undefined;
  const mapped = first && typeof first === 'object' ? 'source_item' in first : (r.recipe?.mapped ?? false);
  checkRecipe(r, mapped ? MAPPED_RECIPE : recipeOf(keyColumn as OutKeyField, users), file, line);
  const key = obj[keyColumn];
  if (typeof key !== 'string') return undefined;
  const d = keys.digest;
  d.reset();
  const idName = users ? 'userId' : 'itemId';
  for (const entry of list as Record<string, unknown>[]) {
    const b = canonicalBytes(String(entry?.[idName] ?? ''));
    d.id(b, 0, b.length);
    if (keys.scores)
      d.score(scoreText(entry?.score === undefined || entry.score === null ? null : String(entry.score)));
  }
  const k = canonicalBytes(key);
  r.keys++;
  return keys.put(k, 0, k.length, TYPE_PREV, line);
}

/** A csv-long or csv-wide export: its header says which; a csv-long key's rows are consecutive, rank 1 first. */
async function readPrevCsv(
  file: string,
  keys: LineKeys,
  o: PrevReadOptions,
  r: PrevRead,
  open: Open,
): Promise<void> {
  // A header this export writes renamed reads back as the names it renames (PREV without them too).
  const back = new Map(Object.entries(o.rename ?? {}).map(([from, to]) => [to, from]));
  const splitter = new RecordSplitter({ delimiter: ',', maxRecordLength: o.maxLineLength, file });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let shape: CsvShape | undefined;
  const group = new CsvGroup(keys, o.escapeFormulas, r);
  const take = async (rows: { line: number; fields: string[] }[]) => {
    const waits: Promise<void>[] = [];
    for (const row of rows) {
      if (!shape) {
        shape = csvShapeOf(row.fields.map((name) => back.get(name) ?? name));
        if (!shape)
          throw new PbError(
            'PB_USAGE',
            `--since: a CSV whose header (${row.fields.slice(0, 4).join(',')}) is not one export writes${o.rename ? ' (read back through this --rename)' : ''}. ${TAKES}; an export written with --rename is read back with the same --rename`,
            { file, line: row.line },
          );
        r.format = shape.format;
        r.recipe = shape.recipe;
        continue;
      }
      const w = shape.format === 'csv-long' ? group.longRow(shape, row) : group.wideRow(shape, row);
      if (w) waits.push(w);
    }
    await Promise.all(waits);
  };
  try {
    for await (const chunk of open(file)) await take(splitter.push(decoder.decode(chunk, { stream: true })));
    await take(splitter.push(decoder.decode()));
  } catch (err) {
    if (err instanceof TypeError)
      throw new PbError('PB_PARSE', `--since: not UTF-8 text. ${TAKES}`, { file });
    throw err;
  }
  await take(splitter.end());
  await group.flush();
}

/** csv-long rows gathered into one key's list; csv-wide rows are one key each. */
class CsvGroup {
  private key: string | undefined;
  private line = 0;
  constructor(
    private readonly keys: LineKeys,
    private readonly escapeFormulas: boolean,
    private readonly r: PrevRead,
  ) {}

  longRow(shape: CsvShape, row: { line: number; fields: string[] }): Promise<void> | undefined {
    const key = cellValue(row.fields[0] ?? '', this.escapeFormulas);
    let w: Promise<void> | undefined;
    // A new key, or the same key starting again at rank 1 (twice in PREV: the partitions will say so).
    if (key !== this.key || row.fields[shape.rankCol] === '1') {
      w = this.flush();
      this.key = key;
      this.line = row.line;
      this.keys.digest.reset();
    }
    this.add(row.fields[shape.idCol] ?? '', shape.scoreCol < 0 ? undefined : row.fields[shape.scoreCol]);
    return w;
  }

  wideRow(shape: CsvShape, row: { line: number; fields: string[] }): Promise<void> | undefined {
    this.keys.digest.reset();
    shape.idCols.forEach((col, i) => {
      const id = row.fields[col] ?? '';
      if (id === '') return;
      const sc = shape.scoreCols[i];
      this.add(id, sc === undefined ? undefined : row.fields[sc]);
    });
    this.key = cellValue(row.fields[0] ?? '', this.escapeFormulas);
    this.line = row.line;
    return this.flush();
  }

  private add(id: string, score: string | undefined): void {
    const b = canonicalBytes(cellValue(id, this.escapeFormulas));
    this.keys.digest.id(b, 0, b.length);
    if (this.keys.scores) this.keys.digest.score(scoreText(score));
  }

  flush(): Promise<void> | undefined {
    if (this.key === undefined) return undefined;
    const key = this.key;
    this.key = undefined;
    // An empty key cell is the keyless line of an empty input: nothing to match it with.
    if (key === '') return undefined;
    const k = canonicalBytes(key);
    this.r.keys++;
    return this.keys.put(k, 0, k.length, TYPE_PREV, this.line);
  }
}
