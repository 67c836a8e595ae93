import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { PbError } from '../../src/errors.js';
import { MultipartWriter, PartBudget } from '../../src/io/multipart.js';
import { configureS3, listS3, makeS3Client, readS3 } from '../../src/io/s3.js';
import { type Manifest, shard } from '../../src/stages/shard/index.js';
import { prng, S3RVER_CREDENTIALS, startS3rver, useTmp } from '../helpers.js';

// The shard multipart writer against a real S3-compatible server (s3rver,
// in-process on 127.0.0.1), reached through a small HTTP proxy that sees
// every request: it counts the part uploads open at once, can hold them
// (to watch backpressure) or cut their connections (to fail a run).
// s3rver 3.7.1 does not check the 5 MiB part minimum, so most tests use
// 64 KiB parts; it answers AbortMultipartUpload and ListMultipartUploads
// with MethodNotAllowed / NotImplemented, so aborts are checked in the
// proxy's log of requests (each one created upload must be aborted).

const { fresh } = useTmp();
const credentials = S3RVER_CREDENTIALS;
const KIB64 = 64 * 1024;
let s3: Awaited<ReturnType<typeof startS3rver>>;
let client: S3Client;
let proxy: S3Proxy;

type Kind = 'create' | 'part' | 'put' | 'complete' | 'abort' | 'other';

interface Logged {
  kind: Kind;
  phase: 'start' | 'end' | 'cut';
  key: string;
  uploadId?: string;
  partNumber?: number;
  length: number;
  status?: number;
}

/** Forwards to s3rver, logging each request; uploads of bytes (parts, PutObject) are counted while open. */
class S3Proxy {
  readonly log: Logged[] = [];
  open = 0;
  maxOpen = 0;
  /** Part uploads wait here while true, until release(). */
  hold = false;
  /** From this part request on (1-based), part connections are cut. */
  cutFrom = Number.POSITIVE_INFINITY;
  private parts = 0;
  private readonly held: (() => void)[] = [];
  private readonly heldWatchers: { n: number; resolve: () => void }[] = [];
  readonly server: Server;

  constructor(private readonly upstream: number) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => res.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  reset(): void {
    this.log.length = 0;
    this.maxOpen = 0;
    this.parts = 0;
    this.hold = false;
    this.cutFrom = Number.POSITIVE_INFINITY;
  }

  /** Resolves once `n` part uploads are being held. */
  heldCount(n: number): Promise<void> {
    if (this.held.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.heldWatchers.push({ n, resolve }));
  }

  get holding(): number {
    return this.held.length;
  }

  release(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const q = url.searchParams;
    const id = q.get('x-id');
    const kind: Kind =
      req.method === 'POST' && q.has('uploads')
        ? 'create'
        : id === 'UploadPart'
          ? 'part'
          : id === 'PutObject'
            ? 'put'
            : req.method === 'POST' && q.has('uploadId')
              ? 'complete'
              : req.method === 'DELETE' && q.has('uploadId')
                ? 'abort'
                : 'other';
    const e: Logged = {
      kind,
      phase: 'start',
      key: decodeURIComponent(url.pathname.slice(1)),
      uploadId: q.get('uploadId') ?? undefined,
      partNumber: q.has('partNumber') ? Number(q.get('partNumber')) : undefined,
      length: Number(req.headers['content-length'] ?? 0),
    };
    this.log.push(e);
    const counted = kind === 'part' || kind === 'put';
    if (counted) {
      this.open++;
      this.maxOpen = Math.max(this.maxOpen, this.open);
    }
    if (kind === 'part' && ++this.parts >= this.cutFrom) {
      this.open--;
      this.log.push({ ...e, phase: 'cut' });
      req.socket.destroy();
      return;
    }
    if (kind === 'part' && this.hold) {
      await new Promise<void>((r) => {
        this.held.push(r);
        for (const w of this.heldWatchers.filter((x) => this.held.length >= x.n)) {
          this.heldWatchers.splice(this.heldWatchers.indexOf(w), 1);
          w.resolve();
        }
      });
    }
    const headers = { ...req.headers };
    delete headers.expect;
    const up = request({
      host: '127.0.0.1',
      port: this.upstream,
      method: req.method,
      path: req.url,
      headers,
    });
    req.pipe(up);
    const [status, resHeaders, body] = await new Promise<[number, IncomingMessage['headers'], Buffer]>(
      (resolve, reject) => {
        up.on('error', reject);
        up.on('response', (ur) => {
          const chunks: Buffer[] = [];
          ur.on('data', (c: Buffer) => chunks.push(c));
          ur.on('end', () => resolve([ur.statusCode ?? 500, ur.headers, Buffer.concat(chunks)]));
          ur.on('error', reject);
        });
      },
    );
    // Counted down before the client can see the answer (and start its next part).
    if (counted) this.open--;
    let uploadId = e.uploadId;
    if (kind === 'create') uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(body.toString())?.[1];
    this.log.push({ ...e, phase: 'end', uploadId, status });
    res.writeHead(status, resHeaders);
    res.end(body);
  }

