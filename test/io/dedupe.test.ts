/**
 * Exact dedupe (first occurrence kept) and ranking groups, in memory and
 * spilled to disk under a small memory budget: both must equal an in-test
 * oracle, with exact duplicate counts.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ByteSet, hashBytes } from '../../src/core/byteset.js';
import { DrainTable } from '../../src/core/drain.js';
import { drainPiece } from '../../src/io/dedupe.js';
import { partitionOf } from '../../src/io/spill.js';
import { keys, makeTmp, prepareStdin, prng } from '../helpers.js';

const UP = { recipe: 'user-personalization' } as const;
const SUFFIX = ['é', '日本', '😀'];
let tmp: Awaited<ReturnType<typeof makeTmp>>;
before(async () => {
  tmp = await makeTmp();
});
after(async () => {
  await tmp.cleanup();
});

/**
 * `rows` rows of user_id,tag where about `dupRate` of the rows repeat an
 * earlier user with a different tag, so the kept line shows which occurrence won.
 */
function usersWithDuplicates(rows: number, dupRate: number, seed: number) {
  const rand = prng(seed);
  const seen: string[] = [];
  const firstTag = new Map<string, string>();
  let csv = 'user_id,tag\n';
  for (let i = 0; i < rows; i++) {
    const dup = seen.length > 0 && rand() < dupRate;
    const id = dup ? (seen[Math.floor(rand() * seen.length)] as string) : `user-${i}-${SUFFIX[i % 3]}`;
    if (!dup) seen.push(id);
    const tag = `t${i}`;
    if (!firstTag.has(id)) firstTag.set(id, tag);
    csv += `${id},${tag}\n`;
  }
  const expected = [...firstTag].map(([userId, tag]) =>
    JSON.stringify({ userId, filterValues: { TAG: `"${tag}"` } }),
  );
  return { csv, expected, duplicates: rows - firstTag.size };
}

/** (user, item) rows in random order with repeats, and the expected groups. */
function pairs(rows: number, users: number, items: number, seed: number) {
  const rand = prng(seed);
  let csv = 'USER_ID,ITEM_ID\n';
  const groups = new Map<string, string[]>();
  let duplicates = 0;
  for (let i = 0; i < rows; i++) {
    const u = `u${Math.floor(rand() * users)}`;
    const it = `i${Math.floor(rand() * items)}`;
    csv += `${u},${it}\n`;
    const g = groups.get(u) ?? [];
    if (g.includes(it)) duplicates++;
    else g.push(it);
    groups.set(u, g);
  }
  return { csv, groups, duplicates };
}

function byUser(records: Record<string, unknown>[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of records) {
    assert.ok(!m.has(r.userId as string), `one record per user: ${String(r.userId)}`);
    m.set(r.userId as string, r.itemList as string[]);
  }
  return m;
}

async function spillLeftovers(): Promise<string[]> {
  return (await readdir(tmp.dir)).filter((f) => f.startsWith('personalize-batch-spill'));
}

describe('dedupe in memory', () => {
  test('duplicates are removed and counted; the first occurrence is kept', async () => {
    const r = await prepareStdin(
      { ...UP, filters: ['TAG=tag'] },
      'user_id,tag\nu1,first\nu2,x\nu1,second\nu1,third\nu3,y\nu2,z\n',
    );
    assert.deepEqual(r.records, [
      { userId: 'u1', filterValues: { TAG: '"first"' } },
      { userId: 'u2', filterValues: { TAG: '"x"' } },
      { userId: 'u3', filterValues: { TAG: '"y"' } },
    ]);
    assert.equal(r.summary.duplicates, 3);
    assert.equal(r.summary.written, 3);
    assert.equal(r.summary.recordsRead, 6);
    assert.equal(r.summary.spilled, false);
  });

  test('ids are compared after trimming; case and Unicode form matter', async () => {
    const r = await prepareStdin(UP, 'user_id\n u1 \nu1\nU1\né\ne\u0301\n');
    assert.deepEqual(keys(r.records), ['u1', 'U1', 'é', 'e\u0301']);
    assert.equal(r.summary.duplicates, 1);
  });

  test('dedupe:false keeps every line', async () => {
    const r = await prepareStdin({ ...UP, dedupe: false }, 'u1\nu2\nu1\nu1\n');
    assert.deepEqual(keys(r.records), ['u1', 'u2', 'u1', 'u1']);
    assert.equal(r.summary.duplicates, 0);
    assert.equal(r.summary.written, 4);
  });

  test('a ranking list column is deduplicated by user (first list kept)', async () => {
    const r = await prepareStdin({ recipe: 'personalized-ranking' }, 'user_id,items\nu1,a|b\nu2,c\nu1,d\n');
    assert.deepEqual(r.records, [
      { userId: 'u1', itemList: ['a', 'b'] },
      { userId: 'u2', itemList: ['c'] },
    ]);
    assert.equal(r.summary.duplicates, 1);
  });
});

