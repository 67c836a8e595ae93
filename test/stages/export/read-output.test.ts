/**
 * readOutput: every line shape the service writes as a record, the same
 * records from a file, a folder and a stream however it is chunked (CRLF,
 * BOM, multi-byte UTF-8), invalid lines failing or skipped with file:line,
 * and an abort that stops a stream source.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type OutputRecord,
  type ReadOutputEvent,
  type ReadOutputOptions,
  type ReadOutputSummary,
  readOutput,
} from '../../../src/stages/export/read-output.js';
import { rejectsWith, split, stdinOf, useS3rver, useTmp } from '../../helpers.js';
import { AWS_DOC_EXAMPLES, FAILED, REFERENCE, randomFile } from '../../out-fixtures.js';

const tmp = useTmp();

async function all(
  sources: Parameters<typeof readOutput>[0],
  options?: ReadOutputOptions,
): Promise<{ records: OutputRecord[]; summary: ReadOutputSummary }> {
  const records: OutputRecord[] = [];
  const gen = readOutput(sources, options);
  for (;;) {
    const r = await gen.next();
    if (r.done) return { records, summary: r.value };
    records.push(r.value);
  }
}

const strip = (records: OutputRecord[]) => records.map(({ file: _f, line: _l, ...rest }) => rest);

const MULTIBYTE =
  '{"input":{"userId":"Zoë 日本 😀"},"output":{"recommendedItems":["é\\u00e9","a,\\"b\\""]},"error":null}';

/** Every shape, a blank line, CRLF line ends and a BOM. */
const MIXED_LINES = [
  REFERENCE.userPersonalization,
  REFERENCE.similarItems,
  '',
  REFERENCE.ranking,
  REFERENCE.v2Reasons,
  REFERENCE.themes,
  REFERENCE.segmentItem,
  REFERENCE.segmentAttributes,
  REFERENCE.segmentDocItem,
  REFERENCE.segmentDocAttributes,
  REFERENCE.error,
  FAILED.numberId,
  FAILED.withoutKey,
  AWS_DOC_EXAMPLES.popularityCount[0] as string,
  MULTIBYTE,
];
const MIXED = Buffer.from(`\ufeff${MIXED_LINES.join('\r\n')}\r\n`);

const EXPECTED: Omit<OutputRecord, 'file' | 'line'>[] = [
  {
    kind: 'recommendations',
    userId: '4638',
    items: [
      { itemId: '1104', score: 0.0023, scoreText: '0.0023' },
      { itemId: '3102', score: 3.773e-4, scoreText: '3.773E-4' },
      { itemId: '608', score: 1.2e-5, scoreText: '1.2E-5' },
    ],
  },
  {
    kind: 'recommendations',
    itemId: '105',
    items: [{ itemId: '339' }, { itemId: '2318' }, { itemId: '1219' }],
  },
  {
    kind: 'ranking',
    userId: '891',
    items: [
      { itemId: '886', score: 0.61, scoreText: '0.61' },
      { itemId: '27', score: 0.39, scoreText: '0.39' },
      { itemId: '9' },
    ],
  },
  {
    kind: 'recommendations',
    userId: '5',
    items: [
      { itemId: 'a', score: 0.7, scoreText: '0.7', reason: ['Promoted item'] },
      { itemId: 'b', score: 0.3, scoreText: '0.3', reason: [] },
    ],
  },
  {
    kind: 'themes',
    itemId: '105',
    theme: 'Cozy winter nights',
    items: [
      { itemId: '1', score: 0.41, scoreText: '0.41' },
      { itemId: '2', score: -0.189, scoreText: '-0.189' },
      { itemId: '3', score: 0.02, scoreText: '0.02' },
    ],
  },
  { kind: 'segment', itemId: '105', users: [{ userId: 'u1' }, { userId: 'u2' }, { userId: 'u3' }] },
  {
    kind: 'segment',
    itemAttributes: 'ITEMS.genres = "Comedy" AND ITEMS.audience = "teen"',
    users: [{ userId: 'u9' }, { userId: 'u8' }],
  },
  { kind: 'segment', itemId: '105', users: [{ userId: 'u1' }, { userId: 'u2' }] },
  { kind: 'segment', itemAttributes: 'ITEMS.genres = "Comedy"', users: [{ userId: 'u5' }] },
  {
    kind: 'recommendations',
    userId: '77',
    error: 'Failed to process the record',
    input: { userId: '77' },
  },
  { kind: 'recommendations', error: '...', input: { userId: 3002 } },
  {
    kind: 'recommendations',
    error: 'User error: Required fields for the provided recipe are userId',
    input: { usrId: '2' },
  },
  { kind: 'recommendations', items: [{ itemId: '105' }, { itemId: '106' }, { itemId: '441' }] },
  { kind: 'recommendations', userId: 'Zoë 日本 😀', items: [{ itemId: 'éé' }, { itemId: 'a,"b"' }] },
];

