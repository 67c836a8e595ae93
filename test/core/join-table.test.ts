import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/core/catalog.js';
import { userColumnNames } from '../../src/core/out-convert.js';
import { prng } from '../../src/sample.js';

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

  test('clear() forgets every user and keeps the memory: the next partition starts empty in the same bytes', () => {
    const t = new Catalog(['email'], false, true, Number.POSITIVE_INFINITY, 0, {
      items: 2000,
      bytes: 80_000,
    });
    const held = t.bytes;
    for (let i = 0; i < 2000; i++) t.add(`a-${i}`, [`a${i}@example.com`]);
    t.add('a-1', ['again']);
    assert.deepEqual([t.size, t.duplicates, t.bytes], [2000, 1, held], 'sized once: no growth');
    t.clear();
    assert.deepEqual([t.size, t.duplicates, t.maxRecordBytes, t.bytes], [0, 0, 0, held]);
    const a = Buffer.from('a-1');
    assert.equal(t.lookup(a, 0, a.length, false), -1, 'the last partition is gone');
    assert.equal(t.add('b-1', ['b1@example.com']), 'added');
    assert.equal(t.add('a-1', ['new']), 'added', 'not a duplicate of a forgotten row');
    const b = Buffer.from('b-1');
    const out = Buffer.alloc(64);
    assert.equal(
      out.toString('utf8', 0, t.copyCell(t.lookup(b, 0, b.length, false), 0, out, 0)),
      'b1@example.com',
    );
  });
});

describe('Catalog with room taken at once', () => {
  test('bytes, cells and cut marks as a table grown by doubling, row for row, on random rows and rooms', () => {
    const rand = prng(30);
    for (const [json, room] of [
      [false, 4096],
      [false, 3 << 20],
      [true, 1 << 20],
      [false, 64 << 20],
    ] as const) {
      const grown = new Catalog(['email', 'name'], json, true, Number.POSITIVE_INFINITY, 12);
      const roomy = new Catalog(['email', 'name'], json, true, Number.POSITIVE_INFINITY, 12, undefined, room);
      const keys: string[] = [];
      for (let i = 0; i < 12_000; i++) {
        const key =
          rand() < 0.05 && keys.length > 0
            ? (keys[i % keys.length] as string)
            : `k${i}-${'x'.repeat(rand() * 40)}`;
        keys.push(key);
        const values = [`${key}@${'e'.repeat(rand() * 30)}.com`, rand() < 0.1 ? '=cmd' : 'Zoë'];
        assert.equal(roomy.add(key, values), grown.add(key, values), key);
        assert.equal(roomy.bytes, grown.bytes, `row ${i}, room ${room}`);
      }
      const a = Buffer.alloc(512);
      const b = Buffer.alloc(512);
      for (const key of keys.slice(0, 3000)) {
        const k = Buffer.from(key);
        const item = roomy.lookup(k, 0, k.length, false);
        assert.equal(item, grown.lookup(k, 0, k.length, false));
        if (json)
          assert.deepEqual(
            a.subarray(0, roomy.copyJson(item, a, 0)),
            b.subarray(0, grown.copyJson(item, b, 0)),
          );
        else
          for (const c of [0, 1]) {
            assert.deepEqual(
              a.subarray(0, roomy.copyCell(item, c, a, 0)),
              b.subarray(0, grown.copyCell(item, c, b, 0)),
            );
            assert.equal(roomy.isCut(item, c), grown.isCut(item, c));
          }
      }
      assert.deepEqual(
        [roomy.size, roomy.duplicates, roomy.cutValues],
        [grown.size, grown.duplicates, grown.cutValues],
      );
      const view = Catalog.view(roomy.share());
      const k = Buffer.from(keys[5] as string);
      assert.equal(view.lookup(k, 0, k.length, false), grown.lookup(k, 0, k.length, false));
    }
  });
});

