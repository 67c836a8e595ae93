/**
 * `--where EXPR`: the row-filter grammar, parsed once into a tree. Matching a row against it is
 * where-match.ts's. The grammar (README, prepare's "Row filters"):
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | column pred
 *   pred    := ('=' | '!=' | '<' | '<=' | '>' | '>=') value
 *            | ['not'] 'in' '(' value (',' value)* ')'
 *            | 'is' ['not'] 'empty'
 *
 * The left side is always a column and the right side always a value: `a = b` compares column a
 * with the text "b", never two columns. Keywords are case-insensitive; a column named like one is
 * written "quoted" or `backticked`.
 */
import { PbError } from '../errors.js';
import { parseIsoTime } from './dates.js';

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** A column as the expression names it, and where (for messages). */
export interface ColumnRef {
  name: string;
  /** 0-based offset of its first character in the expression. */
  pos: number;
}

/**
 * A value as written. `number` and `time` are set for a bare value that reads as one (a quoted
 * value is always text): a row's cell compares with it as a number or a time only when the cell
 * reads as one too.
 */
export interface Literal {
  text: string;
  quoted: boolean;
  number?: number;
  /** Epoch seconds of an ISO 8601 date or time. */
  time?: number;
}

export type WhereNode =
  | { kind: 'or' | 'and'; items: WhereNode[] }
  | { kind: 'not'; item: WhereNode }
  | { kind: 'compare'; column: ColumnRef; op: CompareOp; value: Literal }
  | { kind: 'in'; column: ColumnRef; values: Literal[]; negated: boolean }
  | { kind: 'empty'; column: ColumnRef; negated: boolean };

/** A parsed expression: its text (for messages), its tree, and the option it came from. */
export interface WhereExpr {
  text: string;
  root: WhereNode;
  option: string;
}

type Token =
  | { kind: '(' | ')' | ','; pos: number }
  | { kind: 'op'; op: CompareOp; pos: number }
  /** A bare word: a keyword, a column name or a value, by where it stands. */
  | { kind: 'word'; text: string; pos: number }
  /** 'single-quoted': always a value. */
  | { kind: 'string'; text: string; pos: number }
  /** "double-quoted" or `backticked`: always a column name. */
  | { kind: 'name'; text: string; pos: number }
  | { kind: 'end'; pos: number };

/**
 * Numbers as the filter reads them: an optional minus, digits, an optional fraction. A leading
 * zero (`007`, a zip code `01234`), an exponent, a `+` or a thousands separator makes it text, so
 * ids that look like numbers are not compared as numbers by accident.
 */
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/** The number a text is by NUMBER's rule, or undefined. */
export function readNumber(text: string): number | undefined {
  return NUMBER.test(text) ? Number(text) : undefined;
}

/** The epoch seconds an ISO 8601 date or time is (dates.ts's strict reading), or undefined. */
export function readTime(text: string): number | undefined {
  // Only a text that starts like a date can be one: the check spares the regex on most cells.
  const c = text.charCodeAt(4);
  return c === 45 /* - */ ? parseIsoTime(text) : undefined;
}

/** Characters that end a bare word. */
const SPECIAL = new Set([' ', '\t', '\r', '\n', '(', ')', ',', '=', '!', '<', '>', "'", '"', '`']);

/** A usage error that shows the expression with a caret under character `pos` (0-based). */
export function whereError(
  option: string,
  text: string,
  pos: number,
  reason: string,
  file?: string,
): PbError {
  return new PbError('PB_USAGE', `${option}: ${reason} at character ${pos + 1}:\n${pointAt(text, pos)}`, {
    file,
  });
}

/** The expression on one line (a window of it when long), and a caret under `pos`. */
export function pointAt(text: string, pos: number): string {
  const flat = text.replace(/[\r\n\t]/g, ' ');
  const WIDTH = 100;
  let start = 0;
  if (flat.length > WIDTH) start = Math.max(0, Math.min(pos - 60, flat.length - WIDTH));
  const head = start > 0 ? '...' : '';
  const shown = flat.slice(start, start + WIDTH);
  const tail = start + WIDTH < flat.length ? '...' : '';
  return `  ${head}${shown}${tail}\n  ${' '.repeat(head.length + pos - start)}^`;
}

