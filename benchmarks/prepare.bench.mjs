#!/usr/bin/env node
/**
 * Benchmark of `personalize-batch prepare --recipe user-personalization` on a
 * generated e-mail list, side by side with awk (no dedupe) and DuckDB's
 * SELECT DISTINCT. See benchmarks/README.md.
 *
 *   npm run build && node benchmarks/prepare.bench.mjs --rows 10000000
 *
 * Each tool runs as a child process under `/usr/bin/time -v` (wall time, CPU
 * time, peak RSS); without it, peak RSS is polled from /proc/PID/status (VmHWM).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  countLines,
  DUCKDB_MISSING,
  duckdbInstalled,
  envLine,
  fmtInt,
  fmtMB,
  HERE,
  lastJsonLine,
  listOption,
  log,
  MB,
  machineEnv,
  measure as measureChild,
  optionErrors,
  ROOT,
  runStats,
  TIME,
  timeWorks as timeInstalled,
  waitForIdle,
  warmPageCache,
} from './lib.mjs';

const DUCKDB_RUNNER = path.join(HERE, 'duckdb-distinct.mjs');
const ALL_TOOLS = ['prepare', 'awk', 'duckdb'];

const HELP = `Usage: node benchmarks/prepare.bench.mjs [options]

Generates (or reuses) an e-mail list CSV and times prepare --recipe user-personalization on it,
with awk (no dedupe) and DuckDB SELECT DISTINCT alongside. Prints a markdown table.

Options:
  --rows N                 data rows (default 10000000)
  --seed N                 generator seed (default 42)
  --duplicate-rate R       share of rows repeating an earlier id (default 0.05)
  --dist DIR               the compiled package to time (default: this repo's dist/)
  --data DIR               where the CSV is kept and reused (default benchmarks/data)
  --out DIR                outputs, spill files and results JSON (default benchmarks/out)
  --tools LIST             comma-separated subset of ${ALL_TOOLS.join(',')} (default all)
  --repeat N               runs per tool; shows the median wall time, highest peak RSS (default 1)
  --memory-budget SIZE     passed to prepare --memory-budget (default: prepare's own, 64MiB)
  --duckdb-threads N       DuckDB threads (default: DuckDB's own, = cores)
  --duckdb-memory-limit S  DuckDB memory_limit, e.g. 300MB (default: DuckDB's own, 80% of RAM)
  --timeout SECONDS        kill a run after this long (default none)
  --wait-idle SECONDS      before each run, wait up to this long for the machine to be < 25% busy
                           with other processes (default 120; 0: don't wait)
  --rss-method M           time (default when /usr/bin/time exists) or proc (poll /proc/PID/status VmHWM)
  --no-verify              only count output lines (skip the exact id-set check)
  --keep-output            keep the output files (default: deleted after checking)
  -h, --help`;

const { values: opt } = parseArgs({
  allowNegative: true,
  options: {
    rows: { type: 'string', default: '10000000' },
    seed: { type: 'string', default: '42' },
    'duplicate-rate': { type: 'string', default: '0.05' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    data: { type: 'string', default: path.join(HERE, 'data') },
    out: { type: 'string', default: path.join(HERE, 'out') },
    tools: { type: 'string', default: ALL_TOOLS.join(',') },
    repeat: { type: 'string', default: '1' },
    'memory-budget': { type: 'string' },
    'duckdb-threads': { type: 'string' },
    'duckdb-memory-limit': { type: 'string' },
    timeout: { type: 'string' },
    'rss-method': { type: 'string' },
    'wait-idle': { type: 'string', default: '120' },
    verify: { type: 'boolean', default: true },
    'keep-output': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  console.log(HELP);
  process.exit(0);
}

const { fail, intOption } = optionErrors('prepare.bench');
const rows = intOption('rows', opt.rows);
const seed = intOption('seed', opt.seed);
const repeat = intOption('repeat', opt.repeat);
const duplicateRate = Number(opt['duplicate-rate']);
if (!(duplicateRate >= 0 && duplicateRate < 1)) fail('--duplicate-rate must be in [0, 1)');
const waitIdle = Number(opt['wait-idle']);
if (!(waitIdle >= 0)) fail('--wait-idle must be a number of seconds');
const timeoutMs = opt.timeout === undefined ? undefined : intOption('timeout', opt.timeout) * 1000;
const tools = listOption(fail, opt.tools, ALL_TOOLS, 'tool');
const dataDir = path.resolve(opt.data);
const DIST = path.resolve(opt.dist);
const BIN = path.join(DIST, 'src/bin.js');
const SAMPLE = path.join(DIST, 'src/sample.js');
const outDir = path.resolve(opt.out);

// ---------------------------------------------------------------------------
// Sample ids: emailListCsv() names user n (0-based) `u` + base36(((n + 1) * 0x9e3779b1) mod 2^32).
// The multiplier is odd, so the mapping can be inverted; that gives the number of distinct ids
// (n runs 0..distinct-1) without a hash set, and an exact check of any output's id set.

const MULT = 0x9e3779b1;
const MULT_INV = (() => {
  let inv = MULT; // Newton's iteration for the inverse mod 2^32: each step doubles the correct bits.
  for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(MULT, inv));
  return inv >>> 0;
})();
if (Math.imul(MULT, MULT_INV) >>> 0 !== 1) throw new Error('bad modular inverse');

/** The user index n of a sample id, or -1 when it is not one. */
function userIndex(id) {
  if (id.length < 2 || id.length > 8 || id.charCodeAt(0) !== 117 /* u */) return -1;
  const x = Number.parseInt(id.slice(1), 36);
  if (!Number.isSafeInteger(x) || x > 0xffffffff || x.toString(36) !== id.slice(1)) return -1;
  return (Math.imul(x, MULT_INV) >>> 0) - 1;
}

