import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { FirstLines } from '../../../src/core/firsts.js';
import { OutLineParser } from '../../../src/core/out-lines.js';
import {
  type Bitsets,
  decideFirsts,
  decidePartition,
  PartitionState,
} from '../../../src/stages/collect/decide.js';
import {
  type CollectEvent,
  type CollectOptions,
  type CollectSummary,
  collect,
} from '../../../src/stages/collect/index.js';
import { KeyScan, UNKNOWN } from '../../../src/stages/collect/key-scan.js';
import { shard } from '../../../src/stages/shard/index.js';
import { cli, rejectsWith, stdinOf, useTmp } from '../../helpers.js';
import { AWS_DOC_EXAMPLES, FAILED, prng, randomId } from '../../out-fixtures.js';

// collect() against an oracle: a Map over keys in this file decides which
// lines are kept, which errors reported and which inputs are missing.

const tmp = useTmp();

interface Run {
  input: string[];
  /** shard folder -> its .out lines */
  shards: Map<string, string[]>;
}

/** Batch input of n users and outputs spread over shards, with misses, duplicates, errors and reruns. */
function makeRun(seed: number, n: number): Run {
  const rand = prng(seed);
  const users = new Set<string>();
  while (users.size < n) users.add(`${randomId(rand, rand() < 0.3)}${users.size}`);
  const input = [...users].map((u) =>
    // Keys escaped differently in the input and the output are the same key.
    rand() < 0.2
      ? `{"userId":${JSON.stringify(u).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}}`
      : rand() < 0.2
        ? `{"userId":${JSON.stringify(u)},"filterValues":{"G":"\\"x\\""}}`
        : `{"userId":${JSON.stringify(u)}}`,
  );
  const shards = new Map<string, string[]>([
    ['shard-00000', []],
    ['shard-00001', []],
    ['rerun', []],
  ]);
  const ok = (u: string, tag: string) =>
    `{"input":{"userId":${JSON.stringify(u)}},"output":{"recommendedItems":["${tag}"],"scores":[0.5]},"error":null}`;
  const failed = (u: string) => `{"input":{"userId":${JSON.stringify(u)}},"output":null,"error":"boom"}`;
  for (const u of users) {
    const r = rand();
    const home = rand() < 0.5 ? 'shard-00000' : 'shard-00001';
    const other = home === 'shard-00000' ? 'shard-00001' : 'shard-00000';
    const at = (name: string) => shards.get(name) as string[];
    if (r < 0.1) continue; // missing
    if (r < 0.2)
      at(home).push(failed(u)); // failed, never recovered
    else if (r < 0.3) {
      at(home).push(failed(u));
      at('rerun').push(ok(u, 'rerun')); // recovered
    } else if (r < 0.4) {
      at(home).push(ok(u, 'a'));
      at(other).push(ok(u, 'b')); // duplicate in two shards
    } else at(home).push(ok(u, 'a'));
  }
  // An output key that is not in the input.
  (shards.get('rerun') as string[]).push(ok('stranger', 'x'));
  // Service order is not input order.
  for (const lines of shards.values()) {
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [lines[i], lines[j]] = [lines[j] as string, lines[i] as string];
    }
  }
  return { input, shards };
}

/** What collect must write, computed with Maps. */
function oracle(run: Run, order: string[]) {
  const keyOf = (line: string) => {
    const o = JSON.parse(line) as { userId?: string; input?: { userId: string } };
    return (o.input?.userId ?? o.userId) as string;
  };
  const okSeen = new Set<string>();
  const merged: string[] = [];
  const firstError = new Map<string, string>();
  let duplicates = 0;
  for (const name of order) {
    for (const line of run.shards.get(name) as string[]) {
      const k = keyOf(line);
      if (line.includes('"error":"')) {
        if (!firstError.has(k)) firstError.set(k, line);
      } else if (okSeen.has(k)) duplicates++;
      else {
        okSeen.add(k);
        merged.push(line);
      }
    }
  }
  const errors: string[] = [];
  // Errors in the order their lines were read.
  for (const name of order) {
    for (const line of run.shards.get(name) as string[]) {
      const k = keyOf(line);
      if (firstError.get(k) === line && !okSeen.has(k)) errors.push(line);
    }
  }
  const seen = new Set([...okSeen, ...firstError.keys()]);
  const missing = run.input.filter((l) => !seen.has(keyOf(l)));
  return { merged, errors, missing, duplicates };
}

