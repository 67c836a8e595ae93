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
import { sqlLit as lit, openDuckdb } from './lib.mjs';

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

const { con, done } = await openDuckdb('duckdb-distinct', v);
await con.run(
  `COPY (SELECT DISTINCT user_id AS userId FROM read_csv(${lit(input)}, header = true)) TO ${lit(output)} (FORMAT json)`,
);
done();