function tokenize(text: string, option: string): Token[] {
  const tokens: Token[] = [];
  const fail = (pos: number, reason: string) => whereError(option, text, pos, reason);
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, pos: i++ });
    } else if (c === "'" || c === '"' || c === '`') {
      const { value, next } = quoted(text, i, fail);
      tokens.push({ kind: c === "'" ? 'string' : 'name', text: value, pos: i });
      i = next;
    } else if (c === '=' || c === '!' || c === '<' || c === '>') {
      const two = text.slice(i, i + 2);
      if (two === '==') throw fail(i, "'==' is not an operator: write = for equal");
      if (two === '<>') throw fail(i, "'<>' is not an operator: write != for not equal");
      if (two === '!=' || two === '<=' || two === '>=') {
        tokens.push({ kind: 'op', op: two, pos: i });
        i += 2;
      } else if (c === '!') throw fail(i, "a lone '!': write != for not equal, or not before a condition");
      else tokens.push({ kind: 'op', op: c as CompareOp, pos: i++ });
    } else {
      let j = i;
      while (j < text.length && !SPECIAL.has(text[j] as string)) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), pos: i });
      i = j;
    }
  }
  tokens.push({ kind: 'end', pos: text.length });
  return tokens;
}

/** A quoted string or name from `start` (its opening quote); the quote doubled stands for itself. */
function quoted(
  text: string,
  start: number,
  fail: (pos: number, reason: string) => Error,
): { value: string; next: number } {
  const q = text[start] as string;
  let value = '';
  let i = start + 1;
  for (;;) {
    const end = text.indexOf(q, i);
    if (end < 0) throw fail(start, `this ${q} is never closed (a ${q} inside is written ${q}${q})`);
    value += text.slice(i, end);
    if (text[end + 1] !== q) return { value, next: end + 1 };
    value += q;
    i = end + 2;
  }
}

export const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'empty']);

function isKeyword(t: Token, word: string): boolean {
  return t.kind === 'word' && t.text.toLowerCase() === word;
}

/** What a token is called in a message. */
function shown(t: Token): string {
  switch (t.kind) {
    case 'end':
      return 'the end';
    case 'op':
      return `'${t.op}'`;
    case 'word':
      return `'${t.text}'`;
    case 'string':
      return `'${t.text.replace(/'/g, "''")}'`;
    case 'name':
      return `"${t.text}"`;
    default:
      return `'${t.kind}'`;
  }
}

