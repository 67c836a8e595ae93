/**
 * The pure core, without streams: record checks, item-attribute queries,
 * the row builder, and size/count parsing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildAttributeQuery, checkAttributeQuery, escapeAttributeValue } from '../../src/core/attributes.js';
import { type BuildOptions, makeRowBuilder, parseTime } from '../../src/core/build.js';
import { resolveFamily } from '../../src/core/families.js';
import { count, noun, parseBytes, parseCount } from '../../src/core/units.js';
import { checkRecord, DEFAULT_LIMITS } from '../../src/core/validate.js';
import { prng, throwsWith } from '../helpers.js';

const opts = (recipe: string, extra: Partial<BuildOptions> = {}): BuildOptions => ({
  family: resolveFamily(recipe),
  listSeparator: '|',
  filters: [],
  valueSeparator: '|',
  ...extra,
});

describe('checkRecord', () => {
  const up = resolveFamily('user-personalization');
  test('accepts good lines of each family and returns null', () => {
    assert.equal(checkRecord({ userId: 'u' }, up, DEFAULT_LIMITS), null);
    assert.equal(
      checkRecord({ userId: 'u', itemList: ['a'] }, resolveFamily('personalized-ranking'), DEFAULT_LIMITS),
      null,
    );
    assert.equal(checkRecord({ itemId: 'i' }, resolveFamily('item-affinity'), DEFAULT_LIMITS), null);
    assert.equal(
      checkRecord(
        { itemAttributes: 'ITEMS.a = "b"' },
        resolveFamily('item-attribute-affinity'),
        DEFAULT_LIMITS,
      ),
      null,
    );
  });

  test('returns the first problem as { field, reason }', () => {
    assert.deepEqual(checkRecord({}, up, DEFAULT_LIMITS), {
      field: 'userId',
      reason: 'missing (a user-personalization line needs it)',
    });
    assert.deepEqual(checkRecord({ userId: 'x'.repeat(257) }, up, DEFAULT_LIMITS), {
      field: 'userId',
      reason: 'longer than 256 characters (service limit)',
    });
    assert.deepEqual(
      checkRecord({ userId: 'u', itemList: ['a', 'b'] }, resolveFamily('personalized-ranking'), {
        ...DEFAULT_LIMITS,
        maxItemList: 1,
      }),
      { field: 'itemList', reason: '2 items exceed the limit of 1 (--max-item-list)' },
    );
    assert.deepEqual(
      checkRecord(
        { itemAttributes: 'ITEMS.a IN ("b")' },
        resolveFamily('item-attribute-affinity'),
        DEFAULT_LIMITS,
      ),
      { field: 'itemAttributes', reason: 'only = is allowed (column a)' },
    );
    assert.equal(checkRecord({ userId: 'u', itemId: 'i' }, up, DEFAULT_LIMITS)?.field, 'itemId');
    assert.equal(checkRecord('not an object', up, DEFAULT_LIMITS)?.field, '(record)');
  });

  test('never throws on odd values', () => {
    for (const v of [null, undefined, 42, [], { userId: null }, { userId: {} }, { filterValues: 'x' }]) {
      const p = checkRecord(v, up, DEFAULT_LIMITS);
      assert.ok(p !== null && typeof p.field === 'string' && typeof p.reason === 'string', JSON.stringify(v));
    }
  });
});

describe('item attribute queries', () => {
  test('buildAttributeQuery joins with AND, escapes, drops empty values and the ITEMS. prefix twice', () => {
    assert.equal(
      buildAttributeQuery([
        ['genres', 'Comedy'],
        ['ITEMS.audience', 'teen'],
        ['empty', ''],
      ]),
      'ITEMS.genres = "Comedy" AND ITEMS.audience = "teen"',
    );
    assert.equal(buildAttributeQuery([['a', 'say "hi" \\ ok']]), 'ITEMS.a = "say \\"hi\\" \\\\ ok"');
    assert.equal(buildAttributeQuery([['a', '']]), '');
    assert.equal(escapeAttributeValue('a"b\\c'), 'a\\"b\\\\c');
  });

  test('checkAttributeQuery accepts = and AND, strings and numbers', () => {
    for (const q of [
      'ITEMS.genres = "Comedy"',
      'ITEMS.genres = "Comedy" AND ITEMS.audience = "teen"',
      'ITEMS.price = 3',
      'ITEMS.price = -3.5 AND ITEMS.x = "y"',
      'ITEMS.a = "with \\"quote\\" and \\\\ backslash"',
      '  ITEMS.a  =  "spaces"  ',
      'ITEMS.a = ""',
    ]) {
      assert.equal(checkAttributeQuery(q), null, q);
    }
  });

  test('checkAttributeQuery refuses OR, IN, other operators, unclosed quotes, bad columns', () => {
    const cases: [string, RegExp][] = [
      ['ITEMS.a = "x" OR ITEMS.b = "y"', /no OR/],
      ['ITEMS.a IN ("x", "y")', /only = is allowed/],
      ['ITEMS.a != "x"', /only = is allowed/],
      ['ITEMS.a < 3', /only = is allowed/],
      ['ITEMS.a = "x', /unclosed quote/],
      ['ITEMS.a = "x\\', /dangling backslash|unclosed/],
      ['ITEMS.a = x', /double-quoted string or a number/],
      ['a = "x"', /must start with ITEMS\./],
      ['', /must start with ITEMS\./],
      ['ITEMS.1a = "x"', /bad column name/],
      ['ITEMS.a = "x" AND', /unexpected text|expected ITEMS/],
      ['ITEMS.a = "x" AND b = "y"', /expected ITEMS\.<column> after AND/],
      ['ITEMS.a = "x" "y"', /unexpected text/],
    ];
    for (const [q, re] of cases) {
      const reason = checkAttributeQuery(q);
      assert.ok(reason !== null, `should refuse ${q}`);
      assert.match(reason, re, q);
    }
  });

  test('every query built from random values passes the check (seeded round trip)', () => {
    const rand = prng(17);
    const alphabet = ['a', 'Z', '"', '\\', ' ', 'AND', 'OR', '=', 'é', '日', ',', "'", '(', ')'];
    for (let round = 0; round < 300; round++) {
      const pairs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i): [string, string] => [
        `col_${i}`,
        Array.from(
          { length: 1 + Math.floor(rand() * 8) },
          () => alphabet[Math.floor(rand() * alphabet.length)],
        ).join(''),
      ]);
      const q = buildAttributeQuery(pairs);
      assert.equal(checkAttributeQuery(q), null, q);
      // Decoding the quoted values gives the inputs back.
      const values = [...q.matchAll(/= "((?:[^"\\]|\\.)*)"/g)].map((m) =>
        (m[1] as string).replace(/\\(.)/g, '$1'),
      );
      assert.deepEqual(
        values,
        pairs.map((p) => p[1]),
      );
    }
  });
});

describe('makeRowBuilder', () => {
  test('CSV rows to records, by header position', () => {
    const b = makeRowBuilder(['email', 'user_id'], false, 'f.csv', opts('user-personalization'));
    assert.deepEqual(b(['a@x', ' u1 ']), { kind: 'record', key: 'u1', record: { userId: 'u1' } });
    assert.deepEqual(b(['a@x', '']), { kind: 'invalid', field: 'user_id', reason: 'empty' });
  });

  test('JSON Lines objects by key; plain text by position', () => {
    const j = makeRowBuilder(['itemId', 'title'], true, 'f.jsonl', opts('related-items'));
    assert.deepEqual(j({ itemId: 7, title: 'x' }), { kind: 'record', key: '7', record: { itemId: '7' } });
    assert.deepEqual(j({ itemId: true }), {
      kind: 'invalid',
      field: 'itemId',
      reason: 'must be text or a number',
    });
    const p = makeRowBuilder(null, false, 'f.txt', opts('popular-items'));
    assert.deepEqual(p(['u9']), { kind: 'record', key: 'u9', record: { userId: 'u9' } });
  });

  test('ranking rows become pairs; since gives skip for old rows', () => {
    const r = makeRowBuilder(
      ['USER_ID', 'ITEM_ID', 'TIMESTAMP'],
      false,
      'f',
      opts('personalized-ranking', { since: 100 }),
    );
    assert.deepEqual(r(['u1', 'i1', '100']), {
      kind: 'pair',
      key: 'u1',
      item: 'i1',
      filterValues: undefined,
    });
    assert.deepEqual(r(['u1', 'i1', '99']), { kind: 'skip' });
    assert.equal(r(['u1', 'i1', 'soon']).kind, 'invalid');
  });

  test('filter values and attribute queries', () => {
    const f = makeRowBuilder(
      ['user_id', 'g'],
      false,
      'f',
      opts('user-personalization', {
        filters: [
          { name: 'G', column: 'g' },
          { name: 'C', constant: ['x'] },
        ],
      }),
    );
    assert.deepEqual(f(['u1', 'a|b']), {
      kind: 'record',
      key: 'u1',
      record: { userId: 'u1', filterValues: { G: '"a","b"', C: '"x"' } },
    });
    const a = makeRowBuilder(
      ['genre', 'aud'],
      false,
      'f',
      opts('item-attribute-affinity', { attributes: ['genre', 'aud'] }),
    );
    assert.deepEqual(a(['Comedy', '']), {
      kind: 'record',
      key: 'ITEMS.genre = "Comedy"',
      record: { itemAttributes: 'ITEMS.genre = "Comedy"' },
    });
  });

  test('column problems are PB_USAGE at build time, naming the file and listing the header', () => {
    throwsWith(
      () => makeRowBuilder(['email', 'name'], false, 'list.csv', opts('user-personalization')),
      'PB_USAGE',
      /^list\.csv: cannot find the user id column; the header has "email", "name"/,
    );
    throwsWith(
      () => makeRowBuilder(['user_id', 'customer_id'], false, 'list.csv', opts('user-personalization')),
      'PB_USAGE',
      /ambiguous: "user_id" and "customer_id"/,
    );
    throwsWith(
      () => makeRowBuilder(null, false, 'ids.txt', opts('user-personalization', { since: 1 })),
      'PB_USAGE',
      /plain text/,
    );
  });
});

describe('parseTime', () => {
  test('epoch seconds, epoch milliseconds, ISO 8601; junk is undefined', () => {
    assert.equal(parseTime(1_700_000_000), 1_700_000_000);
    assert.equal(parseTime('1700000000'), 1_700_000_000);
    assert.equal(parseTime(1_700_000_000_000), 1_700_000_000);
    assert.equal(parseTime('1700000000500'), 1_700_000_000.5);
    assert.equal(parseTime('2024-01-01T00:00:00Z'), 1_704_067_200);
    assert.equal(parseTime('2024-01-01'), 1_704_067_200);
    for (const bad of ['', '  ', 'soon', null, undefined, {}, true]) assert.equal(parseTime(bad), undefined);
  });
});

describe('parseBytes and parseCount', () => {
  test('parseBytes: decimal units for B/KB/MB/GB, binary for K/M/G and KiB/MiB/GiB', () => {
    const cases: [string, number][] = [
      ['1000', 1000],
      ['1000b', 1000],
      ['2kb', 2000],
      ['500MB', 500_000_000],
      ['1GB', 1_000_000_000],
      ['1TB', 1e12],
      ['64MiB', 64 * 1024 * 1024],
      ['64M', 64 * 1024 * 1024],
      ['1.5k', 1536],
      [' 2 KiB ', 2048],
      ['1g', 1024 ** 3],
    ];
    for (const [text, n] of cases) assert.equal(parseBytes(text, '--x'), n, text);
  });

  test('parseBytes refuses junk, zero and negatives with the option name', () => {
    for (const bad of ['', 'abc', '-1', '0', '0.0001', '10XB', '1 2']) {
      throwsWith(() => parseBytes(bad, '--memory-budget'), 'PB_USAGE', /--memory-budget/);
    }
  });

  test('parseCount: plain numbers and K/M/G suffixes, whole and positive only', () => {
    const cases: [string, number][] = [
      ['500', 500],
      ['10K', 10_000],
      ['10k', 10_000],
      ['1.5M', 1_500_000],
      ['2g', 2_000_000_000],
    ];
    for (const [text, n] of cases) assert.equal(parseCount(text, '--x'), n, text);
    for (const bad of ['0', '1.5', '-3', 'many', '10KiB', '']) {
      throwsWith(() => parseCount(bad, '--max-item-list'), 'PB_USAGE', /--max-item-list/);
    }
  });
});

describe('count and noun', () => {
  test('one takes the singular; zero, many and fractions the plural (regular or given)', () => {
    assert.equal(count(1, 'key'), '1 key');
    assert.equal(count(0, 'key'), '0 keys');
    assert.equal(count(2, 'line'), '2 lines');
    assert.equal(count(1, 'entry', 'entries'), '1 entry');
    assert.equal(count(3, 'entry', 'entries'), '3 entries');
    assert.equal(count(1884121, 'line'), '1,884,121 lines');
    assert.equal(count(1000, 'row'), '1,000 rows');
    assert.equal(count(1234.56789, 'second'), '1,234.56789 seconds');
    assert.equal(noun(1, 'file'), 'file');
    assert.equal(noun(1_884_121, 'file'), 'files');
  });
});
