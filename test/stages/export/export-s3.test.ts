import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { readS3 } from '../../../src/io/s3.js';
import { collect } from '../../../src/stages/collect/index.js';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { shard } from '../../../src/stages/shard/index.js';
import { useS3rver } from '../../helpers.js';
import { REFERENCE } from '../../out-fixtures.js';

// export and collect with s3:// sources and destinations, against s3rver on
// 127.0.0.1 (a real S3-compatible server; the real AWS SDK talks to it).

const s3 = useS3rver();

async function put(key: string, body: string | Buffer): Promise<void> {
  await s3().client.send(new PutObjectCommand({ Bucket: 'bucket', Key: key, Body: body }));
}

async function get(uri: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readS3(s3().client, uri)) parts.push(c);
  return Buffer.concat(parts);
}

const line = (u: string, item: string) =>
  `{"input":{"userId":"${u}"},"output":{"recommendedItems":["${item}"],"scores":[0.5]},"error":null}\n`;

describe('export and collect on S3', () => {
  test('export reads only the *.out objects under a prefix and writes objects (.gz too)', async () => {
    await put('job/out/shard-00000/input.jsonl.out', line('u1', 'a') + REFERENCE.error);
    await put('job/out/shard-00000/_CHECK', 'not data');
    await put('job/out/shard-00001/input.jsonl.out', line('u2', 'b'));
    await put('job/out/notes.txt', 'not data');
    const s = await exportOutputs({ sources: ['s3://bucket/job/out/'], output: 's3://bucket/job/recs.csv' });
    assert.equal(s.sources, 2);
    assert.equal(
      (await get('s3://bucket/job/recs.csv')).toString(),
      'userId,rank,itemId,score\r\nu1,1,a,0.5\r\nu2,1,b,0.5\r\n',
    );
    assert.equal((await get('s3://bucket/job/recs.csv.errors.jsonl')).toString(), `${REFERENCE.error}\n`);
    await exportOutputs({
      sources: ['s3://bucket/job/out/'],
      output: 's3://bucket/job/recs.jsonl.gz',
      format: 'jsonl',
    });
    // The same output again with no error line: the object beside it is the earlier export's, and goes.
    await put('job/clean/input.jsonl.out', line('u1', 'a'));
    const again = await exportOutputs({
      sources: ['s3://bucket/job/clean/'],
      output: 's3://bucket/job/recs.csv',
    });
    assert.equal(again.errorsFile, null);
    assert.deepEqual(again.warnings, [
      "removed s3://bucket/job/recs.csv.errors.jsonl: an earlier export's error lines (this export has none)",
    ]);
    await assert.rejects(get('s3://bucket/job/recs.csv.errors.jsonl'));
    assert.equal(
      gunzipSync(await get('s3://bucket/job/recs.jsonl.gz')).toString(),
      '{"userId":"u1","items":[{"itemId":"a","score":0.5}]}\n{"userId":"u2","items":[{"itemId":"b","score":0.5}]}\n',
    );
  });

  test('collect --state on S3: shard outputs, a rerun, the inputs; merged, missing and errors beside the output', async () => {
    const local = await mkdtemp(join(tmpdir(), 'pb-collect-s3-'));
    try {
      // Inputs sharded to S3 by shard() itself, with its manifest.
      const input = join(local, 'input.jsonl');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(input, ['u1', 'u2', 'u3', 'u4'].map((u) => `{"userId":"${u}"}\n`).join(''));
      await shard({ recipe: 'user-personalization', input, out: 's3://bucket/run/shards/', maxRecords: 2 });
      await put(
        'run/out/shard-00000/input.jsonl.out',
        line('u1', 'a') +
          line('u2', 'b').replace(
            '"output":{"recommendedItems":["b"],"scores":[0.5]},"error":null',
            '"output":null,"error":"x"',
          ),
      );
      await put('run/out/shard-00001/input.jsonl.out', line('u3', 'c'));
      await put('run/out/rerun/input.jsonl.out', `${line('u2', 'b2')}${line('u1', 'dup')}`);
      await put(
        'run/state.json',
        JSON.stringify({
          version: 1,
          family: 'USER_PERSONALIZATION',
          manifest: 's3://bucket/run/shards/manifest.json',
          shards: [
            {
              index: 0,
              input: 's3://bucket/run/shards/shard-00000/input.jsonl',
              output: 's3://bucket/run/out/shard-00000/',
              records: 2,
              jobs: [],
            },
            {
              index: 1,
              input: 's3://bucket/run/shards/shard-00001/input.jsonl',
              output: 's3://bucket/run/out/shard-00001/',
              records: 2,
              jobs: [],
            },
            { index: 2, input: '', output: 's3://bucket/run/out/rerun/', records: 0, jobs: [] },
          ],
        }),
      );
      const s = await collect({
        state: 's3://bucket/run/state.json',
        output: 's3://bucket/run/merged.jsonl',
        tmpDir: local,
      });
      assert.equal(
        (await get('s3://bucket/run/merged.jsonl')).toString(),
        line('u1', 'a') + line('u3', 'c') + line('u2', 'b2'),
      );
      assert.equal((await get('s3://bucket/run/missing.jsonl')).toString(), '{"userId":"u4"}\n');
      assert.equal((await get('s3://bucket/run/errors.jsonl')).toString(), '');
      assert.deepEqual([s.duplicates, s.recovered, s.missing, s.failedKeys], [1, 1, 1, 0]);
      // The manifest as --input gives the same reconciliation.
      const m = await collect({
        sources: ['s3://bucket/run/out/'],
        inputs: ['s3://bucket/run/shards/manifest.json'],
        output: join(local, 'merged.jsonl'),
        tmpDir: local,
      });
      assert.equal(m.missing, 1);
      assert.equal(m.inputFiles, 2);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });
});