describe('readOutput: the shapes the service writes', () => {
  test('a mixed .out file: every shape, errors with their input, a blank line, CRLF, BOM, UTF-8', async () => {
    const file = tmp.fresh('mixed.out');
    await writeFile(file, MIXED);
    const { records, summary } = await all(file);
    assert.deepEqual(strip(records), EXPECTED);
    assert.deepEqual(
      records.map((r) => r.line),
      [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    assert.ok(records.every((r) => r.file === file));
    assert.deepEqual(summary, {
      sources: 1,
      lines: 15,
      records: 14,
      errorLines: 3,
      blank: 1,
      invalid: 0,
      bytesRead: MIXED.length,
    });
  });

  for (const how of [1, 7, { seed: 1, max: 40 }, { seed: 2, max: 300 }]) {
    test(`a stream chunked ${JSON.stringify(how)}: the same records`, async () => {
      const { records } = await all(stdinOf(split(MIXED, how)));
      assert.deepEqual(strip(records), EXPECTED);
      assert.equal(records[2]?.line, 4);
      assert.equal(records[0]?.file, '(stream)');
    });
  }

  test('an async iterable of bytes and a gzip stream are streams too', async () => {
    const { gzipSync } = await import('node:zlib');
    async function* bytes() {
      for (const b of split(MIXED, 5)) yield new Uint8Array(b);
    }
    const { records } = await all([bytes(), Readable.from([gzipSync(MIXED)])]);
    assert.deepEqual(strip(records), [...EXPECTED, ...EXPECTED]);
    assert.equal(records[0]?.file, '(stream 1)');
    assert.equal(records.at(-1)?.file, '(stream 2)');
  });

  test('random lines of every kind: keys, ids, scores exactly as printed, reasons, themes, errors', async () => {
    const { text, lines } = randomFile(7, 400, { errorRate: 0.1, messy: true });
    const { records } = await all(stdinOf(split(Buffer.from(text), { seed: 3, max: 500 })));
    assert.equal(records.length, lines.length);
    records.forEach((rec, i) => {
      const x = (lines[i] as (typeof lines)[number]).expected;
      assert.equal(rec.line, i + 1);
      assert.equal(rec[x.keyField], x.key, `line ${i + 1} key`);
      if (x.error !== null) {
        assert.equal(rec.error, x.error);
        assert.equal(rec.items, undefined);
        return;
      }
      assert.equal(rec.kind, x.kind);
      const ids = x.kind === 'segment' ? rec.users?.map((u) => u.userId) : rec.items?.map((it) => it.itemId);
      assert.deepEqual(ids, x.ids, `line ${i + 1} ids`);
      if (x.kind === 'segment') return;
      rec.items?.forEach((it, j) => {
        const t = x.scores?.[j] ?? undefined;
        assert.equal(it.scoreText, t ?? undefined);
        assert.equal(it.score, t === undefined || t === null ? undefined : Number(t));
        const reason = x.reasons?.[j];
        assert.deepEqual(it.reason, reason === null ? undefined : reason);
      });
      assert.equal(rec.theme, x.theme);
    });
  });

  test('objects spread over lines (the fallback reader): each at the line it starts on', async () => {
    const a = JSON.parse(REFERENCE.userPersonalization);
    const b = JSON.parse(REFERENCE.segmentItem);
    const file = tmp.fresh('pretty.out');
    const first = JSON.stringify(a, null, 2);
    await writeFile(file, `${first}\n${JSON.stringify(b, null, 2)}\n`);
    const { records } = await all(file);
    assert.deepEqual(
      records.map((r) => [r.line, r.kind, r.userId ?? r.itemId]),
      [
        [1, 'recommendations', '4638'],
        [first.split('\n').length + 1, 'segment', '105'],
      ],
    );
  });

  test('a folder: its .out files in name order, _CHECK and the rest ignored', async () => {
    const dir = tmp.fresh('job');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'b.out'), `${REFERENCE.similarItems}\n`);
    await writeFile(join(dir, 'sub', 'a.out'), `${REFERENCE.popularity}\n`);
    await writeFile(join(dir, '_CHECK'), '');
    await writeFile(join(dir, 'notes.txt'), 'not an output');
    const events: ReadOutputEvent[] = [];
    const { records, summary } = await all(dir, { onEvent: (e) => events.push(e) });
    assert.deepEqual(
      records.map((r) => [r.file, r.userId ?? r.itemId]),
      [
        [join(dir, 'b.out'), '105'],
        [join(dir, 'sub', 'a.out'), '12'],
      ],
    );
    assert.equal(summary.sources, 2);
    assert.deepEqual(
      events.filter((e) => e.type === 'source').map((e) => (e as { file: string }).file),
      [join(dir, 'b.out'), join(dir, 'sub', 'a.out')],
    );
  });
});

