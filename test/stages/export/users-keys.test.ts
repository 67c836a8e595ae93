import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { exportOutputs } from '../../../src/stages/export/index.js';
import type { ResolvedExportOptions } from '../../../src/stages/export/options.js';
import { keysSplit, outputUserKeys } from '../../../src/stages/export/users-keys.js';
import { prng, rejectsWith, useTmp } from '../../helpers.js';

// A users file past half of --memory-budget is read for the outputs' users
// only: the outputs are read once for their user keys (a filter), in every
// form the service or a hand writes them.

const tmp = useTmp();
const BUDGET = 1_300_000;

async function crm(rows: string[]): Promise<string> {
  const f = tmp.fresh('crm.csv');
  // Fillers past half the budget, so the file is read through the filter.
  const fill: string[] = [];
  for (let i = 0; i < 30_000; i++) fill.push(`filler-${i},f${i}@example.com,F`);
  await writeFile(f, ['key,email,name', ...fill, ...rows, ''].join('\n'));
  return f;
}

async function out(lines: string[]): Promise<string> {
  const f = tmp.fresh('in.out');
  await writeFile(f, `${lines.join('\n')}\n`);
  return f;
}

const rec = (input: string) => `${input}, "output": {"recommendedItems": ["i1"], "scores": [0.5]}}`;

test('keys written with spaces, with escapes, in error lines: their rows are joined', async () => {
  const users = await crm(['u1,a@x,Ann', 'u"2,b@x,Bob', 'Zoë,z@x,Zoë', 'u4,d@x,Dan']);
  const source = await out([
    rec('{"input": {"userId": "u1"}'),
    rec('{"input":{"userId":"u\\"2"}'),
    rec('{"input":{"userId":"Zo\\u00eb"}'),
    '{"input":{"userId":"u4"},"error":"Invalid userId"}',
  ]);
  const output = tmp.fresh('o.csv');
  const s = await exportOutputs({ sources: [source], output, users, userKey: 'key', memoryBudget: BUDGET });
  assert.equal(s.usersFiltered, true);
  assert.equal(s.usersPartitions, 0);
  assert.equal(s.usersMissing, 0);
  assert.equal(s.usersInFile, 30_004);
  const text = await readFile(output, 'utf8');
  assert.match(text, /u1,1,i1,0\.5,a@x,Ann/);
  assert.match(text, /"u""2",1,i1,0\.5,b@x,Bob/);
  assert.match(text, /Zoë,1,i1,0\.5,z@x,Zoë/);
});

test('through the filter, a bad row of a user the outputs do not name is not read; of one they name, it is an error', async () => {
  const source = await out([rec('{"input":{"userId":"u1"}')]);
  const output = tmp.fresh('o.csv');
  const skipped = await crm(['u1,a@x,Ann', 'nobody,n@x,N,extra']);
  const s = await exportOutputs({
    sources: [source],
    output,
    users: skipped,
    userKey: 'key',
    memoryBudget: BUDGET,
  });
  assert.equal(s.usersFiltered, true);
  assert.equal(s.usersMissing, 0);
  // The same row beside a quoted cell (which takes the general row reader): skipped all the same.
  // Which reader a row meets depends on where the reads cut the file, so it must not decide.
  for (const rows of [
    ['u1,a@x,"Ann, B"', 'nobody,n@x,N,extra'],
    ['nobody,n@x,N,extra', 'u1,a@x,"Ann, B"'],
    ['"nobody",n@x', 'u1,a@x,Ann'],
  ]) {
    const quoted = await exportOutputs({
      sources: [source],
      output,
      users: await crm(rows),
      userKey: 'key',
      memoryBudget: BUDGET,
    });
    assert.equal(quoted.usersMissing, 0, rows.join(' / '));
  }
  await rejectsWith(
    exportOutputs({
      sources: [source],
      output,
      users: await crm(['u1,a@x,"Ann",extra']),
      userKey: 'key',
      memoryBudget: BUDGET,
    }),
    'PB_INVALID_RECORD',
    /expected 3 fields/,
  );
  const refused = await crm(['u1,a@x,Ann,extra']);
  await rejectsWith(
    exportOutputs({ sources: [source], output, users: refused, userKey: 'key', memoryBudget: BUDGET }),
    'PB_INVALID_RECORD',
    /expected 3 fields/,
  );
});

