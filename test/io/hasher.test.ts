/**
 * OffThreadHasher against node:crypto on the same bytes: empty and one-byte
 * streams, interleaved streams of random sizes (up to 3x the ring), buffers
 * the caller overwrites right after update(), rings small enough to wrap and
 * fill, a worker that fails or is killed, and a process that never closes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { PbError } from '../../src/errors.js';
import { type HashStream, OffThreadHasher } from '../../src/io/hasher.js';
import { makeTmp, prng } from '../helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function started(h: OffThreadHasher): Worker {
  assert.ok(h.worker, 'the worker has started');
  return h.worker;
}

/** Bytes that differ at every position and from seed to seed. */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

let tmp: Awaited<ReturnType<typeof makeTmp>>;
before(async () => {
  tmp = await makeTmp();
});
after(async () => {
  await tmp.cleanup();
});

describe('OffThreadHasher digests equal node:crypto', () => {
  test('an empty stream, one byte, and 100,000 lines of 30 bytes', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0 });
    try {
      const empty = hasher.create();
      const one = hasher.create().update(Uint8Array.of(0x61));
      const lines = hasher.create();
      const oracle = createHash('sha256');
      for (let i = 0; i < 100_000; i++) {
        const line = Buffer.from(`{"userId":"user-${String(i).padStart(8, '0')}"}\n`);
        lines.update(line);
        oracle.update(line);
      }
      assert.equal(await empty.digest(), sha(new Uint8Array(0)));
      assert.equal(await one.digest(), sha(Uint8Array.of(0x61)));
      assert.equal(await lines.digest(), oracle.digest('hex'));
    } finally {
      await hasher.close();
    }
  });

  test('9 streams interleaved, updates of 0 bytes to 3x the ring, in random order, split and wrapped', async () => {
    const ringBytes = 16 * 1024;
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes });
    try {
      const rnd = prng(7);
      const streams: HashStream[] = [];
      const oracles: Hash[] = [];
      for (let i = 0; i < 9; i++) {
        streams.push(hasher.create());
        oracles.push(createHash('sha256'));
      }
      let total = 0;
      for (let k = 0; k < 400; k++) {
        const i = Math.floor(rnd() * 9);
        // Mostly small, some past a quarter of the ring (split), some past the whole ring.
        const r = rnd();
        const n = r < 0.1 ? 0 : r < 0.7 ? Math.floor(rnd() * 300) : Math.floor(rnd() * 3 * ringBytes);
        const b = pattern(n, k + 1);
        (streams[i] as HashStream).update(b);
        (oracles[i] as Hash).update(b);
        total += n;
      }
      assert.ok(total > 50 * ringBytes, 'the ring wraps many times');
      const got = await Promise.all(streams.map((s) => s.digest()));
      assert.deepEqual(
        got,
        oracles.map((o) => o.digest('hex')),
      );
      // Nothing in between awaited: the worker could not keep a 16 KiB ring from filling.
      assert.ok(hasher.waits > 0, 'update() waited for room');
    } finally {
      await hasher.close();
    }
  });

  test('a 5 MiB update through a 1 KiB ring, and odd sizes around the record limits', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 1024 });
    try {
      const big = pattern(5 * 1024 * 1024, 3);
      const s = hasher.create().update(big);
      // A quarter of the ring is 256 bytes, 240 of them payload; 8-byte padding around it.
      const sizes = [1, 7, 8, 9, 239, 240, 241, 247, 248, 249, 255, 256, 257, 480, 481, 1023, 1024, 1025];
      const parts = sizes.map((n, i) => pattern(n, 100 + i));
      const t = hasher.create();
      for (const p of parts) t.update(p);
      assert.equal(await s.digest(), sha(big));
      assert.equal(await t.digest(), sha(Buffer.concat(parts)));
      assert.ok(hasher.waits > 0, 'update() waited for room');
    } finally {
      await hasher.close();
    }
  });

  test('the caller reuses and overwrites its buffer right after update(): the bytes were copied', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 64 * 1024 });
    try {
      const s = hasher.create();
      const oracle = createHash('sha256');
      const buf = Buffer.alloc(20_000);
      const rnd = prng(11);
      for (let k = 0; k < 300; k++) {
        const n = 1 + Math.floor(rnd() * buf.length);
        buf.fill(k & 255, 0, n);
        buf[n - 1] = 255 - (k & 255);
        const view = buf.subarray(0, n);
        s.update(view);
        oracle.update(view);
        buf.fill(0xee);
      }
      assert.equal(await s.digest(), oracle.digest('hex'));
    } finally {
      await hasher.close();
    }
  });

  test('`also`: every update to a file stream goes into the shard stream too', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 4096 });
    try {
      const shard = hasher.create();
      const files = [0, 1, 2].map(() => hasher.create({ also: shard }));
      const bodies = [pattern(10_000, 1), pattern(5, 2), pattern(3000, 3)];
      for (let i = 0; i < 3; i++) {
        const b = bodies[i] as Buffer;
        (files[i] as HashStream).update(b.subarray(0, 100)).update(b.subarray(100));
      }
      const fileHex = await Promise.all(files.map((f) => f.digest()));
      assert.deepEqual(fileHex, bodies.map(sha));
      assert.equal(await shard.digest(), sha(Buffer.concat(bodies)));
      const late = hasher.create({ also: shard });
      assert.throws(() => late.update(Uint8Array.of(1)), /also/);
    } finally {
      await hasher.close();
    }
  });
});