describe('dedupe spilled to disk', () => {
  test('20k rows, 30% duplicates, small budget: output set equals the oracle (first occurrence kept)', async () => {
    const { csv, expected, duplicates } = usersWithDuplicates(20_000, 0.3, 42);
    // ~14k distinct keys cost ~1.5 MB by the deduper's estimate: 100 kB forces a spill.
    const r = await prepareStdin(
      { ...UP, filters: ['TAG=tag'], memoryBudget: 100_000, tmpDir: tmp.dir },
      csv,
    );
    assert.equal(r.summary.spilled, true);
    assert.equal(r.summary.duplicates, duplicates);
    assert.equal(r.summary.written, expected.length);
    assert.equal(r.lines.length, expected.length, 'no line lost or repeated');
    assert.deepEqual([...r.lines].sort(), [...expected].sort());
    assert.deepEqual(await spillLeftovers(), [], 'spill folder removed');
  });

  test('a 2000-byte budget (partitions split again) still gives the exact oracle set', async () => {
    const { csv, expected, duplicates } = usersWithDuplicates(1_200, 0.3, 7);
    const r = await prepareStdin({ ...UP, filters: ['TAG=tag'], memoryBudget: 2000, tmpDir: tmp.dir }, csv);
    assert.equal(r.summary.spilled, true);
    assert.equal(r.summary.duplicates, duplicates);
    assert.deepEqual([...r.lines].sort(), [...expected].sort());
    assert.deepEqual(await spillLeftovers(), []);
  });

  test('spilled and in-memory runs give the same set of lines', async () => {
    const { csv } = usersWithDuplicates(5_000, 0.3, 3);
    const mem = await prepareStdin({ ...UP, filters: ['TAG=tag'] }, csv);
    const disk = await prepareStdin(
      { ...UP, filters: ['TAG=tag'], memoryBudget: 30_000, tmpDir: tmp.dir },
      csv,
    );
    assert.equal(mem.summary.spilled, false);
    assert.equal(disk.summary.spilled, true);
    assert.deepEqual([...disk.lines].sort(), [...mem.lines].sort());
    assert.equal(disk.summary.duplicates, mem.summary.duplicates);
  });

  test('the spill folder is removed when the run fails after spilling', async () => {
    const { csv } = usersWithDuplicates(3_000, 0.3, 4);
    await assert.rejects(prepareStdin({ ...UP, memoryBudget: 20_000, tmpDir: tmp.dir }, `${csv},oops\n`), {
      code: 'PB_INVALID_RECORD',
      message: '-:3002: user_id: empty',
    });
    assert.deepEqual(await spillLeftovers(), []);
  });

  test('an invalid memory budget is a usage error', async () => {
    for (const memoryBudget of [0, -1, Number.NaN]) {
      await assert.rejects(prepareStdin({ ...UP, memoryBudget }, 'u1\n'), { code: 'PB_USAGE' });
    }
  });
});

describe('ranking groups spilled to disk', () => {
  test('20k unsorted (user, item) rows: spilled groups equal the in-memory groups and the oracle', async () => {
    const { csv, groups, duplicates } = pairs(20_000, 2_000, 120, 8);
    const mem = await prepareStdin({ recipe: 'personalized-ranking' }, csv);
    const disk = await prepareStdin(
      { recipe: 'personalized-ranking', memoryBudget: 50_000, tmpDir: tmp.dir },
      csv,
    );
    assert.equal(mem.summary.spilled, false);
    assert.equal(disk.summary.spilled, true);
    const m = byUser(mem.records);
    const d = byUser(disk.records);
    assert.equal(d.size, groups.size);
    for (const [user, items] of groups) {
      assert.deepEqual(m.get(user), items, `in memory: ${user}`);
      // Items keep their first-seen order across flushes, so compare as lists, not just sets.
      assert.deepEqual(d.get(user), items, `spilled: ${user}`);
    }
    assert.equal(mem.summary.duplicates, duplicates);
    assert.equal(disk.summary.duplicates, duplicates);
    assert.deepEqual(await spillLeftovers(), []);
  });

  test('a tiny budget (groups flushed every few rows) still merges every user completely', async () => {
    const { csv, groups, duplicates } = pairs(600, 40, 30, 9);
    const disk = await prepareStdin(
      { recipe: 'personalized-ranking', memoryBudget: 2000, tmpDir: tmp.dir },
      csv,
    );
    assert.equal(disk.summary.spilled, true);
    const d = byUser(disk.records);
    assert.equal(d.size, groups.size);
    for (const [user, items] of groups) assert.deepEqual(new Set(d.get(user)), new Set(items), user);
    assert.equal(disk.summary.duplicates, duplicates);
  });
});

