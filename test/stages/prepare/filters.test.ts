/**
 * filterValues: each placeholder's values in escaped double quotes, joined by
 * commas (`"\"horror\",\"comedy\""`), from a column or as constants.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatFilterValue } from '../../../src/core/build.js';
import { assertSchema, prepareStdin, prng, rejectsWith } from '../../helpers.js';

const UP = { recipe: 'user-personalization' } as const;

/** Inverse of the service format, written independently: `"a","b\"c"` -> ['a', 'b"c']. */
function decodeFilterValue(s: string): string[] {
  assert.match(s, /^"(?:[^"\\]|\\.)*"(?:,"(?:[^"\\]|\\.)*")*$/, `well-formed: ${s}`);
  return [...s.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] as string).replace(/\\(.)/g, '$1'));
}

describe('formatFilterValue', () => {
  test('the documented example', () => {
    assert.equal(formatFilterValue(['horror', 'comedy']), '"horror","comedy"');
    assert.equal(
      JSON.stringify({ userId: '5', filterValues: { GENRES: formatFilterValue(['horror', 'comedy']) } }),
      '{"userId":"5","filterValues":{"GENRES":"\\"horror\\",\\"comedy\\""}}',
    );
  });

  test('quotes and backslashes are escaped; commas need no escape inside quotes', () => {
    assert.equal(formatFilterValue(['say "hi"']), '"say \\"hi\\""');
    assert.equal(formatFilterValue(['a\\b']), '"a\\\\b"');
    assert.equal(formatFilterValue(['a,b', 'c']), '"a,b","c"');
    assert.equal(formatFilterValue(['\\"']), '"\\\\\\""');
  });

  test('round trip on random values (seeded)', () => {
    const rand = prng(5);
    const alphabet = ['a', 'Z', '"', '\\', ',', ' ', 'é', '日', '😀', "'", '|'];
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: 1 + Math.floor(rand() * 4) }, () =>
        Array.from(
          { length: 1 + Math.floor(rand() * 6) },
          () => alphabet[Math.floor(rand() * alphabet.length)],
        ).join(''),
      );
      assert.deepEqual(decodeFilterValue(formatFilterValue(values)), values);
    }
  });
});

describe('filterValues in prepare', () => {
  test('from a column with multi-valued cells; an empty cell leaves the placeholder out', async () => {
    const r = await prepareStdin(
      { ...UP, filters: ['GENRES=fav_genres'] },
      'user_id,fav_genres\nu1,horror|comedy\nu2,\nu3, drama | | thriller \nu4,   \n',
    );
    assert.deepEqual(r.records, [
      { userId: 'u1', filterValues: { GENRES: '"horror","comedy"' } },
      { userId: 'u2' },
      { userId: 'u3', filterValues: { GENRES: '"drama","thriller"' } },
      { userId: 'u4' },
    ]);
    assert.equal(r.lines[0], '{"userId":"u1","filterValues":{"GENRES":"\\"horror\\",\\"comedy\\""}}');
    assertSchema('input-user.schema.json', r.records);
  });

  test('values with quotes, backslashes and commas are escaped (oracle round trip)', async () => {
    const cell = 'say "hi"|back\\slash|a,b|日本';
    const csvCell = `"${cell.replace(/"/g, '""')}"`;
    const r = await prepareStdin({ ...UP, filters: ['G=g'] }, `user_id,g\nu1,${csvCell}\n`);
    const fv = String((r.records[0]?.filterValues as Record<string, string> | undefined)?.G);
    assert.deepEqual(decodeFilterValue(fv), ['say "hi"', 'back\\slash', 'a,b', '日本']);
    assertSchema('input-user.schema.json', r.records);
  });

  test('constants: the same values on every line, $ dropped from the name', async () => {
    const r = await prepareStdin(
      { recipe: 'related-items', filterConstants: ['$LANG=en|fr', 'TIER= gold '] },
      'ITEM_ID\ni1\ni2\n',
    );
    for (const rec of r.records) assert.deepEqual(rec.filterValues, { LANG: '"en","fr"', TIER: '"gold"' });
    assertSchema('input-item.schema.json', r.records);
  });

  test('column and constant together, with a custom value separator', async () => {
    const r = await prepareStdin(
      { ...UP, filters: ['G=g'], filterConstants: ['C=x;y'], valueSeparator: ';' },
      'user_id,g\nu1,a;b|c\n',
    );
    assert.deepEqual(r.records, [{ userId: 'u1', filterValues: { G: '"a","b|c"', C: '"x","y"' } }]);
  });

  test('JSON Lines: arrays and numbers are values; an object is an invalid record', async () => {
    const r = await prepareStdin(
      { ...UP, filters: ['G=g'] },
      '{"userId":"u1","g":["a"," b ",""]}\n{"userId":"u2","g":7}\n{"userId":"u3","g":null}\n',
    );
    assert.deepEqual(r.records, [
      { userId: 'u1', filterValues: { G: '"a","b"' } },
      { userId: 'u2', filterValues: { G: '"7"' } },
      { userId: 'u3' },
    ]);
    const err = await rejectsWith(
      prepareStdin({ ...UP, filters: ['G=g'] }, '{"userId":"u1","g":"a"}\n{"userId":"u2","g":{"x":1}}\n'),
      'PB_INVALID_RECORD',
    );
    assert.equal(err.message, '-:2: g: must be text, a number or a list');
  });

  test('filter options are checked: NAME=COLUMN form, names, duplicates, missing column, plain input', async () => {
    const bad: [Parameters<typeof prepareStdin>[0], RegExp][] = [
      [{ ...UP, filters: ['NOEQUALS'] }, /--filter-value takes NAME=COLUMN/],
      [{ ...UP, filters: ['G='] }, /needs a column name/],
      [{ ...UP, filters: ['BAD-NAME=g'] }, /letters, digits and _/],
      [{ ...UP, filterConstants: ['C='] }, /at least one value/],
      [{ ...UP, filters: ['G=g'], filterConstants: ['G=x'] }, /G is given twice/],
      [{ ...UP, filters: ['G=nope'] }, /no column "nope".*"user_id", "g"/],
    ];
    for (const [opts, re] of bad) await rejectsWith(prepareStdin(opts, 'user_id,g\nu1,a\n'), 'PB_USAGE', re);
    await rejectsWith(prepareStdin({ ...UP, filters: ['G=g'] }, 'u1\nu2\n'), 'PB_USAGE', /plain text/);
    // Constants work on plain text: they need no column.
    const plain = await prepareStdin({ ...UP, filterConstants: ['C=x'] }, 'u1\n');
    assert.deepEqual(plain.records, [{ userId: 'u1', filterValues: { C: '"x"' } }]);
  });
});
