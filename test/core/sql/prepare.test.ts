import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { prepareSql } from '../../../src/core/sql/prepare.js';
import { prng } from '../../../src/sample.js';
import { prepareFiles, throwsWith, useDuckDB, useTmp } from '../../helpers.js';
import { randomId } from '../../out-fixtures.js';

// The DuckDB form of sql --stage prepare run for real against prepare on the
// same CSV: the same lines (as sets: neither promises an order), the same
// bytes per line, every rule of prepare's id checks met by a row.

const tmp = useTmp();
const con = useDuckDB();

/** One id per rule of prepare's (kept or refused), then random awkward ones. */
const RULES = [
  '  u1  ',
  'u1',
  '\u00a0u2\u3000',
  '\ufeffu3\u2028',
  'a b',
  'a\u00a0b',
  'a\u200bb',
  'a\u0001b',
  'line\nbreak',
  'NULL',
  '\\N',
  'nan',
  '-',
  '123.0',
  '-7.00',
  '1.2E+5',
  '4,5e10',
  '#N/A',
  '#div/0!',
  "'0123",
  "'abc",
  'x@example.com',
  ' Y@Example.ORG ',
  'a@b',
  'u\ufffd',
  'x'.repeat(256),
  'y'.repeat(257),
  '😀'.repeat(256),
  '"quoted", comma',
  'back\\slash',
  '=SUM(A1)',
  'é日',
  '',
  '   ',
];

async function csvOf(ids: string[]): Promise<string> {
  const file = tmp.fresh('users.csv');
  await writeFile(
    file,
    stringify([['customer_id', 'country'], ...ids.map((id, i) => [id, i % 3 === 0 ? 'DE' : 'FR'])]),
  );
  return file;
}

async function viaPrepare(file: string, recipe: string, allowEmailIds = false): Promise<string[]> {
  const r = await prepareFiles({
    recipe,
    sources: [file],
    column: 'customer_id',
    onInvalid: 'skip',
    rejects: tmp.fresh('rejects.jsonl'),
    allowEmailIds,
  });
  return [...r.lines].sort();
}

async function viaDuckdb(file: string, recipe: string, o: { where?: string; allowEmailIds?: boolean } = {}) {
  await con().run(
    `CREATE OR REPLACE TABLE users AS SELECT * FROM read_csv('${file}', header = true, all_varchar = true)`,
  );
  const to = tmp.fresh('batch.jsonl');
  await con().run(prepareSql({ engine: 'duckdb', recipe, table: 'users', column: 'customer_id', to, ...o }));
  const text = await readFile(to, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n').sort();
}

describe('sql --engine duckdb --stage prepare: the lines prepare writes', () => {
  test('every id rule, kept and refused, as prepare decides', async () => {
    const file = await csvOf(RULES);
    const want = await viaPrepare(file, 'user-personalization');
    const got = await viaDuckdb(file, 'user-personalization');
    assert.ok(
      want.length >= 8 && want.length < RULES.length - 10,
      `some kept, most refused (${want.length})`,
    );
    assert.deepEqual(got, want);
  });

  test('--allow-email-ids keeps the addresses, as prepare does', async () => {
    const file = await csvOf(RULES);
    const want = await viaPrepare(file, 'user-personalization', true);
    const got = await viaDuckdb(file, 'user-personalization', { allowEmailIds: true });
    assert.ok(want.includes('{"userId":"x@example.com"}'));
    assert.deepEqual(got, want);
  });

  test('random awkward ids, duplicated, for related-items (itemId lines)', async () => {
    const rand = prng(42);
    const ids = Array.from({ length: 400 }, () => randomId(rand));
    ids.push(...ids.slice(0, 100).map((x) => ` ${x} `));
    const file = await csvOf(ids);
    const want = await viaPrepare(file, 'related-items');
    const got = await viaDuckdb(file, 'related-items');
    assert.ok(want.length > 150 && want[0]?.startsWith('{"itemId":'));
    assert.deepEqual(got, want);
  });

  test('--where is pasted into the WHERE clause', async () => {
    const file = await csvOf(['a', 'b', 'c', 'd']);
    const got = await viaDuckdb(file, 'user-personalization', { where: "country = 'DE'" });
    assert.deepEqual(got, ['{"userId":"a"}', '{"userId":"d"}']);
  });

  test('families without one id column are refused with the way to go', () => {
    for (const recipe of ['personalized-ranking', 'item-affinity', 'item-attribute-affinity'])
      throwsWith(
        () => prepareSql({ engine: 'athena', recipe, table: 't', column: 'c', to: 's3://b/p/' }),
        'PB_USAGE',
        /personalize-batch prepare/,
      );
  });
});