describe('spill partitioning', () => {
  test('re-splitting an over-budget partition spreads its keys over all sub-partitions', () => {
    const hash = (k: string, seed: number) => {
      const b = Buffer.from(k);
      return hashBytes(b, 0, b.length, seed);
    };
    const keysInPart0 = Array.from({ length: 40_000 }, (_, i) => JSON.stringify(`user-${i}`)).filter(
      (k) => partitionOf(hash(k, 0), 64) === 0,
    );
    // eachPartition re-splits with seed depth * 7919.
    const used = new Set(keysInPart0.map((k) => partitionOf(hash(k, 7919), 64)));
    assert.ok(keysInPart0.length > 400);
    assert.ok(used.size >= 60, `keys of one partition landed in only ${used.size} of 64 sub-partitions`);
  });
});

describe('the drain in WebAssembly (core/drain.ts)', () => {
  const derive = { prefix: Buffer.from('{"userId":"'), suffix: Buffer.from('"}\n') };

  /** Partition lines: derived, markers, whole lines; keys that are prefixes of others, multi-byte, long. */
  function partition(seed: number, lines: number): Buffer {
    const rand = prng(seed);
    const keys = ['a', 'ab', 'abc', 'b', 'é', '日本', 'x'.repeat(300), ''];
    for (let i = 0; i < 200; i++) keys.push(`u${Math.floor(rand() * 1e9).toString(36)}`);
    let s = '';
    for (let i = 0; i < lines; i++) {
      const key = keys[Math.floor(rand() * keys.length)] as string;
      const r = rand();
      s += r < 0.6 ? `${key}\t\x01\n` : r < 0.75 ? `${key}\t\n` : `${key}\t{"userId":"${key}","n":${i}}\n`;
    }
    return Buffer.from(s);
  }

  test("gives drainPiece's bytes and counts, however the partition is cut into files", () => {
    const table = new DrainTable(derive);
    const plain = new DrainTable(undefined);
    for (let seed = 1; seed <= 30; seed++) {
      const bytes = partition(seed, seed * 37);
      const lines = bytes.filter((c) => c === 10).length;
      const rand = prng(seed);
      // Cut at line ends, as a partition's files are.
      const pieces: Buffer[] = [];
      let from = 0;
      for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1))
        if (rand() < 0.1) {
          pieces.push(bytes.subarray(from, at + 1));
          from = at + 1;
        }
      pieces.push(bytes.subarray(from));
      for (const [t, d] of [
        [table, derive],
        [plain, undefined],
      ] as const) {
        const want = drainPiece(bytes, new ByteSet(1 << 20), d);
        const got = t.drain(pieces, lines);
        assert.equal(got.chunk.toString('latin1'), want.chunk.toString('latin1'), `seed ${seed}`);
        assert.equal(got.lines, want.lines);
        assert.equal(got.duplicates, want.duplicates);
      }
    }
    // Memory grown by a big partition serves a small one after it.
    const big = partition(99, 50_000);
    const bigLines = big.filter((c) => c === 10).length;
    assert.equal(table.drain([big], bigLines).lines, drainPiece(big, new ByteSet(1 << 24), derive).lines);
    assert.equal(table.drain([Buffer.from('k\t\x01\nk\t\x01\n')], 2).chunk.toString(), '{"userId":"k"}\n');
  });

  test('a line without a TAB or a final LF is an error, not a guess', () => {
    const table = new DrainTable(derive);
    assert.throws(() => table.drain([Buffer.from('k\t\x01\nno-tab\n')], 2), /no TAB or no final LF/);
    assert.throws(() => table.drain([Buffer.from('k\t\x01\nk2\t\x01')], 2), /no TAB or no final LF/);
  });
});
