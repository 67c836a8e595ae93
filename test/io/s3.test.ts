import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BUCKET_NAME, configureS3, listS3, makeS3Client, readS3, writeS3 } from '../../src/io/s3.js';
import { prepare } from '../../src/stages/prepare/index.js';
import { type Manifest, shard } from '../../src/stages/shard/index.js';
import { validateFiles } from '../../src/stages/validate/index.js';
import { S3RVER_CREDENTIALS, sink, startS3rver } from '../helpers.js';

// A real S3-compatible server (s3rver) on 127.0.0.1, started here; the real
// AWS SDK talks to it over HTTP.

let s3: Awaited<ReturnType<typeof startS3rver>>;
let port: number;
let client: S3Client;
const proxies: Server[] = [];
const credentials = S3RVER_CREDENTIALS;

before(async () => {
  s3 = await startS3rver();
  port = s3.port;
  client = s3.client;
});

after(async () => {
  for (const p of proxies) p.close();
  await s3.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(c);
  return Buffer.concat(parts);
}

async function* chunksOf(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('S3 against s3rver', () => {
  test('a multipart upload of a stream reads back byte for byte', async () => {
    const data = randomBytes(12 * 1024 * 1024 + 123);
    await writeS3(client, 's3://bucket/up/big.bin', chunksOf(data, 64 * 1024), { partSize: 5 * 1024 * 1024 });
    const back = await collect(readS3(client, 's3://bucket/up/big.bin'));
    assert.equal(back.length, data.length);
    assert.equal(sha(back), sha(data));
  });

  test('a prefix lists every object across pages, in key order, without folder markers and _CHECK', async () => {
    const keys = ['list/a.out', 'list/b.out', 'list/c/d.out', 'list/e.out', 'list/f.out'];
    for (const k of [...keys].reverse()) {
      await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: k, Body: `x-${k}` }));
    }
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'list/c/', Body: '' }));
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'list/_CHECK', Body: 'ok' }));
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'list_test/other.out', Body: 'no' }));
    const listed: string[] = [];
    for await (const o of listS3(client, 's3://bucket/list/', 2)) listed.push(o.key);
    assert.deepEqual(listed, keys);
  });

  test('a read whose connection is cut mid-body resumes with a Range and yields every byte once', async () => {
    const data = randomBytes(6 * 1024 * 1024);
    await writeS3(client, 's3://bucket/cut/data.bin', chunksOf(data, 1024 * 1024));
    let cuts = 0;
    const proxy = createServer((down: Socket) => {
      const up = connect(port, '127.0.0.1');
      let sent = 0;
      const cutThis = cuts === 0;
      down.pipe(up);
      up.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (cutThis && sent > 1024 * 1024 && cuts === 0) {
          cuts++;
          down.destroy();
          up.destroy();
          return;
        }
        down.write(chunk);
      });
      up.on('error', () => down.destroy());
      down.on('error', () => up.destroy());
      up.on('end', () => down.end());
    });
    proxies.push(proxy);
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const pport = (proxy.address() as { port: number }).port;
    const viaProxy = makeS3Client({ endpoint: `http://127.0.0.1:${pport}`, credentials, maxAttempts: 1 });
    try {
      const back = await collect(readS3(viaProxy, 's3://bucket/cut/data.bin'));
      assert.equal(cuts, 1, 'the connection was cut once');
      assert.equal(back.length, data.length);
      assert.equal(sha(back), sha(data));
    } finally {
      viaProxy.destroy();
    }
  });

  test('an upload that fails part-way leaves no object under the key', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(6 * 1024 * 1024);
      throw new Error('source broke');
    }
    await assert.rejects(
      writeS3(client, 's3://bucket/fail/partial.bin', failing(), { partSize: 5 * 1024 * 1024 }),
    );
    await assert.rejects(client.send(new HeadObjectCommand({ Bucket: 'bucket', Key: 'fail/partial.bin' })), {
      name: 'NotFound',
    });
  });

  test('a missing object is an error in plain words naming the URI', async () => {
    await assert.rejects(
      collect(readS3(client, 's3://bucket/nope/none.out')),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PB_IO');
        assert.match(err.message, /^s3:\/\/bucket\/nope\/none\.out: no such object/);
        return true;
      },
    );
  });
});