async function writeRun(run: Run, dir: string): Promise<{ folders: string[]; input: string }> {
  const folders: string[] = [];
  for (const [name, lines] of run.shards) {
    const folder = join(dir, name);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'input.jsonl.out'), lines.map((l) => `${l}\n`).join(''));
    await writeFile(join(folder, '_CHECK'), '');
    folders.push(folder);
  }
  const input = join(dir, 'input.jsonl');
  await writeFile(input, run.input.map((l) => `${l}\n`).join(''));
  return { folders, input };
}

async function run(
  opts: CollectOptions & { output: string },
): Promise<{ s: CollectSummary; merged: string[]; errors: string[]; missing: string[] }> {
  const s = await collect(opts);
  const lines = async (p: string | null) =>
    p ? (await readFile(p, 'utf8')).split('\n').filter((l) => l !== '') : [];
  return {
    s,
    merged: await lines(opts.output),
    errors: await lines(s.errorsFile),
    missing: await lines(s.missingFile),
  };
}

describe('collect', () => {
  test('merges shards and a rerun: duplicates dropped, recovered errors dropped, missing inputs byte for byte', async () => {
    const data = makeRun(1, 400);
    const dir = tmp.fresh('run');
    const { folders, input } = await writeRun(data, dir);
    const want = oracle(data, ['shard-00000', 'shard-00001', 'rerun']);
    assert.ok(want.duplicates > 10 && want.missing.length > 10 && want.errors.length > 10);
    // A budget this small re-splits the partitions; the result must not change.
    for (const memoryBudget of [64 * 1024 * 1024, 2048]) {
      const output = join(dir, `merged-${memoryBudget}.jsonl`);
      const r = await run({ sources: folders, inputs: [input], output, memoryBudget });
      assert.deepEqual(r.merged, want.merged);
      assert.deepEqual(r.errors, want.errors);
      assert.deepEqual(r.missing, want.missing);
      assert.equal(r.s.errorsFile, join(dir, 'errors.jsonl'));
      assert.equal(r.s.missingFile, join(dir, 'missing.jsonl'));
      assert.equal(r.s.duplicates, want.duplicates);
      assert.equal(r.s.missing, want.missing.length);
      assert.equal(r.s.failedKeys, want.errors.length);
      assert.equal(r.s.written, want.merged.length);
      assert.equal(r.s.unexpected, 1);
      assert.ok(r.s.recovered > 5);
      assert.equal(r.s.inputRecords, data.input.length);
      assert.ok(r.s.warnings.some((w) => w.includes('repeat a key')));
    }
  });

  test('--state names the outputs and the inputs; a manifest from shard() names the inputs', async () => {
    const data = makeRun(2, 120);
    const dir = tmp.fresh('state');
    const { folders, input } = await writeRun(data, dir);
    /** A jobs state file: each shard's output folder, with the input(s) `inputsOf` gives it. */
    const writeState = async (name: string, inputsOf: (index: number) => object) => {
      const path = join(dir, name);
      await writeFile(
        path,
        JSON.stringify({
          version: 1,
          family: 'USER_PERSONALIZATION',
          manifest: 'unused',
          shards: folders.map((f, index) => ({ index, ...inputsOf(index), output: f, records: 1, jobs: [] })),
        }),
      );
      return path;
    };
    const state = await writeState('state.json', (index) => ({ input: index === 0 ? input : '' }));
    const want = oracle(data, ['shard-00000', 'shard-00001', 'rerun']);
    const a = await run({ state, output: join(dir, 'a.jsonl') });
    assert.deepEqual(a.merged, want.merged);
    assert.deepEqual(a.missing, want.missing);
    // The input split by shard() (by hash), reconciled through its manifest.
    const shards = join(dir, 'shards');
    await shard({ recipe: 'user-personalization', input, out: shards, shards: 3 });
    const b = await run({
      sources: folders,
      inputs: [join(shards, 'manifest.json')],
      output: join(dir, 'b.jsonl'),
    });
    assert.deepEqual(b.merged, want.merged);
    assert.deepEqual(b.missing.sort(), [...want.missing].sort());
    assert.equal(b.s.inputFiles, 3);
    // Shards of several files (by size, 7 records a file): the manifest stands for every file.
    const multi = join(dir, 'multi');
    await shard({ recipe: 'user-personalization', input, out: multi, maxRecordsPerFile: 7, maxRecords: 50 });
    const m = JSON.parse(await readFile(join(multi, 'manifest.json'), 'utf8')) as {
      shards: { uri: string; files: { uri: string }[] }[];
    };
    const files = m.shards.reduce((n, s) => n + s.files.length, 0);
    assert.ok(m.shards.length > 1 && files > m.shards.length, `${m.shards.length} shards, ${files} files`);
    const c = await run({
      sources: folders,
      inputs: [join(multi, 'manifest.json')],
      output: join(dir, 'c.jsonl'),
    });
    assert.deepEqual(c.merged, want.merged);
    // Size shards keep the input's order, so missing records come out as in the oracle.
    assert.deepEqual(c.missing, want.missing);
    assert.equal(c.s.inputFiles, files);
    // A state file from submit lists every file of a shard in `inputs`.
    const state2 = await writeState('state2.json', (index) => ({
      input: m.shards[index]?.uri ?? '',
      inputs: index === 0 ? m.shards.flatMap((x) => x.files.map((y) => y.uri)) : [],
    }));
    const d = await run({ state: state2, output: join(dir, 'd.jsonl') });
    assert.deepEqual(d.missing, want.missing);
    assert.equal(d.s.inputFiles, files);
  });

  test('stdin as the source, no input: nothing missing, errors still reported', async () => {
    const lines = [
      '{"input":{"itemId":"1"},"output":{"recommendedItems":["2"]}}',
      '{"input":{"itemId":"1"},"output":{"recommendedItems":["3"]}}',
      '',
      '{"input":{"itemId":"2"},"error":"bad"}',
    ];
    const output = tmp.fresh('m.jsonl');
    const s = await collect({
      sources: ['-'],
      stdin: stdinOf(`${lines.join('\r\n')}\r\n`),
      output,
      errors: tmp.fresh('e.jsonl'),
    });
    assert.equal(await readFile(output, 'utf8'), `${lines[0]}\n`);
    assert.equal(await readFile(s.errorsFile, 'utf8'), `${lines[3]}\n`);
    assert.equal(s.missingFile, null);
    assert.deepEqual([s.duplicates, s.failedKeys, s.blankLines], [1, 1, 1]);
  });

  test('the library reads and writes - only through the stdin and stdout options', async () => {
    const dir = tmp.fresh('no-stdio');
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'x.out');
    await writeFile(path, '{"input":{"userId":"a"},"output":{"recommendedItems":[]}}\n');
    await rejectsWith(
      collect({ sources: ['-'], output: join(dir, 'a.jsonl') }),
      'PB_USAGE',
      /needs collect's `stdin` option/,
    );
    await rejectsWith(
      collect({ sources: [path], inputs: ['-'], output: join(dir, 'b.jsonl') }),
      'PB_USAGE',
      /needs collect's `stdin` option/,
    );
    await rejectsWith(
      collect({ sources: [path], output: '-', errors: join(dir, 'e.jsonl') }),
      'PB_USAGE',
      /needs collect's `stdout` option/,
    );
  });

  test('error lines whose key is a number or missing are kept and counted; no key means no join (issue 14)', async () => {
    const ok = (u: string) => `{"input":{"userId":"${u}"},"output":{"recommendedItems":["9"]},"error":null}`;
    const failed = (u: string) => `{"input":{"userId":"${u}"},"output":null,"error":"boom"}`;
    const noInput = '{"error":"Internal error"}';
    const shard0 = [
      FAILED.numberId,
      ok('a'),
      failed('b'),
      FAILED.withoutKey,
      AWS_DOC_EXAMPLES.popularityCount[0],
    ];
    // A rerun repeats the failures: keyed ones count once, ones without a key cannot be told apart.
    const rerun = [noInput, failed('b'), FAILED.numberId, ok('d')];
    const input = [
      '{"userId":"a"}',
      '{"userId":3002}',
      '{"usrId":"2"}',
      '{"userId":"b"}',
      '{}',
      '{"userId":"c"}',
    ];
    const dir = tmp.fresh('keyless');
    await mkdir(join(dir, 's0'), { recursive: true });
    await mkdir(join(dir, 'rerun'), { recursive: true });
    await writeFile(join(dir, 's0', 'x.out'), shard0.map((l) => `${l}\n`).join(''));
    await writeFile(join(dir, 'rerun', 'x.out'), rerun.map((l) => `${l}\n`).join(''));
    await writeFile(join(dir, 'input.jsonl'), input.map((l) => `${l}\n`).join(''));
    for (const [memoryBudget, pieceSize] of [
      [64 * 1024 * 1024, 1024 * 1024],
      [2048, 40],
    ] as const) {
      const r = await run({
        sources: [join(dir, 's0'), join(dir, 'rerun')],
        inputs: [join(dir, 'input.jsonl')],
        output: join(dir, `merged-${pieceSize}.jsonl`),
        memoryBudget,
        pieceSize,
      });
      assert.deepEqual(r.merged, [ok('a'), AWS_DOC_EXAMPLES.popularityCount[0], ok('d')]);
      assert.deepEqual(r.errors, [FAILED.numberId, failed('b'), FAILED.withoutKey, noInput, FAILED.numberId]);
      assert.deepEqual(r.missing, ['{"userId":"c"}']);
      assert.equal(r.s.invalid, 0);
      assert.equal(r.s.errorLines, 6);
      // b, and each of the four error lines without a key.
      assert.equal(r.s.failedKeys, 5);
      assert.equal(r.s.outputWithoutKey, 5);
      assert.equal(r.s.inputWithoutKey, 3);
      // The rerun's second error line for b is a repeat: 6 error lines = 5 failed + 1 duplicate.
      assert.deepEqual([r.s.unexpected, r.s.duplicates, r.s.written], [1, 1, 3]);
      assert.ok(
        r.s.warnings.some((w) =>
          /^5 output lines have no userId, itemId or itemAttributes string .*cannot be matched to input records/.test(
            w,
          ),
        ),
        r.s.warnings.join('; '),
      );
    }
  });

  test('a malformed line: file:line, or to --rejects with skip', async () => {
    const dir = tmp.fresh('bad');
    const path = join(dir, 'x.out');
    await mkdir(dir, { recursive: true });
    await writeFile(
      path,
      '{"input":{"userId":"a"},"output":{"recommendedItems":[]}}\n{"input":{"userId":"b"},"outp',
    );
    await rejectsWith(
      collect({ sources: [path], output: join(dir, 'o.jsonl') }),
      'PB_PARSE',
      /x\.out:2: truncated/,
    );
    const rejects = join(dir, 'rejects.jsonl');
    const s = await collect({ sources: [path], output: join(dir, 'o.jsonl'), onInvalid: 'skip', rejects });
    assert.equal(s.invalid, 1);
    assert.equal(s.written, 1);
    assert.equal(JSON.parse(await readFile(rejects, 'utf8')).line, 2);
  });

  test('CLI: exit 1 when records are missing, --json summary, usage errors', async () => {
    const data = makeRun(3, 50);
    const dir = tmp.fresh('cli');
    const { folders, input } = await writeRun(data, dir);
    const output = join(dir, 'merged.jsonl');
    const r = await cli(['collect', ...folders, '--input', input, '-o', output, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const s = JSON.parse(r.stdout) as CollectSummary;
    assert.equal(s.missing, oracle(data, ['shard-00000', 'shard-00001', 'rerun']).missing.length);
    assert.match(r.stderr, /warning: .*repeat a key/);
    const clean = join(dir, 'clean.out');
    await writeFile(clean, '{"input":{"userId":"a"},"output":{"recommendedItems":[]}}\n');
    const ok = await cli(['collect', clean, '-o', join(dir, 'c.jsonl')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /collect: 1 output line from 1 file, 1 written/);
    assert.equal((await cli(['collect', '-o', output])).code, 2);
    const missingInput = await cli([
      'collect',
      clean,
      '--input',
      join(dir, 'nope.jsonl'),
      '-o',
      join(dir, 'd.jsonl'),
    ]);
    assert.equal(missingInput.code, 1);
    assert.match(missingInput.stderr, /nope\.jsonl: cannot read: no such file/);
    assert.equal((await cli(['collect', clean, '--state', 's.json'])).code, 2);
    assert.match((await cli(['collect', '--help'])).stdout, /Examples:/);
    assert.equal(dirname(s.missingFile ?? ''), dir);
  });
});

describe('collect: two threads', () => {
  /** A run's files, with its input in two files (the worker takes the second). */
  async function twoInputs(seed: number, dir: string) {
    const data = makeRun(seed, 600);
    const { folders, input } = await writeRun(data, dir);
    const half = Math.floor(data.input.length / 2);
    const inputs = [join(dir, 'in-a.jsonl'), join(dir, 'in-b.jsonl')];
    await writeFile(
      inputs[0] as string,
      data.input
        .slice(0, half)
        .map((l) => `${l}\n`)
        .join(''),
    );
    await writeFile(
      inputs[1] as string,
      data.input
        .slice(half)
        .map((l) => `${l}\n`)
        .join(''),
    );
    return { data, folders, input, inputs };
  }

  test('a worker keys the last files: files and summary as with one thread', async () => {
    const dir = tmp.fresh('two');
    const { data, folders, inputs } = await twoInputs(3, dir);
    const want = oracle(data, ['shard-00000', 'shard-00001', 'rerun']);
    // 900 bytes: about half the partitions (both threads' files) are over it and split again
    // together; the rest are read file after file.
    const runs = [];
    for (const twoThreadsFrom of [0, Number.POSITIVE_INFINITY]) {
      const output = join(dir, `m-${twoThreadsFrom}.jsonl`);
      const r = await run({ sources: folders, inputs, output, memoryBudget: 900, twoThreadsFrom });
      runs.push({ ...r, s: { ...r.s, seconds: 0, output: '' } });
    }
    const [two, one] = runs as [(typeof runs)[0], (typeof runs)[0]];
    assert.deepEqual(two, one);
    assert.deepEqual(two.merged, want.merged);
    assert.deepEqual(two.errors, want.errors);
    assert.deepEqual(two.missing, want.missing);
    assert.equal(two.s.duplicates, want.duplicates);
  });

  test("a malformed line in the worker's files: this thread keys them, same rejects and output", async () => {
    const dir = tmp.fresh('two-bad');
    const { folders, inputs } = await twoInputs(4, dir);
    const last = join(folders.at(-1) as string, 'input.jsonl.out');
    await writeFile(last, `${await readFile(last, 'utf8')}{"input":{"userId":"b"},"outp\n`);
    const rejected = [];
    for (const twoThreadsFrom of [0, Number.POSITIVE_INFINITY]) {
      const rejects = join(dir, `rejects-${twoThreadsFrom}.jsonl`);
      const output = join(dir, `o-${twoThreadsFrom}.jsonl`);
      const s = await collect({
        sources: folders,
        inputs,
        output,
        onInvalid: 'skip',
        rejects,
        twoThreadsFrom,
      });
      assert.equal(s.invalid, 1);
      rejected.push([await readFile(rejects, 'utf8'), await readFile(output, 'utf8')]);
    }
    assert.deepEqual(rejected[0], rejected[1]);
  });
});

describe('collect: step 2', () => {
  test('in WebAssembly (core/firsts) and in JavaScript (a partition too large for it): the same bits and counts', async () => {
    const rand = prng(31);
    const [wasm, js] = [new FirstLines(), new PartitionState()];
    const bits = (n: number) => new Uint8Array(Math.ceil(n / 8));
    for (let round = 0; round < 4; round++) {
      const lines: string[] = [];
      const n = 1 + Math.floor(rand() * 5000);
      for (let i = 0; i < n; i++) {
        const tag = 'OEIoei'[Math.floor(rand() * 6)] as string;
        lines.push(`u${Math.floor(rand() * (n / 3))}\t${tag}${Math.floor(rand() * 2 * n)}`);
      }
      const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''));
      const cut = bytes.indexOf(10, Math.floor(bytes.length / 2)) + 1;
      const pieces = async function* () {
        yield bytes.subarray(0, cut);
        yield bytes.subarray(cut);
      };
      const groups = () =>
        [0, 1].map(() => ({ keepOut: bits(2 * n), keepError: bits(2 * n), missing: bits(2 * n) }));
      const a: Bitsets[] = groups();
      const b: Bitsets[] = groups();
      assert.ok(wasm.start(n, bytes.length));
      const da = await decideFirsts(pieces(), wasm, a, round % 2 === 0);
      const db = await decidePartition(
        pieces(),
        js.take({ keys: n, keyBytes: bytes.length }),
        b,
        round % 2 === 0,
      );
      assert.deepEqual(da, db);
      assert.deepEqual(a, b);
      assert.ok(da.missing + da.failedKeys + da.duplicates > 0, 'the round decided something');
    }
  });
});

