/**
 * validateFiles(): every problem kind is reported as `file:line: field: reason`
 * through onProblem, the first maxReported are reported and all are counted.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { prepare } from '../../../src/stages/prepare/index.js';
import type { ValidateEvent } from '../../../src/stages/validate/index.js';
import { validateFiles } from '../../../src/stages/validate/index.js';
import { rejectsWith, split, stdinOf, useTmp, validate, writeText } from '../../helpers.js';

const { fresh } = useTmp();

const jsonl = (objs: unknown[]) => `${objs.map((o) => JSON.stringify(o)).join('\n')}\n`;

/** Validates one file and returns the messages with the file path shown as F. */
async function check(
  recipe: string,
  content: string | Buffer,
  extra: { maxItemList?: number; maxBytesPerJob?: number; maxReported?: number; maxLineLength?: number } = {},
) {
  const f = await writeText(fresh('batch.jsonl'), content);
  const { summary, messages } = await validate({ recipe, files: [f], ...extra });
  return { summary, messages: messages.map((m) => m.split(f).join('F')), file: f };
}

describe('validateFiles', () => {
  test('good files of every family pass with no problem', async () => {
    const good: [string, unknown[]][] = [
      [
        'user-personalization',
        [{ userId: '4638' }, { userId: '5', filterValues: { GENRES: '"horror","comedy"' } }],
      ],
      ['popular-items', [{ userId: '12' }]],
      ['personalized-ranking', [{ userId: '891', itemList: ['27', '886'] }]],
      ['related-items', [{ itemId: '105' }]],
      ['item-affinity', [{ itemId: '105' }]],
      [
        'item-attribute-affinity',
        [{ itemAttributes: 'ITEMS.genres = "Comedy" AND ITEMS.audience = "teen"' }],
      ],
    ];
    for (const [recipe, lines] of good) {
      const { summary, messages } = await check(recipe, jsonl(lines));
      assert.deepEqual(messages, [], recipe);
      assert.equal(summary.problems, 0, recipe);
      assert.equal(summary.records, lines.length, recipe);
      assert.equal(summary.family, recipe);
    }
  });

  test('bad JSON and non-object lines, with line numbers past blank lines and CRLF', async () => {
    const { summary, messages } = await check(
      'user-personalization',
      '{"userId":"1"}\r\n\r\n{bad\r\n[1]\r\n{"userId":"2"}\r\n',
    );
    assert.equal(messages.length, 2);
    assert.match(messages[0] as string, /^F:3: \(line\): not valid JSON/);
    assert.equal(messages[1], 'F:4: (line): expected one JSON object per line');
    assert.equal(summary.records, 4);
    assert.equal(summary.invalidRecords, 2);
    assert.equal(summary.blankLines, 1);
  });

  test('missing field, extra field, wrong type, empty and over-long ids', async () => {
    const { messages } = await check(
      'related-items',
      jsonl([
        { userId: '1' },
        { itemId: '1', x: 2 },
        { itemId: 5 },
        { itemId: '' },
        { itemId: 'a'.repeat(257) },
        { itemId: 'a'.repeat(256) },
      ]),
    );
    assert.deepEqual(messages, [
      'F:1: itemId: missing (a related-items line needs it)',
      'F:2: x: not a field of a related-items line (allowed: itemId, filterValues)',
      'F:3: itemId: must be a string',
      'F:4: itemId: empty',
      'F:5: itemId: longer than 256 characters (service limit)',
    ]);
  });

  test('bad filterValues: unquoted values, a $ in the name, a non-string value', async () => {
    const { messages } = await check(
      'user-personalization',
      jsonl([
        { userId: '1', filterValues: { G: 'horror,comedy' } },
        { userId: '1', filterValues: { $G: '"a"' } },
        { userId: '1', filterValues: { G: 3 } },
        { userId: '1', filterValues: { G: '"a\\"b","c"' } },
      ]),
    );
    assert.equal(messages.length, 3);
    assert.match(messages[0] as string, /^F:1: filterValues\.G: must be values in escaped double quotes/);
    assert.match(
      messages[1] as string,
      /^F:2: filterValues.*: filter parameter names are letters, digits and _/,
    );
    assert.match(messages[2] as string, /^F:3: filterValues\.G: must be a string$/);
  });

  test('bad itemAttributes queries: OR, IN, unclosed quote, no ITEMS. prefix, other operators', async () => {
    const queries = [
      'ITEMS.genre = "a" OR ITEMS.x = "b"',
      'ITEMS.genre IN ("a", "b")',
      'ITEMS.genre = "a',
      'genre = "a"',
      'ITEMS.price > 3',
      'ITEMS.genre = "a\\"b" AND ITEMS.year = 1999',
    ];
    const { messages, summary } = await check(
      'item-attribute-affinity',
      jsonl(queries.map((q) => ({ itemAttributes: q }))),
    );
    assert.deepEqual(messages, [
      'F:1: itemAttributes: only AND may join conditions (no OR)',
      'F:2: itemAttributes: only = is allowed (column genre)',
      'F:3: itemAttributes: unclosed quote in the value of genre (escape quotes inside values as \\")',
      'F:4: itemAttributes: must start with ITEMS.<column> = "<value>"',
      'F:5: itemAttributes: only = is allowed (column price)',
    ]);
    assert.equal(summary.invalidRecords, 5);
  });

  test('itemList too long (default 500 and --max-item-list), empty and missing', async () => {
    const list = (k: number) => Array.from({ length: k }, (_, i) => `i${i}`);
    const d = await check(
      'personalized-ranking',
      jsonl([
        { userId: '1', itemList: list(500) },
        { userId: '2', itemList: list(501) },
      ]),
    );
    assert.deepEqual(d.messages, ['F:2: itemList: 501 items exceed the limit of 500 (--max-item-list)']);
    const { messages } = await check(
      'personalized-ranking',
      jsonl([{ userId: '1', itemList: list(3) }, { userId: '1', itemList: [] }, { userId: '1' }]),
      { maxItemList: 2 },
    );
    assert.deepEqual(messages, [
      'F:1: itemList: 3 items exceed the limit of 2 (--max-item-list)',
      'F:2: itemList: empty list',
      'F:3: itemList: missing (a personalized-ranking line needs it)',
    ]);
  });

  test('more than 500 item-affinity queries in one file; exactly 500 is fine', async () => {
    const items = (k: number) => Array.from({ length: k }, (_, i) => ({ itemId: `i${i}` }));
    const ok = await check('item-affinity', jsonl(items(500)));
    assert.deepEqual(ok.messages, []);
    const over = await check('item-affinity', jsonl(items(501)));
    assert.equal(over.messages.length, 1);
    assert.match(
      over.messages[0] as string,
      /^F: \(file\): 501 queries exceed the item-affinity quota of 500/,
    );
    assert.equal(over.summary.invalidRecords, 0);
    assert.equal(over.summary.problems, 1);
  });

  test('more than 10 item-attribute-affinity queries in one file', async () => {
    const qs = (k: number) => Array.from({ length: k }, (_, i) => ({ itemAttributes: `ITEMS.g = "${i}"` }));
    assert.deepEqual((await check('item-attribute-affinity', jsonl(qs(10)))).messages, []);
    const over = await check('item-attribute-affinity', jsonl(qs(11)));
    assert.equal(over.messages.length, 1);
    assert.match(
      over.messages[0] as string,
      /^F: \(file\): 11 queries exceed the item-attribute-affinity quota of 10/,
    );
  });

  test('bytes over maxBytesPerJob, across several files', async () => {
    const a = await writeText(fresh('a.jsonl'), '{"userId":"1"}\n');
    const b = await writeText(fresh('b.jsonl'), '{"userId":"2"}\n');
    const one = await validate({ recipe: 'user-personalization', files: [a, b], maxBytesPerJob: 30 });
    assert.deepEqual(one.messages, []);
    assert.equal(one.summary.bytes, 30);
    const two = await validate({ recipe: 'user-personalization', files: [a, b], maxBytesPerJob: 29 });
    assert.deepEqual(two.messages, [
      '(all files): (job): 30 bytes exceed the 29-byte input quota of one job (split with `personalize-batch shard`)',
    ]);
    assert.equal(two.summary.files, 2);
  });

  test('a byte order mark is reported at line 1; the record itself is still checked', async () => {
    const { messages, summary } = await check('user-personalization', '\uFEFF{"userId":"1"}\n{"user":"2"}\n');
    assert.deepEqual(messages, [
      'F:1: (file): starts with a byte order mark; write UTF-8 without BOM',
      'F:2: userId: missing (a user-personalization line needs it)',
    ]);
    assert.equal(summary.records, 2);
  });

  test('only the first maxReported problems are reported, all are counted', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => ({ user: String(i) }));
    const { messages, summary } = await check('user-personalization', jsonl(lines), { maxReported: 3 });
    assert.deepEqual(messages, [
      'F:1: userId: missing (a user-personalization line needs it)',
      'F:2: userId: missing (a user-personalization line needs it)',
      'F:3: userId: missing (a user-personalization line needs it)',
    ]);
    assert.equal(summary.problems, 25);
    assert.equal(summary.reported, 3);
    assert.equal(summary.invalidRecords, 25);
    const dflt = await check('user-personalization', jsonl(Array.from({ length: 150 }, () => ({}))));
    assert.equal(dflt.messages.length, 100, 'default maxReported is 100');
    assert.equal(dflt.summary.problems, 150);
  });

  test('an over-long line is one problem; the other files are still checked', async () => {
    const a = await writeText(
      fresh('a.jsonl'),
      `{"userId":"1"}\n{"userId":"${'x'.repeat(200)}"}\n{"userId":"3"}\n`,
    );
    const b = await writeText(fresh('b.jsonl'), '{"itemId":"1"}\n');
    const { messages } = await validate({
      recipe: 'user-personalization',
      files: [a, b],
      maxLineLength: 100,
    });
    assert.equal(messages.length, 2);
    assert.match(messages[0] as string, new RegExp(`^${a}:2: \\(line\\): line longer than 100`));
    assert.equal(messages[1], `${b}:1: userId: missing (a user-personalization line needs it)`);
  });

  test('gzip files and stdin are read; a missing file is PB_IO; no files is PB_USAGE', async () => {
    const gz = await writeText(fresh('b.jsonl.gz'), gzipSync('{"userId":"1"}\n{"x":1}\n'));
    const r = await validate({ recipe: 'user-personalization', files: [gz] });
    assert.deepEqual(r.messages, [`${gz}:2: userId: missing (a user-personalization line needs it)`]);
    const s = await validate({
      recipe: 'related-items',
      files: ['-'],
      stdin: stdinOf('{"itemId":"1"}\n{"itemId":""}\n'),
    });
    assert.deepEqual(s.messages, ['-:2: itemId: empty']);
    await rejectsWith(
      validateFiles({ recipe: 'related-items', files: [fresh('nope')] }),
      'PB_IO',
      /no such file/,
    );
    await rejectsWith(validateFiles({ recipe: 'related-items', files: [] }), 'PB_USAGE');
    await rejectsWith(validateFiles({ recipe: 'aws-trending-now', files: ['-'] }), 'PB_USAGE');
    // The process belongs to the CLI: a library call hands its own stream for -.
    await rejectsWith(
      validateFiles({ recipe: 'related-items', files: ['-'] }),
      'PB_USAGE',
      /reading - \(stdin\) needs validate's `stdin` option \(a Readable\): none was given/,
    );
  });

  test('the onProblem object carries the same parts as the message', async () => {
    const f = await writeText(fresh('p.jsonl'), '{"userId":""}\n');
    const got: unknown[] = [];
    await validateFiles({ recipe: 'user-personalization', files: [f], onProblem: (_m, p) => got.push(p) });
    assert.deepEqual(got, [{ file: f, line: 1, field: 'userId', reason: 'empty' }]);
  });

  test('whatever prepare writes, validate accepts (round trip on every family)', async () => {
    const inputs: [string, string, Record<string, unknown>][] = [
      ['user-personalization', 'user_id,g\nu1,a|b\nu2,\n', { filters: ['G=g'] }],
      ['popular-items', 'u1\nu2\n', {}],
      ['personalized-ranking', 'USER_ID,ITEM_ID\nu1,a\nu2,b\nu1,c\n', {}],
      ['related-items', 'ITEM_ID\ni1\n', { filterConstants: ['X=1|2'] }],
      ['item-affinity', 'ITEM_ID\ni1\ni2\n', {}],
      ['item-attribute-affinity', 'genre,aud\n"a ""q""",b\\c\n', { attributes: ['genre', 'aud'] }],
    ];
    for (const [recipe, input, extra] of inputs) {
      const out = fresh(`${recipe}.jsonl`);
      await prepare({ recipe, sources: ['-'], stdin: stdinOf(input), output: out, ...extra });
      const { messages, summary } = await validate({ recipe, files: [out] });
      assert.deepEqual(messages, [], recipe);
      assert.ok(summary.records > 0, recipe);
    }
  });

  test('re-chunked stdin gives the same problems (1, 2, 3 bytes and random splits)', async () => {
    const input = Buffer.from(
      '{"userId":"é1"}\r\n\r\n{"userId":"日本","filterValues":{"G":"x"}}\n{bad\n{"userId":"😀","x":1}\n',
    );
    const whole = await validate({ recipe: 'user-personalization', files: ['-'], stdin: stdinOf(input) });
    assert.equal(whole.messages.length, 3);
    for (const how of [1, 2, 3, { seed: 1, max: 9 }]) {
      const r = await validate({
        recipe: 'user-personalization',
        files: ['-'],
        stdin: stdinOf(split(input, how)),
      });
      assert.deepEqual(r.messages, whole.messages, JSON.stringify(how));
      assert.equal(r.summary.blankLines, whole.summary.blankLines);
      assert.equal(r.summary.bytes, input.length);
    }
  });

  test('a byte order mark is reported however the input is chunked', async () => {
    const input = Buffer.from('\uFEFF{"userId":"1"}\n');
    for (const how of [1, 2]) {
      const r = await validate({
        recipe: 'user-personalization',
        files: ['-'],
        stdin: stdinOf(split(input, how)),
      });
      assert.deepEqual(
        r.messages,
        ['-:1: (file): starts with a byte order mark; write UTF-8 without BOM'],
        `${how}`,
      );
    }
  });
});