test("an Excel CRM file (semicolons, Windows-1252, quoted cells, CRLF) past the budget: the rows held in memory's", async () => {
  const lines = ['customer_id;email;first_name'];
  for (let i = 0; i < 30_000; i++)
    lines.push(
      i % 7 === 0
        ? `c${i};c${i}@x;Zoë Müller`
        : i % 11 === 0
          ? `c${i};c${i}@x;"Smith; Jo"`
          : `c${i};c${i}@x;Ann`,
    );
  const users = tmp.fresh('crm-1252.csv');
  await writeFile(users, Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'));
  const source = await out([0, 7, 11, 13, 29_999].map((i) => rec(`{"input": {"userId": "c${i}"}`)));
  const opts = { sources: [source], users, usersEncoding: 'windows-1252', userKey: 'customer_id' };
  const big = tmp.fresh('big.csv');
  const small = tmp.fresh('small.csv');
  const held = await exportOutputs({ ...opts, output: big, memoryBudget: 512 * 1024 * 1024 });
  const read = await exportOutputs({ ...opts, output: small, memoryBudget: BUDGET });
  assert.equal(held.usersFiltered, false);
  assert.equal(read.usersFiltered, true);
  assert.equal(read.usersMissing, 0);
  const text = await readFile(small, 'utf8');
  assert.equal(text, await readFile(big, 'utf8'));
  assert.match(text, /c7,1,i1,0\.5,c7@x,Zoë Müller/);
  assert.match(text, /c11,1,i1,0\.5,c11@x,Smith; Jo\r\n/);
});

test('the key pass on two threads sets the bits and count one thread sets, on random files cut anywhere', async () => {
  const rand = prng(16);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const forms = [
    (k: string) => `{"input":{"userId":"${k}"},"output":{"recommendedItems":["i1"]},"error":null}`,
    (k: string) => `{"input": {"userId": "${k}"}, "output": {"recommendedItems": ["i1"], "scores": [0.5]}}`,
    (k: string) => `{"input":{"userId":"${k}\\"x"},"error":"Invalid userId"}`,
    (k: string) => `{"input":{"itemId":"${k}"},"output":{"recommendedItems":["u1"]}}`,
    () => '',
    () => 'not json',
    (k: string) => `{"input":{"userId":"${k}"},"output":{"recommendedItems":["${'x'.repeat(300)}"]}}`,
  ];
  const o = { pieceSize: 1024, maxLineLength: 200, memoryBudget: 1 << 20 } as ResolvedExportOptions;
  const saved = keysSplit.minBytes;
  try {
    for (let round = 0; round < 4; round++) {
      const lines: string[] = [];
      const n = 400 + Math.floor(rand() * 2000);
      for (let i = 0; i < n; i++) lines.push(pick(forms)(`u${Math.floor(rand() * 5000)}`));
      const eol = round % 2 === 0 ? '\n' : '\r\n';
      const source = await out([(round === 1 ? '\ufeff' : '') + lines.join(eol)]);
      keysSplit.minBytes = Number.POSITIVE_INFINITY;
      const one = await outputUserKeys([source, source], o);
      keysSplit.minBytes = 1;
      const parts = keysSplit.parts;
      const two = await outputUserKeys([source, source], o);
      assert.equal(keysSplit.parts, parts + 2, `round ${round}: both files cut`);
      assert.ok(one && two);
      assert.equal(two.added, one.added, `round ${round}`);
      assert.ok(one.added > 0);
      assert.deepEqual(new Uint8Array(two.shared()), new Uint8Array(one.shared()), `round ${round}`);
    }
  } finally {
    keysSplit.minBytes = saved;
  }
});
