import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { loadSchema } from '../../../src/schemas.js';
import { prepare } from '../../../src/stages/prepare/index.js';
import type { ShardEvent } from '../../../src/stages/shard/index.js';
import { type Manifest, shard } from '../../../src/stages/shard/index.js';
import { cli, prng, rejectsWith, useTmp } from '../../helpers.js';

const { fresh } = useTmp();
const UP = 'user-personalization';
const ajv = new Ajv({ strict: true, strictRequired: false });
const validManifest = ajv.compile(loadSchema('manifest.schema.json'));

const lineOf = (id: string) => `${JSON.stringify({ userId: id })}\n`;

async function readManifest(dir: string): Promise<Manifest> {
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  assert.ok(validManifest(m), JSON.stringify(validManifest.errors));
  return m;
}

/** Every shard read back (all its files, in order): its lines, and the manifest's figures checked against them. */
async function shardLines(m: Manifest): Promise<string[][]> {
  const out: string[][] = [];
  for (const s of m.shards) {
    assert.equal(s.uri, s.files[0]?.uri, 'uri is the first file');
    assert.ok(s.files.length <= m.limits.maxFilesPerShard, `${s.folder} files within limits`);
    const all: Buffer[] = [];
    for (const f of s.files) {
      assert.equal(f.uri.startsWith(s.folder), true, `${f.uri} in ${s.folder}`);
      const data = await readFile(f.uri);
      assert.equal(data.length, f.bytes, `${f.uri} bytes`);
      assert.equal(createHash('sha256').update(data).digest('hex'), f.sha256, `${f.uri} sha256`);
      assert.equal(data.toString('utf8').split('\n').length - 1, f.records, `${f.uri} records`);
      assert.ok(f.records <= m.limits.maxRecordsPerFile, `${f.uri} within the per-file limit`);
      all.push(data);
    }
    const data = Buffer.concat(all);
    assert.equal(data.length, s.bytes, `${s.folder} bytes`);
    assert.equal(createHash('sha256').update(data).digest('hex'), s.sha256, `${s.folder} sha256`);
    const lines = data.toString('utf8').split('\n').slice(0, -1);
    assert.equal(lines.length, s.records, `${s.folder} records`);
    assert.ok(s.bytes <= m.limits.maxBytes && s.records <= m.limits.maxRecords, `${s.folder} within limits`);
    out.push(lines);
  }
  return out;
}

/** The file names in each shard folder, as written. */
async function layout(m: Manifest): Promise<string[][]> {
  return Promise.all(m.shards.map(async (s) => (await readdir(s.folder)).sort()));
}

