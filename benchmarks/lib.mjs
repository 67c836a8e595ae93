/**
 * Helpers shared by the benchmark scripts (prepare, export and collect .bench.mjs, and the
 * DuckDB runners). They were copies of one another; one copy here keeps the measurements of
 * the different benchmarks comparable: the same clock, the same peak-RSS source, the same
 * wait for an idle machine, the same environment line in the reports.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** benchmarks/, where the scripts, their data/ and out/ folders live. */
export const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository, whose dist/ is timed by default. */
export const ROOT = path.resolve(HERE, '..');
/** GNU time: its -v report gives CPU time and peak RSS of the whole child, measured by the kernel. */
export const TIME = '/usr/bin/time';
/** Sizes in the reports are decimal megabytes, like the MB/s figures. */
export const MB = 1e6;

// ---------------------------------------------------------------------------
// Options and messages.

/**
 * `fail` (usage error, exit 2, as the CLI does) and `intOption` for one script: the messages
 * start with the script's name so that a wrong option is traced to the benchmark that refused it.
 */
export function optionErrors(script) {
  const fail = (msg) => {
    console.error(`${script}: ${msg}`);
    process.exit(2);
  };
  /** A positive integer; `_` allowed as a digit separator (10_000_000). */
  const intOption = (name, s) => {
    const n = Number(String(s).replaceAll('_', ''));
    if (!Number.isSafeInteger(n) || n < 1) fail(`--${name} must be a positive integer, got "${s}"`);
    return n;
  };
  return { fail, intOption };
}

/** A comma-separated option whose entries must come from `all` (what: "tool", "format"). */
export function listOption(fail, value, all, what) {
  const list = value.split(',').map((t) => t.trim());
  for (const x of list) if (!all.includes(x)) fail(`unknown ${what} "${x}" (${all.join(', ')})`);
  return list;
}

/** Progress goes to stderr, so that stdout carries only the markdown report. */
export const log = (msg) => console.error(`[bench] ${msg}`);

export function fmtMB(bytes) {
  return (bytes / MB).toFixed(1);
}

export function fmtInt(n) {
  return Math.round(n).toLocaleString('en-US');
}

// ---------------------------------------------------------------------------
// The machine.

/** Whether GNU time runs here (a function: a script's --help should not spawn anything). */
export function timeWorks() {
  return spawnSync(TIME, ['-v', 'true'], { stdio: 'ignore' }).status === 0;
}

/** Clock ticks per second, the unit of /proc/stat (asked once, on the first measured run). */
let hz;
const clockTicks = () => {
  hz ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  return hz;
};