// ---------------------------------------------------------------------------
// The data set.

async function ensureData() {
  await mkdir(dataDir, { recursive: true });
  const base = `emails-${rows}-seed${seed}-dup${duplicateRate}`;
  const csv = path.join(dataDir, `${base}.csv`);
  const metaPath = path.join(dataDir, `${base}.meta.json`);
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    const st = await stat(csv);
    if (
      meta.rows === rows &&
      meta.seed === seed &&
      meta.duplicateRate === duplicateRate &&
      meta.bytes === st.size
    ) {
      log(
        `reusing ${path.relative(process.cwd(), csv)} (${fmtMB(st.size)} MB, ${meta.distinct} distinct ids)`,
      );
      return { csv, ...meta };
    }
    log(`${path.relative(process.cwd(), csv)} does not match its metadata; generating it again`);
  } catch {
    // not generated yet
  }
  if (!existsSync(SAMPLE)) fail(`${SAMPLE} is missing: run npm run build first`);
  const { emailListCsv } = await import(SAMPLE);
  log(
    `generating ${rows.toLocaleString('en-US')} rows (seed ${seed}, ${duplicateRate * 100}% duplicates)...`,
  );
  const t0 = performance.now();
  const tmp = `${csv}.tmp-${process.pid}`;
  const ws = createWriteStream(tmp);
  let bytes = 0;
  let maxIndex = -1;
  let dataRows = 0;
  let header = true;
  for (const chunk of emailListCsv({ rows, duplicateRate, seed, badRows: 0 })) {
    // Scan the user_id column (chunks end at line ends).
    let start = 0;
    while (start < chunk.length) {
      let end = chunk.indexOf('\n', start);
      if (end < 0) end = chunk.length;
      if (header) header = false;
      else {
        const c1 = chunk.indexOf(',', start);
        const c2 = chunk.indexOf(',', c1 + 1);
        const n = c1 < 0 || c2 < 0 || c2 > end ? -1 : userIndex(chunk.slice(c1 + 1, c2));
        if (n < 0 || n >= rows) {
          throw new Error(
            `unexpected sample row ${JSON.stringify(chunk.slice(start, end))}: update userIndex()`,
          );
        }
        if (n > maxIndex) maxIndex = n;
        dataRows++;
      }
      start = end + 1;
    }
    bytes += Buffer.byteLength(chunk);
    if (!ws.write(chunk)) await once(ws, 'drain');
  }
  ws.end();
  await once(ws, 'finish');
  await rename(tmp, csv);
  if (dataRows !== rows) throw new Error(`generator wrote ${dataRows} rows, expected ${rows}`);
  const meta = {
    rows,
    seed,
    duplicateRate,
    bytes,
    distinct: maxIndex + 1,
    generated: new Date().toISOString(),
  };
  await writeFile(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  log(
    `wrote ${fmtMB(bytes)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${meta.distinct} distinct ids`,
  );
  return { csv, ...meta };
}

