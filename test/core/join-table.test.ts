import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/core/catalog.js';
import { userColumnNames } from '../../src/core/out-convert.js';

// The pure parts of the users join: the column names, and the table's memory and lookups.

describe('userColumnNames', () => {
  test('a name taken by an earlier column, or an earlier user field, gets user_ (repeated)', () => {
    assert.deepEqual(userColumnNames(['email', 'score', 'user_score'], ['userId', 'rank', 'score']), [
      'email',
      'user_score',
      'user_user_score',
    ]);
    assert.deepEqual(userColumnNames(['items', 'userId', 'theme2'], ['userId', 'theme', 'items']), [
      'user_items',
      'user_userId',
      'theme2',
    ]);
    assert.deepEqual(userColumnNames([], ['a']), []);
  });
});

describe('Catalog as a users table', () => {
  test('bytes grows with what it holds; a key is found from a line by its bytes; the first row wins', () => {
    const t = new Catalog(['email'], false, true);
    const empty = t.bytes;
    assert.ok(empty > 0);
    for (let i = 0; i < 50_000; i++) t.add(`user-${i}`, [`user${i}@example.com`]);
    assert.ok(t.bytes > empty + 50_000 * 20, `${t.bytes}`);
    assert.equal(t.add('user-7', ['other']), 'duplicate');
    assert.equal(t.duplicates, 1);
    const line = Buffer.from('{"input":{"userId":"user-7"}}');
    const s = line.indexOf('user-7');
    const item = t.lookup(line, s, s + 6, false);
    assert.ok(item >= 0);
    const out = Buffer.alloc(64);
    assert.equal(out.toString('utf8', 0, t.copyCell(item, 0, out, 0)), 'user7@example.com');
    const escaped = Buffer.from('user\\u002d7');
    assert.equal(t.lookup(escaped, 0, escaped.length, true), item);
    assert.equal(t.lookup(Buffer.from('user-x'), 0, 6, false), -1);
  });
});