describe('commands on s3:// paths', () => {
  before(() => {
    configureS3({ endpoint: `http://127.0.0.1:${port}`, credentials });
  });
  after(() => {
    configureS3({});
  });

  test('prepare reads a CSV object and a prefix of objects, and writes a gzipped object', async () => {
    const a = 'email,user_id\na@x,u1\nb@x,u2\n';
    const b = 'USER_ID,NAME\nu2,B\nu3,C\n';
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'crm/a.csv', Body: a }));
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'crm/b.csv', Body: gzipSync(b) }));
    const s = await prepare({
      recipe: 'user-personalization',
      sources: ['s3://bucket/crm/'],
      output: 's3://bucket/work/batch.jsonl.gz',
    });
    assert.deepEqual([s.sources, s.written, s.duplicates], [2, 3, 1]);
    const back = gunzipSync(await collect(readS3(client, 's3://bucket/work/batch.jsonl.gz'))).toString();
    assert.equal(back, '{"userId":"u1"}\n{"userId":"u2"}\n{"userId":"u3"}\n');
  });

  test('validate checks an object and names it in each problem', async () => {
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'v/in.jsonl', Body: '{"userId":"1"}\n{"userId":""}\n' }),
    );
    const problems: string[] = [];
    const s = await validateFiles({
      recipe: 'user-personalization',
      files: ['s3://bucket/v/in.jsonl'],
      onProblem: (m) => problems.push(m),
    });
    assert.equal(s.records, 2);
    assert.deepEqual(problems, ['s3://bucket/v/in.jsonl:2: userId: empty']);
  });

  test('an empty prefix is a clear error', async () => {
    await assert.rejects(
      prepare({
        recipe: 'user-personalization',
        sources: ['s3://bucket/none/'],
        output: '-',
        stdout: sink().stream,
      }),
      /s3:\/\/bucket\/none\/: no objects under this prefix/,
    );
  });

  test('a shard folder on S3 is an input folder for shard and validate: manifest.json and _CHECK left out; a manifest is read by content', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ userId: `u${i}` }));
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'kind/in.jsonl', Body: `${lines.join('\n')}\n` }),
    );
    const first = await shard({
      recipe: 'user-personalization',
      input: 's3://bucket/kind/in.jsonl',
      out: 's3://bucket/kind/run1/',
      maxRecords: 10,
    });
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'kind/run1/_CHECK', Body: '' }));
    // One shard's folder, and the whole run's prefix (three shard folders and the manifest).
    const one = await shard({
      recipe: 'user-personalization',
      input: 's3://bucket/kind/run1/shard-00000/',
      out: 's3://bucket/kind/again1/',
    });
    assert.equal(one.records, 10);
    const all = await shard({
      recipe: 'user-personalization',
      input: 's3://bucket/kind/run1/',
      out: 's3://bucket/kind/again2/',
    });
    assert.equal(all.records, 30);
    const back = (
      await collect(readS3(client, 's3://bucket/kind/again2/shard-00000/input.jsonl'))
    ).toString();
    assert.deepEqual(back.trimEnd().split('\n'), lines);
    const problems: string[] = [];
    const v = await validateFiles({
      recipe: 'user-personalization',
      files: ['s3://bucket/kind/run1/'],
      onProblem: (m) => problems.push(m),
    });
    assert.deepEqual([v.files, v.records, problems], [3, 30, []]);
    // The manifest itself, by content: validate reads its shards, shard refuses it with what to do.
    const viaManifest = await validateFiles({ recipe: 'user-personalization', files: [first.manifest] });
    assert.deepEqual([viaManifest.files, viaManifest.records], [3, 30]);
    await assert.rejects(
      shard({ recipe: 'user-personalization', input: first.manifest, out: 's3://bucket/kind/again3/' }),
      /manifest\.json: by its content this is a shard manifest \(it lists "shards"\), not batch input; submit it/,
    );
  });

  test('shard straight to S3: shard objects, checksums and the manifest last', async () => {
    const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ userId: `u${i}` }));
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'sh/in.jsonl', Body: `${lines.join('\n')}\n` }),
    );
    const s = await shard({
      recipe: 'user-personalization',
      input: 's3://bucket/sh/in.jsonl',
      out: 's3://bucket/sh/out',
      maxRecords: 120,
    });
    assert.equal(s.manifest, 's3://bucket/sh/out/manifest.json');
    const m = JSON.parse((await collect(readS3(client, s.manifest))).toString()) as Manifest;
    assert.deepEqual(
      m.shards.map((x) => x.records),
      [120, 120, 120, 120, 20],
    );
    const all: string[] = [];
    for (const x of m.shards) {
      assert.equal(x.uri, `${x.folder}input.jsonl`);
      assert.match(x.folder, /^s3:\/\/bucket\/sh\/out\/shard-\d{5}\/$/);
      const data = await collect(readS3(client, x.uri));
      assert.equal(data.length, x.bytes);
      assert.equal(sha(data), x.sha256);
      all.push(...data.toString().trimEnd().split('\n'));
    }
    assert.deepEqual(all, lines);
    // A second run needs --force, which replaces the shards; it never deletes other objects.
    await assert.rejects(
      shard({ recipe: 'user-personalization', input: 's3://bucket/sh/in.jsonl', out: 's3://bucket/sh/out/' }),
      { code: 'PB_USAGE' },
    );
    const again = await shard({
      recipe: 'user-personalization',
      input: 's3://bucket/sh/in.jsonl',
      out: 's3://bucket/sh/out/',
      force: true,
    });
    assert.equal(again.shards, 1);
    const keys: string[] = [];
    for await (const o of listS3(client, 's3://bucket/sh/out/')) keys.push(o.key);
    assert.deepEqual(keys, ['sh/out/manifest.json', 'sh/out/shard-00000/input.jsonl']);
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'sh/out/notes.txt', Body: 'mine' }));
    await assert.rejects(
      shard({
        recipe: 'user-personalization',
        input: 's3://bucket/sh/in.jsonl',
        out: 's3://bucket/sh/out/',
        force: true,
      }),
      /not shards \(sh\/out\/notes\.txt\); not deleting them/,
    );
  });

  test('item-affinity shards straight to S3: one shard of several files, and --force replaces them', async () => {
    const lines = Array.from({ length: 1234 }, (_, i) => JSON.stringify({ itemId: `i${i}` }));
    await client.send(
      new PutObjectCommand({ Bucket: 'bucket', Key: 'ia/in.jsonl', Body: `${lines.join('\n')}\n` }),
    );
    const opts = { recipe: 'item-affinity', input: 's3://bucket/ia/in.jsonl', out: 's3://bucket/ia/out/' };
    const s = await shard(opts);
    assert.equal(s.shards, 1);
    const m = JSON.parse((await collect(readS3(client, s.manifest))).toString()) as Manifest;
    const x = m.shards[0] as Manifest['shards'][number];
    assert.equal(x.folder, 's3://bucket/ia/out/shard-00000/');
    assert.deepEqual(
      x.files.map((f) => [f.uri.slice(x.folder.length), f.records]),
      [
        ['input-00000.jsonl', 500],
        ['input-00001.jsonl', 500],
        ['input-00002.jsonl', 234],
      ],
    );
    assert.equal(x.uri, x.files[0]?.uri);
    const parts: Buffer[] = [];
    for (const f of x.files) {
      const data = await collect(readS3(client, f.uri));
      assert.equal(data.length, f.bytes);
      assert.equal(sha(data), f.sha256);
      parts.push(data);
    }
    const whole = Buffer.concat(parts);
    assert.equal(sha(whole), x.sha256);
    assert.equal(whole.length, x.bytes);
    assert.deepEqual(whole.toString().trimEnd().split('\n'), lines);
    // --force recognises the several-file layout as shards it may delete.
    const again = await shard({ ...opts, maxRecordsPerFile: 1000, force: true });
    assert.equal(again.shards, 1);
    const keys: string[] = [];
    for await (const o of listS3(client, 's3://bucket/ia/out/')) keys.push(o.key);
    assert.deepEqual(keys, [
      'ia/out/manifest.json',
      'ia/out/shard-00000/input-00000.jsonl',
      'ia/out/shard-00000/input-00001.jsonl',
    ]);
  });

  test('a shard run that fails leaves no shard object and no manifest behind', async () => {
    const body = `${Array.from({ length: 50 }, (_, i) => JSON.stringify({ userId: `u${i}` })).join('\n')}\n{"x":1}\n`;
    await client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'bad/in.jsonl', Body: body }));
    await assert.rejects(
      shard({
        recipe: 'user-personalization',
        input: 's3://bucket/bad/in.jsonl',
        out: 's3://bucket/bad/out/',
        shards: 3,
      }),
      { code: 'PB_INVALID_RECORD' },
    );
    const keys: string[] = [];
    for await (const o of listS3(client, 's3://bucket/bad/out/')) keys.push(o.key);
    assert.deepEqual(keys, []);
  });

  test('prepare --shard-out to S3 with hash shards', async () => {
    await client.send(
      new PutObjectCommand({
        Bucket: 'bucket',
        Key: 'ps/emails.csv',
        Body: 'email,user_id\na,u1\nb,u2\nc,u3\nd,u1\n',
      }),
    );
    const s = await prepare({
      recipe: 'user-personalization',
      sources: ['s3://bucket/ps/emails.csv'],
      shardOut: 's3://bucket/ps/shards/',
      shards: 2,
    });
    assert.equal(s.written, 3);
    const m = JSON.parse(
      (await collect(readS3(client, 's3://bucket/ps/shards/manifest.json'))).toString(),
    ) as Manifest;
    assert.equal(m.records, 3);
    // Three keys in two buckets: a bucket no key hashed to is neither listed nor uploaded.
    assert.equal(
      m.shards.reduce((n, x) => n + x.records, 0),
      3,
    );
    for (const x of m.shards) assert.ok(x.records > 0);
    const listed: string[] = [];
    for await (const o of listS3(client, 's3://bucket/ps/shards/')) listed.push(o.key);
    assert.deepEqual(
      listed.sort(),
      ['ps/shards/manifest.json', ...m.shards.map((x) => x.uri.slice('s3://bucket/'.length)).sort()].sort(),
    );
  });
});

test("BUCKET_NAME is the pipeline schema's bucket rule (the emulator and the schema refuse the same names)", () => {
  const schema = JSON.parse(
    readFileSync(new URL('../../schemas/pipeline.schema.json', import.meta.url), 'utf8'),
  );
  assert.equal(schema.definitions.s3Prefix.pattern, `^s3://${BUCKET_NAME.source.slice(1, -1)}(/.*)?$`);
  for (const name of ['pb', 'My-Bucket', '-x-', 'a_b']) assert.ok(!BUCKET_NAME.test(name), name);
  assert.ok(BUCKET_NAME.test('personalize-batch-demo'));
});
