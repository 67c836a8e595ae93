#!/usr/bin/env node
/**
 * Benchmark of `personalize-batch collect` at tens of millions of keys: wall
 * time, peak RSS and the disk its partitions take, on generated shard outputs
 * whose missing, duplicated and failed keys are known, so the run is also
 * checked. See benchmarks/README.md.
 *
 *   npm run build && node benchmarks/collect.bench.mjs --keys 10000000
 *
 * collect runs as a child process under `/usr/bin/time -v` (wall time, CPU
 * time, peak RSS); without it, peak RSS is polled from /proc/PID/status (VmHWM).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DUCKDB_MISSING,
  duckdbInstalled,
  envLine,
  fmtInt,
  fmtMB,
  HERE,
  MB,
  machineEnv,
  measure as measureChild,
  optionErrors,
  ROOT,
  TIME,
  timeWorks,
} from './lib.mjs';
import { formatScore, userId } from './out-data.mjs';

const GEN_VERSION = 1;
// Per 10,000 keys: missing from every output, in two shards' outputs, failed (an error line only).
const MISSING = 50;
const DUPLICATED = 20;
const FAILED = 10;

const HELP = `Usage: node benchmarks/collect.bench.mjs [options]

Generates (or reuses) a batch input of N users split over several shard files, and the .out
files of the matching batch job in one folder per shard, each shard's lines in shuffled order
(3 items with scores a line). 0.5% of the keys have no output line, 0.2% have a successful line
in two shards' outputs (a rerun), 0.1% have an error line only. Then runs
  personalize-batch collect DATA/out/shard-*/ --input DATA/input-*.jsonl -o ... --json
and checks its counts and files against the generator's, and prints a markdown table with wall
time, MB/s of output read, peak RSS and the peak size of its spill folder. Then, beside it, DuckDB's
anti-join of the same input and outputs (duckdb-collect.mjs: read_json of both, the input records
whose userId no output line echoes, COPY to a file), checked by its line count.

