#!/usr/bin/env node
/**
 * Times command A against command B in one paired run: A B A B ... (after
 * `--warmup` unmeasured pairs), each run under GNU time (`/usr/bin/time -v`:
 * wall, user + sys CPU and peak RSS of the whole process tree's largest
 * process). Prints each figure's min, median and max for A and for B, and
 * the ratios A/B pair by pair. On a shared, noisy machine the ratio of two
 * commands run side by side in time means more than either time alone.
 *
 *   node benchmarks/pair.mjs -n 5 --vs 'node dist/src/bin.js export X.out -o b.csv' -- \
 *     node dist/src/bin.js export X.out --format parquet -o a.parquet
 *
 * Options: -n RUNS (pairs, default 5), --warmup PAIRS (default 1), --timeout
 * SECONDS per run (default 600), --json (the runs as one JSON line at the end),
 * --before 'CMD' (a shell command run, unmeasured, before every run: see below).
 * Exit status 1 when a run failed or timed out (its exit status is printed).
 *
 * Why --before: this VM pays for page-cache writes in system time, most of
 * all when memory is full of cached files and every new page must first be
 * reclaimed (seen: one jsonl export 1.97 s with memory free, 5.1 s with the
 * cache full, 8.9 s writing over its own previous output), and the disk
 * takes dirty pages at about 280 MB/s, so a run that writes gigabytes slows
 * the next one, often the other side's. The benchmarks' README runs
 * `--before 'sync; echo 1 > /proc/sys/vm/drop_caches; cat INPUT > /dev/null'`
 * so that every run starts alike: nothing to write back, memory free, the
 * input in the cache.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { measure, timeWorks } from './lib.mjs';

function usage(msg) {
  process.stderr.write(
    `pair.mjs: ${msg}\nusage: node benchmarks/pair.mjs [-n RUNS] [--warmup PAIRS] [--timeout S] [--json] [--before 'CMD'] --vs 'B COMMAND' -- A COMMAND...\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const o = { runs: 5, warmup: 1, timeout: 600, json: false, before: undefined, vs: undefined, a: [] };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const num = () => {
    const n = Number(argv[++i]);
    if (!Number.isInteger(n) || n < 0) usage(`${a} takes a whole number`);
    return n;
  };
  if (a === '--') {
    o.a = argv.slice(i + 1);
    break;
  }
  if (a === '-n' || a === '--runs') o.runs = Math.max(1, num());
  else if (a === '--warmup') o.warmup = num();
  else if (a === '--timeout') o.timeout = num();
  else if (a === '--json') o.json = true;
  else if (a === '--before') o.before = argv[++i];
  else if (a === '--vs') o.vs = argv[++i];
  else usage(`unknown option ${a}`);
}
if (!o.vs || o.a.length === 0) usage('give B with --vs and A after --');
if (!timeWorks()) usage('GNU time (/usr/bin/time) is needed for CPU time and peak RSS: apt-get install time');

const commands = { A: o.a, B: ['sh', '-c', o.vs] };
const outDir = await mkdtemp(path.join(os.tmpdir(), 'pair-'));
const runs = { A: [], B: [] };
let failed = false;
try {
  for (let p = 0; p < o.warmup + o.runs; p++) {
    for (const side of ['A', 'B']) {
      const [cmd, ...args] = commands[side];
      if (o.before !== undefined) spawnSync('sh', ['-c', o.before], { stdio: 'ignore' });
      const r = await measure(cmd, args, { outDir, useTime: true, timeoutMs: o.timeout * 1000 });
      const ok = r.exit === 0 && !r.timedOut;
      if (!ok) {
        failed = true;
        process.stderr.write(
          `${side} run ${p + 1}: exit ${r.exit}${r.timedOut ? ' (timed out)' : ''}\n${r.stderr.slice(-2000)}\n`,
        );
      }
      if (p >= o.warmup) runs[side].push({ wall: r.wall, cpu: r.cpu, peakMiB: r.peakRss / 2 ** 20 });
    }
  }
} finally {
  await rm(outDir, { recursive: true, force: true });
}

const stats = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return { min: s[0], median: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1] };
};
const fmt = (st, digits) =>
  st ? `${st.median.toFixed(digits)} (${st.min.toFixed(digits)} to ${st.max.toFixed(digits)})` : 'n/a';
process.stdout.write(
  `${o.runs} pairs (after ${o.warmup} warm-up${o.before !== undefined ? `, \`${o.before}\` before each run` : ''}), ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}\nA: ${o.a.join(' ')}\nB: ${o.vs}\n`,
);
const rows = [
  ['wall s', 'wall', 2],
  ['CPU s (user+sys)', 'cpu', 2],
  ['peak RSS MiB', 'peakMiB', 0],
];
for (const [label, key, digits] of rows) {
  const a = stats(runs.A.map((r) => r[key]));
  const b = stats(runs.B.map((r) => r[key]));
  const ratio = stats(runs.A.map((r, i) => r[key] / runs.B[i][key]));
  process.stdout.write(
    `${label.padEnd(17)} A ${fmt(a, digits)}  B ${fmt(b, digits)}  A/B ${fmt(ratio, 2)}\n`,
  );
}
if (o.json) process.stdout.write(`${JSON.stringify({ runs })}\n`);
process.exit(failed ? 1 : 0);