  /** Upload ids that were created, with their keys. */
  created(): Map<string, string> {
    const m = new Map<string, string>();
    for (const e of this.log)
      if (e.kind === 'create' && e.phase === 'end' && e.uploadId) m.set(e.uploadId, e.key);
    return m;
  }

  /** Part requests answered, by upload id: [partNumber, length] in the order sent. */
  partsOf(uploadId: string): [number, number][] {
    return this.log
      .filter((e) => e.kind === 'part' && e.phase === 'end' && e.uploadId === uploadId)
      .map((e) => [e.partNumber as number, e.length]);
  }
}

before(async () => {
  s3 = await startS3rver();
  client = s3.client;
  proxy = new S3Proxy(s3.port);
  const endpoint = await proxy.listen();
  configureS3({ endpoint, credentials, maxAttempts: 1 });
});

after(async () => {
  configureS3({});
  proxy.server.close();
  await s3.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function getObject(uri: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readS3(client, uri)) parts.push(c);
  return Buffer.concat(parts);
}

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of listS3(client, prefix)) keys.push(o.key);
  return keys;
}

/** A client to the proxy with no retries, as the shard run uses. */
function proxyClient(): S3Client {
  const address = proxy.server.address() as { port: number };
  return makeS3Client({ endpoint: `http://127.0.0.1:${address.port}`, credentials, maxAttempts: 1 });
}

/** Yields microtask and macrotask turns, so anything that could run has run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Every non-last part is exactly partSize, numbered 1..k in order of completion of the parts list. */
function assertParts(uploadId: string, total: number, partSize: number): void {
  const parts = proxy.partsOf(uploadId).sort((a, b) => a[0] - b[0]);
  const k = Math.ceil(total / partSize);
  assert.deepEqual(
    parts.map((p) => p[0]),
    Array.from({ length: k }, (_, i) => i + 1),
  );
  for (const [n, len] of parts) assert.equal(len, n < k ? partSize : total - (k - 1) * partSize, `part ${n}`);
}

