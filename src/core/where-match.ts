/**
 * A parsed `--where` resolved against one source's columns, once, into a function from a row to
 * keep or not. The value rules (README, prepare's "Row filters"): a cell is trimmed; it compares
 * with a bare number as a number when it reads as one, with a bare ISO date or time as a time
 * when it reads as one, else as text, case-sensitive. Nothing is held from row to row.
 */
import { PbError } from '../errors.js';
import { normalizeName } from './columns.js';
import { alternatives, closest } from './suggest.js';
import {
  type ColumnRef,
  type CompareOp,
  KEYWORDS,
  type Literal,
  readNumber,
  readTime,
  type WhereExpr,
  type WhereNode,
  whereError,
} from './where.js';

type Values = string[] | Record<string, unknown>;
type Cell = (values: Values) => unknown;
type Test = (values: Values) => boolean;

export interface CompiledWhere {
  /** Whether a row is kept; `line` (the row's, for messages) is noted where a cell is ordered as text. */
  test: (values: Values, line?: number) => boolean;
  /** How many leading fields of a positional row the filter reads. */
  fieldsNeeded: number;
  /** Keys of a JSON source that its first object lacks (trusted, since objects may differ). */
  warnings: string[];
  /**
   * After the rows, the warnings of what the rules decided that is rarely meant: for each `<`,
   * `<=`, `>`, `>=` against a bare number or date, the cells (not empty) ordered as text because
   * they are not one (`1.234,50`, `05.01.1980`); for each `=`, `!=`, `in`, `not in` against text,
   * the cells that differ from a value only by case (`TRUE` for `true`). Counts, the first line.
   */
  afterRows(): string[];
}

/** Cells that equal no value of an equality but one of them without case: their spellings. */
interface CaseOnly {
  column: string;
  negated: boolean;
  values: Literal[];
  cells: number;
  spellings: string[];
  line: number | undefined;
}

/** Cells a comparison with a number or date ordered as text, and the first one. */
interface AsText {
  column: string;
  op: CompareOp;
  value: Literal;
  cells: number;
  first: string;
  line: number | undefined;
}

/**
 * A cell as text: trimmed; missing and null are empty; a JSON number, boolean or big integer as
 * JSON prints it; an object or list as its JSON.
 */
export function cellText(raw: unknown): string {
  if (typeof raw === 'string') return raw.trim();
  if (raw === undefined || raw === null) return '';
  if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') return String(raw);
  return JSON.stringify(raw);
}

/** A cell as a number: a JSON number is one; text by readNumber's rule. */
function cellNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  return typeof raw === 'string' ? readNumber(raw.trim()) : undefined;
}

function cellTime(raw: unknown): number | undefined {
  return typeof raw === 'string' ? readTime(raw.trim()) : undefined;
}

