/**
 * Spill partitions re-split under a small budget: every line comes back once,
 * and what a split leaves behind does not pile up (a 50-million-key collect
 * with a 16 MiB budget grew to 2 GB: each of 256 closed sub-sets kept 256
 * fresh 32 KiB buffers and its write streams).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  eachLine,
  eachPartition,
  joinSets,
  type PartitionSet,
  readPartition,
  SpillDir,
} from '../../src/io/spill.js';
import { makeTmp } from '../helpers.js';

let tmp: Awaited<ReturnType<typeof makeTmp>>;
before(async () => {
  tmp = await makeTmp();
});
after(async () => {
  await tmp.cleanup();
});

const bufsOf = (set: PartitionSet) => (set as unknown as { bufs: Buffer[] }).bufs;
const setsOf = (spill: SpillDir) => (spill as unknown as { sets: PartitionSet[] }).sets;

describe('spill re-splitting', () => {
  test('over-budget partitions split into a few pieces, every line back once, closed sets let go', async () => {
    const spill = new SpillDir(tmp.dir);
    try {
      const parts = await spill.partitions(0, 16);
      const n = 40_000;
      for (let i = 0; i < n; i++) {
        const w = parts.writeString(`user-${i}-é`, `{"n":${i}}`);
        if (w) await w;
      }
      await parts.close();
      assert.ok(
        bufsOf(parts).every((b) => b.length === 0),
        'a closed set holds no buffers',
      );
      // Each of the 16 partitions costs about 3x this budget.
      const budget = Math.ceil(Math.max(...parts.paths.map((_, i) => parts.cost(i))) / 3);
      const seen = new Map<string, string>();
      let maxFiles = 0;
      let maxSets = 0;
      for await (const [part] of eachPartition(spill, parts, budget)) {
        const dir = await readdir(tmp.dir);
        const folder = dir.find((f) => f.startsWith('personalize-batch-spill-')) as string;
        maxFiles = Math.max(maxFiles, (await readdir(`${tmp.dir}/${folder}`)).length);
        maxSets = Math.max(maxSets, setsOf(spill).length);
        for await (const seg of part) {
          eachLine(seg, (ks, ke, ps, pe) => {
            const key = seg.toString('utf8', ks, ke);
            assert.ok(!seen.has(key), `${key} came back twice`);
            seen.set(key, seg.toString('utf8', ps, pe));
          });
        }
      }
      assert.equal(seen.size, n);
      for (let i = 0; i < n; i += 997) assert.equal(seen.get(`user-${i}-é`), `{"n":${i}}`);
      // 16 - 1 parent files left plus about 6 pieces, not 256.
      assert.ok(maxFiles <= 16 + 16, `${maxFiles} partition files at once`);
      assert.ok(maxFiles > 16, 'the partitions were split');
      assert.ok(maxSets <= 2, `${maxSets} partition sets held at once`);
    } finally {
      await spill.dispose();
    }
    assert.deepEqual(
      (await readdir(tmp.dir)).filter((f) => f.startsWith('personalize-batch-spill')),
      [],
    );
  });

  test('two sets of one seed read as one (joinSets): each partition the first file then the second, split or not', async () => {
    for (const budget of [1e9, 2000]) {
      const spill = new SpillDir(tmp.dir);
      try {
        const a = await spill.partitions(0, 4);
        const b = await spill.partitions(0, 4);
        for (let i = 0; i < 3000; i++) {
          const w = (i % 3 === 0 ? b : a).writeString(`k${i % 1000}`, `${i}`);
          if (w) await w;
        }
        await a.close();
        await b.close();
        const set = joinSets([a, b], 0);
        const joined = { ...set, cost: (i: number) => 40 * (set.entries[i] as number) };
        // Per key: a's payloads in order, then b's (a split keeps each key's lines in order).
        const got = new Map<string, string[]>();
        let parts = 0;
        for await (const [part] of eachPartition(spill, joined, budget)) {
          parts++;
          for await (const seg of part)
            eachLine(seg, (ks, ke, ps, pe) => {
              const k = seg.toString('utf8', ks, ke);
              got.set(k, [...(got.get(k) ?? []), seg.toString('utf8', ps, pe)]);
            });
        }
        assert.ok(budget === 1e9 ? parts === 4 : parts > 8, `${parts} partitions read`);
        assert.equal(got.size, 1000);
        const mine = (i: number, first: boolean) =>
          [i, i + 1000, i + 2000].filter((n) => (n % 3 === 0) !== first);
        for (let i = 0; i < 1000; i += 37)
          assert.deepEqual(got.get(`k${i}`), [...mine(i, true), ...mine(i, false)].map(String), `k${i}`);
        const folder = (await readdir(tmp.dir)).find((f) =>
          f.startsWith('personalize-batch-spill-'),
        ) as string;
        assert.deepEqual(await readdir(`${tmp.dir}/${folder}`), [], "both sets' files removed as read");
      } finally {
        await spill.dispose();
      }
    }
  });

  test('a weigh function costs each line by its payload, and the splits keep it', async () => {
    const spill = new SpillDir(tmp.dir);
    try {
      // Lines whose payload starts with "h" are held (their length), the others stream through (0).
      const weigh = (p: Uint8Array, ps: number, pe: number) => (p[ps + 1] === 0x68 ? pe - ps : 0);
      const parts = await spill.partitions(0, 2, weigh);
      let held = 0;
      for (let i = 0; i < 2000; i++) {
        const payload = i % 2 ? `"h${'x'.repeat(i % 50)}"` : '"s"';
        if (i % 2) held += payload.length;
        const w = parts.writeString(`k${i}`, payload);
        if (w) await w;
      }
      assert.equal((parts.cost(0) as number) + (parts.cost(1) as number), held);
      await parts.close();
      // Cost by keys alone would be far under 4 KiB a partition; by the held payloads it is not.
      let yielded = 0;
      let lines = 0;
      for await (const [pieces, , stats] of eachPartition(spill, parts, 4096)) {
        yielded++;
        let weight = 0;
        for await (const seg of pieces)
          eachLine(seg, (_ks, _ke, ps, pe) => {
            lines++;
            weight += weigh(seg, ps, pe);
          });
        assert.ok(weight <= 4096 || stats.keys === 1, `a partition of ${weight} bytes`);
      }
      assert.equal(lines, 2000);
      assert.ok(yielded > 2, 'split by weight');
    } finally {
      await spill.dispose();
    }
  });
});

describe('a backed-up partition file', () => {
  test('many flushes before an await: one wait each, no listener warning, every line written', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const spill = new SpillDir(tmp.dir);
    try {
      const parts = await spill.partitions(0, 1);
      const line = Buffer.alloc(1000, 0x61);
      const waits = new Set<Promise<void>>();
      // 4 MB into one file without awaiting: the stream backs up after a few 32 KiB flushes.
      for (let i = 0; i < 4000; i++) {
        const w = parts.append(0, line, 0, line.length);
        if (w) waits.add(w);
      }
      assert.ok(waits.size >= 1 && waits.size < 4000 / 32, `${waits.size} distinct waits`);
      await Promise.all(waits);
      await parts.close();
      let lines = 0;
      for await (const seg of (await import('../../src/io/spill.js')).readPartition(parts.paths[0] as string))
        for (const b of seg) if (b === 10) lines++;
      assert.equal(lines, 4000);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      await spill.dispose();
    }
  });

  test('past maxInFlight bytes unwritten, write() waits though no file is backed up; read back into one scratch buffer', async () => {
    for (const cap of [Number.POSITIVE_INFINITY, 64 * 1024]) {
      const spill = new SpillDir(tmp.dir);
      try {
        // A queue of 1000 buffers a file: no file backs up, only the set's cap can ask to wait.
        const parts = await spill.partitions(0, 8, undefined, 1000, cap);
        const waits = new Set<Promise<void>>();
        for (let i = 0; i < 1500; i++) {
          const w = parts.writeString(`key-${i}`, 'x'.repeat(500 + (i % 7)));
          if (w) waits.add(w);
        }
        if (cap === Number.POSITIVE_INFINITY) assert.equal(waits.size, 0);
        else assert.ok(waits.size >= 1, 'the set asked to wait');
        await Promise.all(waits);
        await parts.close();
        const scratch = { buf: Buffer.alloc(0) };
        let lines = 0;
        for (const path of parts.paths) {
          const plain: Buffer[] = [];
          for await (const seg of readPartition(path)) plain.push(Buffer.from(seg));
          const got: Buffer[] = [];
          for await (const seg of readPartition(path, scratch)) {
            assert.equal(seg.buffer, scratch.buf.buffer, 'read into the scratch buffer');
            got.push(Buffer.from(seg));
          }
          assert.deepEqual(Buffer.concat(got), Buffer.concat(plain));
          for (const b of Buffer.concat(got)) if (b === 10) lines++;
        }
        assert.equal(lines, 1500);
      } finally {
        await spill.dispose();
      }
    }
  });

  test('destroyed while backed up: the waits settle, no unhandled error', async () => {
    const spill = new SpillDir(tmp.dir);
    try {
      const parts = await spill.partitions(0, 1);
      const line = Buffer.alloc(1000, 0x62);
      let wait: Promise<void> | undefined;
      for (let i = 0; i < 2000 && !wait; i++) wait = parts.append(0, line, 0, line.length);
      assert.ok(wait, 'the file backed up');
      await parts.destroy();
      await wait;
    } finally {
      await spill.dispose();
    }
  });
});
