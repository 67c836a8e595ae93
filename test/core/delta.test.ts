import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalBytes,
  cellValue,
  csvShapeOf,
  EMPTY_DIGEST,
  ListDigest,
  scoreText,
} from '../../src/core/delta.js';

// export --since's pure parts: the list digest, scores as compared, export headers read back.

function digest(ids: string[], scores?: string[]): string {
  const d = new ListDigest();
  ids.forEach((id, i) => {
    const b = Buffer.from(id);
    d.id(b, 0, b.length);
    if (scores) d.score(scoreText(scores[i]));
  });
  return d.hex();
}

test('the digest: equal lists agree; order, a split id, an extra id or a score change differ', () => {
  assert.equal(digest(['a', 'b']), digest(['a', 'b']));
  assert.match(digest(['a', 'b']), /^[0-9a-f]{16}$/);
  const seen = new Set([
    digest(['a', 'b']),
    digest(['b', 'a']),
    digest(['ab']),
    digest(['a', 'b', '']),
    digest(['a', 'b'], ['0.5', '0.25']),
    digest(['a', 'b'], ['0.5', '0.26']),
    EMPTY_DIGEST,
  ]);
  assert.equal(seen.size, 7, 'each of these lists has a digest of its own');
  assert.equal(digest(['a'], ['0.10']), digest(['a'], ['0.1']), 'one number, two spellings');
  assert.equal(digest([]), EMPTY_DIGEST);
  // reset() starts over: the same digest as a fresh one.
  const d = new ListDigest();
  const x = Buffer.from('x');
  d.id(x, 0, 1);
  d.reset();
  assert.equal(d.hex(), EMPTY_DIGEST);
  // No collision among 20,000 random short lists (a weak hash would show some).
  const all = new Set<string>();
  for (let i = 0; i < 20_000; i++) all.add(digest([`i${i % 97}`, `i${Math.floor(i / 97)}`, `s${i}`]));
  assert.equal(all.size, 20_000);
});

test('scores are compared as numbers: shortest text, null for none or blank, text kept when no number', () => {
  assert.equal(scoreText('0.10'), '0.1');
  assert.equal(scoreText('1e-3'), '0.001');
  assert.equal(scoreText(' 2 '), '2');
  assert.equal(scoreText(''), 'null');
  assert.equal(scoreText(null), 'null');
  assert.equal(scoreText(undefined), 'null');
  assert.equal(scoreText('n/a'), 'n/a');
});

test("export's headers read back: csv-long with and without scores, csv-wide, anything else refused", () => {
  const long = csvShapeOf(['userId', 'rank', 'itemId', 'score', 'TITLE']);
  assert.deepEqual(long && [long.format, long.recipe, long.idCol, long.scoreCol, long.rankCol], [
    'csv-long',
    { keyColumn: 'userId', idName: 'itemId', mapped: false },
    2,
    3,
    1,
  ]);
  assert.equal(csvShapeOf(['userId', 'rank', 'itemId'])?.scoreCol, -1);
  const wide = csvShapeOf(['userId', 'item_1', 'item_2', 'score_1', 'score_2', 'TITLE_1']);
  assert.deepEqual(wide && [wide.format, wide.idCols, wide.scoreCols], ['csv-wide', [1, 2], [3, 4]]);
  const segments = csvShapeOf(['itemId', 'user_1', 'user_2']);
  assert.deepEqual(segments?.recipe, { keyColumn: 'itemId', idName: 'userId', mapped: false });
  // export --map-users' headers: the same key and ids, told apart by source_item.
  assert.equal(csvShapeOf(['userId', 'source_item', 'rank', 'itemId'])?.recipe.mapped, true);
  assert.equal(
    csvShapeOf(['userId', 'item_1', 'item_2', 'source_item_1', 'source_item_2'])?.recipe.mapped,
    true,
  );
  assert.equal(wide?.recipe.mapped, false);
  assert.equal(csvShapeOf(['email', 'user_id', 'first_name']), undefined, 'an e-mail list');
  assert.equal(csvShapeOf(['userId', 'item_1', 'user_1']), undefined, 'both kinds of ids');
  assert.equal(csvShapeOf(['userId', 'first_name']), undefined, 'no ids');
  assert.equal(csvShapeOf([]), undefined);
});

test('cells read back as the ids they were written from: the formula guard taken off, bytes as the .out holds them', () => {
  assert.equal(cellValue("'=x", true), '=x');
  assert.equal(cellValue("'+1", true), '+1');
  assert.equal(cellValue("'x", true), "'x", 'a quote before no formula character is the id');
  assert.equal(cellValue("'=x", false), "'=x", 'without the guard nothing is taken off');
  assert.equal(cellValue("'", true), "'");
  // A negative-number id: written without a guard now, with one by earlier versions; both read back alike.
  assert.equal(cellValue('-8234567890123456789', true), '-8234567890123456789');
  assert.equal(cellValue("'-8234567890123456789", true), '-8234567890123456789');
  assert.deepEqual(canonicalBytes('Zoë'), Buffer.from('Zoë'));
  assert.equal(canonicalBytes('say "hi"\n').toString(), 'say \\"hi\\"\\n');
});

test('hexInto writes the bytes of hex(), for every digit at every place', () => {
  const d = new ListDigest();
  const buf = Buffer.alloc(20, 0x2e);
  for (let i = 0; i < 200; i++) {
    d.id(Buffer.from(`id${i}é`), 0, 5 + String(i).length);
    d.hexInto(buf, 2);
    assert.equal(buf.toString('latin1', 2, 18), d.hex());
    assert.equal(buf.toString('latin1', 0, 2) + buf.toString('latin1', 18), '....');
  }
});
