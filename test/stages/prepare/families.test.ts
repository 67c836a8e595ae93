/**
 * Every recipe family: the shape of each output line (checked against the
 * family's input schema with ajv), AWS recipe names, and the refused recipes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAMILIES, resolveFamily } from '../../../src/core/families.js';
import { assertSchema, keys, prepareStdin, prng, rejectsWith, throwsWith } from '../../helpers.js';

const USERS = 'email,user_id\na@x,u1\nb@x,u2\nc@x,u1\n';

describe('user-keyed families', () => {
  test('user-personalization and popular-items write {"userId"}', async () => {
    for (const recipe of ['user-personalization', 'popular-items', 'aws-hrnn', 'aws-popularity-count']) {
      const r = await prepareStdin({ recipe }, USERS);
      assert.equal(r.out, '{"userId":"u1"}\n{"userId":"u2"}\n', recipe);
      assertSchema('input-user.schema.json', r.records);
    }
  });

  test('summary.family is the resolved family, not the recipe name', async () => {
    const r = await prepareStdin(
      { recipe: 'arn:aws:personalize:::recipe/aws-user-personalization-v2' },
      USERS,
    );
    assert.equal(r.summary.family, 'user-personalization');
  });
});

describe('item-keyed families', () => {
  test('related-items and item-affinity write {"itemId"}', async () => {
    const items = 'ITEM_ID,GENRES\ni1,a|b\ni2,c\n';
    for (const recipe of ['related-items', 'item-affinity', 'aws-sims', 'aws-item-affinity']) {
      const r = await prepareStdin({ recipe }, items);
      assert.equal(r.out, '{"itemId":"i1"}\n{"itemId":"i2"}\n', recipe);
      assertSchema('input-item.schema.json', r.records);
    }
  });

  test('more than 500 item-affinity queries: written, with a quota warning', async () => {
    const ids = Array.from({ length: 501 }, (_, i) => `i${i}`);
    const r = await prepareStdin({ recipe: 'item-affinity' }, `ITEM_ID\n${ids.join('\n')}\n`);
    assert.equal(r.records.length, 501);
    assert.equal(r.summary.warnings.length, 1);
    assert.match(r.summary.warnings[0] as string, /501 .*quota of 500/);
    const ok = await prepareStdin({ recipe: 'item-affinity' }, `ITEM_ID\n${ids.slice(1).join('\n')}\n`);
    assert.deepEqual(ok.summary.warnings, []);
  });
});

describe('personalized-ranking', () => {
  test('from a list column: split on the separator, trimmed, repeats dropped', async () => {
    const r = await prepareStdin(
      { recipe: 'aws-personalized-ranking-v2' },
      'user_id,items\nu1,a|b| a |c\nu2,x\n',
    );
    assert.deepEqual(r.records, [
      { userId: 'u1', itemList: ['a', 'b', 'c'] },
      { userId: 'u2', itemList: ['x'] },
    ]);
    assertSchema('input-ranking.schema.json', r.records);
  });

  test('a custom list column and separator; JSON arrays are taken as lists', async () => {
    const r = await prepareStdin(
      { recipe: 'personalized-ranking', itemListColumn: 'candidates', listSeparator: ';' },
      'user_id,candidates\nu1,"a;b,c;d"\n',
    );
    assert.deepEqual(r.records, [{ userId: 'u1', itemList: ['a', 'b,c', 'd'] }]);
    const j = await prepareStdin(
      { recipe: 'personalized-ranking' },
      '{"userId":"u1","itemList":["a"," b ","a",3]}\n',
    );
    assert.deepEqual(j.records, [{ userId: 'u1', itemList: ['a', 'b', '3'] }]);
  });

  test('grouping unsorted (user, item) rows equals an in-test oracle', async () => {
    const rand = prng(99);
    const oracle = new Map<string, string[]>();
    let csv = 'USER_ID,ITEM_ID,TIMESTAMP\n';
    let dups = 0;
    for (let i = 0; i < 4000; i++) {
      const u = `u${Math.floor(rand() * 150)}`;
      const it = `i${Math.floor(rand() * 60)}`;
      csv += `${u},${it},${i}\n`;
      const list = oracle.get(u) ?? [];
      if (list.includes(it)) dups++;
      else list.push(it);
      oracle.set(u, list);
    }
    const r = await prepareStdin({ recipe: 'personalized-ranking', itemColumn: 'ITEM_ID' }, csv);
    assert.deepEqual(
      r.records,
      [...oracle].map(([userId, itemList]) => ({ userId, itemList })),
    );
    assert.equal(r.summary.duplicates, dups);
    assert.equal(r.summary.written, oracle.size);
    assertSchema('input-ranking.schema.json', r.records);
    // Without --item-column, a USER_ID,ITEM_ID file is grouped too.
    const auto = await prepareStdin({ recipe: 'personalized-ranking' }, csv);
    assert.equal(auto.out, r.out);
  });

  test('grouping keeps the first row\u2019s filter values for each user', async () => {
    const r = await prepareStdin(
      { recipe: 'personalized-ranking', filters: ['G=g'] },
      'USER_ID,ITEM_ID,g\nu1,a,x\nu2,a,\nu1,b,y\n',
    );
    assert.deepEqual(r.records, [
      { userId: 'u1', itemList: ['a', 'b'], filterValues: { G: '"x"' } },
      { userId: 'u2', itemList: ['a'] },
    ]);
  });

  test('bad ranking input: empty list, list too long, item id too long, plain text', async () => {
    const empty = await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking' }, 'USER_ID,ITEM_LIST\nu1,a\nu2,\n'),
      'PB_INVALID_RECORD',
    );
    assert.equal(empty.message, '-:3: itemList: empty list');
    const long = await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking', maxItemList: 2 }, 'USER_ID,ITEM_LIST\nu1,a|b|c\n'),
      'PB_INVALID_RECORD',
    );
    assert.equal(long.message, '-:2: itemList: 3 items exceed the limit of 2 (--max-item-list)');
    const grouped = await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking', maxItemList: 2 }, 'USER_ID,ITEM_ID\nu1,a\nu1,b\nu1,c\n'),
      'PB_INVALID_RECORD',
      /itemList: 3 items exceed the limit of 2/,
    );
    assert.equal(grouped.field, 'itemList');
    const longItem = await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking' }, `USER_ID,ITEM_ID\nu1,a\nu1,${'x'.repeat(257)}\n`),
      'PB_INVALID_RECORD',
    );
    assert.equal(longItem.line, 3);
    assert.match(longItem.message, /256/);
    const default500 = await prepareStdin(
      { recipe: 'personalized-ranking' },
      `USER_ID,ITEM_LIST\nu1,${Array.from({ length: 500 }, (_, i) => i).join('|')}\n`,
    );
    assert.deepEqual(
      default500.records[0]?.itemList,
      Array.from({ length: 500 }, (_, i) => String(i)),
    );
    await rejectsWith(
      prepareStdin(
        { recipe: 'personalized-ranking' },
        `USER_ID,ITEM_LIST\nu1,${Array.from({ length: 501 }, (_, i) => i).join('|')}\n`,
      ),
      'PB_INVALID_RECORD',
      /501 items exceed the limit of 500/,
    );
    await rejectsWith(prepareStdin({ recipe: 'personalized-ranking' }, 'u1\n'), 'PB_USAGE');
  });

  test('item and list options are refused for other families, and together', async () => {
    await rejectsWith(
      prepareStdin({ recipe: 'user-personalization', itemColumn: 'ITEM_ID' }, USERS),
      'PB_USAGE',
      /personalized-ranking/,
    );
    await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking', itemColumn: 'a', itemListColumn: 'b' }, USERS),
      'PB_USAGE',
      /not both/,
    );
  });
});

describe('item-attribute-affinity', () => {
  test('built from attribute columns, quotes and backslashes escaped, empty values left out', async () => {
    const r = await prepareStdin(
      { recipe: 'item-attribute-affinity', attributes: ['genre', 'audience'] },
      'genre,audience\nComedy,teen\n"Say ""Hi""",a\\b\nDrama,\nComedy,teen\n',
    );
    assert.deepEqual(keys(r.records), [
      'ITEMS.genre = "Comedy" AND ITEMS.audience = "teen"',
      'ITEMS.genre = "Say \\"Hi\\"" AND ITEMS.audience = "a\\\\b"',
      'ITEMS.genre = "Drama"',
    ]);
    assert.equal(r.summary.duplicates, 1);
    assertSchema('input-item-attributes.schema.json', r.records);
  });

  test('a row with every attribute empty is invalid', async () => {
    const err = await rejectsWith(
      prepareStdin(
        { recipe: 'item-attribute-affinity', attributes: ['genre', 'audience'] },
        'genre,audience\n,\n',
      ),
      'PB_INVALID_RECORD',
    );
    assert.equal(err.message, '-:2: genre,audience: every attribute is empty');
  });

  test('ready-made queries are taken as written (plain, JSONL, CSV column) and checked', async () => {
    const q1 = 'ITEMS.genre = "Comedy"';
    const q2 = 'ITEMS.genre = "Say \\"hi\\"" AND ITEMS.year = 1999';
    const plain = await prepareStdin({ recipe: 'item-attribute-affinity' }, `${q1}\n${q2}\n`);
    assert.deepEqual(keys(plain.records), [q1, q2]);
    const jsonl = await prepareStdin(
      { recipe: 'aws-item-attribute-affinity' },
      `${JSON.stringify({ itemAttributes: q1 })}\n${JSON.stringify({ itemAttributes: q2 })}\n`,
    );
    assert.deepEqual(keys(jsonl.records), [q1, q2]);
    const csv = await prepareStdin(
      { recipe: 'item-attribute-affinity' },
      `itemAttributes,label\n"${q1.replace(/"/g, '""')}",comedy\n`,
    );
    assert.deepEqual(keys(csv.records), [q1]);
    assertSchema('input-item-attributes.schema.json', [...plain.records, ...jsonl.records, ...csv.records]);
    const or = await rejectsWith(
      prepareStdin({ recipe: 'item-attribute-affinity' }, `${q1}\n${q1} OR ITEMS.x = "y"\n`),
      'PB_INVALID_RECORD',
    );
    assert.equal(or.message, '-:2: itemAttributes: only AND may join conditions (no OR)');
  });

  test('more than 10 queries: written, with a quota warning', async () => {
    const vals = Array.from({ length: 11 }, (_, i) => `v${i},x`);
    const r = await prepareStdin(
      { recipe: 'item-attribute-affinity', attributes: ['g'] },
      `g,other\n${vals.join('\n')}\n`,
    );
    assert.equal(r.records.length, 11);
    assert.match(r.summary.warnings.join('\n'), /11 .*quota of 10/);
  });

  test('attributes are refused for other families and must be column names', async () => {
    await rejectsWith(
      prepareStdin({ recipe: 'user-personalization', attributes: ['genre'] }, USERS),
      'PB_USAGE',
      /item-attribute-affinity/,
    );
    await rejectsWith(
      prepareStdin({ recipe: 'item-attribute-affinity', attributes: ['g-x'] }, 'g-x,y\nv,w\n'),
      'PB_USAGE',
      /not a valid column name/,
    );
    await rejectsWith(
      prepareStdin({ recipe: 'item-attribute-affinity', attributes: ['missing'] }, 'g,y\nv,w\n'),
      'PB_USAGE',
      /no column "missing".*"g", "y"/,
    );
  });

  test('attribute columns may be given with the ITEMS. prefix', async () => {
    const r = await prepareStdin(
      { recipe: 'item-attribute-affinity', attributes: ['ITEMS.genre'] },
      'genre,x\nComedy,1\n',
    );
    assert.deepEqual(keys(r.records), ['ITEMS.genre = "Comedy"']);
  });
});

describe('recipe names', () => {
  test('AWS recipe names and ARNs map to families', () => {
    const map: Record<string, string> = {
      'aws-user-personalization': 'user-personalization',
      'aws-user-personalization-v2': 'user-personalization',
      'aws-hrnn': 'user-personalization',
      'aws-hrnn-metadata': 'user-personalization',
      'aws-hrnn-coldstart': 'user-personalization',
      'aws-popularity-count': 'popular-items',
      'aws-personalized-ranking': 'personalized-ranking',
      'aws-personalized-ranking-v2': 'personalized-ranking',
      'aws-sims': 'related-items',
      'aws-similar-items': 'related-items',
      'aws-item-affinity': 'item-affinity',
      'aws-item-attribute-affinity': 'item-attribute-affinity',
      'arn:aws:personalize:::recipe/aws-sims': 'related-items',
      '  AWS-SIMS ': 'related-items',
    };
    for (const [name, family] of Object.entries(map)) assert.equal(resolveFamily(name).family, family, name);
    for (const f of FAMILIES) assert.equal(resolveFamily(f).family, f);
  });

  test('family facts: key field, segment job, quota per file', () => {
    assert.deepEqual(
      FAMILIES.map((f) => {
        const i = resolveFamily(f);
        return [f, i.key, i.segment, i.maxRecordsPerFile];
      }),
      [
        ['user-personalization', 'userId', false, 50_000_000],
        ['popular-items', 'userId', false, 50_000_000],
        ['personalized-ranking', 'userId', false, 50_000_000],
        ['related-items', 'itemId', false, 50_000_000],
        ['item-affinity', 'itemId', true, 500],
        ['item-attribute-affinity', 'itemAttributes', true, 10],
      ],
    );
  });

  test('Trending-Now and Next-Best-Action have no batch mode; unknown names are usage errors', async () => {
    for (const name of [
      'aws-trending-now',
      'aws-next-best-action',
      'arn:aws:personalize:::recipe/aws-trending-now',
    ]) {
      throwsWith(() => resolveFamily(name), 'PB_USAGE', /no batch mode/);
    }
    throwsWith(() => resolveFamily('aws-nope'), 'PB_USAGE', /unknown recipe "aws-nope"/);
    await rejectsWith(prepareStdin({ recipe: 'aws-next-best-action' }, USERS), 'PB_USAGE', /no batch mode/);
  });
});
