import { Catalog } from '../../core/catalog.js';
import { accessor, findColumn, ITEM_COLUMNS, USER_COLUMNS } from '../../core/columns.js';
import type { ConvertCounts } from '../../core/out/convert-result.js';
import { type UserGroupPass, userColumnNames } from '../../core/out-convert.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../../core/sniff.js';
import { alternatives, closest } from '../../core/suggest.js';
import type { TableScanner } from '../../core/table-scan.js';
import { PbError } from '../../errors.js';
import { type Row, readRows } from '../../io/rows.js';
import {
  scanTableRows,
  type TableRangeDone,
  type TableRowHandlers,
  type TableSplit,
  tableScanApplies,
} from '../../io/table-rows.js';
import { openText } from '../../io/text.js';
import type { ResolvedExportOptions } from './options.js';
import { defaultColumns } from './table-columns.js';
import { cellsInPlace, RowCells, RowRecord, readRecord, utf16Units } from './users-rows.js';

/**
 * The export's two join tables, read the same way: the catalog (item
 * metadata, --catalog) and the users file (user attributes, --users). Both
 * are detected as prepare's inputs are (delimiter, `sep=` line, encoding,
 * file type), rendered for the export format into one Catalog each.
 */

/** What a table's messages call its settings: export's flags, or a pipeline file's keys. */
export interface CatalogOptionNames {
  delimiter: string;
  encoding: string;
  idColumn: string;
  columns: string;
}

const CATALOG_FLAGS: CatalogOptionNames = {
  delimiter: '--catalog-delimiter',
  encoding: '--catalog-encoding',
  idColumn: '--catalog-id-column',
  columns: '--catalog-columns',
};

export const USERS_FLAGS: CatalogOptionNames = {
  delimiter: '--users-delimiter',
  encoding: '--users-encoding',
  idColumn: '--user-key',
  columns: '--user-fields',
};

/** The catalog settings of export (and of a pipeline file's output). */
export type CatalogSettings = Partial<
  Pick<
    ResolvedExportOptions,
    'catalog' | 'catalogColumns' | 'catalogIdColumn' | 'catalogDelimiter' | 'catalogEncoding'
  >
>;

/** The users file's settings of export (and of a pipeline file's output). */
export type UsersSettings = Partial<
  Pick<ResolvedExportOptions, 'users' | 'userKey' | 'userFields' | 'usersDelimiter' | 'usersEncoding'>
>;

/** One join table's file and settings, whichever it is. */
export interface TableSpec {
  file: string;
  idColumn: string | undefined;
  columns: string[] | undefined;
  delimiter: string | undefined;
  encoding: string | undefined;
  flags: CatalogOptionNames;
  /** What the table is, for messages: "the catalog", "the users file". */
  what: string;
  /** The id's role and the usual names of its column. */
  role: 'item id' | 'user id';
  candidates: readonly string[];
}

function catalogSpec(o: CatalogSettings, flags: CatalogOptionNames): TableSpec {
  return {
    file: o.catalog as string,
    idColumn: o.catalogIdColumn,
    columns: o.catalogColumns,
    delimiter: o.catalogDelimiter,
    encoding: o.catalogEncoding,
    flags,
    what: 'the catalog',
    role: 'item id',
    candidates: ITEM_COLUMNS,
  };
}

export function usersSpec(o: UsersSettings, flags: CatalogOptionNames): TableSpec {
  return {
    file: o.users as string,
    idColumn: o.userKey,
    columns: o.userFields,
    delimiter: o.usersDelimiter,
    encoding: o.usersEncoding,
    flags,
    what: 'the users file',
    role: 'user id',
    candidates: USER_COLUMNS,
  };
}

/**
 * Opens a table and resolves its columns: the id column and the ones to
 * join. Every mistake in the settings shows here, before any row.
 */