describe('Catalog shared with the conversion workers', () => {
  const rand = prng(23);
  const values = ['Zoë', 'Smith, Jo', 'say "hi"', '=1+2', '', 'a long value that is cut', 'ü€ü€ü€'];
  const pick = () => values[Math.floor(rand() * values.length)] as string;
  const ids = Array.from({ length: 3000 }, (_, i) => `id-${i}-${Math.floor(rand() * 1e6)}`);

  for (const json of [false, true]) {
    test(`${json ? 'JSON' : 'CSV'}: a view of share(), cloned as workerData is, reads the same memory and answers the same`, () => {
      const t = new Catalog(['title', 'price'], json, true, 10_000, json ? 0 : 8);
      for (const id of ids) t.add(id, [pick(), pick()]);
      t.add(ids[5] as string, ['dup', 'dup']);
      if (!json) assert.ok(t.cutValues > 0);
      const shared = t.share();
      for (const b of [shared.arena, shared.starts, shared.index.arena, shared.index.table])
        assert.ok(b instanceof SharedArrayBuffer);
      // postMessage clones the same way: the buffers are shared, the rest copied.
      const v = Catalog.view(structuredClone(shared));
      assert.deepEqual(
        [v.size, v.columns, v.duplicates, v.maxRecordBytes, v.maxCellBytes, v.maxJsonBytes, v.cutValues],
        [t.size, t.columns, t.duplicates, t.maxRecordBytes, t.maxCellBytes, t.maxJsonBytes, t.cutValues],
      );
      const a = Buffer.alloc(256);
      const b = Buffer.alloc(256);
      for (const id of [...ids, 'absent', '']) {
        const key = Buffer.from(`"${id}"`);
        const item = t.lookup(key, 1, key.length - 1, false);
        assert.equal(v.lookup(key, 1, key.length - 1, false), item, id);
        if (json) {
          assert.deepEqual(b.subarray(0, v.copyJson(item, b, 0)), a.subarray(0, t.copyJson(item, a, 0)));
          continue;
        }
        if (item < 0) continue;
        for (const col of [0, 1]) {
          assert.deepEqual(
            b.subarray(0, v.copyCell(item, col, b, 0)),
            a.subarray(0, t.copyCell(item, col, a, 0)),
          );
          assert.equal(v.isCut(item, col), t.isCut(item, col));
        }
      }
      // One table in memory: the view reads the loader's bytes, not a copy of them.
      const read = (item: number) =>
        Buffer.from(b.subarray(0, json ? v.copyJson(item, b, 0) : v.copyCell(item, 0, b, 0)));
      const item = ids
        .map((id) => t.lookup(Buffer.from(id), 0, Buffer.byteLength(id), false))
        .find((i) => read(i).length > 0) as number;
      new Uint8Array(shared.arena).fill(0x41);
      const after = read(item);
      assert.ok(after.length > 0 && after.every((c) => c === 0x41), after.toString());
      // A view is read-only: it never writes into the loader's memory.
      assert.equal(v.add('new', ['x', 'y']), 'full');
    });
  }
});

describe("Catalog.addBytes (a users partition's records)", () => {
  const rand = prng(31);
  const values = [
    'Zoë',
    'Smith, Jo',
    'say "hi"',
    '=1+2',
    '+x',
    '@a',
    '-1',
    '\tt',
    '',
    'plain',
    'x'.repeat(12),
  ];
  values.push('ｘ', '＝1', 'cr\rx', 'two\nlines', '😀', 'a\\b');
  const pick = () => values[Math.floor(rand() * values.length)] as string;
  for (const [json, guard, cut] of [
    [false, true, 0],
    [false, true, 8],
    [false, false, 5],
    [true, true, 0],
  ] as const) {
    test(`${json ? 'JSON' : 'CSV'}${guard ? '' : ' unguarded'}${cut ? ` cut at ${cut}` : ''}: the same table as add() from strings`, () => {
      const a = new Catalog(['email', 'name'], json, guard, 10_000, cut);
      const b = new Catalog(['email', 'name'], json, guard, 10_000, cut);
      const starts = new Int32Array(2);
      const ends = new Int32Array(2);
      for (let i = 0; i < 3000; i++) {
        const key = `k${Math.floor(rand() * 2500)}`;
        const vals = [pick(), pick()];
        // Key and values as a partition holds them: bytes side by side in one buffer.
        const buf = Buffer.from(`#${key}|${vals[0]}|${vals[1]}`);
        const k = Buffer.byteLength(key) + 1;
        const v0 = Buffer.byteLength(vals[0] as string);
        starts.set([k + 1, k + 2 + v0]);
        ends.set([k + 1 + v0, buf.length]);
        assert.equal(b.addBytes(buf, 1, k, buf, starts, ends), a.add(key, vals), key);
      }
      assert.deepEqual(
        [b.size, b.duplicates, b.maxRecordBytes, b.maxCellBytes, b.maxJsonBytes, b.cutValues, b.bytes],
        [a.size, a.duplicates, a.maxRecordBytes, a.maxCellBytes, a.maxJsonBytes, a.cutValues, a.bytes],
      );
      if (!json) assert.ok(a.cutValues > 0 === cut > 0);
      const x = Buffer.alloc(256);
      const y = Buffer.alloc(256);
      for (let i = 0; i < 2500; i++) {
        const key = Buffer.from(`k${i}`);
        const item = a.lookup(key, 0, key.length, false);
        assert.equal(b.lookup(key, 0, key.length, false), item);
        if (item < 0) continue;
        if (json)
          assert.deepEqual(y.subarray(0, b.copyJson(item, y, 0)), x.subarray(0, a.copyJson(item, x, 0)));
        else
          for (const col of [0, 1]) {
            assert.deepEqual(
              y.subarray(0, b.copyCell(item, col, y, 0)),
              x.subarray(0, a.copyCell(item, col, x, 0)),
            );
            assert.equal(b.isCut(item, col), a.isCut(item, col));
          }
      }
    });
  }
});
