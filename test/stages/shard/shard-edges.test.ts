import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, openSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { test } from 'node:test';
import { PbError } from '../../../src/errors.js';
import { OffThreadHasher } from '../../../src/io/hasher.js';
import { openLinesReusing } from '../../../src/io/input.js';
import { shard } from '../../../src/stages/shard/index.js';
import { useTmp } from '../../helpers.js';
import { CLI } from '../../paths.js';

// Edge cases found reviewing the shard speed work (reused read buffers,
// synchronous writes, the hasher thread).

const { fresh } = useTmp();

/**
 * Writes argv[2]'s bytes into the named pipe argv[3], read before the pipe
 * is opened so the first write follows the open at once, as a producer
 * already running does. Exit 3 when the reader went away (EPIPE).
 */
const PIPE_WRITER = `
const fs = require('node:fs');
const [src, fifo] = process.argv.slice(1);
const data = fs.readFileSync(src);
const fd = fs.openSync(fifo, 'w');
let at = 0;
try {
  while (at < data.length) at += fs.writeSync(fd, data, at);
} catch (err) {
  process.stderr.write(err.code + ' after ' + at + ' bytes');
  process.exit(3);
}
`;

test('a named pipe as input is opened once: its writer is never cut off and every byte arrives', {
  skip: process.platform === 'win32',
}, async () => {
  let text = '';
  for (let i = 0; text.length < 1_000_000; i++) text += `${JSON.stringify({ userId: `u${i}` })}\n`;
  const data = Buffer.from(text);
  const src = fresh('pipe-data.jsonl');
  await writeFile(src, data);
  // The loss depends on timing (the writer's first write between a close and
  // a second open of the pipe), so a few tries.
  for (let attempt = 0; attempt < 3; attempt++) {
    const fifo = fresh('pipe');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn(process.execPath, ['-e', PIPE_WRITER, src, fifo], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    writer.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = once(writer, 'exit') as Promise<[number | null, string | null]>;
    // A reader left waiting for a writer that is gone would wait forever: end it with one.
    let release: NodeJS.Timeout | undefined;
    void exited.then(() => {
      release = setTimeout(() => {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {}
      }, 1000);
    });
    const copies: Buffer[] = [];
    for await (const c of openLinesReusing(fifo, {}, 1e9, () => undefined)) copies.push(Buffer.from(c));
    const [code] = await exited;
    clearTimeout(release);
    const got = Buffer.concat(copies);
    assert.equal(code, 0, `attempt ${attempt}: the writer failed: ${stderr}`);
    assert.equal(got.length, data.length, `attempt ${attempt}: bytes read`);
    assert.ok(got.equals(data));
  }
});

/** The CLI in a child under a `ulimit` (-f 256: writes fail with EFBIG, as on a full disk; -n: few open files). */
function shardWithLimit(limit: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    'sh',
    ['-c', `ulimit ${limit} && exec "$0" "$@"`, process.execPath, ...CLI, 'shard', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stderr }));
}