async function openTable(t: TableSpec) {
  const { file, flags } = t;
  const names: OptionNames = {
    ...CLI_OPTION_NAMES,
    delimiter: flags.delimiter,
    encoding: flags.encoding,
    column: flags.idColumn,
    // No --format (a table is never one id a line) nor --skip-lines for a table: messages give the other fix.
    format: '',
    allowEmailIds: '--allow-email-ids',
    skipLines: '',
    noHeader: '--no-header',
  };
  const reopen = async () => {
    const text = await openText(file, {}, { encoding: t.encoding, names });
    const options = {
      format: 'auto',
      maxLineLength: TABLE_MAX_LINE,
      delimiter: t.delimiter,
      column: t.idColumn,
      names,
    } as const;
    return { text, src: await readRows(file, text.bytes, options) };
  };
  const { text, src } = await reopen();
  try {
    const header = src.header;
    if (!header || header.length === 0) {
      const example = t.role === 'item id' ? 'ITEM_ID,TITLE,...' : 'customer_id,email,...';
      throw new PbError('PB_USAGE', `${t.what} needs a header row (${example})`, { file });
    }
    const keyed = src.keyed;
    // The key column's and the named columns' mistakes said together (a user's trial fixed one, ran, met the next).
    const problems: PbError[] = [];
    const attempt = (find: () => number): number => {
      try {
        return find();
      } catch (err) {
        if (!(err instanceof PbError) || err.code !== 'PB_USAGE') throw err;
        problems.push(err);
        return -1;
      }
    };
    const idCol = attempt(() =>
      withSuggestion(header, t.idColumn, () =>
        findColumn(header, t.idColumn, t.candidates, t.role, flags.idColumn, file, keyed),
      ),
    );
    if (idCol < 0 && t.columns === undefined) throw problems[0];
    const named = { file, what: t.what, columnsOption: flags.columns };
    const columns =
      t.columns ?? (await defaultColumns(header, idCol, keyed, named, async () => (await reopen()).src));
    if (columns.length === 0)
      throw new PbError('PB_USAGE', `${t.what} has no columns besides the ${t.role}`, { file });
    const colIdx = columns.map((n) =>
      attempt(() =>
        withSuggestion(header, n, () => findColumn(header, n, [], n, flags.columns, file, keyed)),
      ),
    );
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1)
      throw new PbError('PB_USAGE', problems.map((e) => e.reason).join('; and '), { file });
    const cols = colIdx.map((c) => accessor(c, header, keyed));
    return { file, src, header, keyed, idCol, columns, colIdx, cols, names, info: text.info };
  } catch (err) {
    await src.close();
    throw err;
  }
}

/** The longest line a join table may have. */
const TABLE_MAX_LINE = 1024 * 1024;

/** Runs a column lookup; a usage error for a name not in the header gains the closest names. */
function withSuggestion(header: readonly string[], name: string | undefined, find: () => number): number {
  try {
    return find();
  } catch (err) {
    // The name itself, repeated in the header, is no suggestion for it.
    const near = name === undefined ? [] : [...new Set(closest(name, header))].filter((n) => n !== name);
    if (!(err instanceof PbError) || err.code !== 'PB_USAGE' || near.length === 0) throw err;
    const quoted = near.map((n) => JSON.stringify(n));
    throw new PbError('PB_USAGE', `${err.reason}; did you mean ${alternatives(quoted)}?`, {
      file: err.file,
    });
  }
}

/**
 * Checks a catalog's settings against the file (it opens, the id column and
 * the columns to join are there) without reading it: `run` does this before
 * any job is paid for, so a typo in a column name is not found after the jobs.
 */
export async function checkCatalog(
  o: CatalogSettings,
  flags: CatalogOptionNames = CATALOG_FLAGS,
): Promise<string[]> {
  const c = await openTable(catalogSpec(o, flags));
  await c.src.close();
  return [...c.columns];
}

/** checkCatalog for the users file; the columns to join, as its header names them. */
export async function checkUsers(o: UsersSettings, flags = USERS_FLAGS): Promise<string[]> {
  const c = await openTable(usersSpec(o, flags));
  await c.src.close();
  return [...c.columns];
}

