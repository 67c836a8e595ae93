import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { SPLIT_MIN_BYTES } from '../../../src/io/fast-parallel.js';
import { type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { usersSplit } from '../../../src/stages/export/users-split.js';
import { prng, useTmp } from '../../helpers.js';
import { randomFile } from '../../out-fixtures.js';

// The users file read for the outputs' users on two threads (users-load.ts): the worker's kept rows
// added at the cut give the table one thread gives, in memory, and where it outgrows the budget.

const tmp = useTmp();

async function fixture(seed: number) {
  const { text, lines } = randomFile(seed, 1200, {
    kind: 'recommendations',
    keyField: 'userId',
    errorRate: 0.05,
  });
  const rand = prng(seed);
  // Printable ASCII keys with nothing a CSV quotes: the worker reads their rows (it leaves the rest to this thread).
  const keys = [...new Set(lines.map((l) => l.expected.key))].filter((k) => /^[!#-+\--[\]-~]+$/.test(k));
  const values = ['Zoë', 'plain', '', 'ü€', '=1+2', 'x'.repeat(30)];
  const pick = () => values[Math.floor(rand() * values.length)] as string;
  const rows: string[][] = [];
  let next = 0;
  for (let i = 0; i < 16_000; i++) {
    const r = rand();
    // The outputs' users anywhere in the file, fillers between; repeated (the first row wins) only past
    // a third of it, so that the first repeats' lines are the worker's to number.
    if (r < 0.03 && i > 5000)
      rows.push([keys[Math.floor(rand() * keys.length)] as string, `again${i}`, pick()]);
    else if (r < 0.09 && next < keys.length) rows.push([keys[next++] as string, pick(), pick()]);
    else rows.push([`filler-${i}-${Math.floor(rand() * 1e9)}`, `user${i}@example.com`, pick()]);
    if (i % 3000 === 7) rows.push(['', 'no key', '']);
    // A quoted line break late in the file: a worker whose part holds it stops there.
    if (seed % 2 === 0 && i === 13_000) rows.push(['quoted', 'two\nlines', '']);
  }
  const users = tmp.fresh(`crm-${seed}.csv`);
  await writeFile(
    users,
    stringify([['key', 'a', 'b'], ...rows], { record_delimiter: seed % 2 ? 'windows' : 'unix' }),
  );
  const out = tmp.fresh(`in-${seed}.out`);
  await writeFile(out, text);
  return { users, out };
}

async function run(out: string, users: string, memoryBudget: number) {
  const output = tmp.fresh('o.csv');
  const errors = tmp.fresh('e.jsonl');
  const summary = await exportOutputs({
    sources: [out],
    output,
    errors,
    users,
    userKey: 'key',
    memoryBudget,
  });
  const { seconds: _s, errorsFile: _e, warnings, ...rest } = summary as ExportSummary;
  const same = { ...rest, warnings: warnings.map((w) => w.replace(/written to .*/, 'written')) };
  return { text: await readFile(output, 'utf8'), summary: same, raw: summary };
}

test('through the filter, two threads hold the table one thread holds, or give up where it gives up', async () => {
  const before = usersSplit.adoptedBytes;
  try {
    for (const seed of [1, 2]) {
      const { users, out } = await fixture(seed);
      // In memory; past the budget in the worker's part (the join on disk, its groups sized from there).
      for (const budget of [1_300_000, 1_090_000]) {
        usersSplit.minBytes = Number.POSITIVE_INFINITY;
        const one = await run(out, users, budget);
        assert.equal(one.raw.usersFiltered, true);
        assert.equal(
          one.raw.usersPartitions > 0,
          budget < 1_200_000,
          `${seed} ${budget}: ${one.raw.usersPartitions}`,
        );
        for (const at of [0.2, undefined]) {
          Object.assign(usersSplit, { minBytes: 0, at });
          const adopted = usersSplit.adoptedBytes;
          const two = await run(out, users, budget);
          const w = `seed ${seed}, budget ${budget}, cut at ${at}`;
          assert.equal(two.text, one.text, w);
          assert.deepEqual(two.summary, one.summary, w);
          if (at !== undefined)
            assert.ok(usersSplit.adoptedBytes > adopted, `${w}: the worker's part was taken`);
        }
      }
    }
    assert.ok(usersSplit.adoptedBytes > before);
  } finally {
    Object.assign(usersSplit, { minBytes: SPLIT_MIN_BYTES, at: undefined });
  }
});