Options:
  --keys N                 users (default 1000000)
  --shards N               input files and output folders (default 8)
  --seed N                 generator seed (default 11)
  --memory-budget SIZE     passed on to collect --memory-budget (default: collect's own, 64MiB)
  --dist DIR               the compiled package to time (default: this repo's dist/)
  --data DIR               where the data set is kept and reused (default benchmarks/data)
  --out DIR                outputs, spill folder and results JSON (default benchmarks/out)
  --timeout SECONDS        kill the run after this long (default none)
  --keep-output            keep merged.jsonl, missing.jsonl, errors.jsonl (default: deleted after checking)
  --skip-duckdb            do not run DuckDB's anti-join
  --duckdb-threads N       DuckDB threads (default: DuckDB's own, = cores)
  --duckdb-memory-limit S  DuckDB memory_limit, e.g. 256MB (default: DuckDB's own, 80% of RAM)
  -h, --help`;

const { values: opt } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    shards: { type: 'string', default: '8' },
    seed: { type: 'string', default: '11' },
    'memory-budget': { type: 'string' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    data: { type: 'string', default: path.join(HERE, 'data') },
    out: { type: 'string', default: path.join(HERE, 'out') },
    timeout: { type: 'string' },
    'keep-output': { type: 'boolean', default: false },
    'skip-duckdb': { type: 'boolean', default: false },
    'duckdb-threads': { type: 'string' },
    'duckdb-memory-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}

const { fail, intOption } = optionErrors('collect.bench');
const keys = intOption('keys', opt.keys);
const shards = intOption('shards', opt.shards);
const seed = intOption('seed', opt.seed);
if (shards < 2) fail('--shards must be at least 2 (duplicates go to another shard)');
if (keys < shards) fail('--keys must be at least --shards');
const timeoutMs = opt.timeout === undefined ? undefined : intOption('timeout', opt.timeout) * 1000;
const DIST = path.resolve(opt.dist);
const BIN = path.join(DIST, 'src/bin.js');
const outDir = path.resolve(opt.out);
const dataDir = path.join(path.resolve(opt.data), `collect-${keys}-s${shards}-seed${seed}`);

const log = (msg) => console.error(`[bench] ${new Date().toISOString().slice(11, 19)} ${msg}`);

// ---------------------------------------------------------------------------
// The data set.

/** A key's fate, fixed by its number and the seed: 0-9999, see MISSING etc. */
function fate(n) {
  let h = Math.imul(n ^ Math.imul(seed, 0x27d4eb2d), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % 10000;
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** i -> (a*i + b) mod m, a bijection on [0, m) that scatters neighbours: the shard's output order. */
function scatter(m, salt) {
  let a = Math.max(1, Math.floor(m * 0.6180339887) + salt);
  while (gcd(a, m) !== 1) a++;
  const b = Math.floor(m / 3) + salt;
  // a*i stays under 2^53 for m under 94 million; BigInt past that.
  if (m < 94_000_000) return (i) => (a * i + b) % m;
  const A = BigInt(a);
  const B = BigInt(b);
  const M = BigInt(m);
  return (i) => Number((A * BigInt(i) + B) % M);
}

/** The successful line of user n: 3 items with decreasing scores, all from n (a rerun repeats it). */
function okLine(n) {
  let x = Math.imul(n + 1, 0x2545f491) >>> 0;
  const next = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return x / 4294967296;
  };
  const ids = [];
  const scores = [];
  let s = 0.05 + next() * 0.1;
  for (let i = 0; i < 3; i++) {
    ids.push(`"${1 + Math.floor(next() * 100000)}"`);
    scores.push(formatScore(s));
    s *= 0.55 + next() * 0.4;
  }
  return `{"input":{"userId":"${userId(n)}"},"output":{"recommendedItems":[${ids.join(',')}],"scores":[${scores.join(',')}]},"error":null}\n`;
}

function errorLine(n) {
  return `{"input":{"userId":"${userId(n)}"},"output":null,"error":"User not found in the solution version's training data"}\n`;
}

/** A write stream fed 1 MB strings. */
function sink(file) {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  let chunk = '';
  let bytes = 0;
  return {
    async put(s) {
      chunk += s;
      bytes += s.length;
      if (chunk.length >= 1 << 20) {
        if (!out.write(chunk)) await once(out, 'drain');
        chunk = '';
      }
    },
    async end() {
      out.end(chunk);
      await once(out, 'finish');
      return bytes;
    },
  };
}

const pad = (i) => String(i).padStart(5, '0');
const inputFile = (k) => path.join(dataDir, `input-${pad(k)}.jsonl`);
const shardDir = (k) => path.join(dataDir, 'out', `shard-${pad(k)}`);

/**
 * Input shard k holds users [k*N/S, (k+1)*N/S) in order. Its output folder
 * holds `input-k.jsonl.out` with those users in scattered order (the missing
 * ones left out, the failed ones as error lines) and `rerun-of-(k-1).out`,
 * the duplicated users of the previous shard once more. Everything the
 * checks need is counted here.
 */
async function generate() {
  const t0 = performance.now();
  await rm(dataDir, { recursive: true, force: true });
  const exp = {
    keys,
    shards,
    seed,
    missing: 0,
    duplicates: 0,
    failed: 0,
    outputLines: 0,
    written: 0,
    inputBytes: 0,
    outputBytes: 0,
    mergedBytes: 0,
    errorsBytes: 0,
    missingSha256: '',
  };
  const missingHash = createHash('sha256');
  for (let k = 0; k < shards; k++) await mkdir(shardDir(k), { recursive: true });
  for (let k = 0; k < shards; k++) {
    const lo = Math.floor((k * keys) / shards);
    const hi = Math.floor(((k + 1) * keys) / shards);
    const input = sink(inputFile(k));
    let missingText = '';
    for (let n = lo; n < hi; n++) {
      const line = `{"userId":"${userId(n)}"}\n`;
      await input.put(line);
      if (fate(n) < MISSING) {
        missingText += line;
        if (missingText.length > 1 << 16) {
          missingHash.update(missingText);
          missingText = '';
        }
      }
    }
    missingHash.update(missingText);
    exp.inputBytes += await input.end();
    const out = sink(path.join(shardDir(k), `input-${pad(k)}.jsonl.out`));
    const rerun = sink(path.join(shardDir((k + 1) % shards), `rerun-of-${pad(k)}.jsonl.out`));
    const order = scatter(hi - lo, k);
    for (let i = 0; i < hi - lo; i++) {
      const n = lo + order(i);
      const f = fate(n);
      if (f < MISSING) {
        exp.missing++;
        continue;
      }
      if (f < MISSING + DUPLICATED + FAILED && f >= MISSING + DUPLICATED) {
        const line = errorLine(n);
        exp.failed++;
        exp.outputLines++;
        exp.errorsBytes += line.length;
        await out.put(line);
        continue;
      }
      const line = okLine(n);
      exp.outputLines++;
      exp.written++;
      exp.mergedBytes += line.length;
      await out.put(line);
      if (f < MISSING + DUPLICATED) {
        exp.duplicates++;
        exp.outputLines++;
        await rerun.put(line);
      }
    }
    exp.outputBytes += await out.end();
    exp.outputBytes += await rerun.end();
    log(`generated shard ${k + 1}/${shards} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  exp.missingSha256 = missingHash.digest('hex');
  return exp;
}

async function ensureData() {
  const metaPath = path.join(dataDir, 'meta.json');
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    if (
      meta.version === GEN_VERSION &&
      (await dirBytes(dataDir)) - (await stat(metaPath)).size === meta.inputBytes + meta.outputBytes
    ) {
      log(`reusing ${path.relative(process.cwd(), dataDir)}`);
      return meta;
    }
    log(`${path.relative(process.cwd(), dataDir)} does not match its meta.json; generating it again`);
  } catch {
    // not generated yet
  }
  log(`generating ${fmtInt(keys)} keys in ${shards} shards (seed ${seed})...`);
  const t0 = performance.now();
  const exp = await generate();
  const meta = { version: GEN_VERSION, ...exp, generated: new Date().toISOString() };
  await writeFile(`${metaPath}.tmp`, `${JSON.stringify(meta, null, 2)}\n`);
  await rename(`${metaPath}.tmp`, metaPath);
  log(
    `wrote ${fmtMB(exp.inputBytes)} MB of input, ${fmtMB(exp.outputBytes)} MB of output in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  return meta;
}

/** Bytes of the files under dir (0 once it is gone). */
async function dirBytes(dir) {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else
      try {
        total += (await stat(p)).size;
      } catch {
        // removed meanwhile
      }
  }
  return total;
}

// ---------------------------------------------------------------------------
// Measuring the child process (lib.mjs), plus its spill folder.

const haveTime = timeWorks();

/**
 * lib.mjs's measure(), polling every 500 ms the spill folder's size and collect's own VmHWM
 * and VmRSS (under time, the node process is time's child), kept as samples every 2 s or so.
 */
async function measure(cmd, args, spillDir) {
  let spillPeak = 0;
  const samples = [];
  const t0 = process.hrtime.bigint();
  const sample = async (child) => {
    const bytes = await dirBytes(spillDir);
    spillPeak = Math.max(spillPeak, bytes);
    let pid = child.pid;
    if (haveTime) {
      const kids = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
      pid = Number(kids.trim().split(/\s+/)[0]) || 0;
    }
    const st = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '') : '';
    const hwm = /VmHWM:\s+(\d+) kB/.exec(st);
    const rss = /VmRSS:\s+(\d+) kB/.exec(st);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (rss && (samples.length === 0 || s - samples.at(-1).s >= 2))
      samples.push({
        s: Math.round(s),
        rssMB: Math.round(Number(rss[1]) / 1024),
        spillMB: Math.round(bytes / MB),
      });
    return hwm ? Number(hwm[1]) : 0;
  };
  const m = await measureChild(cmd, args, { outDir, useTime: haveTime, timeoutMs, sample, pollMs: 500 });
  // The fields (and their order) the results JSON has always had; othersCpu was never among them.
  return {
    wall: m.wall,
    cpu: m.cpu,
    peakRss: m.peakRss,
    spillPeak,
    samples,
    exit: m.exit,
    timedOut: m.timedOut,
    stdout: m.stdout,
    stderr: m.stderr,
  };
}

// ---------------------------------------------------------------------------
// Checking the run.

async function fileFacts(file) {
  const h = createHash('sha256');
  let lines = 0;
  let bytes = 0;
  for await (const buf of createReadStream(file, { highWaterMark: 1 << 20 })) {
    h.update(buf);
    bytes += buf.length;
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  }
  return { lines, bytes, sha256: h.digest('hex') };
}

async function check(exp, summary, files) {
  const problems = [];
  const want = {
    sources: 2 * shards,
    inputFiles: shards,
    inputRecords: keys,
    outputLines: exp.outputLines,
    written: exp.written,
    duplicates: exp.duplicates,
    errorLines: exp.failed,
    failedKeys: exp.failed,
    recovered: 0,
    missing: exp.missing,
    inputDuplicates: 0,
    inputWithoutKey: 0,
    unexpected: 0,
    invalid: 0,
  };
  for (const [k, v] of Object.entries(want))
    if (summary[k] !== v) problems.push(`${k} ${summary[k]}, expected ${v}`);
  const merged = await fileFacts(files.merged);
  if (merged.lines !== exp.written || merged.bytes !== exp.mergedBytes)
    problems.push(
      `merged.jsonl: ${merged.lines} lines/${merged.bytes} bytes, expected ${exp.written}/${exp.mergedBytes}`,
    );
  const errors = await fileFacts(files.errors);
  if (errors.lines !== exp.failed || errors.bytes !== exp.errorsBytes)
    problems.push(
      `errors.jsonl: ${errors.lines} lines/${errors.bytes} bytes, expected ${exp.failed}/${exp.errorsBytes}`,
    );
  const missing = await fileFacts(files.missing);
  if (missing.lines !== exp.missing || missing.sha256 !== exp.missingSha256)
    problems.push(
      `missing.jsonl: ${missing.lines} lines, or its bytes differ from the input's missing lines`,
    );
  return { problems, mergedBytes: merged.bytes };
}

// ---------------------------------------------------------------------------
// DuckDB's anti-join of the same files.

async function runDuckdb(exp, run) {
  const missing = path.join(run, 'duckdb-missing.jsonl');
  const temp = path.join(run, 'duckdb-tmp');
  await mkdir(temp, { recursive: true });
  const args = [
    path.join(HERE, 'duckdb-collect.mjs'),
    path.join(dataDir, 'input-*.jsonl'),
    path.join(dataDir, 'out', '*', '*.out'),
    missing,
    '--temp-dir',
    temp,
  ];
  if (opt['duckdb-threads']) args.push('--threads', opt['duckdb-threads']);
  if (opt['duckdb-memory-limit']) args.push('--memory-limit', opt['duckdb-memory-limit']);
  log('running DuckDB anti-join...');
  const r = await measure(process.execPath, args, temp);
  let info = {};
  try {
    info = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    // reported below
  }
  const problems = [];
  if (r.exit !== 0 || r.timedOut) problems.push(`duckdb exit ${r.exit}; stderr: ${r.stderr.slice(-2000)}`);
  else {
    const facts = await fileFacts(missing);
    if (facts.lines !== exp.missing)
      problems.push(`duckdb: ${facts.lines} missing lines, expected ${exp.missing}`);
  }
  log(
    `duckdb: ${r.wall.toFixed(1)} s wall, ${r.cpu === null ? '?' : r.cpu.toFixed(1)} s CPU, ` +
      `${fmtMB(r.peakRss)} MB peak RSS, temp peak ${fmtMB(r.spillPeak)} MB, exit ${r.exit}`,
  );
  await rm(missing, { force: true });
  await rm(temp, { recursive: true, force: true });
  return { r, info, problems };
}

// ---------------------------------------------------------------------------

async function main() {
  if (!existsSync(BIN)) fail(`${BIN} is missing: run npm run build first`);
  await mkdir(outDir, { recursive: true });
  const exp = await ensureData();
  if (!haveTime)
    log(`not using ${TIME}: peak RSS is polled from /proc/PID/status (VmHWM), CPU time not shown`);

  const run = path.join(outDir, `collect-${keys}`);
  await rm(run, { recursive: true, force: true });
  const spillDir = path.join(run, 'tmp');
  await mkdir(spillDir, { recursive: true });
  const files = {
    merged: path.join(run, 'merged.jsonl'),
    missing: path.join(run, 'missing.jsonl'),
    errors: path.join(run, 'errors.jsonl'),
  };
  const args = [BIN, 'collect'];
  for (let k = 0; k < shards; k++) args.push(shardDir(k));
  for (let k = 0; k < shards; k++) args.push('--input', inputFile(k));
  args.push('-o', files.merged, '--missing', files.missing, '--errors', files.errors);
  args.push('--tmp-dir', spillDir, '--json');
  if (opt['memory-budget']) args.push('--memory-budget', opt['memory-budget']);
  const shown = args.map((a) => (a.startsWith('/') ? path.relative(ROOT, a) : a));
  log(`running: node ${shown.slice(0, 3).join(' ')} ... (${2 * shards} sources, ${shards} inputs)`);

  const env = machineEnv(DIST);
  const r = await measure(process.execPath, args, spillDir);
  log(
    `collect: ${r.wall.toFixed(1)} s wall, ${r.cpu === null ? '?' : r.cpu.toFixed(1)} s CPU, ` +
      `${fmtMB(r.peakRss)} MB peak RSS, spill peak ${fmtMB(r.spillPeak)} MB, exit ${r.exit}${r.timedOut ? ' (timed out)' : ''}`,
  );
  let summary = null;
  try {
    summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    // reported below
  }
  // Exit 1 is collect's answer when records are missing or failed, as here.
  let result = { problems: [] };
  if (r.timedOut || r.exit !== 1 || !summary) {
    result.problems.push(
      `collect exit ${r.exit}${r.timedOut ? ' (timed out)' : ''}; stderr: ${r.stderr.slice(-2000)}`,
    );
  } else {
    log('checking counts and files...');
    result = await check(exp, summary, files);
  }
  let duck;
  if (opt['skip-duckdb']) log('DuckDB skipped (--skip-duckdb)');
  else if (!duckdbInstalled()) log(DUCKDB_MISSING);
  else duck = await runDuckdb(exp, run);
  if (!opt['keep-output']) await rm(run, { recursive: true, force: true });

  const ok = result.problems.length === 0 && (!duck || duck.problems.length === 0);
  const lines = [];
  lines.push(
    `${fmtInt(keys)} keys in ${shards} shards (seed ${seed}); ${envLine(env)}` +
      `${opt['memory-budget'] ? `, --memory-budget ${opt['memory-budget']}` : ''}`,
  );
  lines.push('');
  lines.push(
    '| tool | keys | input MB | output MB | output lines | wall s | CPU s | output MB/s | peak RSS MB | spill peak MB | check |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const row = (tool, m, check) =>
    `| ${tool} | ${fmtInt(keys)} | ${fmtMB(exp.inputBytes)} | ${fmtMB(exp.outputBytes)} | ${fmtInt(exp.outputLines)} | ${m.wall.toFixed(1)} | ` +
    `${m.cpu === null ? '–' : m.cpu.toFixed(1)} | ${(exp.outputBytes / MB / m.wall).toFixed(1)} | ${fmtMB(m.peakRss)} | ` +
    `${fmtMB(m.spillPeak)} | ${check} |`;
  const collectOk = result.problems.length === 0;
  lines.push(
    row(
      'collect',
      r,
      collectOk
        ? `✓ ${fmtInt(exp.missing)} missing, ${fmtInt(exp.duplicates)} duplicates, ${fmtInt(exp.failed)} failed`
        : '✗',
    ),
  );
  if (duck) {
    const threads = duck.info.threads ? `, ${duck.info.threads} threads` : '';
    lines.push(
      row(
        `DuckDB ${duck.info.version ?? '?'} anti-join${threads}`,
        duck.r,
        duck.problems.length === 0 ? `✓ ${fmtInt(exp.missing)} missing (missing file only)` : '✗',
      ),
    );
  }
  lines.push('');
  for (const p of [...result.problems, ...(duck?.problems ?? [])]) lines.push(`- PROBLEM: ${p}`);
  // At most about 30 samples in the table; all of them in the results JSON.
  const every = Math.max(1, Math.ceil(r.samples.length / 30));
  const picked = r.samples.filter((_, i) => i % every === 0 || i === r.samples.length - 1);
  lines.push(
    `- RSS and spill over time (s: RSS MB / spill MB): ${picked.map((x) => `${x.s}: ${x.rssMB}/${x.spillMB}`).join(', ')}`,
  );
  const table = lines.join('\n');
  console.log(table);
  const resultsFile = path.join(
    outDir,
    `collect-results-${keys}${opt['memory-budget'] ? `-mb${opt['memory-budget']}` : ''}.json`,
  );
  await writeFile(
    resultsFile,
    `${JSON.stringify({ env, keys, shards, seed, expected: exp, run: { ...r, stdout: undefined }, summary, problems: result.problems, duckdb: duck && { ...duck, r: { ...duck.r, stdout: undefined } } }, null, 2)}\n`,
  );
  log(`results in ${path.relative(process.cwd(), resultsFile)}`);
  process.exit(ok ? 0 : 1);
}

await main();