/**
 * A table in memory; the rows skipped for want of an id, and the ids
 * repeated (the first row wins), each with the first few line numbers.
 */
export interface LoadedCatalog {
  catalog: Catalog;
  withoutId: number;
  lines: number[];
  /** Lines of rows whose id an earlier row had (the first few). */
  duplicateLines: number[];
  /** The joined columns as the file names them. */
  columns: string[];
}

/** Reads the catalog file into a Catalog, rendering values for the export format; messages name `flags`. */
export function loadCatalog(o: ResolvedExportOptions, flags = CATALOG_FLAGS): Promise<LoadedCatalog> {
  return loadTable(catalogSpec(o, flags), o, {
    maxItems: o.maxCatalogItems,
    full: `the catalog has more than ${o.maxCatalogItems} items; the join holds it in memory (keep only the items you recommend)`,
  });
}

/** An empty users table with the export's rendering settings. */
export function newUsersTable(
  o: ResolvedExportOptions,
  names: readonly string[],
  expect?: { items: number; bytes: number },
): Catalog {
  return new Catalog(
    names,
    o.format === 'jsonl',
    o.escapeFormulas,
    Number.POSITIVE_INFINITY,
    o.maxCellBytes,
    expect,
  );
}

/**
 * Reads the users file row by row for the partitioned join: each row with a
 * key (trimmed) goes to `onRow` with its values and line, in file order
 * (a row the byte path read to `rowBytes`, when given, with no string).
 */
export async function eachUserRow<D extends TableRangeDone>(
  o: ResolvedExportOptions,
  onRow: (key: string, values: string[], line: number) => Promise<void> | undefined,
  want?: WantKey,
  rowBytes?: TableRowHandlers['rowBytes'],
  /** A second thread for a part of the file, when the byte path reads it and this gives one. */
  split?: (opened: SplitTable) => Promise<TableSplit<D> | undefined>,
): Promise<{ columns: string[]; names: readonly string[]; withoutId: number; lines: number[] }> {
  const opened = await openTable(usersSpec(o, USERS_FLAGS));
  const r = await eachRow(opened, 'user id', onRow, want, rowBytes, split);
  const names = userColumnNames(opened.columns, ['userId', 'theme', 'items']);
  return { columns: [...opened.columns], names, ...r };
}

/**
 * The users file's header, its key column and its first `n` rows (every column, as text), for a
 * message that shows the file's keys beside the export's.
 */
export async function usersFileHead(
  o: ResolvedExportOptions,
  n: number,
): Promise<{ header: string[]; idCol: number; rows: string[][] }> {
  const { src, header, keyed, idCol } = await openTable(usersSpec(o, USERS_FLAGS));
  const get = header.map((_, i) => accessor(i, header, keyed));
  const rows: string[][] = [];
  try {
    for await (const batch of src.batches) {
      for (const row of batch) {
        if (row.error) continue;
        rows.push(get.map((g) => String(g(row.values) ?? '').trim()));
        if (rows.length >= n) return { header: [...header], idCol, rows };
      }
    }
  } finally {
    await src.close();
  }
  return { header: [...header], idCol, rows };
}

type OpenedTable = Awaited<ReturnType<typeof openTable>>;
/** What a second thread needs of an opened table. */
export type SplitTable = Pick<OpenedTable, 'file' | 'info' | 'src' | 'idCol'>;

/** A row read back from a partition file: its key seg[ks, ke), its record seg[ps, pe), its line past `before`. */
export type AddRecord = (
  seg: Buffer,
  ks: number,
  ke: number,
  ps: number,
  pe: number,
  before: number,
) => undefined;

/** Whether a key (trimmed, as UTF-8 bytes) is one to keep; undefined: every key. */
export type WantKey = ((buf: Uint8Array, start: number, end: number) => boolean) | undefined;

/**
 * Each row of an opened table with an id, in order (closing the table);
 * rows with an empty id are skipped and counted, with their first lines.
 * Rows whose key `want` refuses are skipped unread: a CSV or TSV is read on
 * the byte path (io/table-rows.ts), where such a row costs no string.
 */
