/**
 * prepareRecords: ids and rows from memory give the records prepare writes
 * for the same data as a file, with its rules (trim, blanks, dedupe, spill,
 * limits, rejects), and an abort stops the source and leaves no spill folder.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import type { BatchInput } from '../../../src/core/build.js';
import { type PrepareRecordsOptions, prepareRecords } from '../../../src/stages/prepare/records.js';
import type { PrepareSummary } from '../../../src/stages/prepare/summary.js';
import { prepareStdin, rejectsWith, useTmp } from '../../helpers.js';

const tmp = useTmp();

async function collect(
  source: Parameters<typeof prepareRecords>[0],
  options: PrepareRecordsOptions,
): Promise<{ records: BatchInput[]; summary: PrepareSummary }> {
  const records: BatchInput[] = [];
  const gen = prepareRecords(source, options);
  for (;;) {
    const r = await gen.next();
    if (r.done) return { records, summary: r.value };
    records.push(r.value);
  }
}

async function* slowly<T>(values: T[]): AsyncGenerator<T> {
  for (const v of values) {
    await new Promise((r) => setImmediate(r));
    yield v;
  }
}

describe('prepareRecords: ids', () => {
  const long = 'x'.repeat(257);
  const ids = ['u1', '  u2 ', '', '   ', 'u1', 'u3\t', long, 'u2'];

  test('from an async generator: trimmed, blanks dropped, deduplicated, counted', async () => {
    const rejects = tmp.fresh('rejects.jsonl');
    const { records, summary } = await collect(slowly(ids), {
      recipe: 'user-personalization',
      onInvalid: 'skip',
      rejects,
    });
    assert.deepEqual(records, [{ userId: 'u1' }, { userId: 'u2' }, { userId: 'u3' }]);
    assert.equal(summary.written, 3);
    assert.equal(summary.duplicates, 2);
    assert.equal(summary.blankLines, 2);
    assert.equal(summary.rejected, 1);
    assert.equal(summary.recordsRead, 6);
    assert.equal(summary.bytesWritten, records.map((r) => `${JSON.stringify(r)}\n`).join('').length);
    const rej = JSON.parse((await readFile(rejects, 'utf8')).trim());
    assert.equal(rej.file, '(records)');
    assert.equal(rej.line, 7);
    assert.equal(rej.field, 'userId');
    assert.match(rej.reason, /256/);
  });

  test('a too-long id fails the run by default, naming its position', async () => {
    const err = await rejectsWith(
      collect(slowly(ids), { recipe: 'user-personalization', name: 'crm' }),
      'PB_INVALID_RECORD',
      /256/,
    );
    assert.equal(err.file, 'crm');
    assert.equal(err.line, 7);
  });

  test('the same records as prepare() on the ids as a file', async () => {
    const list = ['a', 'b ', 'a', 'c', '', 'b', 'd@x.io'];
    const cli = await prepareStdin({ recipe: 'related-items', allowEmailIds: true }, `${list.join('\n')}\n`);
    const lib = await collect(list, { recipe: 'related-items', allowEmailIds: true });
    assert.deepEqual(lib.records, cli.records);
    assert.equal(lib.summary.duplicates, cli.summary.duplicates);
  });

  test('e-mail-like ids are refused as prepare refuses them, the message naming the option', async () => {
    await rejectsWith(
      collect(['a@b.com'], { recipe: 'user-personalization' }),
      'PB_INVALID_RECORD',
      /options\.allowEmailIds/,
    );
  });

  test('skip without a rejects file, or rejects to -, is refused before reading', async () => {
    let read = false;
    const src = (function* () {
      read = true;
      yield 'u1';
    })();
    await rejectsWith(
      collect(src, { recipe: 'user-personalization', onInvalid: 'skip' }),
      'PB_USAGE',
      /needs rejects/,
    );
    await rejectsWith(
      collect(src, { recipe: 'user-personalization', onInvalid: 'skip', rejects: '-' }),
      'PB_USAGE',
      /no stdout/,
    );
    assert.equal(read, false);
  });

  test('progress events while a slow source is read', async () => {
    const events: unknown[] = [];
    async function* slow() {
      for (let i = 0; i < 3 * 1024; i++) {
        if (i % 1024 === 0) await new Promise((r) => setTimeout(r, 300));
        yield `u${i}`;
      }
    }
    await collect(slow(), { recipe: 'user-personalization', onEvent: (e) => events.push(e) });
    assert.ok(events.length >= 1);
    assert.deepEqual(Object.keys(events[0] as object), ['type', 'recordsRead', 'written', 'bytesRead']);
    assert.equal((events[0] as { type: string }).type, 'progress');
  });

  test('values that are neither ids nor rows, or of the other kind, are bad records', async () => {
    const rejects = tmp.fresh('mixed.jsonl');
    const { records, summary } = await collect(['u1', 5 as unknown as string, { userId: 'u2' }, 'u3'], {
      recipe: 'user-personalization',
      onInvalid: 'skip',
      rejects,
    });
    assert.deepEqual(records, [{ userId: 'u1' }, { userId: 'u3' }]);
    assert.equal(summary.rejected, 2);
    const lines = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.line),
      [2, 3],
    );
    assert.match(lines[0].reason, /a number/);
    assert.match(lines[1].reason, /a row \(an object\) among ids/);
  });

  test('past a tiny memory budget: spilled, the same records as prepare() with that budget', async () => {
    const list = Array.from({ length: 4_000 }, (_, i) => `user-${(i * 7919) % 3_000}`);
    const opts = { recipe: 'user-personalization', memoryBudget: 4000 };
    const cli = await prepareStdin(opts, `${list.join('\n')}\n`);
    const lib = await collect(list, { ...opts, tmpDir: tmp.dir() });
    assert.equal(lib.summary.spilled, true);
    assert.equal(lib.records.length, 3_000);
    assert.equal(lib.summary.duplicates, 1_000);
    assert.deepEqual(
      lib.records.map((r) => r.userId).sort(),
      cli.records.map((r) => r.userId as string).sort(),
    );
  });
});

describe('prepareRecords: rows, every family prepare supports', () => {
  const cases: { name: string; options: PrepareRecordsOptions; rows: object[]; csv: string }[] = [
    {
      name: 'user-personalization with filter values',
      options: { recipe: 'user-personalization', column: 'customer', filters: ['GENRE=genre'] },
      rows: [
        { customer: ' c1 ', genre: 'a|b' },
        { customer: 'c2', genre: 'x' },
        { customer: 'c1', genre: 'z' },
      ],
      csv: 'customer,genre\n c1 ,a|b\nc2,x\nc1,z\n',
    },
    {
      name: 'popular-items',
      options: { recipe: 'aws-popularity-count' },
      rows: [{ user_id: 'u1' }, { user_id: 'u2' }],
      csv: 'user_id\nu1\nu2\n',
    },
    {
      name: 'related-items',
      options: { recipe: 'aws-sims' },
      rows: [{ ITEM_ID: 'i1' }, { ITEM_ID: 'i2' }, { ITEM_ID: 'i1' }],
      csv: 'ITEM_ID\ni1\ni2\ni1\n',
    },
    {
      name: 'item-affinity',
      options: { recipe: 'item-affinity' },
      rows: [{ item_id: 'i9' }],
      csv: 'item_id\ni9\n',
    },
    {
      name: 'item-attribute-affinity',
      options: { recipe: 'item-attribute-affinity', attributes: ['genre', 'audience'] },
      rows: [
        { genre: 'Comedy', audience: 'teen' },
        { genre: 'Drama "x"', audience: 'all' },
      ],
      csv: 'genre,audience\nComedy,teen\n"Drama ""x""",all\n',
    },
    {
      name: 'personalized-ranking from list cells',
      options: { recipe: 'personalized-ranking' },
      rows: [
        { user_id: 'u1', items: 'a|b| a |c' },
        { user_id: 'u2', items: 'x' },
      ],
      csv: 'user_id,items\nu1,a|b| a |c\nu2,x\n',
    },
    {
      name: 'personalized-ranking grouped from (user, item) rows',
      options: { recipe: 'personalized-ranking', itemColumn: 'ITEM_ID' },
      rows: [
        { USER_ID: 'u1', ITEM_ID: 'a' },
        { USER_ID: 'u2', ITEM_ID: 'b' },
        { USER_ID: 'u1', ITEM_ID: 'c' },
      ],
      csv: 'USER_ID,ITEM_ID\nu1,a\nu2,b\nu1,c\n',
    },
  ];
  for (const c of cases) {
    test(`${c.name}: the records prepare() writes for the same CSV`, async () => {
      const cli = await prepareStdin(c.options, c.csv);
      const lib = await collect(c.rows, c.options);
      assert.ok(cli.records.length > 0);
      assert.deepEqual(lib.records, cli.records);
      assert.equal(lib.summary.family, cli.summary.family);
      assert.equal(lib.summary.written, cli.summary.written);
    });
  }

  test('a row without the id field is a bad record, as in a JSON Lines file', async () => {
    const err = await rejectsWith(
      collect([{ customer: 'c1' }, { name: 'x' }], { recipe: 'user-personalization', column: 'customer' }),
      'PB_INVALID_RECORD',
      /missing from this object/,
    );
    assert.equal(err.line, 2);
    assert.equal(err.field, 'customer');
  });

  test('an .out record among rows is refused by content', async () => {
    const line = { input: { userId: 'u1' }, output: { recommendedItems: ['a'] }, error: null };
    await assert.rejects(collect([line], { recipe: 'user-personalization' }), /output/);
  });
});

describe('prepareRecords: abort', () => {
  test('stops the source, removes the spill folder, throws an AbortError', async () => {
    const dir = tmp.fresh('spill');
    await mkdir(dir);
    const ac = new AbortController();
    let produced = 0;
    let finallyRan = false;
    let spillFiles = 0;
    async function* big(): AsyncGenerator<string> {
      try {
        for (let i = 0; i < 10_000_000; i++) {
          produced++;
          if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
          if (i === 30_000)
            setImmediate(() => {
              spillFiles = readdirSync(dir).length;
              ac.abort();
            });
          yield `user-${i}`;
        }
      } finally {
        finallyRan = true;
      }
    }
    let yielded = 0;
    const run = async () => {
      for await (const _ of prepareRecords(big(), {
        recipe: 'user-personalization',
        memoryBudget: 4000,
        tmpDir: dir,
        signal: ac.signal,
      }))
        yielded++;
    };
    await assert.rejects(run(), (err: Error) => err.name === 'AbortError');
    await new Promise((r) => setImmediate(r));
    assert.ok(finallyRan, "the source's finally ran");
    assert.ok(produced < 100_000, `reading stopped early (${produced} produced)`);
    assert.equal(spillFiles, 1, 'the spill folder was there when the abort came');
    assert.deepEqual(await readdir(dir), []);
    assert.ok(yielded < produced);
  });

  test('an aborted signal throws before reading; a reason that is not an AbortError is its cause', async () => {
    let read = false;
    const src = (function* () {
      read = true;
      yield 'u1';
    })();
    const reason = new Error('shutting down');
    const err = await collect(src, {
      recipe: 'user-personalization',
      signal: AbortSignal.abort(reason),
    }).then(
      () => assert.fail('resolved'),
      (e: Error) => e,
    );
    assert.equal(err.name, 'AbortError');
    assert.equal(err.cause, reason);
    assert.equal(read, false);
  });
});
