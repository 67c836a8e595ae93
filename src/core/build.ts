import { usage } from '../errors.js';
import { buildAttributeQuery, isValidColumnName } from './attributes.js';
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
  const fam = opts.family;
  const cols = header ?? ['(line)'];
  const names = opts.names ?? CLI_OPTION_NAMES;
  const colOption = opts.columnOption ?? names.column;
  let fieldsNeeded = 1;
  const use = (idx: number) => {
    fieldsNeeded = Math.max(fieldsNeeded, idx + 1);
    return accessor(idx, cols, keyed);
  };
  const need = (
    explicit: string | undefined,
    candidates: readonly string[],
    role: string,
    option: string,
  ) => {
    if (header === null && explicit === undefined) return accessor(0, null, false);
    if (header === null)
      throw usage(`${option} needs a CSV, TSV or JSON Lines source; ${file} is plain text`);
    return named(explicit, candidates, role, option);
  };
  /**
   * A column by name. JSON Lines objects need not all have the same keys, so
   * there an explicit name is trusted even when the first object lacks it.
   */
  const named = (
    explicit: string | undefined,
    candidates: readonly string[],
    role: string,
    option: string,
  ) => {
    if (keyed && explicit !== undefined && !cols.includes(explicit)) {
      // The first object may spell it otherwise (user_id for userId) or, in sparse JSON, lack it.
      const loose = cols.findIndex((c) => normalizeName(c) === normalizeName(explicit));
      const key = loose >= 0 ? (cols[loose] as string) : explicit;
      return (v: string[] | Record<string, unknown>) => (v as Record<string, unknown>)[key];
    }
    return use(findColumn(cols, explicit, candidates, role, option, file, keyed, opts.noHeaderOption));
  };
  const colName = (explicit: string | undefined, candidates: readonly string[]) =>
    explicit ?? (header ? (cols[findOptionalColumn(cols, candidates)] ?? 'value') : 'line');

  const filters = opts.filters.map((f) => {
    if (f.constant) return { name: f.name, constant: f.constant };
    if (header === null)
      throw usage(`${names.filterColumn(f.name, f.column)} needs a column, but ${file} is plain text`);
    const get = named(f.column, [], 'filter', names.filterColumn(f.name));
    return { name: f.name, column: f.column as string, get };
  });
  const filterValues = (
    values: string[] | Record<string, unknown>,
  ): Record<string, string> | Problem | undefined => {
    if (filters.length === 0) return undefined;
    let out: Record<string, string> | undefined;
    for (const f of filters) {
      let list: string[];
      if (f.constant) list = f.constant;
      else {
        const raw = (f as { get: Accessor }).get(values);
        if (Array.isArray(raw)) list = raw.map((x) => String(x).trim()).filter((x) => x !== '');
        else {
          const text = toText(raw);
          if (text === null) {
            const reason = typeof raw === 'number' ? notText(raw) : 'must be text, a number or a list';
            return { field: f.column as string, reason };
          }
          list = text === undefined ? [] : splitValues(text, opts.valueSeparator);
        }
      }
      // An empty cell leaves the placeholder out for that line rather than
      // sending "" (which would filter on an empty value).
      if (list.length === 0) continue;
      out ??= {};
      out[f.name] = formatFilterValue(list);
    }
    return out;
  };

  let since: Accessor | undefined;
  let sinceName = '';
  if (opts.since !== undefined) {
    if (header === null) throw usage(`${names.since} needs a timestamp column, but ${file} is plain text`);
    since = need(opts.timestampColumn, TIMESTAMP_COLUMNS, 'timestamp', names.timestampColumn);
    sinceName = colName(opts.timestampColumn, TIMESTAMP_COLUMNS);
  }

  const keyCandidates =
    fam.key === 'userId' ? USER_COLUMNS : fam.key === 'itemId' ? ITEM_COLUMNS : ATTRIBUTES_COLUMNS;
  const keyRole = fam.key === 'userId' ? 'user id' : fam.key === 'itemId' ? 'item id' : 'item attributes';

  // Item-Attribute-Affinity from attribute columns rather than ready-made queries.
  let attrs: { name: string; get: Accessor }[] | undefined;
  if (fam.family === 'item-attribute-affinity' && opts.attributes && opts.attributes.length > 0) {
    if (header === null)
      throw usage(`${names.attributes} needs a CSV, TSV or JSON Lines source; ${file} is plain text`);
    attrs = opts.attributes.map((a) => {
      const name = a.replace(/^ITEMS\./i, '');
      if (!isValidColumnName(name)) throw usage(`${names.attributes}: "${a}" is not a valid column name`);
      // Accept the column as named in the header, with or without ITEMS.
      return { name, get: named(cols.includes(a) ? a : name, [], 'attribute', names.attributes) };
    });
  }
  const key = attrs ? undefined : need(opts.column, keyCandidates, keyRole, colOption);
  const keyColumn =
    attrs || keyed
      ? undefined
      : header === null
        ? 0
        : findColumn(cols, opts.column, keyCandidates, keyRole, colOption, file, false, opts.noHeaderOption);
  // As the header spells it ("Customer ID" for --column customer_id), for messages and the summary.
  const looseKey =
    keyed && opts.column !== undefined
      ? cols.find((c) => normalizeName(c) === normalizeName(opts.column as string))
      : undefined;
  const keyName =
    keyColumn !== undefined && header !== null
      ? (cols[keyColumn] as string)
      : (looseKey ?? colName(opts.column, keyCandidates));
  const idColumn = attrs || header === null ? undefined : keyName;

  // Ranking: a list column if there is one, else group (user, item) rows.
  let list: Accessor | undefined;
  let item: Accessor | undefined;
  let itemName = '';
  let listName = 'itemList';
  if (fam.family === 'personalized-ranking') {
    if (opts.itemListColumn !== undefined || (opts.itemColumn === undefined && header && hasList(cols))) {
      list = need(opts.itemListColumn, ITEM_LIST_COLUMNS, 'item list', names.itemListColumn);
      listName = colName(opts.itemListColumn, ITEM_LIST_COLUMNS);
    } else {
      if (header === null) throw usage(`personalized-ranking needs items per user; ${file} is plain text`);
      item = need(opts.itemColumn, ITEM_COLUMNS, 'item id', names.itemColumn);
      itemName = colName(opts.itemColumn, ITEM_COLUMNS);
    }
  }

  const builder = (values: string[] | Record<string, unknown>): Built => {
    if (since) {
      const t = readTimestamp(since(values));
      if ('problem' in t) return { kind: 'invalid', field: sinceName, reason: t.problem };
      if (t.seconds < (opts.since as number)) return { kind: 'skip' };
    }
    const fv = filterValues(values);
    if (fv && 'reason' in fv)
      return { kind: 'invalid', field: fv.field as string, reason: fv.reason as string };
    const fvRecord = fv as Record<string, string> | undefined;

    if (attrs) {
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
      return { kind: 'record', key: q, record: withFilters({ itemAttributes: q }, fvRecord) };
    }

    const rawKey = (key as Accessor)(values);
    const k = toText(rawKey);
    if (k === null) return { kind: 'invalid', field: keyName, reason: notText(rawKey) };
    const id = k === undefined ? '' : k.trim();
    if (id === '') {
      const missing = keyed && k === undefined && header !== null;
      const reason = missing
        ? `missing from this object (the first object's keys are ${cols.map((c) => JSON.stringify(c)).join(', ')})`
        : 'empty';
      return { kind: 'invalid', field: keyName, reason };
    }

    if (item) {
      const it = toText(item(values));
      const itemId = typeof it === 'string' ? it.trim() : '';
      if (itemId === '') return { kind: 'invalid', field: itemName, reason: 'empty or not text' };
      return { kind: 'pair', key: id, item: itemId, filterValues: fvRecord };
    }
    if (list) {
      const raw = list(values);
      let items: string[];
      if (Array.isArray(raw)) items = raw.map((x) => String(x).trim()).filter((x) => x !== '');
      else {
        const text = toText(raw);
        if (text === null)
          return { kind: 'invalid', field: 'itemList', reason: 'must be a list or delimited text' };
        const cell = listCell(text ?? '', opts.listSeparator);
        if ('problem' in cell) return { kind: 'invalid', field: listName, reason: cell.problem };
        items = cell.items;
      }
      items = [...new Set(items)];
      return { kind: 'record', key: id, record: withFilters({ userId: id, itemList: items }, fvRecord) };
    }
    const rec: BatchInput =
      fam.key === 'userId' ? { userId: id } : fam.key === 'itemId' ? { itemId: id } : { itemAttributes: id };
    return { kind: 'record', key: id, record: withFilters(rec, fvRecord) };
  };
  const sourceField = (field: string): string => {
    if (field === fam.key && !attrs && header !== null) return keyName;
    const f = /^filterValues\.(.+)$/.exec(field);
    const spec = f ? filters.find((x) => x.name === f[1]) : undefined;
    return spec && 'column' in spec && spec.column ? spec.column : field;
  };
  return Object.assign(builder, { fieldsNeeded, sourceField, keyColumn, idColumn });
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

