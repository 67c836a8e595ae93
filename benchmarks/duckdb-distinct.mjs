#!/usr/bin/env node
/**
 * The DuckDB side of the benchmark, run as its own process so that its wall
 * time and peak RSS can be measured like the other tools':
 *
 *   node benchmarks/duckdb-distinct.mjs INPUT.csv OUTPUT.jsonl [--threads N] [--memory-limit SIZE] [--temp-dir DIR]
 *
 * Reads the CSV, keeps the distinct user_id values and writes them as
 * `{"userId":"..."}` lines (COPY ... (FORMAT json) writes newline-delimited JSON).
 * Prints one JSON line on stdout: DuckDB version, threads, memory limit, seconds.
 * Exits 3 with a message when @duckdb/node-api is not installed (run `npm install` in benchmarks/).
 */
import { parseArgs } from 'node:util';

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' },
    'memory-limit': { type: 'string' },
    'temp-dir': { type: 'string' },
  },
});
const [input, output] = positionals;
if (!input || !output) {
  process.stderr.write(
    'usage: duckdb-distinct.mjs INPUT.csv OUTPUT.jsonl [--threads N] [--memory-limit SIZE]\n',
  );
  process.exit(2);
}

let duckdb;
try {
  duckdb = await import('@duckdb/node-api');
} catch (err) {
  process.stderr.write(
    `duckdb-distinct: @duckdb/node-api is not installed (cd benchmarks && npm install): ${err.message}\n`,
  );
  process.exit(3);
}

/** SQL string literal. */
const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;

const started = process.hrtime.bigint();
const instance = await duckdb.DuckDBInstance.create(':memory:');
const con = await instance.connect();
if (v.threads) await con.run(`SET threads = ${Number.parseInt(v.threads, 10)}`);
if (v['memory-limit']) await con.run(`SET memory_limit = ${lit(v['memory-limit'])}`);
if (v['temp-dir']) await con.run(`SET temp_directory = ${lit(v['temp-dir'])}`);
const settings = (
  await con.runAndReadAll(
    "SELECT version() AS version, current_setting('threads') AS threads, current_setting('memory_limit') AS memory_limit",
  )
).getRowObjects()[0];
await con.run(
  `COPY (SELECT DISTINCT user_id AS userId FROM read_csv(${lit(input)}, header = true)) TO ${lit(output)} (FORMAT json)`,
);
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