async function eachRow<D extends TableRangeDone>(
  table: OpenedTable,
  role: TableSpec['role'],
  onRow: (key: string, values: string[], line: number) => Promise<void> | undefined,
  want?: WantKey,
  rowBytes?: TableRowHandlers['rowBytes'],
  split?: (opened: SplitTable) => Promise<TableSplit<D> | undefined>,
): Promise<{ withoutId: number; lines: number[] }> {
  const { file, src, header, keyed, idCol, cols, colIdx } = table;
  let withoutId = 0;
  const lines: number[] = [];
  const noKey = (line: number, count = 1) => {
    // A row without an id (a gift card with no SKU, a CRM contact with no customer id) matches nothing.
    withoutId += count;
    if (lines.length < 5) lines.push(line);
  };
  const id = accessor(idCol, header, keyed);
  const keyOf = (row: Row): unknown => {
    const raw = id(row.values);
    return typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
  };
  const take = (row: Row): Promise<void> | undefined => {
    // A bad row of a user `want` refuses is not read, on either path (the byte path skips it on its
    // key alone): which path a row takes depends on where the reads cut the file (a quote in the
    // same piece), and that must not decide whether the export stops.
    if (row.error) {
      if (want && refused(keyOf(row), want)) return undefined;
      throw row.error;
    }
    const key = keyOf(row);
    if (key === undefined || key === null || (typeof key === 'string' && key.trim() === '')) {
      noKey(row.line);
      return undefined;
    }
    if (typeof key !== 'string') {
      throw new PbError('PB_INVALID_RECORD', `the ${role} must be text or a whole number`, {
        file,
        line: row.line,
        field: header[idCol],
      });
    }
    // Trimmed, as prepare trims ids: " i1 " in a spreadsheet is the item i1.
    const trimmed = key.trim();
    if (want) {
      const b = Buffer.from(trimmed);
      if (!want(b, 0, b.length)) return undefined;
    }
    const values = cols.map((get, i) => {
      const v = get(row.values);
      if (typeof v === 'number' && row.numbers) {
        const written = row.numbers.get(header[colIdx[i] as number] as string);
        if (written !== undefined) return written;
      }
      return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    });
    return onRow(trimmed, values, row.line);
  };
  const general = async (rows: Row[]) => {
    for (const row of rows) {
      const w = take(row);
      if (w) await w;
    }
  };
  try {
    if (tableScanApplies(src)) {
      const plan = { key: idCol, columns: table.colIdx, maxLineLength: TABLE_MAX_LINE, names: table.names };
      const handlers = { want: want ?? (() => true), row: onRow, rowBytes, noKey, general };
      await scanTableRows(src, plan, handlers, await split?.(table));
    } else for await (const batch of src.batches) await general(batch);
  } finally {
    await src.close();
  }
  return { withoutId, lines };
}

/** Whether `want` refuses a key read from a bad row (a key that is no text is not refused: the row's error stands). */
function refused(key: unknown, want: NonNullable<WantKey>): boolean {
  if (typeof key !== 'string' || key.trim() === '') return false;
  const b = Buffer.from(key.trim());
  return !want(b, 0, b.length);
}

/**
 * Reads a table; rows with an empty id are skipped and counted, a repeated
 * id keeps its first row (counted). `full` says why the table may not grow.
 */