describe('shard by size', () => {
  test('every line lands in exactly one shard, in order, within the limits', async () => {
    const rand = prng(3);
    const ids = Array.from({ length: 1000 }, (_, i) => `u${i}-${'x'.repeat(Math.floor(rand() * 30))}`);
    const input = await writeFileAt(fresh('in.jsonl'), ids.map(lineOf).join(''));
    const out = fresh('shards');
    const s = await shard({ recipe: UP, input, out, maxBytes: 4000, maxRecords: 150 });
    const m = await readManifest(out);
    const lines = await shardLines(m);
    assert.deepEqual(
      lines.flat(),
      ids.map((id) => lineOf(id).trimEnd()),
    );
    assert.equal(m.records, 1000);
    assert.equal(s.shards, m.shards.length);
    assert.ok(m.shards.length >= 7, `${m.shards.length} shards`);
    assert.deepEqual(
      await readdir(out),
      [...m.shards.map((x) => `shard-${String(x.index).padStart(5, '0')}`), 'manifest.json'].sort(),
    );
  });

  test('many chunks: whole chunks are written as they are, and cuts still fall exactly at the limits', async () => {
    const rand = prng(21);
    const parts: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const id = `u${i}-${'y'.repeat(Math.floor(rand() * 20))}`;
      expected.push(lineOf(id).trimEnd());
      const r = rand();
      // Mostly regular lines; now and then CRLF or a blank line in a chunk.
      parts.push(
        r < 0.001 ? `${JSON.stringify({ userId: id })}\r\n` : r < 0.002 ? `\n${lineOf(id)}` : lineOf(id),
      );
    }
    const data = Buffer.from(parts.join(''));
    async function* chunks() {
      let i = 0;
      while (i < data.length) {
        const n = 1 + Math.floor(rand() * 40000);
        yield data.subarray(i, i + n);
        i += n;
      }
    }
    const out = fresh('chunks');
    const sum = await shard({
      recipe: UP,
      input: 'gen',
      source: chunks(),
      out,
      maxBytes: 97_000,
      maxRecords: 3000,
    });
    const m = await readManifest(out);
    const lines = await shardLines(m);
    assert.deepEqual(lines.flat(), expected);
    // Greedy fill: every shard but the last is full, so the next line would not have fit.
    for (let i = 0; i + 1 < m.shards.length; i++) {
      const sh = m.shards[i];
      const next = (lines[i + 1] as string[])[0] as string;
      assert.ok(
        sh && (sh.records === 3000 || sh.bytes + Buffer.byteLength(next) + 1 > 97_000),
        `shard ${i} is full`,
      );
    }
    assert.equal(sum.records, 20000);
  });

  test('a local file read in reused buffers: lines across reads, blank stretches longer than two reads, CRLF', async () => {
    // The reader hands out two 128 KiB buffers in turn; a run of lines the
    // cutter keeps as a slice of a chunk must be written before the buffer
    // is read into again, even when the chunks after it hold no line at all.
    const rand = prng(33);
    const parts: string[] = [];
    const expected: string[] = [];
    for (let block = 0; block < 6; block++) {
      for (let i = 0; i < 4000; i++) {
        const id = `b${block}-${i}-${'é'.repeat(Math.floor(rand() * 9))}`;
        expected.push(lineOf(id).trimEnd());
        parts.push(rand() < 0.002 ? `${JSON.stringify({ userId: id })}\r\n` : lineOf(id));
      }
      if (block % 2 === 0) parts.push(' \n'.repeat(150_000));
    }
    const input = await writeFileAt(fresh('reuse.jsonl'), Buffer.from(parts.join('')));
    const out = fresh('reuse');
    const sum = await shard({ recipe: UP, input, out, maxBytes: 300_000 });
    assert.equal(sum.records, expected.length);
    assert.equal(sum.blankLines, 3 * 150_000);
    assert.deepEqual((await shardLines(await readManifest(out))).flat(), expected);
    const hashed = fresh('reuse-hash');
    await shard({ recipe: UP, input, out: hashed, shards: 3 });
    assert.deepEqual((await shardLines(await readManifest(hashed))).flat().sort(), [...expected].sort());
  });

  test('limits at their exact edges: a shard of exactly max bytes, then the next line opens a new one', async () => {
    const l = lineOf('abcd'); // 18 bytes with its newline
    assert.equal(l.length, 18);
    const input = await writeFileAt(fresh('edge.jsonl'), l.repeat(5));
    const out = fresh('edge');
    await shard({ recipe: UP, input, out, maxBytes: 36 });
    const m = await readManifest(out);
    assert.deepEqual(
      m.shards.map((x) => [x.records, x.bytes]),
      [
        [2, 36],
        [2, 36],
        [1, 18],
      ],
    );
    const out2 = fresh('edge-records');
    await shard({ recipe: UP, input, out: out2, maxRecords: 5 });
    assert.deepEqual(
      (await readManifest(out2)).shards.map((x) => x.records),
      [5],
    );
  });

  test('a single line larger than max bytes is a clear error and leaves nothing behind', async () => {
    const input = await writeFileAt(fresh('big.jsonl'), `${lineOf('a')}${lineOf('x'.repeat(100))}`);
    const out = fresh('big');
    const err = await rejectsWith(shard({ recipe: UP, input, out, maxBytes: 50 }), 'PB_LIMIT');
    assert.match(err.message, /big\.jsonl:2: a line of 114 bytes is larger than --max-bytes 50/);
    const parent = join(out, '..');
    assert.deepEqual(
      (await readdir(parent)).filter((f) => f.includes('big') && !f.endsWith('.jsonl')),
      [],
    );
  });

  test('gzip input, CRLF, BOM and blank lines: lines are normalised to LF, blanks dropped', async () => {
    const text = `\uFEFF${lineOf('a').trimEnd()}\r\n\r\n${lineOf('b').trimEnd()}\r\n`;
    const input = await writeFileAt(fresh('in.jsonl.gz'), gzipSync(Buffer.from(text)));
    const out = fresh('gz');
    const s = await shard({ recipe: UP, input, out });
    assert.equal(s.blankLines, 1);
    const lines = await shardLines(await readManifest(out));
    assert.deepEqual(lines, [['{"userId":"a"}', '{"userId":"b"}']]);
  });

  test('segment families: one shard of several files, each within the per-file query quota', async () => {
    const input = await writeFileAt(
      fresh('attrs.jsonl'),
      Array.from({ length: 25 }, (_, i) => `{"itemAttributes":"ITEMS.g = \\"${i}\\""}\n`).join(''),
    );
    const out = fresh('attrs');
    await shard({ recipe: 'item-attribute-affinity', input, out });
    const m = await readManifest(out);
    assert.deepEqual(
      m.shards.map((x) => x.files.map((f) => f.records)),
      [[10, 10, 5]],
    );
    assert.equal(m.family, 'item-attribute-affinity');
    assert.deepEqual(m.limits, {
      maxBytes: 1e9,
      maxRecords: 50_000_000,
      maxRecordsPerFile: 10,
      maxFilesPerShard: 1000,
    });
    assert.deepEqual(await layout(m), [['input-00000.jsonl', 'input-00001.jsonl', 'input-00002.jsonl']]);
    assert.equal((await shardLines(m)).flat().length, 25);
  });

  const items = (n: number) => Array.from({ length: n }, (_, i) => `{"itemId":"i${i}"}\n`).join('');

  test('item-affinity: 1,234 items are one shard of 500 + 500 + 234, every line once and in order', async () => {
    const text = items(1234);
    const input = await writeFileAt(fresh('items.jsonl'), text);
    const out = fresh('ia');
    const s = await shard({ recipe: 'item-affinity', input, out });
    const m = await readManifest(out);
    assert.equal(s.shards, 1);
    assert.deepEqual(
      m.shards[0]?.files.map((f) => f.records),
      [500, 500, 234],
    );
    assert.deepEqual(await layout(m), [['input-00000.jsonl', 'input-00001.jsonl', 'input-00002.jsonl']]);
    assert.deepEqual((await shardLines(m)).flat(), text.split('\n').slice(0, -1));
    // The shard's hash is that of its files' bytes in order: here the whole input.
    assert.equal(m.shards[0]?.sha256, createHash('sha256').update(text).digest('hex'));
  });

  test('item-affinity at the per-file edge: exactly 500 is one file, 501 is two', async () => {
    for (const [n, want] of [
      [500, [500]],
      [501, [500, 1]],
      [1000, [500, 500]],
    ] as const) {
      const input = await writeFileAt(fresh(`e${n}.jsonl`), items(n));
      const out = fresh(`e${n}`);
      await shard({ recipe: 'item-affinity', input, out });
      const m = await readManifest(out);
      assert.deepEqual(
        m.shards.map((x) => x.files.map((f) => f.records)),
        [want],
        `${n} items`,
      );
      assert.equal((await shardLines(m)).flat().length, n);
    }
  });

  test('the file-count, record and byte limits of a shard open the next shard', async () => {
    const text = items(23);
    const input = await writeFileAt(fresh('few.jsonl'), text);
    const all = text.split('\n').slice(0, -1);
    const check = async (opts: Record<string, number>, want: number[][]) => {
      const out = fresh('lim');
      await shard({ recipe: 'item-affinity', input, out, ...opts });
      const m = await readManifest(out);
      assert.deepEqual(
        m.shards.map((x) => x.files.map((f) => f.records)),
        want,
        JSON.stringify(opts),
      );
      assert.deepEqual((await shardLines(m)).flat(), all);
    };
    // 2 files per shard of at most 5 records each.
    await check({ maxRecordsPerFile: 5, maxFilesPerShard: 2 }, [[5, 5], [5, 5], [3]]);
    // 7 records per shard: the file quota is still 5.
    await check({ maxRecordsPerFile: 5, maxRecords: 7 }, [[5, 2], [5, 2], [5, 2], [2]]);
    // Bytes: each line is 16 or 17 bytes ({"itemId":"iN"} + LF), 70 bytes per shard: 4 lines.
    await check({ maxRecordsPerFile: 2, maxBytes: 70 }, [
      [2, 2],
      [2, 2],
      [2, 2],
      [2, 2],
      [2, 2],
      [2, 1],
    ]);
    // A per-file limit at or above the per-job one: one input.jsonl per shard, as for 50M families.
    const out = fresh('single');
    await shard({ recipe: 'item-affinity', input, out, maxRecords: 10 });
    const m = await readManifest(out);
    assert.deepEqual(
      m.shards.map((x) => x.records),
      [10, 10, 3],
    );
    assert.deepEqual(await layout(m), [['input.jsonl'], ['input.jsonl'], ['input.jsonl']]);
    await rejectsWith(
      shard({ recipe: 'item-affinity', input, out: fresh('bad'), maxFilesPerShard: 1001 }),
      'PB_USAGE',
      /max-files-per-shard/,
    );
  });

  test('families with a 50M per-file quota keep one input.jsonl per shard', async () => {
    const input = await writeFileAt(fresh('up.jsonl'), ['a', 'b', 'c'].map(lineOf).join(''));
    const out = fresh('up');
    await shard({ recipe: UP, input, out, maxRecords: 2 });
    const m = await readManifest(out);
    assert.deepEqual(await layout(m), [['input.jsonl'], ['input.jsonl']]);
    assert.equal(m.limits.maxFilesPerShard, 1);
    assert.deepEqual(
      m.shards.map((x) => x.files.length),
      [1, 1],
    );
  });

  test('an output folder that is not empty needs --force', async () => {
    const input = await writeFileAt(fresh('in.jsonl'), lineOf('a'));
    const out = fresh('again');
    await shard({ recipe: UP, input, out });
    await rejectsWith(shard({ recipe: UP, input, out }), 'PB_USAGE', /not empty/);
    await shard({ recipe: UP, input, out, force: true });
    assert.equal((await readManifest(out)).records, 1);
  });
});

