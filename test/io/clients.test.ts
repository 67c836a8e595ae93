import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { configureS3, s3Settings } from '../../src/io/s3.js';
import { collect } from '../../src/stages/collect/index.js';
import { exportOutputs } from '../../src/stages/export/index.js';
import { shard } from '../../src/stages/shard/index.js';
import { listDir, readText, S3RVER_CREDENTIALS, startS3rver, useTmp, writeText } from '../helpers.js';

// The `s3` option of the stages that read or write s3://, against s3rver (no mocked SDK): a ready
// S3Client is the one used (a middleware only it has counts its calls), two calls at once each
// use their own, and the package-wide client (pointed where nothing answers) is never asked.
// Then: the library prints nothing when it makes clients, the SDK's Node warning included.

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = useTmp();
let s3: Awaited<ReturnType<typeof startS3rver>>;
let saved: ReturnType<typeof s3Settings>;

before(async () => {
  s3 = await startS3rver();
  saved = s3Settings();
  configureS3({ endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});

after(async () => {
  configureS3(saved);
  await s3.close();
});

/** A client of its own for s3rver, its calls counted by a middleware only it has. */
function countingClient(): { client: S3Client; calls: string[] } {
  const calls: string[] = [];
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: S3RVER_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  return { client, calls };
}

const outLine = (id: string) =>
  `{"input":{"userId":"${id}"},"output":{"recommendedItems":["a","b"],"scores":[0.5,0.25]},"error":null}\n`;

describe('the s3 option', () => {
  test('shard to s3://, collect and export from s3://: a ready S3Client is the one used, and left open', async () => {
    const c = countingClient();
    const input = await writeText(
      tmp.fresh('in.jsonl'),
      Array.from({ length: 300 }, (_, i) => `{"userId":"u${i}"}\n`).join(''),
    );
    const sh = await shard({
      recipe: 'user-personalization',
      input,
      out: 's3://bucket/ready/shards/',
      maxRecords: 100,
      s3: c.client,
    });
    assert.equal(sh.shards, 3);
    assert.ok(c.calls.includes('PutObjectCommand') || c.calls.includes('CreateMultipartUploadCommand'));
    // The jobs' outputs, as the service would write them, through the same client.
    for (const part of [0, 1])
      await c.client.send(
        new PutObjectCommand({
          Bucket: 'bucket',
          Key: `ready/out/shard-0000${part}/part.out`,
          Body: Array.from({ length: 150 }, (_, i) => outLine(`u${part * 150 + i}`)).join(''),
        }),
      );
    const before = c.calls.length;
    const merged = tmp.fresh('merged.jsonl');
    const col = await collect({ sources: ['s3://bucket/ready/out/'], output: merged, s3: c.client });
    assert.equal(col.written, 300);
    assert.ok(c.calls.slice(before).includes('GetObjectCommand'));
    const csv = tmp.fresh('recs.csv');
    const before2 = c.calls.length;
    await exportOutputs({
      sources: ['s3://bucket/ready/out/'],
      output: csv,
      format: 'csv-long',
      s3: c.client,
    });
    assert.equal((await readText(csv)).trim().split('\n').length, 1 + 600);
    assert.ok(c.calls.slice(before2).includes('ListObjectsV2Command'));
    await c.client.send(new HeadBucketCommand({ Bucket: 'bucket' }));
    c.client.destroy();
  });

  test('two calls at once each use their own client; client config works as well (after the test above)', async () => {
    const a = countingClient();
    const b = countingClient();
    const input = await writeText(
      tmp.fresh('in.jsonl'),
      Array.from({ length: 2000 }, (_, i) => `{"userId":"u${i}"}\n`).join(''),
    );
    const run = (name: string, client: S3Client) =>
      shard({
        recipe: 'user-personalization',
        input,
        out: `s3://bucket/${name}/`,
        maxRecords: 100,
        s3: client,
      });
    await Promise.all([run('a', a.client), run('b', b.client)]);
    const puts = (calls: string[]) => calls.filter((c) => c !== 'ListObjectsV2Command').length;
    assert.ok(puts(a.calls) >= 21 && puts(b.calls) >= 21, `${a.calls.length} / ${b.calls.length}`);
    assert.equal(puts(a.calls), puts(b.calls), 'the same work, each through its own client');
    const merged = tmp.fresh('merged.jsonl');
    const s = await collect({
      sources: ['s3://bucket/ready/out/'],
      output: merged,
      s3: { endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS },
    });
    assert.equal(s.written, 300);
    a.client.destroy();
    b.client.destroy();
  });
});

test('the library prints nothing when it makes clients: no Node-version warning from the AWS SDK', async () => {
  const dir = tmp.fresh('child');
  await mkdir(dir);
  const src = (p: string) => JSON.stringify(join(root, 'src', p));
  const nowhere = `{ endpoint: 'http://127.0.0.1:9', maxAttempts: 1, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }`;
  const script = join(dir, 'use.mts');
  await writeFile(
    script,
    `import { writeFile } from 'node:fs/promises';
import { collect } from ${src('stages/collect/index.ts')};
import { jobStatus } from ${src('stages/jobs/index.ts')};
import { newState } from ${src('stages/jobs/model.ts')};
const state = ${JSON.stringify(join(dir, 'state.json'))};
const shard = { index: 0, uri: 's3://b/s/shard-00000/', folder: 's3://b/s/shard-00000/', records: 1, bytes: 10, sha256: 'x', files: [] };
await writeFile(state, JSON.stringify(newState('s3://b/s/manifest.json', { family: 'user-personalization', shards: [shard] }, 'arn:aws:personalize:us-east-1:123456789012:solution/x/1', 's3://b/out/', new Date())));
const codes = [];
await collect({ sources: ['s3://b/none/'], output: ${JSON.stringify(join(dir, 'm.jsonl'))}, s3: ${nowhere} }).catch((e) => codes.push(e.code));
const st = await jobStatus({ state, personalize: ${nowhere} });
await writeFile(${JSON.stringify(join(dir, 'done.json'))}, JSON.stringify({ codes, jobs: st.jobs.length }));
`,
  );
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  delete env.NODE_OPTIONS;
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env,
  });
  assert.equal(stderr, '');
  assert.equal(stdout, '');
  assert.deepEqual(JSON.parse(await readText(join(dir, 'done.json'))), { codes: ['PB_IO'], jobs: 1 });
  // The control: in this Node, a client made directly warns (else the empty stderr proves nothing).
  if (Number(process.versions.node.split('.')[0]) < 22) {
    const direct = await promisify(execFile)(
      process.execPath,
      ['-e', "new (require('@aws-sdk/client-personalize').PersonalizeClient)({ region: 'us-east-1' })"],
      { cwd: root, env },
    );
    assert.match(direct.stderr, /NodeVersionSupportWarning/);
  }
  assert.deepEqual((await listDir(dir)).sort(), ['done.json', 'state.json', 'use.mts']);
});