describe('readOutput: invalid lines', () => {
  const text = `${REFERENCE.popularity}\r\n\r\nnot json\r\n${REFERENCE.similarItems}\r\n{"input":{"userId":"1"}}\r\n`;

  test('fail (the default): PB_PARSE naming file:line', async () => {
    const file = tmp.fresh('bad.out');
    await writeFile(file, text);
    const err = await rejectsWith(all(file), 'PB_PARSE');
    assert.equal(err.file, file);
    assert.equal(err.line, 3);
  });

  test('a line that is JSON but no output line: PB_INVALID_RECORD with its line', async () => {
    const err = await rejectsWith(all(stdinOf(text.replace('not json', '{"a":1}'))), 'PB_INVALID_RECORD');
    assert.equal(err.line, 3);
    assert.equal(err.file, '(stream)');
  });

  test('skip: left out, counted and told with file:line', async () => {
    const events: ReadOutputEvent[] = [];
    const { records, summary } = await all(stdinOf(split(Buffer.from(text), 1)), {
      onInvalid: 'skip',
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual(
      records.map((r) => r.line),
      [1, 4],
    );
    assert.equal(summary.invalid, 2);
    assert.deepEqual(
      events.filter((e) => e.type === 'invalid').map((e) => (e as { line: number }).line),
      [3, 5],
    );
  });

  test('a line longer than maxLineLength: PB_PARSE with its line, or skipped', async () => {
    const long = `{"input":{"userId":"${'x'.repeat(500)}"},"output":{"recommendedItems":[]}}`;
    const input = `${REFERENCE.popularity}\n${long}\n${REFERENCE.popularity}\n`;
    const err = await rejectsWith(all(stdinOf(input), { maxLineLength: 200 }), 'PB_PARSE', /longer than 200/);
    assert.equal(err.line, 2);
    const { records, summary } = await all(stdinOf(split(Buffer.from(input), 3)), {
      maxLineLength: 200,
      onInvalid: 'skip',
    });
    assert.deepEqual(
      records.map((r) => r.line),
      [1, 3],
    );
    assert.equal(summary.invalid, 1);
  });

  test('a name that is not an output is refused by content; stdin is never taken', async () => {
    const file = tmp.fresh('users.csv');
    await writeFile(file, 'user_id\nu1\n');
    await assert.rejects(all(file), (e: Error & { code?: string }) => e.code !== undefined);
    await rejectsWith(all('-'), 'PB_USAGE', /stdin: pass that stream/);
  });
});

describe('readOutput: abort', () => {
  test('stops reading a stream source and throws an AbortError', async () => {
    const ac = new AbortController();
    let produced = 0;
    let finallyRan = false;
    async function* endless(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          produced++;
          await new Promise((r) => setImmediate(r));
          yield Buffer.from(`${REFERENCE.userPersonalization}\n`.repeat(100));
        }
      } finally {
        finallyRan = true;
      }
    }
    const stream = Readable.from(endless(), { objectMode: false });
    let seen = 0;
    const run = async () => {
      for await (const _ of readOutput(stream, { signal: ac.signal })) {
        if (++seen === 1000) ac.abort();
      }
    };
    await assert.rejects(run(), (e: Error) => e.name === 'AbortError');
    await new Promise((r) => setImmediate(r));
    assert.equal(seen, 1000);
    assert.ok(stream.destroyed);
    assert.ok(finallyRan);
    assert.ok(produced < 20, `${produced} chunks produced`);
  });

  test('a stalled stream: the abort does not wait for its next chunk', async () => {
    const ac = new AbortController();
    const stalled = new Readable({ read() {} });
    stalled.push(`${REFERENCE.popularity}\n`);
    setTimeout(() => ac.abort(), 20);
    let seen = 0;
    const run = async () => {
      for await (const _ of readOutput(stalled, { signal: ac.signal })) seen++;
    };
    await assert.rejects(run(), (e: Error) => e.name === 'AbortError');
    assert.equal(seen, 0, 'a line without its end is not a record yet');
    assert.ok(stalled.destroyed);
  });
});

