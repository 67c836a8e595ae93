import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addTouch, type ItemTouches, mergeLists, pickItems } from '../../src/core/map-users.js';

// The pure rules of export --map-users: which items a user's touches pick, and how lists merge.

function touches(rows: [string, number | null][]): Map<string, ItemTouches> {
  const m = new Map<string, ItemTouches>();
  rows.forEach(([item, time], at) => {
    addTouch(m, item, time ?? Number.NEGATIVE_INFINITY, at);
  });
  return m;
}

describe('map-users rules', () => {
  test('latest: the latest time; on a tie the later row', () => {
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 5],
          ['b', 9],
          ['c', 3],
        ]),
        'latest',
      ),
      ['b'],
    );
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 9],
          ['b', 9],
        ]),
        'latest',
      ),
      ['b'],
    );
    // An earlier time on a later row does not move a's latest touch.
    assert.deepEqual(
      pickItems(
        touches([
          ['b', 9],
          ['a', 9],
          ['a', 1],
        ]),
        'latest',
      ),
      ['a'],
    );
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 9],
          ['b', 9],
          ['a', 1],
        ]),
        'latest',
      ),
      ['b'],
    );
  });

  test('most-frequent: the count, then the latest, then the later row; no time at all goes by rows', () => {
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 1],
          ['a', 2],
          ['b', 9],
        ]),
        'most-frequent',
      ),
      ['a'],
    );
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 1],
          ['b', 2],
          ['a', 3],
          ['b', 1],
        ]),
        'most-frequent',
      ),
      ['a'],
    );
    assert.deepEqual(
      pickItems(
        touches([
          ['a', null],
          ['b', null],
          ['b', null],
          ['a', null],
        ]),
        'most-frequent',
      ),
      ['a'],
    );
    assert.deepEqual(pickItems(new Map(), 'most-frequent'), []);
  });

  test('all: every item, the latest first', () => {
    assert.deepEqual(
      pickItems(
        touches([
          ['a', 1],
          ['b', 5],
          ['c', 5],
          ['a', 2],
        ]),
        'all',
      ),
      ['c', 'b', 'a'],
    );
  });

  test('merge: best rank wins with its source, the earlier pick on a tie, seen dropped, ranks renumbered, top', () => {
    const lists = new Map([
      ['p', { items: ['x', 'y', 'q'], scores: ['0.3', '0.2', '0.1'] }],
      ['q', { items: ['y', 'x', 'z'], scores: null }],
    ]);
    const get = (i: string) => lists.get(i);
    const m = mergeLists(['q', 'p'], get, undefined, 0);
    assert.deepEqual(
      m.rows.map((r) => [r.source, r.rank, r.item, r.score]),
      [
        ['q', 1, 'y', null],
        ['p', 2, 'x', '0.3'],
        ['q', 3, 'z', null],
        ['p', 4, 'q', '0.1'],
      ],
    );
    const seen = mergeLists(['q', 'p'], get, new Set(['q', 'p', 'y']), 2);
    assert.deepEqual(
      seen.rows.map((r) => [r.source, r.rank, r.item]),
      [
        ['p', 1, 'x'],
        ['q', 2, 'z'],
      ],
    );
    assert.equal(seen.seenDropped, 2);
    assert.equal(seen.withList, true);
    const none = mergeLists(['nope'], get, undefined, 0);
    assert.deepEqual([none.rows, none.withList], [[], false]);
  });
});
