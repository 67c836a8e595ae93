#!/usr/bin/env node
/**
 * The DuckDB side of the collect benchmark, run as its own process so that
 * its wall time and peak RSS are measured like collect's:
 *
 *   node benchmarks/duckdb-collect.mjs 'DATA/input-*.jsonl' 'DATA/out/*\/*.out' MISSING.jsonl \
 *     [--threads N] [--memory-limit SIZE] [--temp-dir DIR]
 *
 * Reads the batch input and the outputs with read_json (the columns named,
 * so nothing is sampled for a schema), anti-joins the input's userId with
 * the outputs' input.userId and writes the input records left over, the
 * missing ones, as `{"userId":"..."}` lines. It is the part of collect
 * DuckDB does in one statement: no merged output, no duplicates dropped, no
 * errors file, and the order of the lines is DuckDB's. Prints one JSON line
 * on stdout (version, threads, memory limit, seconds; lib.mjs's openDuckdb).
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
const [inputs, outputs, missing] = positionals;
if (!inputs || !outputs || !missing) {
  process.stderr.write(
    'usage: duckdb-collect.mjs INPUT_GLOB OUTPUT_GLOB MISSING.jsonl [--threads N] [--memory-limit SIZE] [--temp-dir DIR]\n',
  );
  process.exit(2);
}

const { con, done } = await openDuckdb('duckdb-collect', v);
await con.run(
  `COPY (
     SELECT i.userId
     FROM read_json(${lit(inputs)}, format = 'newline_delimited', columns = {userId: 'VARCHAR'}) AS i
     ANTI JOIN read_json(${lit(outputs)}, format = 'newline_delimited', columns = {input: 'STRUCT(userId VARCHAR)'}) AS o
     ON i.userId = o.input.userId
   ) TO ${lit(missing)} (FORMAT json)`,
);
done();
