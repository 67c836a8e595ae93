#!/usr/bin/env node
/**
 * The DuckDB side of the export benchmark, run as its own process so that
 * its wall time and peak RSS are measured like the other tools':
 *
 *   node benchmarks/duckdb-export.mjs INPUT.out OUTPUT.csv long|wide [--width N] [--threads N] [--memory-limit SIZE] [--temp-dir DIR]
 *
 * long: read_json + unnest, one row per recommendation (userId, rank, itemId, score).
 * wide: one row per user, item_1..item_N then score_1..score_N (N = --width, default 25).
 * Both COPY ... TO CSV with a header. Scores go through DOUBLE (DuckDB
 * prints them its own way), so the CSV differs from ours in score text only.
 * Prints one JSON line on stdout: DuckDB version, threads, memory limit, seconds.
 * Exits 3 with a message when @duckdb/node-api is not installed (run `npm install` in benchmarks/).
 */
import { parseArgs } from 'node:util';

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    width: { type: 'string', default: '25' },
    threads: { type: 'string' },
    'memory-limit': { type: 'string' },
    'temp-dir': { type: 'string' },
  },
});
const [input, output, mode] = positionals;
if (!input || !output || (mode !== 'long' && mode !== 'wide')) {
  process.stderr.write('usage: duckdb-export.mjs INPUT.out OUTPUT.csv long|wide [--width N] [--threads N]\n');
  process.exit(2);
}

let duckdb;
try {
  duckdb = await import('@duckdb/node-api');
} catch (err) {
  process.stderr.write(
    `duckdb-export: @duckdb/node-api is not installed (cd benchmarks && npm install): ${err.message}\n`,
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
const src = `read_json(${lit(input)}, format = 'newline_delimited')`;
const n = Number.parseInt(v.width, 10);
const cols = (name, expr) =>
  Array.from({ length: n }, (_, i) => `${expr}[${i + 1}] AS ${name}_${i + 1}`).join(', ');
const sql =
  mode === 'long'
    ? `COPY (SELECT input.userId AS userId, generate_subscripts(output.recommendedItems, 1) AS rank, unnest(output.recommendedItems) AS itemId, unnest(output.scores) AS score FROM ${src}) TO ${lit(output)} (FORMAT csv, HEADER)`
    : `COPY (SELECT input.userId AS userId, ${cols('item', 'output.recommendedItems')}, ${cols('score', 'output.scores')} FROM ${src}) TO ${lit(output)} (FORMAT csv, HEADER)`;
await con.run(sql);
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
