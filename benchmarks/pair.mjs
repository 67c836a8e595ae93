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
 * --settle (`sync` before every run, unmeasured: see below).
 * Exit status 1 when a run failed or timed out (its exit status is printed).
 *
 * Why --settle: a run that writes gigabytes leaves them dirty in the page
 * cache; the disk here takes them at about 280 MB/s, so the next run (often
 * the other side's) is throttled by writeback it did not cause, and a pair's
 * ratio swings with the order (seen: the same export 2.3 s in one pair, 5.7 s
 * in the next). With --settle every run starts with nothing left to write back.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { measure, timeWorks } from './lib.mjs';

function usage(msg) {
  process.stderr.write(
    `pair.mjs: ${msg}\nusage: node benchmarks/pair.mjs [-n RUNS] [--warmup PAIRS] [--timeout S] [--json] [--settle] --vs 'B COMMAND' -- A COMMAND...\n`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
const o = { runs: 5, warmup: 1, timeout: 600, json: false, settle: false, vs: undefined, a: [] };
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
  else if (a === '--settle') o.settle = true;
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
      if (o.settle) spawnSync('sync', { stdio: 'ignore' });
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
  `${o.runs} pairs (after ${o.warmup} warm-up${o.settle ? ', sync before each run' : ''}), ${os.cpus().length} cores, load ${os
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
