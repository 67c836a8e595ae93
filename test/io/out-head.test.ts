import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { HEAD_BYTES, readOutHead } from '../../src/io/out-head.js';
import { rejectsWith, useS3rver, useTmp } from '../helpers.js';
import { AWS_DOC_EXAMPLES, REFERENCE } from '../out-fixtures.js';

const tmp = useTmp();
const line = `${REFERENCE.userPersonalization}\n`;

describe('readOutHead: the first lines of a file, folder or S3 prefix', () => {
  test('a folder: its first .out file by name, recursively; .gz read through; which kinds are there', async () => {
    const dir = tmp.fresh('out');
    await mkdir(join(dir, 'b'), { recursive: true });
    await writeFile(join(dir, '_CHECK'), 'not output');
    await writeFile(join(dir, 'a.json.out.gz'), gzipSync(`\ufeff${line}`));
    await writeFile(join(dir, 'b', 'c.json.out'), REFERENCE.themes);
    const h = await readOutHead(dir);
    assert.equal(h.kind, 'folder');
    assert.equal(h.first, join(dir, 'a.json.out.gz'));
    assert.deepEqual([h.gz, h.plain], [true, true]);
    assert.equal(h.head.toString(), line, 'gunzipped, the BOM dropped');
  });

  test('a long file: at most 1 MiB, cut after its last whole line', async () => {
    const file = tmp.fresh('big.out');
    const n = Math.ceil((2 * HEAD_BYTES) / line.length);
    await writeFile(file, line.repeat(n));
    const h = await readOutHead(file);
    assert.equal(h.kind, 'file');
    assert.ok(h.head.length <= HEAD_BYTES && h.head.length > HEAD_BYTES - line.length);
    assert.equal(h.head.length % line.length, 0);
  });

  test('objects spread over lines are refused with the way out', async () => {
    const file = tmp.fresh('docs.out');
    await writeFile(file, JSON.stringify(JSON.parse(REFERENCE.similarItems), null, 2));
    await rejectsWith(readOutHead(file), 'PB_PARSE', /not JSON Lines.*export/);
    const ok = tmp.fresh('popularity.out');
    await writeFile(ok, AWS_DOC_EXAMPLES.popularityCount.join('\n'));
    assert.equal((await readOutHead(ok)).kind, 'file');
  });

  test('an empty folder says so', async () => {
    const dir = tmp.fresh('empty');
    await mkdir(dir);
    await rejectsWith(readOutHead(dir), 'PB_IO', /no \.out files/);
  });

  describe('on S3', () => {
    const s3 = useS3rver();
    const put = (key: string, body: string | Buffer) =>
      s3().client.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: body }));

    test('a prefix: its first .out object, _CHECK passed over', async () => {
      await put('run/_CHECK', '{}');
      await put('run/a.json.out', line);
      await put('run/z.json.out', 'not json at all');
      const h = await readOutHead('s3://bucket/run/');
      assert.equal(h.kind, 's3-prefix');
      assert.equal(h.first, 's3://bucket/run/a.json.out');
      assert.equal(h.head.toString(), line);
    });

    test('an object named directly; an empty prefix says so', async () => {
      await put('one/x.out.gz', gzipSync(line));
      const h = await readOutHead('s3://bucket/one/x.out.gz');
      assert.deepEqual([h.kind, h.gz, h.head.toString()], ['s3-object', true, line]);
      await rejectsWith(readOutHead('s3://bucket/none/'), 'PB_IO', /no \.out objects/);
    });
  });
});
