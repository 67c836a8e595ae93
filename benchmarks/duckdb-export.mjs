#!/usr/bin/env node
/**
 * The DuckDB side of the export benchmark, run as its own process so that
 * its wall time and peak RSS are measured like the other tools':
 *
 *   node benchmarks/duckdb-export.mjs INPUT.out OUTPUT long|wide|jsonl|parquet [--width N] [--threads N] [--memory-limit SIZE] [--temp-dir DIR]
 *
 * long: read_json + unnest, one row per recommendation (userId, rank, itemId, score).
 * wide: one row per user, item_1..item_N then score_1..score_N (N = --width, default 25).
 * jsonl: one object per line, {userId, items: [{itemId, score}, ...]} as export's jsonl,
 *   COPY ... TO (FORMAT json) (newline-delimited).
 * parquet: long's rows COPY ... TO Parquet (Snappy, DuckDB's defaults).
 * long and wide COPY ... TO CSV with a header. Scores go through DOUBLE (DuckDB
 * prints them its own way), so the CSV differs from ours in score text only.
 * Prints one JSON line on stdout: DuckDB version, threads, memory limit, seconds.
 * Exits 3 with a message when @duckdb/node-api is not installed (run `npm install` in benchmarks/).
 */
import { parseArgs } from 'node:util';
import { sqlLit as lit, openDuckdb } from './lib.mjs';

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
if (!input || !output || !['long', 'wide', 'jsonl', 'parquet'].includes(mode)) {
  process.stderr.write(
    'usage: duckdb-export.mjs INPUT.out OUTPUT long|wide|jsonl|parquet [--width N] [--threads N]\n',
  );
  process.exit(2);
}

const { con, done } = await openDuckdb('duckdb-export', v);
const src = `read_json(${lit(input)}, format = 'newline_delimited')`;
const n = Number.parseInt(v.width, 10);
const cols = (name, expr) =>
  Array.from({ length: n }, (_, i) => `${expr}[${i + 1}] AS ${name}_${i + 1}`).join(', ');
const long = `SELECT input.userId AS userId, generate_subscripts(output.recommendedItems, 1) AS rank, unnest(output.recommendedItems) AS itemId, unnest(output.scores) AS score FROM ${src}`;
const items =
  "list_transform(generate_series(1, len(output.recommendedItems)), i -> {'itemId': output.recommendedItems[i], 'score': output.scores[i]})";
const sql =
  mode === 'jsonl'
    ? `COPY (SELECT input.userId AS userId, ${items} AS items FROM ${src}) TO ${lit(output)} (FORMAT json)`
    : mode === 'long' || mode === 'parquet'
      ? `COPY (${long}) TO ${lit(output)} (${mode === 'long' ? 'FORMAT csv, HEADER' : 'FORMAT parquet'})`
      : `COPY (SELECT input.userId AS userId, ${cols('item', 'output.recommendedItems')}, ${cols('score', 'output.scores')} FROM ${src}) TO ${lit(output)} (FORMAT csv, HEADER)`;
await con.run(sql);
done();
