#!/usr/bin/env node
/**
 * `export --format parquet` against csv-long on the same .out file, and
 * DuckDB's own read_json + unnest + COPY TO parquet against csv-long too,
 * each as a paired run of pair.mjs (A B A B ...: the ratio stays meaningful
 * on a shared, noisy machine). See benchmarks/README.md.
 *
 *   npm run build && node benchmarks/parquet.bench.mjs --data benchmarks/data/out-500mb-seed7.out
 *
 * Prints pair.mjs's reports as they come; the figures to quote are the
 * medians of wall time, peak RSS and the ratio A/B.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HERE, ROOT } from './lib.mjs';

const { values: v } = parseArgs({
  options: {
    data: { type: 'string' },
    runs: { type: 'string', default: '3' },
    timeout: { type: 'string', default: '1200' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    tmp: { type: 'string', default: path.join(HERE, 'tmp-parquet') },
    skip: { type: 'string', default: '' },
  },
});
if (!v.data || !existsSync(v.data)) {
  process.stderr.write(
    'usage: node benchmarks/parquet.bench.mjs --data FILE.out [--runs 3] [--timeout 1200] [--dist DIR] [--tmp DIR] [--skip duckdb]\n',
  );
  process.exit(2);
}
const bin = path.join(v.dist, 'src', 'bin.js');
await mkdir(v.tmp, { recursive: true });
const out = (name) => path.join(v.tmp, name);
const csvLong = `node ${bin} export ${v.data} -o ${out('long.csv')}`;
const pairs = [
  [
    'export --format parquet vs csv-long',
    `node ${bin} export ${v.data} --format parquet -o ${out('recs.parquet')}`,
  ],
  [
    'DuckDB COPY TO parquet vs export csv-long',
    `node ${path.join(HERE, 'duckdb-export.mjs')} ${v.data} ${out('duckdb.parquet')} parquet`,
  ],
];
for (const [what, cmd] of pairs) {
  if (v.skip.split(',').includes(what.split(' ')[0].toLowerCase())) continue;
  process.stdout.write(`\n## ${what}\nA: ${cmd}\nB: ${csvLong}\n`);
  const r = spawnSync(
    process.execPath,
    [
      path.join(HERE, 'pair.mjs'),
      ...['-n', v.runs, '--warmup', '0', '--timeout', v.timeout, '--vs', csvLong, '--'],
      ...cmd.split(' '),
    ],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) process.stdout.write(`pair.mjs exited ${r.status}\n`);
}
await rm(v.tmp, { recursive: true, force: true });
