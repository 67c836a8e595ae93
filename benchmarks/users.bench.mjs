#!/usr/bin/env node
/**
 * Benchmark of `personalize-batch export --format csv-long --users CRM.csv`
 * against the same export without --users, on export.bench.mjs's generated
 * .out file and a generated CRM file (customer_id,email,first_name) whose
 * first rows are the .out file's users (out-data.mjs's userId scheme) and
 * the rest users of no recommendation. With the default 10 million rows the
 * users table is far past --memory-budget (64 MiB), so the join is
 * partitioned on disk. Target: at most 1.5x the wall time of the plain
 * export, peak RSS at most 300 MB. See benchmarks/README.md.
 *
 *   npm run build && node benchmarks/users.bench.mjs --mb 1000 --users 10000000
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  fmtInt,
  fmtMB,
  HERE,
  lastJsonLine,
  log,
  MB,
  measure,
  optionErrors,
  ROOT,
  timeWorks,
} from './lib.mjs';
import { userId, writeOutFile } from './out-data.mjs';

const HELP = `Usage: node benchmarks/users.bench.mjs [options]

Times personalize-batch export --format csv-long with and without --users on a generated .out
file and a generated CRM file; prints wall time, CPU time and peak RSS of each, and the ratio.

Options:
  --mb N               size of the .out file in MB (default 1000, about 1.9 million users)
  --users N            rows of the CRM file (default 10000000; the .out file's users first)
  --memory-budget S    export --memory-budget (default: export's own, 64MiB)
  --format F           csv-long (default), csv-wide or jsonl: the same for both runs
  --seed N             generator seed of the .out file (default 7, as export.bench.mjs)
  --repeat N           runs of each (default 1); the median wall time, the highest peak RSS
  --dist DIR           the compiled package to time (default: this repo's dist/)
  --data DIR           where the generated files are kept and reused (default benchmarks/data)
  --out DIR            outputs (default benchmarks/out)
  -h, --help`;

const { fail } = optionErrors('users.bench.mjs');
const { values: opt } = parseArgs({
  options: {
    mb: { type: 'string', default: '1000' },
    users: { type: 'string', default: '10000000' },
    'memory-budget': { type: 'string' },
    format: { type: 'string', default: 'csv-long' },
    seed: { type: 'string', default: '7' },
    repeat: { type: 'string', default: '1' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    data: { type: 'string', default: path.join(HERE, 'data') },
    out: { type: 'string', default: path.join(HERE, 'out') },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}
const mb = Number(opt.mb);
const users = Number(opt.users);
const seed = Number(opt.seed);
const repeat = Number(opt.repeat);
if (!(mb > 0)) fail('--mb must be a positive number');
if (!Number.isInteger(users) || users < 1) fail('--users must be a whole number of at least 1');
if (!Number.isInteger(repeat) || repeat < 1) fail('--repeat must be a whole number of at least 1');
const BIN = path.join(path.resolve(opt.dist), 'src/bin.js');
const dataDir = path.resolve(opt.data);
const outDir = path.resolve(opt.out);

/** The .out file, named and described as export.bench.mjs keeps it, so either reuses the other's. */
async function ensureOut() {
  const file = path.join(dataDir, `out-${mb}mb-seed${seed}.out`);
  const metaPath = `${file}.meta.json`;
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (meta.mb === mb && meta.seed === seed && meta.bytes === (await stat(file)).size)
      return { file, ...meta };
  } catch {
    // not generated yet
  }
  log(`generating ${mb} MB of .out lines (seed ${seed})...`);
  const tmp = `${file}.tmp-${process.pid}`;
  const r = await writeOutFile(tmp, { bytes: mb * MB, seed, items: 25 });
  await rename(tmp, file);
  const meta = { mb, seed, items: 25, lines: r.lines, bytes: r.bytes, generated: new Date().toISOString() };
  await writeFile(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  return { file, ...meta };
}

/** customer_id,email,first_name for users 0..n-1 (the .out file's users are 0..lines-1). */
async function ensureCrm(n) {
  const file = path.join(dataDir, `crm-${n}.csv`);
  try {
    const st = await stat(`${file}.done`);
    if (st.isFile()) return file;
  } catch {
    // not generated yet
  }
  log(`generating a CRM file of ${fmtInt(n)} rows...`);
  const tmp = `${file}.tmp-${process.pid}`;
  const out = createWriteStream(tmp, { highWaterMark: 1 << 20 });
  let chunk = 'customer_id,email,first_name\n';
  for (let i = 0; i < n; i++) {
    const id = userId(i);
    chunk += `${id},${id}@example.com,Name ${i % 9973}\n`;
    if (chunk.length >= 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  await rename(tmp, file);
  await writeFile(`${file}.done`, '');
  return file;
}

async function main() {
  await mkdir(dataDir, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const data = await ensureOut();
  const crm = await ensureCrm(users);
  log(`.out: ${fmtMB(data.bytes)} MB, ${fmtInt(data.lines)} users; CRM: ${fmtMB((await stat(crm)).size)} MB`);
  const useTime = timeWorks();
  const output = path.join(outDir, 'users-bench.csv');
  const budget = opt['memory-budget'] ? ['--memory-budget', opt['memory-budget']] : [];
  const cases = {
    plain: [BIN, 'export', data.file, '--format', opt.format, '-o', output, '--json'],
    users: [
      BIN,
      'export',
      data.file,
      '--format',
      opt.format,
      '-o',
      output,
      '--json',
      '--users',
      crm,
      ...budget,
    ],
  };
  const results = {};
  for (const [name, args] of Object.entries(cases)) {
    const runs = [];
    for (let i = 0; i < repeat; i++) {
      const r = await measure(process.execPath, args, { outDir, useTime, timeoutMs: 3600_000 });
      if (r.exit !== 0) throw new Error(`${name} exited ${r.exit}: ${r.stderr}`);
      const summary = lastJsonLine(r.stdout);
      runs.push({ wall: r.wall, cpu: r.cpu, peakRss: r.peakRss, summary });
      log(`${name}: ${r.wall.toFixed(1)} s, ${fmtMB(r.peakRss)} MB peak`);
    }
    runs.sort((a, b) => a.wall - b.wall);
    const median = runs[Math.floor(runs.length / 2)];
    results[name] = { ...median, peakRss: Math.max(...runs.map((r) => r.peakRss)) };
  }
  await rm(output, { force: true });
  const { plain, users: joined } = results;
  const s = joined.summary ?? {};
  console.log(
    `| export ${opt.format}, ${fmtMB(data.bytes)} MB .out | wall s | CPU s | peak RSS MB | output |`,
  );
  console.log('|---|---|---|---|---|');
  for (const [name, r] of Object.entries(results))
    console.log(
      `| ${name} | ${r.wall.toFixed(1)} | ${r.cpu?.toFixed(1) ?? '-'} | ${fmtMB(r.peakRss)} | ${fmtMB(r.summary?.bytesWritten ?? 0)} MB written |`,
    );
  console.log(
    `\n--users ${fmtInt(users)} rows: ${(joined.wall / plain.wall).toFixed(2)}x the plain wall time (target 1.5x), peak ${fmtMB(joined.peakRss)} MB (target 300); ${s.usersPartitions ?? '?'} partitions, ${fmtInt(s.usersInFile ?? 0)} users in the file, ${fmtInt(s.usersMissing ?? 0)} missing`,
  );
}

await main();
