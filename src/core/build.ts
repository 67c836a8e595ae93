import { usage } from '../errors.js';
import { buildAttributeQuery, isValidColumnName } from './attributes.js';
import { listCell, notText, splitValues, toText } from './cell-values.js';
import {
  type Accessor,
  ATTRIBUTES_COLUMNS,
  accessor,
  findColumn,
  findOptionalColumn,
  ITEM_COLUMNS,
  ITEM_LIST_COLUMNS,
  normalizeName,
  TIMESTAMP_COLUMNS,
  USER_COLUMNS,
} from './columns.js';
import { parseTimestamp, readTimestamp } from './dates.js';
import type { FamilyInfo } from './families.js';
import { CLI_OPTION_NAMES, type OptionNames } from './option-names.js';

/** One batch-input line. Key order is the order the fields are written in. */
export interface BatchInput {
  userId?: string;
  itemId?: string;
  itemAttributes?: string;
  itemList?: string[];
  filterValues?: Record<string, string>;
}

/** A `filterValues` entry: a placeholder filled per row from a column, or the same constant values on every line. */
export interface FilterSpec {
  /** Placeholder name without the `$`. */
  name: string;
  column?: string;
  constant?: string[];
}

export interface BuildOptions {
  family: FamilyInfo;
  /** The key column: user id, item id, or (item-attribute-affinity) a column of ready-made queries. */
  column?: string;
  /** What messages call the column option (`--column`, or a pipeline file's `$.input.column`). */
  columnOption?: string;
  /** What messages call the no-header option (`--no-header`, or `$.input.header: false`). */
  noHeaderOption?: string;
  /** What messages call the other options (CLI flags by default, or a pipeline file's paths). */
  names?: OptionNames;
  /** personalized-ranking: a column of (user, item) rows to group per user. */
  itemColumn?: string;
  /** personalized-ranking: a column holding each user's items in one cell. */
  itemListColumn?: string;
  /** Separator of items inside an itemList cell. */
  listSeparator: string;
  /** item-attribute-affinity: columns whose values make the query. */
  attributes?: string[];
  filters: FilterSpec[];
  /** Separator of several values inside one filter cell. */
  valueSeparator: string;
  /** Keep only rows at or after this time (epoch seconds), read from the timestamp column. */
  since?: number;
  timestampColumn?: string;
}

export type Built =
  | { kind: 'record'; key: string; record: BatchInput }
  /** A (user, item) row for personalized-ranking grouping. */
  | { kind: 'pair'; key: string; item: string; filterValues: Record<string, string> | undefined }
  | { kind: 'skip' }
  | { kind: 'invalid'; field: string; reason: string };

export type RowBuilder = ((values: string[] | Record<string, unknown>) => Built) & {
  /** How many leading fields of a positional row the builder reads (the splitter can skip the rest). */
  fieldsNeeded: number;
  /** The source column a record field came from (`userId` -> `user_id`), for error messages. */
  sourceField(field: string): string;
  /** Index of the id column in a positional row; undefined when the key is built otherwise. */
  keyColumn: number | undefined;
  /** The header's name of the id column; undefined for plain ids and built queries. */
  idColumn: string | undefined;
};