export async function loadTable(
  t: TableSpec,
  o: ResolvedExportOptions,
  limits: {
    maxItems: number;
    /** Why the table may not hold more than maxItems. */
    full: string;
    /** Why the table may not grow past its memory (checked after each added row), or undefined. */
    overBudget?: (table: Catalog, text: number) => string | undefined;
    /** The columns' names in JSON, from the file's (default: as the file names them). */
    names?: (columns: readonly string[]) => readonly string[];
    /** Which keys to read (the rest are skipped unread); default all. */
    want?: WantKey;
    /** Memory the table takes at once, committed as written (see Catalog): its budget, at most 1 GiB. */
    room?: number;
    /** A second thread for a part of the file, whose rows (users-rows.ts records) it gives to `add` in order. */
    split?: (opened: SplitTable, add: AddRecord) => Promise<TableSplit<TableRangeDone> | undefined>;
  },
): Promise<LoadedCatalog> {
  const opened = await openTable(t);
  const { file, columns } = opened;
  const duplicateLines: number[] = [];
  const [json, guard] = [o.format === 'jsonl', o.escapeFormulas];
  const names = limits.names?.(columns) ?? columns;
  const table = new Catalog(names, json, guard, limits.maxItems, o.maxCellBytes, undefined, limits.room);
  // A row added: `text` its key's and values' length (UTF-16 code units, as their strings count).
  const settle = (added: ReturnType<Catalog['add']>, line: number, text: () => number) => {
    if (added === 'duplicate' && duplicateLines.length < 5) duplicateLines.push(line);
    const why =
      added === 'full' ? limits.full : added === 'added' ? limits.overBudget?.(table, text()) : undefined;
    if (why) throw new PbError('PB_LIMIT', why, { file, line });
    return undefined;
  };
  const onRow = (key: string, values: string[], line: number) =>
    settle(table.add(key, values), line, () => values.reduce((n, v) => n + v.length, key.length));
  // A row of the byte path, added with no string: its values where they lie, or copied to a record (quotes undoubled).
  const record = new RowRecord();
  const cells = new RowCells(columns.length);
  const rowBytes = (piece: Buffer, sc: TableScanner, cols: readonly number[]) => {
    const units = cellsInPlace(piece, sc, cols, cells);
    const rec = units >= 0 ? piece : record.encodeScanned(sc.rowLine, sc, cols);
    const ks = sc.keyStart;
    const ke = sc.keyEnd;
    if (!rec)
      return onRow(
        piece.toString('utf8', ks, ke),
        cols.map((c) => sc.fieldText(c)),
        sc.rowLine,
      );
    if (units < 0) cells.read(rec, 0, record.length);
    const added = table.addBytes(piece, ks, ke, rec, cells.starts, cells.ends);
    return settle(added, sc.rowLine, () => utf16Units(piece, ks, ke) + (units >= 0 ? units : record.units));
  };
  // A row of a worker's part as its partition holds it (line numbered from its cut), added as the byte path adds it.
  const kept = new RowCells(columns.length);
  const addRecord: AddRecord = (seg, ks, ke, ps, pe, before) => {
    if (!RowCells.isBytes(seg, ps)) {
      const [line, ...values] = readRecord(seg, ps, pe, kept);
      return onRow(seg.toString('utf8', ks, ke), values, line + before);
    }
    const line = kept.read(seg, ps, pe) + before;
    let units = utf16Units(seg, ks, ke);
    for (let c = 0; c < columns.length; c++)
      units += utf16Units(seg, kept.starts[c] as number, kept.ends[c] as number);
    return settle(table.addBytes(seg, ks, ke, seg, kept.starts, kept.ends), line, () => units);
  };
  const split = limits.split && (async (op: SplitTable) => limits.split?.(op, addRecord));
  const { withoutId, lines } = await eachRow(opened, t.role, onRow, limits.want, rowBytes, split);
  return { catalog: table, withoutId, lines, duplicateLines, columns: [...columns] };
}

/**
 * The users table: one held whole, or (a partitioned join, see
 * users-spill.ts) one per source, loaded by forSource as its source starts.
 */
export interface UsersTable {
  table: Catalog | undefined;
  /** The columns as the file names them. */
  columns: string[];
  /** The table for source `index`, and the group of users its pass converts (given the first pass's key scan misses). */
  forSource?: (index: number, keyScanMisses: number) => Promise<{ table: Catalog; pass?: UserGroupPass }>;
  /** Run once every row is converted, before the output is committed: a throw leaves no output. */
  beforeCommit?: (counts: ConvertCounts) => Promise<void>;
}
