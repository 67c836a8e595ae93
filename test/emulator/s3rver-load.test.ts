import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3rver } from '../helpers.js';

// loadS3rver() (src/emulator/s3-server.ts): s3rver 3.7.1 with plain continuation
// tokens in place of DES, which Node 17+ refuses without --openssl-legacy-provider.
// This file runs as users run node: no flags.

let s3: Awaited<ReturnType<typeof startS3rver>>;
before(async () => {
  s3 = await startS3rver();
  for (const key of ['a', 'b', 'c']) {
    await s3.client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: `p/${key}`, Body: key, ContentLength: 1 }),
    );
  }
});
after(() => s3.close());

test('a truncated listing gives a NextContinuationToken that gives the next page', async () => {
  const first = await s3.client.send(
    new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'p/', MaxKeys: 2 }),
  );
  assert.deepEqual(
    first.Contents?.map((o) => o.Key),
    ['p/a', 'p/b'],
  );
  assert.equal(first.IsTruncated, true);
  assert.ok(first.NextContinuationToken);
  const second = await s3.client.send(
    new ListObjectsV2Command({
      Bucket: 'bucket',
      Prefix: 'p/',
      MaxKeys: 2,
      ContinuationToken: first.NextContinuationToken,
    }),
  );
  assert.deepEqual(
    second.Contents?.map((o) => o.Key),
    ['p/c'],
  );
  assert.equal(second.IsTruncated, false);
  assert.equal(second.ContinuationToken, first.NextContinuationToken);
});

test('a token s3rver did not make is InvalidArgument, as before', async () => {
  const err = await s3.client
    .send(new ListObjectsV2Command({ Bucket: 'bucket', ContinuationToken: 'bm90IGEgdG9rZW4=' }))
    .then(
      () => assert.fail('a made-up token must be refused'),
      (e: { name: string; $metadata?: { httpStatusCode?: number } }) => e,
    );
  assert.equal(err.name, 'InvalidArgument');
  assert.equal(err.$metadata?.httpStatusCode, 400);
});

test('s3rver loaded before the loader could swap its tokens: PB_IO naming the fix, not a 500 later', async () => {
  const loader = fileURLToPath(new URL('../../src/emulator/s3-server.ts', import.meta.url));
  const script = `
    import { createRequire } from 'node:module';
    createRequire(${JSON.stringify(loader)})('s3rver');
    const { loadS3rver } = await import(${JSON.stringify(loader)});
    try { loadS3rver(); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.message); }
  `;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  assert.match(
    stdout,
    /^PB_IO .*bucket\.js: s3rver was loaded before personalize-batch could take DES out of its listing tokens, .*--openssl-legacy-provider/,
  );
});

test('a GET right after a PUT of the same key gets the whole new body, never the old one or a mix', async () => {
  // s3rver 3.7.1 answered a PUT before its file was written (writeStream.end() not awaited), and
  // wrote over the old file in place: a read soon after got the old bytes or a truncated, longer
  // or spliced body (state.json read back as invalid JSON in a run test on a busy machine).
  const long = Buffer.alloc(256 * 1024, 'x');
  const bad: string[] = [];
  for (let i = 0; i < 60; i++) {
    const body = Buffer.from(`{"round":${i}}\n`);
    await s3.client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'race', Body: i % 2 ? long : body }));
    const got = await s3.client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'race' }));
    const bytes = Buffer.from(
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    if (!bytes.equals(i % 2 ? long : body)) bad.push(`${i}: ${bytes.length} bytes`);
  }
  assert.deepEqual(bad, []);
});

test('GETs while PUTs of other lengths land on the same key: each body whole, one of those put', async () => {
  // s3rver took the object's length (a stat) before it opened the file by name: a PUT renamed in
  // between gave the new bytes cut at the old length (a run's state.json, cut mid-string).
  const bodies = Array.from({ length: 8 }, (_, i) =>
    Buffer.from(`${JSON.stringify({ i, pad: 'y'.repeat(i * 3000) })}\n`),
  );
  const put = (i: number) =>
    s3.client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'turns', Body: bodies[i % bodies.length] }));
  await put(0);
  const bad: string[] = [];
  const get = async () => {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: 'bucket', Key: 'turns' }));
    const bytes = Buffer.from(
      await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    if (!bodies.some((b) => b.equals(bytes))) bad.push(`${bytes.length} bytes: ${bytes.subarray(0, 12)}`);
  };
  for (let round = 0; round < 40; round++)
    await Promise.all([put(round + 1), get(), put(round + 5), get(), get()]);
  assert.deepEqual(bad, []);
});