describe('collect: the quick key scan', () => {
  test("a line it knows gets the full parser's verdict and key; mutated lines too", () => {
    const rand = prng(9);
    const scan = new KeyScan();
    const parser = new OutLineParser();
    const bases = [
      '{"input":{"userId":"u1"},"output":{"recommendedItems":["1","2","3"],"scores":[0.5,0.25,1e-3]},"error":null}',
      '{"input":{"itemId":"ié1"},"output":{"recommendedItems":["a,b"]},"error":null}',
      '{"input":{"userId":"u2"},"output":{"recommendedItems":[],"scores":[]},"error":null}',
      '{"input":{"userId":"u3"},"output":null,"error":"User not found"}',
      '{"input":{"userId":"u4"},"output":{"recommendedItems":["x"],"scores":[-0.5E+2]},"error":null}',
    ];
    const alphabet = ['"', '\\', ',', ']', '[', '{', '}', ' ', '0', '-', '.', 'e', 'n', '\t', '\u0001', ':'];
    let known = 0;
    for (let n = 0; n < 20000; n++) {
      let line = bases[n % bases.length] as string;
      const edits = n < bases.length ? 0 : 1 + Math.floor(rand() * 3);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rand() * line.length);
        const c = alphabet[Math.floor(rand() * alphabet.length)] as string;
        const op = rand();
        line =
          op < 0.4
            ? line.slice(0, at) + line.slice(at + 1)
            : op < 0.7
              ? line.slice(0, at) + c + line.slice(at)
              : line.slice(0, at) + c + line.slice(at + 1);
      }
      const buf = Buffer.from(line);
      const quick = scan.scan(buf, 0, buf.length);
      if (n < bases.length) assert.notEqual(quick, UNKNOWN, line);
      if (quick === UNKNOWN) continue;
      known++;
      const full = parser.parse(buf, 0, buf.length);
      assert.equal(quick, full, line);
      assert.deepEqual(
        [scan.keyField, scan.keyStart, scan.keyEnd],
        [parser.keyField, parser.keyStart, parser.keyEnd],
        line,
      );
      assert.equal(parser.keyEscaped, false, line);
    }
    assert.ok(known > 500, `${known} lines known`);
  });
});