describe('shard from -', () => {
  test('a library call reading - without the stdin option: PB_USAGE naming the option, nothing written', async () => {
    const out = fresh('from-stdin');
    await rejectsWith(
      shard({ recipe: UP, input: '-', out }),
      'PB_USAGE',
      /reading - \(stdin\) needs shard's `stdin` option \(a Readable\): none was given/,
    );
    await assert.rejects(readdir(out), { code: 'ENOENT' });
  });
});

describe('shard by hash', () => {
  test('the same key lands in the same shard on every run, whatever the order', async () => {
    const rand = prng(11);
    const ids = Array.from({ length: 2000 }, (_, i) => `user-${i}-${Math.floor(rand() * 1e6)}`);
    const shuffled = [...ids].sort(() => rand() - 0.5);
    const a = fresh('a');
    const b = fresh('b');
    await shard({
      recipe: UP,
      input: await writeFileAt(fresh('a.jsonl'), ids.map(lineOf).join('')),
      out: a,
      shards: 8,
    });
    await shard({
      recipe: UP,
      input: await writeFileAt(fresh('b.jsonl'), shuffled.map(lineOf).join('')),
      out: b,
      shards: 8,
    });
    const ma = await shardLines(await readManifest(a));
    const mb = await shardLines(await readManifest(b));
    assert.equal(ma.length, 8);
    for (let i = 0; i < 8; i++) {
      assert.deepEqual([...(ma[i] as string[])].sort(), [...(mb[i] as string[])].sort(), `shard ${i}`);
      assert.ok((ma[i] as string[]).length > 150, `shard ${i} has ${(ma[i] as string[]).length} records`);
    }
    assert.deepEqual(ma.flat().sort(), ids.map((id) => lineOf(id).trimEnd()).sort());
  });

  test('keys needing escapes, and lines not written by prepare, shard by the parsed key', async () => {
    const lines = [
      '{"userId":"a\\"b"}',
      '{ "userId": "a\\"b" }',
      '{"filterValues":{"G":"\\"x\\""},"userId":"a\\"b"}',
    ];
    const out = fresh('esc');
    await shard({
      recipe: UP,
      input: await writeFileAt(fresh('esc.jsonl'), `${lines.join('\n')}\n`),
      out,
      shards: 4,
    });
    const shards = await shardLines(await readManifest(out));
    assert.equal(shards.filter((s) => s.length > 0).length, 1, 'all three share a key, so one shard');
  });

  test('a key hashed in place and the same key parsed from another layout land in the same shard', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `k${i}-\u00e9\u{1F600}`);
    const plain = ids.map((id) => JSON.stringify({ userId: id }));
    const other = ids.map((id) => JSON.stringify({ filterValues: { G: '"x"' }, userId: id }));
    const out = fresh('layouts');
    await shard({
      recipe: UP,
      input: await writeFileAt(fresh('layouts.jsonl'), `${[...plain, ...other].join('\n')}\n`),
      out,
      shards: 5,
    });
    const shards = await shardLines(await readManifest(out));
    for (const lines of shards) {
      const keys = lines.map((l) => (JSON.parse(l) as { userId: string }).userId);
      assert.equal(keys.length % 2, 0);
      assert.deepEqual(new Set(keys).size * 2, keys.length, 'both layouts of a key in the same shard');
    }
    assert.equal(shards.flat().length, 600);
  });

  test('a shard over the limits says which --shards would fit', async () => {
    const input = await writeFileAt(
      fresh('many.jsonl'),
      Array.from({ length: 100 }, (_, i) => lineOf(`u${i}`)).join(''),
    );
    const err = await rejectsWith(
      shard({ recipe: UP, input, out: fresh('many'), shards: 2, maxRecords: 20 }),
      'PB_LIMIT',
    );
    const m = /use --shards (\d+) or more/.exec(err.message);
    assert.ok(m, err.message);
    const suggested = Number(m[1]);
    assert.ok(suggested >= 5, `suggested ${suggested}`);
    await shard({ recipe: UP, input, out: fresh('many-ok'), shards: suggested, maxRecords: 20 });
  });

  test('hash shards stay one file, so the per-file quota is their limit (item-affinity: 500)', async () => {
    const input = await writeFileAt(
      fresh('ia-hash.jsonl'),
      Array.from({ length: 1234 }, (_, i) => `{"itemId":"i${i}"}\n`).join(''),
    );
    const err = await rejectsWith(
      shard({ recipe: 'item-affinity', input, out: fresh('ia-hash'), shards: 2 }),
      'PB_LIMIT',
      /over the limits \(500 records/,
    );
    const suggested = Number(/use --shards (\d+) or more/.exec(err.message)?.[1]);
    assert.ok(suggested >= 3, err.message);
    const out = fresh('ia-hash-ok');
    await shard({ recipe: 'item-affinity', input, out, shards: suggested });
    const m = await readManifest(out);
    assert.equal(m.mode, 'hash');
    assert.ok(
      m.shards.every((x) => x.files.length === 1 && x.uri.endsWith('/input.jsonl') && x.records <= 500),
    );
    assert.equal((await shardLines(m)).flat().length, 1234);
  });

  test('a line with no key is an error naming file and line', async () => {
    const input = await writeFileAt(fresh('nokey.jsonl'), `${lineOf('a')}{"x":1}\n`);
    const err = await rejectsWith(
      shard({ recipe: UP, input, out: fresh('nokey'), shards: 2 }),
      'PB_INVALID_RECORD',
    );
    assert.match(err.message, /nokey\.jsonl:2: \(record\): no userId, itemId or itemAttributes/);
  });
});

