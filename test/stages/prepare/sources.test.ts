/**
 * The files people actually feed in: marketing e-mail lists, Personalize
 * Users / Items / Interactions dataset CSVs, and how the id column is chosen.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keys, prepareStdin, prng, rejectsWith } from '../../helpers.js';

const UP = { recipe: 'user-personalization' } as const;

/** Interactions rows (USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE) from a seed, unsorted by user. */
function interactions(rows: number, seed: number): { csv: string; data: [string, string, number][] } {
  const rand = prng(seed);
  const data: [string, string, number][] = [];
  let csv = 'USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n';
  for (let i = 0; i < rows; i++) {
    const u = `user${Math.floor(rand() * 300)}`;
    const it = `item${Math.floor(rand() * 80)}`;
    const ts = 1_700_000_000 + Math.floor(rand() * 1_000_000);
    data.push([u, it, ts]);
    csv += `${u},${it},${ts},click\n`;
  }
  return { csv, data };
}

function distinctInOrder(values: string[]): string[] {
  return [...new Set(values)];
}

describe('typical sources', () => {
  test('e-mail list email,user_id,first_name: takes user_id, never the e-mail', async () => {
    const r = await prepareStdin(
      UP,
      'email,user_id,first_name\nana@example.com,u1,Ana\nbo@example.com,u2,Bo\nana2@example.com,u1,Ana\n',
    );
    assert.deepEqual(r.records, [{ userId: 'u1' }, { userId: 'u2' }]);
    assert.ok(!r.out.includes('@'), 'no e-mail address in the output');
    assert.equal(r.summary.duplicates, 1);
  });

  test('an e-mail list without a user id column is a usage error that lists the header', async () => {
    const err = await rejectsWith(
      prepareStdin(UP, 'email,first_name,signup\na@x,Ana,2026-01-01\n'),
      'PB_USAGE',
      /cannot find the user id column/,
    );
    assert.match(err.message, /"email", "first_name", "signup"/);
    assert.match(err.message, /--column/);
  });

  test('ambiguous user id columns are a usage error naming both; --column settles it', async () => {
    const input = 'user_id,userId,email\na,b,c@x\n';
    const err = await rejectsWith(prepareStdin(UP, input), 'PB_USAGE', /ambiguous/);
    assert.match(err.message, /"user_id" and "userId"/);
    const r = await prepareStdin({ ...UP, column: 'userId' }, input);
    assert.deepEqual(keys(r.records), ['b']);
  });

  test('an explicit --column matches exactly, else case-insensitively, else lists the header', async () => {
    const r = await prepareStdin({ ...UP, column: 'MEMBER' }, 'email,member\na@x,m1\n');
    assert.deepEqual(keys(r.records), ['m1']);
    const err = await rejectsWith(
      prepareStdin({ ...UP, column: 'nope' }, 'email,member\na@x,m1\n'),
      'PB_USAGE',
      /no column "nope"/,
    );
    assert.match(err.message, /"email", "member"/);
  });

  test('Personalize Users dataset (USER_ID + metadata)', async () => {
    const r = await prepareStdin(
      { recipe: 'aws-user-personalization-v2' },
      'USER_ID,AGE,GENDER,MEMBERSHIP\n1001,34,F,gold\n1002,28,M,"silver, trial"\n',
    );
    assert.deepEqual(r.records, [{ userId: '1001' }, { userId: '1002' }]);
  });

  test('Items dataset (ITEM_ID + metadata) for related-items and item-affinity', async () => {
    const items =
      'ITEM_ID,GENRES,PRICE,CREATION_TIMESTAMP,DESCRIPTION\n' +
      'i1,Comedy|Drama,9.99,1700000000,"A ""fun"", long\ndescription"\n' +
      'i2,Horror,4.5,1700000001,short\n' +
      'i1,Comedy,9.99,1700000000,again\n';
    for (const recipe of ['related-items', 'aws-sims', 'aws-similar-items', 'item-affinity']) {
      const r = await prepareStdin({ recipe }, items);
      assert.deepEqual(r.records, [{ itemId: 'i1' }, { itemId: 'i2' }], recipe);
      assert.equal(r.summary.duplicates, 1, recipe);
    }
  });

  test('Interactions dataset: distinct users in first-seen order (oracle)', async () => {
    const { csv, data } = interactions(3000, 7);
    const r = await prepareStdin(UP, csv);
    const expected = distinctInOrder(data.map((d) => d[0]));
    assert.deepEqual(keys(r.records), expected);
    assert.equal(r.summary.duplicates, data.length - expected.length);
    const items = await prepareStdin({ recipe: 'related-items' }, csv);
    assert.deepEqual(keys(items.records), distinctInOrder(data.map((d) => d[1])));
  });

  test('Interactions with since: only users active at or after the cut-off (epoch seconds and ISO)', async () => {
    const { csv, data } = interactions(3000, 11);
    const cutoff = 1_700_600_000;
    const expected = distinctInOrder(data.filter((d) => d[2] >= cutoff).map((d) => d[0]));
    const inactive = data.filter((d) => d[2] < cutoff).length;
    const iso = new Date(cutoff * 1000).toISOString();
    for (const since of [cutoff, String(cutoff), iso]) {
      const r = await prepareStdin({ ...UP, since }, csv);
      assert.deepEqual(keys(r.records), expected, `since ${since}`);
      assert.equal(r.summary.inactive, inactive, `since ${since}`);
    }
  });

  test('since: the cut-off itself is kept; ISO and millisecond timestamps in the data', async () => {
    const csv =
      'USER_ID,ITEM_ID,TIMESTAMP\n' +
      'old,i,2023-12-31T23:59:59Z\n' +
      'edge,i,2024-01-01T00:00:00Z\n' +
      'ms-old,i,1704067199000\n' +
      'ms-new,i,1704067200000\n' +
      'secs,i,1704067200\n';
    const r = await prepareStdin({ ...UP, since: '2024-01-01T00:00:00Z' }, csv);
    assert.deepEqual(keys(r.records), ['edge', 'ms-new', 'secs']);
    assert.equal(r.summary.inactive, 2);
  });

  test('since: a custom timestamp column, a bad cell, plain input and a bad date', async () => {
    const r = await prepareStdin(
      { ...UP, since: 100, timestampColumn: 'when' },
      'user_id,when\na,99\nb,100\n',
    );
    assert.deepEqual(keys(r.records), ['b']);
    const bad = await rejectsWith(
      prepareStdin({ ...UP, since: 1 }, 'USER_ID,TIMESTAMP\nu1,5\nu2,yesterday\n'),
      'PB_INVALID_RECORD',
    );
    assert.equal(
      bad.message,
      '-:3: TIMESTAMP: "yesterday" is not a timestamp: use epoch seconds (1767571200), epoch milliseconds (1767571200000) or ISO 8601 (2026-01-05, 2026-01-05T10:00:00Z)',
    );
    await rejectsWith(prepareStdin({ ...UP, since: 1 }, 'u1\nu2\n'), 'PB_USAGE', /timestamp column/);
    await rejectsWith(prepareStdin({ ...UP, since: 'last tuesday' }, 'u1\n'), 'PB_USAGE', /--since/);
    await rejectsWith(
      prepareStdin({ ...UP, since: 1 }, 'USER_ID,ITEM_ID\nu1,i1\n'),
      'PB_USAGE',
      /timestamp column.*"USER_ID", "ITEM_ID"/,
    );
  });
});