/** All cores' busy and total time so far, in clock ticks (zeros where /proc/stat is missing). */
function procStat() {
  let f = [];
  try {
    f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  } catch {
    // not Linux
  }
  const v = f.slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** Share of all cores' time spent busy over one second (by other processes: we are idle meanwhile). */
async function cpuBusy() {
  const a = procStat();
  await new Promise((r) => setTimeout(r, 1000));
  const b = procStat();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

/**
 * Waits (up to waitIdle seconds) until other processes leave the CPU mostly idle: the machine
 * is shared, and a run next to someone else's build measures the build. Returns the busy share
 * it went on at (null when waitIdle is 0, no measurement).
 */
export async function waitForIdle(waitIdle) {
  if (waitIdle === 0) return null;
  const t0 = performance.now();
  let busy = await cpuBusy();
  let said = false;
  while (busy >= 0.25 && performance.now() - t0 < waitIdle * 1000) {
    if (!said) log(`machine ${(busy * 100).toFixed(0)}% busy with other work; waiting up to ${waitIdle} s`);
    said = true;
    busy = await cpuBusy();
  }
  if (said) log(`going on at ${(busy * 100).toFixed(0)}% busy`);
  return busy;
}

/** The commit the timed dist/ was presumably built from (its folder's git HEAD), else the folder. */
export function gitState(dist) {
  const dir = path.dirname(dist);
  const head = spawnSync('git', ['-C', dir, 'rev-parse', '--show-toplevel', '--short', 'HEAD'], {
    encoding: 'utf8',
  });
  const [top, commit] = head.stdout.trim().split('\n');
  if (head.status !== 0 || path.resolve(top ?? '') !== dir) return `dist ${dist}`;
  const dirty = spawnSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
  return `git ${commit}${dirty.stdout.trim() ? ' + uncommitted changes in src/' : ''}`;
}

/** What a result depends on besides the code: kept in every results JSON, shown by envLine(). */
export function machineEnv(dist) {
  return {
    date: new Date().toISOString(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    git: gitState(dist),
  };
}

/** The date, machine and code part of a report's first line. */
export function envLine(env) {
  return (
    `${env.date.slice(0, 10)}, ${env.cpus} cores (${env.cpuModel}), ${env.memGiB} GiB, ` +
    `Node ${env.node}, ${env.git}`
  );
}

// ---------------------------------------------------------------------------
// Measuring a child process.

/**
 * Runs cmd (under GNU time when useTime) with stdout to `stdoutFile` (or captured when null),
 * killed with its whole process group after timeoutMs. Returns wall seconds (our own clock),
 * CPU seconds (null without time), peak RSS in bytes, exit status, whether it timed out,
 * captured stdout and stderr (its last 20,000 characters), and othersCpu: the CPU seconds the
 * rest of the machine used meanwhile, which says how far to trust the run on a shared machine.
 *
 * Without time, peak RSS is polled from /proc/PID/status (VmHWM) every 20 ms. `sample`
 * replaces that poll: called every pollMs (never two at once) with the child, it returns a
 * VmHWM in kB (or 0); collect uses it to also follow its spill folder. The highest polled
 * VmHWM stands in when time wrote nothing (a killed run).
 */
export async function measure(
  cmd,
  args,
  { outDir, useTime, timeoutMs, stdoutFile = null, sample = null, pollMs = 20 },
) {
  const timeFile = path.join(outDir, `time-${process.pid}.txt`);
  const fd = stdoutFile ? await open(stdoutFile, 'w') : null;
  const [file, argv] = useTime ? [TIME, ['-v', '-o', timeFile, cmd, ...args]] : [cmd, args];
  const s0 = procStat();
  const t0 = process.hrtime.bigint();
  const child = spawn(file, argv, {
    stdio: ['ignore', fd ? fd.fd : 'pipe', 'pipe'],
    detached: true, // own process group, so that a timeout kills the tool too, not only `time`
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-20000);
  });
  const sampler = sample ?? (useTime ? null : () => vmHwmKB(child.pid));
  let hwmKB = 0;
  let poll;
  if (sampler) {
    let polling = false;
    poll = setInterval(async () => {
      if (polling) return;
      polling = true;
      try {
        hwmKB = Math.max(hwmKB, await sampler(child));
      } finally {
        polling = false;
      }
    }, pollMs);
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
  if (useTime) {
    const t = await readFile(timeFile, 'utf8').catch(() => '');
    await rm(timeFile, { force: true });
    const num = (re) => {
      const m = re.exec(t);
      return m ? Number(m[1]) : null;
    };
    const user = num(/User time \(seconds\): ([\d.]+)/);
    const sys = num(/System time \(seconds\): ([\d.]+)/);
    r.cpu = user === null || sys === null ? null : user + sys;
    r.peakRss = Math.max(r.peakRss, (num(/Maximum resident set size \(kbytes\): (\d+)/) ?? 0) * 1024);
    const exit = num(/Exit status: (\d+)/);
    if (exit !== null) r.exit = exit;
    const sig = /Command terminated by signal (\d+)/.exec(t);
    if (sig) r.exit = `signal ${sig[1]}`;
  }
  // CPU time the whole machine spent busy during the run, less the tool's own: other processes.
  r.othersCpu =
    r.cpu === null || s1.total === 0 ? null : Math.max(0, (s1.busy - s0.busy) / clockTicks() - r.cpu);
  return r;
}

/** VmHWM (peak RSS so far) of a process in kB; 0 once it has exited. */
async function vmHwmKB(pid) {
  const st = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(st);
  return m ? Number(m[1]) : 0;
}

/** The last stdout line as JSON (the --json summaries and the DuckDB runners' line), else {}. */
export function lastJsonLine(stdout) {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  } catch {
    return {};
  }
}

/**
 * The run with the median wall time (the lower middle one for an even count), and the figures a
 * results JSON keeps of all runs: the median's times, every wall time, the highest peak RSS
 * (memory is a limit, not an average), whether all finished and the first failure's exit.
 */
export function runStats(runs) {
  const sorted = [...runs].sort((a, b) => a.wall - b.wall);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    median,
    stats: {
      wall: median.wall,
      walls: runs.map((x) => x.wall),
      cpu: median.cpu,
      othersCpu: median.othersCpu,
      peakRss: Math.max(...runs.map((x) => x.peakRss)),
      ok: runs.every((x) => x.ok),
      exit: runs.find((x) => !x.ok)?.exit ?? 0,
    },
  };
}

// ---------------------------------------------------------------------------
// Files and tools.

/** Lines (newline bytes) in a file. */
export async function countLines(file) {
  let lines = 0;
  for await (const buf of createReadStream(file, { highWaterMark: 1 << 20 })) {
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  }
  return lines;
}

/**
 * Flushes freshly written data to disk, then reads the input once, so that every tool reads it
 * from the page cache and the first one timed is not the one that pays for the disk.
 */
export async function warmPageCache(file, bytes) {
  spawnSync('sync', { stdio: 'ignore' });
  const w0 = performance.now();
  for await (const _ of createReadStream(file, { highWaterMark: 1 << 20 })) {
    // read only
  }
  log(`page cache warmed: read ${fmtMB(bytes)} MB in ${((performance.now() - w0) / 1000).toFixed(2)} s`);
}

/** Whether @duckdb/node-api is installed (resolved from benchmarks/, where `npm install` puts it). */
export function duckdbInstalled() {
  try {
    import.meta.resolve('@duckdb/node-api');
    return true;
  } catch {
    return false;
  }
}

export const DUCKDB_MISSING =
  'duckdb: @duckdb/node-api is not installed, skipped (to include it: cd benchmarks && npm install)';

// ---------------------------------------------------------------------------
// The DuckDB runners' common part.

/** SQL string literal. */
export const sqlLit = (s) => `'${String(s).replaceAll("'", "''")}'`;

/**
 * Opens an in-memory DuckDB with the runner's --threads, --memory-limit and --temp-dir, and
 * reads back the settings in effect (DuckDB's defaults when not given), which the reports
 * show. Exits 3 with a message when @duckdb/node-api is not installed. `done()` closes it and
 * prints the one JSON line the benchmark reads: version, threads, memory limit, seconds since
 * the instance was created.
 */
export async function openDuckdb(runner, v) {
  let duckdb;
  try {
    duckdb = await import('@duckdb/node-api');
  } catch (err) {
    process.stderr.write(
      `${runner}: @duckdb/node-api is not installed (cd benchmarks && npm install): ${err.message}\n`,
    );
    process.exit(3);
  }
  const started = process.hrtime.bigint();
  const instance = await duckdb.DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  if (v.threads) await con.run(`SET threads = ${Number.parseInt(v.threads, 10)}`);
  if (v['memory-limit']) await con.run(`SET memory_limit = ${sqlLit(v['memory-limit'])}`);
  if (v['temp-dir']) await con.run(`SET temp_directory = ${sqlLit(v['temp-dir'])}`);
  const settings = (
    await con.runAndReadAll(
      "SELECT version() AS version, current_setting('threads') AS threads, current_setting('memory_limit') AS memory_limit",
    )
  ).getRowObjects()[0];
  const done = () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    con.closeSync?.();
    instance.closeSync?.();
    process.stdout.write(
      `${JSON.stringify({
        version: String(settings.version),
        threads: Number(settings.threads),
        memoryLimit: String(settings.memory_limit),
        seconds,
      })}\n`,
    );
  };
  return { con, done };
}
