/**
 * prepare --where: rows that do not match are left out before the record is built, counted as
 * filteredOut, never rejected or counted as duplicates; the same however the bytes are cut.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { checkSources } from '../../../src/stages/prepare/index.js';
import { makeTmp, prepareFiles, prepareStdin, rejectsWith, split, writeText } from '../../helpers.js';

const tmp = await makeTmp();
after(() => tmp.cleanup());

const UP = { recipe: 'user-personalization' } as const;

// An Excel export from a German CRM: BOM, semicolons, CRLF, a quoted field holding the delimiter,
// names in multi-byte UTF-8, the id column first and the filtered ones after the name.
const CRM = Buffer.from(
  `\uFEFF${[
    'Kunden-Nr;Name;Land;opt_in;last_login',
    'k1;"Müller; Anna";DE;true;2026-01-05',
    'k2;Jörg;AT;true;2025-12-31T23:30:00-01:00', // 2026-01-01T00:30Z
    'k3;Zoë;FR;true;2026-02-01',
    'k4;日本;DE;false;2026-03-01',
    'k5;Pat;DE;true;2025-12-31',
    'k1;Anna again;DE;true;2026-01-06',
    ';no id;CH;true;2026-01-07',
  ].join('\r\n')}\r\n`,
);

const WHERE = "opt_in = true and Land in ('DE','AT') and last_login >= 2026-01-01";

describe('prepare --where', () => {
  test('keeps the matching rows of a semicolon CSV with a BOM, and counts the rest', async () => {
    const r = await prepareStdin({ ...UP, column: 'Kunden-Nr', where: WHERE }, CRM);
    assert.deepEqual(r.lines, ['{"userId":"k1"}', '{"userId":"k2"}']);
    assert.equal(r.summary.recordsRead, 7);
    assert.equal(r.summary.filteredOut, 4); // k3 (FR), k4 (opt_in), k5 (date), the row without id (CH)
    // The second k1 matched: a duplicate of a kept row. The row without an id was filtered out, not rejected.
    assert.equal(r.summary.duplicates, 1);
    assert.equal(r.summary.rejected, 0);
    assert.equal(r.summary.written, 2);
  });

  test('the same output and counts for every way the bytes are cut', async () => {
    const whole = await prepareStdin({ ...UP, column: 'Kunden-Nr', where: WHERE }, CRM);
    for (const how of [1, 2, 3, { seed: 1, max: 7 }, { seed: 2, max: 40 }]) {
      const r = await prepareStdin({ ...UP, column: 'Kunden-Nr', where: WHERE }, split(CRM, how));
      assert.equal(r.out, whole.out, JSON.stringify(how));
      assert.equal(r.summary.filteredOut, whole.summary.filteredOut, JSON.stringify(how));
      assert.equal(r.summary.duplicates, whole.summary.duplicates, JSON.stringify(how));
    }
  });

  test('a filtered-out row is neither rejected nor a duplicate', async () => {
    const csv = 'user_id,keep\nu1,no\n,yes\nu1,yes\nu2,no\nu2,yes\n';
    const r = await prepareStdin(
      { ...UP, where: 'keep = yes', onInvalid: 'skip', rejects: tmp.path('r.jsonl') },
      csv,
    );
    assert.deepEqual(r.lines, ['{"userId":"u1"}', '{"userId":"u2"}']);
    assert.equal(r.summary.filteredOut, 2);
    assert.equal(r.summary.rejected, 1); // the empty id that matched
    assert.equal(r.summary.duplicates, 0);
  });

  test('a row that cannot be read is rejected, not filtered', async () => {
    const csv = 'user_id,keep\nu1,yes\nu2,yes,extra\nu3,no\n';
    const r = await prepareStdin(
      { ...UP, where: 'keep = yes', onInvalid: 'skip', rejects: tmp.path('r2.jsonl') },
      csv,
    );
    assert.deepEqual(r.lines, ['{"userId":"u1"}']);
    assert.equal(r.summary.rejected, 1);
    assert.equal(r.summary.filteredOut, 1);
  });

  test('not the byte fast path: a file it would take (one id column, a plain header) is filtered', async () => {
    // The fast path reads only the id column; had it run, every id would be written.
    const file = await writeText(tmp.path('fast.csv'), 'user_id,score\nu1,3\nu2,12\nu3,7.5\nu4,\n');
    const all = await prepareFiles({ ...UP, sources: [file] });
    assert.equal(all.lines.length, 4);
    const r = await prepareFiles({ ...UP, sources: [file], where: 'score >= 7' });
    assert.deepEqual(r.lines, ['{"userId":"u2"}', '{"userId":"u3"}']);
    assert.equal(r.summary.filteredOut, 2);
    const empty = await prepareFiles({ ...UP, sources: [file], where: 'score is empty' });
    assert.deepEqual(empty.lines, ['{"userId":"u4"}']);
  });

  test('JSON Lines: keys, JSON numbers and booleans, a key the first object lacks (with a warning)', async () => {
    const jsonl = [
      '{"userId":"a","visits":5,"opt_in":true}',
      '{"userId":"b","visits":12,"opt_in":false,"country":"DE"}',
      '{"userId":"c","visits":"15","opt_in":true,"country":"AT"}',
      '{"userId":"d","visits":null,"opt_in":true}',
    ].join('\n');
    const r = await prepareStdin({ ...UP, where: "visits > 9 and opt_in = true or country = 'DE'" }, jsonl);
    assert.deepEqual(r.lines, ['{"userId":"b"}', '{"userId":"c"}']);
    assert.equal(r.summary.filteredOut, 2);
    assert.ok(r.summary.warnings.some((w) => /no key "country"/.test(w)));
  });

  test('an unknown column is a usage error that lists the header; checkSources reports it too', async () => {
    const file = await writeText(tmp.path('crm.csv'), CRM);
    const e = await rejectsWith(
      prepareFiles({ ...UP, sources: [file], column: 'Kunden-Nr', where: "country = 'DE'" }),
      'PB_USAGE',
      /--where: no column "country" \(the header has "Kunden-Nr", "Name", "Land", "opt_in", "last_login"\)/,
    );
    assert.equal(e.file, file);
    const problems = await checkSources({ ...UP, sources: [file], column: 'Kunden-Nr', where: 'landd = DE' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message as string, /no column "landd".*did you mean "Land"\?/);
  });

  test('a plain list has no columns: refused with the fix, which works', async () => {
    const file = await writeText(tmp.path('ids.txt'), 'u1\nu2\nu3\n');
    await rejectsWith(
      prepareFiles({ ...UP, sources: [file], where: '1 != u2' }),
      'PB_USAGE',
      /needs named columns, but this is plain text.*--format csv, --no-header and --column 1/,
    );
    const r = await prepareFiles({
      ...UP,
      sources: [file],
      format: 'csv',
      header: false,
      column: '1',
      where: '1 != u2',
    });
    assert.deepEqual(r.lines, ['{"userId":"u1"}', '{"userId":"u3"}']);
  });

  test('a syntax error is a usage error before any source is read', async () => {
    await rejectsWith(
      prepareFiles({ ...UP, sources: [tmp.path('missing.csv')], where: 'a >' }),
      'PB_USAGE',
      /^--where: expected a value after '>', got the end at character 4:\n {2}a >\n {5}\^$/,
    );
  });

  test('cells ordered as text against a bare number or date are counted and warned, with the first line', async () => {
    // A German Excel CRM: comma decimals and day.month.year dates are text to --where.
    const csv =
      'Kunden-Nr;Umsatz;Geburtsdatum\r\nk1;1.234,50;05.01.1980\r\nk2;99;1990-02-01\r\nk3;;31.12.1975\r\n';
    const where = 'Umsatz > 10 or Geburtsdatum >= 1985-01-01 or Umsatz = 7 or Umsatz > 1e3';
    const r = await prepareStdin({ ...UP, column: 'Kunden-Nr', where }, csv);
    // As text, "1.234,50" > "10" is false and "31.12.1975" >= "1985-01-01" true: k1 left out, k3 kept.
    assert.deepEqual(r.lines, ['{"userId":"k2"}', '{"userId":"k3"}']);
    const w = r.summary.warnings.filter((x) => /ordered/.test(x));
    // Empty cells are the empty text by their own rule; = and quoted or non-number values are not orders.
    assert.deepEqual(w, [
      '-: --where: 1 cell of "Umsatz" is not a number, so "Umsatz" > 10 ordered it as text (line 2: "1.234,50"; a number is digits with an optional .fraction, 1234.5)',
      '-: --where: 2 cells of "Geburtsdatum" are not ISO dates or times, so "Geburtsdatum" >= 1985-01-01 ordered them as text (line 2: "05.01.1980"; a cell compares as a time only in ISO 8601, 2026-01-05)',
    ]);
  });

  test('cells equal to a value but for case are counted and warned, with the expression that keeps them', async () => {
    // A HubSpot dump: opt-in spelled every way; text compares case-sensitively (the README's rule).
    const csv =
      'id,"Opt In",Land\nu1,true,DE\nu2,TRUE,de\nu3,"multi\nline",x\nu4,True,DE\nu5,TRUE,AT\nu6,0,DE\n';
    const r = await prepareStdin(
      { ...UP, column: 'id', where: `"Opt In" = true and Land not in (DE, 'A''T')` },
      csv,
    );
    assert.deepEqual(r.lines, []);
    const eq = await prepareStdin({ ...UP, column: 'id', where: '"Opt In" = true or Land in (at)' }, csv);
    assert.deepEqual(eq.lines, ['{"userId":"u1"}']);
    assert.deepEqual(
      eq.summary.warnings.filter((w) => /only by case/.test(w)),
      [
        `-: --where: 3 cells of "Opt In" differ only by case from true ("TRUE", "True"; line 3 the first), and text compares case-sensitively: to keep them too, write "Opt In" in (true, TRUE, True)`,
        `-: --where: 1 cell of "Land" differs only by case from at ("AT"; line 7 the first), and text compares case-sensitively: to keep them too, write Land in (at, AT)`,
      ],
    );
    // not in: the cells it keeps that differ only by case; numbers in a list are not text.
    const not = await prepareStdin({ ...UP, column: 'id', where: "Land not in ('de', 1)" }, csv);
    assert.match(
      not.summary.warnings.join('\n'),
      /3 cells of "Land" differ only by case from \(de, 1\) \("DE"; line 2 the first\).*to leave them out too, write Land not in \(de, 1, DE\)/,
    );
  });

  test('every row left out: the warning says so', async () => {
    const r = await prepareStdin({ ...UP, where: 'keep = yes' }, 'user_id,keep\nu1,no\n');
    assert.equal(r.summary.written, 0);
    assert.ok(r.summary.warnings.includes('no records written: every row was left out by --where'));
  });
});