/** undefined for a missing/null cell, null for something that cannot be an id (object, array, boolean). */
function toText(v: unknown): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  // JSON.parse has already rounded an integer past 2^53; its digits are not the id any more.
  if (typeof v === 'number' && Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v))) {
    return String(v);
  }
  if (typeof v === 'bigint') return String(v);
  return null;
}

function notText(v: unknown): string {
  return typeof v === 'number' && Number.isInteger(v)
    ? 'a number too large to read exactly (over 2^53): write it as a string in the source'
    : 'must be text or a number';
}

/**
 * The items of one item-list cell: split on the separator, or a JSON list
 * (`["a","b"]`) read as one. A Python list (`['a', 'b']`) or commas with no
 * separator in sight would come out as one odd item: refused with the fix.
 */
function listCell(text: string, sep: string): { items: string[] } | { problem: string } {
  const t = text.trim();
  if (t.startsWith('[') && t.endsWith(']')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      return {
        problem: `${JSON.stringify(t.slice(0, 40))} looks like a Python list; write the items separated by ${JSON.stringify(sep)} (or as a JSON list)`,
      };
    }
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
      return { items: v.map((x) => String(x).trim()).filter((x) => x !== '') };
    return { problem: 'a JSON list in the cell must hold item ids (strings or numbers)' };
  }
  if (sep !== ',' && t.includes(',') && !t.includes(sep)) {
    return {
      problem: `${JSON.stringify(t.slice(0, 40))} has commas but no ${JSON.stringify(sep)}: if the items are separated by commas, pass --list-separator ','`,
    };
  }
  return { items: splitValues(t, sep) };
}

function splitValues(text: string, sep: string): string[] {
  return text
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Epoch seconds from a cell: see parseTimestamp (strict: epoch seconds or milliseconds, ISO 8601). */
export const parseTime = parseTimestamp;
