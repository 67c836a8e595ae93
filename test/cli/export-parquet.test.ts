import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, useTmp } from '../helpers.js';
import { REFERENCE } from '../out-fixtures.js';

// export --format parquet --partition-by from the command line: help, the
// folder written, and the usage errors.

const tmp = useTmp();

test('export --help shows parquet and --partition-by with an example', async () => {
  const r = await cli(['export', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--format F\s+csv-long\|csv-wide\|jsonl\|parquet\|parquet-wide/);
  assert.match(r.stdout, /--format parquet-wide --top 10 -o wide.parquet/);
  assert.match(r.stdout, /--partition-by K=V/);
  assert.match(r.stdout, /--format parquet --partition-by run_date=2026-12-06/);
});

test('--partition-by run_date=...,region=eu writes OUT/run_date=.../region=eu/part-00000.parquet', async () => {
  const src = tmp.fresh('a.out');
  await writeFile(src, `${REFERENCE.userPersonalization}\n`);
  const out = tmp.fresh('lake');
  const r = await cli([
    'export',
    src,
    '--format',
    'parquet',
    '--partition-by',
    'run_date=2026-12-06,region=eu',
    '-o',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /export \(parquet\): .*3 rows/);
  assert.deepEqual(await readdir(join(out, 'run_date=2026-12-06', 'region=eu')), ['part-00000.parquet']);
  const bad = await cli(['export', src, '--format', 'parquet', '--partition-by', 'run_date', '-o', out]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--partition-by takes KEY=VALUE pairs/);
  const csv = await cli(['export', src, '--partition-by', 'run_date=1', '-o', out]);
  assert.equal(csv.code, 2);
  assert.match(csv.stderr, /add --format parquet/);
});