// ---------------------------------------------------------------------------
// Measuring a child process.

const timeWorks = timeInstalled();
if (opt['rss-method'] === 'time' && !timeWorks) fail(`${TIME} is not installed (apt-get install -y time)`);
if (opt['rss-method'] && !['time', 'proc'].includes(opt['rss-method']))
  fail('--rss-method must be time or proc');
const haveTime = timeWorks && opt['rss-method'] !== 'proc';

/** lib.mjs's measure() with this run's --out, --rss-method and --timeout. */
const measure = (cmd, args, { stdoutFile = null } = {}) =>
  measureChild(cmd, args, { outDir, useTime: haveTime, timeoutMs, stdoutFile });

// ---------------------------------------------------------------------------
// Checking outputs.

/** Lines of a file, and (verify) whether its `{"userId":"..."}` lines are exactly ids 0..distinct-1, once each. */
async function checkOutput(file, distinct, verify) {
  if (!verify) return { lines: await countLines(file), exact: null, problem: null };
  let lines = 0;
  const seen = new Uint8Array(distinct);
  let problem = null;
  let rest = '';
  const onLine = (line) => {
    lines++;
    if (problem) return;
    const m = /^\{"userId":"([^"]*)"\}$/.exec(line);
    const n = m ? userIndex(m[1]) : -1;
    if (n < 0 || n >= distinct) problem = `line ${lines}: unexpected ${JSON.stringify(line.slice(0, 80))}`;
    else if (seen[n]) problem = `line ${lines}: duplicate ${m[1]}`;
    else seen[n] = 1;
  };
  for await (const chunk of createReadStream(file, { encoding: 'latin1', highWaterMark: 1 << 20 })) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      onLine(text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
  }
  if (rest !== '') onLine(rest);
  if (!problem && lines !== distinct) problem = `${lines} lines, expected ${distinct}`;
  return { lines, exact: problem === null, problem };
}

// ---------------------------------------------------------------------------
// The tools.

function awkInfo() {
  const which = spawnSync('sh', ['-c', 'command -v awk'], { encoding: 'utf8' }).stdout.trim();
  if (!which) return null;
  const real = spawnSync('readlink', ['-f', which], { encoding: 'utf8' }).stdout.trim() || which;
  return { path: which, impl: path.basename(real) };
}

async function runTool(tool, data) {
  const output = path.join(outDir, `${tool}-${rows}.jsonl`);
  await rm(output, { force: true });
  let r;
  let info = {};
  if (tool === 'prepare') {
    const spill = path.join(outDir, 'spill');
    await rm(spill, { recursive: true, force: true });
    await mkdir(spill, { recursive: true });
    const args = [BIN, 'prepare', '--recipe', 'user-personalization', data.csv, '-o', output, '--json'];
    args.push('--tmp-dir', spill);
    if (opt['memory-budget']) args.push('--memory-budget', opt['memory-budget']);
    r = await measure(process.execPath, args);
    const line = r.stdout
      .trim()
      .split('\n')
      .findLast((l) => l.startsWith('{'));
    try {
      info = line ? JSON.parse(line) : {};
    } catch {
      info = {};
    }
    await rm(spill, { recursive: true, force: true });
    // A killed prepare leaves its atomic-write temp file (.NAME.tmp-*) behind.
    const prefix = `.${path.basename(output)}.tmp-`;
    for (const f of await readdir(outDir))
      if (f.startsWith(prefix)) await rm(path.join(outDir, f), { force: true });
  } else if (tool === 'awk') {
    const program = 'NR>1{print "{\\"userId\\":\\"" $2 "\\"}"}';
    r = await measure('awk', ['-F,', program, data.csv], { stdoutFile: output });
  } else {
    const temp = path.join(outDir, 'duckdb-tmp');
    const args = [DUCKDB_RUNNER, data.csv, output, '--temp-dir', temp];
    if (opt['duckdb-threads']) args.push('--threads', opt['duckdb-threads']);
    if (opt['duckdb-memory-limit']) args.push('--memory-limit', opt['duckdb-memory-limit']);
    r = await measure(process.execPath, args);
    info = lastJsonLine(r.stdout);
    await rm(temp, { recursive: true, force: true });
  }
  return { output, r, info };
}