describe('MultipartWriter and its shared PartBudget', () => {
  test('many uploads share the budget: never more parts in flight than it allows, one part buffer each', async () => {
    proxy.reset();
    const s3 = proxyClient();
    try {
      const budget = new PartBudget({ partSize: KIB64, inFlight: 2 });
      const n = 5;
      const data = Array.from({ length: n }, (_, i) => randomBytes(KIB64 * (6 + i) + 777 * i));
      const writers = data.map((_, i) => new MultipartWriter(s3, `s3://bucket/mw/share/${i}.bin`, budget));
      // Interleaved writes of random sizes, as hash shards receive them; every wait is awaited.
      const rand = prng(7);
      const pos = data.map(() => 0);
      let left = n;
      while (left > 0) {
        const i = Math.floor(rand() * n);
        const d = data[i] as Buffer;
        const p = pos[i] as number;
        if (p >= d.length) continue;
        const len = Math.min(d.length - p, 1 + Math.floor(rand() * 40_000));
        pos[i] = p + len;
        if (p + len === d.length) left--;
        const w = (writers[i] as MultipartWriter).write(d.subarray(p, p + len));
        if (w) await w;
      }
      await Promise.all(writers.map((w) => w.close()));
      assert.equal(budget.peak, 2, 'both slots were used');
      assert.ok(proxy.maxOpen <= 2, `at most 2 part uploads open at the server, saw ${proxy.maxOpen}`);
      assert.ok(budget.allocated <= n + 2, `${budget.allocated} part buffers for ${n} uploads + 2 in flight`);
      const created = proxy.created();
      assert.equal(created.size, n);
      for (const [uploadId, key] of created) {
        const i = Number(/(\d+)\.bin$/.exec(key)?.[1]);
        assertParts(uploadId, (data[i] as Buffer).length, KIB64);
      }
      for (let i = 0; i < n; i++) {
        assert.equal(
          sha(await getObject(`s3://bucket/mw/share/${i}.bin`)),
          sha(data[i] as Buffer),
          `object ${i}`,
        );
      }
      assert.equal(proxy.log.filter((e) => e.kind === 'abort').length, 0);
    } finally {
      s3.destroy();
    }
  });

  test('a writer whose part is full waits for a free slot (backpressure), then goes on in order', async () => {
    proxy.reset();
    const s3 = proxyClient();
    try {
      const budget = new PartBudget({ partSize: KIB64, inFlight: 1 });
      const a = new MultipartWriter(s3, 's3://bucket/mw/bp/a.bin', budget);
      const b = new MultipartWriter(s3, 's3://bucket/mw/bp/b.bin', budget);
      const da = randomBytes(KIB64 * 2 + 5);
      const db = randomBytes(KIB64 + 9);
      proxy.hold = true;
      // a's first part takes the only slot at once: no wait.
      assert.equal(a.write(da.subarray(0, KIB64 + 5)), undefined);
      await proxy.heldCount(1);
      // b fills a part too: it must wait, and its part is not sent.
      let bDone = false;
      const wb = b.write(db);
      assert.ok(wb, 'a full part with no free slot gives a promise');
      wb.then(() => {
        bDone = true;
      });
      // A later write to a queues behind nothing of its own but still needs a slot.
      let aDone = false;
      const wa = a.write(da.subarray(KIB64 + 5));
      assert.ok(wa);
      wa.then(() => {
        aDone = true;
      });
      await settle();
      assert.equal(bDone, false, 'b waits while the slot is taken');
      assert.equal(aDone, false, 'a waits too');
      assert.equal(proxy.holding, 1, 'only the first part reached the server');
      assert.equal(proxy.log.filter((e) => e.kind === 'part' && e.phase === 'start').length, 1);
      proxy.release();
      await wb;
      await wa;
      await Promise.all([a.close(), b.close()]);
      assert.equal(budget.peak, 1);
      assert.equal(proxy.maxOpen, 1);
      assert.ok(budget.allocated <= 3, `${budget.allocated} buffers`);
      assert.equal(sha(await getObject('s3://bucket/mw/bp/a.bin')), sha(da));
      assert.equal(sha(await getObject('s3://bucket/mw/bp/b.bin')), sha(db));
      // b waited for a slot: its first part went out after a's first had ended.
      const order = proxy.log
        .filter((e) => e.kind === 'part')
        .map((e) => `${e.key}#${e.partNumber}:${e.phase}`);
      assert.ok(
        order.indexOf('bucket/mw/bp/b.bin#1:start') > order.indexOf('bucket/mw/bp/a.bin#1:end'),
        order.join(' '),
      );
    } finally {
      proxy.release();
      s3.destroy();
    }
  });

  test('real 5 MiB parts (the default), and an upload smaller than a part is one PutObject', async () => {
    proxy.reset();
    const s3 = proxyClient();
    try {
      const budget = new PartBudget();
      assert.equal(budget.partSize, 5 * 1024 * 1024);
      assert.equal(budget.inFlight, 2);
      const big = randomBytes(11 * 1024 * 1024 + 3);
      const small = randomBytes(1000);
      const w1 = new MultipartWriter(s3, 's3://bucket/mw/real/big.bin', budget);
      const w2 = new MultipartWriter(s3, 's3://bucket/mw/real/small.bin', budget);
      const w3 = new MultipartWriter(s3, 's3://bucket/mw/real/empty.bin', budget);
      for (let i = 0; i < big.length; i += 300_000) {
        const w = w1.write(big.subarray(i, i + 300_000));
        if (w) await w;
      }
      await w2.write(small);
      await Promise.all([w1.close(), w2.close(), w3.close()]);
      const [[uploadId]] = [...proxy.created()];
      assertParts(uploadId as string, big.length, budget.partSize);
      assert.equal(proxy.created().size, 1, 'no multipart upload for the small and the empty object');
      assert.deepEqual(
        proxy.log
          .filter((e) => e.kind === 'put' && e.phase === 'end')
          .map((e) => [e.key, e.length, e.status]),
        [
          ['bucket/mw/real/small.bin', 1000, 200],
          ['bucket/mw/real/empty.bin', 0, 200],
        ],
      );
      assert.equal(sha(await getObject('s3://bucket/mw/real/big.bin')), sha(big));
      assert.equal(sha(await getObject('s3://bucket/mw/real/small.bin')), sha(small));
      assert.equal((await getObject('s3://bucket/mw/real/empty.bin')).length, 0);
    } finally {
      s3.destroy();
    }
  });
});

