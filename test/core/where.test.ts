/**
 * --where: the grammar, its precedence, every operator, how values compare (numbers, ISO times,
 * text), quoting, the errors' carets, columns resolved against a header, and an oracle over
 * random expressions and rows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseWhere } from '../../src/core/where.js';
import { cellText, compileWhere } from '../../src/core/where-match.js';
import { prng, throwsWith } from '../helpers.js';

const HEADER = ['email', 'country', 'last_login', 'age', 'opt_in', 'Customer Name', 'and'];

/** Which of the rows (objects by column name) the expression keeps, as CSV rows would be read. */
function keep(expr: string, rows: Record<string, string>[], header = HEADER): number[] {
  const w = compileWhere(parseWhere(expr), header, false, 'f.csv');
  return rows.flatMap((r, i) => (w.test(header.map((h) => r[h] ?? '')) ? [i] : []));
}

function syntaxError(expr: string): string {
  return throwsWith(() => parseWhere(expr), 'PB_USAGE').message;
}

describe('where: comparisons', () => {
  const rows = [
    { country: 'DE', age: '9', last_login: '2026-01-01', opt_in: 'true' },
    { country: 'AT', age: '10', last_login: '2025-12-31T23:59:59Z', opt_in: 'TRUE' },
    { country: 'de', age: ' 10.0 ', last_login: '2026-01-01T00:30:00+01:00', opt_in: 'false' },
    { country: '', age: 'ten', last_login: '01.02.2026', opt_in: '' },
  ];
  test('= and != on text are case-sensitive', () => {
    assert.deepEqual(keep("country = 'DE'", rows), [0]);
    assert.deepEqual(keep('country = DE', rows), [0]);
    assert.deepEqual(keep("country != 'DE'", rows), [1, 2, 3]);
    assert.deepEqual(keep('opt_in = true', rows), [0]);
    assert.deepEqual(keep('opt_in = TRUE', rows), [1]);
  });
  test('numbers compare as numbers when the cell is one (trimmed), else as text', () => {
    // "ten" is no number: it compares as text, and "ten" > "9".
    assert.deepEqual(keep('age > 9', rows), [1, 2, 3]);
    assert.deepEqual(keep('age >= 10', rows), [1, 2, 3]);
    assert.deepEqual(keep('age < 10', rows), [0]); // "ten" < "10" is false as text
    assert.deepEqual(keep('age <= 9', rows), [0]);
    assert.deepEqual(keep('age = 10', rows), [1, 2]); // 10.0 is 10
    assert.deepEqual(keep("age = '10'", rows), [1]); // quoted: text, and " 10.0 " trims to "10.0"
    assert.deepEqual(keep('age > 1000', rows), [3]); // "ten" > "1000" as text
  });
  test('ISO dates compare as times, offsets applied; a European date is text', () => {
    // 2025-12-31T23:59:59Z and 2026-01-01T00:30:00+01:00 are before; "01.02.2026" < "2026-01-01" as text.
    assert.deepEqual(keep('last_login >= 2026-01-01', rows), [0]);
    assert.deepEqual(keep('last_login < 2026-01-01', rows), [1, 2, 3]);
  });
  test('in, not in, is empty, is not empty', () => {
    assert.deepEqual(keep("country in ('DE', 'AT')", rows), [0, 1]);
    assert.deepEqual(keep("country not in ('DE','AT')", rows), [2, 3]);
    assert.deepEqual(keep('age in (9, 10)', rows), [0, 1, 2]);
    assert.deepEqual(keep('country is empty', rows), [3]);
    assert.deepEqual(keep('country IS NOT EMPTY', rows), [0, 1, 2]);
    assert.deepEqual(keep('email is empty', rows), [0, 1, 2, 3]); // missing reads as empty
  });
  test('not, and, or, and parentheses', () => {
    assert.deepEqual(keep("not country = 'DE'", rows), [1, 2, 3]);
    assert.deepEqual(keep("country = 'DE' or country = 'AT' and age > 9", rows), [0, 1]);
    assert.deepEqual(keep("(country = 'DE' or country = 'AT') and age > 9", rows), [1]);
    assert.deepEqual(keep("not country = 'DE' and not country = 'AT'", rows), [2, 3]);
    assert.deepEqual(keep("not (country = 'DE' or country = 'AT')", rows), [2, 3]);
    assert.deepEqual(keep("country = 'DE' Or age = 10 AND opt_in = false", rows), [0, 2]);
  });
});