/** Recursive descent over the tokens, one method a level of the grammar. */
class Parser {
  private i = 0;
  /** The token of the column last read, for the hint that bare words after it may be its name. */
  private columnAt = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly text: string,
    private readonly option: string,
  ) {}

  /** The current token (a call, so that TypeScript does not keep a narrowing past this.i++). */
  private t(): Token {
    return this.tokens[this.i] as Token;
  }

  private fail(t: Token, reason: string): Error {
    return whereError(this.option, this.text, t.pos, reason);
  }

  whole(): WhereNode {
    if (this.t().kind === 'end')
      throw this.fail(this.t(), 'empty: expected a condition such as opt_in = true');
    const root = this.or();
    const t = this.t();
    if (t.kind === ')') throw this.fail(t, "a ')' without its '('");
    if (t.kind !== 'end') throw this.fail(t, `expected and, or or the end, got ${shown(t)}`);
    return root;
  }

  private or(): WhereNode {
    const items = [this.and()];
    while (isKeyword(this.t(), 'or')) {
      this.i++;
      items.push(this.and());
    }
    return items.length === 1 ? (items[0] as WhereNode) : { kind: 'or', items };
  }

  private and(): WhereNode {
    const items = [this.unary()];
    while (isKeyword(this.t(), 'and')) {
      this.i++;
      items.push(this.unary());
    }
    return items.length === 1 ? (items[0] as WhereNode) : { kind: 'and', items };
  }

  private unary(): WhereNode {
    const t = this.t();
    if (isKeyword(t, 'not')) {
      this.i++;
      return { kind: 'not', item: this.unary() };
    }
    if (t.kind === '(') {
      this.i++;
      const inner = this.or();
      if (this.t().kind !== ')')
        throw this.fail(
          this.t(),
          `expected ')' to close the '(' at character ${t.pos + 1}, got ${shown(this.t())}`,
        );
      this.i++;
      return inner;
    }
    return this.predicate(this.column());
  }

  /**
   * When the bare column at token `at` and the bare words after it stand where a name would, up to
   * an operator (`Opt In = true`, `Company name is empty`), the hint that they may be one name
   * with spaces, quoted; else ''.
   */
  private spacedName(at: number): string {
    const tok = (k: number) => this.tokens[k] as Token;
    let j = at + 1;
    for (;;) {
      const t = tok(j);
      if (t.kind !== 'word' || isKeyword(t, 'is')) break;
      if (isKeyword(t, 'in') && tok(j + 1).kind === '(') break;
      if (isKeyword(t, 'not') && isKeyword(tok(j + 1), 'in') && tok(j + 2).kind === '(') break;
      if (isKeyword(t, 'and') || isKeyword(t, 'or')) return '';
      j++;
    }
    const first = tok(at);
    const last = tok(j - 1);
    if (j === at + 1 || first.kind !== 'word' || last.kind !== 'word') return '';
    if (tok(j).kind !== 'op' && tok(j).kind !== 'word') return '';
    const name = JSON.stringify(this.text.slice(first.pos, last.pos + last.text.length));
    return ` (is ${name} one column? A name with spaces is written in double quotes: ${name})`;
  }

  private column(): ColumnRef {
    const t = this.t();
    if (t.kind === 'name' || (t.kind === 'word' && !KEYWORDS.has(t.text.toLowerCase()))) {
      this.columnAt = this.i;
      this.i++;
      return { name: t.text, pos: t.pos };
    }
    if (t.kind === 'string')
      throw this.fail(
        t,
        `expected a column name, got the value ${shown(t)}: the left side of a comparison is a column, the right side a value (a name with spaces is written "like this")`,
      );
    if (t.kind === 'word')
      throw this.fail(
        t,
        `expected a column name, got ${shown(t)} (a column named ${shown(t)} is written "${t.text}")`,
      );
    throw this.fail(t, `expected a column name, got ${shown(t)}`);
  }

  private predicate(column: ColumnRef): WhereNode {
    const t = this.t();
    if (t.kind === 'op') {
      this.i++;
      return { kind: 'compare', column, op: t.op, value: this.value(`after '${t.op}'`) };
    }
    if (isKeyword(t, 'is')) {
      this.i++;
      const negated = isKeyword(this.t(), 'not');
      if (negated) this.i++;
      if (!isKeyword(this.t(), 'empty'))
        throw this.fail(
          this.t(),
          `expected empty after '${negated ? 'is not' : 'is'}', got ${shown(this.t())}`,
        );
      this.i++;
      return { kind: 'empty', column, negated };
    }
    const negated = isKeyword(t, 'not') && isKeyword(this.tokens[this.i + 1] as Token, 'in');
    if (negated) this.i++;
    if (isKeyword(this.t(), 'in')) {
      this.i++;
      return { kind: 'in', column, values: this.list(), negated };
    }
    throw this.fail(
      t,
      `expected an operator after the column ${JSON.stringify(column.name)} (= != < <= > >=, in (...), is empty, is not empty), got ${shown(t)}${this.spacedName(this.columnAt)}`,
    );
  }

  private list(): Literal[] {
    if (this.t().kind !== '(')
      throw this.fail(
        this.t(),
        `expected '(' after in, got ${shown(this.t())}${this.spacedName(this.columnAt)}`,
      );
    this.i++;
    const values = [this.value("in the list of 'in'")];
    while (this.t().kind === ',') {
      this.i++;
      values.push(this.value("after ','"));
    }
    if (this.t().kind !== ')')
      throw this.fail(this.t(), `expected ',' or ')' in the list of 'in', got ${shown(this.t())}`);
    this.i++;
    return values;
  }

  private value(where: string): Literal {
    const t = this.t();
    if (t.kind === 'string') {
      this.i++;
      return { text: t.text, quoted: true };
    }
    if (t.kind === 'word' && !KEYWORDS.has(t.text.toLowerCase())) {
      this.i++;
      const number = readNumber(t.text);
      if (number !== undefined) return { text: t.text, quoted: false, number };
      const time = readTime(t.text);
      return time === undefined ? { text: t.text, quoted: false } : { text: t.text, quoted: false, time };
    }
    const hint =
      t.kind === 'name'
        ? ` (a value is written 'in single quotes'; "double quotes" name a column, and a column is never compared with a column)`
        : t.kind === 'word'
          ? ` (the word ${t.text} as a value is written '${t.text}')`
          : '';
    throw this.fail(t, `expected a value ${where}, got ${shown(t)}${hint}`);
  }
}

/** Parses `text`; a syntax error is a usage error naming `option` and pointing at the character. */
export function parseWhere(text: string, option = '--where'): WhereExpr {
  const tokens = tokenize(text, option);
  const root = new Parser(tokens, text, option).whole();
  return { text, root, option };
}

/** Every column the expression names, in order (repeats kept). */
export function whereColumns(node: WhereNode): ColumnRef[] {
  switch (node.kind) {
    case 'or':
    case 'and':
      return node.items.flatMap(whereColumns);
    case 'not':
      return whereColumns(node.item);
    default:
      return [node.column];
  }
}