/** Batch input with varied line lengths, multi-byte UTF-8, some CRLF line ends and blank lines. */
function batchInput(lines: number, seed: number): Buffer {
  const rand = prng(seed);
  let s = '';
  for (let i = 0; i < lines; i++) {
    const pad = 'é€x'.repeat(Math.floor(rand() * 30));
    s += JSON.stringify({ userId: `u${i}-${Math.floor(rand() * 1e9)}-${pad}` });
    s += rand() < 0.05 ? '\r\n' : '\n';
    if (rand() < 0.01) s += '\n';
  }
  return Buffer.from(s);
}

async function s3Manifest(uri: string): Promise<Manifest> {
  return JSON.parse((await getObject(uri)).toString()) as Manifest;
}

const strip = (m: Manifest) =>
  m.shards.map((s) => ({ records: s.records, bytes: s.bytes, sha256: s.sha256 }));

describe('shard to S3 through the multipart writer', () => {
  for (const mode of ['size', 'hash'] as const) {
    test(`${mode} shards to S3 equal a local run's, byte for byte, in parts of one size`, async () => {
      proxy.reset();
      const input = fresh('in.jsonl');
      await writeFile(input, batchInput(20_000, mode === 'size' ? 1 : 2));
      const opts = mode === 'size' ? { maxBytes: 500_000 } : { shards: 6, maxBytes: 1_000_000 };
      const local = fresh('local');
      await shard({ recipe: 'user-personalization', input, out: local, ...opts });
      const lm = JSON.parse(await readFile(`${local}/manifest.json`, 'utf8')) as Manifest;
      const out = `s3://bucket/rt-${mode}/`;
      const s = await shard({
        recipe: 'user-personalization',
        input,
        out,
        ...opts,
        upload: { partSize: KIB64, inFlight: 2 },
      });
      const m = await s3Manifest(s.manifest);
      assert.ok(m.shards.length >= (mode === 'size' ? 3 : 6), `${m.shards.length} shards`);
      assert.deepEqual(strip(m), strip(lm));
      assert.equal(m.records, lm.records);
      assert.equal(m.bytes, lm.bytes);
      for (const x of m.shards) {
        const data = await getObject(x.uri);
        assert.equal(sha(data), x.sha256, x.uri);
      }
      assert.ok(proxy.maxOpen <= 2, `${proxy.maxOpen} part uploads open at once`);
      // Every shard went up in 64 KiB parts (the last one shorter).
      const created = proxy.created();
      assert.equal(created.size, m.shards.length);
      for (const [uploadId, key] of created) {
        const x = m.shards.find((y) => y.uri === `s3://${key}`);
        assert.ok(x, key);
        assertParts(uploadId, x.bytes, KIB64);
      }
    });
  }

  test('an empty hash shard leaves no object and is not listed (a job over it would fail)', async () => {
    proxy.reset();
    const input = fresh('one.jsonl');
    await writeFile(input, `${JSON.stringify({ userId: 'only' })}\n`);
    const s = await shard({ recipe: 'user-personalization', input, out: 's3://bucket/empty/', shards: 4 });
    const m = await s3Manifest(s.manifest);
    assert.deepEqual(
      m.shards.map((x) => x.records),
      [1],
    );
    const keys = await keysUnder('s3://bucket/empty/');
    assert.equal(keys.length, 2, keys.join(', '));
    for (const x of m.shards) {
      const data = await getObject(x.uri);
      assert.equal(data.length, x.bytes);
      assert.equal(sha(data), x.sha256);
    }
    assert.equal(proxy.created().size, 0, 'small shards are plain PutObjects');
  });

  for (const when of ['mid-way', 'at the last part'] as const) {
    test(`a part upload that fails ${when} aborts every open upload and leaves no object`, async () => {
      proxy.reset();
      const input = fresh('fail.jsonl');
      await writeFile(input, batchInput(20_000, 3));
      if (when === 'mid-way') proxy.cutFrom = 9;
      else {
        // The very last part request of the run, sent when the shards are closed.
        const local = fresh('local');
        await shard({ recipe: 'user-personalization', input, out: local, shards: 4 });
        const lm = JSON.parse(await readFile(`${local}/manifest.json`, 'utf8')) as Manifest;
        proxy.cutFrom = lm.shards.reduce((n, x) => n + Math.ceil(x.bytes / KIB64), 0);
      }
      const out = `s3://bucket/fail-${when === 'mid-way' ? 'mid' : 'last'}/`;
      const err = await shard({
        recipe: 'user-personalization',
        input,
        out,
        shards: 4,
        upload: { partSize: KIB64, inFlight: 2 },
      }).then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof PbError, String(err));
      assert.equal(err.code, 'PB_IO');
      assert.match(err.file ?? '', /^s3:\/\/bucket\/fail-\w+\/shard-0000\d\/input\.jsonl$/);
      assert.ok(err.cause, 'the SDK error is kept as the cause');
      // The cut part, and at most the one other part in flight, then the run stopped.
      const cuts = proxy.log.filter((e) => e.phase === 'cut').length;
      assert.ok(cuts >= 1 && cuts <= 2, `${cuts} cut`);
      const created = proxy.created();
      assert.ok(created.size >= (when === 'mid-way' ? 2 : 4), `${created.size} uploads were open`);
      for (const uploadId of created.keys()) {
        const events = proxy.log.filter((e) => e.uploadId === uploadId);
        const abortAt = proxy.log.findIndex(
          (e) => e.kind === 'abort' && e.phase === 'start' && e.uploadId === uploadId,
        );
        assert.ok(abortAt >= 0, `upload ${uploadId} aborted`);
        // No part of it was still on the wire when it was aborted.
        for (const e of events.filter((x) => x.kind === 'part' && x.phase !== 'start')) {
          assert.ok(proxy.log.indexOf(e) < abortAt, `part ${e.partNumber} ended before the abort`);
        }
      }
      assert.equal(proxy.log.filter((e) => e.kind === 'complete').length, 0);
      assert.equal(proxy.open, 0);
      assert.deepEqual(await keysUnder(out), []);
    });
  }
});