test('a write that fails (file too large, as a full disk) is PB_IO naming the shard file; no temporary folder is left', {
  skip: process.platform === 'win32',
}, async () => {
  let text = '';
  for (let i = 0; text.length < 1_000_000; i++) text += `${JSON.stringify({ userId: `u${i}` })}\n`;
  const input = fresh('big.jsonl');
  await writeFile(input, text);
  for (const mode of [[], ['--shards', '2']]) {
    const out = fresh('full');
    const r = await shardWithLimit('-f 256', [
      '--recipe',
      'user-personalization',
      '--out',
      out,
      input,
      ...mode,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /shard-\d{5}\/input\.jsonl: cannot write: EFBIG/);
    // Named where it would have ended up, not in the temporary folder that is gone.
    assert.ok(r.stderr.includes(`${out}/shard-0000`), r.stderr);
    assert.doesNotMatch(r.stderr, /internal error/);
    const left = (await readdir(dirname(out))).filter((f) => f.includes(basename(out)));
    assert.deepEqual(left, [], 'no output and no temporary folder');
  }
});

test('the SHA-256 worker dying mid-run: shard rejects with a PbError, leaves nothing behind and does not hang', async () => {
  // The run's hasher, caught as shard() makes its first stream.
  let hasher: OffThreadHasher | undefined;
  const create = OffThreadHasher.prototype.create;
  OffThreadHasher.prototype.create = function (this: OffThreadHasher, o) {
    hasher = this;
    return create.call(this, o);
  };
  try {
    // 3.4 MB: past the hasher's 1 MiB kept on this thread, so its worker runs by the middle.
    const data = Buffer.from(
      Array.from({ length: 160_000 }, (_, i) => `${JSON.stringify({ userId: `u${i}` })}\n`).join(''),
    );
    for (const shards of [undefined, 3]) {
      const out = fresh('dead-hasher');
      let killed = false;
      async function* source(): AsyncGenerator<Buffer> {
        for (let at = 0; at < data.length; at += 64 * 1024) {
          if (at >= data.length / 2 && hasher?.worker && !killed) {
            killed = true;
            await hasher.worker.terminate();
          }
          yield data.subarray(at, at + 64 * 1024);
        }
      }
      const err = await shard({
        recipe: 'user-personalization',
        input: 'in.jsonl',
        source: source(),
        out,
        shards,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const left = (await readdir(dirname(out))).filter((f) => f.includes(basename(out)));
      assert.deepEqual(left, [], 'no output and no temporary folder');
      assert.ok(killed, 'the worker was running by the middle of the input');
      assert.ok(err instanceof PbError, `a PbError, got ${String(err)}`);
      assert.equal(err.code, 'PB_IO');
    }
  } finally {
    OffThreadHasher.prototype.create = create;
  }
});

test('more hash shards than open files allowed: PB_IO with the reason, nothing left; over 65535 is a usage error at once', {
  skip: process.platform === 'win32',
}, async () => {
  const input = fresh('few.jsonl');
  await writeFile(input, `${JSON.stringify({ userId: 'a' })}\n`);
  const out = fresh('many');
  const r = await shardWithLimit('-n 128', [
    '--recipe',
    'user-personalization',
    '--shards',
    '200',
    '--out',
    out,
    input,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /input\.jsonl: cannot create: too many open files \(.*ulimit -n/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.deepEqual(
    (await readdir(dirname(out))).filter((f) => f.includes(basename(out))),
    [],
    'no output and no temporary folder',
  );
  // HashCut's limit, checked before 65,536 files are opened.
  const err = await shard({ recipe: 'user-personalization', input, out, shards: 65536 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof PbError && err.code === 'PB_USAGE' && /1 to 65535/.test(err.message), String(err));
  assert.deepEqual(
    (await readdir(dirname(out))).filter((f) => f.includes(basename(out))),
    [],
  );
});

test('a shard with no record is never written or listed: empty input gives no shard, and hash mode drops empty buckets', async () => {
  // A job over an empty shard fails ("no input data"), and on AWS it can be neither cancelled nor deleted.
  const { readFile } = await import('node:fs/promises');
  for (const text of ['', '\n\n', '\r\n']) {
    const input = fresh('empty.jsonl');
    await writeFile(input, text);
    const out = fresh('empty-out');
    const s = await shard({ recipe: 'user-personalization', input, out });
    assert.equal(s.shards, 0, JSON.stringify(text));
    assert.equal(s.records, 0);
    assert.deepEqual(await readdir(out), ['manifest.json']);
    const m = JSON.parse(await readFile(s.manifest, 'utf8'));
    assert.deepEqual(m.shards, []);
    assert.equal(m.records, 0);
  }
  const { cli } = await import('../../helpers.js');
  const input0 = fresh('empty-cli.jsonl');
  await writeFile(input0, '');
  const r = await cli(['shard', '--recipe', 'user-personalization', input0, '-o', fresh('empty-cli-out')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: no records: no shard was written, and submit refuses this manifest/);
  // Three keys into eight hash buckets: at most three shards, each numbered by its bucket.
  const input = fresh('three.jsonl');
  await writeFile(input, ['a', 'b', 'c'].map((u) => `{"userId":"${u}"}\n`).join(''));
  const out = fresh('hash-out');
  const s = await shard({ recipe: 'user-personalization', input, out, shards: 8 });
  const m = JSON.parse(await readFile(s.manifest, 'utf8'));
  assert.ok(m.shards.length >= 1 && m.shards.length <= 3, JSON.stringify(m.shards));
  assert.equal(s.shards, m.shards.length);
  for (const sh of m.shards) assert.ok(sh.records > 0);
  assert.equal(
    m.shards.reduce((n: number, sh: { records: number }) => n + sh.records, 0),
    3,
  );
  const folders = (await readdir(out)).filter((f) => f.startsWith('shard-')).sort();
  assert.deepEqual(
    folders,
    m.shards.map((sh: { index: number }) => `shard-${String(sh.index).padStart(5, '0')}`),
  );
});
