import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { SPLIT_MIN_BYTES } from '../../../src/io/fast-parallel.js';
import { type ExportOptions, type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { usersSplit } from '../../../src/stages/export/users-split.js';
import { cli, prng, rejectsWith, useTmp } from '../../helpers.js';
import { randomFile } from '../../out-fixtures.js';

// export --users past --memory-budget. The oracle is the same export held
// in memory (a big budget). Past the budget, with local sources, the users
// file is read for the outputs' users only (a key filter): in memory when
// they fit, else both sides partitioned on disk by key and joined a
// partition at a time; with stdin sources (no filter) every row is
// partitioned. The same rows (in another order when partitioned), the same
// counts, but usersInFile: with the filter, the file's rows with a key.

const tmp = useTmp();
/** Over an empty table's 1 MiB arena and the filter's 128 KiB, under the outputs' users: in memory, filtered. */
const TINY = 1_300_000;
/** Under the outputs' users once the filter takes its 128 KiB: partitions, filtered. */
const TINIER = 1_100_000;
const BIG = 512 * 1024 * 1024;
/** The service-format fixture's budget: 3 groups, the sources read once per group. */
const PASSES = 1_100_000;
/** The fixture's users file rows with a key. */
const ROWS_WITH_KEY = 25_000;

async function file(text: string | Buffer, name: string): Promise<string> {
  const f = tmp.fresh(name);
  await writeFile(f, text);
  return f;
}

/**
 * A .out file (messy keys, error lines) and a CRM file with its users, fillers and repeated keys;
 * `plain`: 10,000 rows, CRLF, a keyless row every 2,000, nothing a CSV quotes but one row (60% of the way).
 */
async function fixture(seed: number, plain = false) {
  const { text, lines } = randomFile(seed, 1500, {
    kind: 'recommendations',
    keyField: 'userId',
    messy: true,
    errorRate: 0.05,
  });
  const rand = prng(seed);
  const keys = [...new Set(lines.map((l) => l.expected.key))].filter(
    (k) => k !== '' && k.trim() === k && !(plain && /[",\r\n]/.test(k)),
  );
  const values = plain
    ? ['Zoë', 'plain', '', 'ü€']
    : ['Zoë', 'Smith, Jo', 'say "hi"', 'two\nlines', '=1+2', '', 'ü€'];
  const pick = () => values[Math.floor(rand() * values.length)] as string;
  const rows: string[][] = [];
  const count = plain ? 10_000 : 25_000;
  for (let i = 0; i < count; i++) {
    // Users of the export, users of nobody, and now and then a key seen before (the first row wins).
    const r = rand();
    if (r < 0.04 && keys.length > 0)
      rows.push([keys[Math.floor(rand() * keys.length)] as string, `again${i}`, pick()]);
    else if (r < 0.1 && keys.length > 0) rows.push([keys[i % keys.length] as string, pick(), pick()]);
    else rows.push([`filler-${i}-${Math.floor(rand() * 1e9)}`, `user${i}@example.com`, pick()]);
    if (i % (plain ? 2000 : 5000) === 7) rows.push(['', 'no key', '']);
    // One quoted line break in the plain file, 60% of the way: a worker cut before it stops there.
    if (plain && i === 6_000) rows.push(['quoted', 'two\nlines', '']);
  }
  const csv = stringify([['key', 'a', 'b'], ...rows], plain ? { record_delimiter: 'windows' } : {});
  const users = await file(csv, `crm-${seed}.csv`);
  const out = await file(text, `in-${seed}.out`);
  return { users, out, text };
}

async function run(
  out: string,
  opts: Omit<ExportOptions, 'sources'>,
  viaStdin = false,
): Promise<{ text: string; errors: string; summary: ExportSummary }> {
  const output = tmp.fresh('out');
  const errors = tmp.fresh('errors.jsonl');
  const summary = await exportOutputs({
    ...opts,
    ...(viaStdin ? { sources: ['-'], stdin: createReadStream(out) } : { sources: [out] }),
    output,
    errors,
  });
  const read = (f: string) => readFile(f, 'utf8').catch(() => '');
  return { text: await read(output), errors: await read(errors), summary };
}

/** The summary without what the route changes: timing, partitions, passes, the file names, what the filter counts. */
function counts(s: ExportSummary) {
  const {
    seconds: _s,
    usersPartitions: _p,
    passes: _n,
    errorsFile: _e,
    usersInFile: _u,
    usersFiltered: _f,
    warnings,
    ...rest
  } = s;
  return { ...rest, warnings: warnings.map((w) => w.replace(/written to .*/, 'written')) };
}

function sortedRows(format: string, text: string): { header: string; rows: string[] } {
  if (format === 'jsonl') return { header: '', rows: text.split('\n').filter(Boolean).sort() };
  const [header, ...rows] = parseCsv(text) as string[][];
  return { header: JSON.stringify(header), rows: rows.map((r) => JSON.stringify(r)).sort() };
}

describe('export --users past --memory-budget', () => {
  test('the oracle: partitioned equals in memory (rows sorted, counts) in all three formats', async () => {
    // Each format once, and --users-required both ways on csv-long and once on another seed:
    // every combination cost 26 s of the suite's 5 minutes for no path the ones left miss.
    const cases = [
      [1, 'csv-long', false],
      [1, 'csv-wide', false],
      [2, 'jsonl', true],
    ] as const;
    for (const [seed, format, usersRequired] of cases) {
      const { users, out } = await fixture(seed);
      const opts = { users, userKey: 'key', format, usersRequired, pieceSize: 4096 };
      const mem = await run(out, { ...opts, memoryBudget: BIG });
      const what = `${format} seed ${seed} required ${usersRequired}`;
      assert.equal(mem.summary.usersPartitions, 0, what);
      assert.equal(mem.summary.usersFiltered, false, what);
      // The three routes past the budget, each on one case at least (filtered on disk on two).
      const all = [
        { name: 'filtered, in memory', filtered: true, partitions: false, budget: TINY, stdin: false },
        { name: 'filtered, on disk', filtered: true, partitions: true, budget: TINIER, stdin: false },
        { name: 'stdin, on disk', filtered: false, partitions: true, budget: TINY, stdin: true },
      ];
      const picked =
        [[1, 2], [0], [1]][
          cases.findIndex((k) => k[0] === seed && k[1] === format && k[2] === usersRequired)
        ] ?? [];
      const routes = [];
      for (const r of picked.map((i) => all[i] as (typeof all)[number]))
        routes.push({ ...r, r: await run(out, { ...opts, memoryBudget: r.budget }, r.stdin) });
      for (const { name, filtered, partitions, r: disk } of routes) {
        const w = `${what}, ${name}`;
        assert.equal(disk.summary.usersFiltered, filtered, w);
        if (partitions)
          assert.ok(disk.summary.usersPartitions > 1, `${w}: ${disk.summary.usersPartitions} partitions`);
        else assert.equal(disk.summary.usersPartitions, 0, w);
        assert.equal(disk.summary.usersInFile, filtered ? ROWS_WITH_KEY : mem.summary.usersInFile, w);
        assert.deepEqual(sortedRows(format, disk.text), sortedRows(format, mem.text), w);
        assert.deepEqual(counts(disk.summary), counts(mem.summary), w);
        assert.deepEqual(disk.errors.split('\n').sort(), mem.errors.split('\n').sort(), w);
      }
      assert.ok(mem.summary.usersDuplicates > 0 && mem.summary.usersRowsWithoutKey === 5, what);
      assert.ok(mem.summary.rows > 0 && mem.summary.errorLines > 0, what);
    }
  });

  test('invalid and blank lines: refused at their line, or skipped to the same rejects', async () => {
    const { users, text } = await fixture(3);
    const lines = text.split('\n');
    lines.splice(
      700,
      0,
      '',
      'not json',
      '{"input":{"itemId":"i9"},"output":{"recommendedItems":["a"]},"error":null}',
    );
    const out = await file(lines.join('\n'), 'bad.out');
    const opts = { users, userKey: 'key', format: 'csv-long' as const };
    for (const memoryBudget of [BIG, TINY, TINIER])
      await rejectsWith(run(out, { ...opts, memoryBudget }), 'PB_PARSE', /not valid JSON/);
    const skipped = [];
    for (const memoryBudget of [BIG, TINIER]) {
      const rejects = tmp.fresh('rejects.jsonl');
      const r = await run(out, { ...opts, memoryBudget, onInvalid: 'skip', rejects });
      skipped.push({
        counts: counts(r.summary),
        rejects: await readFile(rejects, 'utf8'),
        rows: sortedRows('csv', r.text),
      });
    }
    const [mem, disk] = skipped;
    assert.deepEqual(disk, mem);
    assert.equal(mem?.counts.invalid, 2);
    assert.equal(mem?.counts.blankLines, 1);
    assert.match(mem?.rejects ?? '', /"line":702,"reason":"not valid JSON/);
    assert.match(mem?.rejects ?? '', /"line":703,"reason":"input has itemId/);
  });

  test('lines as the service writes them: a pass per group of users, as in memory', async () => {
    // Most lines start `{"input":{"userId":"`: later passes skip other groups' lines by that key alone.
    const rand = prng(11);
    const line = (k: string) =>
      `{"input":{"userId":"${k}"},"output":{"recommendedItems":["i${k.length}","j"],"scores":[0.5,0.25]},"error":null}`;
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const k = `u${i}`;
      const r = rand();
      lines.push(line(k));
      if (r < 0.01) lines.push('');
      else if (r < 0.02) lines.push('{"input":{"userId":"broken');
      else if (r < 0.03) lines.push(`{"input":{"userId":"${k}"},"output":null,"error":"throttled"}`);
      else if (r < 0.04) lines.push(line(k).replace('{"input":{"userId":', '{"input": {"userId": '));
      else if (r < 0.05) lines.push(line(`\\u0075${i}x`));
    }
    // A repeated userId: the parse takes the last, the key scan the first (so later passes parse every line).
    const twice = (a: string, b: string) =>
      line(a).replace(`"userId":"${a}"`, `"userId":"${a}","userId":"${b}"`);
    const withTwice = [...lines];
    for (let i = 0; i < 40; i++) withTwice.splice(100 * i, 0, twice(`u${i}`, `u${2999 - i}`));
    const rows = [['key', 'email', 'first_name']];
    for (let i = 0; i < 3000; i++)
      rows.push([`u${i}`, `u${i}@example.com`, i % 7 === 0 ? 'Zoë, "Jo"' : `N${i}`]);
    for (let i = 0; i < 3000; i++) rows.push([`filler${i}`, 'x', 'y']);
    const users = await file(stringify(rows), 'crm-service.csv');
    for (const [name, text] of [
      ['plain', lines],
      ['a repeated userId', withTwice],
    ] as const) {
      const out = await file(`${text.join('\n')}\n`, 'service.out');
      const opts = {
        users,
        userKey: 'key',
        format: 'csv-long' as const,
        pieceSize: 4096,
        onInvalid: 'skip' as const,
      };
      const got = [];
      for (const memoryBudget of [BIG, PASSES]) {
        const rejects = tmp.fresh('rejects.jsonl');
        // The workers on disk once (their pass set by message), this thread's converter else (workers start slowly here).
        const workers = name === 'plain' && memoryBudget === PASSES ? 2 : 0;
        const r = await run(out, { ...opts, memoryBudget, rejects, workers });
        got.push({ r, rejects: await readFile(rejects, 'utf8') });
      }
      const [mem, disk] = got as [(typeof got)[number], (typeof got)[number]];
      const parts = disk.r.summary.usersPartitions;
      assert.ok(parts >= 2 && parts <= 8, `${name}: ${parts} groups`);
      assert.deepEqual(sortedRows('csv', disk.r.text), sortedRows('csv', mem.r.text), name);
      assert.deepEqual(counts(disk.r.summary), counts(mem.r.summary), name);
      // Rejects in file order, as the first pass checks every line.
      assert.equal(disk.rejects, mem.rejects, name);
      assert.deepEqual(disk.r.errors.split('\n').sort(), mem.r.errors.split('\n').sort(), name);
      assert.ok(mem.r.summary.invalid > 10 && mem.r.summary.blankLines > 10 && mem.r.summary.errorLines > 10);
    }
  });

  test('csv-wide to stdout and with a guess proved wrong: one header, the same width', async () => {
    const { users, out } = await fixture(4);
    const opts = { users, userKey: 'key', format: 'csv-wide' as const, pieceSize: 2048 };
    const mem = await run(out, { ...opts, memoryBudget: BIG });
    const disk = await run(out, { ...opts, memoryBudget: TINIER });
    assert.ok(disk.summary.usersPartitions > 1);
    assert.equal(disk.text.split('\r\n')[0], mem.text.split('\r\n')[0]);
    assert.equal(disk.summary.width, mem.summary.width);
    assert.equal((disk.text.match(/^userId,/gm) ?? []).length, 1);
  });

  test('atomic: a failure after the split leaves no output and no temporary file', async () => {
    const { users, text } = await fixture(5);
    const dir = tmp.fresh('scratch');
    await mkdir(dir);
    // The last line keyed by item id fails the export after every line was partitioned.
    const out = await file(
      `${text}{"input":{"itemId":"i9"},"output":{"recommendedItems":["a"]},"error":null}\n`,
      'late.out',
    );
    const output = join(dir, 'recs.csv');
    await rejectsWith(
      exportOutputs({ sources: [out], output, users, userKey: 'key', memoryBudget: TINIER, tmpDir: dir }),
      'PB_INVALID_RECORD',
      /input has itemId/,
    );
    assert.deepEqual(await readdir(dir), []);
    // And a good run leaves only its output.
    await exportOutputs({
      sources: [await file(text, 'good.out')],
      output,
      users,
      userKey: 'key',
      memoryBudget: TINIER,
      tmpDir: dir,
    });
    assert.deepEqual((await readdir(dir)).sort(), ['recs.csv', 'recs.csv.errors.jsonl']);
  });

  test('two threads read the users file as one: the same bytes, counts and lines wherever the cut falls', async () => {
    const noSplit = () => {
      usersSplit.minBytes = Number.POSITIVE_INFINITY;
    };
    const before = usersSplit.adoptedBytes;
    try {
      // The worker reads its part to the quoted row (then this thread reads on from it) or to the
      // end, repeated keys and keyless rows on both sides of the cut.
      {
        // undefined: the cut where a sample of the file puts half the work.
        const cuts = [0.3, 0.8, undefined];
        const { users, out } = await fixture(7, true);
        // Just over an empty table: a few groups of the plain file's short rows.
        const opts = {
          users,
          userKey: 'key',
          format: 'csv-long',
          pieceSize: 4096,
          memoryBudget: 1_080_000,
        } as const;
        noSplit();
        const one = await run(out, opts);
        assert.ok(
          one.summary.usersPartitions > 1 && one.summary.usersDuplicates > 0,
          `${one.summary.usersPartitions} ${one.summary.usersDuplicates} ${one.summary.usersRowsWithoutKey}`,
        );
        for (const at of cuts) {
          Object.assign(usersSplit, { minBytes: 0, at });
          const adopted = usersSplit.adoptedBytes;
          const two = await run(out, opts);
          const w = `cut at ${at}`;
          assert.ok(usersSplit.adoptedBytes > adopted, `${w}: the worker's part was taken`);
          assert.equal(two.text, one.text, w);
          assert.equal(two.errors, one.errors, w);
          const same = ({ seconds: _s, errorsFile: _e, warnings, ...rest }: ExportSummary) => ({
            ...rest,
            warnings: warnings.map((x) => x.replace(/written to .*/, 'written')),
          });
          assert.deepEqual(same(two.summary), same(one.summary), w);
        }
      }
      assert.ok(usersSplit.adoptedBytes > before);
    } finally {
      Object.assign(usersSplit, { minBytes: SPLIT_MIN_BYTES, at: undefined });
    }
  });

  test('the CLI says the join spilled, and into how many partitions', async () => {
    const { users, out } = await fixture(6);
    const output = tmp.fresh('cli.csv');
    const r = await cli([
      'export',
      out,
      '-o',
      output,
      '--users',
      users,
      '--user-key',
      'key',
      '--memory-budget',
      String(TINIER),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /which holds 25,000 rows with a key \(read for this export's users only, joined in \d+ partitions on disk: past --memory-budget\)/,
    );
    // Nothing else: no warning from node about the partitions' streams.
    assert.doesNotMatch(r.stderr, /Warning|MaxListeners/);
  });
});
