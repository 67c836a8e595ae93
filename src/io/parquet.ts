import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import type * as Duck from '@duckdb/node-api';
import type { PageCodec } from '../core/parquet/row-group.js';
import { PbError } from '../errors.js';

/**
 * csv-long rows to Parquet through DuckDB: its CSV reader and Parquet
 * writer stream in row groups within a fixed memory limit (spilling to
 * tempDir past it), several times faster than the JavaScript writers
 * measured (see the commit adding this file and benchmarks/README.md).
 */

/** DuckDB's memory limit: the row groups being built and the reader's buffers stay within it. */
export const PARQUET_MEMORY_LIMIT = '128MB';
/** Rows per row group at most (about 4 MB of csv-long at 40 bytes a row, before compression). */
export const PARQUET_ROW_GROUP_ROWS = 100_000;
/**
 * csv-long bytes per row group at most, by the file's average row: DuckDB
 * holds a row group whole while it writes it, and rows of 3 KB (catalog
 * descriptions) in groups of 11,000 ran out of the 128 MB limit, 2,750
 * (8 MB) peaked at 210 MB.
 */
export const PARQUET_ROW_GROUP_BYTES = 8 * 1024 * 1024;

/** DuckDB fills row groups a vector (2,048 rows) at a time: fewer is not kept. */
const VECTOR_ROWS = 2048;

/** Rows per row group for a csv-long file of `bytes` holding `rows` rows. */
export function rowGroupRows(bytes: number, rows: number): number {
  if (rows <= 0) return PARQUET_ROW_GROUP_ROWS;
  const perRow = Math.max(1, bytes / rows);
  const fit = Math.floor(PARQUET_ROW_GROUP_BYTES / perRow / VECTOR_ROWS) * VECTOR_ROWS;
  return Math.max(VECTOR_ROWS, Math.min(PARQUET_ROW_GROUP_ROWS, fit));
}

export type ParquetType = 'VARCHAR' | 'INTEGER' | 'DOUBLE';

/** One output column: the CSV column it comes from, its name and type. */
export interface ParquetColumn {
  from: number;
  name: string;
  type: ParquetType;
}

export interface ParquetJob {
  /** The csv-long file: a header line, then rows (RFC 4180, LF line ends). */
  csv: string;
  /** How many columns the CSV has. */
  csvColumns: number;
  columns: ParquetColumn[];
  /** One file, or (with fileSizeBytes) a folder of data_N.parquet files DuckDB rotates past that size. */
  dest: string;
  fileSizeBytes: number;
  /** See rowGroupRows. */
  rowGroupRows: number;
  /** Where DuckDB spills past its memory limit. */
  tempDir: string;
}

/** A SQL string literal. */
function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
function ident(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

/** The COPY statement: every cell read as text, then cast, so that the text column keeps the score as printed. */
export function parquetCopySql(job: ParquetJob): string {
  const cols = Array.from({ length: job.csvColumns }, (_, i) => `${lit(`c${i}`)}: 'VARCHAR'`).join(', ');
  const read =
    `read_csv(${lit(job.csv)}, auto_detect = false, header = false, skip = 1, delim = ',', ` +
    `quote = '"', escape = '"', new_line = '\\n', columns = {${cols}})`;
  const select = job.columns
    .map((c) =>
      c.type === 'VARCHAR'
        ? `c${c.from} AS ${ident(c.name)}`
        : `CAST(c${c.from} AS ${c.type}) AS ${ident(c.name)}`,
    )
    .join(', ');
  const size = job.fileSizeBytes > 0 ? `, FILE_SIZE_BYTES ${job.fileSizeBytes}` : '';
  return `COPY (SELECT ${select} FROM ${read}) TO ${lit(job.dest)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${job.rowGroupRows}${size})`;
}

/** Writes the Parquet file(s); DuckDB is loaded on first use, so other formats never need it. */
export async function writeParquet(job: ParquetJob): Promise<void> {
  const duck: typeof Duck = await import('@duckdb/node-api').catch((e: unknown) => {
    throw new PbError(
      'PB_IO',
      `--format parquet needs the @duckdb/node-api package, which did not load (${(e as Error).message}): run npm install @duckdb/node-api, or export csv-long`,
    );
  });
  const db = await duck.DuckDBInstance.create(':memory:', {
    // One thread: with the row order kept, a second one hardly shortened the wall time
    // (1.2 s either way for 2.35M rows) but took 40% more CPU and 330 MB instead of 180 MB.
    threads: '1',
    memory_limit: PARQUET_MEMORY_LIMIT,
    temp_directory: job.tempDir,
    // Rows keep the order of the .out lines, as csv-long's do.
    preserve_insertion_order: 'true',
    // Nothing is fetched from the network: no extension is installed or loaded on the fly.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  try {
    const conn = await db.connect();
    try {
      await conn.run(parquetCopySql(job));
    } catch (e) {
      throw new PbError('PB_IO', `writing Parquet failed: ${(e as Error).message}`, { file: job.csv });
    } finally {
      conn.closeSync();
    }
  } finally {
    db.closeSync();
  }
}

const require = createRequire(import.meta.url);
/** The output in V8's heap, where the GC sees its size (external buffers piled up: 275 MB on 100 MB of `.out`). */
const COPY = { copyOutputData: true };

/**
 * How the conversion workers compress Parquet pages: Snappy (the `snappy`
 * package's prebuilt binary; what DuckDB, Spark and Athena write by
 * default), or where it does not load, gzip at level 1 (node:zlib; about 3x
 * the CPU, a file a quarter smaller). Every reader takes both.
 */
export function pageCodec(): PageCodec {
  try {
    const snappy = require('snappy') as typeof import('snappy');
    return {
      name: 'SNAPPY',
      compress: (b) => snappy.compressSync(b, COPY),
    };
  } catch {
    return { name: 'GZIP', compress: (b) => gzipSync(b, { level: 1 }) };
  }
}