// ---------------------------------------------------------------------------

async function main() {
  if (!existsSync(BIN)) fail(`${BIN} is missing: run npm run build first`);
  await mkdir(outDir, { recursive: true });
  const data = await ensureData();
  const selected = [];
  for (const tool of tools) {
    if (tool === 'awk' && !awkInfo()) log('awk: not installed, skipped');
    else if (tool === 'duckdb' && !duckdbInstalled()) log(DUCKDB_MISSING);
    else selected.push(tool);
  }
  if (!haveTime)
    log(`not using ${TIME}: peak RSS is polled from /proc/PID/status (VmHWM), CPU time not shown`);

  // Finish writing back the freshly generated file, then warm the page cache so that every tool
  // reads the file from memory.
  await warmPageCache(data.csv, data.bytes);

  const env = {
    ...machineEnv(DIST),
    distBuilt: (await stat(BIN)).mtime.toISOString(),
    awk: awkInfo()?.impl ?? null,
    rssMethod: haveTime ? '/usr/bin/time -v' : '/proc/PID/status VmHWM (polled)',
  };

  const results = [];
  for (const tool of selected) {
    const runs = [];
    for (let i = 1; i <= repeat; i++) {
      const busyBefore = await waitForIdle(waitIdle);
      log(`${tool}: run ${i}/${repeat}...`);
      const { output, r, info } = await runTool(tool, data);
      r.busyBefore = busyBefore;
      log(
        `${tool}: ${r.wall.toFixed(2)} s wall, ${r.cpu === null ? '?' : r.cpu.toFixed(2)} s CPU, ` +
          `${fmtMB(r.peakRss)} MB peak RSS, ${r.othersCpu === null ? '?' : r.othersCpu.toFixed(2)} s CPU ` +
          `used by other processes meanwhile, exit ${r.exit}${r.timedOut ? ' (timed out)' : ''}`,
      );
      const ok = r.exit === 0 && !r.timedOut;
      if (!ok) log(`${tool}: stderr tail:\n${r.stderr.slice(-2000)}`);
      let check = { lines: null, exact: null, problem: 'did not finish' };
      if (ok) {
        // awk keeps duplicates, so its output is only counted.
        const verify = opt.verify && tool !== 'awk';
        check = await checkOutput(output, data.distinct, verify);
        if (tool === 'awk' && check.lines !== rows) check.problem = `${check.lines} lines, expected ${rows}`;
        if (tool === 'prepare' && !check.problem) {
          if (info.recordsRead !== rows)
            check.problem = `summary recordsRead ${info.recordsRead}, expected ${rows}`;
          else if (info.written !== data.distinct) check.problem = `summary written ${info.written}`;
          else if (info.duplicates !== rows - data.distinct)
            check.problem = `summary duplicates ${info.duplicates}`;
        }
        log(
          `${tool}: ${check.lines} output lines, ${check.problem ? `PROBLEM: ${check.problem}` : 'check ok'}`,
        );
      }
      if (!opt['keep-output']) await rm(output, { force: true });
      runs.push({ ...r, ok, check, info });
    }
    const { median, stats } = runStats(runs);
    results.push({
      tool,
      ...stats,
      timedOut: runs.some((x) => x.timedOut),
      lines: median.check.lines,
      exact: median.check.exact,
      problem: runs.map((x) => x.check.problem).find((p) => p) ?? null,
      info: median.info,
      stderr: median.ok ? undefined : median.stderr.slice(-2000),
    });
  }

  // Report.
  const label = (res) => {
    if (res.tool === 'prepare') {
      const budget = opt['memory-budget'] ? `, --memory-budget ${opt['memory-budget']}` : '';
      return `personalize-batch prepare (exact dedupe${budget}${res.info.spilled ? ', spilled' : ''})`;
    }
    if (res.tool === 'awk') return `awk (${env.awk}, no dedupe)`;
    const t = res.info.threads ? `, ${res.info.threads} thread${res.info.threads === 1 ? '' : 's'}` : '';
    const m = opt['duckdb-memory-limit'] ? `, memory_limit ${res.info.memoryLimit}` : '';
    return `DuckDB ${res.info.version ?? ''} SELECT DISTINCT${t}${m}`.replace('  ', ' ');
  };
  const lines = [];
  lines.push(
    `${fmtInt(rows)} rows, ${fmtMB(data.bytes)} MB, ${fmtInt(data.distinct)} distinct ids ` +
      `(seed ${seed}, ${duplicateRate * 100}% duplicates); ${envLine(env)} (dist built ${env.distBuilt.slice(0, 16).replace('T', ' ')} UTC)` +
      (repeat > 1 ? `; median of ${repeat} runs (peak RSS: the highest)` : ''),
  );
  lines.push('');
  lines.push(
    "| tool | wall s | CPU s | users/s | MB/s | peak RSS MB | output lines | check | others' CPU s |",
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const res of results) {
    const done = res.ok;
    const check = !done
      ? `failed (${res.timedOut ? 'timed out' : `exit ${res.exit}`})`
      : res.problem
        ? `✗ ${res.problem}`
        : res.exact
          ? '✓ exact id set'
          : '✓ line count';
    lines.push(
      `| ${label(res)} | ${res.wall.toFixed(2)} | ${res.cpu === null ? '–' : res.cpu.toFixed(2)} | ` +
        `${done ? fmtInt(rows / res.wall) : '–'} | ${done ? (data.bytes / MB / res.wall).toFixed(1) : '–'} | ` +
        `${res.peakRss > 0 ? fmtMB(res.peakRss) : '–'} | ${res.lines === null ? '–' : fmtInt(res.lines)} | ${check} | ` +
        `${res.othersCpu === null || res.othersCpu === undefined ? '–' : res.othersCpu.toFixed(1)} |`,
    );
  }
  const prep = results.find((x) => x.tool === 'prepare');
  const duck = results.find((x) => x.tool === 'duckdb');
  lines.push('');
  if (prep?.ok && duck?.ok) {
    const ratio = prep.wall / duck.wall;
    lines.push(
      `- prepare / DuckDB wall time: ${ratio.toFixed(2)}x (target ≤ 1.5x): ${ratio <= 1.5 ? 'PASS' : 'FAIL'}`,
    );
  }
  if (prep?.ok) {
    const rss = prep.peakRss / MB;
    lines.push(`- prepare peak RSS: ${rss.toFixed(1)} MB (target ≤ 300 MB): ${rss <= 300 ? 'PASS' : 'FAIL'}`);
  }
  const report = lines.join('\n');
  console.log(report);

  const tag = [
    rows,
    selected.join('+'),
    opt['memory-budget'] && `budget${opt['memory-budget']}`,
    opt['duckdb-threads'] && `duckdb${opt['duckdb-threads']}threads`,
    opt['duckdb-memory-limit'] && `duckdb${opt['duckdb-memory-limit']}`,
  ].filter(Boolean);
  const resultsFile = path.join(outDir, `results-${tag.join('-')}.json`);
  await writeFile(
    resultsFile,
    `${JSON.stringify({ env, data: { ...data, csv: path.relative(ROOT, data.csv) }, repeat, options: opt, results, report }, null, 2)}\n`,
  );
  log(`results written to ${path.relative(process.cwd(), resultsFile)}`);
  if (results.some((x) => !x.ok || x.problem)) process.exitCode = 1;
}

await main();