describe('where: values', () => {
  test('the cell of a time compared with a date', () => {
    const rows = [
      { last_login: '2026-01-01T00:30:00+01:00' }, // 2025-12-31T23:30Z
      { last_login: '2026-01-01 00:00:00' },
      { last_login: '2026-02-30' }, // not a date: text, "2026-02-30" > "2026-01-01"
      { last_login: '1767225600' }, // epoch seconds are a number, not a date: text
    ];
    assert.deepEqual(keep('last_login >= 2026-01-01', rows), [1, 2]);
    assert.deepEqual(keep('last_login < 2026-01-01T00:00:00Z', rows), [0, 3]);
    assert.deepEqual(keep("last_login >= '2026-01-01'", rows), [0, 1, 2]); // quoted: text
  });
  test('numbers are strict: leading zeros, exponents, + and commas are text', () => {
    const rows = [
      { age: '007' },
      { age: '7' },
      { age: '7e0' },
      { age: '+7' },
      { age: '7,0' },
      { age: '-7.5' },
    ];
    assert.deepEqual(keep('age = 7', rows), [1]);
    assert.deepEqual(keep('age = 007', rows), [0]);
    assert.deepEqual(keep('age < 0', rows), [3, 5]); // "+7" < "0" as text
  });
  test("quoting: '' inside a string, \"names\" and `names` with spaces or a keyword's name", () => {
    const rows = [
      { 'Customer Name': "O'Neil", and: 'x' },
      { 'Customer Name': 'Smith', and: 'y' },
    ];
    assert.deepEqual(keep(`"Customer Name" = 'O''Neil'`, rows), [0]);
    assert.deepEqual(keep("`Customer Name` != 'O''Neil'", rows), [1]);
    assert.deepEqual(keep(`"and" = y`, rows), [1]);
    assert.deepEqual(keep(`"Customer ""Name""" is empty`, rows, ['Customer "Name"']), [0, 1]);
  });
  test('columns match as --column does: exactly, then without case, spaces or _', () => {
    assert.deepEqual(keep("COUNTRY = 'DE'", [{ country: 'DE' }]), [0]);
    assert.deepEqual(keep("customer_name = 'x'", [{ 'Customer Name': 'x' }]), [0]);
  });
  test('JSON values: numbers as numbers, booleans as true/false, null and missing as empty', () => {
    const w = compileWhere(parseWhere('n > 9 and b = true and z is empty'), ['n', 'b', 'z'], true, 'f.jsonl');
    assert.equal(w.test({ n: 10, b: true, z: null }), true);
    assert.equal(w.test({ n: 10, b: true }), true);
    assert.equal(w.test({ n: '10', b: 'true', z: '  ' }), true);
    assert.equal(w.test({ n: 9, b: true }), false);
    assert.equal(w.test({ n: 10, b: false }), false);
    assert.equal(w.test({ n: 10, b: true, z: 0 }), false);
    assert.equal(cellText([1, 'a']), '[1,"a"]');
    assert.equal(cellText(12n), '12');
  });
});

