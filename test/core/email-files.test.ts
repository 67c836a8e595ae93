import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvCellCut } from '../../src/core/csv-cell.js';
import { cutText, parseRenames, partPath, renameHeader, utf8CutLength } from '../../src/core/email-files.js';
import { throwsWith } from '../helpers.js';

test('parseRenames: pairs in order, trimmed; bad pairs and repeats are usage errors', () => {
  assert.deepEqual(parseRenames('userId=external_id, email = Email,'), {
    userId: 'external_id',
    email: 'Email',
  });
  assert.deepEqual(parseRenames('userId=Email Address'), { userId: 'Email Address' });
  throwsWith(() => parseRenames('userId'), 'PB_USAGE', /OLD=NEW pairs.*got "userId"/);
  throwsWith(() => parseRenames('=x'), 'PB_USAGE', /OLD=NEW/);
  throwsWith(() => parseRenames('a=b,a=c'), 'PB_USAGE', /renames a twice/);
  throwsWith(() => parseRenames(' , '), 'PB_USAGE', /at least one/);
});

test('renameHeader: renamed in place; an unknown name lists the columns and the nearest; no two alike', () => {
  const h = ['userId', 'rank', 'itemId', 'score'];
  assert.deepEqual(renameHeader(h, { userId: 'external_id', score: 'Score' }), [
    'external_id',
    'rank',
    'itemId',
    'Score',
  ]);
  // Swapping two names is fine: only the result must be distinct.
  assert.deepEqual(renameHeader(h, { rank: 'itemId', itemId: 'rank' }), [
    'userId',
    'itemId',
    'rank',
    'score',
  ]);
  const e = throwsWith(() => renameHeader(h, { userID: 'x' }), 'PB_USAGE', /no column userID/);
  assert.match(e.message, /did you mean userId\?/);
  assert.match(e.message, /its columns are userId, rank, itemId, score/);
  throwsWith(
    () => renameHeader(h, { rank: 'n', score: 'n' }),
    'PB_USAGE',
    /rank and score would both be named n/,
  );
  throwsWith(() => renameHeader(h, { score: 'rank' }), 'PB_USAGE', /rank and score would both be named rank/);
});

test('partPath: five digits before the last extension, or at the end', () => {
  assert.equal(partPath('recs.csv', 1), 'recs-00001.csv');
  assert.equal(partPath('out/recs.tar.csv', 12), 'out/recs.tar-00012.csv');
  assert.equal(partPath('out.d/recs', 3), 'out.d/recs-00003');
  assert.equal(partPath('dir/.hidden', 2), 'dir/.hidden-00002');
});

test('utf8CutLength and cutText never split a character (é 2 bytes, € 3, 😀 4)', () => {
  const text = 'aé€😀b';
  const bytes = Buffer.from(text);
  const starts = [0, 1, 3, 6, 10, 11];
  for (let max = 0; max <= bytes.length + 1; max++) {
    const n = utf8CutLength(bytes, 0, bytes.length, max);
    const want = max >= bytes.length ? bytes.length : Math.max(...starts.filter((s) => s <= max));
    assert.equal(n, want, `max ${max}`);
    const cut = cutText(text, max);
    if (max >= bytes.length) assert.equal(cut, undefined);
    else {
      assert.equal(cut, bytes.toString('utf8', 0, want));
      assert.ok(!(cut as string).includes('\uFFFD'));
    }
  }
  // A span inside a larger buffer.
  const padded = Buffer.concat([Buffer.from('xx'), bytes]);
  assert.equal(utf8CutLength(padded, 2, padded.length, 5), 3);
});

test('csvCellCut: the value a reader gets (the formula guard included) fits, quoting kept', () => {
  assert.deepEqual(csvCellCut('héllo, world', true, 0), { cell: '"héllo, world"', cut: false });
  assert.deepEqual(csvCellCut('héllo, world', true, 7), { cell: '"héllo,"', cut: true });
  assert.deepEqual(csvCellCut('héllo', true, 2), { cell: 'h', cut: true });
  // '=' gets a ' before it: 1 byte of the budget.
  assert.deepEqual(csvCellCut('=SUM(A1)', true, 4), { cell: "'=SU", cut: true });
  assert.deepEqual(csvCellCut('=SUM(A1)', false, 4), { cell: '=SUM', cut: true });
  assert.deepEqual(csvCellCut('say "hi"', true, 6), { cell: '"say ""h"', cut: true });
  assert.deepEqual(csvCellCut('abc', true, 3), { cell: 'abc', cut: false });
});
