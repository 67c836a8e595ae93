/**
 * Input formats: detection from content (plain, CSV, TSV, JSON Lines, gzip by
 * magic bytes), the --format override, and several sources read in order.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readRows } from '../../../src/io/rows.js';
import { createPrepareStream, prepare } from '../../../src/stages/prepare/index.js';
import {
  keys,
  makeTmp,
  prepareFiles,
  prepareStdin,
  rejectsWith,
  sink,
  split,
  stdinOf,
  writeText,
} from '../../helpers.js';

const UP = { recipe: 'user-personalization' } as const;
let tmp: Awaited<ReturnType<typeof makeTmp>>;
before(async () => {
  tmp = await makeTmp();
});
after(async () => {
  await tmp.cleanup();
});

describe('format detection', () => {
  test('the format comes from the first lines', async () => {
    const formatOf = async (text: string) => {
      const src = await readRows('t', Readable.from([Buffer.from(text)]), {
        format: 'auto',
        maxLineLength: 1 << 20,
      });
      await src.close();
      return src.format;
    };
    assert.equal(await formatOf('\n\n  \n{"userId":"1"}\n'), 'jsonl');
    assert.equal(await formatOf('\uFEFF{"a":1}\n'), 'jsonl');
    assert.equal(await formatOf('USER_ID\tX\n'), 'tsv');
    assert.equal(await formatOf('email,user_id\n'), 'csv');
    assert.equal(await formatOf('user_id\r\nu1\r\n'), 'csv');
    assert.equal(await formatOf('\uFEFFUSER_ID\n'), 'csv');
    assert.equal(await formatOf('ITEM_ID\n'), 'csv');
    assert.equal(await formatOf('u1\nu2\n'), 'plain');
    assert.equal(await formatOf(''), 'plain');
    assert.equal(await formatOf('alice\nbob\n'), 'plain', 'names over names: ids');
  });

  test('plain text: one id per line, trimmed', async () => {
    const r = await prepareStdin(UP, '  u1  \nu2\n\nu3');
    assert.deepEqual(keys(r.records), ['u1', 'u2', 'u3']);
    assert.equal(r.summary.blankLines, 1);
  });

  test('CSV with a header: the user id column is found by name', async () => {
    const r = await prepareStdin(UP, 'name,USER_ID,age\nAna,u1,3\nBo,u2,4\n');
    assert.deepEqual(keys(r.records), ['u1', 'u2']);
    assert.equal(r.summary.recordsRead, 2, 'the header is not a record');
  });

  test('TSV: commas inside values are data', async () => {
    const r = await prepareStdin(UP, 'user_id\tnote\nu1\ta,b\nu2\tc\n');
    assert.deepEqual(keys(r.records), ['u1', 'u2']);
  });

  test('JSON Lines: the id field is found by name, or picked with column', async () => {
    const input = '{"customerId":"c1","user":"x1"}\n{"customerId":"c2","user":"x2"}\n';
    await rejectsWith(prepareStdin(UP, input), 'PB_USAGE', /ambiguous.*"customerId" and "user"/);
    const r = await prepareStdin({ ...UP, column: 'customerId' }, input);
    assert.deepEqual(keys(r.records), ['c1', 'c2']);
    const n = await prepareStdin({ recipe: 'related-items' }, '{"itemId":17,"title":"x"}\n{"itemId":"i2"}\n');
    assert.deepEqual(n.records, [{ itemId: '17' }, { itemId: 'i2' }], 'numbers become id strings');
  });

  test('one-column CSV whose header is a well-known name: the header is not an id', async () => {
    for (const h of ['user_id', 'USER_ID', 'userId', 'userid']) {
      const r = await prepareStdin(UP, `${h}\nu1\nu2\n`);
      assert.deepEqual(keys(r.records), ['u1', 'u2'], h);
    }
    const items = await prepareStdin({ recipe: 'related-items' }, 'ITEM_ID\ni1\n');
    assert.deepEqual(items.records, [{ itemId: 'i1' }]);
  });

  test('gzip is detected by its magic bytes, not by the file name', async () => {
    const csv = 'email,user_id\na@x,u1\nb@x,u2\n';
    const gzAsCsv = await writeText(tmp.path('looks-plain.csv'), gzipSync(csv));
    const plainAsGz = await writeText(tmp.path('not-really.csv.gz'), csv);
    const a = await prepareFiles({ ...UP, sources: [gzAsCsv] });
    const b = await prepareFiles({ ...UP, sources: [plainAsGz] });
    assert.deepEqual(keys(a.records), ['u1', 'u2']);
    assert.equal(a.out, b.out);
    const c = await prepareStdin(UP, gzipSync('{"userId":"z"}\n'));
    assert.deepEqual(keys(c.records), ['z']);
  });

  test('corrupt gzip is a PB_PARSE error naming the source', async () => {
    const gz = gzipSync('user_id\nu1\nu2\n'.repeat(50));
    const truncated = await writeText(tmp.path('truncated.gz'), gz.subarray(0, gz.length - 12));
    await rejectsWith(prepareFiles({ ...UP, sources: [truncated] }), 'PB_PARSE', /truncated\.gz: gzip/);
  });

  test('format override: plain keeps commas, csv reads an unknown one-column header', async () => {
    const plain = await prepareStdin({ ...UP, format: 'plain' }, 'a,b\nc,d\n');
    assert.deepEqual(keys(plain.records), ['a,b', 'c,d']);
    const csv = await prepareStdin({ ...UP, format: 'csv', column: 'customer' }, 'customer\nc1\n');
    assert.deepEqual(keys(csv.records), ['c1']);
    await rejectsWith(
      prepareStdin(UP, 'customer\nc1\n'),
      'PB_USAGE',
      /"customer" looks like a header over the ids below it.*--column "customer".*--format plain/,
    );
    const tsv = await prepareStdin({ ...UP, format: 'tsv' }, 'user_id\nu,1\n');
    assert.deepEqual(keys(tsv.records), ['u,1']);
    await rejectsWith(
      prepare({ ...UP, format: 'xml' as 'csv', stdin: stdinOf('x'), stdout: sink().stream }),
      'PB_USAGE',
      /--format must be one of/,
    );
  });

  test('several sources are concatenated in order, each with its own format and header', async () => {
    const a = await writeText(tmp.path('a.csv'), 'email,user_id\nx@y,u1\nz@y,u2\n');
    const b = await writeText(tmp.path('b.txt'), 'u3\nu1\n');
    const c = await writeText(tmp.path('c.jsonl.gz'), gzipSync('{"user":"u4"}\n'));
    const d = await writeText(tmp.path('d.tsv'), 'USER_ID\tx\nu5\t1\n');
    const out = sink();
    const summary = await prepare({
      ...UP,
      sources: [a, '-', b, c, d],
      stdin: stdinOf('from-stdin\n'),
      stdout: out.stream,
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(
      out.text(),
      ['u1', 'u2', 'from-stdin', 'u3', 'u4', 'u5'].map((u) => `{"userId":"${u}"}\n`).join(''),
    );
    assert.equal(summary.sources, 5);
    assert.equal(summary.recordsRead, 7);
    assert.equal(summary.duplicates, 1);
    assert.equal(summary.written, 6);
  });

  test('stdin can be given only once, and a missing file is PB_IO', async () => {
    await rejectsWith(prepareStdin({ ...UP, sources: ['-', '-'] }, 'u1\n'), 'PB_USAGE', /only once/);
    await rejectsWith(
      prepareFiles({ ...UP, sources: [tmp.path('nope.csv')] }),
      'PB_IO',
      /nope\.csv: cannot read: no such file/,
    );
  });

  test('output ending in .gz is gzip-compressed', async () => {
    const out = tmp.path('out.jsonl.gz');
    await prepare({ ...UP, sources: ['-'], stdin: stdinOf('u1\nu2\n'), output: out });
    const { gunzipSync } = await import('node:zlib');
    assert.equal(gunzipSync(await readFile(out)).toString(), '{"userId":"u1"}\n{"userId":"u2"}\n');
  });

  test('an empty source and a header-only source give no records and no error', async () => {
    const empty = await prepareStdin(UP, '');
    assert.equal(empty.out, '');
    const headerOnly = await prepareStdin(UP, 'email,user_id\r\n');
    assert.equal(headerOnly.out, '');
    assert.equal(headerOnly.summary.recordsRead, 0);
  });

  test('last line without a newline, in CSV and plain text', async () => {
    const csv = await prepareStdin(UP, 'email,user_id\r\na,"u1"');
    assert.deepEqual(keys(csv.records), ['u1']);
    const plain = await prepareStdin(UP, 'u1\nu2');
    assert.deepEqual(keys(plain.records), ['u1', 'u2']);
  });

  test('an over-long line is PB_PARSE with its line number', async () => {
    const err = await rejectsWith(
      prepareStdin({ ...UP, maxLineLength: 50 }, `email,user_id\nx,u1\nx,${'y'.repeat(60)}\n`),
      'PB_PARSE',
    );
    assert.equal(err.line, 3);
  });

  test('an unclosed quote is PB_PARSE at the line where the record starts', async () => {
    const err = await rejectsWith(
      prepareStdin(UP, 'email,user_id\nx,u0\nx,"u1\ny,u2\n'),
      'PB_PARSE',
      /quote/,
    );
    assert.equal(err.line, 3);
  });
});

describe('format edge cases', () => {
  test('CR-only line endings (classic Mac / Excel "CSV (Macintosh)") split records', async () => {
    const r = await prepareStdin(UP, 'user_id\ru1\ru2\r');
    for (const k of keys(r.records)) assert.doesNotMatch(k, /\r/);
    assert.deepEqual(keys(r.records), ['u1', 'u2']);
  });

  test('JSON Lines: a column missing from the first object but present later can be used', async () => {
    const r = await prepareStdin(
      { ...UP, filters: ['G=fav'] },
      '{"userId":"u1"}\n{"userId":"u2","fav":"x"}\n',
    );
    assert.deepEqual(r.records, [{ userId: 'u1' }, { userId: 'u2', filterValues: { G: '"x"' } }]);
  });

  test('JSON Lines: a bad first line is rejected like any other with onInvalid skip', async () => {
    const rejects = tmp.path('first-bad.rejects.jsonl');
    const r = await prepareStdin(
      { ...UP, onInvalid: 'skip', rejects },
      '{not json\n{"userId":"u2"}\n{"userId":"u3"}\n',
    );
    assert.deepEqual(keys(r.records), ['u2', 'u3']);
    assert.equal(r.summary.rejected, 1);
  });

  test('JSON Lines: a numeric id beyond 2^53 is not silently rounded', async () => {
    let out: string[] = [];
    try {
      out = keys((await prepareStdin(UP, '{"userId":12345678901234567890}\n')).records);
    } catch (err) {
      // Refusing the record is as good as keeping it exact.
      assert.equal((err as { code?: string }).code, 'PB_INVALID_RECORD');
      return;
    }
    assert.deepEqual(out, ['12345678901234567890']);
  });
});

describe('library entry points', () => {
  test('prepare() leaves stdout open, so several runs can share it', async () => {
    const out = sink();
    await prepare({ ...UP, sources: ['-'], stdin: stdinOf('a\n'), stdout: out.stream });
    await prepare({ recipe: 'related-items', sources: ['-'], stdin: stdinOf('i\n'), stdout: out.stream });
    await new Promise((r) => setImmediate(r));
    assert.equal(out.stream.writableEnded, false);
    assert.equal(out.text(), '{"userId":"a"}\n{"itemId":"i"}\n');
  });

  test('prepare() reads and writes - only through its stdin and stdout options, never the process', async () => {
    const src = await writeText(tmp.path('ids.txt'), 'a\n');
    const out = tmp.path('no-stdin.jsonl');
    // The default source is -: without a stdin option there is nothing to read it from.
    await rejectsWith(prepare({ ...UP, output: out }), 'PB_USAGE', /prepare's `stdin` option/);
    await rejectsWith(prepare({ ...UP, sources: [src, '-'], output: out }), 'PB_USAGE', /`stdin` option/);
    await assert.rejects(readFile(out), { code: 'ENOENT' });
    // The default output is -: without a stdout option it is refused, not sent to the process's stdout.
    await rejectsWith(prepare({ ...UP, sources: [src] }), 'PB_USAGE', /- \(stdout\) is not an output here/);
  });

  test('createPrepareStream: bytes in, the same JSON Lines as prepare() out, summary resolves', async () => {
    const input = Buffer.from('\uFEFFemail,user_id\r\n"a,b",é1\r\nb,日本\r\nc,é1\r\n');
    const expected = await prepareStdin(UP, input);
    for (const how of [1, 5, 1000]) {
      const stream = createPrepareStream(UP);
      let text = '';
      await pipeline(
        Readable.from(split(input, how)),
        stream,
        new Writable({
          write(chunk, _enc, cb) {
            text += String(chunk);
            cb();
          },
        }),
      );
      assert.equal(text, expected.out, `${how}`);
      const summary = await stream.summary;
      assert.equal(summary.duplicates, 1);
      assert.equal(summary.written, 2);
    }
  });

  test('createPrepareStream: a bad record fails the pipeline and the summary', async () => {
    const stream = createPrepareStream(UP);
    await assert.rejects(
      pipeline(
        Readable.from([Buffer.from('email,user_id\na,u1\nb,\n')]),
        stream,
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      ),
      { code: 'PB_INVALID_RECORD', message: '-:3: user_id: empty' },
    );
    await assert.rejects(stream.summary, { code: 'PB_INVALID_RECORD' });
  });
});