const ORDER: Record<CompareOp, (a: number | string, b: number | string) => boolean> = {
  '=': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/**
 * The filter for a source whose columns are `header` (null: plain text, which has none). A column
 * the header lacks is a usage error listing it; in a JSON source, a key the first object lacks is
 * trusted with a warning, as later objects may have it.
 */
export function compileWhere(
  expr: WhereExpr,
  header: readonly string[] | null,
  keyed: boolean,
  file: string,
  /** How to read a plain file as one numbered column, in the caller's option names. */
  asColumns = '--format csv --no-header --column 1',
): CompiledWhere {
  if (header === null)
    throw new PbError(
      'PB_USAGE',
      `${expr.option} needs named columns, but this is plain text (one value a line, no header): read it with ${asColumns}, and the column is 1 (${expr.option} "1 != x"); or give the file a header line`,
      { file },
    );
  const state = { fieldsNeeded: 0, warnings: [] as string[], line: undefined as number | undefined };
  const asText: AsText[] = [];
  const noteText = (ref: ColumnRef, op: CompareOp, value: Literal) => {
    const a: AsText = { column: ref.name, op, value, cells: 0, first: '', line: undefined };
    asText.push(a);
    return (text: string) => {
      if (text === '' || a.cells++ > 0) return;
      a.first = text;
      a.line = state.line;
    };
  };
  const caseOnly: CaseOnly[] = [];
  const noteCase: NoteCase = (ref, negated, values) => {
    const texts = values.filter((l) => l.number === undefined && l.time === undefined);
    if (texts.length === 0) return undefined;
    const c: CaseOnly = { column: ref.name, negated, values, cells: 0, spellings: [], line: undefined };
    caseOnly.push(c);
    const lower = new Set(texts.map((l) => l.text.toLowerCase()));
    return (text: string) => {
      if (text === '' || !lower.has(text.toLowerCase())) return;
      if (c.cells++ === 0) c.line = state.line;
      if (c.spellings.length < 4 && !c.spellings.includes(text)) c.spellings.push(text);
    };
  };
  const cellOf = (ref: ColumnRef): Cell => {
    const found = findColumn(expr, ref, header, keyed, file);
    if ('warning' in found) {
      if (!state.warnings.includes(found.warning)) state.warnings.push(found.warning);
      return (v) => (v as Record<string, unknown>)[ref.name];
    }
    if (keyed) {
      const key = header[found.index] as string;
      return (v) => (v as Record<string, unknown>)[key];
    }
    const index = found.index;
    state.fieldsNeeded = Math.max(state.fieldsNeeded, index + 1);
    return (v) => (v as string[])[index];
  };
  const node = compileNode(expr.root, cellOf, { text: noteText, case: noteCase });
  return {
    test: (values, line) => {
      state.line = line;
      return node(values);
    },
    fieldsNeeded: state.fieldsNeeded,
    warnings: state.warnings,
    afterRows: () => [
      ...asText.filter((a) => a.cells > 0).map((a) => asTextWarning(expr.option, a)),
      ...caseOnly.filter((c) => c.cells > 0).map((c) => caseWarning(expr.option, c)),
    ],
  };
}

/** The warning for cells ordered as text where a number or a date was compared. */
function asTextWarning(option: string, a: AsText): string {
  const date = a.value.number === undefined;
  const column = JSON.stringify(a.column);
  const at = a.line === undefined ? '' : `line ${a.line}: `;
  const rule = date
    ? 'a cell compares as a time only in ISO 8601, 2026-01-05'
    : 'a number is digits with an optional .fraction, 1234.5';
  const one = a.cells === 1;
  const what = date ? (one ? 'an ISO date or time' : 'ISO dates or times') : one ? 'a number' : 'numbers';
  return `${option}: ${a.cells} cell${one ? '' : 's'} of ${column} ${one ? 'is' : 'are'} not ${what}, so ${column} ${a.op} ${a.value.text} ordered ${one ? 'it' : 'them'} as text (${at}${JSON.stringify(a.first)}; ${rule})`;
}

const BARE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A value as --where takes it back: a bare word when it is one, else 'quoted'. */
function valueText(text: string): string {
  if (BARE.test(text) && !KEYWORDS.has(text.toLowerCase())) return text;
  return `'${text.replace(/'/g, "''")}'`;
}

/** The warning for cells that differ from a value only by case, with the expression that takes them. */
function caseWarning(option: string, c: CaseOnly): string {
  const column =
    BARE.test(c.column) && !KEYWORDS.has(c.column.toLowerCase()) ? c.column : JSON.stringify(c.column);
  const given = c.values.map((l) => (l.quoted ? valueText(l.text) : l.text));
  const one = c.cells === 1;
  const spelled = c.spellings.map((x) => JSON.stringify(x)).join(', ');
  const fix = `${column} ${c.negated ? 'not in' : 'in'} (${[...given, ...c.spellings.map(valueText)].join(', ')})`;
  return `${option}: ${c.cells} cell${one ? '' : 's'} of ${JSON.stringify(c.column)} differ${one ? 's' : ''} only by case from ${given.length === 1 ? given[0] : `(${given.join(', ')})`} (${spelled}; line ${c.line ?? '?'} the first), and text compares case-sensitively: ${c.negated ? 'to leave them out too' : 'to keep them too'}, write ${fix}`;
}

/** Makes the notes of a comparison: cells ordered as text, cells equal but for case. */
interface Notes {
  text: (ref: ColumnRef, op: CompareOp, value: Literal) => (text: string) => void;
  case: NoteCase;
}
type NoteCase = (ref: ColumnRef, negated: boolean, values: Literal[]) => ((text: string) => void) | undefined;

function compileNode(node: WhereNode, cellOf: (ref: ColumnRef) => Cell, note: Notes): Test {
  switch (node.kind) {
    case 'or': {
      const items = node.items.map((n) => compileNode(n, cellOf, note));
      return (v) => items.some((t) => t(v));
    }
    case 'and': {
      const items = node.items.map((n) => compileNode(n, cellOf, note));
      return (v) => items.every((t) => t(v));
    }
    case 'not': {
      const item = compileNode(node.item, cellOf, note);
      return (v) => !item(v);
    }
    case 'compare': {
      // Equality with a cell of another form is simply false; an order as text is seldom the one meant.
      const ordered = node.op !== '=' && node.op !== '!=' && !node.value.quoted;
      const noted = ordered && (node.value.number !== undefined || node.value.time !== undefined);
      const cell = cellOf(node.column);
      if (node.op === '=' || node.op === '!=') {
        const t = oneOf(cell, [node.value], note.case(node.column, node.op === '!=', [node.value]));
        return node.op === '!=' ? (v) => !t(v) : t;
      }
      return compare(
        cell,
        node.op,
        node.value,
        noted ? note.text(node.column, node.op, node.value) : undefined,
      );
    }
    case 'in': {
      const t = oneOf(cellOf(node.column), node.values, note.case(node.column, node.negated, node.values));
      return node.negated ? (v) => !t(v) : t;
    }
    case 'empty': {
      const cell = cellOf(node.column);
      return node.negated ? (v) => cellText(cell(v)) !== '' : (v) => cellText(cell(v)) === '';
    }
  }
}

/**
 * One comparison: as numbers or times when the value is one and the cell reads as one too, else as
 * text (told to `asText`, if given).
 */
function compare(cell: Cell, op: CompareOp, lit: Literal, asText?: (text: string) => void): Test {
  const holds = ORDER[op];
  const { number, time, text } = lit;
  const asTextHolds = (raw: unknown) => {
    const t = cellText(raw);
    asText?.(t);
    return holds(t, text);
  };
  if (number !== undefined)
    return (v) => {
      const raw = cell(v);
      const n = cellNumber(raw);
      return n !== undefined ? holds(n, number) : asTextHolds(raw);
    };
  if (time !== undefined)
    return (v) => {
      const raw = cell(v);
      const t = cellTime(raw);
      return t !== undefined ? holds(t, time) : asTextHolds(raw);
    };
  return (v) => holds(cellText(cell(v)), text);
}

/** `in (...)`: equal to any of the values, each by compare's rule. */
function oneOf(cell: Cell, values: Literal[], caseOnly?: (text: string) => void): Test {
  if (values.every((l) => l.number === undefined && l.time === undefined)) {
    const texts = new Set(values.map((l) => l.text));
    if (!caseOnly) return (v) => texts.has(cellText(cell(v)));
    return (v) => {
      const text = cellText(cell(v));
      if (texts.has(text)) return true;
      caseOnly(text);
      return false;
    };
  }
  const tests = values.map((l) => compare(cell, '=', l));
  if (!caseOnly) return (v) => tests.some((t) => t(v));
  return (v) => {
    if (tests.some((t) => t(v))) return true;
    caseOnly(cellText(cell(v)));
    return false;
  };
}

/**
 * A column by the name the expression gives: exactly; else the one header name equal without
 * case, or without case, spaces and `_ - .` (as --column matches). Several equal is ambiguous.
 */
function findColumn(
  expr: WhereExpr,
  ref: ColumnRef,
  header: readonly string[],
  keyed: boolean,
  file: string,
): { index: number } | { warning: string } {
  const name = ref.name;
  const fail = (reason: string) => whereError(expr.option, expr.text, ref.pos, reason, file);
  for (const same of [
    (h: string) => h === name,
    (h: string) => h.toLowerCase() === name.toLowerCase(),
    (h: string) => normalizeName(h) === normalizeName(name),
  ]) {
    const hits = header.flatMap((h, i) => (same(h) ? [i] : []));
    if (hits.length === 1) return { index: hits[0] as number };
    if (hits.length > 1)
      throw fail(
        `the column ${JSON.stringify(name)} is ambiguous: the ${keyed ? 'keys' : 'header'} ${hits.map((i) => JSON.stringify(header[i])).join(' and ')} (columns ${hits.map((i) => i + 1).join(' and ')}) all fit; rename one in the file`,
      );
  }
  const near = closest(name, header);
  const didYouMean =
    near.length > 0 ? `; did you mean ${alternatives(near.map((n) => JSON.stringify(n)))}?` : '';
  const listed = header.map((h) => JSON.stringify(h)).join(', ');
  if (keyed)
    return {
      warning: `${expr.option}: the first object has no key ${JSON.stringify(name)} (its keys are ${listed}${didYouMean}); objects without it count as empty`,
    };
  throw fail(`no column ${JSON.stringify(name)} (the header has ${listed}${didYouMean})`);
}
