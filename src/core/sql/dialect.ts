/**
 * What the three engines spell differently: identifiers, string literals,
 * the comment header. Everything here builds text; nothing runs a query.
 */

export const SQL_ENGINES = ['duckdb', 'athena', 'spark'] as const;
export type SqlEngine = (typeof SQL_ENGINES)[number];

/** An identifier, always quoted (names such as `rank`, `input`, `output` are keywords somewhere). */
export function ident(engine: SqlEngine, name: string): string {
  if (engine === 'spark') return `\`${name.replace(/`/g, '``')}\``;
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A string literal. Spark SQL reads backslash escapes inside literals (unless
 * spark.sql.parser.escapedStringLiterals is set), so its backslashes are doubled;
 * DuckDB and Athena (Trino) take a backslash as itself.
 */
export function literal(engine: SqlEngine, text: string): string {
  if (engine === 'spark') return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return `'${text.replace(/'/g, "''")}'`;
}

/** A `--` comment block, one line per entry (blank entries as bare `--`). */
export function commentBlock(lines: readonly string[]): string {
  return lines.map((l) => (l === '' ? '--' : `-- ${l}`)).join('\n');
}

/** What a query reads: the paths DuckDB and Spark read, the prefix Athena's table is on. */
export interface SqlSource {
  /** DuckDB: the paths or globs read_json reads (a file, `DIR/**\/*.out`, `s3://b/p/**\/*.out`). */
  paths: string[];
  /** Spark's path: a file, or a folder or prefix read recursively for `*.out*` files. */
  path: string;
  folder: boolean;
  /** Athena's LOCATION: the S3 prefix, ending in `/` (undefined for local outputs). */
  location: string | undefined;
}

/** Where the outputs are, as the source's head was read (see io/out-head.ts). */
export interface SourceFound {
  kind: 'file' | 'folder' | 's3-object' | 's3-prefix';
  /** The first output file's name. */
  first: string;
  /** Some output is gzipped (`.out.gz`), some is not. */
  gz: boolean;
  plain: boolean;
}

/**
 * The paths each engine reads for a source as given. A folder or prefix
 * becomes globs of the output names (`**\/*.out`, and `**\/*.out.gz` where
 * there are some: a glob that matches nothing is an error in DuckDB); an S3
 * prefix is not listed past its first output, so its glob follows that
 * object's name. Athena's LOCATION is a prefix: an object's folder.
 */
export function sqlSource(source: string, found: SourceFound): SqlSource {
  const folder = found.kind === 'folder' || found.kind === 's3-prefix';
  const base = source.replace(/\/+$/, '');
  let paths = [source];
  if (found.kind === 'folder') {
    paths = [];
    if (found.plain) paths.push(`${base}/**/*.out`);
    if (found.gz) paths.push(`${base}/**/*.out.gz`);
  } else if (found.kind === 's3-prefix') {
    paths = [`${base}/**/*${found.first.endsWith('.gz') ? '.out.gz' : '.out'}`];
  }
  let location: string | undefined;
  if (found.kind === 's3-prefix') location = `${base}/`;
  else if (found.kind === 's3-object') location = source.slice(0, source.lastIndexOf('/') + 1);
  return { paths, path: folder ? `${base}/` : source, folder, location };
}
