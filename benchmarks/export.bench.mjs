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
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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
  timeWorks,
  waitForIdle,
  warmPageCache,
} from './lib.mjs';
import { writeOutFile } from './out-data.mjs';

const DUCKDB_RUNNER = path.join(HERE, 'duckdb-export.mjs');
const ALL_TOOLS = ['export', 'duckdb', 'jq'];
const ALL_FORMATS = ['csv-long', 'csv-wide'];
const ITEMS = 25;

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

const { fail, intOption } = optionErrors('export.bench');
const mb = intOption('mb', opt.mb);
const seed = intOption('seed', opt.seed);
const repeat = intOption('repeat', opt.repeat);
const waitIdle = Number(opt['wait-idle']);
if (!(waitIdle >= 0)) fail('--wait-idle must be a number of seconds');
const timeoutMs = opt.timeout === undefined ? undefined : intOption('timeout', opt.timeout) * 1000;
const tools = listOption(fail, opt.tools, ALL_TOOLS, 'tool');
const formats = listOption(fail, opt.formats, ALL_FORMATS, 'format');
const dataDir = path.resolve(opt.data);
const DIST = path.resolve(opt.dist);
const BIN = path.join(DIST, 'src/bin.js');
const outDir = path.resolve(opt.out);

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
// Measuring a child process (lib.mjs) and checking outputs.

const haveTime = timeWorks();

/** lib.mjs's measure() with this run's --out and --timeout. */
const measure = (cmd, args, { stdoutFile = null } = {}) =>
  measureChild(cmd, args, { outDir, useTime: haveTime, timeoutMs, stdoutFile });

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
    info = lastJsonLine(r.stdout);
  } else if (tool === 'duckdb') {
    r = await measure(process.execPath, [
      DUCKDB_RUNNER,
      data.file,
      output,
      format === 'csv-long' ? 'long' : 'wide',
    ]);
    info = lastJsonLine(r.stdout);
  } else {
    r = await measure('jq', ['-r', JQ[format], data.file], { stdoutFile: output });
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
    if (tool === 'jq' && !jqInstalled()) log('jq: not installed, skipped');
    else if (tool === 'duckdb' && !duckdbInstalled()) log(DUCKDB_MISSING);
    else selected.push(tool);
  }
  if (!haveTime)
    log(`not using ${TIME}: peak RSS is polled from /proc/PID/status (VmHWM), CPU time not shown`);
  await warmPageCache(data.file, data.bytes);
  const env = {
    ...machineEnv(DIST),
    jq: selected.includes('jq') ? spawnSync('jq', ['--version'], { encoding: 'utf8' }).stdout.trim() : null,
  };

  const expected = {};
  const results = [];
  for (const format of formats) {
    const rowsWanted = format === 'csv-long' ? data.lines * ITEMS : data.lines;
    for (const tool of selected) {
      const runs = [];
      for (let i = 1; i <= repeat; i++) {
        await waitForIdle(waitIdle);
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
      const { median, stats } = runStats(runs);
      results.push({
        tool,
        format,
        ...stats,
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
    `${fmtMB(data.bytes)} MB, ${fmtInt(data.lines)} lines of ${ITEMS} items (seed ${seed}); ${envLine(env)}` +
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