describe('readOutput: abort on a file', () => {
  test('a large file: the AbortError comes at the next record, and the generator is done', async () => {
    const file = tmp.fresh('large.out');
    await writeFile(file, `${REFERENCE.userPersonalization}\n`.repeat(50_000));
    const ac = new AbortController();
    const gen = readOutput(file, { signal: ac.signal });
    for (let i = 0; i < 10; i++) assert.equal((await gen.next()).done, false);
    ac.abort();
    await assert.rejects(gen.next(), { name: 'AbortError' });
    assert.deepEqual(await gen.next(), { done: true, value: undefined });
  });
});

describe('readOutput: an s3:// prefix', () => {
  const s3 = useS3rver();

  test('the *.out objects under it, in name order, gzip too; _CHECK and the rest left out', async () => {
    const { gzipSync } = await import('node:zlib');
    const put = (Key: string, Body: string | Buffer) =>
      s3().client.send(new PutObjectCommand({ Bucket: 'bucket', Key, Body }));
    await put('job/out/b/input.jsonl.out.gz', gzipSync(`${REFERENCE.ranking}\n`));
    await put('job/out/a/input.jsonl.out', `${REFERENCE.popularity}\n${REFERENCE.error}\n`);
    await put('job/out/a/_CHECK', 'not data');
    await put('job/out/notes.txt', 'not data');
    const { records, summary } = await all('s3://bucket/job/out/');
    assert.deepEqual(
      records.map((r) => [r.file, r.line, r.userId, r.error !== undefined]),
      [
        ['s3://bucket/job/out/a/input.jsonl.out', 1, '12', false],
        ['s3://bucket/job/out/a/input.jsonl.out', 2, '77', true],
        ['s3://bucket/job/out/b/input.jsonl.out.gz', 1, '891', false],
      ],
    );
    assert.equal(summary.sources, 2);
  });
});