/** Formats filter values the way the service wants them: each in escaped double quotes, joined by commas. */
export function formatFilterValue(values: readonly string[]): string {
  return values.map((v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`).join(',');
}

/**
 * Resolves the options against one source's header into a function from a
 * row to a record. Column problems are found here, once per source, as usage
 * errors; per-row problems come back as `invalid` results.
 */
export function makeRowBuilder(
  header: readonly string[] | null,
  keyed: boolean,
  file: string,
  opts: BuildOptions,
): RowBuilder {
  const names = opts.names ?? CLI_OPTION_NAMES;
  const columns = new SourceColumns(header, keyed, file, opts.noHeaderOption);
  // In this order, so the first problem reported is the same whatever else is wrong.
  const filters = resolveFilters(opts.filters, columns, names);
  const since = resolveSince(opts, columns, names);
  const attrs = resolveAttributes(opts, columns, names);
  const key = resolveKey(opts, columns, names, attrs !== undefined);
  const ranking = resolveRanking(opts, columns, names);
  const builder = rowFunction(opts, { columns, filters, since, attrs, key, ranking });
  const sourceField = (field: string): string => {
    if (field === opts.family.key && !attrs && header !== null) return key.name;
    const f = /^filterValues\.(.+)$/.exec(field);
    const spec = f ? filters.find((x) => x.name === f[1]) : undefined;
    return spec && 'column' in spec && spec.column ? spec.column : field;
  };
  return Object.assign(builder, {
    fieldsNeeded: columns.fieldsNeeded,
    sourceField,
    keyColumn: key.column,
    idColumn: key.idColumn,
  });
}

/** The columns of one source, found for the options; counts how many leading fields a row must keep for them. */
class SourceColumns {
  /** The header, or one pseudo-column for plain text. */
  readonly cols: readonly string[];
  fieldsNeeded = 1;

  constructor(
    readonly header: readonly string[] | null,
    readonly keyed: boolean,
    readonly file: string,
    private readonly noHeaderOption: string | undefined,
  ) {
    this.cols = header ?? ['(line)'];
  }

  /** The column an option names, or the one of `candidates` the header has; plain text's line when none is named. */
  need(explicit: string | undefined, candidates: readonly string[], role: string, option: string): Accessor {
    if (this.header === null && explicit === undefined) return accessor(0, null, false);
    if (this.header === null)
      throw usage(`${option} needs a CSV, TSV or JSON Lines source; ${this.file} is plain text`);
    return this.named(explicit, candidates, role, option);
  }

  /**
   * A column by name. JSON Lines objects need not all have the same keys, so
   * there an explicit name is trusted even when the first object lacks it.
   */
  named(explicit: string | undefined, candidates: readonly string[], role: string, option: string): Accessor {
    const cols = this.cols;
    if (this.keyed && explicit !== undefined && !cols.includes(explicit)) {
      // The first object may spell it otherwise (user_id for userId) or, in sparse JSON, lack it.
      const loose = cols.findIndex((c) => normalizeName(c) === normalizeName(explicit));
      const key = loose >= 0 ? (cols[loose] as string) : explicit;
      return (v: string[] | Record<string, unknown>) => (v as Record<string, unknown>)[key];
    }
    const idx = findColumn(
      cols,
      explicit,
      candidates,
      role,
      option,
      this.file,
      this.keyed,
      this.noHeaderOption,
    );
    this.fieldsNeeded = Math.max(this.fieldsNeeded, idx + 1);
    return accessor(idx, cols, this.keyed);
  }

  /** What messages call a column: as named, as the header has it, or `value` / `line`. */
  nameOf(explicit: string | undefined, candidates: readonly string[]): string {
    return (
      explicit ?? (this.header ? (this.cols[findOptionalColumn(this.cols, candidates)] ?? 'value') : 'line')
    );
  }
}

type ResolvedFilter = { name: string; constant: string[] } | { name: string; column: string; get: Accessor };

function resolveFilters(specs: FilterSpec[], columns: SourceColumns, names: OptionNames): ResolvedFilter[] {
  return specs.map((f) => {
    if (f.constant) return { name: f.name, constant: f.constant };
    if (columns.header === null)
      throw usage(
        `${names.filterColumn(f.name, f.column)} needs a column, but ${columns.file} is plain text`,
      );
    const get = columns.named(f.column, [], 'filter', names.filterColumn(f.name));
    return { name: f.name, column: f.column as string, get };
  });
}

/** A row's filterValues, or the problem with one of its cells. */
function filterValuesOf(
  filters: ResolvedFilter[],
  values: string[] | Record<string, unknown>,
  separator: string,
): Record<string, string> | Problem | undefined {
  if (filters.length === 0) return undefined;
  let out: Record<string, string> | undefined;
  for (const f of filters) {
    let list: string[];
    if ('constant' in f) list = f.constant;
    else {
      const raw = f.get(values);
      if (Array.isArray(raw)) list = raw.map((x) => String(x).trim()).filter((x) => x !== '');
      else {
        const text = toText(raw);
        if (text === null) {
          const reason = typeof raw === 'number' ? notText(raw) : 'must be text, a number or a list';
          return { field: f.column, reason };
        }
        list = text === undefined ? [] : splitValues(text, separator);
      }
    }
    // An empty cell leaves the placeholder out for that line rather than
    // sending "" (which would filter on an empty value).
    if (list.length === 0) continue;
    out ??= {};
    out[f.name] = formatFilterValue(list);
  }
  return out;
}

/** --since: the timestamp column and the earliest time kept. */
interface SinceColumn {
  get: Accessor;
  name: string;
  seconds: number;
}

function resolveSince(
  opts: BuildOptions,
  columns: SourceColumns,
  names: OptionNames,
): SinceColumn | undefined {
  if (opts.since === undefined) return undefined;
  if (columns.header === null)
    throw usage(`${names.since} needs a timestamp column, but ${columns.file} is plain text`);
  const get = columns.need(opts.timestampColumn, TIMESTAMP_COLUMNS, 'timestamp', names.timestampColumn);
  return { get, name: columns.nameOf(opts.timestampColumn, TIMESTAMP_COLUMNS), seconds: opts.since };
}

type AttributeColumn = { name: string; get: Accessor };

/** Item-Attribute-Affinity from attribute columns rather than ready-made queries. */
function resolveAttributes(
  opts: BuildOptions,
  columns: SourceColumns,
  names: OptionNames,
): AttributeColumn[] | undefined {
  if (opts.family.family !== 'item-attribute-affinity' || !opts.attributes || opts.attributes.length === 0)
    return undefined;
  if (columns.header === null)
    throw usage(`${names.attributes} needs a CSV, TSV or JSON Lines source; ${columns.file} is plain text`);
  return opts.attributes.map((a) => {
    const name = a.replace(/^ITEMS\./i, '');
    if (!isValidColumnName(name)) throw usage(`${names.attributes}: "${a}" is not a valid column name`);
    // Accept the column as named in the header, with or without ITEMS.
    return {
      name,
      get: columns.named(columns.cols.includes(a) ? a : name, [], 'attribute', names.attributes),
    };
  });
}

/** The id column: how to read it, where it is in a positional row, and its name. */
interface KeyColumn {
  /** undefined when the key is a query built from attribute columns. */
  get: Accessor | undefined;
  column: number | undefined;
  /** As the header spells it, for messages and the summary. */
  name: string;
  idColumn: string | undefined;
}

function resolveKey(
  opts: BuildOptions,
  columns: SourceColumns,
  names: OptionNames,
  built: boolean,
): KeyColumn {
  const { header, cols, keyed, file } = columns;
  const fam = opts.family;
  const colOption = opts.columnOption ?? names.column;
  const keyCandidates =
    fam.key === 'userId' ? USER_COLUMNS : fam.key === 'itemId' ? ITEM_COLUMNS : ATTRIBUTES_COLUMNS;
  const keyRole = fam.key === 'userId' ? 'user id' : fam.key === 'itemId' ? 'item id' : 'item attributes';
  const get = built ? undefined : columns.need(opts.column, keyCandidates, keyRole, colOption);
  const column =
    built || keyed
      ? undefined
      : header === null
        ? 0
        : findColumn(cols, opts.column, keyCandidates, keyRole, colOption, file, false, opts.noHeaderOption);
  // As the header spells it ("Customer ID" for --column customer_id), for messages and the summary.
  const looseKey =
    keyed && opts.column !== undefined
      ? cols.find((c) => normalizeName(c) === normalizeName(opts.column as string))
      : undefined;
  const name =
    column !== undefined && header !== null
      ? (cols[column] as string)
      : (looseKey ?? columns.nameOf(opts.column, keyCandidates));
  return { get, column, name, idColumn: built || header === null ? undefined : name };
}

/** personalized-ranking's items: a list column, or an item column whose (user, item) rows are grouped. */
interface RankingColumns {
  list: Accessor | undefined;
  listName: string;
  item: Accessor | undefined;
  itemName: string;
}

function resolveRanking(opts: BuildOptions, columns: SourceColumns, names: OptionNames): RankingColumns {
  const out: RankingColumns = { list: undefined, listName: 'itemList', item: undefined, itemName: '' };
  if (opts.family.family !== 'personalized-ranking') return out;
  // Ranking: a list column if there is one, else group (user, item) rows.
  const { header, cols } = columns;
  if (opts.itemListColumn !== undefined || (opts.itemColumn === undefined && header && hasList(cols))) {
    out.list = columns.need(opts.itemListColumn, ITEM_LIST_COLUMNS, 'item list', names.itemListColumn);
    out.listName = columns.nameOf(opts.itemListColumn, ITEM_LIST_COLUMNS);
  } else {
    if (header === null)
      throw usage(`personalized-ranking needs items per user; ${columns.file} is plain text`);
    out.item = columns.need(opts.itemColumn, ITEM_COLUMNS, 'item id', names.itemColumn);
    out.itemName = columns.nameOf(opts.itemColumn, ITEM_COLUMNS);
  }
  return out;
}

/** What makeRowBuilder resolved once per source. */
interface Resolved {
  columns: SourceColumns;
  filters: ResolvedFilter[];
  since: SinceColumn | undefined;
  attrs: AttributeColumn[] | undefined;
  key: KeyColumn;
  ranking: RankingColumns;
}

/** The function from a row to what it builds, over what was resolved for its source. */
function rowFunction(opts: BuildOptions, r: Resolved): (values: string[] | Record<string, unknown>) => Built {
  const { columns, filters, since, attrs } = r;
  const { list, listName, item, itemName } = r.ranking;
  const key = r.key.get as Accessor;
  const keyName = r.key.name;
  const familyKey = opts.family.key;
  return (values: string[] | Record<string, unknown>): Built => {
    if (since) {
      const t = readTimestamp(since.get(values));
      if ('problem' in t) return { kind: 'invalid', field: since.name, reason: t.problem };
      if (t.seconds < since.seconds) return { kind: 'skip' };
    }
    const fv = filterValuesOf(filters, values, opts.valueSeparator);
    if (fv && 'reason' in fv)
      return { kind: 'invalid', field: fv.field as string, reason: fv.reason as string };
    const fvRecord = fv as Record<string, string> | undefined;

    if (attrs) return attributeQueryRecord(attrs, values, fvRecord);

    const rawKey = key(values);
    const k = toText(rawKey);
    if (k === null) return { kind: 'invalid', field: keyName, reason: notText(rawKey) };
    const id = k === undefined ? '' : k.trim();
    if (id === '') {
      const missing = columns.keyed && k === undefined && columns.header !== null;
      const reason = missing
        ? `missing from this object (the first object's keys are ${columns.cols.map((c) => JSON.stringify(c)).join(', ')})`
        : 'empty';
      return { kind: 'invalid', field: keyName, reason };
    }

    if (item) {
      const it = toText(item(values));
      const itemId = typeof it === 'string' ? it.trim() : '';
      if (itemId === '') return { kind: 'invalid', field: itemName, reason: 'empty or not text' };
      return { kind: 'pair', key: id, item: itemId, filterValues: fvRecord };
    }
    if (list) return itemListRecord(id, list(values), listName, opts.listSeparator, fvRecord);
    const rec: BatchInput =
      familyKey === 'userId'
        ? { userId: id }
        : familyKey === 'itemId'
          ? { itemId: id }
          : { itemAttributes: id };
    return { kind: 'record', key: id, record: withFilters(rec, fvRecord) };
  };
}

/** Item-Attribute-Affinity's record: the query built from the row's attribute cells. */
function attributeQueryRecord(
  attrs: AttributeColumn[],
  values: string[] | Record<string, unknown>,
  fv: Record<string, string> | undefined,
): Built {
  const pairs = [] as [string, string][];
  for (const a of attrs) {
    const raw = a.get(values);
    const v = toText(raw);
    if (v === null) return { kind: 'invalid', field: a.name, reason: notText(raw) };
    pairs.push([a.name, v === undefined ? '' : v.trim()]);
  }
  const q = buildAttributeQuery(pairs);
  if (q === '')
    return {
      kind: 'invalid',
      field: attrs.map((a) => a.name).join(','),
      reason: 'every attribute is empty',
    };
  return { kind: 'record', key: q, record: withFilters({ itemAttributes: q }, fv) };
}

/** personalized-ranking's record from a list cell (a JSON array, or text split on the separator). */
function itemListRecord(
  id: string,
  raw: unknown,
  listName: string,
  separator: string,
  fv: Record<string, string> | undefined,
): Built {
  let items: string[];
  if (Array.isArray(raw)) items = raw.map((x) => String(x).trim()).filter((x) => x !== '');
  else {
    const text = toText(raw);
    if (text === null)
      return { kind: 'invalid', field: 'itemList', reason: 'must be a list or delimited text' };
    const cell = listCell(text ?? '', separator);
    if ('problem' in cell) return { kind: 'invalid', field: listName, reason: cell.problem };
    items = cell.items;
  }
  items = [...new Set(items)];
  return { kind: 'record', key: id, record: withFilters({ userId: id, itemList: items }, fv) };
}

interface Problem {
  field: string;
  reason: string;
}

function withFilters(rec: BatchInput, fv: Record<string, string> | undefined): BatchInput {
  if (fv) rec.filterValues = fv;
  return rec;
}

function hasList(header: readonly string[]): boolean {
  return findOptionalColumn(header, ITEM_LIST_COLUMNS) >= 0;
}

/** Epoch seconds from a cell: see parseTimestamp (strict: epoch seconds or milliseconds, ISO 8601). */
export const parseTime = parseTimestamp;
