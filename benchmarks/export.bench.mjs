#!/usr/bin/env node
/**
 * Benchmark of `personalize-batch export` on a generated batch-inference
 * output (.out) file, side by side with DuckDB (read_json + unnest, COPY TO
 * CSV) and jq where installed. See benchmarks/README.md.
 *
 *   npm run build && node benchmarks/export.bench.mjs --mb 1000
 *
 * Each tool runs as a child process under `/usr/bin/time -v` (wall time, CPU
 * time, peak RSS); without it, peak RSS is polled from /proc/PID/status (VmHWM).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeOutFile } from './out-data.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const DUCKDB_RUNNER = path.join(HERE, 'duckdb-export.mjs');
const TIME = '/usr/bin/time';
const ALL_TOOLS = ['export', 'duckdb', 'jq'];
const ALL_FORMATS = ['csv-long', 'csv-wide'];
const ITEMS = 25;
const MB = 1e6;

const HELP = `Usage: node benchmarks/export.bench.mjs [options]

Generates (or reuses) a USER_PERSONALIZATION .out file (${ITEMS} items with scores per line, about
1.9 million lines per GB) and times personalize-batch export to csv-long and csv-wide on it, with
DuckDB and jq doing the same conversions alongside. Prints a markdown table.

Options:
  --mb N                   size of the .out file in MB (10^6 bytes; default 1000)
  --seed N                 generator seed (default 7)
  --formats LIST           comma-separated subset of ${ALL_FORMATS.join(',')} (default both)
  --tools LIST             comma-separated subset of ${ALL_TOOLS.join(',')} (default all installed)
  --threads N              export --threads (default: export's own, 2)
  --repeat N               runs per tool and format; shows the median wall time, highest peak RSS
  --dist DIR               the compiled package to time (default: this repo's dist/)
  --data DIR               where the .out file is kept and reused (default benchmarks/data)
  --out DIR                outputs and results JSON (default benchmarks/out)
  --timeout SECONDS        kill a run after this long (default none)
  --wait-idle SECONDS      before each run, wait up to this long for the machine to be < 25% busy
                           with other processes (default 120; 0: don't wait)
  --no-verify              only count output rows (skip the byte-exact check of export's CSV)
  --keep-output            keep the output files (default: deleted after checking)
  -h, --help`;

const { values: opt } = parseArgs({
  allowNegative: true,
  options: {
    mb: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '7' },
    formats: { type: 'string', default: ALL_FORMATS.join(',') },
    tools: { type: 'string', default: ALL_TOOLS.join(',') },
    threads: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    dist: { type: 'string', default: path.join(ROOT, 'dist') },
    data: { type: 'string', default: path.join(HERE, 'data') },
    out: { type: 'string', default: path.join(HERE, 'out') },
    timeout: { type: 'string' },
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

const mb = intOption('mb', opt.mb);
const seed = intOption('seed', opt.seed);
const repeat = intOption('repeat', opt.repeat);
const waitIdle = Number(opt['wait-idle']);
if (!(waitIdle >= 0)) fail('--wait-idle must be a number of seconds');
const timeoutMs = opt.timeout === undefined ? undefined : intOption('timeout', opt.timeout) * 1000;
const tools = opt.tools.split(',').map((t) => t.trim());
for (const t of tools) if (!ALL_TOOLS.includes(t)) fail(`unknown tool "${t}" (${ALL_TOOLS.join(', ')})`);
const formats = opt.formats.split(',').map((t) => t.trim());
for (const f of formats)
  if (!ALL_FORMATS.includes(f)) fail(`unknown format "${f}" (${ALL_FORMATS.join(', ')})`);
const dataDir = path.resolve(opt.data);
const DIST = path.resolve(opt.dist);
const BIN = path.join(DIST, 'src/bin.js');
const outDir = path.resolve(opt.out);

function intOption(name, s) {
  const n = Number(String(s).replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${s}"`);
  return n;
}

function fail(msg) {
  console.error(`export.bench: ${msg}`);
  process.exit(2);
}

const log = (msg) => console.error(`[bench] ${msg}`);

// ---------------------------------------------------------------------------
// The data set.

async function ensureData() {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, `out-${mb}mb-seed${seed}.out`);
  const metaPath = `${file}.meta.json`;
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8'));
    const st = await stat(file);
    if (meta.mb === mb && meta.seed === seed && meta.bytes === st.size) {
      log(
        `reusing ${path.relative(process.cwd(), file)} (${fmtMB(st.size)} MB, ${fmtInt(meta.lines)} lines)`,
      );
      return { file, ...meta };
    }
    log(`${path.relative(process.cwd(), file)} does not match its metadata; generating it again`);
  } catch {
    // not generated yet
  }
  log(`generating ${mb} MB of .out lines (seed ${seed})...`);
  const t0 = performance.now();
  const tmp = `${file}.tmp-${process.pid}`;
  const r = await writeOutFile(tmp, { bytes: mb * MB, seed, items: ITEMS });
  await rename(tmp, file);
  const meta = {
    mb,
    seed,
    items: ITEMS,
    lines: r.lines,
    bytes: r.bytes,
    generated: new Date().toISOString(),
  };
  await writeFile(metaPath, `${JSON.stringify(meta, null, 2)}\n`);
  log(
    `wrote ${fmtMB(r.bytes)} MB, ${fmtInt(r.lines)} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { file, ...meta };
}

// ---------------------------------------------------------------------------
// Measuring a child process (as in prepare.bench.mjs).

const haveTime = spawnSync(TIME, ['-v', 'true'], { stdio: 'ignore' }).status === 0;

async function measure(cmd, args, { stdoutFile = null } = {}) {
  const timeFile = path.join(outDir, `time-${process.pid}.txt`);
  const fd = stdoutFile ? await open(stdoutFile, 'w') : null;
  const [file, argv] = haveTime ? [TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const s0 = procStat();
  const t0 = process.hrtime.bigint();
  const child = spawn(file, argv, { stdio: ['ignore', fd ? fd.fd : 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-20000);
  });
  let hwmKB = 0;
  let poll;
  if (!haveTime) {
    poll = setInterval(async () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwmKB = Math.max(hwmKB, Number(m[1]));
      } catch {
        // exited
      }
    }, 20);
  }
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }, timeoutMs);
  const [code, signal] = await once(child, 'close');
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const s1 = procStat();
  clearTimeout(timer);
  clearInterval(poll);
  await fd?.close();
  const r = { wall, cpu: null, peakRss: hwmKB * 1024, exit: code ?? signal, timedOut, stdout, stderr };
  if (haveTime) {
    const t = await readFile(timeFile, 'utf8').catch(() => '');
    await rm(timeFile, { force: true });
    const num = (re) => {
      const m = re.exec(t);
      return m ? Number(m[1]) : null;
    };
    const user = num(/User time \(seconds\): ([\d.]+)/);
    const sys = num(/System time \(seconds\): ([\d.]+)/);
    r.cpu = user === null || sys === null ? null : user + sys;
    r.peakRss = (num(/Maximum resident set size \(kbytes\): (\d+)/) ?? 0) * 1024;
    const exit = num(/Exit status: (\d+)/);
    if (exit !== null) r.exit = exit;
    const sig = /Command terminated by signal (\d+)/.exec(t);
    if (sig) r.exit = `signal ${sig[1]}`;
  }
  r.othersCpu = r.cpu === null || s1.total === 0 ? null : Math.max(0, (s1.busy - s0.busy) / HZ - r.cpu);
  return r;
}

const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

function procStat() {
  let f = [];
  try {
    f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  } catch {
    // not Linux
  }
  const v = f.slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

async function cpuBusy() {
  const a = procStat();
  await new Promise((r) => setTimeout(r, 1000));
  const b = procStat();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

async function waitForIdle() {
  if (waitIdle === 0) return;
  const t0 = performance.now();
  let busy = await cpuBusy();
  let said = false;
  while (busy >= 0.25 && performance.now() - t0 < waitIdle * 1000) {
    if (!said) log(`machine ${(busy * 100).toFixed(0)}% busy with other work; waiting up to ${waitIdle} s`);
    said = true;
    busy = await cpuBusy();
  }
  if (said) log(`going on at ${(busy * 100).toFixed(0)}% busy`);
}

// ---------------------------------------------------------------------------
// Checking outputs.

/** Lines in a file. */
async function countLines(file) {
  let lines = 0;
  for await (const buf of createReadStream(file, { highWaterMark: 1 << 20 })) {
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

/**
 * SHA-256 of the CSV export must write for the generated file, computed
 * from the input lines with plain string operations (the generator's ids
 * need no quoting): an independent check of every byte, scores as printed.
 */
async function expectedHash(file, format) {
  const h = createHash('sha256');
  const eol = '\r\n';
  if (format === 'csv-long') h.update(`userId,rank,itemId,score${eol}`);
  else {
    const cols = ['userId'];
    for (let i = 1; i <= ITEMS; i++) cols.push(`item_${i}`);
    for (let i = 1; i <= ITEMS; i++) cols.push(`score_${i}`);
    h.update(cols.join(',') + eol);
  }
  let rest = '';
  let out = '';
  const onLine = (line) => {
    const u = line.slice(20, line.indexOf('"', 20));
    const a = line.indexOf('"recommendedItems":[') + 20;
    const b = line.indexOf(']', a);
    const ids = line.slice(a, b).replaceAll('"', '').split(',');
    const c = line.indexOf('"scores":[', b) + 10;
    const scores = line.slice(c, line.indexOf(']', c)).split(',');
    if (format === 'csv-long')
      for (let i = 0; i < ids.length; i++) out += `${u},${i + 1},${ids[i]},${scores[i]}${eol}`;
    else out += `${u},${ids.join(',')},${scores.join(',')}${eol}`;
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + chunk;
    let start = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
      onLine(text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
    h.update(out);
    out = '';
  }
  if (rest !== '') onLine(rest);
  h.update(out);
  return h.digest('hex');
}

async function fileHash(file) {
  const h = createHash('sha256');
  for await (const buf of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(buf);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------
// The tools.

function jqInstalled() {
  return spawnSync('sh', ['-c', 'command -v jq'], { encoding: 'utf8' }).stdout.trim() !== '';
}

function duckdbInstalled() {
  try {
    import.meta.resolve('@duckdb/node-api');
    return true;
  } catch {
    return false;
  }
}

const JQ = {
  'csv-long':
    '.input.userId as $u | .output as $o | range(0; $o.recommendedItems | length) as $i | [$u, $i + 1, $o.recommendedItems[$i], $o.scores[$i]] | @csv',
  'csv-wide': '[.input.userId] + .output.recommendedItems + .output.scores | @csv',
};

async function runTool(tool, format, data) {
  const output = path.join(outDir, `${tool}-${format}-${mb}mb.csv`);
  await rm(output, { force: true });
  let r;
  let info = {};
  if (tool === 'export') {
    const args = [BIN, 'export', data.file, '--format', format, '-o', output, '--json'];
    if (opt.threads) args.push('--threads', opt.threads);
    r = await measure(process.execPath, args);
    try {
      info = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    } catch {
      info = {};
    }
  } else if (tool === 'duckdb') {
    r = await measure(process.execPath, [
      DUCKDB_RUNNER,
      data.file,
      output,
      format === 'csv-long' ? 'long' : 'wide',
    ]);
    try {
      info = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}');
    } catch {
      info = {};
    }
  } else {
    r = await measure('jq', ['-r', JQ[format], data.file], { stdoutFile: output });
  }
  return { output, r, info };
}

// ---------------------------------------------------------------------------

function fmtMB(bytes) {
  return (bytes / MB).toFixed(1);
}

function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

function gitState() {
  const dir = path.dirname(DIST);
  const head = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel', '--short', 'HEAD'], {
    encoding: 'utf8',
  });
  const [top, commit] = head.stdout.trim().split('\n');
  if (head.status !== 0 || path.resolve(top ?? '') !== dir) return `dist ${DIST}`;
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
  return `git ${commit}${dirty.stdout.trim() ? ' + uncommitted changes in src/' : ''}`;
}

async function main() {
  if (!existsSync(BIN)) fail(`${BIN} is missing: run npm run build first`);
  await mkdir(outDir, { recursive: true });
  const data = await ensureData();
  const selected = [];
  for (const tool of tools) {
    if (tool === 'jq' && !jqInstalled()) log('jq: not installed, skipped');
    else if (tool === 'duckdb' && !duckdbInstalled())
      log('duckdb: @duckdb/node-api is not installed, skipped (to include it: cd benchmarks && npm install)');
    else selected.push(tool);
  }
  if (!haveTime)
    log(`not using ${TIME}: peak RSS is polled from /proc/PID/status (VmHWM), CPU time not shown`);
  spawnSync('sync', { stdio: 'ignore' });
  const w0 = performance.now();
  for await (const _ of createReadStream(data.file, { highWaterMark: 1 << 20 })) {
    // read only: every tool then reads the file from the page cache
  }
  log(`page cache warmed: read ${fmtMB(data.bytes)} MB in ${((performance.now() - w0) / 1000).toFixed(2)} s`);
  const env = {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    git: gitState(),
    jq: selected.includes('jq') ? spawnSync('jq', ['--version'], { encoding: 'utf8' }).stdout.trim() : null,
  };

  const expected = {};
  const results = [];
  for (const format of formats) {
    const rowsWanted = format === 'csv-long' ? data.lines * ITEMS : data.lines;
    for (const tool of selected) {
      const runs = [];
      for (let i = 1; i <= repeat; i++) {
        await waitForIdle();
        log(`${tool} ${format}: run ${i}/${repeat}...`);
        const { output, r, info } = await runTool(tool, format, data);
        const ok = r.exit === 0 && !r.timedOut;
        log(
          `${tool} ${format}: ${r.wall.toFixed(2)} s wall, ${r.cpu === null ? '?' : r.cpu.toFixed(2)} s CPU, ` +
            `${fmtMB(r.peakRss)} MB peak RSS, exit ${r.exit}${r.timedOut ? ' (timed out)' : ''}`,
        );
        if (!ok) log(`${tool}: stderr tail:\n${r.stderr.slice(-2000)}`);
        let check = { rows: null, exact: null, problem: 'did not finish' };
        if (ok) {
          // jq writes no header.
          const rows = (await countLines(output)) - (tool === 'jq' ? 0 : 1);
          check = {
            rows,
            exact: null,
            problem: rows === rowsWanted ? null : `${rows} rows, expected ${rowsWanted}`,
          };
          if (tool === 'export' && opt.verify && !check.problem) {
            expected[format] ??= await expectedHash(data.file, format);
            check.exact = (await fileHash(output)) === expected[format];
            if (!check.exact) check.problem = 'bytes differ from the expected CSV';
          }
          log(
            `${tool} ${format}: ${fmtInt(rows)} rows, ${check.problem ? `PROBLEM: ${check.problem}` : 'check ok'}`,
          );
        }
        if (!opt['keep-output']) await rm(output, { force: true });
        runs.push({ ...r, ok, check, info });
      }
      const sorted = [...runs].sort((a, b) => a.wall - b.wall);
      const median = sorted[Math.floor((sorted.length - 1) / 2)];
      results.push({
        tool,
        format,
        wall: median.wall,
        walls: runs.map((x) => x.wall),
        cpu: median.cpu,
        othersCpu: median.othersCpu,
        peakRss: Math.max(...runs.map((x) => x.peakRss)),
        ok: runs.every((x) => x.ok),
        exit: runs.find((x) => !x.ok)?.exit ?? 0,
        rows: median.check.rows,
        exact: median.check.exact,
        problem: runs.map((x) => x.check.problem).find((p) => p) ?? null,
        info: median.info,
      });
    }
  }

  const label = (res) => {
    if (res.tool === 'export')
      return `personalize-batch export (${res.info.passes ?? 1} pass${res.info.passes > 1 ? 'es' : ''})`;
    if (res.tool === 'jq') return env.jq ?? 'jq';
    const t = res.info.threads ? `, ${res.info.threads} threads` : '';
    return `DuckDB ${res.info.version ?? ''}${t}`;
  };
  const lines = [];
  lines.push(
    `${fmtMB(data.bytes)} MB, ${fmtInt(data.lines)} lines of ${ITEMS} items (seed ${seed}); ${env.date.slice(0, 10)}, ` +
      `${env.cpus} cores (${env.cpuModel}), ${env.memGiB} GiB, Node ${env.node}, ${env.git}` +
      (repeat > 1 ? `; median of ${repeat} runs (peak RSS: the highest)` : ''),
  );
  lines.push('');
  lines.push("| format | tool | wall s | CPU s | MB/s | peak RSS MB | rows | check | others' CPU s |");
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const res of results) {
    const check = !res.ok
      ? `failed (exit ${res.exit})`
      : res.problem
        ? `✗ ${res.problem}`
        : res.exact
          ? '✓ byte-exact'
          : '✓ row count';
    lines.push(
      `| ${res.format} | ${label(res)} | ${res.wall.toFixed(2)} | ${res.cpu === null ? '–' : res.cpu.toFixed(2)} | ` +
        `${res.ok ? (data.bytes / MB / res.wall).toFixed(1) : '–'} | ${res.peakRss > 0 ? fmtMB(res.peakRss) : '–'} | ` +
        `${res.rows === null ? '–' : fmtInt(res.rows)} | ${check} | ${res.othersCpu === null ? '–' : res.othersCpu.toFixed(1)} |`,
    );
  }
  lines.push('');
  for (const format of formats) {
    const ours = results.find((x) => x.tool === 'export' && x.format === format);
    const duck = results.find((x) => x.tool === 'duckdb' && x.format === format);
    if (ours?.ok && duck?.ok) {
      const speedup = duck.wall / ours.wall;
      lines.push(
        `- ${format}: export is ${speedup.toFixed(2)}x DuckDB's throughput (target ≥ 2x): ${speedup >= 2 ? 'PASS' : 'FAIL'}`,
      );
    }
    if (ours?.ok) {
      const rss = ours.peakRss / MB;
      lines.push(
        `- ${format}: export peak RSS ${rss.toFixed(1)} MB (target ≤ 256 MB): ${rss <= 256 ? 'PASS' : 'FAIL'}`,
      );
    }
  }
  const report = lines.join('\n');
  console.log(report);
  const resultsFile = path.join(
    outDir,
    `export-results-${mb}mb-${selected.join('+')}-${formats.join('+')}.json`,
  );
  await writeFile(
    resultsFile,
    `${JSON.stringify({ env, data, repeat, options: opt, results, report }, null, 2)}\n`,
  );
  log(`results written to ${path.relative(process.cwd(), resultsFile)}`);
  if (results.some((x) => !x.ok || x.problem)) process.exitCode = 1;
}

await main();