describe('validateFiles: onEvent', () => {
  test('each file once checked with its own counts; progress about every 250 ms, ending at the summary', async () => {
    const a = await writeText(fresh('a.jsonl'), jsonl([{ userId: 'u1' }, { userId: '' }, { userId: 'u3' }]));
    const b = await writeText(fresh('b.jsonl'), 'not json\n');
    // stdin: 10 chunks 120 ms apart (the first two, 64 KiB, peeked at together), one bad line in each.
    const slow = Readable.from(
      (async function* () {
        for (let c = 0; c < 10; c++) {
          await new Promise((r) => setTimeout(r, 120));
          const ids = Array.from({ length: 1999 }, (_, i) => ({ userId: `s${c}-${i}` }));
          yield Buffer.from(jsonl([...ids, { userId: '' }]));
        }
      })(),
    );
    const events: (ValidateEvent & { at: number })[] = [];
    const summary = await validateFiles({
      recipe: 'user-personalization',
      files: [a, b, '-'],
      stdin: slow,
      onEvent: (e) => events.push({ ...e, at: Date.now() }),
    });
    const files = events.filter((e) => e.type === 'file');
    assert.deepEqual(
      files.map(({ file, records, problems }) => ({ file, records, problems })),
      [
        { file: a, records: 3, problems: 1 },
        { file: b, records: 0, problems: 1 },
        { file: '-', records: 20_000, problems: 10 },
      ],
    );
    assert.equal(files[0]?.bytes, (await readFile(a)).length);
    const progress = events.filter((e) => e.type === 'progress');
    assert.ok(progress.length >= 3, JSON.stringify(progress));
    for (let i = 1; i < progress.length - 1; i++) {
      const [p, q] = [progress[i - 1], progress[i]] as [(typeof progress)[0], (typeof progress)[0]];
      assert.ok(q.at - p.at >= 240, `ticks ${q.at - p.at} ms apart`);
      assert.ok(q.records >= p.records && q.problems >= p.problems, 'counts only grow');
    }
    const last = progress.at(-1) as (typeof progress)[0];
    assert.deepEqual(
      { records: last.records, bytesRead: last.bytesRead, problems: last.problems },
      { records: summary.records, bytesRead: summary.bytes, problems: summary.problems },
    );
    assert.equal(summary.records, 20_003);
    assert.ok((progress[0] as (typeof progress)[0]).records < 20_003, 'a tick while stdin was read');
  });
});