describe('where: errors', () => {
  test('a syntax error shows the expression and a caret under the character', () => {
    assert.equal(
      syntaxError("country = 'DE' and x >="),
      "--where: expected a value after '>=', got the end at character 24:\n  country = 'DE' and x >=\n                         ^",
    );
    const m = syntaxError("country = 'DE' annd x = 1");
    assert.match(m, /expected and, or or the end, got 'annd' at character 16/);
    assert.match(m, /\n {17}\^$/);
  });
  test('each mistake says what was expected', () => {
    assert.match(syntaxError(''), /empty: expected a condition/);
    assert.match(syntaxError("'DE' = country"), /left side of a comparison is a column/);
    assert.match(syntaxError('a == 1'), /'==' is not an operator: write = for equal at character 3/);
    assert.match(syntaxError('a <> 1'), /write != for not equal/);
    assert.match(syntaxError('a ! 1'), /a lone '!'/);
    assert.match(
      syntaxError('(a = 1'),
      /expected '\)' to close the '\(' at character 1, got the end at character 7/,
    );
    assert.match(syntaxError('a = 1)'), /a '\)' without its '\('/);
    assert.match(syntaxError("a = 'x"), /this ' is never closed .* at character 5/);
    assert.match(syntaxError('a = "b"'), /a column is never compared with a column/);
    assert.match(syntaxError('a in 1, 2'), /expected '\(' after in/);
    assert.match(syntaxError('a in (1 2)'), /expected ',' or '\)'/);
    assert.match(syntaxError('a is nothing'), /expected empty after 'is'/);
    assert.match(syntaxError('a like 1'), /expected an operator after the column "a" \(= != < <= > >=/);
    assert.match(syntaxError('a = and'), /the word and as a value is written 'and'/);
    assert.match(syntaxError('and = 1'), /a column named 'and' is written "and"/);
    assert.match(
      throwsWith(() => parseWhere('a =', '$.input.where'), 'PB_USAGE').message,
      /^\$\.input\.where: /,
    );
  });
  test('bare words where one name with spaces would stand: the hint to quote it', () => {
    const hint = (name: string) =>
      new RegExp(
        `\\(is "${name}" one column\\? A name with spaces is written in double quotes: "${name}"\\)`,
      );
    assert.match(syntaxError('Opt In = true'), hint('Opt In'));
    assert.match(syntaxError('Opt In in (true, TRUE)'), hint('Opt In'));
    assert.match(syntaxError('Opt In not in (false)'), hint('Opt In'));
    assert.match(syntaxError("Marketing contact status = 'x'"), hint('Marketing contact status'));
    assert.match(syntaxError('a = 1 and Company  name is empty'), hint('Company  name'));
    // Not where a name would stand: no hint.
    for (const e of ['opt_in in true', 'x y', 'a b and c = 1'])
      assert.doesNotMatch(syntaxError(e), /one column\?/, e);
  });
  test('a long expression is shown around the character, the caret under it', () => {
    const expr = `${Array.from({ length: 20 }, (_, i) => `c${i} = ${i}`).join(' and ')} and x >`;
    const lines = syntaxError(expr).split('\n');
    const caret = (lines[2] as string).indexOf('^');
    assert.equal((lines[1] as string).slice(caret - 3, caret), 'x >');
    assert.ok((lines[1] as string).startsWith('  ...'));
  });
  test('an unknown column lists the header and the closest name, with a caret', () => {
    const e = throwsWith(
      () => compileWhere(parseWhere("age > 1 and contry = 'DE'"), HEADER, false, 'users.csv'),
      'PB_USAGE',
    );
    assert.equal(e.file, 'users.csv');
    assert.match(e.message, /^users\.csv: --where: no column "contry" \(the header has "email", "country", /);
    assert.match(
      e.message,
      /did you mean "country"\?\) at character 13:\n {2}age > 1 and contry = 'DE'\n {14}\^$/,
    );
  });
  test('two header names that fit are ambiguous; plain text has no columns', () => {
    throwsWith(
      () => compileWhere(parseWhere('Country = 1'), ['country', 'COUNTRY'], false, 'f.csv'),
      'PB_USAGE',
      /ambiguous.*"country" and "COUNTRY" \(columns 1 and 2\)/,
    );
    throwsWith(
      () => compileWhere(parseWhere('x = 1'), null, false, 'ids.txt'),
      'PB_USAGE',
      /^ids\.txt: --where needs named columns, but this is plain text .*--format csv --no-header --column 1, and the column is 1/,
    );
  });
  test('a JSON key the first object lacks is trusted with a warning', () => {
    const w = compileWhere(parseWhere("contry = 'DE'"), ['id', 'country'], true, 'f.jsonl');
    assert.equal(w.warnings.length, 1);
    assert.match(
      w.warnings[0] as string,
      /no key "contry" \(its keys are "id", "country"; did you mean "country"\?\)/,
    );
    assert.equal(w.test({ id: 1, contry: 'DE' }), true);
    assert.equal(w.test({ id: 1, country: 'DE' }), false);
  });
  test('fieldsNeeded covers the last column read', () => {
    assert.equal(compileWhere(parseWhere('age = 1 or email = x'), HEADER, false, 'f').fieldsNeeded, 4);
  });
});

/** A random expression as a tree, printed with only the parentheses precedence needs (and some more). */
type Gen = { text: string; prec: number; eval: (row: Record<string, string>) => boolean };

const COLS = ['a', 'b', 'c'];
const CELLS = [
  '',
  '1',
  '2',
  '10',
  '-3.5',
  '007',
  'x',
  'X',
  'abc',
  '2026-01-01',
  '2025-12-31',
  '2026-01-01T12:00:00Z',
];
const VALUES = ['1', '2', '10', '-3.5', '007', 'x', 'X', 'abc', '2026-01-01', '2025-12-31', "'10'", "'x'"];

/** The documented rule, written independently: numbers, then dates (these cells are all UTC), then text. */
function oracleCompare(cell: string, op: string, value: string): boolean {
  const quoted = value.startsWith("'");
  const v = quoted ? value.slice(1, -1) : value;
  const num = /^-?(0|[1-9]\d*)(\.\d+)?$/;
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$/;
  let a: number | string = cell;
  let b: number | string = v;
  if (!quoted && num.test(v) && num.test(cell)) [a, b] = [Number(cell), Number(v)];
  else if (!quoted && date.test(v) && date.test(cell)) [a, b] = [Date.parse(cell), Date.parse(v)];
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function generate(rand: () => number, depth: number): Gen {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const r = rand();
  if (depth === 0 || r < 0.35) {
    const col = pick(COLS);
    const kind = rand();
    if (kind < 0.6) {
      const op = pick(['=', '!=', '<', '<=', '>', '>=']);
      const value = pick(VALUES);
      return {
        text: `${col} ${op} ${value}`,
        prec: 4,
        eval: (row) => oracleCompare(row[col] ?? '', op, value),
      };
    }
    if (kind < 0.85) {
      const values = [pick(VALUES), pick(VALUES)];
      const neg = rand() < 0.5;
      return {
        text: `${col} ${neg ? 'not in' : 'in'} (${values.join(', ')})`,
        prec: 4,
        eval: (row) => neg !== values.some((v) => oracleCompare(row[col] ?? '', '=', v)),
      };
    }
    const neg = rand() < 0.5;
    return { text: `${col} is ${neg ? 'not ' : ''}empty`, prec: 4, eval: (row) => neg !== (row[col] === '') };
  }
  if (r < 0.5) {
    const inner = generate(rand, depth - 1);
    const text = inner.prec < 3 || rand() < 0.2 ? `(${inner.text})` : inner.text;
    return { text: `not ${text}`, prec: 3, eval: (row) => !inner.eval(row) };
  }
  const and = r < 0.75;
  const prec = and ? 2 : 1;
  const l = generate(rand, depth - 1);
  const rt = generate(rand, depth - 1);
  const wrap = (g: Gen, right: boolean) =>
    g.prec < prec || (right && g.prec === prec) || rand() < 0.15 ? `(${g.text})` : g.text;
  return {
    text: `${wrap(l, false)} ${and ? 'and' : 'or'} ${wrap(rt, true)}`,
    prec,
    eval: and ? (row) => l.eval(row) && rt.eval(row) : (row) => l.eval(row) || rt.eval(row),
  };
}

test('where: random expressions keep the rows the documented rules keep', () => {
  const rand = prng(16);
  let kept = 0;
  for (let i = 0; i < 400; i++) {
    const g = generate(rand, 4);
    const w = compileWhere(parseWhere(g.text), COLS, false, 'f.csv');
    for (let j = 0; j < 20; j++) {
      const row = Object.fromEntries(
        COLS.map((c) => [c, CELLS[Math.floor(rand() * CELLS.length)] as string]),
      );
      const want = g.eval(row);
      assert.equal(w.test(COLS.map((c) => row[c] as string)), want, `${g.text} on ${JSON.stringify(row)}`);
      if (want) kept++;
    }
  }
  // Both outcomes were exercised, not one.
  assert.ok(kept > 1000 && kept < 7000, `${kept} of 8000 kept`);
});