describe('OffThreadHasher life cycle', () => {
  test('close() lets pending digests resolve first; nothing is accepted after it', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 4096 });
    const data = pattern(100_000, 9);
    const s = hasher.create().update(data);
    const d = s.digest();
    const closed = hasher.close();
    assert.equal(hasher.close(), closed, 'close() twice is the same promise');
    assert.throws(
      () => hasher.create().update(Uint8Array.of(1)),
      /closed/,
      'refused before the worker is gone',
    );
    let order = '';
    await Promise.all([d.then(() => (order += 'digest ')), closed.then(() => (order += 'close'))]);
    assert.equal(order, 'digest close');
    assert.equal(await d, sha(data));
    assert.throws(() => hasher.create().update(Uint8Array.of(1)), /closed/);
    await assert.rejects(hasher.create().digest(), /closed/);
    assert.throws(() => s.update(Uint8Array.of(1)), /after digest/);
    await assert.rejects(s.digest(), /twice/);
  });

  test('under inlineBytes no thread starts: streams, `also` streams, digests in any order', async () => {
    const hasher = new OffThreadHasher();
    const shard = hasher.create();
    const a = hasher.create({ also: shard }).update(pattern(5000, 1));
    const b = hasher.create({ also: shard }).update(pattern(7000, 2));
    a.update(pattern(300, 3));
    // The shard first, then its files: each digest takes only its own bytes.
    assert.equal(
      await shard.digest(),
      sha(Buffer.concat([pattern(5000, 1), pattern(7000, 2), pattern(300, 3)])),
    );
    assert.equal(await b.digest(), sha(pattern(7000, 2)));
    assert.equal(await a.digest(), sha(Buffer.concat([pattern(5000, 1), pattern(300, 3)])));
    assert.equal(await hasher.create().digest(), sha(new Uint8Array(0)));
    assert.equal(hasher.worker, undefined);
    await hasher.close();
    assert.throws(() => hasher.create().update(Uint8Array.of(1)), /closed/);
  });

  test('crossing inlineBytes mid-stream: the kept bytes reach the worker first, in order', async () => {
    const rand = prng(17);
    for (const inlineBytes of [1, 999, 20_000]) {
      const hasher = new OffThreadHasher({ inlineBytes, ringBytes: 4096 });
      try {
        const shard = hasher.create();
        const streams = [0, 1, 2].map(() => ({ h: hasher.create({ also: shard }), parts: [] as Buffer[] }));
        const digests: Promise<void>[] = [];
        // A buffer reused for every update: what was kept must be a copy.
        const scratch = Buffer.alloc(3000);
        const all: Buffer[] = [];
        for (let i = 0; i < 40; i++) {
          const s = streams[i % 3] as (typeof streams)[number];
          const n = 1 + Math.floor(rand() * 2500);
          const bytes = pattern(n, i + 1);
          bytes.copy(scratch);
          s.h.update(scratch.subarray(0, n));
          scratch.fill(0);
          s.parts.push(bytes);
          all.push(bytes);
          if (i === 20) {
            // One stream digested early: before the switch when the threshold is high.
            const want = sha(Buffer.concat(s.parts));
            digests.push(s.h.digest().then((hex) => assert.equal(hex, want)));
            streams.splice(streams.indexOf(s), 1, { h: hasher.create({ also: shard }), parts: [] });
          }
        }
        for (const s of streams) {
          const want = sha(Buffer.concat(s.parts));
          digests.push(s.h.digest().then((hex) => assert.equal(hex, want)));
        }
        const whole = sha(Buffer.concat(all));
        digests.push(shard.digest().then((hex) => assert.equal(hex, whole)));
        await Promise.all(digests);
        assert.ok(hasher.worker, `inlineBytes ${inlineBytes}: past it the worker runs`);
      } finally {
        await hasher.close();
      }
    }
  });

  test('a ring size that is not a power of two is a usage error', () => {
    for (const ringBytes of [1000, 512, 3 * 1024 * 1024, 2 ** 31]) {
      assert.throws(
        () => new OffThreadHasher({ ringBytes }),
        (e: unknown) => e instanceof PbError && e.code === 'PB_USAGE' && /ringBytes/.test(e.message),
      );
    }
  });

  test('a worker that fails (a record it cannot read) fails the pending digest and a blocked update()', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 1024 });
    const s = hasher.create().update(pattern(1000, 1));
    const d = s.digest();
    hasher.injectFaultForTest();
    // The worker is dead after the bad record, so the 1 KiB ring fills and
    // update() must give up on the FAILED slot instead of sleeping forever.
    const t = hasher.create();
    assert.throws(() => {
      for (let i = 0; i < 100; i++) t.update(pattern(200, i));
    }, /SHA-256 worker failed: hash-worker: corrupt record at ring offset \d+: op 32767/);
    await assert.rejects(d, /SHA-256 worker failed/);
    await assert.rejects(hasher.close(), /SHA-256 worker/);
  });

  test('a worker terminated from outside while update() is blocked: update() throws after stallMs', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 1024, stallMs: 300 });
    const s = hasher.create();
    // Its rejection is handled from the start: it comes while update() still holds this thread.
    const d = assert.rejects(hasher.create().update(Uint8Array.of(1)).digest(), /SHA-256 worker/);
    // Not awaited: the thread is stopped natively, but its 'exit' event
    // cannot reach this thread while update() holds it, and a terminated
    // worker runs no more code to set FAILED: only the stall bound is left.
    const stopped = started(hasher).terminate();
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) s.update(pattern(200, i));
    }, /no progress in 300 ms/);
    await stopped;
    await d;
  });

  test('a worker terminated while this thread is idle: the next update() and digest() fail at once', async () => {
    const hasher = new OffThreadHasher({ inlineBytes: 0, ringBytes: 1024 });
    const s = hasher.create().update(pattern(10, 1));
    assert.equal(await hasher.create().update(Uint8Array.of(1)).digest(), sha(Uint8Array.of(1)));
    // An idle hasher's worker is unref'd: ref'd here so that the raw terminate() settles.
    started(hasher).ref();
    await started(hasher).terminate();
    assert.throws(() => s.update(Uint8Array.of(2)), /SHA-256 worker stopped/);
    await assert.rejects(s.digest(), /SHA-256 worker stopped/);
    await hasher.destroy();
  });

  test('a process that never calls close() exits, with its digests right', async () => {
    const script = join(tmp.dir, 'forgets-close.mts');
    const url = pathToFileURL(join(import.meta.dirname, '../..', 'src', 'io', 'hasher.ts')).href;
    await writeFile(
      script,
      [
        `import { OffThreadHasher } from ${JSON.stringify(url)};`,
        // One hasher digested, one with bytes still in the ring, one never used.
        'const h = new OffThreadHasher({ inlineBytes: 0, ringBytes: 4096 });',
        "console.log(await h.create().update(Buffer.from('hello')).digest());",
        "new OffThreadHasher({ inlineBytes: 0 }).create().update(Buffer.alloc(100_000, 'x'));",
        'new OffThreadHasher({ inlineBytes: 0 });',
        // destroy() on a busy worker, and the await settles: the process does not end under it.
        'const d = new OffThreadHasher({ inlineBytes: 0, ringBytes: 4096 });',
        "d.create().update(Buffer.alloc(100_000, 'y'));",
        'await d.destroy();',
        "console.log('destroyed');",
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (err += b));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) =>
      child.on('close', (c, s) => res([c, s])),
    );
    assert.equal(signal, null, `the child was killed after 20 s: it did not exit (${err})`);
    assert.equal(code, 0, err);
    assert.equal(out, `${sha(Buffer.from('hello'))}\ndestroyed\n`);
  });
});