describe('collect: onEvent', () => {
  test('each step, each file as a step reads it, and the counts of each step', async () => {
    const dir = tmp.fresh('events');
    await mkdir(dir, { recursive: true });
    const ok = (u: string) =>
      `{"input":{"userId":"${u}"},"output":{"recommendedItems":["i"],"scores":[0.5]},"error":null}\n`;
    const out1 = join(dir, 'a.out');
    const out2 = join(dir, 'b.out');
    const input = join(dir, 'in.jsonl');
    const texts = [
      `${ok('u1')}${ok('u2')}${ok('u3')}{"input":{"userId":"u4"},"output":null,"error":"boom"}\n`,
      `${ok('u2')}\n${ok('u5')}`,
      ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((u) => `{"userId":"${u}"}\n`).join(''),
    ];
    await writeFile(out1, texts[0] as string);
    await writeFile(out2, texts[1] as string);
    await writeFile(input, texts[2] as string);
    const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
    const events: CollectEvent[] = [];
    const s = await collect({
      sources: [out1, out2],
      inputs: [input],
      output: join(dir, 'merged.jsonl'),
      onEvent: (e) => events.push(e),
    });
    assert.deepEqual([s.outputLines, s.inputRecords, s.duplicates, s.missing], [6, 6, 1, 1]);
    // Ticks within a step come on a timer (and a loaded machine may see one here): the steps and
    // files exactly, and each step's last counts, told as it ends.
    assert.deepEqual(
      events.filter((e) => e.type !== 'progress'),
      [
        { type: 'step', step: 'keys' },
        { type: 'file', step: 'keys', file: out1, role: 'output' },
        { type: 'file', step: 'keys', file: out2, role: 'output' },
        { type: 'file', step: 'keys', file: input, role: 'input' },
        { type: 'step', step: 'decide' },
        { type: 'step', step: 'write' },
        { type: 'file', step: 'write', file: out1, role: 'output' },
        { type: 'file', step: 'write', file: out2, role: 'output' },
        { type: 'file', step: 'write', file: input, role: 'input' },
      ],
    );
    const last = (step: string) => events.filter((e) => e.type === 'progress' && e.step === step).at(-1);
    assert.deepEqual(last('keys'), { type: 'progress', step: 'keys', lines: 12, bytesRead: bytes });
    assert.deepEqual(last('decide'), { type: 'progress', step: 'decide', linesDecided: 12, linesKeyed: 12 });
    assert.deepEqual(last('write'), { type: 'progress', step: 'write', lines: 12, bytesRead: bytes });
    // Each step's last counts come before the next step starts.
    const at = (e: CollectEvent | undefined) => events.indexOf(e as CollectEvent);
    assert.ok(at(last('keys')) < events.findIndex((e) => e.type === 'step' && e.step === 'decide'));
    assert.equal(at(last('write')), events.length - 1);
  });

  test('a longer run: progress within a step about every 250 ms, counts growing to the step total', async () => {
    const dir = tmp.fresh('events-long');
    await mkdir(dir, { recursive: true });
    const sources: string[] = [];
    let lines = 0;
    for (let f = 0; f < 8; f++) {
      let text = '';
      for (let i = 0; i < 40_000; i++)
        text += `{"input":{"userId":"u${f}-${i}"},"output":{"recommendedItems":["i"],"scores":[0.5]},"error":null}\n`;
      lines += 40_000;
      const path = join(dir, `${f}.out`);
      await writeFile(path, text);
      sources.push(path);
    }
    const events: (CollectEvent & { at: number })[] = [];
    await collect({
      sources,
      output: join(dir, 'merged.jsonl'),
      onEvent: (e) => events.push({ ...e, at: Date.now() }),
    });
    for (const step of ['keys', 'write'] as const) {
      const ticks = events.filter((e) => e.type === 'progress' && e.step === step) as {
        lines: number;
        at: number;
      }[];
      assert.equal(ticks.at(-1)?.lines, lines, step);
      for (let i = 1; i < ticks.length; i++) {
        const [a, b] = [ticks[i - 1], ticks[i]] as [(typeof ticks)[0], (typeof ticks)[0]];
        assert.ok(b.lines >= a.lines, 'counts only grow');
        if (i < ticks.length - 1) assert.ok(b.at - a.at >= 240, `${step}: ticks ${b.at - a.at} ms apart`);
      }
    }
    const decide = events.filter((e) => e.type === 'progress' && e.step === 'decide');
    assert.deepEqual(decide.at(-1), { ...decide.at(-1), linesDecided: lines, linesKeyed: lines });
  });
});