describe('shard CLI', () => {
  test('stdin, --json summary, exit codes and help', async () => {
    const out = fresh('cli');
    const r = await cli(
      ['shard', '--recipe', UP, '-', '--out', out, '--max-records', '2', '--json'],
      '{"userId":"1"}\n{"userId":"2"}\n{"userId":"3"}\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { shards: number; records: number };
    assert.deepEqual([summary.shards, summary.records], [2, 3]);
    assert.equal((await cli(['shard', '--recipe', UP, '-'])).code, 2);
    const help = await cli(['shard', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
  });
});

async function writeFileAt(path: string, data: string | Buffer): Promise<string> {
  await writeFile(path, data);
  return path;
}

describe('prepare --shard-out', () => {
  test('prepare straight into shards: the same records as one output, split within the limits', async () => {
    const rand = prng(21);
    const rows = Array.from({ length: 3000 }, () => `x@y,u${Math.floor(rand() * 2500)},N`);
    const csv = `email,user_id,name\n${rows.join('\n')}\n`;
    const input = await writeFileAt(fresh('emails.csv'), csv);
    const whole = fresh('whole.jsonl');
    await prepare({ recipe: UP, sources: [input], output: whole });
    const out = fresh('prep-shards');
    const s = await prepare({ recipe: UP, sources: [input], shardOut: out, shardMaxRecords: 400 });
    const m = await readManifest(out);
    const lines = await shardLines(m);
    const expected = (await readFile(whole, 'utf8')).trimEnd().split('\n');
    assert.deepEqual(lines.flat(), expected);
    assert.equal(s.shard?.shards, m.shards.length);
    assert.equal(m.records, s.written);
    assert.ok(m.shards.length >= Math.ceil(s.written / 400));
    const hashed = fresh('prep-hash');
    await prepare({ recipe: UP, sources: [input], shardOut: hashed, shards: 3 });
    assert.deepEqual((await shardLines(await readManifest(hashed))).flat().sort(), [...expected].sort());
  });

  test('the CLI takes --shard-out with the shard options, and refuses it together with -o', async () => {
    const out = fresh('cli-prep');
    const r = await cli(
      ['prepare', '--recipe', UP, '-', '--shard-out', out, '--max-records', '2', '--json'],
      'u1\nu2\nu3\nu1\n',
    );
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { written: number; shard: { shards: number } };
    assert.deepEqual([s.written, s.shard.shards], [3, 2]);
    const both = await cli(
      ['prepare', '--recipe', UP, '-', '--shard-out', fresh('x'), '-o', fresh('y.jsonl')],
      'u1\n',
    );
    assert.equal(both.code, 2);
  });
});

describe('shard: onEvent', () => {
  /** Chunks of lines with a pause before each: a source slow enough for several progress ticks. */
  async function* slowLines(chunks: number, perChunk: number, pauseMs: number): AsyncGenerator<Buffer> {
    for (let c = 0; c < chunks; c++) {
      await new Promise((r) => setTimeout(r, pauseMs));
      let text = '';
      for (let i = 0; i < perChunk; i++) text += lineOf(`u${c}-${i}`);
      yield Buffer.from(text);
    }
  }

  for (const mode of ['size', 'hash'] as const) {
    test(`${mode} mode: progress about every 250 ms with growing counts, ending at the summary's; each shard once`, async () => {
      const events: (ShardEvent & { at: number })[] = [];
      const out = fresh(`events-${mode}`);
      const summary = await shard({
        recipe: UP,
        input: 'slow',
        source: slowLines(12, 500, 100),
        out,
        ...(mode === 'size' ? { maxRecords: 1_000 } : { shards: 3 }),
        onEvent: (e) => events.push({ ...e, at: Date.now() }),
      });
      assert.equal(summary.records, 6_000);
      const progress = events.filter((e) => e.type === 'progress');
      // 1.2 s of input: four or so ticks, and the last counts once the input is read.
      assert.ok(progress.length >= 3, JSON.stringify(progress));
      for (let i = 1; i < progress.length; i++) {
        const [a, b] = [progress[i - 1], progress[i]] as [(typeof progress)[0], (typeof progress)[0]];
        assert.ok(b.records >= a.records && b.bytes >= a.bytes, 'counts only grow');
        if (i < progress.length - 1) assert.ok(b.at - a.at >= 240, `ticks ${b.at - a.at} ms apart`);
      }
      const last = progress.at(-1) as (typeof progress)[0];
      assert.deepEqual([last.records, last.bytes], [summary.records, summary.bytes]);
      assert.ok((progress[0] as (typeof progress)[0]).records < summary.records, 'a tick before the end');
      const told = events.filter((e) => e.type === 'shard');
      const m = await readManifest(out);
      assert.deepEqual(
        told.map(({ index, folder, records, bytes, files }) => ({ index, folder, records, bytes, files })),
        m.shards.map((s) => ({
          index: s.index,
          folder: s.folder,
          records: s.records,
          bytes: s.bytes,
          files: s.files.length,
        })),
      );
      assert.equal(told.length, mode === 'size' ? 6 : 3);
      if (mode === 'size') {
        // Each shard is told as the next one starts, while the input is still being read.
        assert.ok((told[0] as { at: number }).at < last.at - 500, 'the first shard told early');
      }
    });
  }

  test('an empty shard in hash mode is not told', async () => {
    const events: ShardEvent[] = [];
    const summary = await shard({
      recipe: UP,
      input: 'one',
      source: slowLines(1, 1, 0),
      out: fresh('events-empty'),
      shards: 4,
      onEvent: (e) => events.push(e),
    });
    assert.equal(summary.shards, 1);
    assert.equal(events.filter((e) => e.type === 'shard').length, 1);
  });
});
