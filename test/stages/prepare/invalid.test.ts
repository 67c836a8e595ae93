/**
 * Bad records: fail fast with `file:line: field: reason` (default) or skip
 * them into a rejects file; and the output file is written atomically.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { emailListCsv } from '../../../src/sample.js';
import { prepare } from '../../../src/stages/prepare/index.js';
import {
  keys,
  listDir,
  makeTmp,
  prepareFiles,
  prepareStdin,
  readText,
  rejectsWith,
  sink,
  stdinOf,
  useTmp,
  writeText,
} from '../../helpers.js';

const UP = { recipe: 'user-personalization' } as const;
const { fresh } = useTmp();

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('onInvalid fail (default)', () => {
  test('the error is PB_INVALID_RECORD with file:line: field: reason', async () => {
    const f = await writeText(fresh('users.csv'), 'email,user_id\na@x,u1\nb@x,\nc@x,u3\n');
    const err = await rejectsWith(prepareFiles({ ...UP, sources: [f] }), 'PB_INVALID_RECORD');
    assert.equal(err.message, `${f}:3: user_id: empty`);
    assert.equal(err.file, f);
    assert.equal(err.line, 3);
    assert.equal(err.field, 'user_id');
    assert.equal(err.reason, 'empty');
  });

  test('line numbers count the lines of a quoted multi-line field and blank lines', async () => {
    const input = 'email,user_id,note\n\na@x,u1,"one\ntwo\n\nthree"\n\n\nb@x,u2,"x"\n\nc@x,,bad\n';
    const err = await rejectsWith(prepareStdin(UP, input), 'PB_INVALID_RECORD');
    assert.equal(err.line, 11);
    assert.equal(err.message, '-:11: user_id: empty');
  });

  test('the line of a later source counts from 1 in that source', async () => {
    const a = await writeText(fresh('a.txt'), 'u1\nu2\nu3\n');
    const b = await writeText(fresh('b.csv'), 'email,user_id\n\nx@y,u4\ny@y\n');
    const err = await rejectsWith(prepareFiles({ ...UP, sources: [a, b] }), 'PB_INVALID_RECORD');
    assert.equal(err.message, `${b}:4: (row): expected 2 fields as in the header, got 1`);
  });

  test('an id longer than 256 characters; exactly 256 is fine', async () => {
    const ok = await prepareStdin(UP, `user_id\n${'x'.repeat(256)}\n`);
    assert.equal(keys(ok.records)[0]?.length, 256);
    const err = await rejectsWith(prepareStdin(UP, `user_id\nu1\n${'x'.repeat(257)}\n`), 'PB_INVALID_RECORD');
    assert.equal(err.message, '-:3: user_id: longer than 256 characters (service limit)');
  });

  test('a bad JSON line in JSON Lines, and a line that is not an object', async () => {
    const bad = await rejectsWith(prepareStdin(UP, '{"userId":"a"}\n\n{"userId":\n'), 'PB_INVALID_RECORD');
    assert.equal(bad.line, 3);
    assert.match(bad.message, /^-:3: \(row\): not valid JSON/);
    const arr = await rejectsWith(prepareStdin(UP, '{"userId":"a"}\n["b"]\n'), 'PB_INVALID_RECORD');
    assert.equal(arr.message, '-:2: (row): expected one JSON object per line');
  });

  test('a JSON id of the wrong type', async () => {
    const err = await rejectsWith(prepareStdin(UP, '{"userId":"a"}\n{"userId":true}\n'), 'PB_INVALID_RECORD');
    assert.equal(err.message, '-:2: userId: must be text or a number');
  });

  test('an itemList over the limit', async () => {
    const err = await rejectsWith(
      prepareStdin({ recipe: 'personalized-ranking', maxItemList: 3 }, 'user_id,items\nu1,a|b\nu2,a|b|c|d\n'),
      'PB_INVALID_RECORD',
    );
    assert.equal(err.message, '-:3: itemList: 4 items exceed the limit of 3 (--max-item-list)');
  });
});

describe('onInvalid skip', () => {
  test('bad records go to the rejects file; the output has the rest', async () => {
    const src = await writeText(
      fresh('mixed.csv'),
      `email,user_id,name\na@x,u1,A\nb@x,,B\nshort\nc@x,${'z'.repeat(257)},C\nd@x,u2,"multi\nline"\ne@x,u1,dup\n`,
    );
    const out = fresh('out.jsonl');
    const rejects = fresh('rejects.jsonl');
    const s = await prepare({ ...UP, sources: [src], output: out, onInvalid: 'skip', rejects });
    assert.equal(await readText(out), '{"userId":"u1"}\n{"userId":"u2"}\n');
    assert.equal(s.rejected, 3);
    assert.equal(s.written, 2);
    assert.equal(s.duplicates, 1);
    assert.deepEqual(parseLines(await readText(rejects)), [
      { file: src, line: 3, field: 'user_id', reason: 'empty', row: ['b@x', '', 'B'] },
      {
        file: src,
        line: 4,
        field: '(row)',
        reason: 'expected 3 fields as in the header, got 1',
        row: ['short'],
      },
      {
        file: src,
        line: 5,
        field: 'user_id',
        reason: 'longer than 256 characters (service limit)',
        row: ['c@x', 'z'.repeat(257), 'C'],
      },
    ]);
  });

  test('wide rows: field counts and rejected rows are whole, though only the id column is used', async () => {
    const header = 'user_id,c2,c3,c4,c5,c6,c7,c8';
    const row = (id: string, extra = '') => `${id},2,3,4,5,6,7,8${extra}`;
    const rejects = fresh('rejects.jsonl');
    const r = await prepareStdin(
      { ...UP, onInvalid: 'skip', rejects },
      [header, row('u1'), row('u2', ',9'), row(''), row('u3', ',"q,x"'), `u4,2,3\r`, row('u5'), ''].join(
        '\n',
      ),
    );
    assert.deepEqual(keys(r.records), ['u1', 'u5']);
    assert.deepEqual(parseLines(await readText(rejects)), [
      {
        file: '-',
        line: 3,
        field: '(row)',
        reason: 'expected 8 fields as in the header, got 9',
        row: ['u2', '2', '3', '4', '5', '6', '7', '8', '9'],
      },
      { file: '-', line: 4, field: 'user_id', reason: 'empty', row: ['', '2', '3', '4', '5', '6', '7', '8'] },
      {
        file: '-',
        line: 5,
        field: '(row)',
        reason: 'expected 8 fields as in the header, got 9',
        row: ['u3', '2', '3', '4', '5', '6', '7', '8', 'q,x'],
      },
      {
        file: '-',
        line: 6,
        field: '(row)',
        reason: 'expected 8 fields as in the header, got 3',
        row: ['u4', '2', '3'],
      },
    ]);
  });

  test('JSON Lines rejects carry the raw text of a bad line', async () => {
    const rejects = fresh('rejects.jsonl');
    const r = await prepareStdin(
      { ...UP, onInvalid: 'skip', rejects },
      '{"userId":"a"}\n{oops\n{"userId":"b","extra":1}\n',
    );
    assert.deepEqual(keys(r.records), ['a', 'b']);
    const rej = parseLines(await readText(rejects));
    assert.equal(rej.length, 1);
    assert.equal(rej[0]?.line, 2);
    assert.equal(rej[0]?.file, '-');
    assert.deepEqual(rej[0]?.row, { $raw: '{oops' });
  });

  test('a rejected grouped record names the sources and has no line', async () => {
    const rejects = fresh('rejects.jsonl');
    const r = await prepareStdin(
      { recipe: 'personalized-ranking', maxItemList: 2, onInvalid: 'skip', rejects },
      'USER_ID,ITEM_ID\nu1,a\nu2,a\nu1,b\nu1,c\n',
    );
    assert.deepEqual(r.records, [{ userId: 'u2', itemList: ['a'] }]);
    const rej = parseLines(await readText(rejects));
    assert.equal(rej.length, 1);
    assert.equal(rej[0]?.file, '-');
    assert.equal(rej[0]?.field, 'itemList');
    assert.equal(rej[0]?.line, undefined);
    assert.deepEqual(rej[0]?.row, { userId: 'u1', itemList: ['a', 'b', 'c'] });
  });

  test('generated e-mail list with broken rows: counts equal an independent oracle', async () => {
    const csv = [...emailListCsv({ rows: 3000, duplicateRate: 0.1, badRows: 30, seed: 5 })].join('');
    const lines = csv.split('\n').filter((l) => l !== '');
    const seen = new Set<string>();
    const good: string[] = [];
    let bad = 0;
    for (const l of lines.slice(1)) {
      const f = l.split(',');
      const id = (f[1] ?? '').trim();
      if (f.length !== 4 || id === '' || id.length > 256) bad++;
      else if (!seen.has(id)) {
        seen.add(id);
        good.push(id);
      }
    }
    assert.ok(bad >= 20, 'the generator made broken rows');
    const rejects = fresh('rejects.jsonl');
    const r = await prepareStdin({ ...UP, onInvalid: 'skip', rejects }, csv);
    assert.deepEqual(keys(r.records), good);
    assert.equal(r.summary.rejected, bad);
    assert.equal(parseLines(await readText(rejects)).length, bad);
    assert.equal(r.summary.recordsRead, lines.length - 1);
  });

  test('skip without rejects, and an unknown policy, are usage errors', async () => {
    await rejectsWith(prepareStdin({ ...UP, onInvalid: 'skip' }, 'u1\n'), 'PB_USAGE', /--rejects/);
    await rejectsWith(
      prepareStdin({ ...UP, onInvalid: 'ignore' as 'skip', rejects: fresh('r') }, 'u1\n'),
      'PB_USAGE',
      /--on-invalid/,
    );
  });

  test('rejects are kept when a later parse error stops the run; the output is not written', async () => {
    const dir = await makeTmp();
    try {
      const src = await writeText(`${dir.dir}/in.csv`, 'email,user_id\na@x,\nb@x,u2\nc@x,"unclosed\n');
      const out = `${dir.dir}/out.jsonl`;
      const rejects = `${dir.dir}/rejects.jsonl`;
      await rejectsWith(
        prepare({ ...UP, sources: [src], output: out, onInvalid: 'skip', rejects }),
        'PB_PARSE',
      );
      assert.deepEqual(await listDir(dir.dir), ['in.csv', 'rejects.jsonl']);
      assert.equal(parseLines(await readText(rejects)).length, 1);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('atomic output', () => {
  test('after a failed run there is no output file and no temporary file', async () => {
    const dir = await makeTmp();
    try {
      // Enough good rows first that some output has been written before the failure.
      const good = Array.from({ length: 20_000 }, (_, i) => `e${i}@x,u${i}`).join('\n');
      const src = await writeText(`${dir.dir}/in.csv`, `email,user_id\n${good}\nbad@x,\n`);
      await rejectsWith(
        prepare({ ...UP, sources: [src], output: `${dir.dir}/out.jsonl` }),
        'PB_INVALID_RECORD',
        /in\.csv:20002: user_id: empty$/,
      );
      assert.deepEqual(await listDir(dir.dir), ['in.csv']);
    } finally {
      await dir.cleanup();
    }
  });

  test('a failed run leaves an existing output file untouched', async () => {
    const dir = await makeTmp();
    try {
      const out = `${dir.dir}/out.jsonl`;
      await writeFile(out, '{"userId":"previous"}\n');
      await rejectsWith(
        prepare({
          ...UP,
          sources: ['-'],
          stdin: stdinOf('user_id\nu1\n\n'.concat('x'.repeat(300))),
          output: out,
        }),
        'PB_INVALID_RECORD',
      );
      assert.equal(await readFile(out, 'utf8'), '{"userId":"previous"}\n');
      assert.deepEqual(await listDir(dir.dir), ['out.jsonl']);
      // A successful run replaces it.
      await prepare({ ...UP, sources: ['-'], stdin: stdinOf('u9\n'), output: out, stdout: sink().stream });
      assert.equal(await readFile(out, 'utf8'), '{"userId":"u9"}\n');
      assert.deepEqual(await listDir(dir.dir), ['out.jsonl']);
    } finally {
      await dir.cleanup();
    }
  });

  test('an output folder that does not exist is PB_IO', async () => {
    await rejectsWith(
      prepare({ ...UP, sources: ['-'], stdin: stdinOf('u1\n'), output: fresh('no/such/dir/out.jsonl') }),
      'PB_IO',
      /folder does not exist/,
    );
  });
});
